"""Inception-v4 (Szegedy et al. 2017, "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning"), slides "GoogLeNet (12)-(13)".

A cleaned-up Inception-v3 with one module type per grid size, all drawn in the paper: the stem
(Fig. 3) takes 299x299x3 to 35x35x384, then 4 x Inception-A (Fig. 4), Reduction-A (Fig. 7) to
17x17x1024, 7 x Inception-B (Fig. 5), Reduction-B (Fig. 8) to 8x8x1536, 3 x Inception-C (Fig. 6),
average pooling, dropout (keep 0.8) and the classifier (Fig. 9). "V" in the figures marks a valid
(unpadded) conv, which shrinks the grid; every other conv is padded to keep it.

``ReductionA`` is shared with the Inception-ResNets: the paper's Table 1 gives its four widths
(k, l, m, n) per network (v4: 192, 224, 256, 384; Inception-ResNet-v1: 192, 192, 256, 384;
Inception-ResNet-v2: 256, 256, 384, 384).

We follow the **released** model (TF-slim's ``inception_v4``, ported to PyTorch as Cadene's
``pretrainedmodels.inceptionv4`` and timm's ``inception_v4``), with the same ``state_dict()`` keys
(``features.0.conv.weight`` ... ``features.21.branch3.1.bn.running_var``, ``last_linear.weight``).
It matches the paper's figures except the order of the asymmetric pairs in two branches:

- Inception-B, 7x7-double branch: released 1x1 192, 7x1 192, 1x7 224, 7x1 224, 1x7 256; Fig. 5
  draws 1x7 192, 7x1 224, 1x7 224, 7x1 256 (same widths, so the same parameter count);
- Inception-C, 3x3-double branch: released 1x1 384, 3x1 448, 1x3 512; Fig. 6 draws 1x3 448, 3x1 512
  (again the same widths: only the kernel shapes (3, 1) and (1, 3) swap).

The released average pools inside the modules exclude the padding (TF's "SAME" pooling), and the
released model has no dropout layer (it is an inference port); ours has the paper's.

Parameters: 42,679,816 at 1000 classes (the figure published for the PyTorch ports, timm's 42.68M),
42,681,353 at 1001 (the TF-slim checkpoint's classes: background + 1000). The smallest input is
75x75 (grid sizes at 299: 149, 147, 147, 73, 71, 35, 17, 8; at 75: 37, 35, 35, 17, 15, 7, 3, 1).
"""

from __future__ import annotations

from scratchnet import nn
from scratchnet.models.googlenet import BasicConv2d
from scratchnet.nn.functional import cat, flatten
from scratchnet.tensor import Tensor

__all__ = [
    "InceptionV4",
    "InceptionV4A",
    "InceptionV4B",
    "InceptionV4C",
    "Mixed3a",
    "Mixed4a",
    "Mixed5a",
    "ReductionA",
    "ReductionB",
    "inception_v4",
]


def _avg_pool() -> nn.AvgPool2d:
    # 3x3 stride 1 "SAME" average pool; like TF, average only over the real pixels at the border
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


class Mixed3a(nn.Module):
    """Stem, first split (Fig. 3): 3x3/2 max pool | 3x3/2 conv 96. (N, 64, 147, 147) -> (N, 160, 73,
    73).
    """

    def __init__(self) -> None:
        super().__init__()
        self.maxpool = nn.MaxPool2d(3, stride=2)
        self.conv = BasicConv2d(64, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.maxpool(x), self.conv(x)], 1)


class Mixed4a(nn.Module):
    """Stem, second split: 1x1-3x3 | 1x1-7x1-1x7-3x3, both ending valid. (N, 160, 73, 73) -> (N,
    192, 71, 71).
    """

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(
            BasicConv2d(160, 64, kernel_size=1),
            BasicConv2d(64, 96, kernel_size=3),
        )
        self.branch1 = nn.Sequential(
            BasicConv2d(160, 64, kernel_size=1),
            BasicConv2d(64, 64, kernel_size=(1, 7), padding=(0, 3)),
            BasicConv2d(64, 64, kernel_size=(7, 1), padding=(3, 0)),
            BasicConv2d(64, 96, kernel_size=3),
        )

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch0(x), self.branch1(x)], 1)


