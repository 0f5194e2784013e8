"""Shape ops: reshape, permute, indexing, concatenation and splitting, padding.

None of these change a value, they only move values around, so each backward moves the gradient
back the same way: reshape's backward reshapes, permute's applies the inverse permutation,
indexing's scatters into zeros, ``cat``'s splits. Concatenation along channels is how an Inception
module joins its branches and how a DenseNet layer sees all earlier feature maps (slides
"GoogLeNet (5)" and "DenseNet (1)").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnet.backend import Array, device_of, get_xp, to_device
from scratchnet.dtypes import promote_types
from scratchnet.function import Function, not_a_tensor
from scratchnet.ops.reduce import sum_to
from scratchnet.shapes import normalize_dims
from scratchnet.tensor import Tensor, as_tensor


class ReshapeFunction(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy: Array) -> Array:
        return gy.reshape(self.x_shape)


def reshape(x: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """Same values, new shape (one size may be -1).  Backward reshapes the gradient back."""
    if not isinstance(x, Tensor):  # x.array is read below, before the Function would check it
        raise TypeError(f"reshape: {not_a_tensor(x)}")
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    known = math.prod(s for s in shape if s != -1)
    target = tuple(x.array.size // known if s == -1 and known else s for s in shape)
    if shape.count(-1) > 1 or math.prod(target) != x.array.size:
        raise ValueError(
            f"reshape: cannot view a tensor of shape {x.shape} ({x.array.size} elements) as {shape}"
        )
    if target == x.shape:
        return x
    return ReshapeFunction(target)(x)


view = reshape


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one:
    (N, C, H, W) -> (N, C*H*W) for start_dim=1.
    """
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = _axis("flatten", start_dim, x.ndim), _axis("flatten", end_dim, x.ndim)
    if start > end:
        raise ValueError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}"
        )
    merged = math.prod(x.shape[start : end + 1])
    return reshape(x, (*x.shape[:start], merged, *x.shape[end + 1 :]))


