"""Checks for arrays read back from a checkpoint, which is a file and never trusted.

Numba kernels index without bounds checks, so a value out of range in a loaded array can
crash the process; every loader checks each array's kind, shape and values with these
helpers before anything uses them. Each failure is a ``ValueError("<name>: <what is
wrong>")``. All checks are vectorised and O(size).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

_KINDS = {"i": "integers", "f": "floats", "b": "booleans"}


def fetch(state: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    try:
        return np.asarray(state[name])
    except KeyError:
        raise ValueError(f"{name}: missing") from None


def array(
    state: Mapping[str, np.ndarray],
    name: str,
    dtype,
    shape: tuple[int | None, ...] = (None,),
) -> np.ndarray:
    """A copy of ``state[name]`` as ``dtype``, after checking it holds values of the same
    kind (integers, floats or booleans) that fit ``dtype``, with ``shape`` (None: any
    length along that axis)."""
    a = fetch(state, name)
    want = np.dtype(dtype)
    kind = "i" if want.kind in "iu" else want.kind
    have = "i" if a.dtype.kind in "iu" else a.dtype.kind
    if have != kind:
        raise ValueError(f"{name}: holds {a.dtype}, expected {_KINDS.get(kind, want)}")
    wrong = a.ndim != len(shape) or any(
        s is not None and s != g for s, g in zip(shape, a.shape, strict=True)
    )
    if wrong:
        expected = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name}: has shape {a.shape}, expected {expected}")
    if kind == "i" and a.size and not np.can_cast(a.dtype, want):
        info = np.iinfo(want)
        lo, hi = a.min(), a.max()
        if lo < info.min or hi > info.max:
            raise ValueError(f"{name}: value {lo if lo < info.min else hi} does not fit {want}")
    return np.array(a, want)


def scalar_int(state: Mapping[str, np.ndarray], name: str, lo: int = 0, hi: int | None = None):
    a = fetch(state, name)
    if a.ndim != 0 or a.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected one integer, got {a.dtype}{a.shape}")
    return int_in(name, int(a), lo, hi)


def int_in(name: str, value, lo: int = 0, hi: int | None = None) -> int:
    """``value`` as an int in [lo, hi]; bools, floats and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name}: expected an integer, got {value!r:.40}")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        where = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}: {value} is not {where}")
    return value


def scalar_float(state: Mapping[str, np.ndarray], name: str) -> float:
    a = fetch(state, name)
    if a.ndim != 0 or a.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected one number, got {a.dtype}{a.shape}")
    value = float(a)
    if not np.isfinite(value):
        raise ValueError(f"{name}: {value} is not finite")
    return value


def refuse(name: str, bad: np.ndarray, what: str, values: np.ndarray | None = None) -> None:
    """Raise if any entry of the boolean mask ``bad`` is set: ``name: COUNT entries WHAT
    (first at index I: VALUE)``."""
    if not bad.any():
        return
    where = np.flatnonzero(bad.ravel())
    first = int(where[0])
    shown = f": {values.ravel()[first].item()!r}" if values is not None else ""
    idx = tuple(int(i) for i in np.unravel_index(first, bad.shape)) if bad.ndim > 1 else first
    count = f"{where.size} entries" if where.size > 1 else "1 entry"
    raise ValueError(f"{name}: {count} {what} (first at {idx}{shown})")


def within(name: str, a: np.ndarray, lo=None, hi=None) -> None:
    """Every value of ``a`` finite (floats) and in [lo, hi] (None: unbounded)."""
    if a.dtype.kind == "f":
        refuse(name, ~np.isfinite(a), "not finite", a)
    if lo is not None and hi is not None:
        refuse(name, (a < lo) | (a > hi), f"outside [{lo}, {hi}]", a)
    elif lo is not None:
        refuse(name, a < lo, f"below {lo}", a)
    elif hi is not None:
        refuse(name, a > hi, f"above {hi}", a)


def among(name: str, a: np.ndarray, allowed) -> None:
    allowed = np.asarray(sorted(int(x) for x in allowed))
    refuse(name, ~np.isin(a, allowed), f"not among {allowed.tolist()}", a)
