"""Activations beyond ``elementwise.py``'s: relu6, leaky_relu, softmax, log_softmax, dropout.

``relu``, ``sigmoid`` and ``tanh`` live in ``elementwise.py``; this file holds the ones the CNNs of
the lecture add on top: ReLU6 (MobileNet), leaky ReLU, the softmax at the end of every classifier
(slide "GoogLeNet (6)": softmax over 1000 classes), and dropout in the fully connected heads
(VGG, AlexNet, GoogLeNet's 40% dropout).

Shapes: every op keeps the input's shape.
"""

from __future__ import annotations

from scratchnet import rng
from scratchnet.backend import Array, get_xp
from scratchnet.engine import apply_inplace
from scratchnet.function import Function
from scratchnet.ops.reduce import check_floating
from scratchnet.tensor import Tensor


class Relu6Function(Function):
    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        # The gradient is 1 strictly inside (0, 6) and 0 at both kinks (PyTorch's hardtanh rule).
        self.inside = (x > 0) & (x < 6)
        return xp.clip(x, 0, 6)

    def backward(self, gy: Array) -> Array:
        return gy * self.inside


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6).  d/dx = 1 for 0 < x < 6, else 0 (also at 0 and 6).

    ``inplace=True`` overwrites ``input`` and returns it, as in PyTorch (see ``Tensor.relu_``).
    """
    if inplace:
        return apply_inplace(input, "relu6_", relu6)
    return Relu6Function()(input)


class LeakyReluFunction(Function):
    def __init__(self, negative_slope: float) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        self.positive = x > 0
        return xp.where(self.positive, x, x * self.negative_slope)

    def backward(self, gy: Array) -> Array:
        xp = get_xp(gy)
        # At exactly 0 the slope is negative_slope, PyTorch's convention.
        return xp.where(self.positive, gy, gy * self.negative_slope)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """X for x > 0, negative_slope * x otherwise.  d/dx = 1 or negative_slope.

    ``inplace=True`` overwrites ``input`` and returns it, as in PyTorch (see ``Tensor.relu_``).
    """
    check_floating("leaky_relu", input)  # PyTorch: not implemented for integers
    if inplace:
        return apply_inplace(input, "leaky_relu_", leaky_relu, negative_slope)
    return LeakyReluFunction(negative_slope)(input)


class SoftmaxFunction(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        # Subtracting the max changes nothing mathematically (it cancels in the ratio) but keeps
        # exp() from overflowing: logits of 1e4 would give exp(1e4) = inf.
        e = xp.exp(x - x.max(axis=self.dim, keepdims=True))
        self.y = e / e.sum(axis=self.dim, keepdims=True)
        return self.y

    def backward(self, gy: Array) -> Array:
        # The Jacobian of softmax is diag(y) - y y^T, so J^T g = y * (g - sum(g * y)).
        y = self.y
        return y * (gy - (gy * y).sum(axis=self.dim, keepdims=True))


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """Softmax along ``dim``: y_i = exp(x_i) / sum_j exp(x_j), each slice summing to 1.

    Shapes: any, e.g. logits (N, num_classes) with dim=1.
    dL/dx = y * (g - sum(g * y)) along ``dim``.  Stable for logits of any magnitude.
    """
    return SoftmaxFunction(_check_dim("softmax", input, dim))(input)


class LogSoftmaxFunction(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        # log sum exp(x) = max + log sum exp(x - max): the log-sum-exp trick, no overflow, and no
        # log(0) = -inf for logits far below the max (which log(softmax(x)) would give).
        shifted = x - x.max(axis=self.dim, keepdims=True)
        self.y = shifted - xp.log(xp.exp(shifted).sum(axis=self.dim, keepdims=True))
        return self.y

    def backward(self, gy: Array) -> Array:
        # d log softmax_i / dx_j = delta_ij - softmax_j, so J^T g = g - softmax * sum(g).
        xp = get_xp(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.dim, keepdims=True)


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably as x - max - log sum exp(x - max).

    Shapes: any, e.g. logits (N, num_classes) with dim=1.
    dL/dx = g - softmax(x) * sum(g) along ``dim``.
    """
    return LogSoftmaxFunction(_check_dim("log_softmax", input, dim))(input)


def _check_dim(op: str, x: Tensor, dim: int | None) -> int:
    check_floating(op, x)  # PyTorch: not implemented for integers
    if dim is None:
        raise ValueError(
            f"{op}: pass dim explicitly, e.g. dim=1 for logits of shape (N, num_classes); got "
            f"input of shape {x.shape} (PyTorch's implicit choice of dim is deprecated)"
        )
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of shape {x.shape}")
    return dim % max(x.ndim, 1)


class DropoutFunction(Function):
    def __init__(self, mask: Array) -> None:
        self.mask = mask  # 0 for dropped units, 1 / (1 - p) for kept ones

    def forward(self, x: Array) -> Array:
        return x * self.mask

    def backward(self, gy: Array) -> Array:
        return gy * self.mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1 / (1 - p).

    The scaling keeps the expected value of every unit unchanged, so at test time
    (``training=False``) dropout is simply the identity. Shapes: any; the output keeps the shape.
    dL/dx = mask, the same zeros and 1 / (1 - p) values as the forward.

    The mask is drawn on the input's device (``scratchnet.rng.random``): on the CPU from
    ``scratchnet.rng.generator()``, on the GPU from CuPy's generator, so no mask crosses from the
    CPU at every step; ``manual_seed`` makes both reproducible. ``inplace=True`` overwrites
    ``input`` and returns it, as in PyTorch.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    check_floating("dropout", input)  # 1 / (1 - p) would be truncated (PyTorch refuses)
    keep = rng.random(input.shape, get_xp(input.array)) >= p  # True with probability 1 - p
    # p = 1 drops everything; the scale 1 / (1 - p) would be inf, so the mask is all zeros.
    scale = 0.0 if p == 1 else 1 / (1 - p)
    mask = keep.astype(input.dtype) * input.dtype.type(scale)
    if inplace:
        return apply_inplace(input, "dropout_", _masked, mask)
    return _masked(input, mask)


def _masked(x: Tensor, mask: Array) -> Tensor:
    """``x * mask`` as dropout's op (also what ``apply_inplace`` runs for ``inplace=True``)."""
    return DropoutFunction(mask)(x)
