"""Inception-v4 and Inception-ResNet: modules, Reduction-A's (k, l, m, n), receptive fields.

Slides GoogLeNet (12)-(13) and ResNet (6)-(9): Inception-v4 is a stem, then Inception-A/B/C modules
at 35x35, 17x17 and 8x8 with Reduction-A and Reduction-B between them. Inception-ResNet-v1 and -v2
use the same plan, but each A/B/C module is the residual branch of a ResNet block: its concatenated
branches go through a 1x1 conv without activation ("Linear") back to the input's width, are scaled
down (by 0.1-0.3) and added to the input. Reduction-A is shared by all three networks, with four
widths (k, l, m, n) that the slide lists per network.

This lesson builds the three networks from ``scratchnet.models``, reads Reduction-A's widths off
its convs, counts its weights both from the module and from the formula, counts every kind of
module, and runs ``receptive_field`` through all the branches and residual additions.

Run it: ``python -m scratchnet.lessons.inception_resnet`` (``--json``, ``--plot
inception_resnet.png``). Read next: ``scratchnet/models/inception_v4.py`` (``ReductionA``),
``scratchnet/models/inception_resnet.py`` (residual scaling),
``scratchnet/analysis/receptive_field.py`` (how branches are followed).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from scratchnet import nn
from scratchnet.analysis import ReceptiveFields, receptive_field
from scratchnet.lessons._common import (
    Column,
    Report,
    count_parameters,
    count_weights,
    finish,
    fmt_int,
    parse_args,
    run_lesson,
)
from scratchnet.models import inception_resnet_v1, inception_resnet_v2, inception_v4
from scratchnet.models.inception_v4 import ReductionA
from scratchnet.viz.result import RunResult

SLIDE = "lecture, ResNet (9)"
LECTURE_KLMN = {
    "Inception-v4": (192, 224, 256, 384),
    "Inception-ResNet-v1": (192, 192, 256, 384),
    "Inception-ResNet-v2": (256, 256, 384, 384),
}
# Channels after Reduction-A in the paper (Szegedy et al. 2017): v4 17x17x1024 (Fig. 9), v1
# 17x17x896
# (Fig. 15); v2's stem gives 384 channels in the paper, so 384 + n + m = 1152 there.
PAPER_REDUCTION_A_OUT = {
    "Inception-v4": 1024,
    "Inception-ResNet-v1": 896,
    "Inception-ResNet-v2": 1152,
}
# Published parameter counts of the released models' PyTorch ports (pytorchcv, keras-hub; Cadene's
# pretrainedmodels and timm give the same), and receptive fields from
# google-research/receptive_field
# (Araujo et al. 2019), computed on the TF-slim models.
PUBLISHED_PARAMS = {"Inception-v4": 42_679_816, "Inception-ResNet-v2": 55_843_464}
PUBLISHED_RF = {"Inception-v4": 2071, "Inception-ResNet-v2": 3039}
RF_SOURCE = "Araujo et al. 2019, receptive_field README"
PAPER_IR_V2_BLOCKS = (5, 10, 5)  # Fig. 15: the schema figure of Inception-ResNet-v1 and -v2
RESIDUAL_SCALE_RANGE = (0.1, 0.3)  # Sec. 3.3: "scaling factors between 0.1 and 0.3"
CONSTRUCTORS = {
    "Inception-v4": inception_v4,
    "Inception-ResNet-v1": inception_resnet_v1,
    "Inception-ResNet-v2": inception_resnet_v2,
}
SIZE = 75  # the smallest input the three networks accept: fields and channels do not depend on it


def blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The network as a flat list of (name, block): stem layers, modules, head layers."""
    out = []
    for name, child in model.named_children():
        if isinstance(child, nn.Sequential):
            out += [(f"{name}.{sub}", block) for sub, block in child.named_children()]
        else:
            out.append((name, child))
    return out


def kind(block: nn.Module) -> str | None:
    """'Inception-A', 'Inception-ResNet-B', ... from the class name; None for plain layers."""
    name = type(block).__name__
    for prefix, label in (
        ("InceptionResNetReduction", "Reduction-"),
        ("InceptionResNet", "Inception-ResNet-"),
        ("InceptionV4", "Inception-"),
        ("Reduction", "Reduction-"),
    ):
        if name.startswith(prefix) and name[len(prefix) :] in ("A", "B", "C"):
            return label + name[len(prefix) :]
    return None


