"""Draws that no call order can change, and a generator's uniforms on several threads.

`unit_hash`: a uniform number hashed from integers. A random feed order or a random walk
drawn this way depends only on (seed, step, user, ...), never on a generator's position,
so a run split into parts, resumed from a checkpoint or asked for its readers in another
order draws the same numbers.

`uniforms`: ``rng.random(shape)`` to the bit, filled by several threads.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def unit_hash(seed, a, b):
    """A uniform number in [0, 1) from (seed, a, b): splitmix64's finaliser (Steele et
    al., OOPSLA 2014) on the three mixed together."""
    z = np.uint64(seed) ^ (np.uint64(a) * np.uint64(0x9E3779B97F4A7C15))
    z ^= np.uint64(b) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def step_seed(seed: int, step: int) -> int:
    """A seed of the step's own, below 2^63: mixes the step into the run's."""
    return (int(seed) ^ (int(step) * 0x9E3779B97F4A7C15)) & 0x7FFFFFFFFFFFFFFF


#: below this many numbers a fill is one call: threads would cost more than they save
#: (numpy fills about 2^18 doubles a millisecond here; a thread hand-off costs tens of
#: microseconds)
PARALLEL_FILL = 1 << 18
_FILL_POOL: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, threads, pool)
_FILL_LOCK = threading.Lock()
#: bit generators whose ``advance(d)`` moves exactly d 64-bit outputs on (Philox's moves
#: blocks of four and drops its buffer: filled in one call)
JUMPING = (np.random.PCG64, np.random.PCG64DXSM)


def _fill_pool(parts: int) -> ThreadPoolExecutor:
    """This process's threads for `uniforms`, made at first use: a process forked from
    one that had them gets its own (a fork copies no threads)."""
    global _FILL_POOL
    with _FILL_LOCK:
        kept = _FILL_POOL
        if kept is None or kept[0] != os.getpid() or kept[1] < parts:
            if kept is not None and kept[0] == os.getpid():
                kept[2].shutdown(wait=False)
            pool = ThreadPoolExecutor(max_workers=parts, thread_name_prefix="uniforms")
            _FILL_POOL = kept = (os.getpid(), parts, pool)
        return kept[2]


def uniforms(rng: np.random.Generator, shape, parts: int | None = None) -> np.ndarray:
    """``rng.random(shape)``, bit for bit and leaving ``rng`` where that call would, but
    filled by ``parts`` threads (numba's thread count by default) where the bit generator
    can jump ahead output by output (`JUMPING`): a double is one 64-bit output, so part p starts
    from a copy of the generator advanced past the parts before it, and numpy fills
    without the GIL. The scripted rules' uniforms are the largest draws of a step."""
    out = np.empty(shape)
    flat = out.reshape(-1)
    m = flat.shape[0]
    bits = rng.bit_generator
    parts = numba.get_num_threads() if parts is None else int(parts)
    if m < PARALLEL_FILL or parts < 2 or type(bits) not in JUMPING:
        rng.random(out=flat)
        return out
    pool = _fill_pool(parts)
    before = bits.state
    bounds = np.linspace(0, m, parts + 1).astype(np.int64)
    generators = []
    for p in range(parts):
        copy = type(bits)()
        copy.state = before
        copy.advance(int(bounds[p]))
        generators.append(np.random.Generator(copy))
    fills = [
        pool.submit(g.random, out=flat[a:b])
        for g, a, b in zip(generators, bounds[:-1], bounds[1:], strict=True)
    ]
    for fill in fills:
        fill.result()
    # rng as rng.random(m) leaves it: m outputs on, its buffered 32-bit half (which
    # doubles never use, and which advance clears) kept
    bits.advance(m)
    state = bits.state
    state.update({key: before[key] for key in ("has_uint32", "uinteger") if key in before})
    bits.state = state
    return out
