"""Functions that make new tensors, under PyTorch's names: ``tensor``, ``zeros``, ``randn``, ...

Every one takes ``dtype`` (default float32 for floating values), ``device`` ("cpu" or "cuda") and
``requires_grad``. Random tensors are drawn on the CPU from ``scratchnet.rng`` and then moved, so a
seed gives the same numbers on every device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnet.backend import normalize_device, to_device
from scratchnet.dtypes import DEFAULT_FLOAT
from scratchnet.rng import generator, numpy_generator
from scratchnet.tensor import Tensor, _to_array


def _make(array: Any, dtype: Any, device: str | None, requires_grad: bool) -> Tensor:
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    return Tensor(to_device(array, normalize_device(device)), requires_grad=requires_grad)


def _shape(size: tuple[Any, ...]) -> tuple[int, ...]:
    """``(2, 3)`` from ``zeros(2, 3)`` or ``zeros((2, 3))``; sizes must be non-negative integers.

    As in PyTorch, ``randn(2.5)`` is refused rather than truncated to ``randn(2)``.
    """
    if len(size) == 1 and isinstance(size[0], Sequence) and not isinstance(size[0], str):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, int | np.integer):
            raise TypeError(f"size must be a tuple of ints, got {type(s).__name__} {s!r} in {size}")
        if s < 0:
            raise ValueError(
                f"cannot create a tensor with a negative dimension: {s} in size {size}"
            )
    return tuple(int(s) for s in size)


def tensor(
    data: Any, dtype: Any = None, requires_grad: bool = False, device: str | None = "cpu"
) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (a number, nested list, NumPy array or Tensor).

    Python floats become float32; a NumPy array keeps its dtype, as ``torch.tensor`` does. A nested
    list must be rectangular: ``[[1, 2], [3]]`` is refused, naming the first row that differs.
    """
    try:
        # Python floats are read at full precision when a dtype is asked for, then cast to it.
        float_dtype = DEFAULT_FLOAT if dtype is None else np.float64
        array = _to_array(data.array if isinstance(data, Tensor) else data, float_dtype)
    except ValueError:
        ragged = _ragged_row(data)
        if ragged is None:
            raise
        raise ValueError(
            f"tensor(): {ragged}; every row of a nested list must have the same length"
        ) from None
    array = array.copy()  # a new leaf never shares memory with the caller's array
    return _make(array, dtype, device, requires_grad)


def _ragged_row(data: Any) -> str | None:
    """Where a nested list stops being rectangular, in PyTorch's words, or None if it does not.

    Walks the list one depth at a time: at depth ``dim`` every item must be a sequence of the
    length of the first one (``[[1, 2], [3]]``: length 2 expected at dim 1, got 1).
    """
    level, dim = [data], 0
    while any(isinstance(item, list | tuple) for item in level):
        for item in level:
            if not isinstance(item, list | tuple):
                return f"expected a sequence at dim {dim}, got {type(item).__name__} {item!r:.20}"
        expected = len(level[0])
        for item in level:
            if len(item) != expected:
                return f"expected a sequence of length {expected} at dim {dim} (got {len(item)})"
        level, dim = [child for item in level for child in item], dim + 1
    return None


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with a NumPy array (``torch.from_numpy``): no copy, same dtype.

    A change to either shows in the other. Unlike ``tensor``, float64 stays float64.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"from_numpy: cannot make a tensor from a NumPy array of dtype {array.dtype}"
        )
    return Tensor(array)


def zeros(
    *size: Any, dtype: Any = DEFAULT_FLOAT, requires_grad: bool = False, device: str | None = "cpu"
) -> Tensor:
    """A tensor of zeros of the given shape: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _make(np.zeros(_shape(size), dtype=dtype), None, device, requires_grad)


def ones(
    *size: Any, dtype: Any = DEFAULT_FLOAT, requires_grad: bool = False, device: str | None = "cpu"
) -> Tensor:
    """A tensor of ones of the given shape."""
    return _make(np.ones(_shape(size), dtype=dtype), None, device, requires_grad)


def full(
    size: Sequence[int],
    fill_value: float,
    dtype: Any = None,
    requires_grad: bool = False,
    device: str | None = "cpu",
) -> Tensor:
    """A tensor of the given shape filled with ``fill_value`` (float32 for a float value)."""
    array = np.full(tuple(size), fill_value)
    if dtype is None and array.dtype == np.float64:
        dtype = DEFAULT_FLOAT
    return _make(array, dtype, device, requires_grad)


def zeros_like(
    other: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Zeros with the shape, dtype and device of ``other`` (``dtype=``/``device=`` override)."""
    return _make(
        np.zeros(other.shape, dtype=dtype or other.dtype),
        None,
        device or other.device,
        requires_grad,
    )


