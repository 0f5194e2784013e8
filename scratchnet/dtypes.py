"""Dtypes under PyTorch's names, and PyTorch's rule for the dtype of a result.

A leaf module: it imports nothing from scratchnet but the backend, so every layer can use it.

* The dtypes are NumPy's (``scratchnet.float32 is numpy.float32``); Python floats and lists of
  them become float32, PyTorch's default (``DEFAULT_FLOAT``).
* Promotion follows PyTorch, not NumPy: the higher *category* wins whatever the sizes (bool <
  integer < floating < complex), so int64 + float32 is float32 (NumPy says float64); within a
  category the wider dtype wins. A Python number never widens a tensor of its own category
  (``x * 2.0`` stays float32), and a 0-d tensor does not widen a tensor with dimensions.
* torch's legacy type strings: ``x.type()`` prints ``"torch.FloatTensor"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The dtypes, under PyTorch's names (scratchnet.float32 is numpy's float32).
float32, float64, float16 = np.float32, np.float64, np.float16
int64, int32, int8, uint8, bool_ = np.int64, np.int32, np.int8, np.uint8, np.bool_

DEFAULT_FLOAT = np.float32  # Python floats and lists become float32, as in PyTorch


def get_default_dtype() -> Any:
    """float32: the dtype of tensors made from Python floats and of ``zeros``, ``randn``, ..."""
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
            f"set_default_dtype({np.dtype(dtype)}): scratchnet's default dtype is fixed at "
            "float32; pass dtype=scratchnet.float64 to tensor()/zeros()/randn()/..., and call "
            "model.double() for the parameters"
        )


# ---------------------------------------------------------------------- promotion

# Type categories of PyTorch's promotion rule: a higher category wins whatever the sizes.
CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_DEFAULT_OF_CATEGORY = {0: np.bool_, 1: np.int64, 2: DEFAULT_FLOAT, 3: np.complex64}


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype both ``a`` and ``b`` convert to, by PyTorch's rule (``torch.promote_types``).

    The higher category (bool < integer < floating) wins: int64 with float32 is float32, not
    NumPy's float64. Within one category the wider dtype wins: float32 with float64 is float64.
    """
    if a == b:
        return a
    category_a, category_b = CATEGORY[a.kind], CATEGORY[b.kind]
    if category_a != category_b:
        return a if category_a > category_b else b
    return np.result_type(a, b)


def result_dtype(a: Any, b: Any) -> np.dtype:
    """The dtype of a binary op on tensors ``a`` and ``b``: ``promote_types``, except that within
    one category a 0-d tensor does not widen a tensor with dimensions (float32 * a float64 0-d
    tensor is float32), as in PyTorch.
    """
    if (a.ndim == 0) != (b.ndim == 0) and CATEGORY[a.dtype.kind] == CATEGORY[b.dtype.kind]:
        return b.dtype if a.ndim == 0 else a.dtype
    return promote_types(a.dtype, b.dtype)


def scalar_dtype(value: Any, like: np.dtype) -> np.dtype:
    """The dtype a Python (or NumPy) number takes next to a tensor of dtype ``like``.

    A number never widens a tensor of its own category (``x * 2.0`` stays float32, ``i + 2`` stays
    int32); one of a higher category takes that category's default (``i * 0.5`` is float32).
    """
    if isinstance(value, np.generic):
        kind = value.dtype.kind
    else:  # bool before int: True is also an int
        kind = "b" if isinstance(value, bool) else "i" if isinstance(value, int) else "f"
    if CATEGORY[kind] <= CATEGORY[like.kind]:
        return like
    return np.dtype(_DEFAULT_OF_CATEGORY[CATEGORY[kind]])


# ---------------------------------------------------------------------- torch's type strings

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