def parts(model: nn.Module, fields: Any) -> list[dict[str, Any]]:
    """Consecutive blocks of one kind grouped: stem, 4 x Inception-A, Reduction-A, ..., head."""
    groups: list[dict[str, Any]] = []
    seen_module = False
    for name, block in blocks(model):
        label = kind(block)
        seen_module = seen_module or label is not None
        if (
            label is None
            and seen_module
            and count_parameters(block)
            and not any(isinstance(m, nn.Linear) for m in block.modules())
        ):
            label = "final 1x1 conv"  # Inception-ResNet-v2's 2080 -> 1536 conv before the pooling
        label = label or ("head" if seen_module else "stem")
        if not groups or groups[-1]["part"] != label:
            groups.append(
                {
                    "part": label,
                    "blocks": 0,
                    "params": 0,
                    "per_block": count_parameters(block),
                    "scales": [],
                    "last": name,
                }
            )
        group = groups[-1]
        group["blocks"] += 1 if kind(block) else 0
        group["params"] += count_parameters(block)
        group["last"] = name
        if hasattr(block, "scale"):
            group["scales"].append(block.scale)
    for group in groups:
        shape = fields[group["last"]].output_shape
        group["channels"] = shape[1] if len(shape) == 4 else None
    return groups


def _describe(block: nn.Module) -> str:
    """A block's kind in words: 'Inception-C', 'Inception-ResNet-C', 'final 1x1 conv', ..."""
    if isinstance(block, nn.Sequential):
        block = list(block.children())[-1]
    if kind(block):
        return kind(block)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    return (
        "final 1x1 conv"
        if len(convs) == 1 and convs[0].kernel_size in (1, (1, 1))
        else type(block).__name__
    )


def reduction_a(model: nn.Module) -> tuple[str, ReductionA]:
    return next((name, block) for name, block in blocks(model) if isinstance(block, ReductionA))


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "inception_resnet",
        "Inception-v4 and Inception-ResNet (slides GoogLeNet (12)-(13), ResNet (6)-(9))",
    )
    models = {name: make() for name, make in CONSTRUCTORS.items()}
    fields = {name: receptive_field(model, (3, SIZE, SIZE)) for name, model in models.items()}

    rows = reduction_a_table(report, models, fields)
    table = parts_table(report, models, fields)
    where_the_parameters_are(report, models, table)
    rf_rows = receptive_fields(report, fields, models, table)
    exercises(report, table)

    report.data.update(reduction_a=rows, parts=table, receptive_fields=rf_rows)
    return finish(report, args, plot)


