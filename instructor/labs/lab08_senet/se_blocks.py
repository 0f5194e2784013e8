"""Lab 8: the squeeze-and-excitation block and its four integration designs.

A convolution mixes channels only within its small window. The SE block (Hu et al. 2018) looks at
the whole image once per channel and re-weights the channels by how useful each one is for THIS
input (slides "Attentions (2)-(3)"):

    squeeze     z_c = mean over H x W of u_c                    (N, C)    global average pooling
    excitation  s = sigmoid(W2 relu(W1 z)),  W1: C/r x C,  W2: C x C/r   (N, C), each in (0, 1)
    scale       x~_c = s_c * u_c                                (N, C, H, W)

It costs about 2C^2/r weights. Where in a residual block should it go? The paper compares four
places (slide "Attentions (6)"): on the residual branch before the addition (standard), at the start
of the branch (SE-PRE), after the addition (SE-POST) and on the identity branch (SE-Identity).

Check your work:  python -m scratchnet.labs check lessons/lab08_senet
Compare designs:  python lessons/lab08_senet/se_blocks.py          (trains five small nets on the
digits)
"""

from __future__ import annotations

import numpy as np

import scratchnet as sn
from scratchnet import Tensor, nn, optim
from scratchnet.nn import functional as F

# =====================================================================================
# TASK 8.1  The SE block
# =====================================================================================


class SEBlock(nn.Module):
    """Squeeze (global average pooling) - excitation (``fc1``: C -> C/r, ReLU, ``fc2``: C/r -> C,
    sigmoid) - scale. The hidden width is ``max(channels // reduction, 1)``.

    (N, C, H, W) -> (N, C, H, W). Keeps the last excitation ``s`` (N, C) as a NumPy array in
    ``self.last_excitation``, for looking at it after a forward pass.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.last_excitation = None
        ### BEGIN SOLUTION
        hidden = max(channels // reduction, 1)
        self.fc1 = nn.Linear(channels, hidden)  # W1: the bottleneck, C -> C/r
        self.fc2 = nn.Linear(hidden, channels)  # W2: back to C
        ### END SOLUTION

    def forward(self, u: Tensor) -> Tensor:
        # HINT: F.global_avg_pool2d(u) is (N, C, 1, 1); .flatten(1) gives z (N, C).
        # HINT: reshape s to (N, C, 1, 1) so that it broadcasts over H and W.
        ### BEGIN SOLUTION
        N, C = u.shape[:2]
        z = F.global_avg_pool2d(u).flatten(1)  # (N, C)
        s = F.sigmoid(self.fc2(F.relu(self.fc1(z))))  # (N, C), in (0, 1)
        self.last_excitation = s.numpy().copy()
        return u * s.reshape(N, C, 1, 1)  # channel c scaled by s_c
        ### END SOLUTION


# =====================================================================================
# TASK 8.2  What an SE block costs, and SE-ResNet-50's parameters (slide "Attentions (5)")
# =====================================================================================

RESNET50_PARAMS = 25_557_032  # torchvision's ResNet-50, the table's "original" 25.6M
# SE-ResNet-50 puts one SE block in every bottleneck block, on its 4 * channels output:
RESNET50_BLOCKS = [
    (3, 256),
    (4, 512),
    (6, 1024),
    (3, 2048),
]  # (blocks in the stage, output channels)


def se_params(channels: int, reduction: int) -> int:
    """Parameters of ``SEBlock(channels, reduction)``: both FC layers' weights and biases."""
    ### BEGIN SOLUTION
    hidden = max(channels // reduction, 1)
    return channels * hidden + hidden + hidden * channels + channels
    ### END SOLUTION


def se_resnet50_params(reduction: int) -> int:
    """Parameters of SE-ResNet-50 with reduction ratio r:
    ResNet-50's plus one SE block per bottleneck."""
    ### BEGIN SOLUTION
    return RESNET50_PARAMS + sum(
        blocks * se_params(channels, reduction) for blocks, channels in RESNET50_BLOCKS
    )
    ### END SOLUTION


# =====================================================================================
# TASK 8.3  The four integration designs (slide "Attentions (6)")
# =====================================================================================

DESIGNS = ("none", "standard", "pre", "post", "identity")


class SEResidualBlock(nn.Module):
    """A residual block with an identity shortcut (``channels`` in and out, stride 1) and an SE
    block placed by ``design``, with F the ``residual_branch`` and SE the block ``se``:

        "none"      (a) y = relu(F(x) + x)            (no SE block: ``self.se = None``)
        "standard"  (b) y = relu(SE(F(x)) + x)
        "pre"       (c) y = relu(F(SE(x)) + x)
        "post"      (d) y = SE(relu(F(x) + x))
        "identity"  (e) y = relu(F(x) + SE(x))
    """

    def __init__(self, channels: int, design: str = "standard", reduction: int = 4) -> None:
        super().__init__()
        if design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
        self.design = design
        self.residual_branch = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        ### BEGIN SOLUTION
        self.se = None if design == "none" else SEBlock(channels, reduction)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        branch_input = self.se(x) if self.design == "pre" else x
        out = self.residual_branch(branch_input)  # F(.)
        if self.design == "standard":
            out = self.se(out)
        identity = self.se(x) if self.design == "identity" else x
        out = F.relu(out + identity)
        return self.se(out) if self.design == "post" else out
        ### END SOLUTION


def small_se_net(design: str, width: int = 16, num_classes: int = 10) -> nn.Sequential:
    """A stem and two SE residual blocks for 8x8 digits: for comparing the designs."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        SEResidualBlock(width, design),
        SEResidualBlock(width, design),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, num_classes),
    )


def main(steps: int = 300) -> None:
    """Train one small net per design on the digits; print the training and test accuracy."""
    from scratchnet.data import digits

    images, labels = digits("train").arrays
    test_images, test_labels = digits("test").arrays
    for design in DESIGNS:
        sn.manual_seed(0)
        model = small_se_net(design)
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
        rng = np.random.default_rng(0)
        for _ in range(steps):
            batch = rng.choice(len(images), 32, replace=False)
            loss = F.cross_entropy(model(sn.tensor(images[batch])), sn.tensor(labels[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with sn.no_grad():
            accuracy = float(
                (model(sn.tensor(test_images)).numpy().argmax(1) == test_labels).mean()
            )
        print(f"{design:<9} last loss {loss.item():.3f}   test accuracy {accuracy:.3f}", flush=True)


if __name__ == "__main__":
    main()
