"""Lab 6: the residual block, and the degradation experiment (plain vs residual networks).

He et al. (2015) saw that a deeper plain network (a 56-layer stack of convolutions) has a HIGHER
training error than a shallower one (20 layers): not overfitting, since it is the training error,
but an optimisation problem they called degradation (slide "ResNet (1)"). Their fix: let each block
learn a residual F(x) = H(x) - x and add its input back, y = F(x) + x (slide "ResNet (2)"). A block
that has nothing useful to add can then stay close to the identity, and the gradient reaches the
early layers through the shortcuts unchanged (slide "ResNet (5)").

You will write the basic block and the bottleneck block (slide "ResNet (4)"), a small network of
either kind for the 8x8 digits bundled with scratchnet, the training loop, and then compare plain
and residual networks of growing depth.

Check your work:    python -m scratchnet.labs check lessons/lab06_resnet
The experiment:     python lessons/lab06_resnet/residual.py        (a few minutes on a laptop)
"""

from __future__ import annotations

import argparse

import numpy as np

import scratchnet as sn
from scratchnet import Tensor, nn, optim
from scratchnet.nn import functional as F


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding 1, no bias (the batch norm after it has one)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution, no bias: changes the number of channels (and, with a stride, the size)."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


# =====================================================================================
# TASK 6.1  The basic block (slide "ResNet (4)", left), residual or plain
# =====================================================================================


class BasicBlock(nn.Module):
    """conv3x3(stride) - BN - ReLU - conv3x3 - BN, then (+ shortcut) and ReLU.

    Attributes: ``conv1``, ``bn1``, ``conv2``, ``bn2``, and ``shortcut``:

    * ``residual=False``: a plain block, ``shortcut = None`` and nothing is added;
    * ``residual=True`` and the shape is kept (stride 1, in_channels == channels):
      ``shortcut = None`` and x itself is added (the identity shortcut);
    * ``residual=True`` and the shape changes: ``shortcut = nn.Sequential(conv1x1(in, channels,
      stride),
      BatchNorm2d(channels))``, a projection that makes x the shape of F(x) (the paper's option B).

    (N, in_channels, H, W) -> (N, channels, H / stride, W / stride).
    """

    def __init__(
        self, in_channels: int, channels: int, stride: int = 1, residual: bool = True
    ) -> None:
        super().__init__()
        self.residual = residual
        ### BEGIN SOLUTION
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = None
        if residual and (stride != 1 or in_channels != channels):
            self.shortcut = nn.Sequential(
                conv1x1(in_channels, channels, stride), nn.BatchNorm2d(channels)
            )
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # HINT: F(x) = bn2(conv2(relu(bn1(conv1(x)))));
        # then y = relu(F(x) + shortcut(x)) or relu(F(x)).
        ### BEGIN SOLUTION
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))  # F(x)
        if self.residual:
            out = out + (x if self.shortcut is None else self.shortcut(x))  # F(x) + x
        return F.relu(out)
        ### END SOLUTION


# =====================================================================================
# TASK 6.2  The bottleneck block (slide "ResNet (4)", right)
# =====================================================================================


