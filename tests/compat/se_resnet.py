"""A squeeze-and-excitation block added to a torchvision-style ResNet (the usual SE-ResNet repository layout)."""

import numpy as np
import torch
from corpus_io import report, share_initial_state
from torch import nn
from torchvision.models import ResNet


class SELayer(nn.Module):
    def __init__(self, channel, reduction=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channel // reduction, channel, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)


class SEBasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self,
        inplanes,
        planes,
        stride=1,
        downsample=None,
        groups=1,
        base_width=64,
        dilation=1,
        norm_layer=None,
        *,
        reduction=16,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.se = SELayer(planes, reduction)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        residual = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)
        out = self.se(out)

        if self.downsample is not None:
            residual = self.downsample(x)

        out += residual
        out = self.relu(out)

        return out


def se_resnet10(num_classes=10):
    model = ResNet(SEBasicBlock, [1, 1, 1, 1], num_classes=num_classes)
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    return model


model = se_resnet10()
share_initial_state(model)
rng = np.random.default_rng(3)
x = torch.from_numpy(rng.standard_normal((4, 3, 32, 32)).astype(np.float32))
target = torch.from_numpy(rng.integers(0, 10, 4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
losses = []
for step in range(3):
    optimizer.zero_grad()
    output = model(x)
    loss = nn.functional.cross_entropy(output, target)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
model.eval()
top2 = model(x).topk(2, dim=1).indices
report(
    losses=losses,
    top2=top2.tolist(),
    se_params=sum(p.numel() for n, p in model.named_parameters() if ".se." in n),
)
