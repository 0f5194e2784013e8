"""Conv2d: the convolution layer (slides "VGGNet (1)" to "GoogLeNet (4)"): its weight and bias.

The arithmetic lives in ``scratchnet.ops.conv.conv2d`` (im2col + one matrix product); this module
owns the parameters, initialises them as PyTorch does, and checks its input with an error that
names the layer:
``Conv2d(3, 64) expects 3 input channels, got 1 for input of shape (8, 1, 28, 28)``.
"""

from __future__ import annotations

import math

import numpy as np

from scratchnet.creation import zeros
from scratchnet.function import not_a_tensor
from scratchnet.nn import init
from scratchnet.nn.module import Module, Parameter
from scratchnet.ops.conv import conv2d
from scratchnet.ops.im2col import IntPair, pair
from scratchnet.tensor import Tensor


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) inputs (PyTorch's ``nn.Conv2d``).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), "valid" or "same"
    groups : int
        in_channels and out_channels must both be divisible by it; each group of
        in_channels / groups input channels is convolved with its own out_channels / groups filters.
    bias : bool

    Attributes
    ----------
    weight : Parameter, shape (out_channels, in_channels / groups, KH, KW)
    bias : Parameter, shape (out_channels,), or None

    Shapes: (N, in_channels, H, W) -> (N, out_channels, OH, OW),
    OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1, and the same for OW.
    Parameters: out_channels * (in_channels / groups) * KH * KW (+ out_channels for the bias).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair | str = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = f"Conv2d({in_channels!r}, {out_channels!r})"
        for what, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("groups", groups),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(
                    f"{name}: {what} must be an int, got {type(value).__name__} {value!r}"
                )
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: groups={groups} must divide both in_channels ({in_channels}) "
                f"and out_channels ({out_channels})"
            )
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{name}: in_channels and out_channels must be positive")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = (
            pair(kernel_size),
            pair(stride),
            pair(dilation),
        )
        self.padding = padding if isinstance(padding, str) else pair(padding)
        # PyTorch accepts these at construction and fails at the first forward; no such layer can
        # ever run (a 0x0 kernel would also divide by a fan-in of 0 in reset_parameters), so
        # scratchnet refuses it here, where the mistake is made.
        for what, values, least in (
            ("kernel_size", self.kernel_size, 1),
            ("stride", self.stride, 1),
            ("dilation", self.dilation, 1),
            ("padding", self.padding, 0),
        ):
            if not isinstance(values, str) and min(values) < least:
                raise ValueError(f"{name}: {what} must be >= {least}, got {values}")
        KH, KW = self.kernel_size
        self.weight = Parameter(zeros(out_channels, in_channels // groups, KH, KW))
        if bias:
            self.bias = Parameter(zeros(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: Kaiming-uniform weight, a=sqrt(5) (bound 1/sqrt(fan_in)).

        The bias is uniform in +-1/sqrt(fan_in).
        """
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        name = f"Conv2d({self.in_channels}, {self.out_channels})"
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: {not_a_tensor(input)}")
        if input.ndim != 4:
            raise ValueError(f"{name} expects a 4-D input (N, C, H, W), got shape {input.shape}")
        if input.shape[1] != self.in_channels:
            # Images from PIL, matplotlib or NumPy are often channels-last (N, H, W, C): say so.
            hint = (
                "; channels last? use x.permute(0, 3, 1, 2)"
                if input.shape[3] == self.in_channels
                else ""
            )
            raise ValueError(
                f"{name} expects {self.in_channels} input channels, "
                f"got {input.shape[1]} for input of shape {input.shape}{hint}"
            )
        return conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
