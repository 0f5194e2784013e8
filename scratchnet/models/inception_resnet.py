"""Inception-ResNet-v1 and -v2 (Szegedy et al. 2017, the Inception-v4 paper), ResNet (6)-(9).

An Inception-ResNet block is an Inception module used as the residual branch of a ResNet block:
the branches are concatenated, a 1x1 conv *without* activation ("Linear" in the figures) brings the
channels back to the input's, and the result is added to the input, then ReLU:

    y = ReLU(x + scale * conv1x1(cat(branches(x))))

The paper found that very wide residual Inceptions "died" early in training (the last layers output
zeros) unless the residual is scaled down before the addition, by a factor between 0.1 and 0.3
(Section 3.3, Fig. 20); the released models use 0.17 (35x35 blocks), 0.10 (17x17) and 0.20 (8x8),
and so do we. BatchNorm sits inside the branches only, not after the addition (to save memory).

Inception-ResNet-v1 follows the paper (Fig. 15 with Figs. 14, 10, 7, 11, 12, 13): stem to 35x35x256,
5 x A (256), Reduction-A (k, l, m, n = 192, 192, 256, 384) to 17x17x896, 10 x B (896), Reduction-B
to 8x8x1792, 5 x C (1792), average pooling, dropout (keep 0.8), classifier: 22,756,328 parameters at
1000 classes (the paper gives no parameter count; it matches v1's computational cost to
Inception-v3's, which has 23,834,568 parameters without its auxiliary head).

Inception-ResNet-v2 follows the **released** model (TF-slim's ``inception_resnet_v2``, ported as
Cadene's ``pretrainedmodels.inceptionresnetv2`` and timm's ``inception_resnet_v2``), with the same
``state_dict()`` keys (``conv2d_1a.conv.weight``, ``repeat.0.branch2.2.bn.weight``,
``block8.conv2d.bias``, ``last_linear.weight``): 55,843,464 parameters at 1000 classes (the figure
published for the PyTorch ports), 55,845,001 at 1001 (the TF-slim checkpoint's classes: background +
1000). It differs from the paper's figures as follows:

========================  ==============================  =================================
                          paper (Figs. 3, 15-19)          released (what we build)
========================  ==============================  =================================
stem                      v4's stem (Fig. 3), 35x35x384   v3-like convs + ``Mixed5b``, 35x35x320
A / B / C blocks          5 / 10 / 5                      10 / 20 / 10 (the last C without ReLU)
channels after A / B / C  384 / 1154 (sic) / 2048         320 / 1088 / 2080
after the C blocks        average pooling                 1x1 conv to 1536, then average pooling
========================  ==============================  =================================

The branch widths inside the blocks and both reductions are the paper's (Reduction-A with k, l, m,
n = 256, 256, 384, 384). The smallest input is 75x75 for both networks.
"""

from __future__ import annotations

from scratchnet import nn
from scratchnet.models.googlenet import BasicConv2d
from scratchnet.models.inception_v4 import ReductionA
from scratchnet.nn import functional as F
from scratchnet.nn.functional import cat, flatten
from scratchnet.tensor import Tensor

__all__ = [
    "InceptionResNetA",
    "InceptionResNetB",
    "InceptionResNetC",
    "InceptionResNetReductionB",
    "InceptionResNetV1",
    "InceptionResNetV2",
    "Mixed5b",
    "inception_resnet_v1",
    "inception_resnet_v2",
]


class InceptionResNetA(nn.Module):
    """Inception-ResNet-A (35x35; v1: Fig. 10, v2: Fig. 16): 1x1 | 1x1-3x3 | 1x1-3x3-3x3, residual.

    Parameters
    ----------
    in_channels : int
        Channels of the input and of the output (the residual addition needs them equal).
    ch3x3dbl : tuple of 3 ints
        Widths of the third branch: v1 (32, 32, 32), v2 (32, 48, 64). The others are 32 wide.
    scale : float
        Factor on the residual before the addition.

    Notes
    -----
    Shapes: (N, in_channels, H, W) -> branches (N, 32 + 32 + ch3x3dbl[2], H, W) -> (N, in_channels,
    H, W).
    """

    def __init__(
        self, in_channels: int, ch3x3dbl: tuple[int, int, int] = (32, 48, 64), scale: float = 0.17
    ) -> None:
        super().__init__()
        c1, c2, c3 = ch3x3dbl
        self.scale = scale
        self.branch0 = BasicConv2d(in_channels, 32, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(in_channels, 32, kernel_size=1),
            BasicConv2d(32, 32, kernel_size=3, padding=1),
        )
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, c1, kernel_size=1),
            BasicConv2d(c1, c2, kernel_size=3, padding=1),
            BasicConv2d(c2, c3, kernel_size=3, padding=1),
        )
        self.conv2d = nn.Conv2d(
            32 + 32 + c3, in_channels, kernel_size=1
        )  # "Linear": no BN, no ReLU

    def forward(self, x: Tensor) -> Tensor:
        out = cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)  # (N, 64 + c3, H, W)
        out = self.conv2d(out)  # (N, in_channels, H, W)
        return F.relu(x + self.scale * out)


