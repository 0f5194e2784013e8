"""Squeeze-and-Excitation networks (Hu et al. 2018), slides "Attentions (2)-(6)".

An SE block re-weights the channels of a feature map u (N, C, H, W) by how useful each is for
this particular input (slide "Attentions (3)"):

    squeeze     z_c = mean over H x W of u_c                      (N, C)    global average pooling
    excitation  s = sigmoid(W2 relu(W1 z)),  W1: C/r x C,  W2: C x C/r   (N, C)    in (0, 1)
    scale       x~_c = s_c * u_c                                  (N, C, H, W)

It costs 2C^2/r weights (plus C/r + C biases) and almost no computation. ``se_resnet*`` put one in
every residual block; ``design`` picks one of the four places of slide "Attentions (6)":

    "standard"  on the residual branch, before the addition        (b)
    "pre"       at the start of the residual branch                (c)
    "post"      after the addition and its ReLU                    (d)
    "identity"  on the identity (shortcut) branch                  (e)

SE-ResNet-50's parameters for r = 2, 4, 8, 16, 32, counting the FC biases as the paper's blocks
have them: 45,699,240; 35,635,688; 30,603,912; 28,088,024; 26,830,080. The lecture's table (45.7M,
35.7M, 30.7M, 28.1M, 26.9M) agrees at r = 2 and 16 and is 0.06-0.1M higher at r = 4, 8, 32; the
weights alone (without biases) round to the same figures as with them, so the gap is not a
bias convention.

Each ``SEBlock`` keeps its last excitation vector in ``last_excitation`` (N, C), for the
per-class excitation plots of the paper's Fig. 6; it plays no part in training.
"""

from __future__ import annotations

from typing import Any

from scratchnet import nn
from scratchnet.models.resnet import BasicBlock, Bottleneck, ResNet
from scratchnet.tensor import Tensor

__all__ = [
    "SE_DESIGNS",
    "SEBasicBlock",
    "SEBlock",
    "SEBottleneck",
    "SEInception",
    "se_resnet18",
    "se_resnet34",
    "se_resnet50",
    "se_resnet101",
    "se_resnet152",
]

#: Where the SE block sits in a residual unit (slide "Attentions (6)").
SE_DESIGNS = ("standard", "pre", "post", "identity")


class SEBlock(nn.Module):
    """Squeeze (global average pooling) - excitation (FC-ReLU-FC-sigmoid) - scale.

    Shapes: (N, channels, H, W) -> (N, channels, H, W).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(channels, hidden)  # W1: the bottleneck, C -> C/r
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden, channels)  # W2: back to C
        self.sigmoid = nn.Sigmoid()  # hook this module to collect excitations during a forward
        self.last_excitation = None  # (N, C) array, a copy kept for analysis

    def forward(self, u: Tensor) -> Tensor:
        N, C = u.shape[:2]
        z = self.squeeze(u).flatten(1)  # (N, C): one number per channel, the whole image's mean
        s = self.sigmoid(self.fc2(self.relu(self.fc1(z))))  # (N, C), each in (0, 1)
        self.last_excitation = s.array.copy()
        return u * s.reshape(N, C, 1, 1)  # channel c scaled by s_c


class _SEUnit:
    """An SE residual unit: the original unit (a) with an SE block placed by ``design``.

    ``standard`` scales F(x) before the addition (Hu et al. 2018, Fig. 3); ``pre`` scales the
    branch's input, ``post`` the unit's output, ``identity`` the shortcut (slide "Attentions (6)").
    """

    def _add_se(self, in_channels: int, out_channels: int, reduction: int, design: str) -> None:
        if design not in SE_DESIGNS:
            raise ValueError(f"design must be one of {SE_DESIGNS}, got {design!r}")
        self.design = design
        self.se = SEBlock(in_channels if design == "pre" else out_channels, reduction)

    def forward(self, x: Tensor) -> Tensor:
        identity = self.shortcut(x)
        out = self.residual_branch(self.se(x) if self.design == "pre" else x)  # F(x)
        if self.design == "standard":
            out = self.se(out)
        elif self.design == "identity":
            identity = self.se(identity)
        out = self.relu(out + identity)
        return self.se(out) if self.design == "post" else out


def _check_original(variant: str, residual: bool) -> None:
    if variant != "original":
        raise ValueError("SE blocks are built on the original residual unit (variant='original')")
    if not residual:
        raise ValueError("an SE unit is a residual unit: residual=False is not supported")


class SEBasicBlock(_SEUnit, BasicBlock):
    """BasicBlock with an SE block (SE-ResNet-18/34)."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        variant: str = "original",
        residual: bool = True,
        *,
        reduction: int = 16,
        design: str = "standard",
    ) -> None:
        _check_original(variant, residual)
        BasicBlock.__init__(self, in_channels, channels, stride, downsample, variant, residual)
        self._add_se(in_channels, channels * self.expansion, reduction, design)

    def residual_branch(self, x: Tensor) -> Tensor:
        """F(x) of ``BasicBlock``: bn2(conv2(relu(bn1(conv1(x)))))."""
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))


