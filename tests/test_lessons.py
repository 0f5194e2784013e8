"""The lessons: each main() runs (with --plot; --json prints ``report.as_dict()``); its numbers
match values known without scratchnet: torchvision's published counts, the papers' arithmetic
redone here from the layer widths, and small independent re-implementations (receptive-field
recurrence, analytic ResNet multiply-adds). The verdict rule (exact / within rounding / differs)
is tested on its own, and every printed line of every lesson, stdout and stderr, fits in 100
terminal columns.

Every lesson runs once per session (they take seconds each); the tests below share the result.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import pkgutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import count_params

import scratchnet.lessons
from scratchnet.lessons import LESSONS
from scratchnet.lessons.__main__ import main as list_lessons
from scratchnet.lessons._common import (
    Report,
    display_width,
    fit,
    printed,
    round_as_printed,
    verdict,
    wrap,
)

_RUNS: dict[str, tuple[dict[str, Any], Any, Path, str]] = {}


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """``lesson(name) -> (json, report, plot_path, printed)``: run ``main(["--plot", ...])`` once.

    ``printed`` is everything the run wrote to stdout and stderr; ``json`` is ``report.as_dict()``
    through a JSON round trip, which is what ``--json`` prints (test_lessons_are_deterministic
    checks).
    """
    folder = tmp_path_factory.mktemp("lessons")

    def run(name: str) -> tuple[dict[str, Any], Any, Path, str]:
        if name not in _RUNS:
            module = importlib.import_module(f"scratchnet.lessons.{name}")
            plot = folder / f"{name}.png"
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                report = module.main(["--plot", str(plot)])
            data = json.loads(json.dumps(report.as_dict()))
            _RUNS[name] = (data, report, plot, out.getvalue() + err.getvalue())
        return _RUNS[name]

    return run


def checks(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["checks"]}


def torchvision_models():
    return pytest.importorskip("torchvision", reason="torchvision is not installed").models


def meta_model(make, **kwargs):
    """A torchvision model on the meta device: shapes and counts, no memory or initialisation."""
    torch = pytest.importorskip("torch")
    with torch.device("meta"):
        return make(**kwargs)


# ------------------------------------------------------------------------------------------ all
# lessons


def test_listing_names_every_lesson_module(capsys):
    modules = {
        m.name
        for m in pkgutil.iter_modules(scratchnet.lessons.__path__)
        if not m.name.startswith("_")
    }
    assert modules == set(LESSONS)
    list_lessons()
    out = capsys.readouterr().out
    for name in LESSONS:
        assert f"  {name} " in out
    assert "python -m scratchnet.lessons.vgg_params" in out
    assert all(display_width(line) <= 100 for line in out.splitlines())


CHECK_KEYS = {
    "name",
    "computed",
    "reference",
    "shown",
    "source",
    "verdict",
    "agrees",
    "rule",
    "gap",
    "note",
}


@pytest.mark.parametrize("name", list(LESSONS))
def test_lesson_runs_with_json_and_plot(lesson, name):
    data, report, plot, printed = lesson(name)
    assert data["lesson"] == name and data["title"]
    assert data["rows"] and all(rows for rows in data["rows"].values())
    assert data["checks"]
    for check in data["checks"]:
        assert set(check) == CHECK_KEYS
        assert check["source"]
        assert check["verdict"] in ("exact", "within rounding", "differs")
        assert check["agrees"] == (check["verdict"] != "differs")
        if (
            check["verdict"] == "within rounding"
        ):  # the rule that reproduces the printed figure is named
            assert check["rule"].split()[0] in ("nearest", "floor"), check
        if not check["agrees"]:
            assert check["note"], f"{name}: {check['name']} disagrees without an explanation"
    assert data["verdicts"] == {
        v: sum(c["verdict"] == v for c in data["checks"]) for v in data["verdicts"]
    }
    assert plot.exists() and plot.stat().st_size > 1000  # a real PNG
    text = report.render()
    assert printed.startswith(data["title"]) and text in printed
    flat = " ".join(text.split())
    assert f"In all, {len(data['checks'])} check" in flat
    for check in data["checks"]:  # every disagreement is printed, with its reason
        if not check["agrees"]:
            assert check["name"] in flat and check["note"].split(".")[0][:40] in flat


@pytest.mark.parametrize("name", list(LESSONS))
def test_lesson_ends_with_exercises_answered_in_json_only(lesson, name):
    data, _, _, printed = lesson(name)
    assert 2 <= len(data["exercises"]) <= 3
    exercises = " ".join(printed.split("Exercises (answers:")[1].split())
    for i, exercise in enumerate(data["exercises"], 1):
        assert exercise["answer"] is not None and exercise["answer"] != ""
        assert (
            f"{i}. {exercise['question']}" in exercises
        )  # the question is printed, the answer is not
    assert "answer" not in exercises.split('"exercises"')[1]


@pytest.mark.parametrize("name", list(LESSONS))
def test_lesson_output_fits_100_columns(lesson, name):
    printed = lesson(name)[3]
    wide = [(len(line), line) for line in printed.splitlines() if display_width(line) > 100]
    assert not wide, f"{name} prints {len(wide)} lines wider than 100 columns, e.g. {wide[0]}"


def test_lessons_are_deterministic(lesson):
    from scratchnet.lessons import factorization

    first = lesson("factorization")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        factorization.main(["--json"])
    again = json.loads(out.getvalue())  # --json prints report.as_dict()
    assert again["rows"] == first["rows"] and again["checks"] == first["checks"]
    assert again["exercises"] == first["exercises"]


@pytest.mark.parametrize("name", list(LESSONS))
def test_every_lesson_has_run_beside_main(name):
    module = importlib.import_module(f"scratchnet.lessons.{name}")
    assert callable(getattr(module, "run", None)), f"{name} has no run(**options) for notebooks"
    with pytest.raises(TypeError, match="unknown option"):
        module.run(no_such_option=1)  # checked before any work is done


def test_run_returns_numbers_figure_and_the_printed_text(lesson, monkeypatch, capsys):
    from matplotlib.figure import Figure

    from scratchnet.lessons import one_by_one
    from scratchnet.viz import RunResult

    monkeypatch.setattr(
        "sys.argv", ["jupyter-kernel", "-f", "/tmp/kernel.json"]
    )  # what a notebook has
    result = one_by_one.run()
    assert isinstance(result, RunResult)
    assert capsys.readouterr().out == ""  # run() prints nothing; the text is in the result
    assert result.numbers["checks"] and result.numbers["exercises"]
    assert json.loads(result.to_json())["lesson"] == "one_by_one"
    assert isinstance(result.figures["one_by_one"], Figure)  # open, for the notebook to show
    report = one_by_one.main()  # main() without argv reads no sys.argv
    assert capsys.readouterr().out == result.text + "\n" == report.render() + "\n"
    assert one_by_one.run(json=True).text == json.dumps(result.numbers, indent=1)
    with pytest.raises(TypeError, match="unknown option"):
        one_by_one.run(epochs=3)
    import matplotlib.pyplot as plt

    plt.close("all")


# ------------------------------------------------------------------------------------------ the
# verdict rule


@pytest.mark.parametrize(
    ("computed", "reference", "options", "expected"),
    [
        (
            366_750,
            "364K",
            {},
            "differs",
        ),  # googlenet (4a) params: no rounding of 366.75K gives 364K
        (379.0, (380, 0), {}, "differs"),  # (3b): 379.0 vs a printed 380
        (7.570, "7.6", {}, "within rounding"),  # ResNet-101 to the nearest 0.1
        (
            7.55,
            "7.6",
            {},
            "within rounding",
        ),  # half rounds up, in decimal: not the float 7.5499999...
        (7.549, "7.6", {}, "differs"),
        (3.664, "3.6", {}, "differs"),  # ResNet-34: to nearest it would be 3.7 ...
        (3.664, "3.6", {"rule": "floor"}, "within rounding"),  # ... the paper truncates
        (138_357_544, "138M", {}, "within rounding"),
        (15_237_608, "15.18M", {}, "differs"),  # VGG16's exact rows vs its printed rows added up
        (2_712, "2.7K", {}, "within rounding"),  # K = 1000
        (2_712, "2.7K", {"kilo": 1024}, "differs"),  # 2.648K with K = 1024
        (163_328, "159K", {"kilo": 1024, "rule": "floor"}, "within rounding"),  # 159.5K truncated
        (
            802_816,
            "800K",
            {"significant": 2},
            "within rounding",
        ),  # the VGG slide's two significant figures
        (802_816, "800K", {}, "differs"),
        (0.002589, "0.26%", {}, "within rounding"),
        (0.0035, "0.26%", {}, "differs"),
        (4096, 4096, {}, "exact"),
        (4096, "4096", {}, "exact"),
        (4097, 4096, {}, "differs"),  # a number as reference: only equality counts
        ("inception4a", "inception4a", {}, "exact"),
        ([1, 2], [1, 3], {}, "differs"),
    ],
)
def test_verdict_rounds_the_computed_value_as_the_reference_is_printed(
    computed, reference, options, expected
):
    if isinstance(reference, (str, tuple)) and not isinstance(computed, str):
        reference = printed(reference, **options)
    assert verdict(computed, reference)[0] == expected


def test_printed_figures_and_their_rules():
    assert (printed("15.18M").digits, printed("15.18M").decimals, printed("15.18M").unit) == (
        Decimal("15.18"),
        2,
        1e6,
    )
    assert printed("2.7K", kilo=1024).value == pytest.approx(2.7 * 1024)
    assert printed("0.26%").value == pytest.approx(0.0026)
    assert printed("138M").describe() == "nearest 1M"
    assert printed("159K", kilo=1024, rule="floor").describe() == "floor 1K (K = 1024)"
    assert printed("800K", significant=2).describe() == "nearest 10K"
    assert round_as_printed(15_237_608, printed("15.18M")) == Decimal("15.24")
    assert verdict(366_750, printed("364K"))[1] == pytest.approx(366_750 / 364_000 - 1)
    with pytest.raises(ValueError, match="not a printed figure"):
        printed("about 5")
    with pytest.raises(ValueError, match="rule"):
        printed("5", rule="ceil")


def test_report_check_gives_three_verdicts_and_check_rounded_names_a_truncation():
    report = Report("t", "T")
    assert report.check("a", 138_357_544, "138M", "s").verdict == "within rounding"
    assert report.check("b", 4096, 4096, "s").verdict == "exact"
    c = report.check("c", 366_750, "364K", "s", why="not a rounding")
    assert (c.verdict, c.agrees, c.note) == ("differs", False, "not a rounding")
    assert (
        report.check("d", 0.6, 0.5, "s", agrees=True).verdict == "exact"
    )  # a statement that holds
    floor = report.check_rounded("e", 73_608_192, "73M", "s")
    assert (floor.verdict, floor.rule) == (
        "within rounding",
        "floor 1M",
    ) and "truncates" in floor.note
    nearest = report.check_rounded("f", 87_908_352, "88M", "s")
    assert (nearest.verdict, nearest.rule, nearest.note) == ("within rounding", "nearest 1M", "")
    text = report.render()
    assert "5 checks" not in text and "6 checks" in " ".join(text.split())
    assert "DIFFERS" in text and "(off by +0.8%)" in text


def test_wrap_counts_display_width():
    hangul = "가나다라마 " * 30  # every syllable takes two columns
    lines = wrap(hangul).splitlines()
    assert all(display_width(line) <= 100 for line in lines)
    assert (
        max(display_width(line) for line in lines) > 90
    )  # filled, not wrapped by character count at 50
    assert display_width("가a") == 3
    assert (
        wrap("  aligned   columns") == "  aligned   columns"
    )  # a preformatted line that fits is kept
    long = "x" * 250
    assert all(display_width(line) <= 100 for line in fit(long).splitlines())


# ------------------------------------------------------------------------------------------
# vgg_params


VGG16_CONFIG = [
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
]


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
    torch_weights = [
        m.weight.numel() for m in model.modules() if hasattr(m, "weight") and m.weight is not None
    ]
    assert [r["weights"] for r in data["rows"]["layers"][:-1] if r["weights"]] == torch_weights
    assert data["data"]["total_params"] == models.VGG16_Weights.IMAGENET1K_V1.meta["num_params"]


def test_vgg_params_verdicts(lesson):
    c = checks(lesson("vgg_params")[0])
    assert c["TOTAL params, biases included"]["agrees"]  # 138M
    assert not c["TOTAL memory (activations per image)"][
        "agrees"
    ]  # 24M does not follow from the rows
    assert "15.2M" in c["TOTAL memory (activations per image)"]["note"]
    assert not c["TOTAL memory in bytes, forward"]["agrees"]  # 96MB, from the 24M
    assert c["TOTAL params, biases included"]["verdict"] == "within rounding"
    assert c["TOTAL params, biases included"]["rule"] == "nearest 1M"
    # The exact rows add up to 15,237,608; the slide's printed (rounded) rows to 15,184,192 =
    # 15.18M.
    exact_sum = c["activations, our exact rows added up"]
    assert (exact_sum["computed"], exact_sum["reference"], exact_sum["verdict"]) == (
        15_237_608,
        15_184_192,
        "differs",
    )
    rounded = c["our rows, each rounded as the slide prints it, added up"]
    assert (rounded["computed"], rounded["verdict"]) == (15_184_192, "exact")
    assert (
        c["pool1 memory"]["verdict"] == "within rounding"
    )  # 802,816 -> 800K, two significant figures
    assert c["fc6 memory"]["verdict"] == "exact"  # "4096" is printed in full


# ------------------------------------------------------------------------------------------
# receptive_field


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
    assert (by_name["conv5_3"]["rf"], by_name["pool5"]["rf"], by_name["pool5"]["jump"]) == (
        196,
        212,
        32,
    )
    # What a pixel really sees at 224x224, measured by back-propagation: the field clipped to the
    # image.
    seen = {
        (r["network"], r["pixel"].split()[0]): r["measured"]
        for r in data["rows"]["corner_and_centre"]
    }
    assert seen == {
        ("VGG16 pool5", "corner"): "0..121",  # a 212 field centred on 15.5: -90..121
        ("VGG16 pool5", "centre"): "6..217",
        (
            "ResNet-50 layer4",
            "corner",
        ): "0..213",  # a 427 field centred on 0 reaches 213 to each side
        ("ResNet-50 layer4", "centre"): "0..223",
    }
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
                layers += [
                    (1, stride if stride_in_1x1 else 1),
                    (3, 1 if stride_in_1x1 else stride),
                    (1, 1),
                ]
        results[stride_in_1x1] = _field_recurrence(layers)[-1]
    last = {r["layout"]: r["rf"] for r in data["rows"]["resnet50"] if r["layer"] == "layer4"}
    assert sorted(last.values()) == sorted(results.values()) == [427, 483]


# ------------------------------------------------------------------------------------------
# factorization


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


# ------------------------------------------------------------------------------------------
# one_by_one


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
    assert (
        (data["naive"]["weights"], data["reduced"]["weights"])
        == (naive, reduced)
        == (387_072, 163_328)
    )
    assert (data["naive"]["macs"], data["reduced"]["macs"]) == (naive * 28 * 28, reduced * 28 * 28)
    assert (data["naive"]["out_channels"], data["reduced"]["out_channels"]) == (
        64 + 128 + 32 + 192,
        256,
    )


# ------------------------------------------------------------------------------------------
# googlenet_table


def test_googlenet_table_follows_the_widths(lesson):
    data = lesson("googlenet_table")[0]
    rows = {r["type"]: r for r in data["rows"]["googlenet"]}
    in_channels = 192
    for name, row in rows.items():
        if not name.startswith("inception"):
            continue
        n1, r3, n3, r5, n5, pool = (
            row[k] for k in ("n1x1", "n3x3red", "n3x3", "n5x5red", "n5x5", "pool_proj")
        )
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
        "inception (3b): params",  # 379.0K vs 380: no rounding gives it
        "inception (4a): params",  # 366.75K vs 364
        "inception (4b): params",  # 438.0K vs 437
        "inception (4c): params",
        "inception (4d): params",
        "inception (4e): params",  # 847.0K vs 840
        "inception (5a): params",
        "inception (5a): ops",
        "inception (5b): params",
        "max pool 4: patch size/stride",
        "total multiply-adds (inference)",
        "total weights (conv + linear), in K = 1024",  # close only because row errors cancel
    }
    c = checks(data)
    assert (c["inception (3a): params"]["verdict"], c["inception (3a): params"]["rule"]) == (
        "within rounding",
        "floor 1K (K = 1024)",
    )
    assert (
        c["inception (4a): ops"]["rule"] == "floor 1M"
    )  # 73.61M printed 73: the one truncated ops entry
    floors = [x["name"] for x in data["checks"] if x["rule"].startswith("floor")]
    assert floors == ["inception (3a): params", "inception (4a): ops"]
    assert c["convolution 2: params"]["verdict"] == c["linear: params"]["verdict"] == "exact"
    # conv 1 as a depthwise-separable 7x7 (depth multiplier 8): 7*7*3*8 + 24*64 weights, 112*112 x
    # that MACs
    assert (
        c["conv 1 as a depthwise-separable 7x7: weights"]["computed"]
        == 7 * 7 * 3 * 8 + 24 * 64
        == 2_712
    )
    assert (
        c["conv 1 as a depthwise-separable 7x7: multiply-adds"]["computed"]
        == 112 * 112 * 2_712
        == 34_019_328
    )
    assert all(
        c[f"conv 1 as a depthwise-separable 7x7: {k}"]["verdict"] == "within rounding"
        for k in ("weights", "multiply-adds")
    )
    rows = {r["type"]: r for r in data["rows"]["googlenet_cost"]}
    assert (
        sum(r["params_ok"] for r in rows.values()) == 3
        and sum(r["ops_ok"] for r in rows.values()) == 10
    )


# ------------------------------------------------------------------------------------------
# auxiliary_classifiers


def test_auxiliary_heads_against_torchvision(lesson):
    models = torchvision_models()
    data = lesson("auxiliary_classifiers")[0]
    model = meta_model(models.googlenet, aux_logits=True, init_weights=False)
    heads = {r["head"]: r["params"] for r in data["rows"]["heads"]}
    assert heads["aux1"] == count_params(model.aux1)
    assert heads["aux2"] == count_params(model.aux2)
    assert heads["main network"] == models.GoogLeNet_Weights.IMAGENET1K_V1.meta["num_params"]
    c = checks(data)
    assert c["aux1 is attached to"]["computed"] == "inception4a"
    assert c["aux2 is attached to"]["computed"] == "inception4d"
    assert c["gradients add: d total = d main + 0.3 (d aux1 + d aux2), largest difference"][
        "agrees"
    ]
    # The adaptive pool's windows (PyTorch's rule) are not the paper's 5x5/stride-3 windows.
    windows = c["adaptive 4x4 pool vs the paper's 5x5/3 at 14x14: same windows"]
    assert (windows["computed"], windows["reference"], windows["verdict"]) == (
        [0, 3, 7, 10],
        [0, 3, 6, 9],
        "differs",
    )
    fc1 = count_params(model.aux1.fc1)
    assert (
        data["data"]["fc1_share_of_head"] == pytest.approx(fc1 / heads["aux1"])
        and round(fc1 / heads["aux1"], 3) == 0.658
    )
    components = data["data"]["gradients"]["components"]
    for main, a1, a2, total in zip(
        *(components[k] for k in ("main", "aux1", "aux2", "total")), strict=True
    ):
        assert total == pytest.approx(
            main + 0.3 * (a1 + a2), rel=1e-4, abs=1e-9
        )  # the figure's bars add up
    losses = data["data"]["gradients"]["losses"]
    assert losses["total"] == pytest.approx(
        losses["main"] + 0.3 * (losses["aux1"] + losses["aux2"])
    )


# ------------------------------------------------------------------------------------------
# resnet_flops


def _resnet_macs(blocks: list[int], bottleneck: bool, stride_in_1x1: bool) -> int:
    """Multiply-adds of a ResNet at 224x224, from the paper's table (conv + fc, projections too)."""
    macs, size, c_in = 112 * 112 * 64 * 3 * 7 * 7, 56, 64
    for stage, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True)):
        for i in range(count):
            stride = 2 if i == 0 and stage > 0 else 1
            out = size // stride
            if bottleneck:
                c_out = 4 * width
                first = size // stride if stride_in_1x1 else size  # where the first 1x1 runs
                macs += (
                    first * first * c_in * width
                    + out * out * 9 * width * width
                    + out * out * width * c_out
                )
            else:
                c_out = width
                macs += out * out * 9 * c_in * width + out * out * 9 * width * width
            if stride != 1 or c_in != c_out:
                macs += out * out * c_in * c_out  # projection shortcut
            c_in, size = c_out, out
    return macs + c_in * 1000