class Mixed5a(nn.Module):
    """Stem, third split: 3x3/2 conv 192 | 3x3/2 max pool. (N, 192, 71, 71) -> (N, 384, 35, 35)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = BasicConv2d(192, 192, kernel_size=3, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.conv(x), self.maxpool(x)], 1)


class InceptionV4A(nn.Module):
    """Inception-A (Fig. 4), 35x35: 1x1 96 | 1x1 64-3x3 96 | 1x1 64-3x3 96-3x3 96 | avgpool-1x1 96.

    Shapes: (N, 384, H, W) -> (N, 384, H, W).
    """

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(384, 96, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(384, 64, kernel_size=1),
            BasicConv2d(64, 96, kernel_size=3, padding=1),
        )
        self.branch2 = nn.Sequential(
            BasicConv2d(384, 64, kernel_size=1),
            BasicConv2d(64, 96, kernel_size=3, padding=1),
            BasicConv2d(96, 96, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(_avg_pool(), BasicConv2d(384, 96, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class ReductionA(nn.Module):
    """Reduction-A (Fig. 7): 3x3/2 conv n | 1x1 k-3x3 l-3x3/2 m | 3x3/2 max pool, all valid.

    Parameters
    ----------
    in_channels : int
        Channels of the input (35x35 grid).
    k, l, m, n : int
        The widths of the paper's Table 1.

    Notes
    -----
    Shapes: (N, in_channels, H, W) -> (N, n + m + in_channels, (H - 3) // 2 + 1, (W - 3) // 2 + 1);
    Inception-v4: (N, 384, 35, 35) -> (N, 1024, 17, 17).
    """

    def __init__(
        self,
        in_channels: int,
        k: int,
        l: int,  # noqa: E741 (the paper's l)
        m: int,
        n: int,
    ) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(in_channels, n, kernel_size=3, stride=2)
        self.branch1 = nn.Sequential(
            BasicConv2d(in_channels, k, kernel_size=1),
            BasicConv2d(k, l, kernel_size=3, padding=1),
            BasicConv2d(l, m, kernel_size=3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class InceptionV4B(nn.Module):
    """Inception-B (Fig. 5), 17x17: 1x1 384 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1 128.

    Shapes: (N, 1024, H, W) -> (N, 384 + 256 + 256 + 128 = 1024, H, W).
    """

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(1024, 384, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(1024, 192, kernel_size=1),
            BasicConv2d(192, 224, kernel_size=(1, 7), padding=(0, 3)),
            BasicConv2d(224, 256, kernel_size=(7, 1), padding=(3, 0)),
        )
        self.branch2 = nn.Sequential(
            BasicConv2d(1024, 192, kernel_size=1),
            BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0)),
            BasicConv2d(192, 224, kernel_size=(1, 7), padding=(0, 3)),
            BasicConv2d(224, 224, kernel_size=(7, 1), padding=(3, 0)),
            BasicConv2d(224, 256, kernel_size=(1, 7), padding=(0, 3)),
        )
        self.branch3 = nn.Sequential(_avg_pool(), BasicConv2d(1024, 128, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class ReductionB(nn.Module):
    """Reduction-B (Fig. 8): 1x1 192-3x3/2 192 | 1x1 256-1x7 256-7x1 320-3x3/2 320 | 3x3/2 max pool.

    Shapes: (N, 1024, H, W) -> (N, 192 + 320 + 1024 = 1536, (H - 3) // 2 + 1, (W - 3) // 2 + 1).
    """

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(
            BasicConv2d(1024, 192, kernel_size=1),
            BasicConv2d(192, 192, kernel_size=3, stride=2),
        )
        self.branch1 = nn.Sequential(
            BasicConv2d(1024, 256, kernel_size=1),
            BasicConv2d(256, 256, kernel_size=(1, 7), padding=(0, 3)),
            BasicConv2d(256, 320, kernel_size=(7, 1), padding=(3, 0)),
            BasicConv2d(320, 320, kernel_size=3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class InceptionV4C(nn.Module):
    """Inception-C (Fig. 6), 8x8: 1x1 256 | 1x1 384-(1x3, 3x1) | 1x1 384-3x1 448-1x3 512-(1x3, 3x1)
    | pool.

    The pairs in parentheses run side by side (256 channels each), as in Inception-v3's
    ``InceptionE``. Shapes: (N, 1536, H, W) -> (N, 256 + 512 + 512 + 256 = 1536, H, W).
    """

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(1536, 256, kernel_size=1)
        self.branch1_0 = BasicConv2d(1536, 384, kernel_size=1)
        self.branch1_1a = BasicConv2d(384, 256, kernel_size=(1, 3), padding=(0, 1))
        self.branch1_1b = BasicConv2d(384, 256, kernel_size=(3, 1), padding=(1, 0))
        self.branch2_0 = BasicConv2d(1536, 384, kernel_size=1)
        self.branch2_1 = BasicConv2d(384, 448, kernel_size=(3, 1), padding=(1, 0))
        self.branch2_2 = BasicConv2d(448, 512, kernel_size=(1, 3), padding=(0, 1))
        self.branch2_3a = BasicConv2d(512, 256, kernel_size=(1, 3), padding=(0, 1))
        self.branch2_3b = BasicConv2d(512, 256, kernel_size=(3, 1), padding=(1, 0))
        self.branch3 = nn.Sequential(_avg_pool(), BasicConv2d(1536, 256, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1_0(x)  # (N, 384, H, W)
        b1 = cat([self.branch1_1a(b1), self.branch1_1b(b1)], 1)  # (N, 512, H, W)
        b2 = self.branch2_2(self.branch2_1(self.branch2_0(x)))  # (N, 512, H, W)
        b2 = cat([self.branch2_3a(b2), self.branch2_3b(b2)], 1)  # (N, 512, H, W)
        return cat([self.branch0(x), b1, b2, self.branch3(x)], 1)


class InceptionV4(nn.Module):
    """Inception-v4 (Fig. 9): stem, 4 x A, Reduction-A, 7 x B, Reduction-B, 3 x C, pool, classifier.

    Parameters
    ----------
    num_classes : int
        Size of the classifier (the released weights have 1001: index 0 is "background").
    dropout : float
        Before the classifier (the paper's keep probability 0.8).
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            BasicConv2d(3, 32, kernel_size=3, stride=2),  # (N, 32, 149, 149)
            BasicConv2d(32, 32, kernel_size=3),  # (N, 32, 147, 147)
            BasicConv2d(32, 64, kernel_size=3, padding=1),  # (N, 64, 147, 147)
            Mixed3a(),  # (N, 160, 73, 73)
            Mixed4a(),  # (N, 192, 71, 71)
            Mixed5a(),  # (N, 384, 35, 35)
            *[InceptionV4A() for _ in range(4)],
            ReductionA(384, k=192, l=224, m=256, n=384),  # (N, 1024, 17, 17)
            *[InceptionV4B() for _ in range(7)],
            ReductionB(),  # (N, 1536, 8, 8)
            *[InceptionV4C() for _ in range(3)],
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.last_linear = nn.Linear(1536, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # (N, 1536, 8, 8)
        x = flatten(self.avgpool(x), 1)  # (N, 1536)
        return self.last_linear(self.dropout(x))  # (N, num_classes)


def inception_v4(num_classes: int = 1000, dropout: float = 0.2) -> InceptionV4:
    """Inception-v4 as released (TF-slim); 42,679,816 parameters at 1000 classes."""
    return InceptionV4(num_classes=num_classes, dropout=dropout)
