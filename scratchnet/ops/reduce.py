"""Reductions (sum, mean, var, max, min) and their adjoint, broadcasting (broadcast_to, sum_to).

A reduction's backward is a broadcast: every element that was summed gets the output's gradient.
A broadcast's backward is a reduction: an element copied k times collects k gradients. ``sum_to``
is that reduction, and every binary op uses it to give each input a gradient of its own shape.

``dim`` and ``keepdim`` have PyTorch's names and meaning: ``dim`` is an int, a tuple of ints or
None (all dimensions); with ``keepdim=True`` the reduced dimensions stay as size 1.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from scratchnet.backend import Array, get_xp
from scratchnet.function import Function, not_a_tensor
from scratchnet.shapes import accepts_numpy_names, normalize_dims
from scratchnet.tensor import Tensor


def sum_to(g: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``g`` over the dimensions that broadcasting added or stretched, to get ``shape``.

    >>> import numpy as np
    >>> sum_to(np.ones((2, 3, 4)), (3, 1)).tolist()
    [[8.0], [8.0], [8.0]]
    """
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)  # dimensions broadcasting prepended
    stretched = tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and g.shape[lead + i] != 1
    )
    g = g.sum(axis=tuple(range(lead)) + stretched, keepdims=True)
    return g.reshape(shape)


