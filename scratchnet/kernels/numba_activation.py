"""Numba siblings of ReLU's forward and backward (``scratchnet.ops.elementwise.relu_forward`` and
``relu_backward``): the same signature and result, one pass over memory each; and the ReLU that
the fast batch norm absorbs (``relu_in_place``).

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

# The kernels take their zero as an argument of the array's dtype: a literal 0 would make the
# select's result float64 (Numba unifies int64 with float32 that way), and the float32 loop,
# converting back and forth, ran 1.7x slower (measured on 2^21 elements).


@threaded_kernel(family="activation")
def _relu_forward(x, zero, y):
    for k in prange(x.size):
        v = x[k]
        y[k] = zero if v <= zero else v  # a NaN is not <= 0: it stays NaN, as in PyTorch


def relu_forward(x: np.ndarray) -> np.ndarray:
    """Mirrors ``ops.elementwise.relu_forward``: max(x, 0), any shape."""
    x = _contiguous(x)
    y = np.empty_like(x)
    _relu_forward(x.size, x.reshape(-1), x.dtype.type(0), y.reshape(-1))
    return y


def relu_in_place(x: np.ndarray) -> None:
    """max(x, 0) written over x, one pass, no allocation: the ReLU a training batch norm absorbs
    (``kernels/fast_functions.py: FastBatchNormFunction.absorb_relu_``).

    The forward loop reads each element before it writes it, so it may write over its input.
    """
    if not x.flags.c_contiguous:  # reshape(-1) would copy, and the result would be lost
        np.maximum(x, 0, out=x)
        return
    _relu_forward(x.size, x.reshape(-1), x.dtype.type(0), x.reshape(-1))


@threaded_kernel(family="activation")
def _relu_backward(gy, y, zero, gx):
    for k in prange(gy.size):
        # A NaN output is not <= 0: its gradient passes, as in PyTorch.
        gx[k] = zero if y[k] <= zero else gy[k]


def relu_backward(gy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mirrors ``ops.elementwise.relu_backward``: 0 where the output y is <= 0, else gy."""
    gy, y = _contiguous(gy), _contiguous(y)
    gx = np.empty_like(gy)
    zero = gy.dtype.type(0)
    _relu_backward(gy.size, gy.reshape(-1), y.reshape(-1), zero, gx.reshape(-1))
    return gx


def _contiguous(a: np.ndarray) -> np.ndarray:
    """A in C order, copied only if it is not (np.ascontiguousarray turns shape () into (1,))."""
    return a if a.flags.c_contiguous else a.copy(order="C")