def ones_like(
    other: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Ones with the shape, dtype and device of ``other`` (``dtype=``/``device=`` override them)."""
    return _make(
        np.ones(other.shape, dtype=dtype or other.dtype),
        None,
        device or other.device,
        requires_grad,
    )


def full_like(
    other: Tensor,
    fill_value: float,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """``fill_value`` everywhere, with the shape, dtype and device of ``other``."""
    array = np.full(other.shape, fill_value, dtype=dtype or other.dtype)
    return _make(array, None, device or other.device, requires_grad)


def empty(
    *size: Any, dtype: Any = DEFAULT_FLOAT, requires_grad: bool = False, device: str | None = "cpu"
) -> Tensor:
    """PyTorch's "uninitialized" tensor; here it holds zeros (any content is allowed, and zeros
    are reproducible).
    """
    return zeros(*size, dtype=dtype, requires_grad=requires_grad, device=device)


def empty_like(
    other: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """``empty`` with the shape, dtype and device of ``other``: zeros here."""
    return zeros_like(other, dtype, requires_grad, device)


def eye(
    n: int,
    m: int | None = None,
    dtype: Any = DEFAULT_FLOAT,
    requires_grad: bool = False,
    device: str | None = "cpu",
) -> Tensor:
    """The (n, m) identity matrix: ones on the diagonal, zeros elsewhere (m defaults to n)."""
    return _make(np.eye(n, m, dtype=dtype), None, device, requires_grad)


def randn(
    *size: Any,
    dtype: Any = DEFAULT_FLOAT,
    requires_grad: bool = False,
    device: str | None = "cpu",
    generator: Any = None,
) -> Tensor:
    """Standard normal samples N(0, 1) of the given shape (from ``generator`` if given)."""
    return _make(
        numpy_generator(generator).standard_normal(_shape(size)), dtype, device, requires_grad
    )


def rand(
    *size: Any,
    dtype: Any = DEFAULT_FLOAT,
    requires_grad: bool = False,
    device: str | None = "cpu",
    generator: Any = None,
) -> Tensor:
    """Uniform samples in [0, 1) of the given shape (from ``generator`` if given)."""
    return _make(numpy_generator(generator).random(_shape(size)), dtype, device, requires_grad)


def randn_like(
    other: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Standard normal samples with the shape, dtype and device of ``other``."""
    samples = generator().standard_normal(other.shape)
    return _make(samples, dtype or other.dtype, device or other.device, requires_grad)


def randint(
    low: int,
    high: Any = None,
    size: Sequence[int] | None = None,
    dtype: Any = np.int64,
    device: str | None = "cpu",
    generator: Any = None,
) -> Tensor:
    """Random integers in [low, high); ``randint(high, size)`` starts at 0, as PyTorch's does."""
    if size is None:  # randint(high, size): PyTorch's two-argument form
        if high is None:
            raise TypeError(
                "randint() needs a size: randint(low, high, size) or randint(high, size)"
            )
        low, high, size = 0, low, high
    return _make(
        numpy_generator(generator).integers(low, high, size=tuple(size)), dtype, device, False
    )


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
    device: str | None = "cpu",
) -> Tensor:
    """Evenly spaced values in [start, end): integers stay int64, floats become float32."""
    if end is None:
        start, end = 0, start
    array = np.arange(start, end, step)
    if dtype is None and array.dtype == np.float64:
        dtype = DEFAULT_FLOAT
    return _make(array, dtype, device, requires_grad)


# ------------------------------------------------------------- more of PyTorch's names (issue 14)


def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: Any = None,
    requires_grad: bool = False,
    device: str | None = "cpu",
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (float32 default)."""
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    return _make(np.linspace(start, end, steps), dtype or DEFAULT_FLOAT, device, requires_grad)


def normal(
    mean: Any,
    std: Any = 1.0,
    size: Sequence[int] | None = None,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    device: str | None = "cpu",
) -> Tensor:
    """Samples of N(mean, std^2): ``normal(0.0, 1.0, size=(2, 3))``, or ``mean``/``std`` as tensors.

    With tensors, each element has its own mean and standard deviation (shapes broadcast); with
    numbers, ``size`` gives the shape (``torch.normal``'s two forms). Not differentiable, as in
    PyTorch.
    """
    mean_array = np.asarray(mean.array if isinstance(mean, Tensor) else mean)
    std_array = np.asarray(std.array if isinstance(std, Tensor) else std)
    if size is None:
        if mean_array.ndim == 0 and std_array.ndim == 0:
            raise TypeError(
                "normal(mean, std) with two numbers needs size=, e.g. normal(0.0, 1.0, size=(2, 3))"
            )
        shape = np.broadcast_shapes(mean_array.shape, std_array.shape)
    else:
        shape = tuple(size)
    if (std_array < 0).any():
        raise RuntimeError("normal: std must be >= 0")
    array = mean_array + std_array * generator().standard_normal(shape)
    if dtype is None:
        dtype = (
            mean.dtype
            if isinstance(mean, Tensor)
            else std.dtype
            if isinstance(std, Tensor)
            else DEFAULT_FLOAT
        )
    return _make(array, dtype, device, requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: str | None = None) -> Tensor:
    """``data`` as a tensor, sharing memory where it can (a Tensor, or an array of that dtype)."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    array = data if isinstance(data, np.ndarray) else _to_array(data)
    return _make(array, dtype, device or "cpu", False)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> int:
    return x.numel()


def rand_like(
    other: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Uniform samples in [0, 1) with the shape, dtype and device of ``other`` (or ``dtype``)."""
    dtype = dtype or other.dtype
    if np.dtype(dtype).kind != "f":
        raise RuntimeError(
            f"rand_like: uniform samples need a floating dtype, got {np.dtype(dtype)}; pass dtype="
        )
    return _make(generator().random(other.shape), dtype, device or other.device, requires_grad)


def randperm(
    n: int, *, generator: Any = None, dtype: Any = np.int64, device: str | None = "cpu"
) -> Tensor:
    """A random permutation of 0..n-1 (int64), from ``generator`` or the library's generator."""
    return _make(numpy_generator(generator).permutation(n), dtype, device, False)