def reduction_a_table(
    report: Report, models: dict[str, nn.Module], fields: dict[str, ReceptiveFields]
) -> list[dict[str, Any]]:
    """Step 1: Reduction-A of each network, its (k, l, m, n) and its weights, against the slide."""
    rows = []
    for name, model in models.items():
        path, red = reduction_a(model)
        c = red.branch0.conv.in_channels
        k, l, m = (layer.conv.out_channels for layer in red.branch1)  # noqa: E741 (the paper's l)
        n = red.branch0.conv.out_channels
        weights = count_weights(red)[0]
        formula = 9 * c * n + c * k + 9 * k * l + 9 * l * m  # 3x3 n | 1x1 k, 3x3 l, 3x3 m
        out = fields[name][path].output_shape
        rows.append(
            {
                "network": name,
                "module": path,
                "C": c,
                "k": k,
                "l": l,
                "m": m,
                "n": n,
                "weights": weights,
                "formula": formula,
                "params": count_parameters(red),
                "out": out[1],
                "grid": f"{fields[name].rows[0].output_shape[2]}",
            }
        )
        report.check(
            f"{name}: (k, l, m, n)", [k, l, m, n], list(LECTURE_KLMN[name]), SLIDE, quiet=True
        )
        report.check(
            f"{name}: Reduction-A weights, module vs formula",
            weights,
            formula,
            "9Cn + Ck + 9kl + 9lm",
            quiet=True,
        )
    report.say(
        "Step 1. Reduction-A (Fig. 7 of Szegedy et al. 2017) turns the 35x35 grid into 17x17 "
        "with three branches: a 3x3/2 conv with n filters | 1x1 conv k -> 3x3 conv l -> 3x3/2 "
        "conv m | 3x3/2 max pool, concatenated. We read k, l, m, n off each network's ReductionA "
        "module. Its conv weights are 9Cn + Ck + 9kl + 9lm for C input channels (computed from "
        "the module and from the formula); its output has C + n + m channels."
    )
    report.table(
        "reduction_a",
        "",
        [
            Column("network", "network", align="<"),
            Column("C", "C in"),
            Column("k", "k"),
            Column("l", "l"),
            Column("m", "m"),
            Column("n", "n"),
            Column("weights", "conv weights", fmt_int),
            Column("formula", "formula", fmt_int),
            Column("params", "with BatchNorm", fmt_int),
            Column("out", "C + n + m"),
        ],
        rows,
    )
    agree_klmn = sum(c.agrees for c in report.checks if c.name.endswith("(k, l, m, n)"))
    report.check(
        "(k, l, m, n) of all three networks",
        agree_klmn,
        3,
        SLIDE + ' (e.g. "K=192, l=224, m=256, n=384")',
        shown="3 of 3",
        fmt=lambda v: f"{v} of 3",
    )
    for row in rows:
        report.check(
            f"{row['network']}: channels after Reduction-A",
            row["out"],
            PAPER_REDUCTION_A_OUT[row["network"]],
            "Szegedy et al. 2017, Figs. 9 and 15",
            why="We build the released Inception-ResNet-v2 (from TF-slim, TensorFlow's library "
            "of reference models, whose trained weights were published), whose stem ends with "
            f"{row['C']} channels instead of the paper's 384: {row['C']} + {row['n']} + "
            f"{row['m']} = {row['out']} (the paper: 384 + {row['n']} + {row['m']} = 1152).",
        )
    return rows


def parts_table(
    report: Report, models: dict[str, nn.Module], fields: dict[str, ReceptiveFields]
) -> list[dict[str, Any]]:
    """Step 2: every part of the three networks, its blocks, parameters and residual scale."""
    table = []
    for name, model in models.items():
        total = count_parameters(model)
        for group in parts(model, fields[name]):
            scales = sorted(set(group["scales"]))
            table.append(
                {
                    "network": name,
                    "part": group["part"],
                    "blocks": group["blocks"] or None,
                    "per_block": group["per_block"] if group["blocks"] else None,
                    "params": group["params"],
                    "share": group["params"] / total,
                    "channels": group["channels"],
                    "scale": ", ".join(f"{s:g}" for s in scales) if scales else None,
                }
            )
        table.append({"network": name, "part": "total", "params": total, "share": 1.0})
        if name in PUBLISHED_PARAMS:
            report.check(
                f"{name}: parameters",
                total,
                PUBLISHED_PARAMS[name],
                "pytorchcv / keras-hub (released model)",
                quiet=True,
            )
    report.say(
        "Step 2. The three networks part by part: consecutive blocks of one kind, their "
        "parameters (with BatchNorm, i.e. batch normalisation, and biases), the channels they "
        "output (C out), and for the residual blocks the factor their branch is scaled by before "
        "the addition (scale). 'head' is the classifier alone (pooling, dropout, the FC layer); "
        "Inception-ResNet-v2's 1x1 conv from 2080 to 1536 maps before it is a row of its own."
    )
    report.table(
        "parts",
        "",
        [
            Column("network", "network", align="<"),
            Column("part", "part", align="<"),
            Column("blocks", "blocks"),
            Column("per_block", "per block", fmt_int),
            Column("params", "parameters", fmt_int),
            Column("share", "share", lambda v: f"{v:.0%}"),
            Column("channels", "C out"),
            Column("scale", "scale", align="<"),
        ],
        table,
    )
    for name in PUBLISHED_PARAMS:
        report.show(next(c for c in report.checks if c.name == f"{name}: parameters"))
    scales = sorted(
        {float(s) for row in table if row.get("scale") for s in row["scale"].split(", ")}
    )
    inside = [s for s in scales if RESIDUAL_SCALE_RANGE[0] <= s <= RESIDUAL_SCALE_RANGE[1]]
    report.check(
        "residual scales inside the paper's 0.1-0.3",
        len(inside),
        len(scales),
        "Szegedy et al. 2017, Sec. 3.3",
        shown=f"{len(scales)} of {len(scales)}",
        fmt=lambda v: f"{v} of {len(scales)}",
        why="The released Inception-ResNet-v2 ends with one C block whose branch is not scaled "
        "(1.0) and which has no ReLU after the addition (the model calls it block8, as the "
        "released code does); all the others are scaled within 0.1-0.3.",
    )
    released = [
        r["blocks"]
        for r in table
        if r["network"] == "Inception-ResNet-v2" and "Inception-ResNet" in r["part"]
    ]
    report.check(
        "Inception-ResNet-v2: A, B, C blocks",
        released,
        list(PAPER_IR_V2_BLOCKS),
        "Szegedy et al. 2017, Fig. 15 (the schema of both Inception-ResNets)",
        why="We build the released model, which has 10, 20 and 10 blocks (the last C block is "
        "block8); the paper's schema figure, shared with Inception-ResNet-v1, shows 5, 10 and 5.",
    )
    return table


