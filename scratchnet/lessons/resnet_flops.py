"""ResNet's FLOPs row (slide ResNet (3), the paper's Table 1), recomputed from the real models.

The last row of the ResNet table gives each network's cost: 1.8, 3.6, 3.8, 7.6 and 11.3 x 10^9
"FLOPs" for ResNet-18, 34, 50, 101 and 152. The paper's text says what it counts: "3.6 billion FLOPs
(multiply-adds)" for ResNet-34. So the unit is the multiply-add (MAC) of the convolutions and the
fully connected layer: what ``scratchnet.analysis.summary`` reports as ``macs``. (One multiply-add
is two floating-point operations, so "FLOPs" in most later papers are twice these numbers.)

The paper's bottleneck block strides its first 1x1 conv; torchvision (and scratchnet by default)
strides the 3x3 instead ("ResNet v1.5"), which costs more: 4.1 instead of 3.8 x 10^9 for ResNet-50.
``resnet50(stride_in_1x1=True)`` builds the paper's layout. This lesson counts both, compares them
with the paper and with torchvision's published figures, and compares a basic block with a
bottleneck block.

Run it: ``python -m scratchnet.lessons.resnet_flops`` (``--json``, ``--plot resnet.png``).
Read next: ``scratchnet/models/resnet.py`` (``BasicBlock``, ``Bottleneck``, ``stride_in_1x1``),
``scratchnet/analysis/summary.py`` (how MACs are counted).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from scratchnet import nn
from scratchnet.analysis import summary
from scratchnet.lessons._common import (
    FULL,
    SMALL,
    Column,
    Report,
    cost_at_224,
    count_parameters,
    finish,
    fmt_int,
    fmt_si,
    parse_args,
    run_lesson,
    scaled_to_224,
)
from scratchnet.models import resnet18, resnet34, resnet50, resnet101, resnet152
from scratchnet.models.resnet import Bottleneck
from scratchnet.viz.result import RunResult

SLIDE = "lecture, ResNet (3) = He et al. 2015, Table 1"
PAPER_GMACS = {18: "1.8", 34: "3.6", 50: "3.8", 101: "7.6", 152: "11.3"}  # as printed, 10^9
# torchvision 0.29: ResNet*_Weights.IMAGENET1K_V1.meta["_ops"] (its docs call them "GFLOPS", but
# they are multiply-adds) and meta["num_params"].
TORCHVISION_GMACS = {18: "1.814", 34: "3.664", 50: "4.089", 101: "7.801", 152: "11.514"}
TORCHVISION_PARAMS = {
    18: 11_689_512,
    34: 21_797_672,
    50: 25_557_032,
    101: 44_549_160,
    152: 60_192_808,
}
CONSTRUCTORS: dict[int, Callable[..., nn.Module]] = {
    18: resnet18,
    34: resnet34,
    50: resnet50,
    101: resnet101,
    152: resnet152,
}


def macs_at_224(model: nn.Module) -> dict[str, int]:
    """Multiply-adds of every layer by name for one 224x224 image, counted on a 32x32 image
    (``cost_at_224``: each conv costs 7 x 7 = 49 times as much at 224; ``main`` checks this on
    ResNet-18 at 224). The total is their sum.
    """
    return {r["name"]: r["macs"] for r in cost_at_224(model) if r["macs"]}


def move_stride_to_3x3(model: nn.Module) -> nn.Module:
    """Turn the paper's layout into torchvision's in place: every bottleneck whose first 1x1 has
    stride 2 gets stride 1 there and stride 2 on its 3x3 instead.

    A stride has no weights, so this is exactly ``make(stride_in_1x1=False)`` with the same weights,
    and building a second 60-million-parameter model just to move four strides would take longer
    than the whole count.
    """
    for block in model.modules():
        if isinstance(block, Bottleneck) and block.conv1.stride != (1, 1):
            block.conv1.stride, block.conv2.stride = block.conv2.stride, block.conv1.stride
    return model


def stride_moved_macs(model: nn.Module) -> dict[str, int]:
    """How the multiply-adds of each layer change when the strides move from the 1x1 to the 3x3.

    Only the first block of stages 2, 3 and 4 has a stride, so only those three blocks are counted
    again, each on the input it gets in a 32x32 pass (scaled to 224 like the whole model), before
    and after ``move_stride_to_3x3``. Returns torchvision's minus the paper's, for the layers that
    change.
    """
    changed = {}
    for stage, size in (("layer2", SMALL // 4), ("layer3", SMALL // 8), ("layer4", SMALL // 16)):
        block = getattr(model, stage)[
            0
        ]  # its input at 32x32: the previous stage's 8x8, 4x4, 2x2 map
        shape = (block.conv1.in_channels, size, size)
        before = {r["name"]: r["macs"] for r in scaled_to_224(summary(block, shape))}
        move_stride_to_3x3(block)
        after = {r["name"]: r["macs"] for r in scaled_to_224(summary(block, shape))}
        changed.update(
            {
                f"{stage}.0.{name}": after[name] - before[name]
                for name in after
                if after[name] != before[name]
            }
        )
    return changed


def weighted_layers(model: nn.Module) -> int:
    """The layers the name counts: conv1, every block's convs, the fc (not the 1x1 shortcuts)."""
    downsample = {
        id(m)
        for name, module in model.named_modules()
        if name.endswith("downsample")
        for m in module.modules()
    }
    return sum(
        isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in downsample for m in model.modules()
    )


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "resnet_flops", "ResNet-18 to 152: multiply-adds and the paper's FLOPs (slide ResNet (3))"
    )

    rows, blocks, built, per_layer_34, extra, resnet18_model = multiply_adds_table(report)
    by_depth, r50 = how_the_paper_rounds(report, rows, extra)
    block_rows = basic_vs_bottleneck(report, blocks)
    direct = shortcut_checked_at_224(report, resnet18_model, by_depth)
    stage_level(report, per_layer_34)
    block_table(report, built)
    exercises(report, by_depth, r50)

    report.data.update(rows=rows, blocks=block_rows, direct_resnet18=direct)
    return finish(report, args, plot)


