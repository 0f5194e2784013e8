"""Pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks"), slide "ResNet (5)".

The unit of Fig. 4(e): BN and ReLU move *before* each convolution, and nothing follows the
addition, so x_{l+1} = x_l + F(x_l) exactly and the signal (and its gradient) passes from any unit
to any other through identities alone. The network then ends with one extra BN-ReLU.

Layout (as in timm's ``resnetv2`` and the BiT models): the stem has no BN-ReLU (conv, then max
pooling for ImageNet; the first unit normalises its input), a projection shortcut is a bare 1x1
conv fed with the pre-activated input, and ``bn_final`` + ReLU precede the pooling. He et al.'s
Torch code differs only in where the first BN-ReLU sits (after the stem conv, and then none at the
start of the very first unit).

All constructors are ``ResNet`` (``resnet.py``) with ``variant="full_preact"``; any of the five
variants of the figure is one keyword away: ``resnet110(variant="bn_after_add")``.

    preact_resnet164  1,703,258 parameters (CIFAR, bottleneck; the paper: 1.7M)
    preact_resnet1001 10,327,706 parameters (CIFAR, bottleneck; the paper: 10.2M)
"""

from __future__ import annotations

from typing import Any

from scratchnet.models.resnet import BasicBlock, Bottleneck, ResNet
from scratchnet.models.resnet_cifar import cifar_resnet

__all__ = [
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
]


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
