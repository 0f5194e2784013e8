"""Tensor: an array that remembers how it was computed, so gradients can flow back through it.

This file is the Tensor class alone: what a tensor holds and what it tells about itself. A Tensor
wraps an array (``.array``: NumPy on the CPU, CuPy on the GPU) and carries autograd's bookkeeping:

* ``requires_grad``: whether gradients are wanted for it; ``grad``: d loss / d this tensor, once
  ``backward`` has run;
* ``creator`` (PyTorch's ``grad_fn``): the Function whose output it is, None for a leaf (a tensor
  the user made, such as a parameter). Following creators from the loss to the leaves walks the
  computation graph, built as the code runs ("define-by-run");
* ``generation``: 1 + its creator's generation, the order key of the backward walk;
* ``_version``: how many times its memory was changed in place (a counter shared with its views).

Where the rest lives. Recording ops into the graph, ``backward()`` (the walk) and in-place changes
are the graph engine's, in ``scratchnet/autograd/engine.py``. The operators and op methods
(``x + y``, ``x.sum()``, ``x.reshape(...)``, ``x.add_(y)``) are ops: they are written in
``scratchnet/ops/tensor_methods.py`` and installed on this class there, because the ops build on
Tensor and Tensor cannot import them without an import cycle. Dtype promotion is in
``dtypes.py``, broadcasting and ``dim=`` rules in ``shapes.py``.

Three ways to reach a tensor's values without the graph:

* ``x.array`` is the raw NumPy (CPU) or CuPy (GPU) array, scratchnet's own name. Writes through it
  (``x.array[0] = 0``, ``p.array -= lr * g``) are never counted in the version.
* ``x.data`` is PyTorch's: a new Tensor on the same memory that does not require grad, with a
  version counter of its own. Changes through it (``p.data.add_(...)``, ``p.data -= ...``) are
  therefore invisible to autograd, the classic hazard, exactly as in PyTorch. ``x.data = t`` makes
  x hold t's memory (any shape or dtype; t must be a Tensor).
* ``x.detach()`` is the same new Tensor but shares x's version counter: an in-place change through
  it is caught by every op that saved this memory for backward. Prefer it (or ``no_grad()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from scratchnet.backend import Array, device, get_xp, is_cuda_array, is_device, to_device
from scratchnet.dtypes import DEFAULT_FLOAT, scalar_dtype

_CPU, _CUDA0 = device("cpu"), device("cuda", 0)  # what Tensor.device gives (one GPU at most)

# NumPy's binary ufuncs on (ndarray, Tensor), for Tensor.__array_ufunc__: np.add -> the add op,
# np.equal -> the comparison, ... Filled by ops/tensor_methods.py, where those ops are.
UFUNC_OPS: dict[Any, Any] = {}


class Tensor:
    """An n-dimensional array with automatic differentiation (PyTorch's ``torch.Tensor``).

    Build tensors with ``scratchnet.tensor(data, requires_grad=...)`` or ``zeros``/``randn``/...;
    ``Tensor(array)`` wraps an existing array without copying.
    """

    __slots__ = (
        "__weakref__",
        "_base",
        "_grad",
        "_retains_grad",
        "_version_counter",
        "array",  # the values: a NumPy (CPU) or CuPy (GPU) array
        "creator",
        "generation",
        "requires_grad",
    )

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        if not (isinstance(data, np.ndarray) or type(data).__module__.startswith("cupy")):
            data = _to_array(data)
        self.array: Array = data
        self._grad: Tensor | None = None  # .grad: d loss / d this tensor, once backward has run
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
    def data(self) -> Tensor:
        """PyTorch's ``.data``: this tensor's memory as a new leaf that does not require grad.

        Like ``detach()``, but with a version counter of its own, so in-place changes through it
        (``p.data.add_(...)``, ``p.data[0] = 0``) are invisible to autograd, as in PyTorch: an op
        that saved this memory for backward will not notice. Prefer ``detach()`` (checked) or
        ``with no_grad():`` (for parameter updates); ``.array`` is the raw NumPy/CuPy array.
        """
        return Tensor(self.array)

    @data.setter
    def data(self, value: Tensor) -> None:
        """``x.data = t``: x now holds t's memory (any shape or dtype), as in PyTorch."""
        if not isinstance(value, Tensor):
            kind = type(value)
            name = (
                kind.__qualname__
                if kind.__module__ == "builtins"
                else f"{kind.__module__}.{kind.__qualname__}"
            )
            raise TypeError(
                f"Variable data has to be a tensor, but got {name} (wrap an array "
                "with scratchnet.tensor(...), or assign the raw array to .array)"
            )
        if self.requires_grad and value.dtype.kind not in "fc":
            raise RuntimeError(
                "data set to a tensor that requires gradients must be floating point or complex "
                f"dtype, got {value.dtype}"
            )
        self.array = value.array

    @property
    def grad(self) -> Tensor | None:
        """The gradient d loss / d this tensor, summed by ``backward`` (None until then)."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        """``x.grad = g``: g must be None or a Tensor of x's shape, dtype and device (PyTorch's
        rule), or backward and the optimizer would add it to x by broadcasting, silently.
        """
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    "assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__module__}.{type(value).__qualname__}"
                )
            if value.shape != self.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size {list(value.shape)} to a tensor of "
                    f"size {list(self.shape)}. Please ensure that the gradient and the tensor are "
                    "the same size"
                )
            if value.dtype != self.dtype or value.device != self.device:
                raise RuntimeError(
                    f"attempting to assign a gradient of dtype {value.dtype} on {value.device} to "
                    f"a tensor of dtype {self.dtype} on {self.device}; convert it first, e.g. "
                    "g.to(x.dtype)"
                )
        self._grad = value

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> device:
        """``device(type='cpu')`` or ``device(type='cuda', index=0)``, as ``torch.Tensor.device``.

        It also equals the strings ``"cpu"``/``"cuda"`` (``device_of(array)`` gives those).
        """
        return _CUDA0 if is_cuda_array(self.array) else _CPU

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
        return int(self.array.size)

    def dim(self) -> int:
        return self.ndim

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        array = np.asarray(to_device(self.array, "cpu"))
        # PyTorch's look: whole numbers as "2.", anything else with 4 decimals ("2.5000").
        fractional = array.dtype.kind == "f" and bool((array != np.round(array)).any())
        body = np.array2string(
            array,
            separator=", ",
            prefix="tensor(",
            precision=4,
            floatmode="fixed" if fractional else "maxprec",
        )
        empty_shape_hidden = self.array.size == 0 and self.ndim != 1  # "[]" hides the shape
        extras = [f"size={self.shape}"] if empty_shape_hidden else []
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
        ``.data`` or ``.array``, which autograd never sees).
        """
        detached = Tensor(self.array)
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

    # ------------------------------------------------------------------ conversions

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU)."""
        if self.device == "cuda":
            raise TypeError("numpy(): this tensor is on the GPU; call .cpu() first")
        return self.array

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted, got shape {self.shape}"
            )
        return self.array.reshape(()).item()

    def tolist(self) -> Any:
        return to_device(self.array, "cpu").tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(to_device(self.array, "cpu"), dtype=dtype)

    def contiguous(self) -> Tensor:
        """The tensor itself if its memory is in C order, else a C-ordered copy (``clone()``), as in
        PyTorch: a write into ``x.T.contiguous()`` does not reach x.
        """
        return self if self.array.flags.c_contiguous else self.clone()

    def __index__(self) -> int:
        """A one-element integer tensor used as a Python index: ``items[i]``, ``range(n)``."""
        if self.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError(
                "only integer tensors of a single element can be converted to an index, got "
                f"dtype {self.dtype} and shape {self.shape}"
            )
        return int(self.item())

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    __hash__ = object.__hash__  # identity hash, as PyTorch (== is element-wise)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy meets a Tensor: ``array op= tensor`` writes into the array; ``array op tensor``
        is the Tensor op, as if written the other way round.

        ``p.array -= lr * p.grad`` lands here with ``out=(p.array,)``: the tensors give their
        arrays and NumPy writes in place. Any other NumPy function on a tensor is refused.
        """
        out = kwargs.get("out")
        if method == "__call__" and out is not None and all(_is_array(o) for o in out):
            arrays = [x.array if isinstance(x, Tensor) else x for x in inputs]
            return ufunc(*arrays, **kwargs)
        if method == "__call__" and out is None and len(inputs) == 2 and not kwargs:
            if ufunc in UFUNC_OPS:
                return UFUNC_OPS[ufunc](*inputs)
        raise TypeError(
            f"numpy.{ufunc.__name__} was called on a Tensor; use the Tensor's own op (x.exp(), "
            "x.sum(), ...) or call NumPy on the array, x.numpy()"
        )


