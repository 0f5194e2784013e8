"""Lab 5: the Inception module, naive and with 1x1
reductions, and GoogLeNet's auxiliary classifiers.

GoogLeNet (Szegedy et al. 2015) runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max pool side by side
on the same input and concatenates their outputs along the channels: features at several scales in
one layer (slide "GoogLeNet (5)"). Done naively (figure (a)) the 3x3 and 5x5 branches are expensive
and the pool branch passes every input channel through, so the width grows at every module. 1x1
convolutions in front of the 3x3 and 5x5 and after the pool (figure (b)) shrink the channels first:
the module of the paper's table (slide "GoogLeNet (6)").

Training a 22-layer network in 2014 needed help: two auxiliary classifiers on intermediate feature
maps add their loss (weighted 0.3) and with it gradient in the middle of the network (slide
"GoogLeNet (7)"); they are dropped at inference.

Here every convolution is followed by a ReLU and has a bias, as in the paper (torchvision's
version, ``scratchnet/models/googlenet.py``, adds batch norm).

Check your work:  python -m scratchnet.labs check lessons/lab05_inception
"""

from __future__ import annotations

from scratchnet import Tensor, cat, nn
from scratchnet.nn import functional as F


class ConvReLU(nn.Sequential):
    """Conv2d (with bias, padding k // 2 so H and W are kept) + ReLU: the paper's building block."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2), nn.ReLU()
        )


# =====================================================================================
# TASK 5.1  The naive Inception module (figure (a))
# =====================================================================================


class InceptionNaive(nn.Module):
    """Four branches on the same input, concatenated along the channels (dim 1), in this order:

        branch1: ConvReLU 1x1 -> ch1x1      branch2: ConvReLU 3x3 -> ch3x3
        branch3: ConvReLU 5x5 -> ch5x5      branch4: MaxPool2d(3, stride=1, padding=1), all channels

    (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + in_channels, H, W).
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3: int, ch5x5: int) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.branch1 = ConvReLU(in_channels, ch1x1, 1)
        self.branch2 = ConvReLU(in_channels, ch3x3, 3)
        self.branch3 = ConvReLU(in_channels, ch5x5, 5)
        self.branch4 = nn.MaxPool2d(3, stride=1, padding=1)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # HINT: scratchnet.cat([a, b, ...], dim=1) joins tensors along the channels.
        ### BEGIN SOLUTION
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)
        ### END SOLUTION


# =====================================================================================
# TASK 5.2  The Inception module with dimension reductions (figure (b))
# =====================================================================================


class Inception(nn.Module):
    """The module of the paper's table; the arguments are its columns. Branches, in this order:

        branch1: ConvReLU 1x1 -> ch1x1
        branch2: ConvReLU 1x1 -> ch3x3red, then ConvReLU 3x3 -> ch3x3
        branch3: ConvReLU 1x1 -> ch5x5red, then ConvReLU 5x5 -> ch5x5
        branch4: MaxPool2d(3, stride=1, padding=1), then ConvReLU 1x1 -> pool_proj

    (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
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
    ) -> None:
        super().__init__()
        # HINT: nn.Sequential(a, b) runs a then b; name the branches branch1 ... branch4.
        ### BEGIN SOLUTION
        self.branch1 = ConvReLU(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(
            ConvReLU(in_channels, ch3x3red, 1), ConvReLU(ch3x3red, ch3x3, 3)
        )
        self.branch3 = nn.Sequential(
            ConvReLU(in_channels, ch5x5red, 1), ConvReLU(ch5x5red, ch5x5, 5)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), ConvReLU(in_channels, pool_proj, 1)
        )
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)
        ### END SOLUTION


# =====================================================================================
# TASK 5.3  What the 1x1 reductions save: weights and multiply-adds
# =====================================================================================


def naive_weights(in_channels: int, ch1x1: int, ch3x3: int, ch5x5: int) -> int:
    """Weights (no biases) of ``InceptionNaive(in_channels, ch1x1, ch3x3, ch5x5)``."""
    ### BEGIN SOLUTION
    return in_channels * (ch1x1 + 9 * ch3x3 + 25 * ch5x5)
    ### END SOLUTION


def inception_weights(
    in_channels: int,
    ch1x1: int,
    ch3x3red: int,
    ch3x3: int,
    ch5x5red: int,
    ch5x5: int,
    pool_proj: int,
) -> int:
    """Weights (no biases) of ``Inception(...)`` with the same arguments: the table's "params"."""
    # HINT: a k x k conv from C to C' channels has k*k*C*C' weights; count the six convs.
    ### BEGIN SOLUTION
    return (
        in_channels * ch1x1
        + in_channels * ch3x3red
        + 9 * ch3x3red * ch3x3
        + in_channels * ch5x5red
        + 25 * ch5x5red * ch5x5
        + in_channels * pool_proj
    )
    ### END SOLUTION


