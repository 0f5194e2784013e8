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
from scratchnet.lessons._common import Column, Report, count_parameters, finish, fmt_int, fmt_si, parse_args, run_lesson
from scratchnet.models import resnet18, resnet34, resnet50, resnet101, resnet152
from scratchnet.viz.result import RunResult

SLIDE = "lecture, ResNet (3) = He et al. 2015, Table 1"
PAPER_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
# torchvision 0.29: ResNet*_Weights.IMAGENET1K_V1.meta["_ops"] (its docs call them "GFLOPS", but they are
# multiply-adds) and meta["num_params"].
TORCHVISION_GMACS = {18: 1.814, 34: 3.664, 50: 4.089, 101: 7.801, 152: 11.514}
TORCHVISION_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
CONSTRUCTORS: dict[int, Callable[..., nn.Module]] = {
    18: resnet18,
    34: resnet34,
    50: resnet50,
    101: resnet101,
    152: resnet152,
}
SMALL, FULL = 32, 224  # 224 = 7 x 32: every feature map at 224 is exactly 7 x 7 times the one at 32


def macs_at_224(model: nn.Module) -> dict[str, int]:
    """Multiply-adds of one 224x224 image, counted on a 32x32 image.

    At 32x32 the maps after conv1, the max pool and the four stages are 16, 8, 8, 4, 2, 1 pixels
    wide; at 224x224 they are 112, 56, 56, 28, 14, 7: each exactly 7 times wider (every stride-2
    layer pads so that it halves an even size exactly). A conv's multiply-adds are proportional to
    its output's height x width, so each conv costs 7 x 7 = 49 times as much at 224; the final linear
    layer sees 2048 (or 512) averaged values at any size. ``main`` checks this on ResNet-18 at 224.

    Returns the multiply-adds of every layer by name (the total is their sum).
    """
    s = summary(model, (3, SMALL, SMALL))
    scale = (FULL // SMALL) ** 2
    return {r.name: r.macs * (scale if r.type == "Conv2d" else 1) for r in s.rows if r.is_leaf and r.macs}


def weighted_layers(model: nn.Module) -> int:
    """The layers the name counts: conv1, the convs of every block, the fc (not the 1x1 shortcuts)."""
    downsample = {
        id(m) for name, module in model.named_modules() if name.endswith("downsample") for m in module.modules()
    }
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in downsample for m in model.modules())


