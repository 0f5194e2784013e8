"""Tensor's operators and op methods (``x + y``, ``x.sum()``, ``x.add_(y)``), installed on Tensor.

Each method is one line into the op that does the work: ``x.sum(dim)`` is ``reduce.sum(x, dim)``,
``x + y`` is ``elementwise.add(x, y)``, and the op's forward and backward stand side by side in its
own file. The methods are written here, in the ops layer, and copied onto ``Tensor`` at the end of
this file, the way DeZero's ``setup_variable()`` gives its ``Variable`` its operators. They cannot
be written in ``tensor.py``'s class body: the ops build on Tensor (they make Tensors and subclass
the engine's ``Function``), so a ``tensor.py`` that imported them would close an import cycle.
Importing ``scratchnet`` (or any ``scratchnet.ops`` module) installs them; ``help(Tensor.sum)``
shows each one's docstring as usual.

In-place methods (``add_``, ``relu_``, ``x[i] = v``, ``copy_``, ...) run the out-of-place op and
hand the change to the engine (``engine.apply_inplace``), which records it in the graph and counts
it in the tensor's version.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnet import engine
from scratchnet.backend import get_xp, to_device
from scratchnet.dtypes import dtype_of_type_string, type_string
from scratchnet.engine import apply_inplace, is_grad_enabled
from scratchnet.ops import elementwise, linalg, reduce
from scratchnet.ops import shape as shape_ops
from scratchnet.ops import sort as sort_ops
from scratchnet.shapes import accepts_numpy_names, broadcast_shape, size_of
from scratchnet.tensor import UFUNC_OPS, Tensor, _check_writeable, as_tensor, parse_to


class TensorMethods:
    """The methods below become ``Tensor``'s (see ``install``); this class is never instantiated."""

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Compute d self / d leaf for every leaf that requires grad, adding it to ``leaf.grad``.

        The walk is the engine's (``scratchnet/engine.py``: ``backward`` and ``run_backward``).

        Parameters
        ----------
        gradient : Tensor or array, same shape as self, optional
            The upstream gradient d L / d self. Needed unless self has a single element.
        retain_graph : bool
            Keep the graph (and the arrays the ops saved) so backward can run through it again.
        """
        engine.backward(self, gradient, retain_graph)

    # ------------------------------------------------------------------ conversions

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to("cuda")`` / ``to(device)`` moves the tensor; ``to(scratchnet.float64)`` casts it.

        PyTorch's other forms work too: ``to(device, dtype)``, ``to(other_tensor)`` (its device and
        dtype), ``to(device=..., dtype=..., non_blocking=True)`` (``non_blocking`` changes nothing
        here: every copy is synchronous). Both moves and casts are differentiable: the result's
        gradient flows back to this tensor. (``Module.to`` instead moves parameters in place, so
        they stay leaves.)
        """
        target_device, dtype = parse_to("Tensor.to", args, kwargs)
        result = self
        if dtype is not None and np.dtype(dtype) != self.dtype:
            result = elementwise.cast(result, dtype)
        if target_device is not None:
            result = elementwise.to_device(result, str(target_device))
        flags = [arg for arg in args if isinstance(arg, bool)]  # positional non_blocking, copy
        copy = kwargs.get("copy", len(flags) > 1 and flags[1])
        return elementwise.clone(result) if copy and result is self else result

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def long(self) -> Tensor:
        return self.to(np.int64)

    def bool(self) -> Tensor:
        return self.to(np.bool_)

    def clone(self) -> Tensor:
        """A differentiable copy with its own memory."""
        return elementwise.clone(self)

    # ------------------------------------------------------------------ in place

    def add_(self, other: Any, *, alpha: float = 1) -> Tensor:
        """Add ``alpha * other`` to this tensor, in place (``x += alpha * other``)."""
        return apply_inplace(self, "add_", _add_scaled, other, alpha)

    def sub_(self, other: Any, *, alpha: float = 1) -> Tensor:
        """Subtract ``alpha * other`` from this tensor, in place (``x -= alpha * other``)."""
        return apply_inplace(self, "sub_", _add_scaled, other, -alpha)

    def mul_(self, other: Any) -> Tensor:
        """Multiply this tensor by ``other``, in place (``x *= other``)."""
        return apply_inplace(self, "mul_", elementwise.mul, other)

    def div_(self, other: Any) -> Tensor:
        """Divide this tensor by ``other``, in place (``x /= other``)."""
        return apply_inplace(self, "div_", elementwise.div, other)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Clip this tensor to [min, max], in place."""
        return apply_inplace(self, "clamp_", elementwise.clamp, min, max)

    clip_ = clamp_

    def relu_(self) -> Tensor:
        """max(x, 0), in place: what ``nn.ReLU(inplace=True)`` does.

        The tensor's creator may absorb the ReLU (``absorb_relu_``: the fast batch norm in
        training masks its own backward, so no Relu node is recorded; see
        ``kernels/fast_functions.py``); otherwise a Relu node is recorded as for any in-place op.
        """
        absorb_relu_ = getattr(self.creator, "absorb_relu_", None)
        if absorb_relu_ is not None and absorb_relu_(self):
            return self
        return apply_inplace(self, "relu_", elementwise.relu)

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        """Write ``value`` where the boolean ``mask`` (broadcast to this shape) is true."""
        mask = as_tensor(mask, like=self)
        if mask.dtype != np.bool_:
            raise RuntimeError(
                f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}"
            )
        return apply_inplace(self, "masked_fill_", _masked_fill, mask, value)

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` (a number, or a one-element tensor), in place."""
        if is_grad_enabled() and (self.requires_grad or _requires_grad(value)):
            return apply_inplace(self, "fill_", _masked_fill, True, value)
        _check_writeable(self, "fill_")
        # No graph: write directly.
        self.array[...] = value.item() if isinstance(value, Tensor) else value
        self._bump_version()
        return self

    def copy_(self, source: Any) -> Tensor:
        """Copy values from ``source`` (broadcast to this shape, any dtype or device) into this
        tensor's memory.
        """
        if not isinstance(source, Tensor):
            source = Tensor(get_xp(source).asarray(source))
        try:
            fits = broadcast_shape("copy_", source.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"copy_: source of shape {tuple(source.shape)} does not match {self.shape}"
            )
        if is_grad_enabled() and (self.requires_grad or source.requires_grad):
            return apply_inplace(self, "copy_", _copy_from, source)
        _check_writeable(self, "copy_")
        # No graph: write directly (NumPy casts to this dtype).
        self.array[...] = to_device(source.array, self.device)
        self._bump_version()
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[index] = value``, in place (recorded in the graph like any in-place op)."""
        if is_grad_enabled() and (self.requires_grad or _requires_grad(value)):
            apply_inplace(self, "__setitem__", shape_ops.setitem, index, value)
            return
        value = value.array if isinstance(value, Tensor) else value
        if hasattr(value, "shape"):  # an array: bring it to this tensor's device first
            value = to_device(value, self.device)
        _check_writeable(self, "__setitem__")
        self.array[shape_ops._unwrap_index(index)] = value
        self._bump_version()

    # ------------------------------------------------------------------ operators

    def __add__(self, other: Any) -> Tensor:
        return elementwise.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return elementwise.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return elementwise.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return elementwise.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return elementwise.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return elementwise.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return elementwise.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return elementwise.div(other, self)

    def __pow__(self, exponent: Any) -> Tensor:
        return elementwise.pow(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return elementwise.pow(as_tensor(base, like=self), self)

    def __matmul__(self, other: Any) -> Tensor:
        return linalg.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return linalg.matmul(as_tensor(other, like=self), self)

    def __neg__(self) -> Tensor:
        return elementwise.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return elementwise.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return shape_ops.getitem(self, index)

    # Comparisons give boolean tensors that never require grad.
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(self, other, "equal")

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(self, other, "not_equal")

    def __lt__(self, other: Any) -> Tensor:
        return _compare(self, other, "less")

    def __le__(self, other: Any) -> Tensor:
        return _compare(self, other, "less_equal")

    def __gt__(self, other: Any) -> Tensor:
        return _compare(self, other, "greater")

    def __ge__(self, other: Any) -> Tensor:
        return _compare(self, other, "greater_equal")

    # ------------------------------------------------------------------ methods

    def add(self, other: Any) -> Tensor:
        return elementwise.add(self, other)

    def sub(self, other: Any) -> Tensor:
        return elementwise.sub(self, other)

    def mul(self, other: Any) -> Tensor:
        return elementwise.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return elementwise.div(self, other)

    def pow(self, exponent: Any) -> Tensor:
        return elementwise.pow(self, exponent)

    def matmul(self, other: Any) -> Tensor:
        return linalg.matmul(self, other)

    def abs(self) -> Tensor:
        return elementwise.abs(self)

    def exp(self) -> Tensor:
        return elementwise.exp(self)

    def log(self) -> Tensor:
        return elementwise.log(self)

    def sqrt(self) -> Tensor:
        return elementwise.sqrt(self)

    def tanh(self) -> Tensor:
        return elementwise.tanh(self)

    def sigmoid(self) -> Tensor:
        return elementwise.sigmoid(self)

    def relu(self) -> Tensor:
        return elementwise.relu(self)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        return elementwise.clamp(self, min, max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return elementwise.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return elementwise.minimum(self, other)

    def sum(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return reduce.sum(self, dim, keepdim)

    def mean(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return reduce.mean(self, dim, keepdim)

    def var(
        self,
        dim: int | tuple[int, ...] | None = None,
        *,
        correction: int = 1,
        unbiased: bool | None = None,
        keepdim: bool = False,
    ) -> Tensor:
        return reduce.var(self, dim, correction=correction, unbiased=unbiased, keepdim=keepdim)

    def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return reduce.max(self, dim, keepdim)

    def min(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return reduce.min(self, dim, keepdim)

    def amax(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return reduce.amax(self, dim, keepdim)

    def amin(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return reduce.amin(self, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _argext(self, dim, keepdim, "argmax")

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _argext(self, dim, keepdim, "argmin")

    def any(self) -> Tensor:
        return Tensor(get_xp(self.array).asarray(self.array.any()))

    def all(self) -> Tensor:
        return Tensor(get_xp(self.array).asarray(self.array.all()))

    def reshape(self, *shape: Any) -> Tensor:
        return shape_ops.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        """The same memory seen in another shape; PyTorch's error where that needs a copy."""
        viewed = shape_ops.reshape(self, *shape)
        if self.array.size and not get_xp(self.array).may_share_memory(viewed.array, self.array):
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (shape "
                f"{self.shape} as {viewed.shape}: at least one dimension spans across two "
                "contiguous subspaces). Use .reshape(...) instead, which copies"
            )
        return viewed

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return shape_ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        return shape_ops.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return shape_ops.unsqueeze(self, dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return shape_ops.transpose(self, dim0, dim1)

    def permute(self, *dims: Any) -> Tensor:
        return shape_ops.permute(self, *dims)

    @property
    def T(self) -> Tensor:
        """All dimensions reversed (the matrix transpose for 2-D tensors)."""
        return shape_ops.permute(self, tuple(reversed(range(self.ndim))))

    def expand(self, *sizes: Any) -> Tensor:
        return reduce.expand(self, *sizes)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return reduce.broadcast_to(self, tuple(shape))

    def expand_as(self, other: Tensor) -> Tensor:
        return reduce.broadcast_to(self, other.shape)

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        return shape_ops.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return shape_ops.chunk(self, chunks, dim)

    # ---- PyTorch compatibility (issue 14)
    # PyTorch's other spellings of what the methods above do, so that code written for torch runs
    # unchanged: NumPy's ``axis``/``keepdims`` names, torch's type strings, ``eq``, ``t``, ...

    sum = accepts_numpy_names(sum)  # x.sum(axis=1, keepdims=True), as torch accepts
    mean = accepts_numpy_names(mean)
    var = accepts_numpy_names(var)
    max = accepts_numpy_names(max)
    min = accepts_numpy_names(min)
    amax = accepts_numpy_names(amax)
    amin = accepts_numpy_names(amin)
    argmax = accepts_numpy_names(argmax)
    argmin = accepts_numpy_names(argmin)

    def type(self, dtype: Any = None) -> Any:
        """Without an argument, torch's type string (``"torch.FloatTensor"``); with one, a cast.

        ``dtype`` may be a dtype (``scratchnet.float64``) or a type string
        (``"torch.DoubleTensor"``), as ``torch.Tensor.type`` accepts.
        """
        if dtype is None:
            return type_string(self.dtype, self.device)
        if isinstance(dtype, str):
            dtype = dtype_of_type_string(dtype)
        return self.to(dtype)

    def half(self) -> Tensor:
        return self.to(np.float16)

    def int(self) -> Tensor:
        return self.to(np.int32)

    def eq(self, other: Any) -> Tensor:
        return _compare(self, other, "equal")

    def ne(self, other: Any) -> Tensor:
        return _compare(self, other, "not_equal")

    def lt(self, other: Any) -> Tensor:
        return _compare(self, other, "less")

    def le(self, other: Any) -> Tensor:
        return _compare(self, other, "less_equal")

    def gt(self, other: Any) -> Tensor:
        return _compare(self, other, "greater")

    def ge(self, other: Any) -> Tensor:
        return _compare(self, other, "greater_equal")

    def equal(self, other: Tensor) -> bool:
        """True if both have the same shape and the same values (``torch.equal``)."""
        return self.shape == other.shape and bool((self == other).all())

    def isclose(
        self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> Tensor:
        """Element-wise ``|self - other| <= atol + rtol * |other|``, broadcast (``torch.isclose``).

        Both must be Tensors of the same dtype, as torch requires (float32 against float64 would
        compare at float32's precision without saying so).
        """
        if not isinstance(other, Tensor):
            raise TypeError(
                f"isclose(): argument 'other' must be Tensor, not {type(other).__name__}"
            )
        if self.dtype != other.dtype:
            raise RuntimeError(
                f"isclose(): {self.dtype} did not match {other.dtype}; cast one with .to(dtype)"
            )
        xp = get_xp(self.array)
        return Tensor(
            xp.asarray(
                xp.isclose(self.array, other.array, rtol=rtol, atol=atol, equal_nan=equal_nan)
            )
        )

    def allclose(
        self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> bool:
        """True if ``isclose`` holds everywhere (``torch.allclose``); shapes broadcast, dtypes must
        match.
        """
        return bool(self.isclose(other, rtol, atol, equal_nan).all())

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
        """The 2-norm (``p=2`` or ``"fro"``) or 1-norm of all elements, or along ``dim``.

        Differentiable: sqrt(sum(x * x)), with gradient 0 at a zero vector as in PyTorch, and
        sum(|x|).
        """
        if p in ("fro", 2):
            return reduce.norm2(self, dim, keepdim)
        if p == 1:
            return self.abs().sum(dim=dim, keepdim=keepdim)
        raise NotImplementedError(
            f"norm(p={p!r}): scratchnet has the 1-norm and the 2-norm; use (x.abs() ** p).sum()"
        )

    def mm(self, other: Tensor) -> Tensor:
        """Matrix product of two 2-D tensors (``torch.mm``: no broadcasting, unlike ``matmul``)."""
        if self.ndim != 2 or not isinstance(other, Tensor) or other.ndim != 2:
            other_shape = other.shape if isinstance(other, Tensor) else type(other).__name__
            raise RuntimeError(
                f"mm: expects two 2-D tensors, got shapes {self.shape} and {other_shape}"
            )
        return linalg.matmul(self, other)

    def new_tensor(
        self, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """A new tensor from ``data``, with this one's dtype and device unless given."""
        array = np.array(
            data.array if isinstance(data, Tensor) else data, dtype=dtype or self.dtype
        )
        return Tensor(to_device(array, device or self.device), requires_grad=requires_grad)

    def new_full(
        self,
        size: Any,
        fill_value: Any,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """A tensor of ``size`` filled with ``fill_value``, with this one's dtype and device unless
        given.
        """
        size = tuple(size) if isinstance(size, list | tuple) else (size,)
        return self.new_tensor(np.full(size, fill_value), dtype, device, requires_grad)

    def new_zeros(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        return self.new_full(size_of(size), 0, dtype, device, requires_grad)

    def new_ones(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        return self.new_full(size_of(size), 1, dtype, device, requires_grad)

    def new_empty(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """Zeros here (PyTorch leaves the values unspecified)."""
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def t(self) -> Tensor:
        """Transpose of a matrix; a 0-d or 1-d tensor is returned as is (``torch.Tensor.t``)."""
        if self.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D "
                f"(shape {self.shape}); "
                "use transpose(dim0, dim1) or permute(...)"
            )
        return self if self.ndim < 2 else shape_ops.transpose(self, 0, 1)

    def view_as(self, other: Tensor) -> Tensor:
        return shape_ops.reshape(self, other.shape)

    reshape_as = view_as

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        return sort_ops.topk(self, k, dim, largest, sorted)

    def sin(self) -> Tensor:
        return elementwise.sin(self)

    def cos(self) -> Tensor:
        return elementwise.cos(self)

    def sinh(self) -> Tensor:
        return elementwise.sinh(self)

    def cosh(self) -> Tensor:
        return elementwise.cosh(self)

    def bmm(self, other: Tensor) -> Tensor:
        return linalg.bmm(self, other)


# ---------------------------------------------------------------------- helpers of the methods


def _compare(a: Tensor, b: Any, ufunc: str) -> Tensor:
    """An element-wise comparison: a boolean tensor, never part of the graph."""
    b = as_tensor(b, like=a)
    broadcast_shape(ufunc, a.shape, b.shape)
    return Tensor(getattr(get_xp(a.array), ufunc)(a.array, b.array))


def _argext(x: Tensor, dim: int | None, keepdim: bool, name: str) -> Tensor:
    xp = get_xp(x.array)
    if dim is not None and not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(x.ndim, 1)}, "
            f"{max(x.ndim, 1) - 1}], but got {dim}): {name}() of a tensor of shape {x.shape}"
        )
    if x.array.size == 0 and dim is None:
        raise IndexError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0 (shape "
            f"{x.shape})."
        )
    if x.array.size == 0 and x.shape[dim] == 0:
        raise IndexError(
            f"{name}(): Expected reduction dim {dim} to have non-zero size (shape {x.shape})."
        )
    if x.ndim == 0:  # dim 0 or -1 of a 0-d tensor: its only element
        return Tensor(xp.asarray(0, dtype=np.int64))
    if dim is None:  # the index into the flattened tensor; keepdim keeps every dim, at size 1
        index = xp.asarray(getattr(xp, name)(x.array), dtype=np.int64)
        return Tensor(index.reshape((1,) * x.ndim) if keepdim else index)
    index = getattr(xp, name)(x.array, axis=dim)
    return Tensor(xp.expand_dims(index, dim) if keepdim else index)


def _requires_grad(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


# The out-of-place ops behind the in-place methods (each takes the tensor being changed first).


def _add_scaled(x: Tensor, other: Any, alpha: float) -> Tensor:
    return elementwise.add(x, other if alpha == 1 else elementwise.mul(other, alpha))


def _masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask``, else x: the gradient goes to x where not masked, to value where
    masked.
    """
    mask_array = mask.array if isinstance(mask, Tensor) else get_xp(x.array).asarray(mask)
    if isinstance(value, Tensor):
        value = elementwise.cast(value, x.dtype)
    else:  # a number takes x's dtype (fill_(2.7) of an integer tensor writes 2, as in PyTorch)
        value = Tensor(get_xp(x.array).asarray(value).astype(x.dtype))
    return elementwise.where(mask_array, value, x)


def _copy_from(x: Tensor, source: Tensor) -> Tensor:
    """``source`` (moved and cast to x's device and dtype) in x's shape; x gets no gradient."""
    moved = elementwise.to_device(source, x.device)
    return _masked_fill(x, True, elementwise.cast(moved, x.dtype))


# ---------------------------------------------------------------------- installing them


def _doc_of_the_op(method: Any) -> str | None:
    """For a one-line method such as ``sum`` (``return reduce.sum(self, dim, keepdim)``), the op's
    docstring, so that ``help(Tensor.sum)`` explains it; None for any other method.
    """
    names = inspect.unwrap(method).__code__.co_names  # the globals and attributes it uses, in order
    for module_name, op_name in itertools.pairwise(names):
        op = getattr(_OP_MODULES.get(module_name), op_name, None)
        if op is not None and op.__doc__:
            return f"The method form of ``{op.__module__}.{op_name}``:\n\n{inspect.getdoc(op)}"
    return None


# __hash__: Python sets it to None in a class that defines __eq__; Tensor keeps its own.
_NOT_METHODS = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__hash__"}


_OP_MODULES = {"elementwise": elementwise, "linalg": linalg, "reduce": reduce}
_OP_MODULES.update(shape_ops=shape_ops, sort_ops=sort_ops)


def install() -> None:
    """Copy every method of ``TensorMethods`` onto ``Tensor`` (named ``Tensor.<name>`` in help)."""
    for name, method in vars(TensorMethods).items():
        if name in _NOT_METHODS:
            continue
        function = method.fget if isinstance(method, property) else method
        if hasattr(function, "__qualname__") and function.__qualname__.startswith("TensorMethods"):
            function.__qualname__ = "Tensor." + function.__qualname__.split(".", 1)[1]
        if callable(function) and not function.__doc__:
            function.__doc__ = _doc_of_the_op(function)
        setattr(Tensor, name, method)
    # NumPy's operators with an array on the left (ndarray * Tensor): Tensor.__array_ufunc__.
    UFUNC_OPS.update(
        {
            np.add: elementwise.add,
            np.subtract: elementwise.sub,
            np.multiply: elementwise.mul,
            np.true_divide: elementwise.div,
            np.power: elementwise.pow,
            np.matmul: linalg.matmul,
        }
    )
    for ufunc in (np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal):
        UFUNC_OPS[ufunc] = lambda a, b, name=ufunc.__name__: _compare(as_tensor(a, like=b), b, name)


install()