def multiply_adds_table(
    report: Report,
) -> tuple[
    list[dict[str, Any]],
    dict[str, nn.Module],
    dict[int, list[int]],
    dict[str, int],
    dict[str, int],
    nn.Module,
]:
    """Step 1: multiply-adds of ResNet-18 ... 152 at 224x224, paper's layout and torchvision's."""
    report.say(
        "We build every ResNet of the table twice: as the paper (stride-2 on the first 1x1 conv "
        "of a bottleneck, resnet50(stride_in_1x1=True)) and as torchvision (stride-2 on the 3x3, "
        "the default), and count their multiply-adds (MACs) with summary(). To keep this quick "
        f"the forward pass runs on a {SMALL}x{SMALL} image: {FULL} = {FULL // SMALL} x {SMALL} "
        f"and every map at {FULL} is exactly {FULL // SMALL} x {FULL // SMALL} times as big, so "
        f"each conv costs {(FULL // SMALL) ** 2} times as much (the linear layer the same); Step "
        "3 checks this on ResNet-18 at full size. Basic-block networks (18, 34) have no 1x1 to "
        "move the stride to: both layouts are the same network."
    )
    rows, blocks, built, per_layer_34 = [], {}, {}, {}
    for depth, make in CONSTRUCTORS.items():
        paper_model = make(stride_in_1x1=True) if depth >= 50 else make()
        built[depth] = [len(getattr(paper_model, f"layer{i}")) for i in (1, 2, 3, 4)]
        row = {
            "network": f"ResNet-{depth}",
            "layers": weighted_layers(paper_model),
            "params": count_parameters(paper_model),
        }
        per_layer = macs_at_224(paper_model)
        row["paper_layout"] = sum(per_layer.values())
        if depth >= 50:
            changed = stride_moved_macs(paper_model)  # the same model, strides moved
            row["torchvision_layout"] = row["paper_layout"] + sum(changed.values())
            if depth == 50:
                extra = changed
                blocks["bottleneck"] = paper_model.layer1[
                    1
                ]  # 256 -> 64 -> 64 -> 256, at 56x56, stride 1
        else:
            row["torchvision_layout"] = row["paper_layout"]
            if depth == 34:
                blocks["basic"] = paper_model.layer1[1]  # 64 -> 64 -> 64, at 56x56
                per_layer_34 = per_layer
            if depth == 18:
                resnet18_model = paper_model
        row["paper"] = PAPER_GMACS[depth]
        row["torchvision"] = TORCHVISION_GMACS[depth]
        rows.append(row)
        paper_check = report.check_rounded(
            f"ResNet-{depth}, paper's layout",
            row["paper_layout"],
            f"{PAPER_GMACS[depth]}G",
            SLIDE,
            fmt=_g,
        )
        row["paper_ok"] = _short(paper_check)
        tv_check = report.check(
            f"ResNet-{depth}, torchvision's layout",
            row["torchvision_layout"],
            f"{TORCHVISION_GMACS[depth]}G",
            "torchvision weights meta['_ops']",
            fmt=_g,
            quiet=True,
        )
        row["torchvision_ok"] = _short(tv_check)
        report.check(
            f"ResNet-{depth} parameters",
            row["params"],
            TORCHVISION_PARAMS[depth],
            "torchvision",
            quiet=True,
        )
        report.check(
            f"ResNet-{depth}: layers with weights on the main path",
            row["layers"],
            depth,
            "the name",
            quiet=True,
        )

    report.table(
        "flops",
        "Step 1. Multiply-adds of one 224x224 image, 10^9 (conv + fc)",
        [
            Column("network", "network", align="<"),
            Column("layers", "layers"),
            Column("params", "parameters", fmt_int),
            Column("paper_layout", "stride in 1x1", lambda v: f"{v / 1e9:.3f}"),
            Column("paper", "paper"),
            Column("paper_ok", "", align="<"),
            Column("torchvision_layout", "stride in 3x3", lambda v: f"{v / 1e9:.3f}"),
            Column("torchvision", "torchvision"),
            Column("torchvision_ok", "", align="<"),
        ],
        rows,
    )
    return rows, blocks, built, per_layer_34, extra, resnet18_model


