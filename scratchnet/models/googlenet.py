"""GoogLeNet / Inception v1 (Szegedy et al. 2015, "Going Deeper with Convolutions").

Slides "GoogLeNet (1)-(8)"; the network is the paper's Table 1, the lecture's "GoogLeNet (6)"
table: each ``inception`` row gives (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), the
arguments of ``Inception`` below in the same order.

An Inception module runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max pool side by side and
concatenates their outputs along channels, so the next layer sees features at several scales
(slide "GoogLeNet (5)"). In the naive form (figure (a)) the 3x3 and 5x5 convs see all input channels
and the pool passes them all through, so the cost and the width grow with every module; the form
actually used (figure (b)) puts a 1x1 conv in front of the 3x3 and 5x5 ("reduce") and behind the
pool ("pool proj") to cut channels first. ``Inception(..., reduce=False)`` builds figure (a).

The layout is torchvision's, so ``state_dict()`` keys and shapes match (``conv1.conv.weight``,
``inception3a.branch2.1.bn.running_mean``, ``aux1.fc2.bias``, ...). torchvision differs from the
paper as follows; we keep its choices so that its weights load:

- every conv is ``BasicConv2d``: conv (no bias) + BatchNorm (eps 0.001) + ReLU (BN postdates the
  paper);
- the "5x5" branch uses a **3x3** conv (torchvision issue #906, kept for its pretrained weights);
  ``googlenet(paper_5x5=True)`` builds the paper's 5x5 instead;
- the auxiliary heads average-pool adaptively to 4x4 (the paper: 5x5 average pool, stride 3, which
  gives 4x4 at 224x224, with other windows: ``InceptionAux(..., pool="paper")`` builds it), so any
  input size works;
- the pool before inception (5a) is 2x2/2 (the table: 3x3/2; both give 7x7), and the dropout before
  the classifier is 0.2 (the table: 40%; ``dropout=0.4`` restores it).

Parameter counts at 1000 classes: 6,624,904 without the auxiliary heads (torchvision's figure),
13,004,888 with them (each head's fc1 alone is 2048 x 1024). With ``paper_5x5=True``:
7,005,832 and 13,385,816.
"""

from __future__ import annotations

from typing import NamedTuple

from scratchnet import nn
from scratchnet.nn import functional as F
from scratchnet.nn.functional import cat, flatten
from scratchnet.tensor import Tensor

__all__ = [
    "BasicConv2d",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "Inception",
    "InceptionAux",
    "googlenet",
    "googlenet_loss",
]


def transform_input(x: Tensor) -> Tensor:
    """Map an image normalised with ImageNet's mean/std to the [-1, 1] range of Google's weights.

    torchvision's ``transform_input=True`` for GoogLeNet and Inception-v3: per channel c,
    ``x * std_c / 0.5 + (mean_c - 0.5) / 0.5`` undoes the usual normalisation and applies (x - 0.5)
    / 0.5.
    """
    x0 = x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
    x1 = x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
    x2 = x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
    return cat([x0, x1, x2], 1)


class GoogLeNetOutputs(NamedTuple):
    """What ``GoogLeNet`` returns in training mode with auxiliary heads (torchvision's order)."""

    logits: Tensor
    aux_logits2: Tensor
    aux_logits1: Tensor