class Bottleneck(nn.Module):
    """conv1x1 (reduce to ``channels``) - BN - ReLU - conv3x3(stride) - BN - ReLU - conv1x1
    (expand to 4 * channels) - BN, plus the shortcut, then ReLU. ResNet-50/101/152's block.

    Attributes ``conv1``, ``bn1``, ``conv2``, ``bn2``, ``conv3``, ``bn3``, ``shortcut``
    (a projection as in BasicBlock when stride != 1 or in_channels != 4 * channels, else None).

    (N, in_channels, H, W) -> (N, 4 * channels, H / stride, W / stride).
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        out_channels = channels * self.expansion
        self.conv1 = conv1x1(in_channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels)
            )
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        out = F.relu(self.bn1(self.conv1(x)))  # (N, channels, H, W): the 1x1 reduces
        out = F.relu(self.bn2(self.conv2(out)))  # (N, channels, H/s, W/s): the 3x3 on few channels
        out = self.bn3(self.conv3(out))  # (N, 4 * channels, H/s, W/s): the 1x1 expands
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))
        ### END SOLUTION


# =====================================================================================
# TASK 6.3  A small network of basic blocks, plain or residual
# =====================================================================================


def make_net(
    blocks: int, residual: bool, width: int = 8, num_classes: int = 10, in_channels: int = 1
) -> nn.Sequential:
    """The CIFAR ResNets' layout, sized for 8x8 digits, as one ``nn.Sequential``:

        stem: conv3x3(in_channels, width) - BatchNorm2d - ReLU                       (8x8)
        stage 1: ``blocks`` BasicBlocks at ``width`` channels                       (8x8)
        stage 2: ``blocks`` BasicBlocks at 2 * width, the first one with stride 2  (4x4)
        AdaptiveAvgPool2d(1) - Flatten - Linear(2 * width, num_classes)

    It has 2 + 4 * blocks weight layers: blocks = 4 gives 18, blocks = 8 gives 34.
    """
    ### BEGIN SOLUTION
    layers: list[nn.Module] = [conv3x3(in_channels, width), nn.BatchNorm2d(width), nn.ReLU()]
    layers += [BasicBlock(width, width, 1, residual) for _ in range(blocks)]
    layers += [
        BasicBlock(width if i == 0 else 2 * width, 2 * width, 2 if i == 0 else 1, residual)
        for i in range(blocks)
    ]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes)]
    return nn.Sequential(*layers)
    ### END SOLUTION


# =====================================================================================
# TASK 6.4  The training loop
# =====================================================================================


def train(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    steps: int,
    lr: float = 0.05,
    batch_size: int = 32,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` with SGD (momentum 0.9, weight decay 1e-4)
    on random batches; return every step's loss.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W);  labels : ndarray, shape (N,) int
    steps : int
        Number of parameter updates, each on ``batch_size`` images drawn without replacement
        by ``np.random.default_rng(seed)``.
    """
    # HINT: the four lines of every training step: loss = F.cross_entropy(model(x), y);
    #       optimizer.zero_grad(); loss.backward(); optimizer.step().
    # HINT: call model.train() first (batch norm uses the batch's statistics), and keep loss.item().
    ### BEGIN SOLUTION
    model.train()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        batch = rng.choice(len(images), batch_size, replace=False)
        loss = F.cross_entropy(model(sn.tensor(images[batch])), sn.tensor(labels[batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
    ### END SOLUTION


# =====================================================================================
# The experiment (no task: run it once everything above passes)
# =====================================================================================


def degradation_experiment(
    depths: tuple[int, ...] = (1, 4, 8), steps: int = 400, seed: int = 0, width: int = 8
) -> dict[str, list[float]]:
    """Train a plain and a residual network for every ``blocks`` in ``depths``, from the same seed,
    and print the training loss of each (mean of the last 50 steps); return every run's loss
    curve."""
    from scratchnet.data import digits

    images, labels = digits("train").arrays
    curves = {}
    for blocks in depths:
        for residual in (False, True):
            sn.manual_seed(seed)
            name = f"{'residual' if residual else 'plain'}-{2 + 4 * blocks}"
            curves[name] = train(
                make_net(blocks, residual, width), images, labels, steps, seed=seed
            )
            print(f"{name:<12} training loss {np.mean(curves[name][-50:]):.4f}", flush=True)
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Plain vs residual networks on the digits (slide 'ResNet (1)')."
    )
    parser.add_argument(
        "--depths", default="1,4,8", help="blocks per stage; layers = 2 + 4 * blocks"
    )
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument(
        "--plot",
        metavar="PATH",
        help="also draw the loss curves into this image (needs matplotlib)",
    )
    args = parser.parse_args()
    curves = degradation_experiment(tuple(int(d) for d in args.depths.split(",")), args.steps)
    if args.plot:
        from scratchnet.viz import plot_curves

        window = 20  # a moving average: one batch's loss is noisy
        smooth = {
            name: np.convolve(c, np.ones(window) / window, mode="valid").tolist()
            for name, c in curves.items()
        }
        styles = {name: "--" if name.startswith("plain") else "-" for name in curves}
        plot_curves(
            smooth,
            args.plot,
            xlabel="step",
            ylabel="training loss",
            logy=True,
            styles=styles,
            title="Plain (dashed) vs residual (solid) networks on the digits",
        )
        print(f"curves written to {args.plot}")


if __name__ == "__main__":
    main()
