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
Read next: ``scratchnet/models/senet.py`` (``SEBlock``, the four designs), ``scratchnet/models/resnet.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from scratchnet.analysis import summary
from scratchnet.lessons._common import Column, Report, count_parameters, finish, fmt_int, parse_args, run_lesson
from scratchnet.models import resnet50, se_resnet50
from scratchnet.models.senet import SEBlock
from scratchnet.viz.result import RunResult

SLIDE = "lecture, Attentions (5) = Hu et al. 2018, reduction-ratio ablation"
LECTURE_PARAMS = {2: 45.7e6, 4: 35.7e6, 8: 30.7e6, 16: 28.1e6, 32: 26.9e6, "original": 25.6e6}
PAPER_GFLOPS = {"ResNet-50": 3.86, "SE-ResNet-50": 3.87}  # Hu et al. 2018, Table 2 (multiply-adds, r = 16)
STAGES = {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}  # ResNet-50's block outputs
SMALL, FULL = 32, 224  # summary on 32x32; every map at 224 is 7 x 7 times bigger (see resnet_flops)


def _rounds_to(computed: int, reference: float) -> bool:
    """The slide prints millions with one decimal: agree when ours rounds to the same."""
    return round(computed / 1e5) == round(reference / 1e5)


def run(**options: Any) -> RunResult:
    """The lesson as a function for a notebook: ``run(plot="x.png")`` is ``--plot x.png``.

    Returns a :class:`scratchnet.viz.RunResult`: ``numbers`` (what ``--json`` prints), ``figures``
    (the lesson's figure, open) and ``text`` (what the command line prints).
    """
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "se_params", "Squeeze-and-Excitation: the block's cost and SE-ResNet-50 (slides Attentions (3)-(5))"
    )

    # -- Step 1: one SE block per stage width
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
        f"Step 1. One SEBlock(C, reduction={r}) for each stage width of ResNet-50. fc1 is W1 (C -> C/r), fc2 is W2 "
        "(C/r -> C); 'multiply-adds' come from summary() and are the same on any image size: the FC layers see one "
        "number per channel."
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

    # -- Step 2: SE-ResNet-50 for every r of the slide
    # The paper's layout (stride in the first 1x1, as in resnet_flops): the same parameters as torchvision's,
    # and the multiply-adds of the paper's Table 2.
    plain = resnet50(stride_in_1x1=True)
    models = {ratio: se_resnet50(reduction=ratio, stride_in_1x1=True) for ratio in (2, 4, 8, 16, 32)}
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
    disagreeing = []
    for row in table:
        ok = _rounds_to(row["params"], row["lecture"])
        row["agrees"] = ok
        label = "ResNet-50 (original)" if row["r"] == "original" else f"SE-ResNet-50, r = {row['r']}"
        check = report.check(
            f"{label}: parameters",
            row["params"],
            row["lecture"],
            SLIDE,
            agrees=ok,
            shown=f"{row['lecture'] / 1e6:.1f}M",
            quiet=True,
        )
        if not ok:
            low = row["lecture"] - 0.05e6  # the smallest count the slide's figure can stand for
            check.note = (
                f"{row['params'] / 1e6:.2f}M rounds to {row['params'] / 1e6:.1f}M; the slide's figure needs at "
                f"least {fmt_int(low - row['params'])} more parameters."
            )
            disagreeing.append(check)
    report.say(
        f"Step 2. SE-ResNet-50 (an SE block in each of its {table[0]['blocks']} bottleneck blocks, on the block's "
        "output width) for the reduction ratios of the slide, counted with count_parameters(); 'original' is ResNet-50."
    )
    report.table(
        "se_resnet50",
        "",
        [
            Column("r", "r", align="<"),
            Column("blocks", "SE blocks"),
            Column("params", "parameters", fmt_int),
            Column("added", "added by SE", fmt_int),
            Column("lecture", "slide", lambda v: f"{v / 1e6:.1f}M"),
            Column("agrees", "", lambda ok: "ok" if ok else "DIFFERS", "<"),
            Column("without_se_biases", "without SE biases", fmt_int),
        ],
        table,
    )
    for check in disagreeing:
        report.show(check)
    added = {row["r"]: row["added"] for row in table if row["r"] != "original"}
    last_stage = sum(count_parameters(m) for m in models[16].layer4.modules() if isinstance(m, SEBlock))
    report.say(
        "Where we disagree, the slide's figures are higher by at least "
        + ", ".join(f"{c.note.split('least ')[1].split(' more')[0]}" for c in disagreeing)
        + " parameters. The SE blocks' cost is proportional to 1/r (they add "
        + ", ".join(f"{fmt_int(v)}" for v in added.values())
        + " for r = 2 ... 32: halving each time, up to the biases), so gaps that do not follow 1/r are not a different "
        "way of counting the SE blocks, and leaving out their biases (last column) changes nothing in the first "
        "decimal. The paper does not say how it counted; we read its three figures as rounding slips.",
        f"With r = 16, the paper's choice, SE adds {added[16] / base:.1%} to ResNet-50's parameters: "
        f"{fmt_int(added[16])}, {last_stage / added[16]:.0%} of them in the three 2048-wide blocks of the last stage "
        "(the cost grows with C^2).",
    )
    report.check(
        "SE-ResNet-50 (r = 16) parameters",
        table[3]["params"],
        28_088_024,
        "pytorchcv (osmr/imgclsmob) seresnet50 weight count",
    )

    # -- Step 3: run time: the extra multiply-adds
    scale = (FULL // SMALL) ** 2
    se16 = summary(models[16], (3, SMALL, SMALL))
    base_s = summary(plain, (3, SMALL, SMALL))
    macs = {
        name: sum(r.macs * (scale if r.type == "Conv2d" else 1) for r in s.rows if r.is_leaf)
        for name, s in (("ResNet-50", base_s), ("SE-ResNet-50", se16))
    }
    pooled = sum(scale * _numel(r.output_shape) for r in se16.rows if r.type == "SEBlock")  # values squeezed and scaled
    report.say(
        "Step 3. Running it. Multiply-adds of one 224x224 image (conv and FC layers, as in resnet_flops; the paper's "
        "layout with the stride in the first 1x1):",
        f"  ResNet-50     {macs['ResNet-50'] / 1e9:.3f} x 10^9\n"
        f"  SE-ResNet-50  {macs['SE-ResNet-50'] / 1e9:.3f} x 10^9   "
        f"(+{fmt_int(macs['SE-ResNet-50'] - macs['ResNet-50'])} in the SE blocks' FC layers)\n"
        f"  the SE blocks also average {fmt_int(pooled)} values (squeeze) and multiply as many (scale), which "
        "summary() does not count",
    )
    report.check(
        "ResNet-50 multiply-adds (10^9)",
        round(macs["ResNet-50"] / 1e9, 3),
        PAPER_GFLOPS["ResNet-50"],
        "Hu et al. 2018, Table 2",
        rel_tol=0.005,
        fmt=lambda v: f"{v:.3f}",
    )
    with_squeeze = macs["SE-ResNet-50"] + 2 * pooled
    report.check(
        "SE-ResNet-50 multiply-adds (10^9)",
        round(macs["SE-ResNet-50"] / 1e9, 3),
        PAPER_GFLOPS["SE-ResNet-50"],
        "Hu et al. 2018, Table 2",
        agrees=round(macs["SE-ResNet-50"] / 1e7) == 387,
        fmt=lambda v: f"{v:.3f}",
        why=f"Conv and FC layers alone give {macs['SE-ResNet-50'] / 1e9:.3f}. Counting the squeeze's additions and "
        f"the scale's multiplications too gives {with_squeeze / 1e9:.3f}, the paper's 3.87: its count "
        "includes them.",
    )
    report.say(
        f"The SE blocks add {added[16] / base:.0%} parameters but only "
        f"{(with_squeeze - macs['ResNet-50']) / macs['ResNet-50']:.2%} operations: their FC layers work on one number "
        "per channel, not on every pixel."
    )
    report.data.update(se_block=rows, se_resnet50=table, macs=macs, squeezed=pooled)
    return finish(report, args, plot)


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
    ax.plot([r["r"] for r in rows], [r["lecture"] / 1e6 for r in rows], "x--", label="slide")
    ax.axhline(base / 1e6, color="grey", linestyle=":", label="ResNet-50")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("reduction ratio r")
    ax.set_ylabel("parameters (millions)")
    ax.set_title("SE-ResNet-50: the SE blocks cost 2C^2/r")
    ax.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
