"""A torchvision ResNet built from a residual block of one's own, trained a few steps on CIFAR-shaped data."""

import numpy as np
import torch
import torch.nn as nn
from corpus_io import report, share_initial_state
from torchvision.models.resnet import ResNet


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class PreActBlock(nn.Module):
    """Pre-activation basic block (He et al. 2016), in torchvision's block protocol."""

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
    ):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self.bn1 = norm_layer(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        if self.downsample is not None:
            identity = self.downsample(x)
        return out + identity


model = ResNet(PreActBlock, [1, 1, 1, 1], num_classes=10)
share_initial_state(model)
device = "cuda" if torch.cuda.is_available() else "cpu"
model = model.to(device)

rng = np.random.default_rng(2)
images = torch.from_numpy(rng.standard_normal((8, 3, 32, 32)).astype(np.float32)).to(device)
labels = torch.from_numpy(rng.integers(0, 10, 8)).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
criterion = nn.CrossEntropyLoss()
losses = []
model.train()
for step in range(3):
    optimizer.zero_grad()
    loss = criterion(model(images), labels)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
model.eval()
with torch.no_grad():
    logits = model(images[:2])
report(
    losses=losses,
    logits=logits.cpu().numpy(),
    params=sum(p.numel() for p in model.parameters()),
    keys=list(model.state_dict().keys())[:8],
)
