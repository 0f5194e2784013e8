"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), the baseline of GoogLeNet and VGG.

Five convolutions (11x11/4, 5x5, then three 3x3), three max pools, three fully connected layers
with dropout: the network whose 60 million parameters GoogLeNet's paper compares itself with
(slide "GoogLeNet (1)": "much deeper, but fewer parameters than AlexNet").

The layout is torchvision's ``alexnet`` (the single-GPU "one weird trick" variant: 64, 192, 384,
256, 256 filters), so ``state_dict()`` keys and shapes are the same (``features.0.weight``, ...,
``classifier.6.bias``) and the parameter count is torchvision's: 61,100,840 at 1000 classes, of
which 58,631,144 (96%) are in the three fully connected layers. As in VGG, an
``AdaptiveAvgPool2d((6, 6))`` brings the last feature map to 6x6 at any input size (at 224x224 it
is already 6x6).

Shapes at 224x224: 3 -> 64 x 55 x 55 -> pool 27 -> 192 x 27 x 27 -> pool 13 -> 384, 256, 256 x 13 x
13
-> pool 6 -> 9216 -> 4096 -> 4096 -> num_classes.
"""

from __future__ import annotations

from scratchnet import nn
from scratchnet.nn.functional import flatten
from scratchnet.tensor import Tensor

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """AlexNet with torchvision's layout; ``dropout`` before each of the two hidden FC layers."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),  # (N, 64, 55, 55)
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # (N, 64, 27, 27): overlapping pooling
            nn.Conv2d(64, 192, kernel_size=5, padding=2),  # (N, 192, 27, 27)
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # (N, 192, 13, 13)
            nn.Conv2d(192, 384, kernel_size=3, padding=1),  # (N, 384, 13, 13)
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),  # (N, 256, 13, 13)
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),  # (N, 256, 13, 13)
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # (N, 256, 6, 6)
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))  # a no-op at 224x224
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, num_classes) logits; H, W >= 63 (the smallest the pools accept)."""
        x = self.features(x)  # (N, 256, 6, 6) at 224x224
        x = self.avgpool(x)  # (N, 256, 6, 6)
        x = flatten(x, 1)  # (N, 9216)
        return self.classifier(x)  # (N, num_classes)


def alexnet(num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    """AlexNet as torchvision builds it; 61,100,840 parameters at 1000 classes."""
    return AlexNet(num_classes=num_classes, dropout=dropout)
