"""CIFAR-10 ResNets and plain nets (He et al. 2015, Sec. 4.2, Table 6 and Fig. 6).

For 32x32 images the paper uses a 3x3 stem conv with 16 channels, then three stages of ``n``
BasicBlocks on 32x32, 16x16 and 8x8 maps with 16, 32 and 64 channels, global average pooling and a
10-way linear layer: 6n + 2 weighted layers (n = 3, 5, 7, 9, 18 give 20, 32, 44, 56, 110 layers).

Shortcuts are option A, as in the paper: identity everywhere, and where a stage halves the size and
doubles the channels, the identity takes every other pixel and is padded with zero channels, so the
networks have exactly as many parameters as their plain counterparts:

    resnet20 269,722   resnet32 464,154   resnet44 658,586   resnet56 853,018   resnet110 1,727,962
    resnet1202 19,421,274

(the paper's Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M, 19.4M). Pass ``shortcut="B"`` for
projections (1x1 conv + BN): resnet56 then has 855,770.
"""

from __future__ import annotations

from typing import Any

from scratchnet.models.resnet import BasicBlock, ResNet

__all__ = [
    "cifar_resnet",
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet1202",
]


def cifar_resnet(
    depth: int, num_classes: int = 10, *, shortcut: str = "A", **kwargs: Any
) -> ResNet:
    """A ResNet for 32x32 images with ``depth = 6n + 2`` layers (three stages of n BasicBlocks).

    ``kwargs`` go to ``ResNet`` (``variant``, ``widths``, ...). ``shortcut="none"`` gives a plain
    net.
    """
    if (depth - 2) % 6:
        raise ValueError(
            f"a CIFAR ResNet with basic blocks has 6n + 2 layers (20, 32, 44, 56, 110), got {depth}"
        )
    n = (depth - 2) // 6
    kwargs.setdefault("widths", (16, 32, 64))
    return ResNet(BasicBlock, [n, n, n], num_classes, cifar_stem=True, shortcut=shortcut, **kwargs)


def resnet20(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """ResNet-20 for CIFAR (n = 3), option A shortcuts: 269,722 parameters."""
    return cifar_resnet(20, num_classes, **kwargs)


def resnet32(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """ResNet-32 for CIFAR (n = 5)."""
    return cifar_resnet(32, num_classes, **kwargs)


def resnet44(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """ResNet-44 for CIFAR (n = 7)."""
    return cifar_resnet(44, num_classes, **kwargs)


def resnet56(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """ResNet-56 for CIFAR (n = 9): 853,018 parameters (the paper: 0.85M)."""
    return cifar_resnet(56, num_classes, **kwargs)


def resnet110(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """ResNet-110 for CIFAR (n = 18), the network of He et al. 2016's unit study (``variant=``)."""
    return cifar_resnet(110, num_classes, **kwargs)


def resnet1202(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """ResNet-1202 for CIFAR (n = 200): 19,421,274 parameters; overfits (He et al. 2015, 4.2)."""
    return cifar_resnet(1202, num_classes, **kwargs)


def plain20(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Plain-20: ResNet-20 without shortcuts."""
    return cifar_resnet(20, num_classes, shortcut="none", **kwargs)


def plain32(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Plain-32."""
    return cifar_resnet(32, num_classes, shortcut="none", **kwargs)


def plain44(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Plain-44."""
    return cifar_resnet(44, num_classes, shortcut="none", **kwargs)


def plain56(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Plain-56: trains to a higher error than plain-20 (slide ResNet (1): the degradation)."""
    return cifar_resnet(56, num_classes, shortcut="none", **kwargs)


def plain110(num_classes: int = 10, **kwargs: Any) -> ResNet:
    """Plain-110."""
    return cifar_resnet(110, num_classes, shortcut="none", **kwargs)
