"""Keeping the memory a step frees for the next step.

A step of a large world allocates its (readers x k) arrays afresh, about a gigabyte each
at ten million users. glibc hands allocations that large to ``mmap`` and gives them back
to the kernel on ``free``, so every step touched fresh pages: at 10^7 users the kernel's
page faults took as long as the simulation itself (benchmarks/README.md, "ten million
users"). Inside `steps_keep_memory` glibc serves them from its heap and keeps what is
freed there (``M_MMAP_MAX`` 0, no trimming), so the next step reuses the same pages; on
leaving, glibc's fixed defaults come back (128 KiB; glibc's own raising of its mmap
threshold after large frees stays off for the rest of the process) and the heap is
trimmed. Where the C library is not glibc, or the user tuned malloc through
``MALLOC_MMAP_MAX_``, ``MALLOC_TRIM_THRESHOLD_`` or ``GLIBC_TUNABLES``, nothing changes.
Values, and so outputs, are the same either way: only where the bytes live changes.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from contextlib import contextmanager

import numpy as np

# glibc's mallopt parameters (malloc.h) and their defaults
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536
#: environment variables through which a user tunes glibc's malloc: then we leave it be
TUNED_BY = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    if any(name in os.environ for name in TUNED_BY):  # the user's own settings win
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
        libc.gnu_get_libc_version  # noqa: B018 (glibc only)
    except (OSError, AttributeError, TypeError):
        return None
    return libc


_LIBC = _glibc()
_lock = threading.Lock()
_depth = 0  # runs inside the context in this process (the dashboard's threads)


@contextmanager
def steps_keep_memory():
    """Within: freed memory is kept for reuse rather than returned to the kernel."""
    global _depth
    if _LIBC is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _LIBC.mallopt(M_MMAP_MAX, 0)
            # -1 is the largest size_t to glibc: never trim
            _LIBC.mallopt(M_TRIM_THRESHOLD, -1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _LIBC.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
                _LIBC.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
                _LIBC.malloc_trim(0)


def active() -> bool:
    """Whether `steps_keep_memory` is in force in this process."""
    return _LIBC is not None and _depth > 0


# numpy asks Linux for huge pages (madvise MADV_HUGEPAGE) on every array of 4 MB or
# more. Under the kernel's usual "defrag: madvise" setting, the first touch of each
# 2 MB page may then wait for the kernel to compact memory. Arrays filled a little
# at a time, over a whole run, meet such a wait at every step. Measured on a 2-core
# machine: 32 batches of post rows took 1.3 to 2.0 s with huge pages and 0.25 to
# 0.28 s without.
_set_huge_pages = getattr(
    getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None
)


def zeros_small_pages(shape, dtype) -> np.ndarray:
    """``np.zeros(shape, dtype)`` on ordinary pages: for an array filled a little at a
    time (the post store's columns), where huge pages cost a wait at each first touch.
    numpy's setting is restored afterwards. The values are the same either way."""
    if _set_huge_pages is None:
        return np.zeros(shape, dtype)
    with _lock:
        before = _set_huge_pages(False)
        try:
            return np.zeros(shape, dtype)
        finally:
            _set_huge_pages(before)
