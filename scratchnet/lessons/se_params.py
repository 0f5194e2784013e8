"""The Squeeze-and-Excitation block: what it costs, and SE-ResNet-50's parameters for r = 2 ... 32.

Slide Attentions (3): an SE block squeezes each of the C channels to one number (global average
pooling), passes the C numbers through two fully connected layers, W1 (C/r x C) and W2 (C x C/r)
with a ReLU between and a sigmoid after, and scales every channel by its result. Its weights are
the two matrices: 2 C^2 / r (plus C/r + C biases), independent of the image size. Slide
Attentions (5) lists SE-ResNet-50's parameters for reduction ratios r = 2, 4, 8, 16, 32.

This lesson counts an ``SEBlock`` for the four widths of ResNet-50's stages, then builds
``scratchnet.models.se_resnet50(reduction=r)`` for every r of the slide and compares the totals,
and finally counts the extra multiply-adds: SE-ResNet-50 costs almost nothing more to run.

Run it: ``python -m scratchnet.lessons.se_params`` (``--json``, ``--plot se.png``).
Read next: ``scratchnet/models/senet.py`` (``SEBlock``, the four designs),
``scratchnet/models/resnet.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from scratchnet import nn
from scratchnet.analysis import summary
from scratchnet.lessons._common import (
    FULL,
    SMALL,
    Check,
    Column,
    Report,
    count_parameters,
    finish,
    fmt_int,
    parse_args,
    printed,
    run_lesson,
    scaled_to_224,
    verdict,
)
from scratchnet.models import resnet50, se_resnet50
from scratchnet.models.senet import SEBlock
from scratchnet.viz.result import RunResult

SLIDE = "lecture, Attentions (5) = Hu et al. 2018, reduction-ratio ablation"
LECTURE_PARAMS = {2: "45.7M", 4: "35.7M", 8: "30.7M", 16: "28.1M", 32: "26.9M", "original": "25.6M"}
PAPER_GFLOPS = {
    "ResNet-50": "3.86",
    "SE-ResNet-50": "3.87",
}  # Hu et al. 2018, Table 2 (GFLOPs = 10^9 MACs)
PAPER_INCREASE = (
    "0.26%"  # Hu et al. 2018, Sec. 4: SE-ResNet-50 needs "a 0.26% relative increase" over ResNet-50
)
DESIGNS = {
    "standard": "(b) SE",
    "pre": "(c) SE-PRE",
    "post": "(d) SE-POST",
    "identity": "(e) SE-Identity",
}
STAGES = {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}  # ResNet-50's block outputs


def offsets_that_fit(rows: list[dict[str, Any]]) -> tuple[int, int] | None:
    """The constants c for which each ``params + c`` rounds (nearest 0.1M) to its printed figure.

    A printed "45.7M" stands for [45.65M, 45.75M): each row gives an interval of c; the answer is
    their intersection (inclusive integer bounds), or None when it is empty.
    """
    low, high = -(10**12), 10**12
    for row in rows:
        ref = printed(row["lecture"])
        half = Decimal(ref.unit) * Decimal(5).scaleb(-ref.decimals - 1)  # 0.05M
        centre = ref.digits * Decimal(ref.unit)
        low = max(
            low, int((centre - half - row["params"]).to_integral_value(rounding="ROUND_CEILING"))
        )
        high = min(
            high,
            int((centre + half - row["params"]).to_integral_value(rounding="ROUND_CEILING")) - 1,
        )
    return (low, high) if low <= high else None


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "se_params",
        "Squeeze-and-Excitation: the block's cost and SE-ResNet-50 (slides Attentions (3)-(5))",
    )

    rows = se_block_cost(report)
    plain, models, base, table, bn_statistics, disagreeing = se_resnet50_parameters(report)
    added = why_the_slide_is_higher(report, table, models, disagreeing, bn_statistics, base)
    macs, pooled = multiply_adds(report, models, plain, added, base)
    designs(report, base, models[16])  # the stride's place changes no parameter count
    exercises(report, added, table)

    report.data.update(se_block=rows, se_resnet50=table, macs=macs, squeezed=pooled)
    return finish(report, args, plot)


def se_block_cost(report: Report) -> list[dict[str, Any]]:
    """Step 1: one SE block per stage width of ResNet-50; its weights are 2C^2/r."""
    r = 16
    rows = []
    for stage, channels in STAGES.items():
        se = SEBlock(channels, reduction=r)
        s = summary(se, (channels, 7, 7))
        rows.append(
            {
                "stage": stage,
                "C": channels,
                "hidden": se.fc1.out_features,
                "weights": se.fc1.weight.numel() + se.fc2.weight.numel(),
                "biases": se.fc1.bias.numel() + se.fc2.bias.numel(),
                "params": count_parameters(se),
                "formula": 2 * channels * channels // r,
                "macs": s.macs,
            }
        )
        report.check(
            f"SE block, C = {channels}: weights = 2C^2/r",
            rows[-1]["weights"],
            2 * channels * channels // r,
            "lecture, Attentions (3): W1 is C/r x C, W2 is C x C/r",
            quiet=True,
        )
    report.say(
        f"Step 1. One SEBlock(C, reduction={r}) for each stage width of ResNet-50. fc1 is W1 (C "
        "-> C/r), fc2 is W2 (C/r -> C); 'multiply-adds' come from summary() and are the same on "
        "any image size: the FC layers see one number per channel."
    )
    report.table(
        "se_block",
        "",
        [
            Column("stage", "stage", align="<"),
            Column("C", "C"),
            Column("hidden", "C/r"),
            Column("weights", "weights", fmt_int),
            Column("formula", "2C^2/r", fmt_int),
            Column("biases", "biases", fmt_int),
            Column("params", "parameters", fmt_int),
            Column("macs", "multiply-adds", fmt_int),
        ],
        rows,
    )
    report.check(
        "SE blocks: weights = 2C^2/r for all four widths",
        sum(c.agrees for c in report.checks),
        4,
        "lecture, Attentions (3)",
        shown="4 of 4",
        fmt=lambda v: f"{v} of 4",
    )
    return rows


def se_resnet50_parameters(
    report: Report,
) -> tuple[nn.Module, dict[int, nn.Module], int, list[dict[str, Any]], int, list[Check]]:
    """Step 2: SE-ResNet-50's parameters for every r of the slide, against the slide."""
    # The paper's layout (stride in the first 1x1, as in resnet_flops): the same parameters as
    # torchvision's, and the multiply-adds of the paper's Table 2.
    plain = resnet50(stride_in_1x1=True)
    models = {
        ratio: se_resnet50(reduction=ratio, stride_in_1x1=True) for ratio in (2, 4, 8, 16, 32)
    }
    base = count_parameters(plain)
    table = []
    for ratio, model in models.items():
        total = count_parameters(model)
        se_blocks = [m for m in model.modules() if isinstance(m, SEBlock)]
        biases = sum(b.fc1.bias.numel() + b.fc2.bias.numel() for b in se_blocks)
        table.append(
            {
                "r": ratio,
                "params": total,
                "added": total - base,
                "without_se_biases": total - biases,
                "blocks": len(se_blocks),
                "lecture": LECTURE_PARAMS[ratio],
            }
        )
    table.append(
        {
            "r": "original",
            "params": base,
            "added": 0,
            "without_se_biases": base,
            "blocks": 0,
            "lecture": LECTURE_PARAMS["original"],
        }
    )
    bn_statistics = sum(b.numel() for name, b in plain.named_buffers() if "running_" in name)
    disagreeing = []
    for row in table:
        label = (
            "ResNet-50 (original)" if row["r"] == "original" else f"SE-ResNet-50, r = {row['r']}"
        )
        check = report.check(
            f"{label}: parameters", row["params"], row["lecture"], SLIDE, quiet=True
        )
        row["agrees"] = check.agrees
        row["with_bn_statistics"] = row["params"] + bn_statistics
        row["bn_agrees"] = verdict(row["with_bn_statistics"], row["lecture"])[0] != "differs"
        if not check.agrees:
            ref = printed(row["lecture"])
            low = (
                float(ref.digits - Decimal("0.05")) * ref.unit
            )  # the smallest count the figure stands for
            check.note = (
                f"{row['params'] / 1e6:.2f}M rounds to {row['params'] / 1e6:.1f}M; the slide's "
                f"figure needs at least {fmt_int(low - row['params'])} more parameters."
            )
            disagreeing.append(check)
    report.say(
        f"Step 2. SE-ResNet-50 (an SE block in each of its {table[0]['blocks']} bottleneck "
        "blocks, on the block's output width) for the reduction ratios of the slide, counted "
        "with count_parameters(); 'original' is ResNet-50. The slide prints millions to one "
        "decimal: ours must round to it."
    )
    report.table(
        "se_resnet50",
        "",
        [
            Column("r", "r", align="<"),
            Column("blocks", "SE blocks"),
            Column("params", "parameters", fmt_int),
            Column("added", "added by SE", fmt_int),
            Column("lecture", "slide", align=">"),
            Column("agrees", "", lambda ok: "ok" if ok else "DIFFERS", "<"),
            Column("without_se_biases", "no SE biases", fmt_int),
        ],
        table,
    )
    for check in disagreeing:
        report.show(check)
    return plain, models, base, table, bn_statistics, disagreeing


