"""VGG (Simonyan & Zisserman 2014, "Very Deep Convolutional Networks"), slides "VGGNet (1)-(3)".

The whole family is one idea: stacks of 3x3 convolutions (stride 1, padding 1, so the size is kept)
separated by 2x2 max pools (which halve it), then three fully connected layers. Two 3x3 convs see
what one 5x5 sees and three see what one 7x7 sees, with fewer weights and more ReLUs (slide
"VGGNet (2)"). So the networks differ only in how many convs sit between the pools, and one table
builds them all: ``CONFIGS`` below is the paper's Table 1.

The module layout is torchvision's, so ``state_dict()`` keys and shapes are the same
(``features.0.weight``, ..., ``classifier.6.bias``) and torchvision's weights load as they are.
Like torchvision, an ``AdaptiveAvgPool2d((7, 7))`` sits between the features and the classifier:
at 224x224 the features are already 7x7 and it does nothing; at other sizes (any size >= 32) it
brings them to the 7x7x512 the first fully connected layer expects.

Parameter counts (weights + biases, 1000 classes; the slide counts weights only, 138M):

=========  ===========  ============
network    plain        with BN
=========  ===========  ============
vgg11 (A)  132,863,336  132,868,840
vgg13 (B)  133,047,848  133,053,736
vgg16 (D)  138,357,544  138,365,992
vgg19 (E)  143,667,240  143,678,248
=========  ===========  ============

102,764,544 of vgg16's parameters (74%) are in the first fully connected layer, 25088 x 4096 + 4096:
"most params are in late FC" (slide "VGGNet (3)").
"""

from __future__ import annotations

from typing import Any

from scratchnet import nn
from scratchnet.nn.functional import flatten
from scratchnet.tensor import Tensor

__all__ = [
    "CONFIGS",
    "VGG",
    "make_layers",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]

# Table 1 of the paper, one column per network: an int is a 3x3 conv with that many output channels,
# "M" a 2x2 max pool with stride 2. Configuration A-LRN (A with local response normalisation) and C
# (D with 1x1 convs in its last three stages) are left out, as in torchvision: the paper found that
# LRN does not help, and D's 3x3 convs beat C's 1x1.
CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # VGG-11
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # VGG-13
    "D": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        "M",
    ],  # VGG-16
    "E": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}


def make_layers(config: list[int | str], batch_norm: bool = False) -> nn.Sequential:
    """The convolutional part of a VGG from one column of ``CONFIGS``.

    Each int becomes Conv2d(3x3, padding 1) [+ BatchNorm2d] + ReLU, each "M" a MaxPool2d(2, 2), all
    in one ``nn.Sequential`` so the keys are numbered as torchvision's (``features.0``,
    ``features.1``...). BatchNorm was not in the paper (it came a year later); the ``_bn`` variants
    are torchvision's.
    """
    layers: list[nn.Module] = []
    in_channels = 3  # RGB
    for entry in config:
        if entry == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out_channels = int(entry)
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
        in_channels = out_channels
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """Features, a 7x7 adaptive average pool, and the three fully connected layers of the paper.

    Parameters
    ----------
    features : nn.Sequential
        The convolutional part, usually ``make_layers(CONFIGS[...])``; it must end with 512
        channels.
    num_classes : int
        Size of the last layer.
    init_weights : bool
        Use torchvision's initialisation (below) instead of the layers' defaults.
    dropout : float
        Dropout probability before the second and third fully connected layers (0.5 in the paper).

    Notes
    -----
    Shapes for a 224x224 input: (N, 3, 224, 224) -features-> (N, 512, 7, 7) -avgpool-> (N, 512, 7,
    7)
    -flatten-> (N, 25088) -classifier-> (N, num_classes).

    The initialisation is torchvision's: He (Kaiming) normal with fan_out for the convolutions,
    N(0, 0.01) for the fully connected layers, zero biases, BatchNorm at gamma=1, beta=0. The paper
    trained A from N(0, 0.01) and initialised the deeper nets from it, then noted that Glorot's
    initialisation works without the pre-training.
    """

    def __init__(
        self,
        features: nn.Sequential,
        num_classes: int = 1000,
        init_weights: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # (N, 512, H/32, W/32)
        x = self.avgpool(x)  # (N, 512, 7, 7)
        x = flatten(x, 1)  # (N, 25088)
        return self.classifier(x)  # (N, num_classes)


def _vgg(config: str, batch_norm: bool, num_classes: int, **kwargs: Any) -> VGG:
    return VGG(
        make_layers(CONFIGS[config], batch_norm=batch_norm), num_classes=num_classes, **kwargs
    )


def vgg11(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-11, configuration A: 8 convs + 3 FC, 132,863,336 parameters."""
    return _vgg("A", False, num_classes, **kwargs)


def vgg11_bn(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-11 with BatchNorm after every conv, 132,868,840 parameters."""
    return _vgg("A", True, num_classes, **kwargs)


def vgg13(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-13, configuration B: 10 convs + 3 FC, 133,047,848 parameters."""
    return _vgg("B", False, num_classes, **kwargs)


def vgg13_bn(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-13 with BatchNorm after every conv, 133,053,736 parameters."""
    return _vgg("B", True, num_classes, **kwargs)


def vgg16(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-16, configuration D: 13 convs + 3 FC, 138,357,544 parameters (slide "VGGNet (3)")."""
    return _vgg("D", False, num_classes, **kwargs)


def vgg16_bn(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-16 with BatchNorm after every conv, 138,365,992 parameters."""
    return _vgg("D", True, num_classes, **kwargs)


def vgg19(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-19, configuration E: 16 convs + 3 FC, 143,667,240 parameters."""
    return _vgg("E", False, num_classes, **kwargs)


def vgg19_bn(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-19 with BatchNorm after every conv, 143,678,248 parameters."""
    return _vgg("E", True, num_classes, **kwargs)