RESNET_BLOCKS = {
    18: [2, 2, 2, 2],
    34: [3, 4, 6, 3],
    50: [3, 4, 6, 3],
    101: [3, 4, 23, 3],
    152: [3, 8, 36, 3],
}


def test_resnet_flops_against_the_analytic_count_and_torchvision(lesson):
    models = torchvision_models()
    data = lesson("resnet_flops")[0]
    for row in data["rows"]["flops"]:
        depth = int(row["network"].split("-")[1])
        blocks, bottleneck = RESNET_BLOCKS[depth], depth >= 50
        assert row["paper_layout"] == _resnet_macs(blocks, bottleneck, stride_in_1x1=True), depth
        assert row["torchvision_layout"] == _resnet_macs(blocks, bottleneck, stride_in_1x1=False), (
            depth
        )
        meta = getattr(models, f"ResNet{depth}_Weights").IMAGENET1K_V1.meta
        assert row["params"] == meta["num_params"]
        assert row["torchvision_layout"] / 1e9 == pytest.approx(meta["_ops"], abs=5e-4)
        assert row["layers"] == depth
    c = checks(data)
    assert not c["ResNet-50 in torchvision's layout vs the paper"]["agrees"]
    # The paper's rounding is inconsistent: 3.664 and 3.858 truncated, 1.814, 7.570 and 11.282 to
    # nearest.
    rules = {d: c[f"ResNet-{d}, paper's layout"]["rule"] for d in RESNET_BLOCKS}
    assert rules == {
        18: "nearest 0.1G",
        34: "floor 0.1G",
        50: "floor 0.1G",
        101: "nearest 0.1G",
        152: "nearest 0.1G",
    }
    assert [r["paper"] for r in data["rows"]["flops"]] == [
        "1.8",
        "3.6",
        "3.8",
        "7.6",
        "11.3",
    ]  # as printed
    assert [r["blocks"] for r in data["rows"]["blocks_per_stage"]] == list(RESNET_BLOCKS.values())
    assert {r["macs"] for r in data["rows"]["stage_level"]} == {56 * 56 * 9 * 64 * 64}
    assert c["ResNet-18: 49 x conv MACs at 32x32 + fc"][
        "agrees"
    ]  # the 32x32 shortcut, checked at 224
    blocks = {r["block"].split()[0]: r for r in data["rows"]["blocks"]}
    assert blocks["basic"]["macs"] == 2 * 56 * 56 * 9 * 64 * 64
    assert blocks["bottleneck"]["macs"] == 56 * 56 * (256 * 64 + 9 * 64 * 64 + 64 * 256)