# ---------------------------------------------------------------------- making tensors


def _to_array(data: Any, float_dtype: Any = DEFAULT_FLOAT) -> Array:
    """Turn Python numbers, lists, NumPy scalars and arrays into an array.

    Python floats (and lists of them) become ``float_dtype``: float32, PyTorch's default, unless
    the caller asked for a dtype (``tensor([0.1], dtype=float64)`` must not pass through float32);
    an array or NumPy scalar keeps its dtype, as in ``torch.tensor(np.array(...))``.
    """
    if isinstance(data, Tensor):
        return data.array
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
            f"cannot make a tensor from {type(data).__name__} {data!r:.50} "
            f"(NumPy dtype {array.dtype})"
        )
    if array.dtype == np.float64 and not _holds_numpy_float64(data):
        array = array.astype(float_dtype, copy=False)
    return array


def _holds_numpy_float64(data: Any) -> bool:
    """True if a (nested) list holds a NumPy float64 scalar or array: PyTorch keeps float64 then
    (``[np.float64(1.0), 2.0]``), where Python floats alone give the default float32.
    """
    if isinstance(data, np.ndarray | np.generic):
        return data.dtype == np.float64
    if isinstance(data, list | tuple):
        return any(_holds_numpy_float64(item) for item in data)
    return False


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """Return ``value`` as a Tensor; a Python number takes its dtype and device from ``like``."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, int | float | np.generic):
        dtype = scalar_dtype(value, like.dtype)
        return Tensor(get_xp(like.array).asarray(value, dtype=dtype))
    array = _to_array(value)
    if like is not None and like.device == "cuda":
        array = to_device(array, "cuda")
    return Tensor(array)


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


def _check_writeable(tensor: Tensor, name: str) -> None:
    """Refuse to write into a read-only array (an ``expand``/``broadcast_to`` view, where many
    elements share one memory location) with PyTorch's message, not NumPy's.
    """
    if not getattr(getattr(tensor.array, "flags", None), "writeable", True):
        raise RuntimeError(
            f"{name}: unsupported operation: more than one element of the written-to tensor of "
            f"shape {tensor.shape} refers to a single memory location (an expand() or broadcast "
            "view). Please clone() the tensor before performing the operation"
        )


def _is_array(value: Any) -> bool:
    """True for a NumPy or CuPy array (what forward saves and backward returns)."""
    if type(value) is np.ndarray:  # the usual case, without the two attribute look-ups
        return True
    return hasattr(value, "__array_interface__") or hasattr(value, "__cuda_array_interface__")
