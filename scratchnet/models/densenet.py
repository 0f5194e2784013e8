"""DenseNet-BC (Huang et al. 2017, "Densely Connected Convolutional Networks"), DenseNet (1)-(2).

Inside a dense block, layer l sees the concatenation of every earlier output (slide "DenseNet (1)"):

    x_l = H_l([x_0, x_1, ..., x_{l-1}]),   H_l = BN-ReLU-1x1 conv (4k maps)-BN-ReLU-3x3 conv (k
    maps)

so each layer adds only ``k`` (the growth rate) channels, and a block of L layers turns c channels
into c + L k. "B" is the 1x1 bottleneck of ``bn_size * k`` maps; "C" the compression: a transition
(BN-ReLU-1x1 conv-2x2 average pool) halves the channels and the size between blocks.

The table of slide "DenseNet (2)" (k = 32, 64 stem channels) and the parameter counts::

    densenet121  blocks (6, 12, 24, 16)   7,978,856     densenet169  (6, 12, 32, 32)  14,149,480
    densenet201  (6, 12, 48, 32)         20,013,928     densenet264  (6, 12, 64, 48)  33,337,704
    densenet161  k = 48, 96 stem channels, (6, 12, 36, 24)   28,681,000

Module names and initialisation follow torchvision (``features.denseblock1.denselayer1.conv1``,
``features.transition1``, ``features.norm5``, ``classifier``): a torchvision state_dict loads as is.
``densenet_cifar`` is the small-image DenseNet-BC of the paper's Table 2 (L = 100, k = 12: 0.8M).
"""

from __future__ import annotations

from typing import Any

from scratchnet import nn
from scratchnet.nn.functional import cat
from scratchnet.tensor import Tensor

__all__ = [
    "DenseNet",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "densenet264",
    "densenet_bc_100",
    "densenet_cifar",
]


class DenseLayer(nn.Module):
    """H_l: BN-ReLU-1x1 conv (bn_size * k maps) - BN-ReLU-3x3 conv (k maps).

    Shapes: (N, in_channels, H, W) -> (N, growth_rate, H, W).
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(
            bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False
        )
        self.dropout = nn.Dropout(drop_rate)

    def forward(self, x: Tensor) -> Tensor:
        bottleneck = self.conv1(self.relu1(self.norm1(x)))  # (N, bn_size * k, H, W)
        return self.dropout(self.conv2(self.relu2(self.norm2(bottleneck))))  # (N, k, H, W)


class DenseBlock(nn.Module):
    """``num_layers`` DenseLayers, each fed with the concatenation of the block's input and all
    earlier layers' outputs. Shapes: (N, C, H, W) -> (N, C + num_layers * k, H, W).
    """

    def __init__(
        self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        for i in range(num_layers):
            layer = DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate)
            setattr(self, f"denselayer{i + 1}", layer)

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for i in range(self.num_layers):
            layer = getattr(self, f"denselayer{i + 1}")
            features.append(layer(cat(features, 1)))  # [x_0, ..., x_{l-1}] -> x_l
        return cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv-2x2 average pool: (N, C, H, W) -> (N, out_channels, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC: stem, dense blocks joined by compressing transitions, BN, pooling, classifier.

    Parameters
    ----------
    growth_rate : int
        k, the channels each layer adds.
    block_config : tuple of int
        Layers per dense block.
    num_init_features : int
        Channels of the stem conv (2k in the paper).
    bn_size : int
        The bottleneck has ``bn_size * k`` channels (4 in the paper).
    compression : float
        A transition keeps ``floor(compression * C)`` channels (0.5 for "-BC").
    drop_rate : float
        Dropout after each dense layer (0 for ImageNet; 0.2 in the paper's CIFAR runs without
        data augmentation).
    cifar_stem : bool
        One 3x3 conv and no pooling (32x32 images) instead of the 7x7/2 conv and 3x3/2 max pool.
    """

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        compression: float = 0.5,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        cifar_stem: bool = False,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential()
        if cifar_stem:
            self.features.add_module(
                "conv0", nn.Conv2d(3, num_init_features, 3, padding=1, bias=False)
            )
        else:
            self.features.add_module(
                "conv0", nn.Conv2d(3, num_init_features, 7, stride=2, padding=3, bias=False)
            )
            self.features.add_module("norm0", nn.BatchNorm2d(num_init_features))
            self.features.add_module("relu0", nn.ReLU(inplace=True))
            self.features.add_module("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels += num_layers * growth_rate  # each layer added k channels
            if i != len(block_config) - 1:
                out_channels = int(channels * compression)
                self.features.add_module(f"transition{i + 1}", Transition(channels, out_channels))
                channels = out_channels
        self.features.add_module(f"norm{len(block_config) + 1}", nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(channels, num_classes)

        # torchvision's initialisation: He-normal convs (fan_in), BN scale 1 and shift 0, zero
        # biases.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # ImageNet: (N, C, H/32, W/32); CIFAR: (N, C, H/4, W/4)
        x = self.avgpool(self.relu(x))  # (N, C, 1, 1)
        return self.classifier(x.flatten(1))  # (N, num_classes)


def densenet121(num_classes: int = 1000, **kwargs: Any) -> DenseNet:
    """DenseNet-121 (k = 32): 7,978,856 parameters."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, **kwargs)


def densenet161(num_classes: int = 1000, **kwargs: Any) -> DenseNet:
    """DenseNet-161 (k = 48, 96 stem channels): 28,681,000 parameters."""
    return DenseNet(48, (6, 12, 36, 24), 96, num_classes=num_classes, **kwargs)


def densenet169(num_classes: int = 1000, **kwargs: Any) -> DenseNet:
    """DenseNet-169 (k = 32): 14,149,480 parameters."""
    return DenseNet(32, (6, 12, 32, 32), 64, num_classes=num_classes, **kwargs)


def densenet201(num_classes: int = 1000, **kwargs: Any) -> DenseNet:
    """DenseNet-201 (k = 32): 20,013,928 parameters."""
    return DenseNet(32, (6, 12, 48, 32), 64, num_classes=num_classes, **kwargs)


def densenet264(num_classes: int = 1000, **kwargs: Any) -> DenseNet:
    """DenseNet-264 (k = 32): 33,337,704 parameters (not in torchvision; the paper's Table 1)."""
    return DenseNet(32, (6, 12, 64, 48), 64, num_classes=num_classes, **kwargs)


def densenet_cifar(
    depth: int = 100, growth_rate: int = 12, num_classes: int = 10, **kwargs: Any
) -> DenseNet:
    """DenseNet-BC for 32x32 images: 3 dense blocks of (depth - 4) / 6 layers, 2k stem channels.

    DenseNet-BC (L = 100, k = 12) has 769,162 parameters (the paper's Table 2: 0.8M).
    """
    if (depth - 4) % 6:
        raise ValueError(
            f"a DenseNet-BC for CIFAR has 6n + 4 layers (e.g. 100, 190, 250), got {depth}"
        )
    n = (depth - 4) // 6
    return DenseNet(
        growth_rate, (n, n, n), 2 * growth_rate, num_classes=num_classes, cifar_stem=True, **kwargs
    )


def densenet_bc_100(num_classes: int = 10, **kwargs: Any) -> DenseNet:
    """DenseNet-BC (L = 100, k = 12) for CIFAR, the paper's small-image model."""
    return densenet_cifar(100, 12, num_classes, **kwargs)