def squeeze(x: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """Drop size-1 dimensions (only ``dim`` if given; a ``dim`` of another size is left alone)."""
    if dim is not None and not isinstance(dim, int) and len(dim) == 0:
        return reshape(x, x.shape)  # squeeze(()): no dimension named, none dropped (PyTorch)
    dims = range(x.ndim) if dim is None else normalize_dims(dim, x.ndim)
    shape = tuple(size for i, size in enumerate(x.shape) if not (i in dims and size == 1))
    return reshape(x, shape)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim`` (-1 appends)."""
    if not -x.ndim - 1 <= dim <= x.ndim:
        raise IndexError(f"unsqueeze: dim {dim} out of range for a tensor of shape {x.shape}")
    dim = dim % (x.ndim + 1)
    return reshape(x, (*x.shape[:dim], 1, *x.shape[dim:]))


class PermuteFunction(Function):
    def __init__(self, dims: tuple[int, ...]) -> None:
        self.dims = dims

    def forward(self, x: Array) -> Array:
        return x.transpose(self.dims)

    def backward(self, gy: Array) -> Array:
        inverse = tuple(sorted(range(len(self.dims)), key=self.dims.__getitem__))
        return gy.transpose(inverse)


def permute(x: Tensor, *dims: int | Sequence[int]) -> Tensor:
    """Reorder dimensions: output dim i is input dim ``dims[i]``.  Backward: the inverse order."""
    if len(dims) == 1 and isinstance(dims[0], Sequence):
        dims = tuple(dims[0])
    if len(dims) != x.ndim or any(not -x.ndim <= d < x.ndim for d in dims):
        raise ValueError(
            f"permute: {tuple(dims)} is not a permutation of the {x.ndim} dims of {x.shape}"
        )
    axes = tuple(d % x.ndim for d in dims)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(
            f"permute: {tuple(dims)} is not a permutation of the {x.ndim} dims of {x.shape}"
        )
    return PermuteFunction(axes)(x)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    if x.ndim == 0:
        return x  # PyTorch allows transpose(0, 0) / (-1, -1) of a 0-d tensor: nothing to swap
    dim0, dim1 = _axis("transpose", dim0, x.ndim), _axis("transpose", dim1, x.ndim)
    dims = list(range(x.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(x, dims)


def _axis(op: str, dim: int, ndim: int) -> int:
    """``dim`` as a non-negative axis of an ``ndim``-dimensional tensor (-1 is the last)."""
    if not -ndim <= dim < ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % ndim


class GetItemFunction(Function):
    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x: Array) -> Array:
        self.x_shape, self.x_dtype = x.shape, x.dtype
        self.index = _index_on(self.index, device_of(x))
        return x[self.index]

    def backward(self, gy: Array) -> Array:
        xp = get_xp(gy)
        gx = xp.zeros(self.x_shape, dtype=gy.dtype)
        if _is_basic(self.index):
            gx[self.index] = gy  # slices and ints pick each element at most once
        else:
            # add.at, not gx[index] = gy: an integer array may pick the same element twice, and
            # each pick must add its gradient (x[[0, 0]] sends two gradients to x[0]).
            xp.add.at(gx, self.index, gy)
        return gx


def _is_basic(index: Any) -> bool:
    """True for NumPy's basic indexing (ints, slices, None, ...), which never repeats an element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, int | slice) or i is None or i is Ellipsis for i in parts)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with basic slicing and integer/boolean array indexing, laid out as PyTorch does.

    PyTorch and NumPy differ in one case: an integer next to an index array. NumPy counts the
    integer as one more index array, so in ``x[0, :, idx]`` the two "arrays" are separated by the
    slice and their dimension moves to the front: shape (4, 2) for x of shape (4, 2, 2) and 4
    indices. PyTorch first selects with the integer (``x[0]``, shape (2, 2)) and then indexes
    ``[:, idx]``: shape (2, 4). scratchnet follows PyTorch, doing the same two steps.
    """
    index = _unwrap_index(index)
    try:
        select, rest = _split_integers(index)
        if select is not None:  # two steps, each a GetItem: backward scatters through both
            return GetItemFunction(rest)(GetItemFunction(select)(x))
        return GetItemFunction(index)(x)
    except IndexError as error:
        raise IndexError(f"indexing a tensor of shape {x.shape} with {index!r}: {error}") from None


def _split_integers(index: Any) -> tuple[Any, Any]:
    """Split an index that mixes integers with index arrays into PyTorch's two steps.

    Returns ``(select, rest)``: ``select`` applies the integers alone (basic indexing, so every
    other entry becomes ``:``, one per dimension it consumes), ``rest`` the remaining entries on
    the result (a ``None`` there becomes ``:`` over the size-1 dimension the first step inserted).
    Returns ``(None, None)`` when NumPy's rule already is PyTorch's (no integer, or no array).
    """
    parts = index if isinstance(index, tuple) else (index,)
    arrays = [getattr(i, "ndim", 0) > 0 or isinstance(i, list) for i in parts]
    integers = [_is_integer(i) for i in parts]
    if not any(arrays) or not any(integers):
        return None, None
    select: list[Any] = []
    rest: list[Any] = []
    for part, is_integer in zip(parts, integers, strict=True):
        if is_integer:
            select.append(part)
        elif part is None:
            select.append(None)
            rest.append(slice(None))
        elif part is Ellipsis:
            select.append(Ellipsis)
            rest.append(Ellipsis)
        else:
            # a slice or an array: consumes one dimension (a boolean array, one per its dimension)
            consumed = (
                part.ndim if getattr(part, "dtype", None) is not None and part.dtype == bool else 1
            )
            select.extend([slice(None)] * consumed)
            rest.append(part)
    return tuple(select), tuple(rest)


def _is_integer(part: Any) -> bool:
    """A Python or NumPy integer, or a 0-d integer array
    (a 0-d index tensor): PyTorch selects with it.
    """
    if isinstance(part, bool):
        return False
    if isinstance(part, int | np.integer):
        return True
    return getattr(part, "ndim", None) == 0 and getattr(part, "dtype", np.dtype(bool)).kind in "iu"


def _index_on(index: Any, device: str) -> Any:
    """The index with its integer/boolean arrays on
    the data's device (a NumPy index for a GPU tensor).

    A list of ints or bools (``x[[0, 0, 2]]``) is the array it stands for, as in NumPy; as an array
    it is moved like one, and ``add.at`` in backward receives the same array on every device.
    """
    if isinstance(index, tuple):
        return tuple(_index_on(i, device) for i in index)
    if isinstance(index, list) and index and all(isinstance(i, int) for i in index):
        index = np.asarray(index)
    if getattr(index, "ndim", 0) > 0 and hasattr(index, "dtype"):  # an array, not an int or a slice
        return to_device(index, device)  # no copy when it is already there
    return index


def _unwrap_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(_unwrap_index(i) for i in index)
    if isinstance(index, list) and any(isinstance(i, Tensor) for i in index):
        return [_unwrap_index(i) for i in index]
    return index


class CatFunction(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, *xs: Array) -> Array:
        self.sizes = [x.shape[self.dim] for x in xs]
        return get_xp(xs[0]).concatenate(xs, axis=self.dim)

    def backward(self, gy: Array) -> tuple[Array, ...]:
        xp = get_xp(gy)
        boundaries = list(_cumulative(self.sizes))[:-1]
        return tuple(xp.split(gy, boundaries, axis=self.dim))


def _cumulative(sizes: Sequence[int]) -> list[int]:
    total, out = 0, []
    for size in sizes:
        total += size
        out.append(total)
    return out


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along ``dim``; all other dimensions must agree.  Backward splits the gradient.

    Shapes: (N, C1, H, W), (N, C2, H, W) -> (N, C1 + C2, H, W) for dim=1.
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    for position, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"cat: element {position} of the list: {not_a_tensor(t)}")
    first = tensors[0]
    if first.ndim == 0:
        raise ValueError(
            "cat: 0-d tensors cannot be concatenated; use stack, or unsqueeze them first"
        )
    axis = _axis("cat", dim, first.ndim)
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, first.shape, strict=True)) if i != axis
        ):
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise ValueError(f"cat: shapes must match except in dim {dim}, got {shapes}")
    dtype = functools.reduce(promote_types, [t.dtype for t in tensors])
    tensors = [t if t.dtype == dtype else t.to(dtype) for t in tensors]
    return CatFunction(axis)(*tensors)


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(
            f"stack: all shapes must be equal, got {', '.join(str(t.shape) for t in tensors)}"
        )
    return cat([unsqueeze(t, dim) for t in tensors], dim)


class SplitFunction(Function):
    def __init__(self, sizes: list[int], dim: int) -> None:
        self.sizes, self.dim = sizes, dim

    def forward(self, x: Array) -> tuple[Array, ...]:
        self.x_shape, self.dtype = x.shape, x.dtype
        return tuple(get_xp(x).split(x, _cumulative(self.sizes)[:-1], axis=self.dim))

    def backward(self, *gys: Array | None) -> Array:
        # An unused piece gets no gradient from the walk: it contributes zeros.
        xp = get_xp(next(g for g in gys if g is not None))
        pieces = []
        for g, size in zip(gys, self.sizes, strict=True):
            if g is None:
                shape = list(self.x_shape)
                shape[self.dim] = size
                g = xp.zeros(shape, dtype=self.dtype)
            pieces.append(g)
        return xp.concatenate(pieces, axis=self.dim)


def split(
    x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
) -> tuple[Tensor, ...]:
    """Cut x along ``dim`` into pieces of ``split_size``
    (the last may be smaller) or of the given sizes.
    """
    if x.ndim == 0:
        raise ValueError("split: a 0-d tensor has no dimension to split")
    axis = _axis("split", dim, x.ndim)
    length = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, length - start) for start in range(0, length, step)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != length:
            raise ValueError(
                f"split: sizes {sizes} do not add up to "
                f"{length}, the size of dim {dim} of {x.shape}"
            )
    outputs = SplitFunction(sizes, axis)(x)
    return outputs if isinstance(outputs, tuple) else (outputs,)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut x into ``chunks`` nearly equal pieces along
    ``dim`` (PyTorch's rule: ceil-sized pieces).
    """
    if chunks <= 0:
        raise ValueError(f"chunk: the number of chunks must be positive, got {chunks}")
    if x.ndim == 0:
        raise ValueError("chunk: a 0-d tensor has no dimension to split")
    size = -(-x.shape[_axis("chunk", dim, x.ndim)] // chunks)  # ceil(length / chunks)
    return split(x, max(size, 1), dim)


class PadFunction(Function):
    def __init__(self, widths: tuple[tuple[int, int], ...], value: float) -> None:
        self.widths, self.value = widths, value

    def forward(self, x: Array) -> Array:
        return get_xp(x).pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy: Array) -> Array:
        crop = tuple(
            slice(before, gy.shape[i] - after) for i, (before, after) in enumerate(self.widths)
        )
        return gy[crop]


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Constant padding with PyTorch's ``F.pad`` convention: ``pad`` lists (before, after) pairs
    starting from the LAST dimension, e.g. ``(left, right, top, bottom)`` for an image.

    Backward crops the gradient back to the input's shape.
    """
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is implemented, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(
            f"pad: expected an even number of at most {2 * x.ndim} "
            f"values for shape {x.shape}, got {tuple(pad)}"
        )
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {tuple(pad)} is not supported")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return PadFunction(tuple(widths), value)(x)


class SetItemFunction(Function):
    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x: Array, value: Array) -> Array:
        self.index = _index_on(self.index, device_of(x))
        self.value_shape = value.shape
        y = x.copy()  # out of place: Tensor.__setitem__ writes the result back into x's memory
        y[self.index] = value
        return y

    def backward(self, gy: Array) -> tuple[Array, Array]:
        gx = gy.copy()
        gx[self.index] = 0  # the overwritten elements of x no longer reach the output
        return gx, sum_to(gy[self.index], self.value_shape)  # value was broadcast to x[index]


def setitem(x: Tensor, index: Any, value: Any) -> Tensor:
    """X with ``x[index] = value``, as a new tensor: the op behind ``x[index] = value`` in a graph.

    d/dx = 1 except at the overwritten elements (0 there); d/dvalue = the gradient at x[index],
    summed over the dimensions broadcasting added.
    """
    value = as_tensor(value, like=x)
    if value.dtype != x.dtype:
        value = value.to(x.dtype)
    return SetItemFunction(_unwrap_index(index))(x, value)
