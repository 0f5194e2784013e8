"""Ordering ops: ``topk`` (the k largest or smallest values along a dimension, with their indices).

Top-5 accuracy on ImageNet (the error rates of the lecture's tables) is computed with ``topk``.
The values are differentiable: their gradient goes back to the positions they were taken from.
"""

from __future__ import annotations

from typing import NamedTuple

from scratchnet.backend import Array, get_xp
from scratchnet.function import Function
from scratchnet.shapes import normalize_dims
from scratchnet.tensor import Tensor


class TopkFunction(Function):
    def __init__(self, k: int, dim: int, largest: bool) -> None:
        self.k, self.dim, self.largest = k, dim, largest

    def forward(self, x: Array) -> tuple[Array, Array]:
        xp = get_xp(x)
        self.x_shape = x.shape
        # A stable sort: among equal values the lower index comes first. For the largest, sort the
        # reversed x ascending and read it backwards (no -x: it wraps unsigned ints, and NaN, which
        # sorts last, must rank as the largest, as in PyTorch).
        if self.largest:
            n = x.shape[self.dim]
            order = (
                n
                - 1
                - xp.flip(xp.argsort(xp.flip(x, self.dim), axis=self.dim, kind="stable"), self.dim)
            )
        else:
            order = xp.argsort(x, axis=self.dim, kind="stable")
        self.index = xp.take(order, xp.arange(self.k), axis=self.dim)  # (..., k, ...)
        return xp.take_along_axis(x, self.index, axis=self.dim), self.index

    def backward(self, gy: Array, g_index: Array | None) -> Array:
        xp = get_xp(gy)
        gx = xp.zeros(self.x_shape, dtype=gy.dtype)
        xp.put_along_axis(gx, self.index, gy, axis=self.dim)  # the k positions are distinct
        return gx


class TopkResult(NamedTuple):
    """``(values, indices)``, as ``torch.topk`` returns."""

    values: Tensor
    indices: Tensor


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopkResult:
    """The ``k`` largest (or smallest) entries along ``dim``, in order, and their int64 indices.

    Shapes: x (..., n, ...) -> values and indices (..., k, ...), with ``k`` where ``n`` was.
    d values / d x: 1 at each selected position, 0 elsewhere. ``sorted=False`` is accepted and
    returns them sorted anyway (PyTorch leaves the order unspecified then).
    """
    (axis,) = normalize_dims(dim, x.ndim) if x.ndim else (0,)
    size = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(
            f"topk: k ({k}) is out of range for dimension {dim} of size {size} (shape {x.shape})"
        )
    if x.ndim == 0:
        values, indices = TopkFunction(k, 0, largest)(x.reshape(1))
        return TopkResult(
            values.reshape(()) if k else values, indices.reshape(()) if k else indices
        )
    values, indices = TopkFunction(k, axis, largest)(x)
    return TopkResult(values, indices)
