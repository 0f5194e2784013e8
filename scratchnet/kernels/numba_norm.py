"""The fast batch norm on the CPU: four per-channel loops, compiled by Numba, and the Function.

``BatchNormFunction`` (at the bottom) is the fast sibling of ``scratchnet.ops.norm``'s: the
algorithm is in ``kernels/fast_functions.py``, and the four loops here do its work;
``tests/test_norm.py`` pins them to plain NumPy and ``tests/test_kernels.py`` the Function to
the reference. They are faster because each
walks the (N, C, M) array once or twice with no temporaries, and they sum in float64 (so they are
at least as accurate as the reference).

Batch norm is limited by memory bandwidth. An input that fits in the CPU's caches is done fastest
on one thread; a larger one (VGG's and ResNet's first stages: 25 MB for 8 x 64 x 112 x 112) is split
between the cores by channel (``prange``), each thread reading and writing only its own channels,
which about halves the time on two cores.

Imported only through ``scratchnet.backend.fast_kernels_for(x, family="norm")``, once Numba has
imported. ``NUMBA_DISABLE_JIT=1`` runs them as plain Python for debugging.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from scratchnet.kernels.fast_functions import FastBatchNormFunction
from scratchnet.kernels.numba_activation import relu_in_place
from scratchnet.kernels.numba_threads import threaded_kernel

# Let LLVM reorder the float additions so the sums vectorise; no 'nnan'/'ninf' flags, so NaN and Inf
# still propagate (detect_anomaly relies on that).
_FAST = {"reassoc", "contract"}


@threaded_kernel(family="norm", fastmath=_FAST)
def _channel_mean_var(x3, mean, var):
    N, C, M = x3.shape
    n = N * M
    for c in prange(C):  # one channel per task: mean first, then the squared deviations
        total = 0.0  # float64 accumulators
        for i in range(N):
            for m in range(M):
                total += x3[i, c, m]
        mu = total / n
        squares = 0.0
        for i in range(N):
            for m in range(M):
                d = x3[i, c, m] - mu
                squares += d * d
        mean[c], var[c] = mu, squares / n


def channel_mean_var(x3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance per channel, in two passes: (N, C, M) -> (C,), (C,)."""
    C = x3.shape[1]
    mean, var = np.empty(C), np.empty(C)
    _channel_mean_var(x3.size, x3, mean, var)
    return mean.astype(x3.dtype), var.astype(x3.dtype)


@threaded_kernel(family="norm", fastmath=_FAST)
def _channel_grad_sums(g3, x3, mean, relu_out, zero, sum_g, sum_g_centered):
    N, C, M = x3.shape
    for c in prange(C):
        mu = mean[c]
        s0 = 0.0
        s1 = 0.0
        for i in range(N):
            for m in range(M):
                g = g3[i, c, m]
                if relu_out is not None:  # pruned by Numba when None: the plain kernel
                    g = zero if relu_out[i, c, m] <= zero else g  # ReLU's mask, as relu_backward
                s0 += g
                s1 += g * (x3[i, c, m] - mu)
        sum_g[c], sum_g_centered[c] = s0, s1


def channel_grad_sums(
    g3: np.ndarray, x3: np.ndarray, mean: np.ndarray, relu_out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sum g and sum g (x - mean) per channel, in one pass: (N, C, M) twice -> (C,), (C,).

    With ``relu_out`` (the (N, C, M) output of a ReLU applied to this batch norm's output), g is
    first masked as ReLU's backward does: 0 where relu_out <= 0.
    """
    C = x3.shape[1]
    sum_g, sum_g_centered = np.empty(C), np.empty(C)
    zero = g3.dtype.type(0)
    _channel_grad_sums(x3.size, g3, x3, mean, relu_out, zero, sum_g, sum_g_centered)
    return sum_g.astype(g3.dtype), sum_g_centered.astype(g3.dtype)


@threaded_kernel(family="norm", fastmath=_FAST)
def _channel_affine(x3, scale, shift, y):
    N, C, M = x3.shape
    for task in prange(N * C):  # one (image, channel) row per task
        i, c = task // C, task % C
        s, t = scale[c], shift[c]
        for m in range(M):
            y[i, c, m] = x3[i, c, m] * s + t


def channel_affine(x3: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """X * scale + shift per channel: (N, C, M) -> (N, C, M)."""
    y = np.empty_like(x3)
    _channel_affine(x3.size, x3, scale, shift, y)
    return y


@threaded_kernel(family="norm", fastmath=_FAST)
def _channel_affine2(g3, x3, a, b, c, relu_out, zero, out):
    N, C, M = x3.shape
    for task in prange(N * C):
        i, k = task // C, task % C
        ak, bk, ck = a[k], b[k], c[k]
        for m in range(M):
            g = g3[i, k, m]
            if relu_out is not None:  # pruned by Numba when None: the plain kernel
                g = zero if relu_out[i, k, m] <= zero else g
            out[i, k, m] = ak * g + bk * x3[i, k, m] + ck


def channel_affine2(
    g3: np.ndarray,
    x3: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    relu_out: np.ndarray | None = None,
) -> np.ndarray:
    """A g + b x + c per channel: (N, C, M) twice -> (N, C, M); g masked by ``relu_out`` if given
    (0 where relu_out <= 0, as in ``channel_grad_sums``).
    """
    out = np.empty_like(g3)
    _channel_affine2(x3.size, g3, x3, a, b, c, relu_out, g3.dtype.type(0), out)
    return out


class BatchNormFunction(FastBatchNormFunction):
    """Fast :class:`scratchnet.ops.norm.BatchNormFunction` on the CPU: the four loops above."""

    channel_mean_var = staticmethod(channel_mean_var)
    channel_grad_sums = staticmethod(channel_grad_sums)
    channel_affine = staticmethod(channel_affine)
    channel_affine2 = staticmethod(channel_affine2)
    relu_in_place = staticmethod(relu_in_place)