class BroadcastToFunction(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        return get_xp(x).broadcast_to(x, self.shape)

    def backward(self, gy: Array) -> Array:
        return sum_to(gy, self.x_shape)


def broadcast_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Repeat x along size-1 (or new leading) dimensions to ``shape``.  Backward: ``sum_to``."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        get_xp(x.array).broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return BroadcastToFunction(shape)(x)


def expand(x: Tensor, *sizes: int) -> Tensor:
    """PyTorch's ``expand``: ``broadcast_to`` where -1 keeps a dimension's size."""
    if len(sizes) == 1 and isinstance(sizes[0], tuple | list):
        sizes = tuple(sizes[0])
    lead = len(sizes) - x.ndim  # new leading dimensions
    if lead < 0 or -1 in sizes[:lead]:
        raise ValueError(
            f"expand: cannot expand shape {x.shape} to "
            f"{tuple(sizes)} (-1 only keeps an existing dim)"
        )
    shape = tuple(x.shape[i - lead] if size == -1 else size for i, size in enumerate(sizes))
    return broadcast_to(x, shape)


def _expand_reduced(gy: Array, x_shape: tuple[int, ...], dims: tuple[int, ...]) -> Array:
    """Reshape a reduced gradient so it broadcasts against the input (put the dims back as 1)."""
    kept = tuple(1 if i in dims else size for i, size in enumerate(x_shape))
    return gy.reshape(kept)


class SumFunction(Function):
    def __init__(self, dims: tuple[int, ...], keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        return x.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy: Array) -> Array:
        gy = _expand_reduced(gy, self.x_shape, self.dims)
        return get_xp(gy).broadcast_to(gy, self.x_shape)


@accepts_numpy_names  # torch also takes NumPy's axis= and keepdims=
def sum(x: Tensor, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
    """Sum over ``dim`` (all if None).  d/dx_i = 1 for every summed element."""
    return SumFunction(normalize_dims(dim, x.ndim), keepdim)(x)


class MeanFunction(Function):
    def __init__(self, dims: tuple[int, ...], keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        return x.mean(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy: Array) -> Array:
        gy = _expand_reduced(gy, self.x_shape, self.dims) / _count(self.x_shape, self.dims)
        return get_xp(gy).broadcast_to(gy, self.x_shape)


@accepts_numpy_names  # torch also takes NumPy's axis= and keepdims=
def mean(x: Tensor, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (all if None).  d/dx_i = 1/n for each of the n averaged elements."""
    check_floating("mean", x)
    return MeanFunction(normalize_dims(dim, x.ndim), keepdim)(x)


def check_floating(op: str, x: Tensor) -> None:
    """A mean (or a softmax, a normalisation...) of integers or booleans has no dtype to stay in:
    PyTorch refuses it, and so does scratchnet.
    """
    if x.dtype.kind not in "fc":
        method = f".{op}()" if hasattr(Tensor, op) else ""  # x.float().mean(), or x.float()
        raise TypeError(
            f"{op}(): input of dtype {x.dtype} (shape {x.shape}) must be floating point or "
            f"complex, as in PyTorch; convert it first, e.g. x.float(){method}"
        )


class VarFunction(Function):
    def __init__(self, dims: tuple[int, ...], correction: int, keepdim: bool) -> None:
        self.dims, self.correction, self.keepdim = dims, correction, keepdim

    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        self.centered = x - x.mean(axis=self.dims, keepdims=True)
        # n - correction. PyTorch's forward clamps it at 0: for one value (unbiased) the result is
        # 0 / 0 = NaN, or x / 0 = inf, and ``var`` warns. Its backward does not clamp (below).
        self.divisor = _count(x.shape, self.dims) - self.correction
        squares = (self.centered * self.centered).sum(axis=self.dims, keepdims=self.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return squares / x.dtype.type(self.divisor if self.divisor > 0 else 0)

    def backward(self, gy: Array) -> Array:
        # d/dx_i sum_j (x_j - mean)^2 = 2 (x_i - mean): the mean's own gradient sums to zero.
        # PyTorch's values where n <= correction: 2 / 0 = inf at n = correction (so the gradient is
        # inf * 0 = NaN for one value), and the unclamped 2 / (n - correction) below it.
        scale = 2 / self.divisor if self.divisor else math.inf
        with np.errstate(invalid="ignore"):
            return (
                _expand_reduced(gy, self.x_shape, self.dims) * gy.dtype.type(scale) * self.centered
            )


def _count(shape: tuple[int, ...], dims: tuple[int, ...]) -> int:
    count = 1
    for d in dims:
        count *= shape[d]
    return count


@accepts_numpy_names  # torch also takes NumPy's axis= and keepdims=
def var(
    x: Tensor,
    dim: int | tuple[int, ...] | None = None,
    *,
    correction: int = 1,
    unbiased: bool | None = None,
    keepdim: bool = False,
) -> Tensor:
    """Variance over ``dim``, dividing by n - correction (PyTorch's default: unbiased, n - 1).

    d var / dx_i = 2 (x_i - mean) / (n - correction).
    """
    check_floating("var", x)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    dims = normalize_dims(dim, x.ndim)
    if _count(x.shape, dims) - correction <= 0:
        warnings.warn(
            f"var(): degrees of freedom is <= 0 for input of shape {x.shape} reduced over "
            f"dim={dim} ({_count(x.shape, dims)} values, correction={correction}): the result is "
            "NaN or inf, as in PyTorch; pass correction=0 "
            "(unbiased=False) for the variance of one value",
            UserWarning,  # PyTorch's category for this warning
            stacklevel=2,
        )
    return VarFunction(dims, correction, keepdim)(x)


class AmaxFunction(Function):
    def __init__(self, dims: tuple[int, ...], keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: Array) -> Array:
        self.x = x
        self.y = x.max(axis=self.dims, keepdims=True)
        return self.y if self.keepdim else self.y.reshape(_reduced_shape(x.shape, self.dims))

    def backward(self, gy: Array) -> Array:
        # Every element equal to the max shares the gradient evenly (PyTorch's amax convention).
        winners = (self.x == self.y).astype(gy.dtype)
        winners /= winners.sum(axis=self.dims, keepdims=True)
        return _expand_reduced(gy, self.x.shape, self.dims) * winners


def _reduced_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(size for i, size in enumerate(shape) if i not in dims)


@accepts_numpy_names  # torch also takes NumPy's axis= and keepdims=
def amax(x: Tensor, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
    """Largest value over ``dim``.  The gradient goes to the maximal elements (split at ties)."""
    _check_not_empty("amax", x, dim)
    return AmaxFunction(normalize_dims(dim, x.ndim), keepdim)(x)


@accepts_numpy_names  # torch also takes NumPy's axis= and keepdims=
def amin(x: Tensor, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
    """Smallest value over ``dim``, as ``-amax(-x)``."""
    return -amax(-x, dim, keepdim)


class MaxDimFunction(Function):
    def __init__(self, dim: int, keepdim: bool) -> None:
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x: Array) -> tuple[Array, Array]:
        xp = get_xp(x)
        self.x_shape = x.shape
        index = xp.expand_dims(xp.argmax(x, axis=self.dim), self.dim)  # first maximum wins
        values = xp.take_along_axis(x, index, axis=self.dim)
        self.index = index
        if not self.keepdim:
            values, index = values.squeeze(self.dim), index.squeeze(self.dim)
        return values, index

    def backward(self, gy: Array, g_index: Array | None) -> Array:
        xp = get_xp(gy)
        positions = xp.arange(self.x_shape[self.dim]).reshape(
            [-1 if i == self.dim else 1 for i in range(len(self.x_shape))]
        )
        one_hot = positions == self.index  # True only at the chosen maximum of each slice
        return one_hot * gy.reshape(self.index.shape)


class MaxResult(NamedTuple):
    """``(values, indices)``, as ``torch.max(x, dim)`` returns."""

    values: Tensor
    indices: Tensor


@accepts_numpy_names  # torch also takes NumPy's axis= and keepdims=
def max(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxResult:
    """Without ``dim``: the largest element.  With ``dim``: ``(values, indices)`` along it.

    As in PyTorch, the gradient of ``max(x, dim)`` goes to the one element whose index is
    returned, while the full reduction ``max(x)`` shares it among ties.
    """
    if dim is None:
        return amax(x)
    _check_not_empty("max", x, dim)
    if x.ndim == 0:  # PyTorch allows dim 0 or -1 here: the value itself, at index 0
        normalize_dims(dim, 0)
        values, indices = MaxDimFunction(0, keepdim=False)(x.reshape(1))
        return MaxResult(values, indices)
    (axis,) = normalize_dims(dim, x.ndim)
    values, indices = MaxDimFunction(axis, keepdim)(x)
    return MaxResult(values, indices)


@accepts_numpy_names  # torch also takes NumPy's axis= and keepdims=
def min(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxResult:
    """As ``max``, for the smallest element (computed as ``-max(-x)``)."""
    if dim is None:
        return amin(x)
    values, indices = max(-x, dim, keepdim)
    return MaxResult(-values, indices)


def _check_not_empty(op: str, x: Tensor, dim: int | tuple[int, ...] | None) -> None:
    if not isinstance(
        x, Tensor
    ):  # x.array of a NumPy array is a memoryview: say what is wrong instead
        raise TypeError(f"{op}: {not_a_tensor(x)}")
    if x.array.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {x.shape} (dim={dim})")


class Norm2Function(Function):
    """The 2-norm over ``dims``: n = sqrt(sum x^2).  dn/dx = x / n, and 0 where n = 0 (PyTorch's
    subgradient at the origin; sqrt's own derivative 1 / (2 sqrt) would give 0 * inf = NaN there).

    Shapes: x (...) -> n with the ``dims`` removed (kept as size 1 with ``keepdim``).
    """

    def __init__(self, dims: tuple[int, ...], keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        self.x = x
        self.n = xp.sqrt((x * x).sum(axis=self.dims, keepdims=True))  # dims kept as size 1
        return (
            self.n
            if self.keepdim
            else self.n.reshape([s for i, s in enumerate(x.shape) if i not in self.dims])
        )

    def backward(self, gy: Array) -> Array:
        xp = get_xp(gy)
        gy = gy.reshape(self.n.shape)  # put back the reduced dims as size 1
        safe_n = xp.where(self.n == 0, 1, self.n)
        return xp.where(self.n == 0, 0, gy / safe_n) * self.x


def norm2(x: Tensor, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
    """sqrt(sum(x * x)) over ``dim`` (all elements by default), with gradient 0 at a zero vector."""
    if not isinstance(x, Tensor):
        raise TypeError(f"norm: {not_a_tensor(x)}")
    return Norm2Function(normalize_dims(dim, x.ndim), keepdim)(x)