class BasicConv2d(nn.Module):
    """Conv (no bias: BN's beta does its job) + BatchNorm (eps 0.001, as TF's) + ReLU.

    Used by GoogLeNet and every later Inception network.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """The Inception module: four branches, concatenated along channels (slide "GoogLeNet (5)").

    Parameters
    ----------
    in_channels : int
        Channels of the input.
    ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj : int
        The columns of the paper's Table 1 (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
    reduce : bool
        True: figure (b), with the 1x1 reductions. False: figure (a), the naive module; the "reduce"
        and "pool proj" widths are then unused and the pool branch passes all ``in_channels``
        through.
    paper_5x5 : bool
        The third branch's kernel: 5x5 as in the paper, or (default) 3x3 as torchvision.

    Notes
    -----
    Shapes: (N, in_channels, H, W) -> (N, C_out, H, W), every branch keeps H and W (padding k // 2,
    pool stride 1), C_out = ch1x1 + ch3x3 + ch5x5 + pool_proj (reduce=True) or
    ch1x1 + ch3x3 + ch5x5 + in_channels (reduce=False).

    Inception (3a) at 28x28x192, paper_5x5=True: the naive module has 192 * 64 + 9 * 192 * 128
    + 25 * 192 * 32 = 387K weights and 64 + 128 + 32 + 192 = 416 output channels; with reductions
    (1x1 to 96 before the 3x3, to 16 before the 5x5, 32 after the pool) it has 163K weights (the
    table lists 159K) and 256 output channels.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        reduce: bool = True,
        paper_5x5: bool = False,
    ) -> None:
        super().__init__()
        k5 = 5 if paper_5x5 else 3
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        pool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True)
        if reduce:
            self.branch2 = nn.Sequential(
                BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
            )
            self.branch3 = nn.Sequential(
                BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                BasicConv2d(ch5x5red, ch5x5, kernel_size=k5, padding=k5 // 2),
            )
            self.branch4 = nn.Sequential(pool, BasicConv2d(in_channels, pool_proj, kernel_size=1))
        else:
            self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3, kernel_size=3, padding=1))
            self.branch3 = nn.Sequential(
                BasicConv2d(in_channels, ch5x5, kernel_size=k5, padding=k5 // 2)
            )
            self.branch4 = nn.Sequential(pool)

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return cat(branches, 1)  # (N, C_out, H, W)


class InceptionAux(nn.Module):
    """An auxiliary classifier (slide "GoogLeNet (7)"): a small head on an intermediate feature map.

    avg pool to 4x4 -> 1x1 conv 128 -> fc 1024 + ReLU -> dropout 0.7 -> fc num_classes. Its loss,
    weighted 0.3, adds gradient in the middle of the network during training; at inference the
    heads are not evaluated.

    Shapes: (N, in_channels, H, W) -> (N, in_channels, 4, 4) -> (N, 128, 4, 4) -> (N, 2048)
    -> (N, 1024) -> (N, num_classes).

    ``pool="adaptive"`` (torchvision, the default) averages adaptively to 4x4: at 14x14 its windows
    have size 4 and start at 0, 3, 7, 10. ``pool="paper"`` is the paper's 5x5 average pool with
    stride 3 (windows of size 5 at 0, 3, 6, 9), which gives 4x4 only for a 14x14 map.
    """

    def __init__(
        self, in_channels: int, num_classes: int, dropout: float = 0.7, pool: str = "adaptive"
    ) -> None:
        super().__init__()
        if pool not in ("adaptive", "paper"):
            raise ValueError(f"InceptionAux: pool must be 'adaptive' or 'paper', got {pool!r}")
        self.pool = pool
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        if self.pool == "paper":
            x = F.avg_pool2d(
                x, kernel_size=5, stride=3
            )  # (N, C, 4, 4) from 14x14: (14 - 5) // 3 + 1 = 4
        else:
            x = F.adaptive_avg_pool2d(x, (4, 4))  # (N, C, 4, 4): 14x14 at 224x224 input
        x = self.conv(x)  # (N, 128, 4, 4)
        x = flatten(x, 1)  # (N, 2048)
        x = F.relu(self.fc1(x))  # (N, 1024)
        return self.fc2(self.dropout(x))  # (N, num_classes)


class GoogLeNet(nn.Module):
    """GoogLeNet, the paper's Table 1 row by row; shapes below are for a 224x224 input.

    Parameters
    ----------
    num_classes : int
        Size of the classifier (and of the auxiliary classifiers).
    aux_logits : bool
        Build the two auxiliary classifiers (after inception 4a and 4d). In training mode the
        forward then returns ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``; in eval mode,
        or without them, the logits alone.
    transform_input : bool
        Re-normalise an input normalised with ImageNet's mean/std to the (x - 0.5) / 0.5 scaling the
        original (ported) weights expect, as torchvision does.
    init_weights : bool
        torchvision's initialisation: truncated normal (std 0.01) for conv and linear weights.
    paper_5x5 : bool
        5x5 convs in the third branch, as the paper (default: torchvision's 3x3).
    dropout, dropout_aux : float
        Before the classifier (the paper's 40%; torchvision uses 0.2) and in the auxiliary heads
        (0.7).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool = True,
        paper_5x5: bool = False,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
    ) -> None:
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input

        def inception(*widths: int) -> Inception:
            return Inception(*widths, paper_5x5=paper_5x5)

        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(
            64, 64, kernel_size=1
        )  # the table's "3x3 reduce" of the second conv row
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        #                             in   1x1  3x3r  3x3  5x5r  5x5  pool
        self.inception3a = inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(
            2, stride=2, ceil_mode=True
        )  # torchvision's 2x2 (the table: 3x3/2)
        self.inception5a = inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        if self.transform_input:
            x = transform_input(x)
        with_aux = self.aux_logits and self.training
        x = self.maxpool1(self.conv1(x))  # (N, 64, 56, 56)
        x = self.maxpool2(self.conv3(self.conv2(x)))  # (N, 192, 28, 28)
        x = self.inception3b(self.inception3a(x))  # (N, 480, 28, 28)
        x = self.maxpool3(x)  # (N, 480, 14, 14)
        x = self.inception4a(x)  # (N, 512, 14, 14)
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))  # (N, 528, 14, 14)
        aux2 = self.aux2(x) if with_aux else None
        x = self.inception4e(x)  # (N, 832, 14, 14)
        x = self.maxpool4(x)  # (N, 832, 7, 7)
        x = self.inception5b(self.inception5a(x))  # (N, 1024, 7, 7)
        x = flatten(self.avgpool(x), 1)  # (N, 1024)
        x = self.fc(self.dropout(x))  # (N, num_classes)
        if with_aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(
    num_classes: int = 1000,
    aux_logits: bool = True,
    transform_input: bool = False,
    init_weights: bool = True,
    paper_5x5: bool = False,
    dropout: float = 0.2,
    dropout_aux: float = 0.7,
) -> GoogLeNet:
    """GoogLeNet (Inception v1), torchvision's layout; 6,624,904 parameters without aux heads."""
    return GoogLeNet(
        num_classes=num_classes,
        aux_logits=aux_logits,
        transform_input=transform_input,
        init_weights=init_weights,
        paper_5x5=paper_5x5,
        dropout=dropout,
        dropout_aux=dropout_aux,
    )


def googlenet_loss(
    outputs: Tensor | GoogLeNetOutputs, target: Tensor, aux_weight: float = 0.3
) -> Tensor:
    """Training loss of GoogLeNet: CE(main) + aux_weight * (CE(aux1) + CE(aux2)) (paper, Section 5).

    ``outputs`` is what the model returned: a ``GoogLeNetOutputs`` in training mode with auxiliary
    heads, plain logits otherwise (the loss is then the cross entropy alone). ``target`` holds class
    indices, shape (N,).
    """
    if not isinstance(outputs, GoogLeNetOutputs):
        return F.cross_entropy(outputs, target)
    main = F.cross_entropy(outputs.logits, target)
    aux = F.cross_entropy(outputs.aux_logits1, target) + F.cross_entropy(
        outputs.aux_logits2, target
    )
    return main + aux_weight * aux