def why_the_slide_is_higher(
    report: Report,
    table: list[dict[str, Any]],
    models: dict[int, nn.Module],
    disagreeing: list[Check],
    bn_statistics: int,
    base: int,
) -> dict[int, int]:
    """Step 2, continued: three hypotheses for the rows where the slide is higher."""
    added = {row["r"]: row["added"] for row in table if row["r"] != "original"}
    last_stage = sum(
        count_parameters(m) for m in models[16].layer4.modules() if isinstance(m, SEBlock)
    )
    offsets = offsets_that_fit(table)
    n_bn = sum(row["bn_agrees"] for row in table)
    report.say(
        "Where we disagree, the slide's figures are higher by at least "
        + ", ".join(f"{c.note.split('least ')[1].split(' more')[0]}" for c in disagreeing)
        + " parameters. The SE blocks' cost is proportional to 1/r (they add "
        + ", ".join(f"{fmt_int(v)}" for v in added.values())
        + " for r = 2 ... 32: halving each time, up to the biases), so the gaps are not a "
        "different way of counting the SE blocks, and leaving out their biases (last column) "
        "changes nothing in the first decimal. The paper does not say how it counted. Three "
        "hypotheses, tested on all six rows:",
        "  (a) rounding slips in three of the six figures: fits by construction, explains "
        "nothing.\n"
        + (
            "  (b) one constant added to every count (something counted in all six networks "
            f"alike): any constant from {fmt_int(offsets[0])} to {fmt_int(offsets[1])} makes all "
            "6 of 6 figures round right.\n"
            if offsets
            else "  (b) one constant added to every count: no single constant fits all six rows.\n"
        )
        + "  (c) BatchNorm's running mean and variance counted as parameters "
        f"({fmt_int(bn_statistics)} numbers in ResNet-50): {n_bn} of 6 figures round right.",
        "(b) is the most economical: one unknown, six figures. We cannot tell what the constant "
        "is.",
        f"With r = 16, the paper's choice, SE adds {added[16] / base:.1%} to ResNet-50's "
        f"parameters: {fmt_int(added[16])}, {last_stage / added[16]:.0%} of them in the three "
        "2048-wide blocks of the last stage (the cost grows with C^2).",
    )
    report.data["constant_offsets"] = offsets
    report.data["bn_statistics"] = bn_statistics
    report.check(
        "SE-ResNet-50 (r = 16) parameters",
        table[3]["params"],
        28_088_024,
        "pytorchcv (osmr/imgclsmob) seresnet50 weight count",
    )
    return added