def where_the_parameters_are(
    report: Report, models: dict[str, nn.Module], table: list[dict[str, Any]]
) -> None:
    """Step 2, continued: where the parameters are, and the 1x1 conv that closes each block."""
    report.say(
        "The paper also disagrees with itself on Inception-ResNet-v2's width at 17x17: "
        "Reduction-A gives 384 + n + m = 384 + 384 + 384 = 1152 channels, but its "
        "Inception-ResNet-B figure for v2 (Fig. 17) ends with a 1x1 conv to 1154 channels, which "
        "could not be added to 1152 inputs. The released model has 1088 (a 320-channel stem + "
        "384 + 384) and avoids the question."
    )
    biggest = [
        max(
            (r for r in table if r["network"] == name and r["part"] != "total"),
            key=lambda r: r["params"],
        )
        for name in models
    ]
    ir_a = models["Inception-ResNet-v2"].repeat[0]
    linear = ir_a.conv2d
    report.say(
        "Every Inception-ResNet block ends with a 1x1 conv without activation that takes the "
        "concatenated branches back to the block's width (Inception-ResNet-v2's A block: "
        f"{linear.in_channels} -> {linear.out_channels} maps, {fmt_int(count_parameters(linear))} "
        "parameters) so that the branch can be added to the input. The biggest part of each "
        "network: "
        + "; ".join(
            f"{r['network']}, {r['blocks']} x {r['part']} ({r['share']:.0%})" for r in biggest
        )
        + "."
    )


