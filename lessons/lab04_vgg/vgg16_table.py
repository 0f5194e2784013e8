"""Lab 4: VGG16 from its configuration table, and its memory and parameter table.

VGG (Simonyan & Zisserman 2014) is one idea repeated: 3x3 convolutions with stride 1 and padding 1
(the size is kept), a 2x2 max pool with stride 2 after each stage (the size is halved), then three
fully connected layers (slides "VGGNet (1)-(3)"). So the whole family fits in one table, the
paper's Table 1: a list per network, an int for a 3x3 conv with that many filters, "M" for a pool.

You will write that table, build the network from it, and recompute the slide's memory and
parameter count of VGG16 row by row: 138M parameters, most of them in the first fully connected
layer, and most of the memory in the first convolutions.

Check your work:  python -m scratchnet.labs check lessons/lab04_vgg
Print your table:  python lessons/lab04_vgg/vgg16_table.py
"""

from __future__ import annotations

from typing import NamedTuple

from scratchnet import Tensor, nn

# =====================================================================================
# TASK 4.1  Why 3x3: a stack of small convolutions vs one large one (slide "VGGNet (2)")
# =====================================================================================


def stack_receptive_field(layers: int, kernel: int = 3) -> int:
    """The receptive field (in pixels along one axis) of ``layers`` stacked convolutions of size
    ``kernel``, stride 1: how wide a patch of the input one output of the last layer sees."""
    # HINT: one 3x3 conv sees 3 pixels; each further one widens the view by kernel - 1.
    raise NotImplementedError("TASK 4.1 (Why 3x3): complete stack_receptive_field() in vgg16_table.py")


def stack_weights(channels: int, layers: int, kernel: int = 3) -> int:
    """Weights (no biases) of ``layers`` stacked ``kernel`` x ``kernel`` convolutions, each with
    ``channels`` input and ``channels`` output channels. The slide's 3 x (3 x 3 x C) is per output
    channel; here count them all."""
    raise NotImplementedError("TASK 4.1 (Why 3x3): complete stack_weights() in vgg16_table.py")


# =====================================================================================
# TASK 4.2  The configuration table (the paper's Table 1, configurations A, B, D, E)
# =====================================================================================


def vgg_config(depth: int) -> list[int | str]:
    """The layers of VGG-``depth`` (11, 13, 16 or 19 weight layers) before the classifier.

    An int c is a 3x3 convolution with c output channels (stride 1, padding 1, then ReLU); "M" is a
    2x2 max pool with stride 2. Every network has five stages with 64, 128, 256, 512, 512 channels,
    each ending with "M"; the depth counts the convs and the three fully connected layers.
    """
    # HINT: VGG16 (configuration D) has 2, 2, 3, 3,
    # 3 convs in its five stages: 13 convs + 3 FC = 16.
    # HINT: raise ValueError for a depth that is not 11, 13, 16 or 19.
    raise NotImplementedError("TASK 4.2 (The configuration table): complete vgg_config() in vgg16_table.py")


# =====================================================================================
# TASK 4.3  The convolutional part, built from a configuration
# =====================================================================================


def make_features(config: list[int | str], in_channels: int = 3) -> nn.Sequential:
    """One ``nn.Sequential``: for an int c, ``Conv2d(in, c, 3, padding=1)`` then ``ReLU()``; for
    "M", ``MaxPool2d(2, 2)``. Keeping them in one flat Sequential numbers the layers as torchvision
    does (``features.0.weight`` is the first conv), so its pretrained weights would load."""
    raise NotImplementedError("TASK 4.3 (The convolutional part, built from a configuration): complete make_features() in vgg16_table.py")


# =====================================================================================
# TASK 4.4  The whole network
# =====================================================================================


class VGG(nn.Module):
    """``features`` (from the config), then flatten, then ``classifier``:

        Linear(C * s * s, hidden) - ReLU - Dropout(0.5)
        - Linear(hidden, hidden) - ReLU - Dropout(0.5)
        - Linear(hidden, num_classes)

    where C is the last conv's channel count and s = image_size / 2^(number of pools) the final
    feature-map size (7 for VGG16 at 224: 7 x 7 x 512 = 25,088 inputs to the first FC layer).
    ``image_size`` and ``hidden`` (4096 in the paper) can be made small for experiments.
    """

    def __init__(
        self,
        config: list[int | str],
        num_classes: int = 1000,
        image_size: int = 224,
        hidden: int = 4096,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        raise NotImplementedError("TASK 4.4 (The whole network): complete VGG.__init__() in vgg16_table.py")

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("TASK 4.4 (The whole network): complete VGG.forward() in vgg16_table.py")


# =====================================================================================
# TASK 4.5  The memory and parameter table (slide "VGGNet (3)")
# =====================================================================================


class Row(NamedTuple):
    """One row of the slide's table, e.g. ``CONV3-64: [224x224x64] memory: 3.2M params: 1,728``."""

    name: str  # "INPUT", "CONV3-64", "POOL2", "FC"
    shape: tuple[
        int, int, int
    ]  # (H, W, C) of the output, as the slide writes it; FC rows are (1, 1, units)
    memory: int  # number of values in the output (H * W * C)
    params: int  # weights of the layer, NOT counting biases (as the slide)


def vgg_table(
    config: list[int | str],
    image_size: int = 224,
    in_channels: int = 3,
    hidden: int = 4096,
    num_classes: int = 1000,
) -> list[Row]:
    """The slide's table for any configuration: one Row for the input, each conv, each pool and each
    of the three FC layers, in order. Computed by arithmetic alone: no network is built."""
    # HINT: walk the config keeping (H, W, C). A 3x3 conv with c filters has 3*3*C*c weights and
    #       keeps H, W; a pool halves H and W. The FC layers are C*H*W -> hidden -> hidden ->
    #       classes.
    raise NotImplementedError("TASK 4.5 (The memory and parameter table): complete vgg_table() in vgg16_table.py")


def format_table(rows: list[Row]) -> str:
    """The table in the slide's format, with the totals at the bottom."""
    lines = []
    for row in rows:
        H, W, C = row.shape
        lines.append(
            f"{row.name + ':':<11} [{H}x{W}x{C}]".ljust(28)
            + f"memory: {row.memory:>11,}   params: {row.params:>12,}"
        )
    memory, params = sum(r.memory for r in rows), sum(r.params for r in rows)
    lines.append(
        f"TOTAL memory: {memory:,} values x 4 bytes = "
        f"{memory * 4 / 2**20:.1f} MiB / image (forward only)"
    )
    lines.append(f"TOTAL params: {params:,} ({params / 1e6:.1f}M; the slide: 138M)")
    return "\n".join(lines)


def main() -> None:
    """Print VGG16's table as the slide does, and where the parameters are."""
    rows = vgg_table(vgg_config(16))
    print(format_table(rows))
    params = sum(r.params for r in rows)
    memory = sum(r.memory for r in rows)
    fc = sum(r.params for r in rows if r.name == "FC")
    early = sum(r.memory for r in rows[:4])  # the input, the first stage's two convs and its pool
    print(
        f"\nThe FC layers hold {fc / params:.0%} of the parameters; the input and the first stage "
        f"{early / memory:.0%} of the memory."
    )


if __name__ == "__main__":
    main()
