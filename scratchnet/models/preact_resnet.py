"""The residual units of He et al. 2016 ("Identity Mappings in Deep Residual Networks"), slide
"ResNet (5)", and the pre-activation ResNets built from them.

Fig. 4 of the paper moves BN and ReLU around the addition of the original unit (a), written out in
``resnet.py`` as ``BasicBlock`` and ``Bottleneck``. Each other unit is a subclass here whose
``forward`` is the figure's diagram, for two 3x3 convs (basic) and for 1x1-3x3-1x1 (bottleneck)::

    (a) original          relu(bn2(conv2(relu(bn1(conv1(x))))) + x)
    (b) BN after addition relu(bn2(conv2(relu(bn1(conv1(x)))) + x))
    (c) ReLU before add   relu(bn2(conv2(relu(bn1(conv1(x)))))) + x
    (d) ReLU-only preact  bn2(conv2(relu(bn1(conv1(relu(x)))))) + x
    (e) full preact       conv2(relu(bn2(conv1(relu(bn1(x)))))) + x

In (e) nothing follows the addition, so x_{l+1} = x_l + F(x_l) exactly and the signal (and its
gradient) passes from any unit to any other through identities alone; the network then ends with
one extra BN-ReLU. In (d) and (e) a projection shortcut takes the pre-activated input (what enters
conv1), as He et al.'s code does; an identity shortcut always carries x unchanged. The shortcut
options themselves -- A (zero padding, ``ZeroPadShortcut``), B (projection where the shape
changes), and none (a plain net) -- are ``ResNet(shortcut=...)`` and the blocks' ``downsample``
and ``residual`` arguments, the same for every unit. (Option C, projections everywhere, is not
built: the paper found it only marginally better than B for many more parameters.)

Layout (as in timm's ``resnetv2`` and the BiT models): the stem has no BN-ReLU (conv, then max
pooling for ImageNet; the first unit normalises its input), a projection shortcut is a bare 1x1
conv fed with the pre-activated input, and ``bn_final`` + ReLU precede the pooling. He et al.'s
Torch code differs only in where the first BN-ReLU sits (after the stem conv, and then none at the
start of the very first unit).

All constructors are ``ResNet`` (``resnet.py``) with ``variant="full_preact"``; any of the five
units is one keyword away: ``resnet110(variant="bn_after_add")``, and ``residual_unit(BasicBlock,
"relu_preact")`` is the class of one unit.

    preact_resnet164  1,703,258 parameters (CIFAR, bottleneck; the paper: 1.7M)
    preact_resnet1001 10,327,706 parameters (CIFAR, bottleneck; the paper: 10.2M)
"""

from __future__ import annotations

from typing import Any

import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.models.resnet import (
    RESIDUAL_UNITS,
    BasicBlock,
    Bottleneck,
    ResNet,
    _unit_class,
    conv1x1,
    conv3x3,
    inplace_relu,
)
from scratchnet.models.resnet_cifar import cifar_resnet
from scratchnet.tensor import Tensor

__all__ = [
    "RESIDUAL_UNITS",
    "BNAfterAddBasicBlock",
    "BNAfterAddBottleneck",
    "PreActBasicBlock",
    "PreActBottleneck",
    "ReLUBeforeAddBasicBlock",
    "ReLUBeforeAddBottleneck",
    "ReLUPreActBasicBlock",
    "ReLUPreActBottleneck",
    "preact_resnet18",
    "preact_resnet20",
    "preact_resnet34",
    "preact_resnet50",
    "preact_resnet56",
    "preact_resnet101",
    "preact_resnet110",
    "preact_resnet152",
    "preact_resnet164",
    "preact_resnet1001",
    "residual_unit",
]


# -------------------------------------------------------------------------- (b) BN after addition


class BNAfterAddBasicBlock(BasicBlock):
    """Unit (b): the second BN normalises the sum, so the shortcut passes through BN and ReLU."""

    variant = "bn_after_add"

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        if self.residual:
            out = out + self.shortcut(x)
        return self.relu(self.bn2(out))  # BN after the addition


class BNAfterAddBottleneck(Bottleneck):
    """Unit (b) with a bottleneck: BN3 after the addition."""

    variant = "bn_after_add"

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.conv3(out)
        if self.residual:
            out = out + self.shortcut(x)
        return self.relu(self.bn3(out))


# ------------------------------------------------------------------------ (c) ReLU before addition


class ReLUBeforeAddBasicBlock(BasicBlock):
    """Unit (c): the ReLU moves onto the branch, so F(x) >= 0 can only increase the signal."""

    variant = "relu_before_add"

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))  # ReLU before the addition
        return out + self.shortcut(x) if self.residual else out


class ReLUBeforeAddBottleneck(Bottleneck):
    """Unit (c) with a bottleneck."""

    variant = "relu_before_add"

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.relu(self.bn3(self.conv3(out)))
        return out + self.shortcut(x) if self.residual else out


# ------------------------------------------------------------------- (d) ReLU-only pre-activation


def _preact_shortcut(block: BasicBlock | Bottleneck, x: Tensor, pre: Tensor) -> Tensor:
    """X itself, or the projection of the pre-activated input ``pre`` (He et al.'s code)."""
    return x if block.downsample is None else block.downsample(pre)