def receptive_fields(
    report: Report,
    fields: dict[str, ReceptiveFields],
    models: dict[str, nn.Module],
    table: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Step 3: receptive fields of the last feature maps, following every branch and addition."""
    rf_rows = []
    for name, f in fields.items():
        last = [
            r for r in f.rows if r.depth == 1 or (r.depth == 2 and r.name.startswith("features"))
        ]
        last = [r for r in last if r.field is not None][-1]  # the last layer before global pooling
        rf_rows.append(
            {
                "network": name,
                "layer": last.name,
                "block": _describe(models[name].get_submodule(last.name)),
                "rf": last.size[0],
                "jump": last.jump[0],
                "reference": PUBLISHED_RF.get(name),
            }
        )
        if name in PUBLISHED_RF:
            report.check(
                f"{name}: receptive field of the last feature map",
                last.size[0],
                PUBLISHED_RF[name],
                RF_SOURCE,
                quiet=True,
            )
    report.say(
        f"Step 3. Receptive fields, from receptive_field() on a {SIZE}x{SIZE} image (the geometry "
        "is the same at any size): it walks every op of the forward pass, takes the union where "
        "branches are concatenated or added, and so handles all three networks without any "
        "special code."
    )
    report.table(
        "receptive_fields",
        "",
        [
            Column("network", "network", align="<"),
            Column("block", "last feature map: output of", align="<"),
            Column("rf", "receptive field"),
            Column("jump", "jump"),
            Column("reference", "Araujo et al."),
        ],
        rf_rows,
    )
    for name in PUBLISHED_RF:
        report.show(next(c for c in report.checks if c.name.startswith(f"{name}: receptive field")))
    jump_b = fields["Inception-v4"][reduction_a(models["Inception-v4"])[0]].jump[
        0
    ]  # after Reduction-A: 17x17
    counts = {
        name: [
            r["blocks"] for r in table if r["network"] == name and r["part"].startswith("Inception")
        ]
        for name in models
    }
    report.say(
        "Several times the 299x299 image: every conv on the longest path adds (k - 1) x jump "
        f"pixels, and the jump is already {jump_b} in the many 17x17 blocks. "
        "Inception-ResNet-v2's field is the largest: it has the most blocks "
        f"({', '.join(map(str, counts['Inception-ResNet-v2']))} A, B, C blocks against "
        f"{', '.join(map(str, counts['Inception-v4']))} in Inception-v4)."
    )
    return rf_rows


def exercises(report: Report, table: list[dict[str, Any]]) -> None:
    """The exercises, answered from the same models (the answers are in ``--json``)."""
    v4_total = next(
        r["params"] for r in table if r["network"] == "Inception-v4" and r["part"] == "total"
    )
    report.exercise(
        "Reduction-A of Inception-v4 has C = 384, k = 192, l = 224, m = 256, n = 384. How many "
        "conv weights, and how many output channels?",
        {
            "weights": 9 * 384 * 384 + 384 * 192 + 9 * 192 * 224 + 9 * 224 * 256,
            "channels": 384 + 384 + 256,
        },
    )
    report.exercise(
        "If Inception-ResNet-v2 had the schema figure's 5/10/5 blocks, how many parameters would "
        "it have (remove half of the A, B and C blocks)?",
        next(
            r["params"]
            for r in table
            if r["network"] == "Inception-ResNet-v2" and r["part"] == "total"
        )
        - sum(
            r["per_block"] * (r["blocks"] // 2)
            for r in table
            if r["network"] == "Inception-ResNet-v2"
            and str(r["part"]).startswith("Inception-ResNet")
        ),
    )
    report.exercise(
        "What share of Inception-v4's parameters sit in its 7 Inception-B blocks?",
        round(
            next(
                r["params"]
                for r in table
                if r["network"] == "Inception-v4" and r["part"] == "Inception-B"
            )
            / v4_total,
            3,
        ),
    )


def plot(fig: Any, report: Report) -> None:
    """Parameters per part of each network, stacked."""
    ax = fig.subplots()
    networks = list(CONSTRUCTORS)
    rows = [r for r in report.data["parts"] if r["part"] != "total"]
    bottoms = dict.fromkeys(networks, 0.0)
    for row in rows:
        i = networks.index(row["network"])
        ax.bar(
            i,
            row["params"] / 1e6,
            bottom=bottoms[row["network"]],
            color=_colour(row["part"]),
            edgecolor="white",
        )
        if row["params"] / 1e6 > 2:
            ax.text(
                i,
                bottoms[row["network"]] + row["params"] / 2e6,
                row["part"],
                ha="center",
                va="center",
                fontsize=7,
            )
        bottoms[row["network"]] += row["params"] / 1e6
    ax.set_xticks(range(len(networks)), networks)
    ax.set_ylabel("parameters (millions)")
    ax.set_title("Where the parameters are")
    from matplotlib.patches import Patch

    handles = [Patch(color=_colour(p), label=label) for p, label in LEGEND.items()]
    ax.legend(handles=handles, fontsize=8)


LEGEND = {
    "-A": "A blocks (35x35)",
    "-B": "B blocks (17x17)",
    "-C": "C blocks (8x8)",
    "other": "stem, reductions, head",
}


def _colour(part: str) -> str:
    """One colour per kind of block: A, B and C modules; everything else grey (see LEGEND)."""
    if part.startswith(("Inception", "-")) and part[-1] in "ABC":
        return {"A": "tab:blue", "B": "tab:orange", "C": "tab:green"}[part[-1]]
    return "tab:grey"


if __name__ == "__main__":
    main(sys.argv[1:])
