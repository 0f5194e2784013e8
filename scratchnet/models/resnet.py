"""ResNet (He et al. 2015, "Deep Residual Learning for Image Recognition"), slides "ResNet (1)-(5)".

The table of slide "ResNet (3)" (the paper's Table 1), one row per stage::

    conv1    7x7, 64, stride 2; 3x3 max pool, stride 2          112x112 -> 56x56
    layer1   blocks [2, 2, 2] (18), [3, 4, 6, 3] (34, 50), ...  56x56   (conv2_x in the paper)
    layer2   ... 128 channels, first block stride 2             28x28   (conv3_x)
    layer3   ... 256 channels, first block stride 2             14x14   (conv4_x)
    layer4   ... 512 channels, first block stride 2             7x7     (conv5_x)
    avgpool, fc 1000

``BasicBlock`` (two 3x3 convs, ResNet-18/34) and ``Bottleneck`` (1x1 reduce, 3x3, 1x1 expand x4,
ResNet-50/101/152) add their input back to their output: y = F(x) + x. Module names, parameter
shapes and initialisation follow torchvision, so ``resnet50().state_dict()`` has torchvision's keys.

Three switches reproduce the experiments of the lecture:

* ``shortcut``: ``"B"`` projection (1x1 conv + BN) where the shape changes, identity elsewhere
  (torchvision, the paper's ImageNet models); ``"A"`` zero-padding identity (parameter-free, the
  paper's CIFAR models); ``"none"``: no shortcut at all, the *plain* network of the degradation
  experiment (slide "ResNet (1)": the deeper plain net trains worse).
* ``stride_in_1x1`` (Bottleneck): ``False`` puts the stride-2 on the 3x3 conv (torchvision,
  "ResNet v1.5"); ``True`` puts it on the first 1x1 conv, as the paper did (fewer multiply-adds:
  3.8e9 vs 4.1e9 for ResNet-50, see ``scratchnet.summary``).
* ``variant``: where BN and ReLU sit around the addition, the five units of slide "ResNet (5)"
  (He et al. 2016, "Identity Mappings in Deep Residual Networks", Fig. 4). This file writes out
  unit (a), the original; ``preact_resnet.py`` writes out (b)-(e) beside it.

CIFAR-sized networks (``resnet56``) are in ``resnet_cifar.py``, pre-activation ones in
``preact_resnet.py``; both use the classes below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.tensor import Tensor

__all__ = [
    "RESIDUAL_VARIANTS",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "ZeroPadShortcut",
    "plain18",
    "plain34",
    "plain50",
    "plain101",
    "plain152",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
]

#: The residual units of slide "ResNet (5)" (He et al. 2016, Fig. 4 (a)-(e)), by the name
#: ``variant=`` takes: (a) original, (b) BN after addition, (c) ReLU before addition, (d) ReLU-only
#: pre-activation, (e) full pre-activation (the best in He et al. 2016). (a) is written out below;
#: (b)-(e) are subclasses in ``preact_resnet.py``, each with its own forward.
RESIDUAL_VARIANTS = ("original", "bn_after_add", "relu_before_add", "relu_preact", "full_preact")

#: Unit name -> (the unit built like BasicBlock, the one built like Bottleneck). (a) is entered
#: below its classes; ``preact_resnet.py`` enters (b)-(e) when it is imported, which importing
#: ``scratchnet.models`` does. A table rather than an import: (b)-(e) subclass the blocks of this
#: file, so this file must not import theirs (that would be an import cycle).
RESIDUAL_UNITS: dict[str, tuple[type, type]] = {}


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (the BN that follows has one)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias: mixes channels, changes their number (slide GoogLeNet (4))."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def inplace_relu() -> nn.ReLU:
    """The ReLU of every ResNet layer: in place, as torchvision's (so ``print(model)`` matches).

    Each one overwrites a tensor that nothing else reads -- a BN output, or the sum F(x) + x just
    made -- so it saves one activation-sized buffer per ReLU and changes no value or gradient
    (``tests/test_inplace.py`` checks the units against an out-of-place run). It is never applied
    to a block's input x: the shortcut still needs x (unit (d) uses ``F.relu`` there).
    """
    return nn.ReLU(inplace=True)


def _unit_class(block: type[_ResidualBlock], variant: str) -> type[_ResidualBlock]:
    """The residual unit ``variant`` built like ``block`` (``BasicBlock`` or ``Bottleneck``)."""
    if variant not in RESIDUAL_VARIANTS:
        raise ValueError(f"variant must be one of {RESIDUAL_VARIANTS}, got {variant!r}")
    basic, bottleneck = RESIDUAL_UNITS[variant]
    return bottleneck if issubclass(block, Bottleneck) else basic


class _ResidualBlock(nn.Module):
    """What ``BasicBlock`` and ``Bottleneck`` share: the shortcut, and building a unit by name.

    ``BasicBlock(..., variant="full_preact")`` returns the unit of that name, a subclass in
    ``preact_resnet.py`` with its own forward; the default, variant (a), is the class itself.
    """

    variant = "original"

    def __new__(cls, *args: Any, **kwargs: Any) -> _ResidualBlock:
        variant = kwargs.get("variant", args[4] if len(args) > 4 else "original")
        if cls in (BasicBlock, Bottleneck):  # a subclass (SE, pre-activation, ...) is what it is
            cls = _unit_class(cls, variant)
        return super().__new__(cls)

    def _set_shortcut(self, downsample: nn.Module | None, residual: bool) -> None:
        if downsample is not None and not residual:
            raise ValueError(
                "a plain block (residual=False) has no shortcut, so it takes no downsample"
            )
        self.residual = residual
        self.downsample = downsample  # torchvision's name, kept for its state_dict keys

    def shortcut(self, x: Tensor) -> Tensor:
        """The identity x, or x brought to the output's shape (option A or B) by ``downsample``."""
        return x if self.downsample is None else self.downsample(x)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convs and a shortcut (slide "ResNet (4)", left). ResNet-18/34, CIFAR ResNets.

    The unit of slide "ResNet (3)", variant (a) of slide "ResNet (5)"::

        out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))

    ``shortcut(x)`` is x itself, or ``downsample(x)`` where the block changes the shape (option B's
    1x1 conv + BN, or option A's ``ZeroPadShortcut``); ``residual=False`` drops it: the plain
    network of the degradation experiment. ``BasicBlock(..., variant="full_preact")`` builds the
    unit (b)-(e) of that name from ``preact_resnet.py`` instead.

    Shapes: (N, in_channels, H, W) -> (N, channels, H / stride, W / stride).
    """

    expansion = 1  # output channels = channels * expansion

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        variant: str = "original",
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = inplace_relu()
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self._set_shortcut(downsample, residual)  # registered last, as torchvision's downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))  # (N, channels, H / stride, W / stride)
        out = self.bn2(self.conv2(out))  # F(x)
        if self.residual:
            out = out + self.shortcut(x)  # the residual connection: F(x) + x
        return self.relu(out)


class Bottleneck(_ResidualBlock):
    """1x1 reduce, 3x3, 1x1 expand (x4), a shortcut (slide "ResNet (4)", right). ResNet-50/101/152.

    Variant (a) of slide "ResNet (5)", as ``BasicBlock`` with three convs::

        out = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))

    The 1x1 convs make the 3x3 work on ``channels`` instead of ``4 * channels`` maps: 3x3 convs on
    64 channels inside a 256-channel network, about 17x fewer multiply-adds than two 3x3 on 256.

    Shapes: (N, in_channels, H, W) -> (N, 4 * channels, H / stride, W / stride).
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        variant: str = "original",
        residual: bool = True,
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        # The paper (and Caffe's ResNet) strides the first 1x1; torchvision ("v1.5") strides the
        # 3x3, which sees every input pixel instead of one in four: +0.23e9 multiply-adds for
        # ResNet-50.
        self.conv1 = conv1x1(in_channels, channels, stride if stride_in_1x1 else 1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, 1 if stride_in_1x1 else stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = inplace_relu()
        self._set_shortcut(downsample, residual)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))  # (N, channels, H, W): 1x1 reduces
        out = self.relu(self.bn2(self.conv2(out)))  # (N, channels, H / stride, W / stride)
        out = self.bn3(self.conv3(out))  # (N, 4 * channels, ., .): 1x1 expands; F(x)
        if self.residual:
            out = out + self.shortcut(x)  # F(x) + x
        return self.relu(out)


