"""Weight initialisation (PyTorch's ``torch.nn.init``):
fill a tensor in place with random or constant values.

Why it matters (slide "ResNet (1)": "normalized initialization" is one answer to vanishing
gradients): if every layer multiplies the variance of its input by the same factor, a deep
network's activations vanish or explode. Choosing Var(w) = gain^2 / fan keeps it constant:

* Xavier/Glorot (2010): Var(w) = gain^2 * 2 / (fan_in + fan_out), for tanh and sigmoid;
* Kaiming/He (2015): Var(w) = gain^2 / fan_in (or fan_out), with gain^2 = 2 for ReLU, which zeroes
  half the signal.

For a conv weight (out_channels, in_channels, KH, KW): fan_in = in_channels * KH * KW and
fan_out = out_channels * KH * KW. Every function draws from ``scratchnet.rng.generator()``
(so ``manual_seed`` makes it reproducible) and writes into the tensor in place under ``no_grad``;
each returns the tensor.
"""

from __future__ import annotations

import math

import numpy as np

from scratchnet.function import no_grad
from scratchnet.rng import generator
from scratchnet.tensor import Tensor

_LINEAR_LIKE = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "identity",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which ``nonlinearity`` shrinks
    the standard deviation, to be undone by the init.

    linear/conv/sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + slope^2));  selu: 3/4.
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, int | float):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (in * receptive field, out * receptive field)."""
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, "
            f"got shape {tensor.shape}"
        )
    receptive_field = math.prod(tensor.shape[2:])  # KH * KW for a conv weight, 1 for a linear one
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Write the ``values`` drawn on the CPU into the tensor's memory, without recording a graph.

    In place, as PyTorch's ``nn.init`` functions are: every holder of the tensor (a view, an
    optimizer) sees the new values, and the version goes up, so a graph that saved the old values
    refuses to run backward through them.
    """
    with no_grad():
        tensor.copy_(values)
    return tensor


def _draw_dtype(tensor: Tensor) -> type:
    """Draw float32 samples for float32 tensors
    (half the memory of VGG's 100M-weight layer), else float64.
    """
    return np.float32 if tensor.dtype == np.float32 else np.float64


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples of U(a, b)."""
    values = generator().random(tensor.shape, dtype=_draw_dtype(tensor))  # U(0, 1)
    values *= b - a
    values += a
    return _fill(tensor, values)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples of N(mean, std^2)."""
    values = generator().standard_normal(tensor.shape, dtype=_draw_dtype(tensor))  # N(0, 1)
    values *= std
    values += mean
    return _fill(tensor, values)


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> Tensor:
    """Fill with N(mean, std^2) samples restricted to [a, b] (absolute bounds, as PyTorch).

    Rejection sampling: samples outside [a, b] are drawn again until none is left.
    """
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    values = generator().normal(mean, std, size=tensor.shape)
    outside = (values < a) | (values > b)
    while outside.any():
        values[outside] = generator().normal(mean, std, size=int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    # the std gain*sqrt(2/(fan_in+fan_out)), times sqrt(3)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan),
    gain = calculate_gain(nonlinearity, a).

    The default layers use ``a=sqrt(5)``: gain^2 = 2 / (1 + 5) = 1/3, so bound = 1 / sqrt(fan_in).
    """
    gain = calculate_gain(nonlinearity, a)
    bound = gain * math.sqrt(3.0 / _fan(tensor, mode))  # a uniform on [-b, b] has std b / sqrt(3)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan).
    ResNet uses mode="fan_out", nonlinearity="relu".
    """
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)))
