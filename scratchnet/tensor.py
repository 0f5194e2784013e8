"""Tensor: an array that remembers how it was computed, so gradients can flow back through it.

A Tensor wraps an array (``.data``, NumPy on the CPU, CuPy on the GPU). When it is the result of an
op on tensors that require gradients, ``.creator`` points to that op (a ``Function``) and the op
points to its inputs: together they form the computation graph, built as the code runs
("define-by-run"). ``loss.backward()`` walks that graph from the loss back to the leaves (tensors
made by the user, such as parameters) and stores d loss / d leaf in each leaf's ``.grad``.

The walk is iterative and deterministic: Functions are taken from a heap, latest generation first,
so a Function runs only after every op that used its outputs has sent its gradient back. No
recursion, so a 5,000-layer chain or a DenseNet's graph is fine.

Every operator below is a one-line call into ``scratchnet.ops``, where each op's forward and
backward stand side by side.

In-place operations (``+=``, ``add_``, ``relu_``, ``x[i] = v``, ``zero_``, ...) change the tensor's
own memory, as in PyTorch, and count the change in its version (``_version``, shared with its views:
one counter per piece of memory). Ops that saved that memory for backward notice the new version
and refuse to compute a wrong gradient (``Function.check_saved_versions``). Inside a graph an
in-place op is recorded like any op: the tensor object takes the in-place op as its new creator
and an internal stand-in takes over its old place in the graph, so gradients stay right
(``_apply_inplace`` has the steps). A leaf that requires grad (a parameter) may be changed in place
only under ``no_grad()``, which is how optimizers and ``nn.init`` change it.

``.data`` is the raw array. Writes through it (``p.data[...] = 0``, ``p.data -= lr * p.grad``) are
not counted, exactly as writes through PyTorch's ``.data`` are not: use it when you mean to go
behind autograd's back. ``detach()`` shares the version counter, so changes through it are caught.

Dtypes follow PyTorch: Python floats become float32, a Python number never widens the tensor it
meets (``x * 2.0`` stays float32), and mixed tensors promote by kind before size (int64 + float32
is float32; see ``result_dtype`` at the end of this file).
"""

from __future__ import annotations

import functools
import heapq
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from scratchnet.backend import Array, device, get_xp, is_cuda_array, is_device, to_device

# The dtypes, under PyTorch's names (scratchnet.float32 is numpy's float32).
float32, float64, float16 = np.float32, np.float64, np.float16
int64, int32, int8, uint8, bool_ = np.int64, np.int32, np.int8, np.uint8, np.bool_

_CPU, _CUDA0 = device("cpu"), device("cuda", 0)  # what Tensor.device gives (one GPU at most)

DEFAULT_FLOAT = np.float32  # Python floats and lists become float32, as in PyTorch


# ---------------------------------------------------------------------- PyTorch's names (issue 14)


def accepts_numpy_names(method: Any) -> Any:
    """Let ``method`` take NumPy's ``axis=``/``keepdims=`` for ``dim=``/``keepdim=``, as torch does.

    ``torch.argmax(x, axis=1)`` and ``x.sum(axis=0, keepdims=True)`` work in PyTorch (its argument
    parser maps NumPy's names), and code copied from NumPy uses them.
    """

    @functools.wraps(method)
    def with_numpy_names(*args: Any, **kwargs: Any) -> Any:
        for numpy_name, torch_name in (("axis", "dim"), ("keepdims", "keepdim")):
            if numpy_name in kwargs:
                if torch_name in kwargs:
                    raise TypeError(
                        f"{method.__name__}() got both {torch_name}= and its alias {numpy_name}="
                    )
                kwargs[torch_name] = kwargs.pop(numpy_name)
        return method(*args, **kwargs)

    return with_numpy_names


def get_default_dtype() -> Any:
    """float32: the dtype of tensors made from Python floats and of ``zeros``, ``randn``, ... (torch's name)."""
    return DEFAULT_FLOAT


def set_default_dtype(dtype: Any) -> None:
    """``torch.set_default_dtype``: only float32, scratchnet's fixed default, is accepted.

    Changing the default would have to reach every factory function's default argument; rather
    than half-apply it (a silent mix of float32 and float64), other dtypes raise and name the way
    to get them.
    """
    if np.dtype(dtype).kind != "f":
        raise TypeError(
            f"only floating-point types are supported as the default type, got {np.dtype(dtype)}"
        )
    if np.dtype(dtype) != DEFAULT_FLOAT:
        raise NotImplementedError(
            f"set_default_dtype({np.dtype(dtype)}): scratchnet's default dtype is fixed at float32; pass "
            "dtype=scratchnet.float64 to tensor()/zeros()/randn()/..., and call model.double() for the parameters"
        )


