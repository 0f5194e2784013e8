"""The lessons: each main() runs (with --json and --plot), and its numbers match values known without
scratchnet: torchvision's published counts, the papers' arithmetic redone here from the layer widths,
and small independent re-implementations (receptive-field recurrence, analytic ResNet multiply-adds).

Every lesson runs once per session (they take seconds each); the tests below share the result.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import pkgutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scratchnet.lessons
from scratchnet.lessons import LESSONS
from scratchnet.lessons.__main__ import main as list_lessons

_RUNS: dict[str, tuple[dict[str, Any], Any, Path]] = {}


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """``lesson(name) -> (json, report, plot_path)``: run ``main(["--json", "--plot", ...])`` once."""
    folder = tmp_path_factory.mktemp("lessons")

    def run(name: str) -> tuple[dict[str, Any], Any, Path]:
        if name not in _RUNS:
            module = importlib.import_module(f"scratchnet.lessons.{name}")
            plot = folder / f"{name}.png"
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                report = module.main(["--json", "--plot", str(plot)])
            _RUNS[name] = (json.loads(out.getvalue()), report, plot)
        return _RUNS[name]

    return run


def checks(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["checks"]}


def torchvision_models():
    return pytest.importorskip("torchvision", reason="torchvision is not installed").models


def meta_model(make, **kwargs):
    """A torchvision model on the meta device: shapes and counts without memory or initialisation."""
    torch = pytest.importorskip("torch")
    with torch.device("meta"):
        return make(**kwargs)


# ------------------------------------------------------------------------------------------ all lessons


def test_listing_names_every_lesson_module(capsys):
    modules = {m.name for m in pkgutil.iter_modules(scratchnet.lessons.__path__) if not m.name.startswith("_")}
    assert modules == set(LESSONS)
    list_lessons()
    out = capsys.readouterr().out
    for name in LESSONS:
        assert f"  {name} " in out
    assert "python -m scratchnet.lessons.vgg_params" in out


@pytest.mark.parametrize("name", list(LESSONS))
def test_lesson_runs_with_json_and_plot(lesson, name):
    data, report, plot = lesson(name)
    assert data["lesson"] == name and data["title"]
    assert data["rows"] and all(rows for rows in data["rows"].values())
    assert data["checks"]
    for check in data["checks"]:
        assert set(check) == {"name", "computed", "reference", "source", "agrees", "note"}
        assert check["source"]
        if not check["agrees"]:
            assert check["note"], f"{name}: {check['name']} disagrees without an explanation"
    assert plot.exists() and plot.stat().st_size > 1000  # a real PNG
    text = report.render()
    assert text.startswith(data["title"])
    assert f"of {len(data['checks'])} checks agree" in text
    for check in data["checks"]:  # every disagreement is printed, with its reason
        if not check["agrees"]:
            assert check["name"] in text and check["note"].split(".")[0][:40] in " ".join(text.split())


def test_lessons_are_deterministic(lesson):
    from scratchnet.lessons import factorization

    first = lesson("factorization")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        factorization.main(["--json"])
    again = json.loads(out.getvalue())
    assert again["rows"] == first["rows"] and again["checks"] == first["checks"]


# ------------------------------------------------------------------------------------------ vgg_params


VGG16_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def _vgg16_table() -> tuple[list[int], list[int]]:
    """Memory and weights of the slide's rows, from the configuration alone."""
    memory, weights, size, channels = [224 * 224 * 3], [0], 224, 3
    for entry in VGG16_CONFIG:
        if entry == "M":
            size //= 2
            memory.append(size * size * channels)
            weights.append(0)
        else:
            memory.append(size * size * entry)
            weights.append(3 * 3 * channels * entry)
            channels = entry
    for n_in, n_out in ((7 * 7 * 512, 4096), (4096, 4096), (4096, 1000)):
        memory.append(n_out)
        weights.append(n_in * n_out)
    return memory, weights