RESIDUAL_UNITS["original"] = (BasicBlock, Bottleneck)


class ZeroPadShortcut(nn.Module):
    """Option A of the paper: a parameter-free identity shortcut for blocks that change shape.

    Takes every ``stride``-th pixel and appends zero channels: (N, C, H, W) -> (N, C + extra,
    H / stride, W / stride). The new channels get no shortcut signal (He et al. 2015, Sec. 3.3).
    """

    def __init__(self, extra_channels: int, stride: int) -> None:
        super().__init__()
        self.extra_channels, self.stride = extra_channels, stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (N, C, H / stride, W / stride)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))  # (N, C + extra, ., .)


class ResNet(nn.Module):
    """A residual network: stem, stages of blocks, global average pooling, one linear layer.

    Parameters
    ----------
    block : BasicBlock or Bottleneck
    layers : list of int
        Blocks per stage, e.g. ``[3, 4, 6, 3]`` for ResNet-50 (one entry per stage).
    num_classes : int
    widths : tuple of int
        Channels of each stage's blocks before expansion: ``(64, 128, 256, 512)`` for ImageNet,
        ``(16, 32, 64)`` for CIFAR. Smaller widths keep the geometry (cheap receptive-field tests).
    cifar_stem : bool
        ``True``: one 3x3 conv, no max pooling (32x32 inputs, He et al. 2015, Sec. 4.2).
        ``False``: 7x7 stride-2 conv and 3x3 stride-2 max pooling (224x224 inputs).
    shortcut : {"B", "A", "none"}
        Projection, zero-padding identity, or no shortcut (a plain network): see the module
        docstring.
    variant : str
        One of ``RESIDUAL_VARIANTS``: where BN and ReLU sit around the addition.
    block_kwargs : dict, optional
        Passed to every block (``stride_in_1x1``, an SE block's ``reduction``, ...).
    zero_init_residual, groups, width_per_group, norm_layer
        torchvision's arguments, for a block class of your own written for torchvision's ResNet
        (see below). ``zero_init_residual`` zeroes the last BN scale of scratchnet's blocks.

    A block class of your own works as with torchvision: it needs ``expansion`` and torchvision's
    signature ``__init__(inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
    dilation=1, norm_layer=None)``. The first block of a stage gets these eight arguments
    positionally, the others ``(inplanes, planes, groups=, base_width=, dilation=, norm_layer=)``,
    as torchvision's ``_make_layer`` passes them. (scratchnet's own blocks, subclasses of
    ``_ResidualBlock``, get ``variant`` and ``residual`` instead.)
    """

    def __init__(
        self,
        block: type[nn.Module],
        layers: list[int],
        num_classes: int = 1000,
        *,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        cifar_stem: bool = False,
        shortcut: str = "B",
        variant: str = "original",
        block_kwargs: dict[str, Any] | None = None,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: list[bool] | None = None,
        norm_layer: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if replace_stride_with_dilation is not None and any(replace_stride_with_dilation):
            raise NotImplementedError(
                "ResNet(replace_stride_with_dilation=...) (dilated stages, for segmentation) "
                "is not supported"
            )
        self.own_block = issubclass(block, _ResidualBlock)
        if self.own_block and (groups != 1 or width_per_group != 64 or norm_layer is not None):
            raise ValueError(
                f"ResNet({block.__name__}): groups, width_per_group and norm_layer are passed to "
                "a block class of your own (torchvision's protocol); scratchnet's BasicBlock and "
                "Bottleneck do not take them"
            )
        # torchvision's names, read by a block class written for torchvision's ResNet
        self.groups, self.base_width, self.dilation = groups, width_per_group, 1
        self.norm_layer = norm_layer or nn.BatchNorm2d
        if shortcut not in ("A", "B", "none"):
            raise ValueError(f"shortcut must be 'A', 'B' or 'none', got {shortcut!r}")
        if variant not in RESIDUAL_VARIANTS:
            raise ValueError(f"variant must be one of {RESIDUAL_VARIANTS}, got {variant!r}")
        if len(layers) != len(widths):
            raise ValueError(f"{len(layers)} stages of blocks but {len(widths)} widths")
        self.variant, self.shortcut, self.num_stages = variant, shortcut, len(layers)
        self.block_kwargs = dict(block_kwargs or {})
        self.in_channels = widths[0]

        if cifar_stem:
            self.conv1 = conv3x3(3, widths[0])
        else:
            self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        if variant != "full_preact":  # a pre-activation net normalises at the start of each block
            self.bn1 = self.norm_layer(widths[0])
        self.relu = inplace_relu()
        if cifar_stem:
            self.maxpool = nn.Identity()
        else:
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (width, count) in enumerate(zip(widths, layers, strict=True)):
            stage = self._make_layer(block, width, count, stride=1 if i == 0 else 2)
            setattr(self, f"layer{i + 1}", stage)
        out_channels = widths[-1] * block.expansion
        if variant == "full_preact":  # the last unit's sum is not normalised yet (He et al. 2016)
            self.bn_final = nn.BatchNorm2d(out_channels)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(out_channels, num_classes)

        # torchvision's initialisation: He-normal convs (fan_out), BN scale 1 and shift 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:  # each block starts as the identity (Goyal et al. 2017)
            for m in self.modules():
                if isinstance(m, Bottleneck | BasicBlock):
                    last_bn = m.bn3 if isinstance(m, Bottleneck) else m.bn2
                    nn.init.constant_(last_bn.weight, 0)

    @property
    def inplanes(self) -> int:
        """Torchvision's name for ``in_channels`` (the channels entering the next stage)."""
        return self.in_channels

    @inplanes.setter
    def inplanes(self, value: int) -> None:
        self.in_channels = value

    def _make_layer(
        self, block: type[_ResidualBlock], channels: int, count: int, stride: int
    ) -> nn.Sequential:
        out_channels = channels * block.expansion
        downsample = None
        if self.shortcut != "none" and (stride != 1 or self.in_channels != out_channels):
            if self.shortcut == "A":
                downsample = ZeroPadShortcut(out_channels - self.in_channels, stride)
            elif self.variant == "full_preact":  # its input is already normalised: conv only
                downsample = nn.Sequential(conv1x1(self.in_channels, out_channels, stride))
            else:
                downsample = nn.Sequential(
                    conv1x1(self.in_channels, out_channels, stride), self.norm_layer(out_channels)
                )
        if not self.own_block:  # a block written for torchvision: its arguments, its way
            tv = {
                "groups": self.groups,
                "base_width": self.base_width,
                "dilation": 1,
                "norm_layer": self.norm_layer,
            }
            first = block(
                self.in_channels, channels, stride, downsample, *tv.values(), **self.block_kwargs
            )
            self.in_channels = out_channels
            kwargs = dict(tv, **self.block_kwargs)
            rest = [block(out_channels, channels, **kwargs) for _ in range(1, count)]
            return nn.Sequential(first, *rest)
        kwargs = dict(self.block_kwargs, variant=self.variant, residual=self.shortcut != "none")
        blocks = [block(self.in_channels, channels, stride, downsample, **kwargs)]
        self.in_channels = out_channels
        blocks += [block(out_channels, channels, **kwargs) for _ in range(1, count)]
        return nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)  # (N, 64, H/2, W/2); CIFAR: (N, 16, H, W)
        if self.variant != "full_preact":
            x = self.relu(self.bn1(x))
        x = self.maxpool(x)  # (N, 64, H/4, W/4)
        for i in range(self.num_stages):  # ImageNet layer4: (N, 512 * expansion, H/32, W/32)
            x = getattr(self, f"layer{i + 1}")(x)
        if self.variant == "full_preact":
            x = self.relu(self.bn_final(x))
        elif self.variant == "relu_preact":  # the last unit ends with BN, not ReLU
            x = self.relu(x)
        x = self.avgpool(x)  # (N, C, 1, 1)
        x = x.flatten(1)  # (N, C)
        return self.fc(x)  # (N, num_classes)