def multiply_adds(
    report: Report, models: dict[int, nn.Module], plain: nn.Module, added: dict[int, int], base: int
) -> tuple[dict[str, int], int]:
    """Step 3: what SE costs at run time: the extra multiply-adds, against the paper's Table 2."""
    scale = (FULL // SMALL) ** 2
    se16 = summary(models[16], (3, SMALL, SMALL))
    base_s = summary(plain, (3, SMALL, SMALL))
    macs = {
        name: sum(r["macs"] for r in scaled_to_224(s))
        for name, s in (("ResNet-50", base_s), ("SE-ResNet-50", se16))
    }
    pooled = sum(
        scale * _numel(r.output_shape) for r in se16.rows if r.type == "SEBlock"
    )  # values squeezed and scaled
    report.say(
        "Step 3. Running it. Multiply-adds of one 224x224 image (conv and FC layers, as in "
        "resnet_flops; the paper's layout with the stride in the first 1x1):",
        f"  ResNet-50     {macs['ResNet-50'] / 1e9:.3f} x 10^9\n  SE-ResNet-50  "
        f"{macs['SE-ResNet-50'] / 1e9:.3f} x 10^9   "
        f"(+{fmt_int(macs['SE-ResNet-50'] - macs['ResNet-50'])} in the SE blocks' FC layers)\n  "
        f"the SE blocks also average {fmt_int(pooled)} values (squeeze) and multiply as many "
        "(scale), which summary() does not count",
    )
    with_squeeze = macs["SE-ResNet-50"] + 2 * pooled
    report.check(
        "ResNet-50 multiply-adds (10^9)",
        macs["ResNet-50"] / 1e9,
        PAPER_GFLOPS["ResNet-50"],
        "Hu et al. 2018, Table 2",
        fmt=lambda v: f"{v:.3f}",
    )
    report.check(
        "SE-ResNet-50 multiply-adds (10^9), conv and FC layers",
        macs["SE-ResNet-50"] / 1e9,
        PAPER_GFLOPS["SE-ResNet-50"],
        "Hu et al. 2018, Table 2",
        fmt=lambda v: f"{v:.3f}",
        why="3.860 prints 3.86: the paper's 3.87 counts more than the SE blocks' FC layers "
        "(below).",
    )
    with_additions = macs["SE-ResNet-50"] + pooled
    for label, value in (
        ("+ the squeeze's additions", with_additions),
        ("+ additions and scale", with_squeeze),
    ):
        report.check(
            f"SE-ResNet-50 multiply-adds (10^9), {label}",
            value / 1e9,
            PAPER_GFLOPS["SE-ResNet-50"],
            "Hu et al. 2018, Table 2",
            fmt=lambda v: f"{v:.4f}",
        )
    report.say(
        f"Conv and FC layers alone give {macs['SE-ResNet-50'] / 1e9:.3f}, which prints 3.86, not "
        "3.87: the paper counted more than the SE blocks' FC layers. Adding the squeeze's "
        f"additions ({with_additions / 1e9:.4f}) or those and the scale's multiplications "
        f"({with_squeeze / 1e9:.4f}) both print 3.87, so which of the two the paper counted, its "
        "figure cannot tell."
    )
    exact_increase = (with_squeeze - macs["ResNet-50"]) / macs["ResNet-50"]
    se_printed, plain_printed = (
        printed(PAPER_GFLOPS[k]).digits for k in ("SE-ResNet-50", "ResNet-50")
    )
    printed_increase = float(se_printed / plain_printed) - 1
    report.check(
        "relative increase in multiply-adds, from exact counts",
        exact_increase,
        PAPER_INCREASE,
        "Hu et al. 2018, Sec. 4: 'a 0.26% relative increase'",
        fmt=lambda v: f"{100 * v:.2f}%",
        why="The paper's 0.26% is its two rounded figures divided: 3.87 / 3.86 - 1 = "
        f"{100 * printed_increase:.2f}%. The exact counts give {100 * exact_increase:.2f}% with "
        f"squeeze and scale, {100 * (with_additions / macs['ResNet-50'] - 1):.2f}% with the "
        f"squeeze's additions only, {100 * (macs['SE-ResNet-50'] / macs['ResNet-50'] - 1):.2f}% "
        "with the FC layers only: rounding both figures to 0.01G before dividing changes the "
        "ratio.",
    )
    report.check(
        "relative increase, from the paper's rounded figures",
        printed_increase,
        PAPER_INCREASE,
        "Hu et al. 2018, Sec. 4",
        fmt=lambda v: f"{100 * v:.3f}%",
    )
    report.say(
        f"The SE blocks add {added[16] / base:.0%} parameters but only {exact_increase:.2%} "
        "operations: their FC layers work on one number per channel, not on every pixel."
    )
    return macs, pooled


def exercises(report: Report, added: dict[int, int], table: list[dict[str, Any]]) -> None:
    """The exercises, answered from the same models (the answers are in ``--json``)."""
    report.exercise(
        "How many parameters does one SE block add to a 2048-wide block at r = 16, biases "
        "included?",
        2 * 2048 * 2048 // 16 + 2048 // 16 + 2048,
    )
    report.exercise(
        "At which r would SE add as many parameters as ResNet-50's final FC layer (2048 x 1000 + "
        "1000)? Give the r whose count comes closest.",
        min((2, 4, 8, 16, 32), key=lambda ratio: abs(added[ratio] - 2_049_000)),
    )
    report.exercise(
        "Under hypothesis (c), BatchNorm's running statistics counted, which row's figure still "
        "does not round right, and by how many parameters is it off?",
        [
            {
                "r": row["r"],
                "with_bn_statistics": row["with_bn_statistics"],
                "slide": row["lecture"],
            }
            for row in table
            if not row["bn_agrees"]
        ],
    )


def designs(report: Report, plain: int, standard: Any) -> None:
    """Step 4: the four places an SE block can sit in a residual unit (slide Attentions (6))."""
    rows = []
    for design, label in DESIGNS.items():
        model = standard if design == "standard" else se_resnet50(design=design)
        blocks = [m for m in model.modules() if isinstance(m, SEBlock)]
        rows.append(
            {
                "design": label,
                "where": {
                    "standard": "residual branch, before the addition",
                    "pre": "start of the residual branch (block input)",
                    "post": "after the addition and its ReLU",
                    "identity": "shortcut branch, before the addition",
                }[design],
                "added": count_parameters(model) - plain,
                "widths": sorted({b.fc1.in_features for b in blocks}),
            }
        )
    report.say(
        "Step 4. Where the SE block sits (slide Attentions (6), paper Table 14). "
        "se_resnet50(design=...) builds each of the four designs; the parameters they add differ "
        "only where the SE block sees a different width: SE-PRE works on each block's input, "
        "which in a stage's first block is the previous stage's width."
    )
    report.table(
        "designs",
        "",
        [
            Column("design", "design", align="<"),
            Column("where", "the SE block sits", align="<"),
            Column("added", "added params", fmt_int),
            Column("widths", "C seen", lambda w: ",".join(str(v) for v in w), "<"),
        ],
        rows,
    )
    standard = rows[0]["added"]
    report.check(
        "SE-POST and SE-Identity add as many parameters as the standard SE",
        [rows[2]["added"], rows[3]["added"]],
        [standard, standard],
        "all three see the block's output width",
    )


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for s in shape[1:]:  # one image
        n *= s
    return n


def plot(fig: Any, report: Report) -> None:
    """SE-ResNet-50's parameters against r: computed and the slide's."""
    rows = [r for r in report.data["se_resnet50"] if r["r"] != "original"]
    base = next(r for r in report.data["se_resnet50"] if r["r"] == "original")["params"]
    ax = fig.subplots()
    ax.plot([r["r"] for r in rows], [r["params"] / 1e6 for r in rows], "o-", label="computed")
    ax.plot(
        [r["r"] for r in rows],
        [printed(r["lecture"]).value / 1e6 for r in rows],
        "x--",
        label="slide",
    )
    ax.axhline(base / 1e6, color="grey", linestyle=":", label="ResNet-50")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("reduction ratio r")
    ax.set_ylabel("parameters (millions)")
    ax.set_title("SE-ResNet-50: the SE blocks cost 2C^2/r")
    ax.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