def test_vgg_params_rows_match_the_configuration(lesson):
    data = lesson("vgg_params")[0]
    rows = data["rows"]["layers"]
    table, total = rows[:-1], rows[-1]
    memory, weights = _vgg16_table()
    assert [r["memory"] for r in table] == memory
    assert [r["weights"] for r in table] == weights
    assert [r["memory"] * 4 for r in table] == [r["bytes"] for r in table]  # float32
    assert total["memory"] == sum(memory) == 15_237_608  # what the slide's rows add up to
    assert total["weights"] == sum(weights) == 138_344_128
    assert all(r["agrees"] for r in table)  # every row of the slide is reproduced


def test_vgg_params_against_torchvision(lesson):
    models = torchvision_models()
    data = lesson("vgg_params")[0]
    model = meta_model(models.vgg16)
    torch_weights = [m.weight.numel() for m in model.modules() if hasattr(m, "weight") and m.weight is not None]
    assert [r["weights"] for r in data["rows"]["layers"][:-1] if r["weights"]] == torch_weights
    assert data["data"]["total_params"] == models.VGG16_Weights.IMAGENET1K_V1.meta["num_params"]


def test_vgg_params_verdicts(lesson):
    c = checks(lesson("vgg_params")[0])
    assert c["TOTAL params, biases included"]["agrees"]  # 138M
    assert not c["TOTAL memory (activations per image)"]["agrees"]  # 24M does not follow from the rows
    assert "15.2M" in c["TOTAL memory (activations per image)"]["note"]
    assert not c["TOTAL memory in bytes, forward"]["agrees"]  # 96MB, from the 24M
    assert c["activations, rows added up"]["agrees"]


# ------------------------------------------------------------------------------------------ receptive_field


def _field_recurrence(layers: list[tuple[int, int]]) -> list[int]:
    r, j, out = 1, 1, []
    for k, s in layers:
        r, j = r + (k - 1) * j, j * s
        out.append(r)
    return out


def test_receptive_field_vgg16(lesson):
    data = lesson("receptive_field")[0]
    layers = [(2, 2) if entry == "M" else (3, 1) for entry in VGG16_CONFIG]
    assert [r["rf"] for r in data["rows"]["vgg16"]] == _field_recurrence(layers)
    by_name = {r["layer"]: r for r in data["rows"]["vgg16"]}
    assert (by_name["conv5_3"]["rf"], by_name["pool5"]["rf"], by_name["pool5"]["jump"]) == (196, 212, 32)
    assert data["data"]["measured"]["size"] == [92, 92]
    step1 = data["rows"]["seven_vs_three"]
    assert [r["params"] for r in step1] == [49 * 64 * 64, 27 * 64 * 64]
    assert [(r["rf"], r["rf_measured"]) for r in step1] == [(7, 7), (7, 7)]


def test_receptive_field_resnet50_against_torchvision_layout(lesson):
    models = torchvision_models()
    data = lesson("receptive_field")[0]
    model = meta_model(models.resnet50)
    results = {}
    for stride_in_1x1 in (False, True):
        layers = [(7, 2), (3, 2)]
        for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
            for block in stage:
                stride = block.conv2.stride[0]
                layers += [(1, stride if stride_in_1x1 else 1), (3, 1 if stride_in_1x1 else stride), (1, 1)]
        results[stride_in_1x1] = _field_recurrence(layers)[-1]
    last = {r["layout"]: r["rf"] for r in data["rows"]["resnet50"] if r["layer"] == "layer4"}
    assert sorted(last.values()) == sorted(results.values()) == [427, 483]


# ------------------------------------------------------------------------------------------ factorization


