"""Undirected graphs as CSR arrays for the sequential opinion kernels."""

from __future__ import annotations

import numpy as np


def to_csr(src, dst, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of the undirected simple graph on n nodes."""
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    a = np.concatenate([src, dst])
    b = np.concatenate([dst, src])
    keep = a != b
    keys = np.unique(a[keep] * n + b[keep])
    rows, cols = keys // n, keys % n
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols.astype(np.int64)