def how_the_paper_rounds(
    report: Report, rows: list[dict[str, Any]], extra: dict[str, int]
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Step 1, continued: how the paper rounds, and what moving the stride costs."""
    by_depth = {int(r["network"].split("-")[1]): r for r in rows}
    r34, r50 = by_depth[34], by_depth[50]
    rules = {}
    for depth in PAPER_GMACS:
        check = next(c for c in report.checks if c.name == f"ResNet-{depth}, paper's layout")
        rules[depth] = check.rule.split()[0] if check.agrees else "differs"
    report.say(
        "Rounded to one decimal, ours reproduce all five of the paper's figures, but not by one "
        "rule: "
        + ", ".join(
            f"ResNet-{d} {v / 1e9:.3f} -> {PAPER_GMACS[d]} ({rules[d]})"
            for d, v in ((d, by_depth[d]["paper_layout"]) for d in PAPER_GMACS)
        )
        + ". The paper truncates two and rounds the others to nearest (7.570 and 11.282 go up): "
        "its rounding is inconsistent, so a printed 3.8 can stand for anything from 3.75 to just "
        "under 3.9."
    )
    report.check(
        "ResNet-50 in torchvision's layout vs the paper",
        r50["torchvision_layout"],
        PAPER_GMACS[50] + "G",
        SLIDE,
        fmt=_g,
        why="Where the stride sits changes the cost of exactly these layers (torchvision minus "
        "paper): "
        + ", ".join(f"{name} {macs / 1e6:+.1f}M" for name, macs in extra.items())
        + ". The first 1x1 of a downsampling block now runs at the input's full resolution (4x the "
        "outputs); the 3x3's cost is the same either way (its output is half-size in both), but "
        "it sees every input pixel instead of one in four. The paper's layout reproduces its "
        "figure.",
    )
    report.say(
        f"'layers' counts the convs and the fc on the main path ({r50['layers']} for ResNet-50: "
        "conv1, 16 blocks x 3, fc); the 1x1 projection shortcuts are not counted in the name. "
        "All five networks reproduce the paper's figure in its layout (by the rules above) and "
        "torchvision's figure, to the nearest 0.001, in torchvision's; the parameters are the "
        "same in both layouts (a stride has no weights) and equal torchvision's counts.",
        f"ResNet-34 -> ResNet-50 adds {r50['layers'] - r34['layers']} layers but only "
        f"{(r50['paper_layout'] - r34['paper_layout']) / 1e9:.2f} x 10^9 multiply-adds: each "
        "2-layer basic block becomes a 3-layer bottleneck of about the same cost (Step 2).",
    )
    return by_depth, r50


def basic_vs_bottleneck(report: Report, blocks: dict[str, nn.Module]) -> list[dict[str, Any]]:
    """Step 2: a basic block against a bottleneck block at 56x56 (slide ResNet (4))."""
    block_rows = []
    for name, block, channels in (
        ("basic (ResNet-34 layer1.1)", blocks["basic"], 64),
        ("bottleneck (ResNet-50 layer1.1)", blocks["bottleneck"], 256),
    ):
        s = summary(block, (channels, 56, 56))
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        block_rows.append(
            {
                "block": name,
                "convs": ", ".join(_conv_text(c) for c in convs),
                "weights": sum(c.weight.numel() for c in convs),
                "macs": s.macs,
                "maps": f"{channels} -> {s.rows[-1].output_shape[1]}",
            }
        )
    report.table(
        "blocks",
        "Step 2. A basic block vs a bottleneck block at 56x56 (slide ResNet (4))",
        [
            Column("block", "block", align="<"),
            Column("convs", "convolutions", align="<"),
            Column("maps", "maps", align="<"),
            Column("weights", "weights", fmt_int),
            Column("macs", "multiply-adds", fmt_si),
        ],
        block_rows,
    )
    basic, bottleneck = block_rows
    reduce = blocks["bottleneck"].conv1
    report.say(
        "The bottleneck works on "
        f"{blocks['bottleneck'].conv3.out_channels // blocks['basic'].conv2.out_channels}x as "
        f"many maps ({bottleneck['maps']}) for {bottleneck['macs'] / basic['macs']:.0%} of the "
        f"basic block's multiply-adds: its first 1x1 conv shrinks {reduce.in_channels} maps to "
        f"{reduce.out_channels} for the 3x3, the last one expands them back. That is why "
        "ResNet-50 costs barely more than ResNet-34."
    )
    return block_rows


def shortcut_checked_at_224(
    report: Report, resnet18_model: nn.Module, by_depth: dict[int, dict[str, Any]]
) -> int:
    """Step 3: the 32x32 shortcut of Step 1, checked with a real 224x224 pass."""
    direct = summary(resnet18_model, (3, FULL, FULL)).macs
    report.say(
        "Step 3. The 32x32 shortcut of Step 1, checked on ResNet-18 with a real 224x224 forward "
        "pass:"
    )
    report.check(
        "ResNet-18: 49 x conv MACs at 32x32 + fc",
        by_depth[18]["paper_layout"],
        direct,
        "summary(resnet18(), (3, 224, 224)).macs",
    )
    return direct


def exercises(report: Report, by_depth: dict[int, dict[str, Any]], r50: dict[str, Any]) -> None:
    """The exercises, answered from the same rows (the answers are in ``--json``)."""
    r101 = by_depth[101]
    report.exercise(
        "ResNet-101 differs from ResNet-50 only in layer3 (23 blocks instead of 6). From the "
        "table, how many multiply-adds (paper's layout) does one layer3 bottleneck cost?",
        (r101["paper_layout"] - r50["paper_layout"]) // 17,
    )
    report.exercise(
        "Counting a multiply-add as two FLOPs, as most later papers do, what does ResNet-50 in "
        "torchvision's layout cost, in 10^9 FLOPs?",
        round(2 * r50["torchvision_layout"] / 1e9, 2),
    )
    report.exercise(
        "A basic block at 28x28 with 128 channels: how many multiply-adds do its two 3x3 convs "
        "cost?",
        2 * 28 * 28 * 9 * 128 * 128,
    )


PAPER_BLOCKS = {
    18: [2, 2, 2, 2],
    34: [3, 4, 6, 3],
    50: [3, 4, 6, 3],
    101: [3, 4, 23, 3],
    152: [3, 8, 36, 3],
}


def stage_level(report: Report, per_layer: dict[str, int]) -> None:
    """Step 4: halving the map and doubling the filters keeps a 3x3 conv's multiply-adds level."""
    rows = []
    for stage, (size, width) in enumerate(((56, 64), (28, 128), (14, 256), (7, 512)), start=1):
        # the first conv of a stage's second block: width -> width, stride 1
        name = f"layer{stage}.1.conv1"
        rows.append(
            {
                "conv": name,
                "map": f"{size}x{size}",
                "filters": width,
                "macs": per_layer[name],
                "formula": f"{size}*{size}*9*{width}*{width}",
            }
        )
    report.table(
        "stage_level",
        "Step 4. ResNet-34, one 3x3 conv per stage (slide ResNet (3): 'the map halves, the "
        "filters double')",
        [
            Column("conv", "conv", align="<"),
            Column("map", "output", align="<"),
            Column("filters", "filters"),
            Column("formula", "h*w*9*C_in*C_out", align="<"),
            Column("macs", "multiply-adds", fmt_int),
        ],
        rows,
    )
    report.check(
        "3x3 conv multiply-adds, the same in all four stages",
        len({r["macs"] for r in rows}),
        1,
        "lecture, ResNet (3)",
        shown="1 distinct",
        fmt=lambda n: f"{n} distinct",
    )
    report.say(
        "Halving height and width divides the positions by 4; doubling the filters multiplies "
        "C_in x C_out by 4. So every 3x3 conv costs the same in every stage, and the time per "
        "layer stays level."
    )


def block_table(report: Report, built: dict[int, list[int]]) -> None:
    """Step 5: blocks per stage, read off the models, against the paper's Table 1."""
    rows = [
        {"network": f"ResNet-{d}", "blocks": blocks, "paper": PAPER_BLOCKS[d]}
        for d, blocks in built.items()
    ]
    report.table(
        "blocks_per_stage",
        "Step 5. Blocks per stage (len(model.layer1) ... len(model.layer4)), the paper's Table 1",
        [
            Column("network", "network", align="<"),
            Column("blocks", "model", lambda b: str(b), "<"),
            Column("paper", "paper", lambda b: str(b), "<"),
        ],
        rows,
    )
    for row in rows:
        report.check(
            f"{row['network']} blocks per stage", row["blocks"], row["paper"], SLIDE, quiet=True
        )
    report.say(
        "ResNet-50, 101 and 152 differ only in the number of bottleneck blocks in stages 2 and "
        "3; ResNet-34 and ResNet-50 have the same counts, with basic blocks (2 convs) vs "
        "bottlenecks (3)."
    )


def _short(check: Any) -> str:
    """A verdict in a table cell: exact, nearest, floor, or DIFFERS."""
    if check.verdict == "within rounding":
        return check.rule.split()[0]
    return check.verdict if check.agrees else "DIFFERS"


def _g(macs: float) -> str:
    """Multiply-adds in units of 10^9, two decimals."""
    return f"{macs / 1e9:.2f}"


def _conv_text(conv: nn.Conv2d) -> str:
    k = conv.kernel_size[0] if isinstance(conv.kernel_size, tuple) else conv.kernel_size
    return f"{k}x{k} {conv.out_channels}"


def plot(fig: Any, report: Report) -> None:
    """Computed multiply-adds in both layouts against the paper's and torchvision's figures."""
    rows = report.data["rows"]
    ax = fig.subplots()
    x = range(len(rows))
    for offset, key, label in (
        (-0.3, "paper_layout", "stride in 1x1 (computed)"),
        (-0.1, "paper", "paper"),
        (0.1, "torchvision_layout", "stride in 3x3 (computed)"),
        (0.3, "torchvision", "torchvision docs"),
    ):
        values = [
            float(r[key]) if isinstance(r[key], str) else r[key] / 1e9 for r in rows
        ]  # printed in 10^9
        ax.bar([i + offset for i in x], values, width=0.2, label=label)
    ax.set_xticks(list(x), [r["network"] for r in rows])
    ax.set_ylabel("multiply-adds per 224x224 image (10^9)")
    ax.set_title("ResNet: the paper's FLOPs are multiply-adds with the stride in the first 1x1")
    ax.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