# ------------------------------------------------------------------------------------------
# densenet_params


def test_densenet_against_torchvision(lesson):
    models = torchvision_models()
    data = lesson("densenet_params")[0]
    cost = {r["network"]: r for r in data["rows"]["cost"]}
    for depth in (121, 169, 201):
        meta = getattr(models, f"DenseNet{depth}_Weights").IMAGENET1K_V1.meta
        assert cost[f"DenseNet-{depth}"]["params"] == meta["num_params"]
        assert cost[f"DenseNet-{depth}"]["macs"] / 1e9 == pytest.approx(meta["_ops"], abs=5e-4)
    d264 = meta_model(
        models.DenseNet, growth_rate=32, block_config=(6, 12, 64, 48), num_init_features=64
    )
    assert cost["DenseNet-264"]["params"] == count_params(d264)


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
    assert not c["DenseNet-264: layers with weights"][
        "agrees"
    ]  # 265 by the rule that gives 121, 169, 201
    assert all(c[f"DenseNet-{d}: layers with weights"]["agrees"] for d in (121, 169, 201))


# ------------------------------------------------------------------------------------------
# se_params


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
    assert [rows[r]["agrees"] for r in (2, 4, 8, 16, 32, "original")] == [
        True,
        False,
        False,
        True,
        False,
        True,
    ]
    # One constant added to all six counts reproduces all six printed figures: any from 46,088 to
    # 50,759.
    low, high = data["data"]["constant_offsets"]
    assert (low, high) == (46_088, 50_759)
    for r, shown in ((2, 45.7), (4, 35.7), (8, 30.7), (16, 28.1), (32, 26.9), ("original", 25.6)):
        assert all(
            (rows[r]["params"] + offset + 50_000) // 100_000 == round(shown * 10)
            for offset in (low, high)
        )
    printed_m = {2: 457, 4: 357, 8: 307, 16: 281, 32: 269, "original": 256}
    for outside in (low - 1, high + 1):  # the range is tight: one more or one less breaks some row
        assert any(
            (rows[r]["params"] + outside + 50_000) // 100_000 != m for r, m in printed_m.items()
        )
    assert sum(row["bn_agrees"] for row in rows.values()) == 5  # BN statistics counted: 5 of 6
    c = checks(data)
    assert (
        c["SE-ResNet-50 multiply-adds (10^9), conv and FC layers"]["verdict"] == "differs"
    )  # 3.860
    for label in (
        "+ the squeeze's additions",
        "+ additions and scale",
    ):  # 3.866 and 3.872 both print 3.87
        assert c[f"SE-ResNet-50 multiply-adds (10^9), {label}"]["verdict"] == "within rounding"
    assert c["relative increase, from the paper's rounded figures"][
        "agrees"
    ]  # 3.87 / 3.86 - 1 = 0.26%
    designs = {r["design"]: r["added"] for r in data["rows"]["designs"]}
    assert (
        designs["(b) SE"]
        == designs["(d) SE-POST"]
        == designs["(e) SE-Identity"]
        == rows[16]["params"] - base
    )
    widths_pre = [64] + [256] * 2 + [256] + [512] * 3 + [512] + [1024] * 5 + [1024] + [2048] * 2
    assert designs["(c) SE-PRE"] == sum(2 * c * c // 16 + c // 16 + c for c in widths_pre)
    for row in data["rows"]["se_block"]:
        assert row["weights"] == 2 * row["C"] ** 2 // 16


def test_se_multiply_adds(lesson):
    data = lesson("se_params")[0]["data"]
    plain = _resnet_macs(RESNET_BLOCKS[50], bottleneck=True, stride_in_1x1=True)
    assert data["macs"]["ResNet-50"] == plain
    assert data["macs"]["SE-ResNet-50"] == plain + sum(2 * c * c // 16 for c in SE_WIDTHS)
    sizes = [56] * 3 + [28] * 4 + [14] * 6 + [7] * 3
    assert data["squeezed"] == sum(c * s * s for c, s in zip(SE_WIDTHS, sizes, strict=True))


# ------------------------------------------------------------------------------------------
# inception_resnet


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
    c = checks(data)
    assert c["Inception-ResNet-v2: A, B, C blocks"]["computed"] == [
        10,
        20,
        10,
    ]  # the released model
    assert (
        c["Inception-ResNet-v2: A, B, C blocks"]["verdict"] == "differs"
    )  # the schema figure: 5, 10, 5
    heads = {r["network"]: r["params"] for r in data["rows"]["parts"] if r["part"] == "head"}
    assert heads == {
        "Inception-v4": 1536 * 1000 + 1000,
        "Inception-ResNet-v1": 1792 * 1000 + 1000,
        "Inception-ResNet-v2": 1536 * 1000 + 1000,
    }
    totals = {r["network"]: r["params"] for r in data["rows"]["parts"] if r["part"] == "total"}
    assert totals["Inception-v4"] == 42_679_816  # the released model's published count
    assert totals["Inception-ResNet-v2"] == 55_843_464
    fields = {r["network"]: r["rf"] for r in data["rows"]["receptive_fields"]}
    assert (fields["Inception-v4"], fields["Inception-ResNet-v2"]) == (2071, 3039)


# ------------------------------------------------------------------------------------------ budgets


def test_budgets_against_torchvision(lesson):
    models = torchvision_models()
    data = lesson("budgets")[0]
    params = {r["network"]: r["params"] for r in data["rows"]["budget"]}
    assert (
        params["AlexNet"] == models.AlexNet_Weights.IMAGENET1K_V1.meta["num_params"] == 61_100_840
    )
    assert params["VGG16"] == models.VGG16_Weights.IMAGENET1K_V1.meta["num_params"]
    assert params["GoogLeNet"] == models.GoogLeNet_Weights.IMAGENET1K_V1.meta["num_params"]
    alexnet = meta_model(models.alexnet)
    fc = sum(p.numel() for m in alexnet.classifier if hasattr(m, "weight") for p in m.parameters())
    assert next(r for r in data["rows"]["budget"] if r["network"] == "AlexNet")["fc_params"] == fc
    c = checks(data)
    assert (
        c["GoogLeNet's parameters / AlexNet's"]["verdict"] == "differs"
    )  # about 1/9, not the slide's 1/2
    assert (
        c["AlexNet's parameters / GoogLeNet's"]["verdict"] == "differs"
    )  # 9.2x, not the paper's 12x
    heads = {r["head"]: r["params"] for r in data["rows"]["heads"]}
    assert heads == {
        "global average pool + FC": 1024 * 1000 + 1000,
        "flatten + FC": 7 * 7 * 1024 * 1000 + 1000,
    }
    crops = data["data"]["test_crops"]
    assert crops["crops"] == 4 * 3 * 6 * 2 == 144
    assert crops["macs_per_image"] == 144 * crops["macs_per_crop"]
    assert crops["macs_per_crop"] / 1e9 == pytest.approx(
        models.GoogLeNet_Weights.IMAGENET1K_V1.meta["_ops"], abs=5e-4
    )
    low, high = data["data"]["training_crops"]["area_range"]
    assert 0.08 <= low < 0.1 and 0.9 < high <= 1.0
    layers = {
        r["network"]: (r["max_pools"], r["hidden_fcs"], r["dropouts"])
        for r in data["rows"]["vgg_vs_resnet"]
    }
    assert layers == {"VGG16": (5, 2, 2), "ResNet-34": (1, 0, 0)}


# ------------------------------------------------------------------------------------------
# shortcuts


def test_shortcuts(lesson):
    data = lesson("shortcuts")[0]
    rows = {r["network"]: r for r in data["rows"]["gradients"]}
    assert (
        rows["plain-56"]["params"] == rows["ResNet-56"]["params"] == 853_018
    )  # option A: no weights added
    assert rows["plain-20"]["params"] == rows["ResNet-20"]["params"] == 269_722
    for row in rows.values():
        assert row["ratio"] == pytest.approx(row["first_conv"] / row["fc"])
    # The measured effect: from 20 to 56 layers the plain network's first-layer share grows by far
    # more
    # (it explodes) than the residual one's.
    plain = rows["plain-56"]["ratio"] / rows["plain-20"]["ratio"]
    residual = rows["ResNet-56"]["ratio"] / rows["ResNet-20"]["ratio"]
    assert abs(np.log(residual)) < abs(np.log(plain))
    assert data["data"]["units"] == 54 and data["data"]["product"] == 0.5**54


# ------------------------------------------------------------------------------------------
# capstone


def test_capstone_against_torchvision_and_direct_passes(lesson):
    models = torchvision_models()
    from scratchnet.analysis import summary
    from scratchnet.lessons._common import cost_at_224
    from scratchnet.models import googlenet

    data = lesson("capstone")[0]
    rows = {r["network"]: r for r in data["rows"]["networks"]}
    for name, weights in (
        ("VGG16", models.VGG16_Weights),
        ("GoogLeNet", models.GoogLeNet_Weights),
        ("ResNet-50 (torchvision)", models.ResNet50_Weights),
        ("DenseNet-121", models.DenseNet121_Weights),
    ):
        meta = weights.IMAGENET1K_V1.meta
        assert rows[name]["params"] == meta["num_params"], name
        assert rows[name]["macs"] / 1e9 == pytest.approx(meta["_ops"], abs=5e-4), name
    assert (
        rows["Inception-v4"]["params"] == 42_679_816
        and rows["Inception-ResNet-v2"]["params"] == 55_843_464
    )
    assert rows["ResNet-50 (paper)"]["macs"] == _resnet_macs(
        RESNET_BLOCKS[50], bottleneck=True, stride_in_1x1=True
    )
    # The 32x32 -> 224x224 scaling, against a real 224x224 pass (MACs and activations).
    model = googlenet(aux_logits=False)
    scaled, direct = cost_at_224(model), summary(model, (3, 224, 224))
    assert sum(r["macs"] for r in scaled) == direct.macs == rows["GoogLeNet"]["macs"]
    assert (
        sum(r["activations"] for r in scaled)
        == direct.activations
        == rows["GoogLeNet"]["activations"]
    )