def test_factorization_ratios_and_fields(lesson):
    data = lesson("factorization")[0]
    rows = {r["pair"]: r for r in data["rows"]["pairs"]}
    C = 64
    expected = {
        "5x5 -> 3x3 + 3x3": (25, 18),
        "3x3 -> 1x3 + 3x1": (9, 6),
        "7x7 -> 1x7 + 7x1": (49, 14),
        "3x3 -> 2x2 + 2x2": (9, 8),
    }
    for pair, (big, stack) in expected.items():
        assert rows[pair]["big_params"] == big * C * C
        assert rows[pair]["stack_params"] == stack * C * C
        assert rows[pair]["measured"] == rows[pair]["big_rf"] == rows[pair]["stack_rf"]
    ways = {r["way"]: r["macs"] for r in data["rows"]["grid_reduction"]}
    assert ways["pool, then conv 320->640"] == 17 * 17 * 640 * 320 * 9
    assert ways["conv 320->640, then pool"] == 35 * 35 * 640 * 320 * 9
    assert ways["conv/2 and pool/2 side by side"] == 17 * 17 * 320 * 320 * 9


# ------------------------------------------------------------------------------------------ one_by_one


def test_one_by_one_matches_torch(lesson, torch):
    step = lesson("one_by_one")[0]["data"]["four_to_two"]
    weights = torch.tensor(step["weights"]).reshape(2, 4, 1, 1)
    expected = torch.nn.functional.conv2d(torch.tensor(step["input"]), weights)
    np.testing.assert_array_equal(np.array(step["output"]), expected.numpy())


def test_one_by_one_inception_3a(lesson):
    data = lesson("one_by_one")[0]["data"]["inception_3a"]
    c = 192
    naive = c * 64 + 9 * c * 128 + 25 * c * 32
    reduced = c * 64 + c * 96 + 9 * 96 * 128 + c * 16 + 25 * 16 * 32 + c * 32
    assert (data["naive"]["weights"], data["reduced"]["weights"]) == (naive, reduced) == (387_072, 163_328)
    assert (data["naive"]["macs"], data["reduced"]["macs"]) == (naive * 28 * 28, reduced * 28 * 28)
    assert (data["naive"]["out_channels"], data["reduced"]["out_channels"]) == (64 + 128 + 32 + 192, 256)


# ------------------------------------------------------------------------------------------ googlenet_table


def test_googlenet_table_follows_the_widths(lesson):
    data = lesson("googlenet_table")[0]
    rows = {r["type"]: r for r in data["rows"]["googlenet"]}
    in_channels = 192
    for name, row in rows.items():
        if not name.startswith("inception"):
            continue
        n1, r3, n3, r5, n5, pool = (row[k] for k in ("n1x1", "n3x3red", "n3x3", "n5x5red", "n5x5", "pool_proj"))
        weights = in_channels * (n1 + r3 + r5 + pool) + 9 * r3 * n3 + 25 * r5 * n5
        size = int(row["output"].split("x")[0])
        assert row["params"] == weights, name
        assert row["ops"] == weights * size * size, name
        in_channels = n1 + n3 + n5 + pool
    assert rows["convolution 1"]["params"] == 7 * 7 * 3 * 64
    assert rows["convolution 2"]["params"] == 64 * 64 + 9 * 64 * 192
    assert rows["linear"]["params"] == 1024 * 1000


def test_googlenet_table_disagreements_are_the_known_slips(lesson):
    data = lesson("googlenet_table")[0]
    differs = {c["name"] for c in data["checks"] if not c["agrees"]}
    assert differs == {
        "convolution 1: params",
        "convolution 1: ops",
        "inception (4c): params",
        "inception (4d): params",
        "inception (5a): params",
        "inception (5a): ops",
        "inception (5b): params",
        "max pool 4: patch size/stride",
        "total multiply-adds (inference)",
    }


# ------------------------------------------------------------------------------------------ auxiliary_classifiers