class SEBottleneck(_SEUnit, Bottleneck):
    """Bottleneck with an SE block (SE-ResNet-50/101/152)."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        variant: str = "original",
        residual: bool = True,
        stride_in_1x1: bool = False,
        *,
        reduction: int = 16,
        design: str = "standard",
    ) -> None:
        _check_original(variant, residual)
        Bottleneck.__init__(
            self, in_channels, channels, stride, downsample, variant, residual, stride_in_1x1
        )
        self._add_se(in_channels, channels * self.expansion, reduction, design)

    def residual_branch(self, x: Tensor) -> Tensor:
        """F(x) of ``Bottleneck``: 1x1 reduce, 3x3, 1x1 expand, each with BN (ReLU between)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


class SEInception(nn.Module):
    """SE-Inception (Hu et al. 2018, Fig. 2): an SE block on the output of an Inception module.

    ``module`` is any Inception module (``scratchnet.models.googlenet``) whose output has
    ``out_channels`` channels: (N, C_in, H, W) -> (N, out_channels, H, W).
    """

    def __init__(self, module: nn.Module, out_channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.module = module
        self.se = SEBlock(out_channels, reduction)

    def forward(self, x: Tensor) -> Tensor:
        return self.se(self.module(x))


def _se_resnet(
    block: type, layers: list[int], num_classes: int, reduction: int, design: str, **kwargs: Any
) -> ResNet:
    block_kwargs = dict(kwargs.pop("block_kwargs", None) or {}, reduction=reduction, design=design)
    if kwargs.pop("stride_in_1x1", False):
        block_kwargs["stride_in_1x1"] = True
    return ResNet(block, layers, num_classes, block_kwargs=block_kwargs, **kwargs)


def se_resnet18(
    num_classes: int = 1000, *, reduction: int = 16, design: str = "standard", **kwargs: Any
) -> ResNet:
    """SE-ResNet-18."""
    return _se_resnet(SEBasicBlock, [2, 2, 2, 2], num_classes, reduction, design, **kwargs)


def se_resnet34(
    num_classes: int = 1000, *, reduction: int = 16, design: str = "standard", **kwargs: Any
) -> ResNet:
    """SE-ResNet-34."""
    return _se_resnet(SEBasicBlock, [3, 4, 6, 3], num_classes, reduction, design, **kwargs)


def se_resnet50(
    num_classes: int = 1000, *, reduction: int = 16, design: str = "standard", **kwargs: Any
) -> ResNet:
    """SE-ResNet-50: 28,088,024 parameters at r = 16 (ResNet-50: 25,557,032)."""
    return _se_resnet(SEBottleneck, [3, 4, 6, 3], num_classes, reduction, design, **kwargs)


def se_resnet101(
    num_classes: int = 1000, *, reduction: int = 16, design: str = "standard", **kwargs: Any
) -> ResNet:
    """SE-ResNet-101."""
    return _se_resnet(SEBottleneck, [3, 4, 23, 3], num_classes, reduction, design, **kwargs)


def se_resnet152(
    num_classes: int = 1000, *, reduction: int = 16, design: str = "standard", **kwargs: Any
) -> ResNet:
    """SE-ResNet-152."""
    return _se_resnet(SEBottleneck, [3, 8, 36, 3], num_classes, reduction, design, **kwargs)