def macs(weights: int, height: int, width: int) -> int:
    """Multiply-adds of a module whose convs all keep the size H x W: every weight is used once per
    output position. The table's "ops" column (128M for inception (3a) at 28 x 28)."""
    ### BEGIN SOLUTION
    return weights * height * width
    ### END SOLUTION


# =====================================================================================
# TASK 5.4  The auxiliary classifier
# =====================================================================================


class InceptionAux(nn.Module):
    """A small classifier on an intermediate feature map (slide "GoogLeNet (7)"):

        AdaptiveAvgPool2d(4)   (the paper: 5x5 average pool, stride 3: 14x14 -> 4x4)
        ConvReLU 1x1 -> 128    (attribute ``conv``)
        flatten, Linear(128 * 4 * 4, hidden) + ReLU   (``fc1``; hidden = 1024 in the paper)
        Dropout(0.7), Linear(hidden, num_classes)     (``dropout``, ``fc2``)

    (N, in_channels, H, W) -> (N, num_classes).
    """

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 1024) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.conv = ConvReLU(in_channels, 128, 1)
        self.fc1 = nn.Linear(128 * 4 * 4, hidden)
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(hidden, num_classes)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        x = self.conv(self.pool(x))  # (N, 128, 4, 4)
        x = F.relu(self.fc1(x.flatten(1)))  # (N, hidden)
        return self.fc2(self.dropout(x))  # (N, num_classes)
        ### END SOLUTION


# =====================================================================================
# TASK 5.5  The training loss with auxiliary heads
# =====================================================================================


def googlenet_loss(
    outputs: Tensor | tuple[Tensor, ...], target: Tensor, aux_weight: float = 0.3
) -> Tensor:
    """Cross-entropy of the main output plus ``aux_weight`` times that of every auxiliary output.

    ``outputs`` is a tuple ``(main, aux1, aux2, ...)`` in training, a single Tensor in eval mode
    (then the loss is the main output's alone).
    """
    # HINT: F.cross_entropy(logits, target) is the mean cross-entropy of a batch.
    ### BEGIN SOLUTION
    if not isinstance(outputs, tuple):
        return F.cross_entropy(outputs, target)
    main, *auxiliary = outputs
    loss = F.cross_entropy(main, target)
    for aux in auxiliary:
        loss = loss + aux_weight * F.cross_entropy(aux, target)
    return loss
    ### END SOLUTION


# =====================================================================================
# TASK 5.6  A mini GoogLeNet: two Inception modules, an auxiliary head, global average pooling
# =====================================================================================


class MiniGoogLeNet(nn.Module):
    """stem -> inception_a -> inception_b -> global average pooling -> dropout -> fc, with an
    auxiliary head on inception_a's output. Sized for 8x8 digits (``scratchnet.data.digits``).

    In training, ``forward`` returns ``(logits, aux_logits)``; in eval mode only ``logits``
    (the head is not even run). NIN's idea (slide "GoogLeNet (3)"): global average pooling replaces
    the big fully connected layers, so the classifier is a single small ``Linear``.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.stem = ConvReLU(in_channels, 16, 3)  # (N, 16, 8, 8)
        self.inception_a = Inception(16, 8, 8, 12, 4, 6, 6)  # 8 + 12 + 6 + 6 = 32 channels
        self.aux = InceptionAux(32, num_classes, hidden=64)
        self.inception_b = Inception(32, 16, 12, 24, 4, 12, 12)  # 16 + 24 + 12 + 12 = 64 channels
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        # HINT: F.global_avg_pool2d(x) is (N, C, 1, 1); .flatten(1) makes it (N, C).
        # HINT: self.training is True after model.train() and False after model.eval().
        ### BEGIN SOLUTION
        a = self.inception_a(self.stem(x))  # (N, 32, H, W)
        features = F.global_avg_pool2d(self.inception_b(a)).flatten(1)  # (N, 64)
        logits = self.fc(self.dropout(features))  # (N, num_classes)
        if self.training:
            return logits, self.aux(a)
        return logits
        ### END SOLUTION


def main() -> None:
    """The slide's comparison for inception (3a) at 28 x 28 x 192."""
    naive = naive_weights(192, 64, 128, 32)
    reduced = inception_weights(192, 64, 96, 128, 16, 32, 32)
    print(
        f"naive:   {naive:,} weights, {macs(naive, 28, 28) / 1e6:.0f}M "
        "multiply-adds, 416 channels out"
    )
    print(
        f"reduced: {reduced:,} weights ({reduced / 1024:.1f}K, the table's 159K), "
        f"{macs(reduced, 28, 28) / 1e6:.0f}M multiply-adds (the table's 128M), 256 channels out"
    )


if __name__ == "__main__":
    main()
