"""Inception-v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture"), GoogLeNet (9)-(11).

Three ideas on top of GoogLeNet, each a module below:

- **Factorise big convolutions** (slide "GoogLeNet (9)"): a 5x5 conv sees what two stacked 3x3 convs
  see with 25 instead of 18 weights per channel pair (28% fewer): ``InceptionA``'s ``branch3x3dbl``.
- **Asymmetric factorisation** (slide "GoogLeNet (10)"): an n x n conv becomes 1 x n then n x 1,
  2n instead of n^2 weights: ``InceptionC`` (n = 7, at 17x17) and ``InceptionE`` (n = 3, at 8x8,
  where the 1x3 and 3x1 run side by side to widen the output).
- **Efficient grid reduction** (slide "GoogLeNet (11)"): pooling first loses information, convolving
  first costs 4x; instead run a stride-2 conv and a stride-2 pool in parallel and concatenate:
  ``InceptionB`` (35 -> 17) and ``InceptionD`` (17 -> 8).

The layout, names and ``state_dict()`` keys are torchvision's ``inception_v3`` (``Conv2d_1a_3x3``,
``Mixed_5b`` ... ``Mixed_7c``, ``AuxLogits``, ``fc``), which follows Google's released model rather
than the paper's Table 1 (the authors point to the released code as the reference: the table has
slips, e.g. the layer before the 35x35 modules is a 3x3/2 max pool, listed as a conv, and the 35x35
modules keep a 5x5 branch beside the factorised double 3x3). All convs are
``BasicConv2d`` (conv + BN + ReLU). The auxiliary head batch-normalises its convs only, as the
released model does; the paper's "BN-auxiliary" also normalises the head's fully connected layer.

Parameters at 1000 classes: 27,161,264 with the auxiliary head, 23,834,568 without (torchvision's).
Input 299x299; the smallest input without the auxiliary head is 75x75, with it (in training mode)
299x299 (the head needs a 17x17 map).
"""

from __future__ import annotations

from typing import NamedTuple

from scratchnet import nn
from scratchnet.models.googlenet import BasicConv2d, transform_input
from scratchnet.nn import functional as F
from scratchnet.nn.functional import cat, flatten
from scratchnet.tensor import Tensor

__all__ = [
    "Inception3",
    "InceptionA",
    "InceptionB",
    "InceptionC",
    "InceptionD",
    "InceptionE",
    "InceptionOutputs",
    "InceptionV3Aux",
    "inception_v3",
]


class InceptionOutputs(NamedTuple):
    """What ``Inception3`` returns in training mode with the aux head (torchvision's order)."""

    logits: Tensor
    aux_logits: Tensor


class InceptionA(nn.Module):
    """35x35 module: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 (the factorised 5x5) | avgpool-1x1.

    Shapes: (N, in_channels, H, W) -> (N, 224 + pool_features, H, W).
    """

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)  # (N, 64, H, W)
        b5 = self.branch5x5_2(self.branch5x5_1(x))  # (N, 64, H, W)
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))  # (N, 96, H, W)
        bp = self.branch_pool(
            F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
        )  # (N, pool_features, H, W)
        return cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17: 3x3/2 conv | 1x1-3x3-3x3/2 | 3x3/2 max pool, concatenated.

    Shapes: (N, in_channels, H, W) -> (N, 480 + in_channels, (H - 3) // 2 + 1, ...).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3(x)  # (N, 384, OH, OW)
        b3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))  # (N, 96, OH, OW)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, in_channels, OH, OW)
        return cat([b3, b3dbl, bp], 1)


