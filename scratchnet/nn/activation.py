"""Activation layers: ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh, Softmax, LogSoftmax.

Each is a thin Module around the op of the same name (``scratchnet.ops.elementwise`` and
``scratchnet.ops.activation``), so it can sit in a ``Sequential``. None has parameters.

``nn.ReLU(inplace=True)`` (in every torchvision model) overwrites its input, as in PyTorch, and
saves memory the same way; if backward still needs the old values (a ResNet's skip connection
that saved them, for one), backward raises instead of computing a wrong gradient (the version
counter, see ``Tensor``). So do ``nn.ReLU6`` and ``nn.LeakyReLU`` with ``inplace=True``.
"""

from __future__ import annotations

from scratchnet.nn.module import Module
from scratchnet.ops.activation import leaky_relu, log_softmax, relu6, softmax
from scratchnet.ops.elementwise import relu, sigmoid, tanh
from scratchnet.tensor import Tensor


class ReLU(Module):
    """max(x, 0) element-wise.  ``inplace=True`` overwrites the input and returns it (``relu_``)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return input.relu_() if self.inplace else relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU6(Module):
    """min(max(x, 0), 6) element-wise.  ``inplace=True`` overwrites the input and returns it."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return relu6(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """X for x > 0, else negative_slope * x.  ``inplace=True`` overwrites the input, returns it."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """1 / (1 + e^-x) element-wise (the gate of a squeeze-and-excitation block)."""

    def forward(self, input: Tensor) -> Tensor:
        return sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent element-wise."""

    def forward(self, input: Tensor) -> Tensor:
        return tanh(input)


class Softmax(Module):
    """Softmax along ``dim`` (pass it: e.g. ``Softmax(dim=1)`` for logits (N, num_classes))."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
