"""Numba siblings of cross-entropy's forward and backward (``scratchnet.ops.loss``'s
``cross_entropy_forward`` and ``cross_entropy_backward``): the same signatures and results.

The NumPy reference makes about ten passes over the (N, C) logits and allocates a temporary for
each (shifted logits, exps, softmax, one-hot targets, ...). Here forward fills one array in a few
passes, each the fastest at its job: the row max (NumPy), the shift and the target's logit
(Numba), exp in place (NumPy's vectorised exp: Numba's scalar ``math.exp`` was measured 8x slower
on 256 x 1000 float32), the row sums (NumPy's pairwise sum, as the reference), then the softmax
and the loss (Numba).
Backward is one pass: softmax - one_hot, scaled. Rows are split between the cores when the
logits are large. ``tests/test_loss.py`` pins them to the reference.

Imported only through ``scratchnet.backend.fast_kernels_for(x, family="loss")``.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from scratchnet.kernels.numba_threads import threaded_kernel


@threaded_kernel
def _shift_rows(x, row_max, target, ignore_index, shifted, picked):
    """Shifted = x - row_max, (N, C); picked[n] = shifted[n, target[n]] (0 if ignored)."""
    N, C = x.shape
    for n in prange(N):
        m = row_max[n]  # a local: the compiler cannot know that shifted does not alias row_max
        for c in range(C):
            shifted[n, c] = x[n, c] - m
        t = target[n]
        picked[n] = 0 if t == ignore_index else shifted[n, t]


@threaded_kernel
def _softmax_rows(exps, total, target, ignore_index, losses):
    """Exps / total in place (the softmax); losses[n] = log(total[n]) - picked[n] (0 if ignored).

    ``losses`` holds the picked shifted logits on entry.
    """
    N, C = exps.shape
    for n in prange(N):
        s = total[n]  # a local, so that the loop below is vectorised (exps might alias total)
        for c in range(C):
            exps[n, c] = exps[n, c] / s  # a division, as the reference (not * 1/s)
        if target[n] == ignore_index:
            losses[n] = 0
        else:
            losses[n] = np.log(s) - losses[n]


def cross_entropy_forward(
    x: np.ndarray, target: np.ndarray, ignore_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mirrors ``ops.loss.cross_entropy_forward``: losses (N,) and softmax(x) (N, C)."""
    x = np.ascontiguousarray(x)
    target = np.ascontiguousarray(target, dtype=np.int64)
    probs = np.empty_like(x)  # (N, C): the shifted logits, their exps, then the softmax
    losses = np.empty(x.shape[0], x.dtype)  # (N,): the picked shifted logits, then the losses
    # NumPy's max is vectorised (a Numba loop is not: its NaN rules keep it scalar, 10x slower)
    # and propagates a NaN as the reference does.
    row_max = x.max(axis=1)  # (N,)
    _shift_rows(x.size, x, row_max, target, ignore_index, probs, losses)
    np.exp(probs, out=probs)
    total = probs.sum(axis=1)  # (N,) NumPy's pairwise sum, as the reference
    _softmax_rows(x.size, probs, total, target, ignore_index, losses)
    return losses, probs


@threaded_kernel
def _cross_entropy_backward(p, target, ignore_index, g, zero, one, gx):
    # zero and one have p's dtype: a literal 1 would turn p - 1 into float64 and round differently.
    N, C = p.shape
    for n in prange(N):
        t = target[n]
        g_n = zero if t == ignore_index else g[n]
        for c in range(C):
            gx[n, c] = p[n, c] * g_n
        if t != ignore_index:
            gx[n, t] = (p[n, t] - one) * g_n  # (p - one_hot) * g, rounded as the reference


def cross_entropy_backward(
    p: np.ndarray, target: np.ndarray, ignore_index: int, g: np.ndarray
) -> np.ndarray:
    """Mirrors ``ops.loss.cross_entropy_backward``: (p - one_hot(target)) * g, (N, C)."""
    target = np.ascontiguousarray(target, dtype=np.int64)
    g = np.ascontiguousarray(g, dtype=p.dtype)  # (N,); a reduced loss's gradient is broadcast
    p = np.ascontiguousarray(p)
    gx = np.empty_like(p)
    zero, one = p.dtype.type(0), p.dtype.type(1)
    _cross_entropy_backward(p.size, p, target, ignore_index, g, zero, one, gx)
    return gx