class InceptionC(nn.Module):
    """17x17 module with 7x7 convs factorised into 1x7 and 7x1 (slide "GoogLeNet (10)").

    1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1; ``channels_7x7`` is the width inside the
    factorised branches. Shapes: (N, in_channels, H, W) -> (N, 768, H, W).
    """

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)  # (N, 192, H, W)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))  # (N, 192, H, W)
        b7dbl = self.branch7x7dbl_1(x)  # (N, c7, H, W)
        b7dbl = self.branch7x7dbl_3(self.branch7x7dbl_2(b7dbl))
        b7dbl = self.branch7x7dbl_5(self.branch7x7dbl_4(b7dbl))  # (N, 192, H, W)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))  # (N, 192, H, W)
        return cat([b1, b7, b7dbl, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | 3x3/2 max pool, concatenated.

    Shapes: (N, in_channels, H, W) -> (N, 512 + in_channels, (H - 3) // 2 + 1, ...).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))  # (N, 320, OH, OW)
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(b7))  # (N, 192, OH, OW)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, in_channels, OH, OW)
        return cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """8x8 module with the filter bank expanded: the 1x3 and 3x1 run side by side (paper, Fig. 7).

    1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | avgpool-1x1. Shapes: (N, in_channels, H, W)
    -> (N, 320 + 768 + 768 + 192 = 2048, H, W).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)  # (N, 320, H, W)
        b3 = self.branch3x3_1(x)
        b3 = cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)  # (N, 768, H, W)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3dbl = cat([self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl)], 1)  # (N, 768, H, W)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))  # (N, 192, H, W)
        return cat([b1, b3, b3dbl, bp], 1)


class InceptionV3Aux(nn.Module):
    """The auxiliary classifier on the 17x17x768 map (torchvision's ``InceptionAux``).

    avgpool 5x5/3 -> 1x1 conv 128 -> 5x5 conv 768 -> global avgpool -> fc. Shapes: (N, 768, 17, 17)
    -> (N, 768, 5, 5) -> (N, 128, 5, 5) -> (N, 768, 1, 1) -> (N, 768) -> (N, num_classes).
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv0 = BasicConv2d(in_channels, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.avg_pool2d(x, kernel_size=5, stride=3)  # (N, 768, 5, 5)
        x = self.conv1(self.conv0(x))  # (N, 768, 1, 1)
        x = F.adaptive_avg_pool2d(x, (1, 1))  # (N, 768, 1, 1), also for inputs larger than 299
        return self.fc(flatten(x, 1))  # (N, num_classes)


class Inception3(nn.Module):
    """Inception-v3; shapes in ``forward`` are for a 299x299 input.

    Parameters
    ----------
    num_classes : int
        Size of the classifier (and of the auxiliary classifier).
    aux_logits : bool
        Build the auxiliary classifier (after Mixed_6e). In training mode the forward then returns
        ``InceptionOutputs(logits, aux_logits)``; otherwise the logits alone.
    transform_input : bool
        Re-normalise an ImageNet-normalised input to the (x - 0.5) / 0.5 scaling of Google's
        weights.
    init_weights : bool
        torchvision's initialisation: truncated normal with std 0.1 for every conv and linear
        weight, 0.001 for the auxiliary classifier's fc (torchvision also marks the aux head's
        ``conv1`` with std 0.01, but on the wrapper, not on the conv, so 0.1 is what it gets; we do
        the same).
    dropout : float
        Before the classifier.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        if aux_logits:
            self.AuxLogits = InceptionV3Aux(768, num_classes)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(2048, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    std = 0.001 if aux_logits and m is self.AuxLogits.fc else 0.1
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor | InceptionOutputs:
        if self.transform_input:
            x = transform_input(x)
        x = self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))  # (N, 32, 147, 147)
        x = self.maxpool1(self.Conv2d_2b_3x3(x))  # (N, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (N, 192, 71, 71)
        x = self.maxpool2(x)  # (N, 192, 35, 35)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (N, 288, 35, 35)
        x = self.Mixed_6a(x)  # (N, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # (N, 768, 17, 17)
        with_aux = self.aux_logits and self.training
        aux = self.AuxLogits(x) if with_aux else None
        x = self.Mixed_7a(x)  # (N, 1280, 8, 8)
        x = self.Mixed_7c(self.Mixed_7b(x))  # (N, 2048, 8, 8)
        x = self.dropout(self.avgpool(x))  # (N, 2048, 1, 1)
        x = self.fc(flatten(x, 1))  # (N, num_classes)
        if with_aux:
            return InceptionOutputs(x, aux)
        return x


def inception_v3(
    num_classes: int = 1000,
    aux_logits: bool = True,
    transform_input: bool = False,
    init_weights: bool = True,
    dropout: float = 0.5,
) -> Inception3:
    """Inception-v3, torchvision's layout; 27,161,264 parameters (23,834,568 without aux head)."""
    return Inception3(
        num_classes=num_classes,
        aux_logits=aux_logits,
        transform_input=transform_input,
        init_weights=init_weights,
        dropout=dropout,
    )
