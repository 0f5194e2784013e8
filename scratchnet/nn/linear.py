"""The classifier head: Flatten, Linear (fully connected), Dropout, and Identity.

VGG ends with Flatten -> Linear(25088, 4096) -> ReLU -> Dropout -> ... (slide "VGGNet (3)"), the
"FC" rows that hold most of its parameters; GoogLeNet and ResNet replace that head with global
average pooling and a single Linear (slide "GoogLeNet (6)").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scratchnet.creation import zeros
from scratchnet.nn import init
from scratchnet.nn.module import Module, Parameter
from scratchnet.ops.activation import dropout
from scratchnet.ops.linalg import linear
from scratchnet.ops.shape import flatten
from scratchnet.tensor import Tensor


class Identity(Module):
    """Returns its input unchanged: a placeholder, e.g. to remove a layer
    (``model.fc = nn.Identity()``).

    Any constructor arguments are accepted and ignored, as in PyTorch.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """Fully connected layer y = x W^T + b (PyTorch's ``nn.Linear``).

    Attributes
    ----------
    weight : Parameter, shape (out_features, in_features)
    bias : Parameter, shape (out_features,), or None

    Shapes: (..., in_features) -> (..., out_features).
    Parameters: out_features * in_features (+ out_features for the bias).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        for what, size in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(size, bool) or not isinstance(size, int | np.integer):
                raise TypeError(
                    f"Linear({in_features!r}, {out_features!r}): {what} must be an int, "
                    f"got {type(size).__name__} {size!r}"
                )
            if size < 0:
                raise ValueError(
                    f"Linear({in_features}, {out_features}): {what} must be >= 0, got {size}"
                )
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(zeros(out_features, in_features))
        if bias:
            self.bias = Parameter(zeros(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: Kaiming-uniform, a=sqrt(5)
        (bound 1/sqrt(in_features)); bias U(+-1/sqrt(in_features)).
        """
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        # linear() checks the input (a Tensor, of shape (..., in_features), of the weight's dtype)
        # and names this layer in its errors: Linear(in_features, out_features).
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim``: (N, C, H, W) -> (N, C*H*W) with the defaults."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability ``p`` in training
    (scaling the rest by 1/(1-p)); identity in eval.

    ``inplace=True`` overwrites the input in training and returns it, as in PyTorch.
    Shapes: any, unchanged.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability p must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