def test_auxiliary_heads_against_torchvision(lesson):
    models = torchvision_models()
    data = lesson("auxiliary_classifiers")[0]
    model = meta_model(models.googlenet, aux_logits=True, init_weights=False)
    heads = {r["head"]: r["params"] for r in data["rows"]["heads"]}
    assert heads["aux1"] == sum(p.numel() for p in model.aux1.parameters())
    assert heads["aux2"] == sum(p.numel() for p in model.aux2.parameters())
    assert heads["main network"] == models.GoogLeNet_Weights.IMAGENET1K_V1.meta["num_params"]
    c = checks(data)
    assert c["aux1 is attached to"]["computed"] == "inception4a"
    assert c["aux2 is attached to"]["computed"] == "inception4d"
    assert c["gradients add: d total = d main + 0.3 (d aux1 + d aux2), largest difference"]["agrees"]
    losses = data["data"]["gradients"]["losses"]
    assert losses["total"] == pytest.approx(losses["main"] + 0.3 * (losses["aux1"] + losses["aux2"]))


# ------------------------------------------------------------------------------------------ resnet_flops


def _resnet_macs(blocks: list[int], bottleneck: bool, stride_in_1x1: bool) -> int:
    """Multiply-adds of a ResNet at 224x224, from the paper's table (conv + fc; projections counted)."""
    macs, size, c_in = 112 * 112 * 64 * 3 * 7 * 7, 56, 64
    for stage, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True)):
        for i in range(count):
            stride = 2 if i == 0 and stage > 0 else 1
            out = size // stride
            if bottleneck:
                c_out = 4 * width
                first = size // stride if stride_in_1x1 else size  # where the first 1x1 runs
                macs += first * first * c_in * width + out * out * 9 * width * width + out * out * width * c_out
            else:
                c_out = width
                macs += out * out * 9 * c_in * width + out * out * 9 * width * width
            if stride != 1 or c_in != c_out:
                macs += out * out * c_in * c_out  # projection shortcut
            c_in, size = c_out, out
    return macs + c_in * 1000


RESNET_BLOCKS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


def test_resnet_flops_against_the_analytic_count_and_torchvision(lesson):
    models = torchvision_models()
    data = lesson("resnet_flops")[0]
    for row in data["rows"]["flops"]:
        depth = int(row["network"].split("-")[1])
        blocks, bottleneck = RESNET_BLOCKS[depth], depth >= 50
        assert row["paper_layout"] == _resnet_macs(blocks, bottleneck, stride_in_1x1=True), depth
        assert row["torchvision_layout"] == _resnet_macs(blocks, bottleneck, stride_in_1x1=False), depth
        meta = getattr(models, f"ResNet{depth}_Weights").IMAGENET1K_V1.meta
        assert row["params"] == meta["num_params"]
        assert row["torchvision_layout"] / 1e9 == pytest.approx(meta["_ops"], abs=5e-4)
        assert row["layers"] == depth
    c = checks(data)
    assert not c["ResNet-50 in torchvision's layout vs the paper"]["agrees"]
    assert c["ResNet-18: 49 x conv MACs at 32x32 + fc"]["agrees"]  # the 32x32 shortcut, checked at 224
    blocks = {r["block"].split()[0]: r for r in data["rows"]["blocks"]}
    assert blocks["basic"]["macs"] == 2 * 56 * 56 * 9 * 64 * 64
    assert blocks["bottleneck"]["macs"] == 56 * 56 * (256 * 64 + 9 * 64 * 64 + 64 * 256)


# ------------------------------------------------------------------------------------------ densenet_params


def test_densenet_against_torchvision(lesson):
    models = torchvision_models()
    data = lesson("densenet_params")[0]
    cost = {r["network"]: r for r in data["rows"]["cost"]}
    for depth in (121, 169, 201):
        meta = getattr(models, f"DenseNet{depth}_Weights").IMAGENET1K_V1.meta
        assert cost[f"DenseNet-{depth}"]["params"] == meta["num_params"]
        assert cost[f"DenseNet-{depth}"]["macs"] / 1e9 == pytest.approx(meta["_ops"], abs=5e-4)
    d264 = meta_model(models.DenseNet, growth_rate=32, block_config=(6, 12, 64, 48), num_init_features=64)
    assert cost["DenseNet-264"]["params"] == sum(p.numel() for p in d264.parameters())


