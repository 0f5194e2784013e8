"""Numba siblings of ReLU's forward and backward (``scratchnet.ops.elementwise.relu_forward`` and
``relu_backward``): the same signature and result, one pass over memory each.

The NumPy reference runs on one core, and its backward makes two passes and a temporary (a boolean
mask, then a product with it); these make one pass each and, on an input large enough (VGG's and
ResNet's early stages), split it between the cores. ``tests/test_ops_elementwise.py`` pins them to
the reference.

Imported only through ``scratchnet.backend.fast_kernels_for(x, family="activation")``.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from scratchnet.kernels.numba_threads import threaded_kernel


@threaded_kernel(family="activation")
def _relu_forward(x, y):
    for k in prange(x.size):
        v = x[k]
        y[k] = 0 if v <= 0 else v  # a NaN is not <= 0: it stays NaN, as in PyTorch


def relu_forward(x: np.ndarray) -> np.ndarray:
    """Mirrors ``ops.elementwise.relu_forward``: max(x, 0), any shape."""
    x = _contiguous(x)
    y = np.empty_like(x)
    _relu_forward(x.size, x.reshape(-1), y.reshape(-1))
    return y


@threaded_kernel(family="activation")
def _relu_backward(gy, y, gx):
    for k in prange(gy.size):
        gx[k] = (
            0 if y[k] <= 0 else gy[k]
        )  # a NaN output is not <= 0: its gradient passes, as in PyTorch


def relu_backward(gy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mirrors ``ops.elementwise.relu_backward``: 0 where the output y is <= 0, else gy."""
    gy, y = _contiguous(gy), _contiguous(y)
    gx = np.empty_like(gy)
    _relu_backward(gy.size, gy.reshape(-1), y.reshape(-1), gx.reshape(-1))
    return gx


def _contiguous(a: np.ndarray) -> np.ndarray:
    """A in C order, copied only if it is not (np.ascontiguousarray would also turn shape () into (1,))."""
    return a if a.flags.c_contiguous else a.copy(order="C")