class InceptionResNetB(nn.Module):
    """Inception-ResNet-B (17x17; v1: Fig. 11, v2: Fig. 17): 1x1 | 1x1-1x7-7x1, residual.

    ``ch1x1`` is the first branch's width (v1 128, v2 192), ``ch7x7`` the second's three widths
    (v1 (128, 128, 128), v2 (128, 160, 192)). Shapes: (N, in_channels, H, W) -> (N, in_channels, H,
    W).
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int = 192,
        ch7x7: tuple[int, int, int] = (128, 160, 192),
        scale: float = 0.10,
    ) -> None:
        super().__init__()
        c1, c2, c3 = ch7x7
        self.scale = scale
        self.branch0 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(in_channels, c1, kernel_size=1),
            BasicConv2d(c1, c2, kernel_size=(1, 7), padding=(0, 3)),
            BasicConv2d(c2, c3, kernel_size=(7, 1), padding=(3, 0)),
        )
        self.conv2d = nn.Conv2d(ch1x1 + c3, in_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        out = cat([self.branch0(x), self.branch1(x)], 1)  # (N, ch1x1 + c3, H, W)
        out = self.conv2d(out)  # (N, in_channels, H, W)
        return F.relu(x + self.scale * out)


class InceptionResNetC(nn.Module):
    """Inception-ResNet-C (8x8; v1: Fig. 13, v2: Fig. 19): 1x1 192 | 1x1-1x3-3x1, residual.

    ``ch3x3`` is the second branch's three widths (v1 (192, 192, 192), v2 (192, 224, 256));
    ``activation=False`` leaves out the final ReLU (the released v2's last block).
    Shapes: (N, in_channels, H, W) -> (N, in_channels, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        ch3x3: tuple[int, int, int] = (192, 224, 256),
        scale: float = 0.20,
        activation: bool = True,
    ) -> None:
        super().__init__()
        c1, c2, c3 = ch3x3
        self.scale = scale
        self.activation = activation
        self.branch0 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(in_channels, c1, kernel_size=1),
            BasicConv2d(c1, c2, kernel_size=(1, 3), padding=(0, 1)),
            BasicConv2d(c2, c3, kernel_size=(3, 1), padding=(1, 0)),
        )
        self.conv2d = nn.Conv2d(192 + c3, in_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        out = cat([self.branch0(x), self.branch1(x)], 1)  # (N, 192 + c3, H, W)
        out = x + self.scale * self.conv2d(out)  # (N, in_channels, H, W)
        return F.relu(out) if self.activation else out


class InceptionResNetReductionB(nn.Module):
    """Reduction-B of the Inception-ResNets (v1: Fig. 12, v2: Fig. 18), 17x17 -> 8x8, all valid.

    1x1 256-3x3/2 384 | 1x1 256-3x3/2 ``ch_b1`` | 1x1 256-3x3 ``ch_b2[0]``-3x3/2 ``ch_b2[1]`` |
    3x3/2 max pool (v1: 256 and (256, 256); v2: 288 and (288, 320)). Shapes: (N, in_channels, H, W)
    -> (N, 384 + ch_b1 + ch_b2[1] + in_channels, (H - 3) // 2 + 1, (W - 3) // 2 + 1).
    """

    def __init__(
        self, in_channels: int, ch_b1: int = 288, ch_b2: tuple[int, int] = (288, 320)
    ) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(
            BasicConv2d(in_channels, 256, kernel_size=1),
            BasicConv2d(256, 384, kernel_size=3, stride=2),
        )
        self.branch1 = nn.Sequential(
            BasicConv2d(in_channels, 256, kernel_size=1),
            BasicConv2d(256, ch_b1, kernel_size=3, stride=2),
        )
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, 256, kernel_size=1),
            BasicConv2d(256, ch_b2[0], kernel_size=3, padding=1),
            BasicConv2d(ch_b2[0], ch_b2[1], kernel_size=3, stride=2),
        )
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Mixed5b(nn.Module):
    """End of the released v2 stem, Inception-v3's 35x35 module: (N, 192, 35, 35) -> (N, 320, ., .).

    1x1 96 | 1x1 48-5x5 64 | 1x1 64-3x3 96-3x3 96 | avgpool-1x1 64.
    """

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(192, 96, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(192, 48, kernel_size=1),
            BasicConv2d(48, 64, kernel_size=5, padding=2),
        )
        self.branch2 = nn.Sequential(
            BasicConv2d(192, 64, kernel_size=1),
            BasicConv2d(64, 96, kernel_size=3, padding=1),
            BasicConv2d(96, 96, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            nn.AvgPool2d(
                3, stride=1, padding=1, count_include_pad=False
            ),  # TF "SAME": real pixels only
            BasicConv2d(192, 64, kernel_size=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class InceptionResNetV1(nn.Module):
    """Inception-ResNet-v1 as in the paper (Fig. 15); shapes in ``forward`` for a 299x299 input."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        # stem, Fig. 14 ("V": valid, no padding)
        self.conv2d_1a = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, kernel_size=3)
        self.conv2d_2b = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, kernel_size=1)
        self.conv2d_4a = BasicConv2d(80, 192, kernel_size=3)
        self.conv2d_4b = BasicConv2d(192, 256, kernel_size=3, stride=2)
        self.repeat = nn.Sequential(
            *[InceptionResNetA(256, (32, 32, 32), scale=0.17) for _ in range(5)]
        )
        self.mixed_6a = ReductionA(256, k=192, l=192, m=256, n=384)
        self.repeat_1 = nn.Sequential(
            *[InceptionResNetB(896, 128, (128, 128, 128), scale=0.10) for _ in range(10)]
        )
        self.mixed_7a = InceptionResNetReductionB(896, ch_b1=256, ch_b2=(256, 256))
        self.repeat_2 = nn.Sequential(
            *[InceptionResNetC(1792, (192, 192, 192), scale=0.20) for _ in range(5)]
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)  # keep probability 0.8
        self.last_linear = nn.Linear(1792, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x)))  # (N, 64, 147, 147)
        x = self.conv2d_3b(self.maxpool_3a(x))  # (N, 80, 73, 73)
        x = self.conv2d_4b(self.conv2d_4a(x))  # (N, 256, 35, 35)
        x = self.mixed_6a(self.repeat(x))  # (N, 896, 17, 17)
        x = self.mixed_7a(self.repeat_1(x))  # (N, 1792, 8, 8)
        x = self.repeat_2(x)  # (N, 1792, 8, 8)
        x = flatten(self.avgpool(x), 1)  # (N, 1792)
        return self.last_linear(self.dropout(x))  # (N, num_classes)


class InceptionResNetV2(nn.Module):
    """Inception-ResNet-v2 as released (TF-slim); shapes in ``forward`` for a 299x299 input."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, kernel_size=3)
        self.conv2d_2b = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, kernel_size=1)
        self.conv2d_4a = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)
        self.mixed_5b = Mixed5b()
        self.repeat = nn.Sequential(
            *[InceptionResNetA(320, (32, 48, 64), scale=0.17) for _ in range(10)]
        )
        self.mixed_6a = ReductionA(320, k=256, l=256, m=384, n=384)
        self.repeat_1 = nn.Sequential(
            *[InceptionResNetB(1088, 192, (128, 160, 192), scale=0.10) for _ in range(20)]
        )
        self.mixed_7a = InceptionResNetReductionB(1088, ch_b1=288, ch_b2=(288, 320))
        self.repeat_2 = nn.Sequential(
            *[InceptionResNetC(2080, (192, 224, 256), scale=0.20) for _ in range(9)]
        )
        self.block8 = InceptionResNetC(2080, (192, 224, 256), scale=1.0, activation=False)
        self.conv2d_7b = BasicConv2d(2080, 1536, kernel_size=1)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)  # keep probability 0.8
        self.last_linear = nn.Linear(1536, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x)))  # (N, 64, 147, 147)
        x = self.conv2d_3b(self.maxpool_3a(x))  # (N, 80, 73, 73)
        x = self.maxpool_5a(self.conv2d_4a(x))  # (N, 192, 35, 35)
        x = self.mixed_5b(x)  # (N, 320, 35, 35)
        x = self.mixed_6a(self.repeat(x))  # (N, 1088, 17, 17)
        x = self.mixed_7a(self.repeat_1(x))  # (N, 2080, 8, 8)
        x = self.block8(self.repeat_2(x))  # (N, 2080, 8, 8)
        x = self.conv2d_7b(x)  # (N, 1536, 8, 8)
        x = flatten(self.avgpool(x), 1)  # (N, 1536)
        return self.last_linear(self.dropout(x))  # (N, num_classes)


def inception_resnet_v1(num_classes: int = 1000, dropout: float = 0.2) -> InceptionResNetV1:
    """Inception-ResNet-v1 as in the paper; 22,756,328 parameters at 1000 classes."""
    return InceptionResNetV1(num_classes=num_classes, dropout=dropout)


def inception_resnet_v2(num_classes: int = 1000, dropout: float = 0.2) -> InceptionResNetV2:
    """Inception-ResNet-v2 as released (TF-slim); 55,843,464 parameters at 1000 classes."""
    return InceptionResNetV2(num_classes=num_classes, dropout=dropout)
