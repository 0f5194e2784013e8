"""The benchmark's networks, built twice: in scratchnet and in PyTorch, with the same weights.

``pair(name)`` returns ``(scratchnet_model, torch_model, input_shape)``. The torch twin is built
from torchvision where torchvision has the network (VGG, ResNet-50: scratchnet uses torchvision's
module names, so the state_dict copies across unchanged), or here (the small CNN, the CIFAR
ResNet-20 with option-A shortcuts), with the same module names. Copying the weights makes both
compute the same function, so their times are for the same work.
"""

from __future__ import annotations

import numpy as np

from scratchnet import models, nn


def small_cnn(nn_module) -> object:
    """conv32-pool-conv64-pool-fc128-fc10 for 1x28x28 images, in either library's ``nn``."""
    return nn_module.Sequential(
        nn_module.Conv2d(1, 32, 3, padding=1),
        nn_module.ReLU(),
        nn_module.MaxPool2d(2),  # 28 -> 14
        nn_module.Conv2d(32, 64, 3, padding=1),
        nn_module.ReLU(),
        nn_module.MaxPool2d(2),  # 14 -> 7
        nn_module.Flatten(),
        nn_module.Linear(64 * 7 * 7, 128),
        nn_module.ReLU(),
        nn_module.Linear(128, 10),
    )


def torch_resnet20(torch):
    """ResNet-20 for CIFAR (He et al. 2015, option A shortcuts) with scratchnet's module names."""
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int):
            super().__init__()
            self.conv1 = tnn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(c_out)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(c_out)
            self.pad = c_out - c_in  # option A: every other pixel, zero channels appended

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            shortcut = x
            if self.pad:
                shortcut = tnn.functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.pad))
            return self.relu(out + shortcut)

    class ResNet20(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(16)
            self.relu = tnn.ReLU(inplace=True)
            widths, c_in = (16, 32, 64), 16
            for stage, width in enumerate(widths, start=1):
                blocks = [
                    Block(c_in if i == 0 else width, width, 2 if (i == 0 and stage > 1) else 1)
                    for i in range(3)
                ]
                setattr(self, f"layer{stage}", tnn.Sequential(*blocks))
                c_in = width
            self.avgpool = tnn.AdaptiveAvgPool2d(1)
            self.fc = tnn.Linear(64, 10)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet20()


def pair(name: str, torch):
    """(scratchnet model, torch model or None, input shape) for a benchmark network."""
    if name == "small_cnn":
        mine, shape = small_cnn(nn), (64, 1, 28, 28)
        theirs = small_cnn(torch.nn) if torch else None
    elif name == "resnet20":
        mine, shape = models.resnet20(), (64, 3, 32, 32)
        theirs = torch_resnet20(torch) if torch else None
    elif name == "vgg11_bn":
        mine, shape = models.vgg11_bn(num_classes=10), (16, 3, 64, 64)
        theirs = _torchvision(torch, "vgg11_bn", num_classes=10)
    elif name in ("vgg16", "resnet50"):
        mine, shape = getattr(models, name)(), (1, 3, 224, 224)
        theirs = _torchvision(torch, name)
    else:
        raise ValueError(name)
    if theirs is not None:
        state = {
            key: torch.from_numpy(np.array(_array(value)))
            for key, value in mine.state_dict().items()
        }
        theirs.load_state_dict(state, strict=True)
    return mine, theirs, shape


def _torchvision(torch, name: str, **kwargs):
    if torch is None:
        return None
    try:
        import torchvision
    except ImportError:
        return None
    return getattr(torchvision.models, name)(**kwargs)


def _array(value) -> np.ndarray:
    return np.asarray(getattr(value, "data", value))
