"""Numba siblings of the four per-channel loops of batch normalization (``scratchnet/ops/norm.py``).

Each function has the signature, layout and result of the NumPy reference of the same name in
``scratchnet.ops.norm``; ``tests/test_norm.py`` pins them together. They are faster because each
makes one or two passes over the (N, C, M) array, with no temporaries, and runs the samples in
parallel (for arrays of at least ``PARALLEL_MIN_SIZE`` elements). Sums are accumulated in float64,
so they are at least as accurate as the reference.

Imported only through ``scratchnet.ops.norm._kernels``, once ``scratchnet.backend.import_numba()``
has succeeded. ``NUMBA_DISABLE_JIT=1`` runs them as plain Python for debugging.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads

# Below this many elements the kernels run on the calling thread alone: waking the other threads
# costs tens of microseconds (far more on a busy machine) and one pass over 1 MB takes about as long.
PARALLEL_MIN_SIZE = 1 << 18

# Let LLVM reorder the float additions so the sums vectorise; no 'nnan'/'ninf' flags, so NaN and Inf
# still propagate (detect_anomaly relies on that).
_FAST = {"reassoc", "contract"}


@njit(parallel=True, cache=True, fastmath=_FAST)
def _channel_mean_var(x3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two passes: the per-channel sums give the mean, then the squared deviations the variance."""
    N, C, M = x3.shape
    n = N * M
    # Samples run in parallel, in memory order; each writes its own row of partial sums (float64).
    partial = np.zeros((N, C))
    for i in prange(N):
        for c in range(C):
            total = 0.0
            for m in range(M):
                total += x3[i, c, m]
            partial[i, c] = total
    mean = partial.sum(axis=0) / n  # (C,)
    for i in prange(N):
        for c in range(C):
            mu = mean[c]
            squares = 0.0
            for m in range(M):
                d = x3[i, c, m] - mu
                squares += d * d
            partial[i, c] = squares
    var = partial.sum(axis=0) / n  # (C,)
    return mean.astype(x3.dtype), var.astype(x3.dtype)


@njit(parallel=True, cache=True, fastmath=_FAST)
def _channel_grad_sums(g3: np.ndarray, x3: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One pass computing both sums."""
    N, C, M = x3.shape
    partial_g = np.zeros((N, C))
    partial_gx = np.zeros((N, C))
    for i in prange(N):
        for c in range(C):
            mu = mean[c]
            s0 = 0.0
            s1 = 0.0
            for m in range(M):
                g = g3[i, c, m]
                s0 += g
                s1 += g * (x3[i, c, m] - mu)
            partial_g[i, c] = s0
            partial_gx[i, c] = s1
    return partial_g.sum(axis=0).astype(g3.dtype), partial_gx.sum(axis=0).astype(g3.dtype)


@njit(parallel=True, cache=True, fastmath=_FAST)
def _channel_affine(x3: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """One pass, one fused multiply-add per element."""
    N, C, M = x3.shape
    y = np.empty_like(x3)
    for i in prange(N):
        for c in range(C):
            s, t = scale[c], shift[c]
            for m in range(M):
                y[i, c, m] = x3[i, c, m] * s + t
    return y


@njit(parallel=True, cache=True, fastmath=_FAST)
def _channel_affine2(g3: np.ndarray, x3: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """One pass over g and x."""
    N, C, M = x3.shape
    out = np.empty_like(g3)
    for i in prange(N):
        for k in range(C):
            ak, bk, ck = a[k], b[k], c[k]
            for m in range(M):
                out[i, k, m] = ak * g3[i, k, m] + bk * x3[i, k, m] + ck
    return out


# --------------------------------------------------------------------------- the public siblings


@contextlib.contextmanager
def _threads_for(size: int) -> Iterator[None]:
    """Use one thread for small arrays, all of Numba's threads for large ones."""
    previous = get_num_threads()
    set_num_threads(1 if size < PARALLEL_MIN_SIZE else previous)
    try:
        yield
    finally:
        set_num_threads(previous)


def channel_mean_var(x3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirrors ``ops.norm.channel_mean_var``: (N, C, M) -> mean (C,), biased var (C,)."""
    with _threads_for(x3.size):
        return _channel_mean_var(x3)


def channel_grad_sums(g3: np.ndarray, x3: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirrors ``ops.norm.channel_grad_sums``: sum g and sum g (x - mean) per channel."""
    with _threads_for(x3.size):
        return _channel_grad_sums(g3, x3, mean)


def channel_affine(x3: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Mirrors ``ops.norm.channel_affine``: x * scale + shift per channel."""
    with _threads_for(x3.size):
        return _channel_affine(x3, scale, shift)


def channel_affine2(g3: np.ndarray, x3: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Mirrors ``ops.norm.channel_affine2``: a g + b x + c per channel."""
    with _threads_for(x3.size):
        return _channel_affine2(g3, x3, a, b, c)
