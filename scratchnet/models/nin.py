"""Network In Network (Lin, Chen & Yan 2013), slides "GoogLeNet (2)-(4)".

A conventional conv layer is a *linear* filter followed by a nonlinearity. NIN replaces it with an
**mlpconv** layer: a small multilayer perceptron slid over the image. A conv of size k x k followed
by two 1x1 convs is exactly such an MLP applied to every k x k patch (the 1x1 convs are the MLP's
hidden and output layers, shared across positions), so ``MLPConv`` is three convs, each followed by
ReLU.

The second idea is the head: no fully connected layers. The last mlpconv outputs one feature map
per class, and **global average pooling** turns each map into that class's score (slide
"GoogLeNet (3)"): nothing to learn, nothing to overfit. GoogLeNet took both ideas: 1x1 convs to
reduce channels (slide "GoogLeNet (4)") and average pooling before its single linear layer.

Two networks:

- ``nin()``, for ImageNet (224x224), the Caffe Model Zoo's NIN-ImageNet model: mlpconvs of
  11x11/4 (96), 5x5 (256), 3x3 (384), 3x3 (1024 -> num_classes); 7,595,176 parameters at 1000
  classes.
- ``nin_cifar()``, for 32x32 images, the paper's CIFAR-10 network (Sections 4.1-4.2: three mlpconvs)
  with
  the widths of the authors' released Caffe configuration: 5x5 (192-160-96), 5x5 (192-192-192),
  3x3 (192-192-num_classes); 966,986 parameters at 10 classes.

The paper follows every mlpconv but the last with a max pool that halves the grid (3x3, stride 2 in
the released models) and applies dropout (0.5) "on the outputs of all but the last mlpconv layers"
(Section 4.1); we do both in both networks (the Caffe NIN-ImageNet model keeps only the dropout
before the last block; dropout has no parameters, so the counts agree). The pools use
``ceil_mode=True`` as Caffe does: 224 -> 54 -> 27 -> 13 -> 6 and 32 -> 16 -> 8.
"""

from __future__ import annotations

from scratchnet import nn
from scratchnet.nn.functional import flatten
from scratchnet.tensor import Tensor

__all__ = ["NIN", "MLPConv", "nin", "nin_cifar"]


class MLPConv(nn.Module):
    """One mlpconv layer: k x k conv, then two 1x1 convs (the "micro network"), ReLU after each.

    Parameters
    ----------
    in_channels : int
        Channels of the input.
    channels : tuple of 3 ints
        Output channels of the k x k conv and of the two 1x1 convs; the last is the block's output.
    kernel_size, stride, padding : int
        Of the first (spatial) conv; the 1x1 convs have stride 1 and no padding.

    Notes
    -----
    Shapes: (N, in_channels, H, W) -> (N, channels[2], OH, OW), OH = (H + 2 * padding - kernel_size)
    // stride + 1. The attribute names ``conv``, ``cccp1``, ``cccp2`` are the Caffe model's
    ("cascaded cross channel parametric pooling", the paper's name for the 1x1 layers).
    """

    def __init__(
        self,
        in_channels: int,
        channels: tuple[int, int, int],
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
    ) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.conv = nn.Conv2d(in_channels, c1, kernel_size, stride=stride, padding=padding)
        self.cccp1 = nn.Conv2d(c1, c2, kernel_size=1)
        self.cccp2 = nn.Conv2d(c2, c3, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.conv(x))  # (N, c1, OH, OW)
        x = self.relu(self.cccp1(x))  # (N, c2, OH, OW): a hidden layer of the per-pixel MLP
        return self.relu(self.cccp2(x))  # (N, c3, OH, OW)


class NIN(nn.Module):
    """A stack of mlpconv layers with max pooling and dropout between them, and a GAP head.

    Parameters
    ----------
    blocks : list of (channels, kernel_size, stride, padding)
        One entry per mlpconv; the last one's last channel count is the number of classes.
    dropout : float
        Dropout probability after every mlpconv but the last (0.5 in the paper).
    in_channels : int
        Channels of the input image.

    Notes
    -----
    Shapes: (N, 3, H, W) -features-> (N, num_classes, h, w) -avgpool-> (N, num_classes, 1, 1)
    -flatten-> (N, num_classes). The output is the logits (no softmax), as in every model here.
    He initialisation (fan_out, as torchvision's VGG/ResNet) and zero biases.
    """

    def __init__(
        self,
        blocks: list[tuple[tuple[int, int, int], int, int, int]],
        dropout: float = 0.5,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (channels, kernel_size, stride, padding) in enumerate(blocks):
            layers.append(
                MLPConv(in_channels, channels, kernel_size, stride=stride, padding=padding)
            )
            if i < len(blocks) - 1:  # the last mlpconv feeds global average pooling directly
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
                layers.append(nn.Dropout(p=dropout))
            in_channels = channels[2]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))  # global average pooling: one score per map
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # (N, num_classes, h, w)
        x = self.avgpool(x)  # (N, num_classes, 1, 1)
        return flatten(x, 1)  # (N, num_classes)


def nin(num_classes: int = 1000, dropout: float = 0.5) -> NIN:
    """NIN for 224x224 ImageNet images (Caffe's NIN-ImageNet), 7,595,176 parameters at 1000 classes.

    Spatial sizes at 224: 54 (11x11/4) -> 27 -> 27 -> 13 -> 13 -> 6 -> 6 -> GAP.
    """
    blocks = [
        ((96, 96, 96), 11, 4, 0),
        ((256, 256, 256), 5, 1, 2),
        ((384, 384, 384), 3, 1, 1),
        ((1024, 1024, num_classes), 3, 1, 1),
    ]
    return NIN(blocks, dropout=dropout)


def nin_cifar(num_classes: int = 10, dropout: float = 0.5) -> NIN:
    """NIN for 32x32 CIFAR images (the paper's CIFAR-10 network), 966,986 parameters at 10 classes.

    Spatial sizes at 32: 32 -> 16 -> 16 -> 8 -> 8 -> GAP.
    """
    blocks = [
        ((192, 160, 96), 5, 1, 2),
        ((192, 192, 192), 5, 1, 2),
        ((192, 192, num_classes), 3, 1, 1),
    ]
    return NIN(blocks, dropout=dropout)