# torch's legacy type names (``x.type()`` prints them; ``x.type("torch.DoubleTensor")`` casts).
_TYPE_NAMES = {
    np.float32: "FloatTensor",
    np.float64: "DoubleTensor",
    np.float16: "HalfTensor",
    np.int64: "LongTensor",
    np.int32: "IntTensor",
    np.int16: "ShortTensor",
    np.int8: "CharTensor",
    np.uint8: "ByteTensor",
    np.bool_: "BoolTensor",
}


def type_string(dtype: np.dtype, device: str = "cpu") -> str:
    """``"torch.FloatTensor"`` for float32 on the CPU, ``"torch.cuda.FloatTensor"`` on the GPU."""
    prefix = "torch.cuda." if device == "cuda" else "torch."
    return prefix + _TYPE_NAMES[np.dtype(dtype).type]


def dtype_of_type_string(name: str) -> Any:
    """The dtype a torch type string names: ``"torch.DoubleTensor"`` -> float64."""
    for dtype, type_name in _TYPE_NAMES.items():
        if name in (f"torch.{type_name}", f"torch.cuda.{type_name}"):
            return dtype
    raise ValueError(
        f"invalid type: {name!r} (expected one of torch.FloatTensor, torch.LongTensor, ...)"
    )


def parse_to(what: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """The (device, dtype) of a ``to(...)`` call in any of PyTorch's forms; None where not given."""
    kwargs = dict(kwargs)
    kwargs.pop("non_blocking", None)  # every copy is synchronous here: the flag changes nothing
    kwargs.pop("copy", None)
    target_device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"{what}() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            target_device, dtype = arg.device, arg.dtype
        elif is_device(arg):
            target_device = arg
        elif isinstance(arg, bool):  # torch's positional non_blocking / copy flags
            continue
        elif arg is not None:
            try:
                dtype = np.dtype(arg).type
            except TypeError:
                raise TypeError(
                    f"{what}(): expected a device, a dtype or a tensor, got {arg!r}"
                ) from None
    return target_device, dtype


class Tensor:
    """An n-dimensional array with automatic differentiation (PyTorch's ``torch.Tensor``).

    Build tensors with ``scratchnet.tensor(data, requires_grad=...)`` or ``zeros``/``randn``/...;
    ``Tensor(array)`` wraps an existing array without copying.
    """

    __slots__ = (
        "__weakref__",
        "_base",
        "_retains_grad",
        "_version_counter",
        "creator",
        "data",
        "generation",
        "grad",
        "requires_grad",
    )

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy meets a Tensor: ``array op= tensor`` writes into the array, ``array op tensor`` is a Tensor.

        ``p.data -= lr * p.grad`` (PyTorch's idiom for a raw update) lands here with ``out=(p.data,)``:
        the tensors give their arrays and NumPy writes in place. ``ndarray * Tensor`` goes to the
        Tensor op, as if written the other way round. Any other NumPy function on a tensor is refused.
        """
        out = kwargs.get("out")
        if method == "__call__" and out is not None and all(_is_array(o) for o in out):
            arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
            return ufunc(*arrays, **kwargs)
        if method == "__call__" and out is None and len(inputs) == 2 and not kwargs:
            if ufunc in _UFUNC_OPS:
                return _UFUNC_OPS[ufunc](*inputs)
            if ufunc.__name__ in _COMPARISONS:
                a, b = inputs
                return _compare(as_tensor(a, like=b), b, ufunc.__name__)
        raise TypeError(
            f"numpy.{ufunc.__name__} was called on a Tensor; use the Tensor's own op (x.exp(), x.sum(), ...) "
            "or call NumPy on the array, x.numpy()"
        )

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        if not (isinstance(data, np.ndarray) or type(data).__module__.startswith("cupy")):
            data = _to_array(data)
        self.data: Array = data
        self.grad: Tensor | None = None
        self.creator: Any = None  # the Function that produced this tensor (None for a leaf)
        self.generation = 0  # 1 + the generation of the creator: the walk's ordering key
        self._retains_grad = False
        self._base: Tensor | None = None  # for a view (x[0], reshape, ...): the tensor it views
        self._version_counter: list[int] | None = None  # in-place changes; made at the first one
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ attributes

    @property
    def array(self) -> Array:
        """The NumPy (CPU) or CuPy (GPU) array that holds the values (issue 14: ``.data`` will
        become PyTorch's detached Tensor; ``.array`` is the raw array under scratchnet's own name).
        """
        return self.data

    @array.setter
    def array(self, value: Array) -> None:
        self.data = value

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> device:
        """``device(type='cpu')`` or ``device(type='cuda', index=0)``, as ``torch.Tensor.device``.

        It also equals the strings ``"cpu"``/``"cuda"`` (``device_of(array)`` gives those).
        """
        return _CUDA0 if is_cuda_array(self.data) else _CPU

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (not produced by an op that records the graph)."""
        return self.creator is None

    @property
    def grad_fn(self) -> Any:
        """The Function that produced this tensor (PyTorch's name for ``creator``)."""
        return self.creator

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or the size of one dimension (PyTorch's ``size()``)."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.ndim

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        array = np.asarray(to_device(self.data, "cpu"))
        # PyTorch's look: whole numbers as "2.", anything else with 4 decimals ("2.5000").
        fractional = array.dtype.kind == "f" and bool((array != np.round(array)).any())
        body = np.array2string(
            array,
            separator=", ",
            prefix="tensor(",
            precision=4,
            floatmode="fixed" if fractional else "maxprec",
        )
        extras = (
            [f"size={self.shape}"] if self.data.size == 0 and self.ndim != 1 else []
        )  # "[]" hides it
        if self.dtype not in (np.float32, np.int64, np.bool_):  # PyTorch's defaults are not printed
            extras.append(f"dtype={self.dtype}")
        if self.device == "cuda":
            extras.append("device='cuda'")
        if self.creator is not None:
            extras.append(f"grad_fn=<{self.creator.name}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # ------------------------------------------------------------------ autograd

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark this leaf as needing a gradient (in place); returns self."""
        if requires_grad and self.dtype.kind not in "fc":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got dtype {self.dtype}; "
                "convert first, e.g. x.float()"
            )
        if not requires_grad and not self.is_leaf:
            raise RuntimeError("requires_grad can only be turned off on a leaf; use .detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        self._retains_grad = True

    def detach(self) -> Tensor:
        """A new leaf sharing the same data, cut from the graph.

        It shares the version counter too, as in PyTorch: an in-place change through the detached
        tensor is seen by every op that saved this memory for backward (unlike a write through
        ``.data``, the raw array, which autograd never sees).
        """
        detached = Tensor(self.data)
        detached._version_counter = self._shared_version_counter()
        return detached

    @property
    def _version(self) -> int:
        """How many times this tensor's memory was changed in place (PyTorch's ``_version``)."""
        return 0 if self._version_counter is None else self._version_counter[0]

    def _shared_version_counter(self) -> list[int]:
        """The version counter as a one-element list that views can share (made on first use)."""
        if self._version_counter is None:
            self._version_counter = [0]
        return self._version_counter

    def _bump_version(self) -> None:
        """Count one in-place change of this tensor's memory (for it and every view of it)."""
        self._shared_version_counter()[0] += 1

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Compute d self / d leaf for every leaf that requires grad, adding it to ``leaf.grad``.

        Parameters
        ----------
        gradient : Tensor or array, same shape as self, optional
            The upstream gradient d L / d self. Needed unless self has a single element.
        retain_graph : bool
            Keep the graph (and the arrays the ops saved) so backward can run through it again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no creator; did you forget "
                "requires_grad=True on the inputs, or compute it under no_grad()?"
            )
        xp = get_xp(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() on a tensor of shape {self.shape} needs a `gradient` of that shape; "
                    "for a loss, reduce it to a scalar first (e.g. loss.mean())"
                )
            seed = xp.ones_like(self.data)
        else:
            seed = xp.asarray(
                gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype
            )
            if seed.shape != self.shape:
                raise RuntimeError(
                    f"backward(): gradient has shape {seed.shape}, expected {self.shape}"
                )
        _run_backward(self, seed, retain_graph)

    # ------------------------------------------------------------------ conversions

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU)."""
        if self.device == "cuda":
            raise TypeError("numpy(): this tensor is on the GPU; call .cpu() first")
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted, got shape {self.shape}"
            )
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        return to_device(self.data, "cpu").tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()"
            )
        return bool(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(to_device(self.data, "cpu"), dtype=dtype)

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
        return result

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

    def contiguous(self) -> Tensor:
        return self

    # ------------------------------------------------------------------ in place

    def _apply_inplace(self, name: str, op: Any, *operands: Any) -> Tensor:
        """Change this tensor in place to ``op(self, *operands)``; the graph records the change.

        1. A leaf that requires grad (a parameter) may change only under ``no_grad()``: its
           ``.grad`` is d loss / d (this very tensor), which an in-place change would make a lie.
        2. Outside a graph (``no_grad``, or nothing requires grad) the result is written into this
           tensor's memory and the version goes up by one.
        3. Inside a graph, a stand-in tensor (same memory, same version counter) takes this
           tensor's old place in the graph; ``op`` runs on the stand-in, out of place, and is
           recorded; the result is written into this tensor's memory, and the tensor object takes
           the op as its new creator (PyTorch "rebases" it the same way). Arrays the op saved from
           the old values are copied first (Mul saves its input), and the op's saved output now
           points to this memory, so a later in-place change is caught (Relu saves its output).
        """
        recording = is_grad_enabled()
        if recording and self.requires_grad and self.is_leaf:
            raise RuntimeError(
                f"{name}: a leaf Variable that requires grad is being used in an in-place operation. "
                "A parameter may be changed in place only inside `with scratchnet.no_grad():` "
                "(as an optimizer does)"
            )
        needs_graph = recording and (self.requires_grad or any(_requires_grad(o) for o in operands))
        if needs_graph and self._base is not None:
            # Its base would hold values the graph does not know how it got (PyTorch re-records the
            # base; scratchnet refuses rather than give the base a wrong gradient).
            raise RuntimeError(
                f"{name}: this tensor of shape {self.shape} is a view of another tensor (x[...], "
                "reshape, transpose), and scratchnet does not record in-place changes of views in a "
                "graph (PyTorch does). Change the base tensor (x[i] = ... on it), or clone() the view"
            )
        if not needs_graph:
            with no_grad():
                result = op(self, *operands)
            self._write(name, result.data)
            return self

        stand_in = Tensor(self.data)  # the old values' place in the graph
        stand_in._version_counter = self._shared_version_counter()
        if self.creator is not None:
            stand_in.creator, stand_in.generation, stand_in.requires_grad = (
                self.creator,
                self.generation,
                True,
            )
        result = op(stand_in, *[stand_in if o is self else o for o in operands])
        self._check_result(
            name, result.data
        )  # before the graph changes: a refused op leaves it as it was
        if self.creator is not None:
            self.creator.outputs = [
                weakref.ref(stand_in) if ref() is self else ref for ref in self.creator.outputs
            ]
        function = result.creator
        # Saved old values of this tensor are copied, as PyTorch saves "original self"; but as the
        # other operand too (y.mul_(y)) it is saved by reference, and backward will refuse it.
        keeps_old_values = not any(o is self for o in operands)
        memory = _memory_of(self.data)
        for key, value in list(vars(function).items()):
            if keeps_old_values and _is_array(value) and _memory_of(value) is memory:
                setattr(function, key, value.copy())
        self._write(name, result.data)
        for key, value in list(vars(function).items()):  # the saved output now lives here
            if value is result.data:
                setattr(function, key, self.data)
        function.outputs = [weakref.ref(self)]
        # Expect the memory as it is now: the old values it held were copied above.
        function.output_versions = [self._version]
        if keeps_old_values:
            function.input_versions = [
                self._version if t is stand_in else v
                for t, v in zip(function.inputs, function.input_versions, strict=True)
            ]
        self.creator, self.generation, self.requires_grad = function, result.generation, True
        return self

    def _write(self, name: str, array: Array) -> None:
        """Write ``array`` (the in-place op's result) into this tensor's memory; count the change."""
        self._check_result(name, array)
        self.data[...] = array
        self._bump_version()

    def _check_result(self, name: str, array: Array) -> None:
        """Raise unless ``array`` can be written into this tensor: same shape, a castable dtype."""
        if tuple(array.shape) != self.shape:
            raise RuntimeError(
                f"{name}: the result has shape {tuple(array.shape)}, but this tensor has shape "
                f"{self.shape}; an in-place op cannot change a tensor's shape (broadcasting goes to "
                "the other operand only)"
            )
        if _CATEGORY[array.dtype.kind] > _CATEGORY[self.dtype.kind]:
            raise RuntimeError(
                f"{name}: result type {array.dtype} can't be cast to the desired output type "
                f"{self.dtype} of this tensor (PyTorch's rule: in place, a float result cannot go "
                "into an integer tensor); convert first, e.g. x = x.float()"
            )
        _check_writeable(self, name)

    def add_(self, other: Any, *, alpha: float = 1) -> Tensor:
        """Add ``alpha * other`` to this tensor, in place (``x += alpha * other``)."""
        return self._apply_inplace("add_", _add_scaled, other, alpha)

    def sub_(self, other: Any, *, alpha: float = 1) -> Tensor:
        """Subtract ``alpha * other`` from this tensor, in place (``x -= alpha * other``)."""
        return self._apply_inplace("sub_", _add_scaled, other, -alpha)

    def mul_(self, other: Any) -> Tensor:
        """Multiply this tensor by ``other``, in place (``x *= other``)."""
        return self._apply_inplace("mul_", elementwise.mul, other)

    def div_(self, other: Any) -> Tensor:
        """Divide this tensor by ``other``, in place (``x /= other``)."""
        return self._apply_inplace("div_", elementwise.div, other)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Clip this tensor to [min, max], in place."""
        return self._apply_inplace("clamp_", elementwise.clamp, min, max)

    clip_ = clamp_

    def relu_(self) -> Tensor:
        """max(x, 0), in place: what ``nn.ReLU(inplace=True)`` does."""
        return self._apply_inplace("relu_", elementwise.relu)

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        """Set the elements where ``mask`` (boolean, broadcast to this shape) is true to ``value``."""
        mask = as_tensor(mask, like=self)
        if mask.dtype != np.bool_:
            raise RuntimeError(
                f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}"
            )
        return self._apply_inplace("masked_fill_", _masked_fill, mask, value)

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` (a number, or a one-element tensor), in place."""
        if is_grad_enabled() and (self.requires_grad or _requires_grad(value)):
            return self._apply_inplace("fill_", _masked_fill, True, value)
        _check_writeable(self, "fill_")
        self.data[...] = (
            value.item() if isinstance(value, Tensor) else value
        )  # no graph: write directly
        self._bump_version()
        return self

    def copy_(self, source: Any) -> Tensor:
        """Copy values from ``source`` (broadcast to this shape, any dtype or device) into this tensor's memory."""
        if not isinstance(source, Tensor):
            array = (
                source.data
                if hasattr(source, "__cuda_array_interface__")
                else get_xp(source).asarray(source)
            )
            source = Tensor(array)
        try:
            fits = broadcast_shape("copy_", source.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"copy_: source of shape {tuple(source.shape)} does not match {self.shape}"
            )
        if is_grad_enabled() and (self.requires_grad or source.requires_grad):
            return self._apply_inplace("copy_", _copy_from, source)
        _check_writeable(self, "copy_")
        self.data[...] = to_device(
            source.data, self.device
        )  # no graph: write directly (NumPy casts)
        self._bump_version()
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[index] = value``, in place (recorded in the graph like any in-place op)."""
        if is_grad_enabled() and (self.requires_grad or _requires_grad(value)):
            self._apply_inplace("__setitem__", shape_ops.setitem, index, value)
            return
        value = value.data if isinstance(value, Tensor) else value
        if hasattr(value, "shape"):  # an array: bring it to this tensor's device first
            value = to_device(value, self.device)
        _check_writeable(self, "__setitem__")
        self.data[shape_ops._unwrap_index(index)] = value
        self._bump_version()

    # ------------------------------------------------------------------ operators

    __hash__ = object.__hash__  # identity hash, as PyTorch (== is element-wise)

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
        return Tensor(get_xp(self.data).asarray(self.data.any()))

    def all(self) -> Tensor:
        return Tensor(get_xp(self.data).asarray(self.data.all()))

    def reshape(self, *shape: Any) -> Tensor:
        return shape_ops.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        return shape_ops.reshape(self, *shape)

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

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    # ---- PyTorch compatibility (issue 14)
    # PyTorch's other spellings of what the methods above do, so that code written for torch runs
    # unchanged: NumPy's ``axis``/``keepdims`` names, torch's type strings, ``eq``, ``t``, ...

    sum = accepts_numpy_names(sum)
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
        xp = get_xp(self.data)
        return Tensor(
            xp.asarray(xp.isclose(self.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))
        )

    def allclose(
        self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> bool:
        """True if ``isclose`` holds everywhere (``torch.allclose``); shapes broadcast, dtypes must match."""
        return bool(self.isclose(other, rtol, atol, equal_nan).all())

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
        """The 2-norm (``p=2`` or ``"fro"``) or 1-norm of all elements, or along ``dim`` (``Tensor.norm``).

        Differentiable: sqrt(sum(x * x)), with gradient 0 at a zero vector as in PyTorch, and sum(|x|).
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
        """A new tensor from ``data``, with this one's dtype and device unless given (``Tensor.new_tensor``)."""
        array = np.array(data.data if isinstance(data, Tensor) else data, dtype=dtype or self.dtype)
        return Tensor(to_device(array, device or self.device), requires_grad=requires_grad)

    def new_full(
        self,
        size: Any,
        fill_value: Any,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """A tensor of ``size`` filled with ``fill_value``, with this one's dtype and device unless given."""
        size = tuple(size) if isinstance(size, list | tuple) else (size,)
        return self.new_tensor(np.full(size, fill_value), dtype, device, requires_grad)

    def new_zeros(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        return self.new_full(_size_of(size), 0, dtype, device, requires_grad)

    def new_ones(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        return self.new_full(_size_of(size), 1, dtype, device, requires_grad)

    def new_empty(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """Zeros here (PyTorch leaves the values unspecified)."""
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def t(self) -> Tensor:
        """Transpose of a matrix; a 0-d or 1-d tensor is returned as is (``torch.Tensor.t``)."""
        if self.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D (shape {self.shape}); "
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

    def __index__(self) -> int:
        """A one-element integer tensor used as a Python index: ``items[i]``, ``range(n)``."""
        if self.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError(
                f"only integer tensors of a single element can be converted to an index, got dtype "
                f"{self.dtype} and shape {self.shape}"
            )
        return int(self.item())


# ---------------------------------------------------------------------- conversion and dtype promotion


def _size_of(size: tuple[Any, ...]) -> tuple[int, ...]:
    """``new_zeros(2, 3)`` and ``new_zeros((2, 3))`` alike."""
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], list | tuple) else tuple(size)


def _to_array(data: Any) -> Array:
    """Turn Python numbers, lists, NumPy scalars and arrays into an array.

    Python floats (and lists of them) become float32, PyTorch's default; an array or NumPy scalar
    keeps its dtype, as in ``torch.tensor(np.array(...))``.
    """
    if isinstance(data, Tensor):
        return data.data
    if isinstance(data, np.ndarray) or is_cuda_array(data):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    if isinstance(data, list | tuple) and any(isinstance(d, Tensor) for d in data):
        arrays = [_to_array(d) for d in data]
        return get_xp(arrays[0]).stack(arrays)
    array = np.asarray(data)
    if array.dtype.kind not in "biufc":  # None, strings, other objects: not numbers
        raise TypeError(
            f"cannot make a tensor from {type(data).__name__} {data!r:.50} (NumPy dtype {array.dtype})"
        )
    if array.dtype == np.float64:
        array = array.astype(DEFAULT_FLOAT)
    return array


# Type categories of PyTorch's promotion rule: a higher category wins whatever the sizes.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_DEFAULT_OF_CATEGORY = {0: np.bool_, 1: np.int64, 2: DEFAULT_FLOAT, 3: np.complex64}


def _scalar_dtype(value: Any, like: np.dtype) -> np.dtype:
    """The dtype a Python (or NumPy) number takes next to a tensor of dtype ``like``.

    A number never widens a tensor of its own category (``x * 2.0`` stays float32, ``i + 2`` stays
    int32); one of a higher category takes that category's default (``i * 0.5`` is float32).
    """
    if isinstance(value, np.generic):
        kind = value.dtype.kind
    else:  # bool before int: True is also an int
        kind = "b" if isinstance(value, bool) else "i" if isinstance(value, int) else "f"
    if _CATEGORY[kind] <= _CATEGORY[like.kind]:
        return like
    return np.dtype(_DEFAULT_OF_CATEGORY[_CATEGORY[kind]])


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype both ``a`` and ``b`` convert to, by PyTorch's rule (``torch.promote_types``).

    The higher category (bool < integer < floating) wins: int64 with float32 is float32, not NumPy's
    float64. Within one category the wider dtype wins: float32 with float64 is float64.
    """
    if a == b:
        return a
    category_a, category_b = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if category_a != category_b:
        return a if category_a > category_b else b
    return np.result_type(a, b)


def result_dtype(a: Tensor, b: Tensor) -> np.dtype:
    """The dtype of a binary op on ``a`` and ``b``: ``promote_types``, except that within one
    category a 0-d tensor does not widen a tensor with dimensions (float32 * a float64 0-d tensor
    is float32), as in PyTorch.
    """
    if (a.ndim == 0) != (b.ndim == 0) and _CATEGORY[a.dtype.kind] == _CATEGORY[b.dtype.kind]:
        return b.dtype if a.ndim == 0 else a.dtype
    return promote_types(a.dtype, b.dtype)


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """Return ``value`` as a Tensor; a Python number takes its dtype and device from ``like``."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, int | float | np.generic):
        dtype = _scalar_dtype(value, like.dtype)
        return Tensor(get_xp(like.data).asarray(value, dtype=dtype))
    array = _to_array(value)
    if like is not None and like.device == "cuda":
        array = to_device(array, "cuda")
    return Tensor(array)


# ---------------------------------------------------------------------- shapes and dims


def broadcast_shape(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape NumPy broadcasting gives two shapes, or a ValueError naming the op and both shapes.

    Align the shapes from the right; each pair of sizes must be equal or one of them 1, which is
    stretched: (8, 1, 6) and (7, 1) give (8, 7, 6).
    """
    if a == b or not b:  # the common cases (equal shapes, a scalar) need no loop
        return a
    if not a:
        return b
    shape = []
    for i in range(1, max(len(a), len(b)) + 1):
        size_a = a[-i] if i <= len(a) else 1  # a missing leading dimension counts as 1
        size_b = b[-i] if i <= len(b) else 1
        if size_a != size_b and size_a != 1 and size_b != 1:
            raise ValueError(
                f"{op}: shapes {tuple(a)} and {tuple(b)} cannot be broadcast together (NumPy's rule: "
                "aligned from the right, each pair of sizes must be equal or one of them 1)"
            )
        shape.append(size_b if size_a == 1 else size_a)
    return tuple(reversed(shape))


def normalize_dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """``dim`` (int, sequence or None for all) as a sorted tuple of non-negative axes.

    Negative dims count from the end (-1 is the last). A 0-d tensor accepts dim 0 and -1, as in
    PyTorch, and has no axis to reduce: the result is ``()``.
    """
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    rank = max(ndim, 1)
    for d in dims:
        if not -rank <= d < rank:
            raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
    axes = sorted(d % rank for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"dim {dim} names the same dimension twice")
    return tuple(axes) if ndim else ()


# ---------------------------------------------------------------------- operator helpers


def _compare(a: Tensor, b: Any, ufunc: str) -> Tensor:
    """An element-wise comparison: a boolean tensor, never part of the graph."""
    b = as_tensor(b, like=a)
    broadcast_shape(ufunc, a.shape, b.shape)
    return Tensor(getattr(get_xp(a.data), ufunc)(a.data, b.data))


def _argext(x: Tensor, dim: int | None, keepdim: bool, name: str) -> Tensor:
    xp = get_xp(x.data)
    if dim is None:
        return Tensor(xp.asarray(getattr(xp, name)(x.data), dtype=np.int64))
    index = getattr(xp, name)(x.data, axis=dim)
    return Tensor(xp.expand_dims(index, dim) if keepdim else index)


def _requires_grad(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


def _check_writeable(tensor: Tensor, name: str) -> None:
    """Refuse to write into a read-only array (an ``expand``/``broadcast_to`` view, where many
    elements share one memory location) with PyTorch's message, not NumPy's.
    """
    if not getattr(getattr(tensor.data, "flags", None), "writeable", True):
        raise RuntimeError(
            f"{name}: unsupported operation: more than one element of the written-to tensor of shape "
            f"{tensor.shape} refers to a single memory location (an expand() or broadcast view). "
            "Please clone() the tensor before performing the operation"
        )


# NumPy's operators on (ndarray, Tensor), for Tensor.__array_ufunc__ (filled once the ops are imported).
_UFUNC_OPS: dict[Any, Any] = {}
_COMPARISONS = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")


# The out-of-place ops behind the in-place methods (each takes the tensor being changed first).


def _add_scaled(x: Tensor, other: Any, alpha: float) -> Tensor:
    return elementwise.add(x, other if alpha == 1 else elementwise.mul(other, alpha))


def _masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask``, else x: the gradient goes to x where not masked, to value where masked."""
    mask_array = mask.data if isinstance(mask, Tensor) else get_xp(x.data).asarray(mask)
    if isinstance(value, Tensor):
        value = elementwise.cast(value, x.dtype)
    else:  # a number takes x's dtype (fill_(2.7) of an integer tensor writes 2, as in PyTorch)
        value = Tensor(get_xp(x.data).asarray(value).astype(x.dtype))
    return elementwise.where(mask_array, value, x)


def _copy_from(x: Tensor, source: Tensor) -> Tensor:
    """``source`` (moved and cast to x's device and dtype) in x's shape; x itself gets no gradient."""
    return _masked_fill(x, True, elementwise.cast(elementwise.to_device(source, x.device), x.dtype))


# ---------------------------------------------------------------------- the backward walk


def _accumulate(tensor: Tensor, g: Array, taken: set[int]) -> None:
    """Add ``g`` into ``tensor.grad``; every ``.grad`` ends up a writable array of its own.

    ``g`` itself becomes the gradient only when nothing else can hold it: it owns its memory (not
    a view, such as the read-only broadcast a sum sends back), has the tensor's dtype, and its id
    is not in ``taken`` (the arrays already kept as a ``.grad`` in this walk, such as the one array
    an add sends to both of its inputs, and the caller's seed). Otherwise it is copied, because an
    optimizer may change ``.grad`` in place. Not copying a fresh gradient saves a copy of every
    weight gradient (392 MiB for VGG16's first fully connected layer).
    """
    if tensor.grad is not None:
        total = (tensor.grad.data + g).astype(tensor.dtype, copy=False)
    elif g.flags.owndata and g.dtype == tensor.dtype and id(g) not in taken:
        total = g
    else:
        total = g.astype(tensor.dtype)  # astype copies
    taken.add(id(total))
    tensor.grad = Tensor(total)


def _run_backward(root: Tensor, seed: Array, retain_graph: bool) -> None:
    """The backward walk: see the module docstring."""
    taken = {id(seed)}  # the caller may still hold the seed: copy it before keeping it as a .grad
    if root.creator is None:
        _accumulate(root, seed, taken)
        return
    # Gradient received so far by each non-leaf, keyed by id. The tensor is kept beside it: once
    # its consumer is freed, this entry is what keeps it alive until its creator runs.
    pending: dict[int, tuple[Tensor, Array]] = {id(root): (root, seed)}
    heap: list[tuple[int, int, Any]] = []
    queued: set[int] = set()

    def schedule(function: Any) -> None:
        if id(function) not in queued:
            queued.add(id(function))
            # Latest generation first; among equals, the most recently created first.
            heapq.heappush(heap, (-function.generation, -function.order, function))

    schedule(root.creator)
    while heap:
        function = heapq.heappop(heap)[2]
        if function.freed:
            raise RuntimeError(
                f"backward through {function.name} a second time: its saved arrays were freed "
                "after the first backward; pass retain_graph=True to the first backward() call"
            )
        outputs = [ref() for ref in function.outputs]
        gys = [
            pending.pop(id(out), (None, None))[1] if out is not None else None for out in outputs
        ]
        for out, gy in zip(outputs, gys, strict=True):
            if gy is not None and out._retains_grad:
                _accumulate(out, gy, taken)
        function.check_saved_versions(outputs)
        gxs = function.backward(*gys)
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        function.check_gradients(gxs)
        if anomaly_mode_enabled():
            check_finite(function, "backward", gxs, function.inputs)
        for x, gx in zip(function.inputs, gxs, strict=True):
            if gx is None or not x.requires_grad:
                continue
            if x.creator is None:
                _accumulate(x, gx, taken)
            else:
                previous = pending.get(id(x))
                pending[id(x)] = (x, gx if previous is None else previous[1] + gx)
                schedule(x.creator)
        if not retain_graph:
            function.free()


# The ops call back into Tensor, so they are imported after it is defined (the circle
# tensor -> ops -> tensor closes here).
from scratchnet.function import (  # noqa: E402
    _is_array,
    _memory_of,
    anomaly_mode_enabled,
    check_finite,
    is_grad_enabled,
    no_grad,
)
from scratchnet.ops import elementwise, linalg, reduce  # noqa: E402
from scratchnet.ops import shape as shape_ops  # noqa: E402
from scratchnet.ops import sort as sort_ops  # noqa: E402

_UFUNC_OPS.update(
    {
        np.add: elementwise.add,
        np.subtract: elementwise.sub,
        np.multiply: elementwise.mul,
        np.true_divide: elementwise.div,
        np.power: elementwise.pow,
        np.matmul: linalg.matmul,
    }
)