class ReLUPreActBasicBlock(BasicBlock):
    """Unit (d): ReLU before each conv, BN after it; nothing after the addition."""

    variant = "relu_preact"

    def forward(self, x: Tensor) -> Tensor:
        pre = F.relu(x)  # out of place: the identity shortcut still needs x
        out = self.bn1(self.conv1(pre))
        out = self.bn2(self.conv2(self.relu(out)))
        return out + _preact_shortcut(self, x, pre) if self.residual else out


class ReLUPreActBottleneck(Bottleneck):
    """Unit (d) with a bottleneck."""

    variant = "relu_preact"

    def forward(self, x: Tensor) -> Tensor:
        pre = F.relu(x)
        out = self.bn1(self.conv1(pre))
        out = self.bn2(self.conv2(self.relu(out)))
        out = self.bn3(self.conv3(self.relu(out)))
        return out + _preact_shortcut(self, x, pre) if self.residual else out


# ----------------------------------------------------------------------- (e) full pre-activation


class PreActBasicBlock(BasicBlock):
    """Unit (e): BN-ReLU-conv twice, nothing after the addition: x_{l+1} = x_l + F(x_l).

    Each BN normalises a conv's *input*, so ``bn1`` has ``in_channels`` features.
    """

    variant = "full_preact"

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        variant: str = "full_preact",
        residual: bool = True,
    ) -> None:
        nn.Module.__init__(self)
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(in_channels)  # before conv1: normalises x
        self.relu = inplace_relu()
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self._set_shortcut(downsample, residual)

    def forward(self, x: Tensor) -> Tensor:
        pre = self.relu(self.bn1(x))  # BN-ReLU of x, a new tensor: x itself is untouched
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + _preact_shortcut(self, x, pre) if self.residual else out


class PreActBottleneck(Bottleneck):
    """Unit (e) with a bottleneck: BN-ReLU-conv1x1, BN-ReLU-conv3x3, BN-ReLU-conv1x1."""

    variant = "full_preact"

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        variant: str = "full_preact",
        residual: bool = True,
        stride_in_1x1: bool = False,
    ) -> None:
        nn.Module.__init__(self)
        self.conv1 = conv1x1(in_channels, channels, stride if stride_in_1x1 else 1)
        self.bn1 = nn.BatchNorm2d(in_channels)  # each BN before its conv: that conv's input
        self.conv2 = conv3x3(channels, channels, 1 if stride_in_1x1 else stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, channels * self.expansion)
        self.bn3 = nn.BatchNorm2d(channels)
        self.relu = inplace_relu()
        self._set_shortcut(downsample, residual)

    def forward(self, x: Tensor) -> Tensor:
        pre = self.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + _preact_shortcut(self, x, pre) if self.residual else out


# The units of this file, entered in resnet.py's table, where BasicBlock(..., variant=) finds them.
RESIDUAL_UNITS.update(
    {
        "bn_after_add": (BNAfterAddBasicBlock, BNAfterAddBottleneck),
        "relu_before_add": (ReLUBeforeAddBasicBlock, ReLUBeforeAddBottleneck),
        "relu_preact": (ReLUPreActBasicBlock, ReLUPreActBottleneck),
        "full_preact": (PreActBasicBlock, PreActBottleneck),
    }
)


def residual_unit(block: type[BasicBlock | Bottleneck], variant: str) -> type:
    """The class of unit ``variant`` (a name in ``RESIDUAL_VARIANTS``) built like ``block``."""
    return _unit_class(block, variant)


def preact_resnet18(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-18 (ImageNet layout)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, variant="full_preact", **kwargs)


def preact_resnet34(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-34."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, variant="full_preact", **kwargs)


def preact_resnet50(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-50."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, variant="full_preact", **kwargs)


def preact_resnet101(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-101."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, variant="full_preact", **kwargs)


def preact_resnet152(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-152."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, variant="full_preact", **kwargs)


def preact_resnet20(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-20 for CIFAR (BasicBlocks, option A shortcuts)."""
    return cifar_resnet(20, num_classes, variant="full_preact", **kwargs)


def preact_resnet56(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-56 for CIFAR."""
    return cifar_resnet(56, num_classes, variant="full_preact", **kwargs)


def preact_resnet110(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-110 for CIFAR (He et al. 2016, Table 2: 6.37% error vs 6.61%)."""
    return cifar_resnet(110, num_classes, variant="full_preact", **kwargs)


def _cifar_bottleneck(depth: int, num_classes: int, **kwargs: Any) -> ResNet:
    # 9n + 2 layers: three stages of n bottlenecks (16, 32, 64 channels inside, x4 outside),
    # projection shortcuts where the shape changes, as in He et al. 2016.
    n = (depth - 2) // 9
    return ResNet(
        Bottleneck,
        [n, n, n],
        num_classes,
        widths=(16, 32, 64),
        cifar_stem=True,
        variant="full_preact",
        **kwargs,
    )


def preact_resnet164(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-164 for CIFAR: 18 bottlenecks per stage (He et al. 2016, Table 3)."""
    return _cifar_bottleneck(164, num_classes, **kwargs)


def preact_resnet1001(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Pre-activation ResNet-1001 for CIFAR: 111 bottlenecks per stage (He et al. 2016, Table 3)."""
    return _cifar_bottleneck(1001, num_classes, **kwargs)
