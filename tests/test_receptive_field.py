"""scratchnet.analysis.receptive_field: sizes, jumps, starts through branches, measured."""

from __future__ import annotations

import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.analysis import empirical_receptive_field, receptive_field
from scratchnet.analysis.receptive_field import INPUT_FIELD, Field, through_window, union
from scratchnet.models import resnet, resnet_cifar, senet


def convs(n, kernel=3, dilations=None, channels=4):
    dilations = dilations or [1] * n
    return nn.Sequential(
        *[
            nn.Conv2d(
                1 if i == 0 else channels, channels, kernel, padding=d * (kernel // 2), dilation=d
            )
            for i, d in enumerate(dilations)
        ]
    )


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_stacked_3x3_convs_see_2n_plus_1(n):
    fields = receptive_field(convs(n), (1, 16, 16))
    assert [fields[str(i)].size for i in range(n)] == [(2 * i + 3, 2 * i + 3) for i in range(n)]
    assert fields[str(n - 1)].jump == (1, 1) and fields[str(n - 1)].start == (0, 0)


def test_one_7x7_equals_three_3x3():
    assert (
        receptive_field(nn.Conv2d(1, 1, 7, padding=3), (1, 16, 16)).rows == []
    )  # the model itself: no row
    seven = receptive_field(nn.Sequential(nn.Conv2d(1, 1, 7, padding=3)), (1, 16, 16))["0"]
    assert seven.size == receptive_field(convs(3), (1, 16, 16))["2"].size == (7, 7)


def test_window_formulas():
    pooled = through_window(INPUT_FIELD, (2, 2), (2, 2), (0, 0))
    assert pooled == Field((2, 2), (2, 2), (0.5, 0.5))  # centre between input pixels 0 and 1
    conv = through_window(pooled, (3, 3), (1, 1), (1, 1))
    assert conv == Field((6, 6), (2, 2), (0.5, 0.5))
    dilated = through_window(INPUT_FIELD, (3, 3), (1, 1), (0, 0), (2, 2))
    assert dilated == Field((5, 5), (1, 1), (2.0, 2.0))  # valid 3x3 with dilation 2 spans 5 pixels
    assert union([Field((3, 3), (1, 1), (1, 1)), Field((1, 1), (1, 1), (1, 1))]) == Field(
        (3, 3), (1, 1), (1.0, 1.0)
    )
    assert union([Field((3, 3), (1, 1), (0, 0)), Field((3, 3), (1, 1), (2, 2))]) == Field(
        (5, 5), (1, 1), (1.0, 1.0)
    )
    assert union([Field((3, 3), (1, 1), (0, 0)), None]) is None


def test_dilation_and_asymmetric_kernels():
    fields = receptive_field(convs(3, dilations=[1, 2, 4]), (1, 32, 32))
    assert fields["2"].size == (15, 15)  # 1 + 2 * (1 + 2 + 4)
    factorized = nn.Sequential(
        nn.Conv2d(1, 2, (1, 7), padding=(0, 3)), nn.Conv2d(2, 2, (7, 1), padding=(3, 0))
    )
    fields = receptive_field(factorized, (1, 16, 16))
    assert fields["0"].size == (1, 7) and fields["1"].size == (7, 7)  # 1 x n then n x 1 sees n x n


class Branches(nn.Module):
    """An Inception-like module (1x1 | 3x3 | 5x5 | pool-1x1, concatenated) and a residual addition
    of a valid 3x3 conv with a cropped identity (different starts meet)."""

    def __init__(self) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(2, 2, 1)
        self.b3 = nn.Conv2d(2, 2, 3, padding=1)
        self.b5 = nn.Conv2d(2, 2, 5, padding=2)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.valid = nn.Conv2d(8, 8, 3)

    def forward(self, x):
        self.mixed = sn.cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], 1)
        return self.valid(self.mixed) + self.mixed[:, :, 1:-1, 1:-1]