def test_densenet_channels_grow_by_k(lesson):
    data = lesson("densenet_params")[0]
    for row in data["rows"]["structure"]:
        blocks = [int(b) for b in row["blocks"].split()]
        c, expected = 64, [64]
        for i, n in enumerate(blocks):
            c += n * 32
            expected.append(c)
            if i < 3:
                c //= 2
                expected.append(c)
        assert [row[k] for k in ("stem", "b1", "t1", "b2", "t2", "b3", "t3", "b4")] == expected
    c = checks(data)
    assert not c["DenseNet-264: layers with weights"]["agrees"]  # 265 by the rule that gives 121, 169, 201
    assert all(c[f"DenseNet-{d}: layers with weights"]["agrees"] for d in (121, 169, 201))


# ------------------------------------------------------------------------------------------ se_params


SE_WIDTHS = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3  # ResNet-50's 16 bottleneck outputs


def test_se_resnet50_parameters(lesson):
    models = torchvision_models()
    data = lesson("se_params")[0]
    base = models.ResNet50_Weights.IMAGENET1K_V1.meta["num_params"]
    rows = {r["r"]: r for r in data["rows"]["se_resnet50"]}
    assert rows["original"]["params"] == base
    for r in (2, 4, 8, 16, 32):
        assert rows[r]["params"] == base + sum(2 * c * c // r + c // r + c for c in SE_WIDTHS), r
    assert rows[16]["params"] == 28_088_024
    assert [rows[r]["agrees"] for r in (2, 4, 8, 16, 32, "original")] == [True, False, False, True, False, True]
    for row in data["rows"]["se_block"]:
        assert row["weights"] == 2 * row["C"] ** 2 // 16


def test_se_multiply_adds(lesson):
    data = lesson("se_params")[0]["data"]
    plain = _resnet_macs(RESNET_BLOCKS[50], bottleneck=True, stride_in_1x1=True)
    assert data["macs"]["ResNet-50"] == plain
    assert data["macs"]["SE-ResNet-50"] == plain + sum(2 * c * c // 16 for c in SE_WIDTHS)
    sizes = [56] * 3 + [28] * 4 + [14] * 6 + [7] * 3
    assert data["squeezed"] == sum(c * s * s for c, s in zip(SE_WIDTHS, sizes, strict=True))


# ------------------------------------------------------------------------------------------ inception_resnet


def test_inception_resnet(lesson):
    data = lesson("inception_resnet")[0]
    for row in data["rows"]["reduction_a"]:
        c, k, l, m, n = (row[key] for key in ("C", "k", "l", "m", "n"))  # noqa: E741
        assert row["weights"] == 9 * c * n + c * k + 9 * k * l + 9 * l * m
        assert row["out"] == c + n + m
    klmn = {r["network"]: (r["k"], r["l"], r["m"], r["n"]) for r in data["rows"]["reduction_a"]}
    assert klmn == {
        "Inception-v4": (192, 224, 256, 384),
        "Inception-ResNet-v1": (192, 192, 256, 384),
        "Inception-ResNet-v2": (256, 256, 384, 384),
    }
    totals = {r["network"]: r["params"] for r in data["rows"]["parts"] if r["part"] == "total"}
    assert totals["Inception-v4"] == 42_679_816  # the released model's published count
    assert totals["Inception-ResNet-v2"] == 55_843_464
    fields = {r["network"]: r["rf"] for r in data["rows"]["receptive_fields"]}
    assert (fields["Inception-v4"], fields["Inception-ResNet-v2"]) == (2071, 3039)
