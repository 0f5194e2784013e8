"""Lab 7: DenseNet's dense block and transition layer.

ResNet adds a block's input to its output: x_l = H_l(x_{l-1}) + x_{l-1}. DenseNet (Huang et al.
2017) concatenates instead, and every layer sees the feature maps of ALL the layers before it in
its block (slide "DenseNet (1)"):

    x_l = H_l([x_0, x_1, ..., x_{l-1}])
    H_l = BN - ReLU - conv1x1 (4k maps) - BN - ReLU - conv3x3 (k maps)

Each layer adds only k new channels (the growth rate, 32 in DenseNet-121), so the layers can be
narrow: features are reused rather than recomputed. Between blocks a transition layer (BN - ReLU -
conv1x1 - 2x2 average pool) halves the channels (compression 0.5) and the size.

You will write the layer, the block, the transition, the channel arithmetic of the table on slide
"DenseNet (2)" and the whole DenseNet-121, whose 7,978,856 parameters the checks count.

Check your work:  python -m scratchnet.labs check lessons/lab07_densenet
"""

from __future__ import annotations

from scratchnet import Tensor, cat, nn
from scratchnet.nn import functional as F

# =====================================================================================
# TASK 7.1  The dense layer H_l (DenseNet-B: with the 1x1 bottleneck)
# =====================================================================================


class DenseLayer(nn.Module):
    """BN - ReLU - conv1x1 (bn_size * growth_rate maps)
    - BN - ReLU - conv3x3 (growth_rate maps, padding 1).

    Attributes (torchvision's names): ``norm1``, ``conv1``, ``norm2``, ``conv2``; both convs have no
    bias. (N, in_channels, H, W) -> (N, growth_rate, H, W): only the NEW feature maps.
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # HINT: pre-activation order: normalise and activate BEFORE each convolution.
        ### BEGIN SOLUTION
        out = self.conv1(F.relu(self.norm1(x)))  # (N, bn_size * k, H, W)
        return self.conv2(F.relu(self.norm2(out)))  # (N, k, H, W)
        ### END SOLUTION


# =====================================================================================
# TASK 7.2  The dense block: every layer sees all the earlier feature maps
# =====================================================================================


class DenseBlock(nn.Module):
    """``num_layers`` DenseLayers in ``self.layers`` (an ``nn.ModuleList``); layer i gets
    in_channels + i * growth_rate channels, the block's input and every earlier layer's output.

    (N, in_channels, H, W) -> (N, in_channels + num_layers * growth_rate, H, W): the input and all
    the new maps, concatenated in order. ``self.out_channels`` holds that number.
    """

    def __init__(
        self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4
    ) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.layers = nn.ModuleList(
            [
                DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size)
                for i in range(num_layers)
            ]
        )
        self.out_channels = in_channels + num_layers * growth_rate
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # HINT: keep a list features = [x];
        # each layer takes cat(features, dim=1) and its output is appended.
        ### BEGIN SOLUTION
        features = [x]
        for layer in self.layers:
            features.append(layer(cat(features, dim=1)))  # x_l = H_l([x_0, ..., x_{l-1}])
        return cat(features, dim=1)
        ### END SOLUTION


# =====================================================================================
# TASK 7.3  The transition layer between blocks
# =====================================================================================


class Transition(nn.Sequential):
    """BN - ReLU - conv1x1 (out_channels, no bias) - AvgPool2d(2, stride 2), as one Sequential whose
    layers are named ``norm``, ``relu``, ``conv``, ``pool`` (torchvision's names).

    (N, in_channels, H, W) -> (N, out_channels, H / 2, W / 2).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        # HINT: nn.Sequential accepts a dict {name: module} to name its layers.
        ### BEGIN SOLUTION
        super().__init__(
            {
                "norm": nn.BatchNorm2d(in_channels),
                "relu": nn.ReLU(),
                "conv": nn.Conv2d(in_channels, out_channels, 1, bias=False),
                "pool": nn.AvgPool2d(2, stride=2),
            }
        )
        ### END SOLUTION


# =====================================================================================
# TASK 7.4  The channel arithmetic of the table (slide "DenseNet (2)")
# =====================================================================================


def densenet_channels(
    block_config: tuple[int, ...],
    growth_rate: int = 32,
    num_init_features: int = 64,
    compression: float = 0.5,
) -> list[tuple[int, int, int | None]]:
    """For every dense block: (channels in, channels out, channels after its transition).

    The first block gets the stem's ``num_init_features``; a block of L layers adds L * growth_rate;
    the transition after it keeps int(compression * channels); the last block has no transition
    (None). DenseNet-121, (6, 12, 24, 16):
    [(64, 256, 128), (128, 512, 256), (256, 1024, 512), (512, 1024, None)].
    """
    ### BEGIN SOLUTION
    rows: list[tuple[int, int, int | None]] = []
    channels = num_init_features
    for i, num_layers in enumerate(block_config):
        out = channels + num_layers * growth_rate
        after = int(out * compression) if i < len(block_config) - 1 else None
        rows.append((channels, out, after))
        channels = after if after is not None else out
    return rows
    ### END SOLUTION


# =====================================================================================
# TASK 7.5  The whole network
# =====================================================================================


class DenseNet(nn.Module):
    """DenseNet-BC (torchvision's layout, so its parameter count can be compared):

    ``features`` = Sequential of conv0 (7x7, stride 2, padding 3, no bias), norm0, relu0,
    pool0 (MaxPool2d(3, stride 2, padding 1)), then denseblock1, transition1, denseblock2, ...,
    denseblock{n} and a final norm5 (BatchNorm2d); ``classifier`` = Linear(channels, num_classes).
    Forward: features, ReLU, global average pooling, flatten, classifier.
    DenseNet-121 is ``DenseNet((6, 12, 24, 16))``.
    """

    def __init__(
        self,
        block_config: tuple[int, ...],
        growth_rate: int = 32,
        num_init_features: int = 64,
        num_classes: int = 1000,
        bn_size: int = 4,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        # HINT: densenet_channels(...) tells you every block's and transition's channel counts.
        ### BEGIN SOLUTION
        layers = {
            "conv0": nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=False),
            "norm0": nn.BatchNorm2d(num_init_features),
            "relu0": nn.ReLU(),
            "pool0": nn.MaxPool2d(3, stride=2, padding=1),
        }
        rows = densenet_channels(block_config, growth_rate, num_init_features)
        for i, (num_layers, (channels_in, channels_out, after)) in enumerate(
            zip(block_config, rows, strict=True)
        ):
            layers[f"denseblock{i + 1}"] = DenseBlock(num_layers, channels_in, growth_rate, bn_size)
            if after is not None:
                layers[f"transition{i + 1}"] = Transition(channels_out, after)
        final = rows[-1][1]
        layers["norm5"] = nn.BatchNorm2d(final)
        self.features = nn.Sequential(layers)
        self.classifier = nn.Linear(final, num_classes)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        features = F.relu(self.features(x))  # (N, C, H/32, W/32)
        return self.classifier(F.global_avg_pool2d(features).flatten(1))  # (N, num_classes)
        ### END SOLUTION


def main() -> None:
    """The channels of DenseNet-121..264 stage by stage, and their parameters."""
    for name, config in [
        ("121", (6, 12, 24, 16)),
        ("169", (6, 12, 32, 32)),
        ("201", (6, 12, 48, 32)),
        ("264", (6, 12, 64, 48)),
    ]:
        params = sum(p.numel() for p in DenseNet(config).parameters())
        print(f"DenseNet-{name}: {densenet_channels(config)}  {params:,} parameters")


if __name__ == "__main__":
    main()