def test_branches_meet_as_a_union():
    model = Branches()
    fields = receptive_field(model, (2, 12, 12))
    assert (
        fields["b1"].size == (1, 1)
        and fields["b5"].size == (5, 5)
        and fields["pool"].size == (3, 3)
    )
    assert fields["valid"].size == (7, 7) and fields["valid"].start == (
        1,
        1,
    )  # 5 + 2, no padding: starts at 1
    x = sn.randn(1, 2, 12, 12, requires_grad=True)
    from scratchnet.analysis import trace_fields

    out = model(x)
    traced = trace_fields(x, [out])
    assert traced[id(model.mixed)][1].size == (5, 5)  # the concatenation: the widest branch
    assert traced[id(out)][1] == Field((7, 7), (1, 1), (1.0, 1.0))


def test_vgg16_fields():
    vgg = pytest.importorskip("scratchnet.models.vgg")
    fields = receptive_field(vgg.make_layers(vgg.CONFIGS["D"]), (3, 32, 32))  # VGG16's features
    conv5_3, pool5 = fields["28"], fields["30"]
    assert (conv5_3.size, conv5_3.jump, conv5_3.start) == ((196, 196), (16, 16), (7.5, 7.5))
    assert (pool5.size, pool5.jump, pool5.start) == ((212, 212), (32, 32), (15.5, 15.5))
    assert [fields[str(i)].size[0] for i in (0, 2, 4)] == [3, 5, 6]


@pytest.mark.slow
def test_vgg16_whole_model():
    vgg = pytest.importorskip("scratchnet.models.vgg")
    fields = receptive_field(vgg.vgg16(), (3, 32, 32))
    assert fields["features.30"].size == (212, 212)
    assert fields["classifier.0"].size is None  # a fully connected layer sees everything


def test_resnet50_last_layer():
    # torchvision's layout: 427; the paper's stride-in-1x1 layout: 483 (the 3x3s of each first block
    # then run at the doubled jump).
    for stride_in_1x1, size in [(False, 427), (True, 483)]:
        last = receptive_field(resnet.resnet50(stride_in_1x1=stride_in_1x1), (3, 32, 32))["layer4"]
        assert (last.size, last.jump, last.start) == ((size, size), (32, 32), (0, 0))
    assert receptive_field(resnet.resnet18(), (3, 32, 32))["layer4"].size == (435, 435)


def test_se_scale_makes_fields_global():
    fields = receptive_field(senet.se_resnet18(), (3, 32, 32))
    assert fields["layer1.0.conv2"].size == (27, 27)  # before the first SE block: local
    assert fields["layer1.0.se"].size is None and fields["layer4"].size is None
    assert "global" in fields.table()


def test_modes_and_flags_are_restored():
    model = resnet_cifar.resnet20()
    receptive_field(model, (3, 8, 8))
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------------------------ the empirical check


def check_empirically(model, input_size, layer):
    theory = receptive_field(model, input_size)[layer].field
    measured = empirical_receptive_field(model, input_size, layer)
    assert not measured.clipped, "choose a larger input: the border clips the field"
    assert measured.size == theory.size
    assert measured.center == tuple(
        theory.start[a] + measured.position[a] * theory.jump[a] for a in range(2)
    )


def test_empirical_stack_with_pooling_and_dilation():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, dilation=2),
        nn.ReLU(),
        nn.AvgPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 4, 3, padding=1),
    )
    check_empirically(model, (1, 40, 40), "6")


def test_empirical_branches():
    check_empirically(Branches(), (2, 16, 16), "valid")


def test_empirical_cifar_resnet():
    model = resnet_cifar.resnet20(widths=(4, 8, 8))  # same geometry as resnet20, fewer channels
    assert receptive_field(model, (3, 8, 8))["layer3"].size == (81, 81)
    check_empirically(model, (3, 96, 96), "layer3")


def test_empirical_vgg16_geometry():
    vgg = pytest.importorskip("scratchnet.models.vgg")
    narrow = vgg.make_layers(
        [4 if entry != "M" else "M" for entry in vgg.CONFIGS["D"]]
    )  # 4 channels per conv
    for (
        m
    ) in narrow.modules():  # He initialisation keeps the signal alive through 13 narrow ReLU layers
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
    check_empirically(narrow, (3, 224, 224), "30")  # pool5: 212 pixels around 15.5 + 3 * 32


@pytest.mark.slow
def test_empirical_resnet50():
    model = resnet.resnet50(widths=(4, 8, 16, 32))  # the geometry of ResNet-50 with few channels
    check_empirically(model, (3, 448, 448), "layer4")