def run(**options: Any) -> RunResult:
    """The lesson as a function for a notebook: ``run(plot="x.png")`` is ``--plot x.png``.

    Returns a :class:`scratchnet.viz.RunResult`: ``numbers`` (what ``--json`` prints), ``figures``
    (the lesson's figure, open) and ``text`` (what the command line prints).
    """
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report("resnet_flops", "ResNet-18 to 152: multiply-adds and the paper's FLOPs (slide ResNet (3))")
    report.say(
        "We build every ResNet of the table twice: as the paper (stride-2 on the first 1x1 conv of a bottleneck, "
        "resnet50(stride_in_1x1=True)) and as torchvision (stride-2 on the 3x3, the default), and count their "
        f"multiply-adds (MACs) with summary(). To keep this quick the forward pass runs on a {SMALL}x{SMALL} image: "
        f"{FULL} = {FULL // SMALL} x {SMALL} and every map at {FULL} is exactly {FULL // SMALL} x {FULL // SMALL} "
        f"times as big, so each conv costs {(FULL // SMALL) ** 2} times as much (the linear layer the same); Step 3 "
        "checks this on ResNet-18 at full size. Basic-block networks (18, 34) have no 1x1 to move the "
        "stride to: both layouts are the same network."
    )
    rows, blocks = [], {}
    for depth, make in CONSTRUCTORS.items():
        paper_model = make(stride_in_1x1=True) if depth >= 50 else make()
        row = {
            "network": f"ResNet-{depth}",
            "layers": weighted_layers(paper_model),
            "params": count_parameters(paper_model),
        }
        per_layer = macs_at_224(paper_model)
        row["paper_layout"] = sum(per_layer.values())
        if depth >= 50:
            torchvision_model = make()
            torchvision_per_layer = macs_at_224(torchvision_model)
            row["torchvision_layout"] = sum(torchvision_per_layer.values())
            if depth == 50:
                extra = {
                    name: macs - per_layer[name]
                    for name, macs in torchvision_per_layer.items()
                    if macs != per_layer[name]
                }
                blocks["bottleneck"] = torchvision_model.layer1[1]  # 256 -> 64 -> 64 -> 256, at 56x56
        else:
            row["torchvision_layout"] = row["paper_layout"]
            if depth == 34:
                blocks["basic"] = paper_model.layer1[1]  # 64 -> 64 -> 64, at 56x56
            if depth == 18:
                resnet18_model = paper_model
        row["paper"] = PAPER_GMACS[depth] * 1e9
        row["torchvision"] = TORCHVISION_GMACS[depth] * 1e9
        rows.append(row)
        paper_check = report.check(
            f"ResNet-{depth}, paper's layout",
            row["paper_layout"],
            row["paper"],
            SLIDE,
            rel_tol=0.02,
            shown=f"{PAPER_GMACS[depth]:g} x 10^9",
            fmt=_g,
            quiet=True,
            note=(
                f"{row['paper_layout'] / 1e9:.2f} would round to {row['paper_layout'] / 1e9:.1f}: the paper truncates "
                "this one (all five agree within 2%)."
            )
            if round(row["paper_layout"] / 1e8) != PAPER_GMACS[depth] * 10
            else "",
        )
        row["paper_ok"] = paper_check.agrees
        tv_check = report.check(
            f"ResNet-{depth}, torchvision's layout",
            row["torchvision_layout"],
            row["torchvision"],
            "torchvision weights meta['_ops']",
            rel_tol=0.0005,
            shown=f"{TORCHVISION_GMACS[depth]:g} x 10^9",
            fmt=_g,
            quiet=True,
        )
        row["torchvision_ok"] = tv_check.agrees
        report.check(f"ResNet-{depth} parameters", row["params"], TORCHVISION_PARAMS[depth], "torchvision", quiet=True)
        report.check(
            f"ResNet-{depth}: layers with weights on the main path", row["layers"], depth, "the name", quiet=True
        )

    report.table(
        "flops",
        "Step 1. Multiply-adds of one 224x224 image, 10^9 (conv + fc)",
        [
            Column("network", "network", align="<"),
            Column("layers", "layers"),
            Column("params", "parameters", fmt_int),
            Column("paper_layout", "stride in 1x1", lambda v: f"{v / 1e9:.3f}"),
            Column("paper", "paper", _g),
            Column("paper_ok", "", lambda ok: "ok" if ok else "DIFFERS", "<"),
            Column("torchvision_layout", "stride in 3x3", lambda v: f"{v / 1e9:.3f}"),
            Column("torchvision", "torchvision", lambda v: f"{v / 1e9:.3f}"),
            Column("torchvision_ok", "", lambda ok: "ok" if ok else "DIFFERS", "<"),
        ],
        rows,
    )
    by_depth = {int(r["network"].split("-")[1]): r for r in rows}
    r34, r50 = by_depth[34], by_depth[50]
    for depth in (34, 50):
        check = next(c for c in report.checks if c.name == f"ResNet-{depth}, paper's layout")
        report.show(check)
    report.check(
        "ResNet-50 in torchvision's layout vs the paper",
        r50["torchvision_layout"],
        r50["paper"],
        SLIDE,
        rel_tol=0.02,
        shown="3.8 x 10^9",
        fmt=_g,
        why="Where the stride sits changes the cost of exactly these layers (torchvision minus paper): "
        + ", ".join(f"{name} {macs / 1e6:+.1f}M" for name, macs in extra.items())
        + ". The first 1x1 of a downsampling block now runs at the input's full resolution (4x the "
        "outputs); the 3x3's cost is the same either way (its output is half-size in both), but it sees "
        "every input pixel instead of one in four. The paper's layout reproduces its figure.",
    )
    report.say(
        f"'layers' counts the convs and the fc on the main path ({r50['layers']} for ResNet-50: conv1, 16 blocks x 3, "
        "fc); the 1x1 projection shortcuts are not counted in the name. All five networks agree with the paper in its "
        "layout (within 2%), and with torchvision's figures in torchvision's; the parameters are the same in both "
        "layouts (a stride has no weights) and equal torchvision's counts.",
        f"ResNet-34 -> ResNet-50 adds {r50['layers'] - r34['layers']} layers but only "
        f"{(r50['paper_layout'] - r34['paper_layout']) / 1e9:.2f} x 10^9 multiply-adds: each 2-layer basic block "
        "becomes a 3-layer bottleneck of about the same cost (Step 2).",
    )

    # -- Step 2: basic vs bottleneck block
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
        f"The bottleneck works on {blocks['bottleneck'].conv3.out_channels // blocks['basic'].conv2.out_channels}x as "
        f"many maps ({bottleneck['maps']}) for {bottleneck['macs'] / basic['macs']:.0%} of the basic block's "
        f"multiply-adds: its first 1x1 conv shrinks {reduce.in_channels} maps to {reduce.out_channels} for the 3x3, "
        "the last one expands them back. That is why ResNet-50 costs barely more than ResNet-34."
    )

    # -- Step 3: the 32x32 shortcut, checked at full size on the smallest network
    direct = summary(resnet18_model, (3, FULL, FULL)).macs
    report.say("Step 3. The 32x32 shortcut of Step 1, checked on ResNet-18 with a real 224x224 forward pass:")
    report.check(
        "ResNet-18: 49 x conv MACs at 32x32 + fc",
        by_depth[18]["paper_layout"],
        direct,
        "summary(resnet18(), (3, 224, 224)).macs",
    )
    report.data.update(rows=rows, blocks=block_rows, direct_resnet18=direct)
    return finish(report, args, plot)


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
        ax.bar([i + offset for i in x], [r[key] / 1e9 for r in rows], width=0.2, label=label)
    ax.set_xticks(list(x), [r["network"] for r in rows])
    ax.set_ylabel("multiply-adds per 224x224 image (10^9)")
    ax.set_title("ResNet: the paper's FLOPs are multiply-adds with the stride in the first 1x1")
    ax.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
