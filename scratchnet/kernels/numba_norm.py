"""Numba siblings of the four per-channel loops of batch normalization (``scratchnet/ops/norm.py``).

Each function has the signature, layout and result of the NumPy reference of the same name in
``scratchnet.ops.norm``; ``tests/test_norm.py`` pins them together. They are faster because each
walks the (N, C, M) array once or twice in memory order, with no temporaries, and sums in float64
(so they are at least as accurate as the reference).

They run on one thread on purpose: batch norm is limited by memory bandwidth, so extra threads
gain little, and on a busy machine waiting for them costs far more than it saves.

Imported only through ``scratchnet.backend.fast_kernels_for(x, family="norm")``, once Numba has
imported. ``NUMBA_DISABLE_JIT=1`` runs them as plain Python for debugging.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Let LLVM reorder the float additions so the sums vectorise; no 'nnan'/'ninf' flags, so NaN and Inf
# still propagate (detect_anomaly relies on that).
_FAST = {"reassoc", "contract"}


@njit(cache=True, fastmath=_FAST)
def channel_mean_var(x3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirrors ``ops.norm.channel_mean_var``: (N, C, M) -> mean (C,), biased var (C,), in two passes."""
    N, C, M = x3.shape
    n = N * M
    totals = np.zeros(C)  # float64 accumulators, one per channel
    for i in range(N):
        for c in range(C):
            total = 0.0
            for m in range(M):
                total += x3[i, c, m]
            totals[c] += total
    mean = totals / n
    squares = np.zeros(C)
    for i in range(N):
        for c in range(C):
            mu = mean[c]
            total = 0.0
            for m in range(M):
                d = x3[i, c, m] - mu
                total += d * d
            squares[c] += total
    return mean.astype(x3.dtype), (squares / n).astype(x3.dtype)


@njit(cache=True, fastmath=_FAST)
def channel_grad_sums(g3: np.ndarray, x3: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirrors ``ops.norm.channel_grad_sums``: sum g and sum g (x - mean) per channel, in one pass."""
    N, C, M = x3.shape
    sum_g = np.zeros(C)
    sum_g_centered = np.zeros(C)
    for i in range(N):
        for c in range(C):
            mu = mean[c]
            s0 = 0.0
            s1 = 0.0
            for m in range(M):
                g = g3[i, c, m]
                s0 += g
                s1 += g * (x3[i, c, m] - mu)
            sum_g[c] += s0
            sum_g_centered[c] += s1
    return sum_g.astype(g3.dtype), sum_g_centered.astype(g3.dtype)


@njit(cache=True, fastmath=_FAST)
def channel_affine(x3: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Mirrors ``ops.norm.channel_affine``: x * scale + shift per channel, (N, C, M) -> (N, C, M)."""
    N, C, M = x3.shape
    y = np.empty_like(x3)
    for i in range(N):
        for c in range(C):
            s, t = scale[c], shift[c]
            for m in range(M):
                y[i, c, m] = x3[i, c, m] * s + t
    return y


@njit(cache=True, fastmath=_FAST)
def channel_affine2(g3: np.ndarray, x3: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Mirrors ``ops.norm.channel_affine2``: a g + b x + c per channel, (N, C, M) -> (N, C, M)."""
    N, C, M = x3.shape
    out = np.empty_like(g3)
    for i in range(N):
        for k in range(C):
            ak, bk, ck = a[k], b[k], c[k]
            for m in range(M):
                out[i, k, m] = ak * g3[i, k, m] + bk * x3[i, k, m] + ck
    return out
