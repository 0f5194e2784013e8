"""DenseNet: how the channels grow, where the parameters are, why so few (slides DenseNet (1)-(2)).

In a dense block every layer receives the concatenation of all earlier outputs and adds ``k`` new
maps (the growth rate): a block of L layers turns c channels into c + L k. Each layer is
BN-ReLU-1x1 conv (4k maps, the "bottleneck")-BN-ReLU-3x3 conv (k maps); between blocks a transition
(BN-ReLU-1x1 conv-2x2 average pool) halves the channels ("compression" 0.5) and the size. The
slide's table gives the number of layers per block for DenseNet-121, 169, 201 and 264.

This lesson builds all four with ``scratchnet.models``, reads the block structure and the growth
rate off the modules, follows the channels through a real forward pass (``summary``), counts
parameters (torchvision's counts beside them) and multiply-adds, and compares with ResNet-50.

Run it: ``python -m scratchnet.lessons.densenet_params`` (``--json``, ``--plot densenet.png``).
Read next: ``scratchnet/models/densenet.py`` (``DenseLayer``, ``DenseBlock``, ``Transition``),
``scratchnet/ops/shape.py`` (``cat``, the concatenation every dense layer starts with).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from scratchnet import nn
from scratchnet.analysis import summary
from scratchnet.lessons._common import (
    SMALL,
    Column,
    Report,
    count_parameters,
    finish,
    fmt_int,
    parse_args,
    run_lesson,
    scaled_to_224,
)
from scratchnet.models import densenet121, densenet169, densenet201, densenet264, resnet50
from scratchnet.models.densenet import DenseBlock, DenseLayer, Transition
from scratchnet.viz.result import RunResult

SLIDE = "lecture, DenseNet (2) = Huang et al. 2017, Table 1"
LECTURE_BLOCKS = {
    121: (6, 12, 24, 16),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
    264: (6, 12, 64, 48),
}
PAPER_K, PAPER_COMPRESSION = (
    32,
    0.5,
)  # Huang et al. 2017, Sec. 3: "k = 32" on ImageNet, theta = 0.5 (DenseNet-BC)
# torchvision 0.29: DenseNet*_Weights.IMAGENET1K_V1.meta["num_params"] and ["_ops"] (multiply-adds,
# 10^9). torchvision has no DenseNet-264; its DenseNet class with growth_rate=32, block_config=(6,
# 12, 64, 48) and 64 stem channels has 33,337,704 parameters and 5.752 x 10^9 multiply-adds (counted
# with torch).
# (num_params, meta["_ops"] as printed: G multiply-adds); DenseNet-264 is not in torchvision:
# counted on torchvision.models.DenseNet(32, (6, 12, 64, 48), 64).
TORCHVISION = {
    121: (7_978_856, "2.834"),
    169: (14_149_480, "3.36"),
    201: (20_013_928, "4.291"),
    264: (33_337_704, "5.752"),
}
RESNET50 = (25_557_032, 4.089)  # torchvision ResNet50_Weights.IMAGENET1K_V1
CONSTRUCTORS = {121: densenet121, 169: densenet169, 201: densenet201, 264: densenet264}


def structure(model: nn.Module) -> dict[str, Any]:
    """Blocks, growth rate, bottleneck width and compression, read off the modules; channels from a
    real forward pass on a 32x32 image; multiply-adds of a 224x224 image (convs x 49, see
    resnet_flops).
    """
    s = summary(model, (3, SMALL, SMALL))
    blocks = [m for m in model.features.children() if isinstance(m, DenseBlock)]
    transitions = [m for m in model.features.children() if isinstance(m, Transition)]
    first_layer = blocks[0].denselayer1
    k = first_layer.conv2.out_channels
    channels = [s["features.pool0"].output_shape[1]]  # after the stem
    for i in range(len(blocks)):
        channels.append(s[f"features.denseblock{i + 1}"].output_shape[1])  # c + L k
        if i < len(transitions):
            channels.append(s[f"features.transition{i + 1}"].output_shape[1])  # compressed
    weighted = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    return {
        "blocks": tuple(sum(isinstance(m, DenseLayer) for m in b.children()) for b in blocks),
        "k": k,
        "bottleneck": first_layer.conv1.out_channels,
        "compression": transitions[0].conv.out_channels / transitions[0].conv.in_channels,
        "transition": (
            transitions[0].conv.kernel_size,
            transitions[0].pool.kernel_size,
            transitions[0].pool.stride,
        ),
        "channels": channels,
        "layers": weighted,
        "params": count_parameters(model),
        "macs": sum(r["macs"] for r in scaled_to_224(s)),
    }


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "densenet_params",
        "DenseNet-121 to 264: growth, transitions, parameters (slides DenseNet (1)-(2))",
    )
    found, models = {}, {}
    for depth, make in CONSTRUCTORS.items():
        models[depth] = make()
        found[depth] = structure(models[depth])

    d121 = block_structure(report, found)
    cost = parameters_and_multiply_adds(report, found)
    layer_rows = cost_of_one_dense_layer(report, models, d121)
    exercises(report)

    report.data.update(structure=found, cost=cost, layers=layer_rows)
    return finish(report, args, plot)


def block_structure(report: Report, found: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Step 1: the block structure read off the models: layers per block, growth, transitions."""
    report.say(
        "Step 1. The block structure, read off the models: the number of DenseLayers in each "
        "DenseBlock, the growth rate k (out_channels of a layer's 3x3 conv) and the channels "
        "between the stages, taken from summary() of a real forward pass. 'stem' is after the "
        "7x7 conv and the max pool; 'b1' after dense block 1, 't1' after transition 1, and so "
        "on. All four are DenseNet-BC, the paper's ImageNet models: B for the bottleneck (a 1x1 "
        "conv to 4k maps before each 3x3 conv), C for compression (each transition keeps a share "
        "theta = 0.5 of the channels)."
    )
    rows, layer_count_mismatch = [], None
    for depth, f in found.items():
        ch = f["channels"]
        rows.append(
            {
                "network": f"DenseNet-{depth}",
                "blocks": " ".join(map(str, f["blocks"])),
                "k": f["k"],
                "stem": ch[0],
                "b1": ch[1],
                "t1": ch[2],
                "b2": ch[3],
                "t2": ch[4],
                "b3": ch[5],
                "t3": ch[6],
                "b4": ch[7],
            }
        )
        report.check(
            f"DenseNet-{depth}: layers per block",
            list(f["blocks"]),
            list(LECTURE_BLOCKS[depth]),
            SLIDE,
            quiet=True,
        )
        for i, L in enumerate(f["blocks"]):  # c_out = c_in + L k, in a real forward pass
            before = ch[2 * i]
            report.check(
                f"DenseNet-{depth} block {i + 1}: {before} + {L} x {f['k']}",
                ch[2 * i + 1],
                before + L * f["k"],
                "c + L k",
                quiet=True,
            )
        named = report.check(
            f"DenseNet-{depth}: layers with weights",
            f["layers"],
            depth,
            "the name",
            quiet=True,
            why=f"The rule that gives 121, 169 and 201 gives {f['layers']} for blocks "
            f"{f['blocks']}: 1 + 2 x {sum(f['blocks'])} + 3 + 1. The name in the paper is off by "
            "one; the block sizes are the paper's and are what the ported models use.",
        )
        if not named.agrees:
            layer_count_mismatch = named
    report.table(
        "structure",
        "",
        [
            Column("network", "network", align="<"),
            Column("blocks", "layers per block", align="<"),
            Column("k", "k"),
            *[Column(key, key) for key in ("stem", "b1", "t1", "b2", "t2", "b3", "t3", "b4")],
        ],
        rows,
    )
    d121 = found[121]
    conv_kernel, pool_kernel, pool_stride = d121["transition"]
    report.check(
        "layers per block, all four networks",
        sum(c.agrees for c in report.checks if "per block" in c.name),
        4,
        SLIDE,
        shown="4 of 4",
        fmt=lambda v: f"{v} of 4",
    )
    report.check("growth rate k", d121["k"], PAPER_K, "Huang et al. 2017, Sec. 3 (ImageNet)")
    report.check(
        "bottleneck width (1x1 conv maps)", d121["bottleneck"], 4 * PAPER_K, "Huang et al. 2017: 4k"
    )
    report.check(
        "transition: keeps this share of the channels",
        d121["compression"],
        PAPER_COMPRESSION,
        "Huang et al. 2017: compression theta = 0.5 (the 'C' of DenseNet-BC)",
    )
    report.check(
        "transition: 1x1 conv, 2x2 average pool, stride 2",
        [_first(conv_kernel), _first(pool_kernel), _first(pool_stride)],
        [1, 2, 2],
        SLIDE,
    )
    report.show(layer_count_mismatch)
    report.say(
        f"Every block adds L x k channels: DenseNet-121's first block turns {d121['channels'][0]} "
        f"into {d121['channels'][0]} + 6 x {d121['k']} = {d121['channels'][1]}, and transition 1 "
        f"halves that to {d121['channels'][2]}. The name counts the layers with weights: the stem "
        "conv, two convs per dense layer, one conv per transition and the classifier: 1 + 2 x "
        f"{sum(d121['blocks'])} + 3 + 1 = {d121['layers']}; likewise {found[169]['layers']} and "
        f"{found[201]['layers']}, but {found[264]['layers']} for DenseNet-264 (above)."
    )
    return d121


