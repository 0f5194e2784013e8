"""scratchnet.analysis.summary: parameters, multiply-accumulates and activations per layer."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.analysis import summary
from scratchnet.models import resnet


class Shared(nn.Module):
    """One linear layer used twice: its parameters count once, its MACs twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, groups=1)
        self.grouped = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=4, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        x = self.pool(self.grouped(self.conv(x))).flatten(1)
        return self.fc(self.fc(x))


def test_counts_by_hand():
    s = summary(Shared(), (3, 6, 6))
    assert [r.name for r in s.rows] == ["conv", "grouped", "pool", "fc", "fc"]
    assert [r.type for r in s.rows] == ["Conv2d", "Conv2d", "AdaptiveAvgPool2d", "Linear", "Linear"]
    conv, grouped, pool, fc1, fc2 = s.rows
    assert conv.output_shape == (1, 8, 6, 6) and conv.params == 8 * 3 * 9 + 8
    assert conv.macs == 8 * 6 * 6 * 3 * 9  # Cout * OH * OW * Cin * KH * KW
    assert grouped.macs == 8 * 3 * 3 * (8 // 4) * 9  # Cin / groups
    assert pool.macs == 0 and pool.activations == 8
    assert (
        fc1.params == 8 * 8 + 8 and fc2.params == 0
    )  # the second call of a shared layer adds none
    assert fc1.macs == fc2.macs == 64
    assert s.total_params == 8 * 3 * 9 + 8 + 8 * 2 * 9 + 72 == sum(r.params for r in s.rows)
    assert s.macs == conv.macs + grouped.macs + 2 * 64 and s.flops == 2 * s.macs
    assert s.activations == 8 * 36 + 8 * 9 + 8 + 8 + 8 and s.activation_bytes == 4 * s.activations
    assert s.input_bytes == 3 * 36 * 4


def test_batch_scales_macs_and_activations():
    one, four = summary(Shared(), (3, 6, 6)), summary(Shared(), (4, 3, 6, 6))
    assert four.macs == 4 * one.macs and four.activations == 4 * one.activations
    assert four.total_params == one.total_params


def test_containers_add_up_their_leaves():
    s = summary(resnet.resnet18(), (3, 32, 32))
    block = s["layer2.0"]
    assert not block.is_leaf and block.depth == 2
    inside = [r for r in s.rows if r.name.startswith("layer2.0.") and r.is_leaf]
    assert block.macs == sum(r.macs for r in inside)
    assert block.params == sum(r.params for r in inside) == 230_144
    names = [r.name for r in s.rows]
    assert (
        names.index("layer2") < names.index("layer2.0") < names.index("layer2.0.conv1")
    )  # tree order


def test_resnet50_macs_at_224_from_32():
    # Every feature map at 224x224 is exactly 7x7 times the one at 32x32 (224 / 32 = 7 at every
    # stride), so the conv MACs scale by 49 and the fc layer's stay: 4.09e9 without running 224.
    fc = 2048 * 1000
    for stride_in_1x1, expected in [(False, 4_089_184_256), (True, 3_857_973_248)]:
        s = summary(resnet.resnet50(stride_in_1x1=stride_in_1x1), (3, 32, 32))
        assert (s.macs - fc) * 49 + fc == expected
        assert s.total_params == 25_557_032


@pytest.mark.slow
def test_resnet_macs_at_224():
    # torchvision's layout; the paper's Table 1 says 3.8e9 for ResNet-50 (stride on the first 1x1).
    assert summary(resnet.resnet50(), (3, 224, 224)).macs == 4_089_184_256
    assert summary(resnet.resnet50(stride_in_1x1=True), (3, 224, 224)).macs == 3_857_973_248
    assert summary(resnet.resnet18(), (3, 224, 224)).macs == 1_814_073_344


@pytest.mark.slow
def test_vgg16_parameters():
    vgg = pytest.importorskip("scratchnet.models.vgg")
    s = summary(vgg.vgg16(), (3, 32, 32))
    assert s.total_params == 138_357_544
    assert s["features.0"].params == 3 * 3 * 3 * 64 + 64  # the lecture's 1,728 weights, plus biases
    assert (
        s["classifier.0"].params == 7 * 7 * 512 * 4096 + 4096
    )  # the lecture's 102,760,448 plus biases


def test_table_and_data():
    s = summary(Shared(), (3, 6, 6))
    text = str(s)
    assert (
        "FLOPs = 2 x MACs" in text and "multiply-accumulates" in text and "grouped (Conv2d)" in text
    )
    assert "Total params: 440" in text
    assert "layer1 (Sequential)" in summary(resnet.resnet18(), (3, 16, 16)).table(depth=1)
    data = json.loads(json.dumps(s.to_dict()))
    assert data["flops"] == 2 * data["macs"] and data["rows"][0]["name"] == "conv"


def test_modes_are_restored_and_aux_params_reported():
    model = resnet.resnet18()
    model.layer1.train(False)
    summary(model, (3, 16, 16))
    assert model.training and not model.layer1.training and model.layer2.training

    class WithUnused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(2, 2), nn.Linear(2, 3)

        def forward(self, x):
            return self.used(x)

    s = summary(WithUnused(), (4, 2))
    assert s.total_params == 6 + 9 and "9 parameters were not used" in s.table()


def test_input_is_not_changed_by_summary():
    model = resnet.resnet18()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    summary(model, (3, 16, 16))
    after = model.state_dict()
    assert all(
        np.array_equal(state[k], after[k]) for k in state
    )  # eval mode: running stats untouched
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="mode"):
        summary(model, (3, 16, 16), mode="test")
    assert sn.is_grad_enabled()


def test_record_calls_gives_names_parents_shapes_and_removes_its_hooks():
    from scratchnet.analysis import record_calls

    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Sequential(nn.ReLU(), nn.Flatten()))
    x = sn.randn(2, 3, 5, 5)
    with record_calls(model) as calls, sn.no_grad():
        model(x)
    assert [c.name for c in calls] == ["", "0", "1", "1.0", "1.1"]  # in the order calls start
    assert [c.parent.name if c.parent else None for c in calls] == [None, "", "", "1", "1"]
    assert [c.depth for c in calls] == [0, 1, 1, 2, 2]
    assert calls[1].input_shapes == [(2, 3, 5, 5)] and calls[1].output_shape == (2, 4, 5, 5)
    assert calls[4].output_shape == (2, 100) and calls[2].is_leaf is False
    with record_calls(model, (nn.ReLU,)) as only_relu:
        model(x)
    assert [c.name for c in only_relu] == ["1.0"] and only_relu[0].parent is None
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_render_table_aligns_frames_and_splits_by_width():
    from scratchnet.analysis import Column, render_table

    columns = [Column("name", "layer", align="<"), Column("n", "params", "{:,}".format)]
    rows = [{"name": "conv1", "n": 1792}, {"name": "fc", "n": None}]
    assert render_table(columns, rows, [{"name": "total", "n": 1792}]).split("\n") == [
        "  layer  params",
        "  -----  ------",
        "  conv1   1,792",
        "  fc",
        "  -----  ------",
        "  total   1,792",
    ]
    assert render_table(columns, rows, indent="", frame=True, rule="=").split("\n") == [
        "=============",
        "layer  params",
        "=============",
        "conv1   1,792",
        "fc",
        "=============",
    ]
    wide = [Column("name", "layer", align="<")] + [Column(k, k * 30) for k in "abc"]
    parts = render_table(wide, [{"name": "x", "a": "1", "b": "2", "c": "3"}], width=70)
    assert "(continued, part 2 of 3)" in parts and max(map(len, parts.split("\n"))) <= 70