def _resnet(
    block: type[_ResidualBlock],
    layers: list[int],
    num_classes: int,
    stride_in_1x1: bool,
    **kwargs: Any,
) -> ResNet:
    if stride_in_1x1:
        if block is not Bottleneck:
            raise ValueError("stride_in_1x1 applies to the Bottleneck networks (50, 101, 152)")
        kwargs["block_kwargs"] = dict(kwargs.get("block_kwargs") or {}, stride_in_1x1=True)
    return ResNet(block, layers, num_classes, **kwargs)


def resnet18(num_classes: int = 1000, *, stride_in_1x1: bool = False, **kwargs: Any) -> ResNet:
    """ResNet-18: BasicBlock, [2, 2, 2, 2]; 11,689,512 parameters, 1.8e9 multiply-adds."""
    return _resnet(BasicBlock, [2, 2, 2, 2], num_classes, stride_in_1x1, **kwargs)


def resnet34(num_classes: int = 1000, *, stride_in_1x1: bool = False, **kwargs: Any) -> ResNet:
    """ResNet-34: BasicBlock, [3, 4, 6, 3]; 21,797,672 parameters, 3.6e9 multiply-adds."""
    return _resnet(BasicBlock, [3, 4, 6, 3], num_classes, stride_in_1x1, **kwargs)