def parameters_and_multiply_adds(
    report: Report, found: dict[int, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Step 2: parameters and multiply-adds against torchvision's, and ResNet-50's."""
    resnet = resnet50()
    resnet_macs = summary(resnet, (3, SMALL, SMALL))
    cost = []
    for depth, f in found.items():
        params_ref, macs_ref = TORCHVISION[depth]
        cost.append(
            {
                "network": f"DenseNet-{depth}",
                "params": f["params"],
                "params_ref": params_ref,
                "macs": f["macs"],
                "macs_ref": float(macs_ref) * 1e9,
            }
        )
        source = "torchvision" if depth != 264 else "torchvision DenseNet(32, (6, 12, 64, 48), 64)"
        report.check(f"DenseNet-{depth} parameters", f["params"], params_ref, source, quiet=True)
        report.check(
            f"DenseNet-{depth} multiply-adds", f["macs"], macs_ref + "G", source, quiet=True
        )
    cost.append(
        {
            "network": "ResNet-50",
            "params": count_parameters(resnet),
            "params_ref": RESNET50[0],
            "macs": sum(r["macs"] for r in scaled_to_224(resnet_macs)),
            "macs_ref": RESNET50[1] * 1e9,
        }
    )
    report.say(
        "Step 2. Parameters (count_parameters) and multiply-adds of one 224x224 image (summary() "
        "on 32x32, convs x 49 as in resnet_flops), beside torchvision's published figures "
        "(DenseNet-264 is not in torchvision: its reference is torchvision's DenseNet class with "
        "DenseNet-264's blocks). ResNet-50 for comparison."
    )
    report.table(
        "cost",
        "",
        [
            Column("network", "network", align="<"),
            Column("params", "parameters", fmt_int),
            Column("params_ref", "torchvision", fmt_int),
            Column("macs", "multiply-adds (10^9)", lambda v: f"{v / 1e9:.3f}"),
            Column("macs_ref", "torchvision", lambda v: f"{v / 1e9:.3f}"),
        ],
        cost,
    )
    agreeing = sum(
        c.agrees for c in report.checks if c.name.endswith(("parameters", "multiply-adds"))
    )
    report.check(
        "parameters and multiply-adds equal to torchvision's",
        agreeing,
        8,
        "torchvision",
        shown="8 of 8",
        fmt=lambda v: f"{v} of 8",
    )
    r50 = cost[-1]
    report.say(
        "DenseNet-121 is deeper than ResNet-50 (121 vs 50 layers) with "
        f"{r50['params'] / found[121]['params']:.1f}x fewer parameters and "
        f"{r50['macs'] / found[121]['macs']:.1f}x fewer multiply-adds; even DenseNet-201 has "
        "fewer parameters than ResNet-50."
    )
    return cost


def cost_of_one_dense_layer(
    report: Report, models: dict[int, nn.Module], d121: Any
) -> list[dict[str, Any]]:
    """Step 3: why so few: a dense layer's cost grows only with its input channels."""
    block3 = models[121].features.denseblock3
    first, last = block3.denselayer1, getattr(block3, f"denselayer{block3.num_layers}")
    layer_rows = []
    for name, layer in (("first", first), ("last", last)):
        layer_rows.append(
            {
                "layer": f"denseblock3, {name} layer",
                "in": layer.conv1.in_channels,
                "conv1": layer.conv1.weight.numel(),
                "conv2": layer.conv2.weight.numel(),
                "all": count_parameters(layer),
            }
        )
    report.say(
        "Step 3. Why so few parameters? A dense layer's 1x1 conv shrinks however many maps it "
        f"receives to {d121['bottleneck']} (4k), and its 3x3 conv makes only k = {d121['k']} new "
        "maps, so its cost grows only linearly with its input: in_channels x "
        f"{d121['bottleneck']} for the 1x1, a fixed {d121['bottleneck']} x 9 x {d121['k']} for "
        "the 3x3 (DenseNet-121, block 3):"
    )
    report.table(
        "layers",
        "",
        [
            Column("layer", "layer", align="<"),
            Column("in", "input maps"),
            Column("conv1", "1x1 conv weights", fmt_int),
            Column("conv2", "3x3 conv weights", fmt_int),
            Column("all", "with BatchNorm", fmt_int),
        ],
        layer_rows,
    )
    report.check(
        "3x3 conv of a dense layer: 4k x 9 x k weights",
        first.conv2.weight.numel(),
        4 * PAPER_K * 9 * PAPER_K,
        "Huang et al. 2017 (k = 32)",
    )
    c = last.conv1.in_channels
    report.say(
        f"A plain 3x3 conv from {c} to {c} maps would have {c} x {c} x 9 = {c * c * 9 / 1e6:.1f}M "
        f"weights; the last dense layer reads all {c} earlier maps through the concatenation and "
        f"pays for only {d121['k']} new ones ({fmt_int(count_parameters(last))} parameters)."
    )
    return layer_rows


def exercises(report: Report) -> None:
    """The exercises (the answers are in ``--json``)."""
    report.exercise(
        "DenseNet-121's block 2 has 12 dense layers and starts with 128 maps. How many maps "
        "leave it, and how many does transition 2 pass on?",
        {"block": 128 + 12 * 32, "transition": (128 + 12 * 32) // 2},
    )
    report.exercise(
        "How many weights does the 1x1 conv of a dense layer with 512 input maps have (k = 32, 4k "
        "maps out)?",
        512 * 4 * 32,
    )
    report.exercise(
        "Without the transitions' compression (theta = 1), how many maps would enter "
        "DenseNet-121's block 4?",
        64 + 6 * 32 + 12 * 32 + 24 * 32,
    )


def _first(x: int | tuple[int, ...]) -> int:
    return x if isinstance(x, int) else x[0]


def plot(fig: Any, report: Report) -> None:
    """Channels along each DenseNet: a saw-tooth of growth (blocks) and halving (transitions)."""
    ax = fig.subplots()
    stages = ["stem", "b1", "t1", "b2", "t2", "b3", "t3", "b4"]
    for depth, f in report.data["structure"].items():
        ax.plot(stages, f["channels"], "o-", label=f"DenseNet-{depth}")
    ax.set_ylabel("channels")
    ax.set_title("Dense blocks add L x k channels, transitions halve them")
    ax.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
