"""Uniforms filled by several threads are ``rng.random``'s, bit for bit, and leave the
generator where ``rng.random`` would."""

from __future__ import annotations

import numpy as np
import pytest

from townsquare.world import draws
from townsquare.world.draws import uniforms


def _prepared(kind: str) -> np.random.Generator:
    rng = np.random.Generator(np.random.PCG64(11))
    if kind == "half used":  # a buffered 32-bit half, which advance() alone would drop
        rng.integers(0, 3, 11)
    elif kind == "mixed":
        rng.random(3)
        rng.normal(size=5)
        rng.integers(0, 2**40, 3)
    return rng


@pytest.mark.parametrize("kind", ["fresh", "half used", "mixed"])
@pytest.mark.parametrize("shape", [(7,), (1000, 3), ((1 << 12) + 5,), (999, 1)])
@pytest.mark.parametrize("parts", [2, 3])
def test_parallel_uniforms_are_rng_randoms(monkeypatch, kind, shape, parts):
    monkeypatch.setattr(draws, "PARALLEL_FILL", 64)  # threads for all but the tiniest
    want, got = _prepared(kind), _prepared(kind)
    expected = want.random(shape)
    drawn = uniforms(got, shape, parts=parts)
    assert drawn.shape == expected.shape and drawn.tobytes() == expected.tobytes()
    assert got.bit_generator.state == want.bit_generator.state
    # and every draw after is the same
    assert got.integers(0, 7, 50).tobytes() == want.integers(0, 7, 50).tobytes()
    assert got.normal(size=20).tobytes() == want.normal(size=20).tobytes()


def test_pcg64dxsm_fills_in_parallel_as_it_draws(monkeypatch):
    monkeypatch.setattr(draws, "PARALLEL_FILL", 64)
    want = np.random.Generator(np.random.PCG64DXSM(9))
    got = np.random.Generator(np.random.PCG64DXSM(9))
    assert uniforms(got, (777, 3), parts=3).tobytes() == want.random((777, 3)).tobytes()
    assert got.bit_generator.state == want.bit_generator.state


@pytest.mark.parametrize("bits", [np.random.MT19937, np.random.Philox, np.random.SFC64])
def test_a_generator_that_cannot_jump_output_by_output_fills_in_one_call(monkeypatch, bits):
    """MT19937 and SFC64 cannot jump; Philox jumps by blocks of four outputs: each
    fills in one call, as rng.random does."""
    monkeypatch.setattr(draws, "PARALLEL_FILL", 64)
    want, got = np.random.Generator(bits(3)), np.random.Generator(bits(3))
    want.random(5)
    got.random(5)  # Philox now holds buffered outputs
    assert uniforms(got, (500, 2), parts=2).tobytes() == want.random((500, 2)).tobytes()
    assert got.random(7).tobytes() == want.random(7).tobytes()


def test_an_empty_fill():
    rng = np.random.default_rng(1)
    before = rng.bit_generator.state
    assert uniforms(rng, (0, 3)).shape == (0, 3)
    assert rng.bit_generator.state == before


def _draw_in_child(conn):
    rng = np.random.Generator(np.random.PCG64(5))
    conn.send(uniforms(rng, (4000,), parts=2).tobytes())
    conn.close()


def test_a_forked_process_fills_with_threads_of_its_own(monkeypatch):
    """A fork copies no threads: a child of a process that filled in parallel makes its
    own pool rather than waiting on the parent's forever."""
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(draws, "PARALLEL_FILL", 64)
    uniforms(np.random.default_rng(1), (4000,), parts=2)  # the parent's pool exists
    ctx = mp.get_context("fork")
    here, there = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_draw_in_child, args=(there,))
    child.start()
    assert here.poll(60), "the forked child never finished its fill"
    got = here.recv()
    child.join(10)
    assert got == np.random.Generator(np.random.PCG64(5)).random(4000).tobytes()