def resnet50(num_classes: int = 1000, *, stride_in_1x1: bool = False, **kwargs: Any) -> ResNet:
    """ResNet-50: Bottleneck, [3, 4, 6, 3]; 25,557,032 parameters, 4.1e9 multiply-adds (3.8e9 with
    ``stride_in_1x1=True``, the paper's figure).
    """
    return _resnet(Bottleneck, [3, 4, 6, 3], num_classes, stride_in_1x1, **kwargs)


def resnet101(num_classes: int = 1000, *, stride_in_1x1: bool = False, **kwargs: Any) -> ResNet:
    """ResNet-101: Bottleneck, [3, 4, 23, 3]; 44,549,160 parameters, 7.8e9 multiply-adds (7.6e9 with
    ``stride_in_1x1=True``).
    """
    return _resnet(Bottleneck, [3, 4, 23, 3], num_classes, stride_in_1x1, **kwargs)


def resnet152(num_classes: int = 1000, *, stride_in_1x1: bool = False, **kwargs: Any) -> ResNet:
    """ResNet-152: Bottleneck, [3, 8, 36, 3]; 60,192,808 parameters, 11.5e9 multiply-adds
    (11.3e9 with ``stride_in_1x1=True``).
    """
    return _resnet(Bottleneck, [3, 8, 36, 3], num_classes, stride_in_1x1, **kwargs)


# The plain counterparts: the same layers without shortcuts (slide "ResNet (1)", the degradation
# problem). Without projection shortcuts they have slightly fewer parameters than the ResNets.


def plain18(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Plain-18: ResNet-18's layers, no shortcuts."""
    return resnet18(num_classes, shortcut="none", **kwargs)


def plain34(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Plain-34: ResNet-34's layers, no shortcuts; trains worse than plain-18 (slide ResNet (1))."""
    return resnet34(num_classes, shortcut="none", **kwargs)


def plain50(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Plain-50: ResNet-50's bottleneck layers, no shortcuts."""
    return resnet50(num_classes, shortcut="none", **kwargs)


def plain101(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Plain-101: ResNet-101's layers, no shortcuts."""
    return resnet101(num_classes, shortcut="none", **kwargs)


def plain152(num_classes: int = 1000, **kwargs: Any) -> ResNet:
    """Plain-152: ResNet-152's layers, no shortcuts."""
    return resnet152(num_classes, shortcut="none", **kwargs)
