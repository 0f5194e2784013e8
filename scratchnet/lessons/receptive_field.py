"""Receptive fields: why VGG stacks 3x3 convolutions, and how far one pixel of a deep layer sees.

Slide "VGGNet (2)": one 7x7 conv and three stacked 3x3 convs (stride 1) see the same 7x7 patch of
their input, but the stack has fewer weights (27 C^2 instead of 49 C^2 for C channels in and out)
and three ReLUs instead of one. This lesson counts both on real layers, measures the receptive field
by back-propagation, then follows the field through all of VGG16 and to the end of ResNet-50.

For one spatial axis, a layer with kernel k and stride s maps the field of its input (size r, jump
j = distance in input pixels between neighbouring outputs) to::

    r_out = r + (k - 1) * j        j_out = j * s

``scratchnet.analysis.receptive_field`` applies this rule to every op of a real forward pass and
takes the union where branches meet (ResNet's additions, Inception's concatenations). The empirical
check goes the other way: the input gradient of one output pixel is non-zero exactly on the pixels
that output depends on.

Run it: ``python -m scratchnet.lessons.receptive_field`` (``--json``, ``--plot rf.png``).
Read next: ``scratchnet/analysis/receptive_field.py`` (the rule, branches, the empirical check),
``scratchnet/models/vgg.py``, ``scratchnet/models/resnet.py`` (``stride_in_1x1``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from scratchnet import nn
from scratchnet.analysis import empirical_receptive_field, receptive_field
from scratchnet.lessons._common import (
    Column,
    Report,
    count_parameters,
    finish,
    fmt_int,
    parse_args,
    run_lesson,
)
from scratchnet.models import resnet50
from scratchnet.models.vgg import CONFIGS, make_layers
from scratchnet.viz.result import RunResult

SLIDE = "lecture, VGGNet (2)"
# Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks" (Distill 2019)
# and the table of their library's README (github.com/google-research/receptive_field), computed on
# the TF-slim models: vgg_16 (end point pool5) 212, resnet_v1_50 483.
DISTILL = "Araujo et al. 2019, receptive_field README"
VGG16_POOL5, VGG16_CONV5_3 = 212, 196  # conv5_3 = 212 - (2 - 1) * 16, one step before pool5
RESNET50_V1 = 483

C = 64  # channels in and out of the 7x7 / 3x3 comparison; any C gives the same ratio


def seven_vs_three(report: Report) -> dict[str, Any]:
    """Step 1: a 7x7 conv + ReLU against three (3x3 conv + ReLU), same C in and out, no biases."""
    one = nn.Sequential(nn.Conv2d(C, C, 7, padding=3, bias=False), nn.ReLU())
    stack = nn.Sequential(
        *[
            layer
            for _ in range(3)
            for layer in (nn.Conv2d(C, C, 3, padding=1, bias=False), nn.ReLU())
        ]
    )
    rows = []
    for name, net in (("one 7x7 conv", one), ("three 3x3 convs", stack)):
        fields = receptive_field(net, (C, 15, 15))
        measured = empirical_receptive_field(
            net, (C, 15, 15), layer=fields.rows[-1].name, batch_size=1
        )
        rows.append(
            {
                "stack": name,
                "params": count_parameters(net),
                "per_filter": count_parameters(net) // C,
                "relus": sum(isinstance(m, nn.ReLU) for m in net.modules()),
                "rf": fields.rows[-1].size[0],
                "rf_measured": measured.size[0],
            }
        )
    report.say(
        f"Step 1. One 7x7 conv vs three stacked 3x3 convs, both from C = {C} to C = {C} channels, "
        "stride 1, no biases, each conv followed by a ReLU. Parameters come from .parameters(); "
        "the receptive field from scratchnet.analysis.receptive_field and, measured, from "
        "back-propagating one output pixel of a 15x15 input (empirical_receptive_field)."
    )
    report.table(
        "seven_vs_three",
        "",
        [
            Column("stack", "", align="<"),
            Column("params", "weights", fmt_int),
            Column("per_filter", "per output channel", fmt_int),
            Column("relus", "non-linearities"),
            Column("rf", "receptive field"),
            Column("rf_measured", "measured"),
        ],
        rows,
    )
    seven, three = rows
    report.check(
        "3x3 stack, weights per output channel",
        three["per_filter"],
        3 * (3 * 3 * C),
        SLIDE,
        shown=f"3x(3x3xC) = {3 * 9 * C:,}",
    )
    report.check(
        "7x7 conv, weights per output channel",
        seven["per_filter"],
        7 * 7 * C,
        SLIDE,
        shown=f"7x7xC = {49 * C:,}",
    )
    report.check(
        "receptive field, three 3x3 (theory = measured = 7x7)",
        three["rf_measured"],
        seven["rf"],
        SLIDE,
        shown=f"{seven['rf']} (the 7x7's)",
        note="'The same effective receptive field'.",
    )
    report.check(
        "non-linearities, three 3x3 vs one 7x7",
        three["relus"],
        3,
        SLIDE,
        shown="3 ('more non-linearities')",
    )
    report.say(
        "With C channels in and out the 7x7 layer has 7*7*C*C = 49C^2 weights, the stack "
        f"3*(3*3*C*C) = 27C^2: {three['params'] / seven['params']:.0%} of the weights "
        f"({1 - three['params'] / seven['params']:.0%} fewer) for the same 7x7 view, and two more "
        "ReLUs to make the function more non-linear. The slide counts one output channel (one "
        "filter): 3x(3x3xC) vs 7x7xC."
    )
    return {"seven": seven, "three": three}


def vgg_fields(report: Report) -> list[dict[str, Any]]:
    """Step 2: receptive field, jump and start of each conv and pool of VGG16, rule spelled out."""
    features = make_layers(
        CONFIGS["D"]
    )  # vgg16().features: the same function builds the model's layers
    # Only geometry matters, and it is the same at any input size: 32x32 is the cheapest VGG16
    # accepts.
    fields = receptive_field(features, (3, 32, 32))
    rows, r, j = [], 1, 1
    block, conv = 1, 0
    for row in fields.rows:
        layer = features.get_submodule(row.name)
        if not isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            continue  # ReLUs keep the field
        k = layer.kernel_size[0] if isinstance(layer.kernel_size, tuple) else layer.kernel_size
        s = layer.stride[0] if isinstance(layer.stride, tuple) else layer.stride
        if isinstance(layer, nn.Conv2d):
            conv += 1
            name = f"conv{block}_{conv}"
        else:
            name = f"pool{block}"
            block, conv = block + 1, 0
        rule = f"{r} + ({k}-1)*{j}"
        r, j = r + (k - 1) * j, j * s
        rows.append(
            {
                "layer": name,
                "module": f"features.{row.name}",
                "kernel": f"{k}x{k}/{s}",
                "rule": rule,
                "rf": row.size[0],
                "rule_rf": r,
                "jump": row.jump[0],
                "start": row.start[0],
            }
        )
        report.check(
            f"{name} field: rule vs graph walk", r, row.size[0], "receptive_field()", quiet=True
        )
    report.say(
        "Step 2. The field grows layer by layer: r_out = r + (k - 1) * j and j_out = j * stride. "
        "Each 3x3 conv adds 2 jumps, each 2x2 pool adds 1 and doubles the jump. 'start' is the "
        "centre of the first output pixel's field in input pixels (pixel i of row 0 of a layer "
        "sees around start + i * jump)."
    )
    report.table(
        "vgg16",
        "VGG16 (scratchnet.models.vgg16().features)",
        [
            Column("layer", "layer", align="<"),
            Column("kernel", "kernel/stride", align="<"),
            Column("rule", "r + (k-1)*j", align="<"),
            Column("rf", "receptive field"),
            Column("jump", "jump"),
            Column("start", "start", lambda x: f"{x:g}"),
        ],
        rows,
    )
    by_name = {row["layer"]: row for row in rows}
    report.check(
        "VGG16 conv5_3 receptive field",
        by_name["conv5_3"]["rf"],
        VGG16_CONV5_3,
        DISTILL + " (pool5 - 16)",
    )
    report.check("VGG16 pool5 receptive field", by_name["pool5"]["rf"], VGG16_POOL5, DISTILL)
    growth = [by_name[f"conv3_{i}"]["rf"] - by_name["pool2"]["rf"] for i in (1, 2, 3)]
    report.say(
        f"Inside a block each conv adds 2 jumps: conv3_1, conv3_2 and conv3_3 see {growth[0]}, "
        f"{growth[1]} and {growth[2]} pixels more than pool2 (jump 4). At jump 1, n stacked 3x3 "
        "convs see 2n + 1 pixels, so three see 7, as in Step 1. By pool5 the field of one output "
        f"pixel is {by_name['pool5']['rf']}x{by_name['pool5']['rf']}; Step 3 measures how much of "
        "it lies inside the 224x224 image."
    )
    return rows


IMAGE = 224
# channels divided by this in the measured copies: the geometry, not the width, sets the field
NARROW = 8


def measure_corner_and_centre(model: nn.Module, layer: str, theory: Any) -> list[dict[str, Any]]:
    """Back-propagate from pixel (0, 0) and the centre of ``layer`` at 224x224: what each sees.

    ``theory`` is the layer's Field (size, jump, start); the rule's interval for pixel i is
    start + i * jump -/+ (size - 1) / 2, and the image keeps only its part inside 0..223.
    """
    model.eval()  # BatchNorm with fixed statistics: one image does not depend on the others
    rows = []
    last = None
    for where in ("corner", "centre"):
        if where == "corner":
            position = (0, 0)
        else:
            side = last  # the map's size, known after the first measurement
            position = (side // 2, side // 2)
        measured = empirical_receptive_field(
            model, (3, IMAGE, IMAGE), layer=layer, position=position, batch_size=2
        )
        if last is None:
            last = _map_size(theory)
        centre = theory.start[0] + position[0] * theory.jump[0]
        low, high = centre - (theory.size[0] - 1) / 2, centre + (theory.size[0] - 1) / 2
        rows.append(
            {
                "pixel": f"{where} {position}",
                "field": f"{low:g}..{high:g}",
                "inside": f"{max(0, round(low))}..{min(IMAGE - 1, round(high))}",
                "measured": f"{measured.bounds[0][0]}..{measured.bounds[0][1]}",
                "measured_cols": f"{measured.bounds[1][0]}..{measured.bounds[1][1]}",
                "seen": (measured.bounds[0][1] - measured.bounds[0][0] + 1),
                "whole_image": measured.bounds == ((0, IMAGE - 1), (0, IMAGE - 1)),
            }
        )
    return rows


def _map_size(field: Any) -> int:
    """Output map size at 224x224 of a stride-``jump`` net that halves with floor: 224 / jump."""
    return IMAGE // field.jump[0]


def measured_corners(report: Report) -> dict[str, Any]:
    """Step 3: the part of the field inside the image, measured for VGG16's pool5 and ResNet-50."""
    vgg = make_layers(
        [v if v == "M" else v // NARROW for v in CONFIGS["D"]]
    )  # vgg16().features, narrow
    vgg_theory = receptive_field(vgg, (3, 32, 32)).rows[-1].field
    resnet = resnet50(widths=tuple(w // NARROW for w in (64, 128, 256, 512)))
    resnet_theory = receptive_field(resnet, (3, 32, 32))["layer4"].field
    rows = []
    for network, model, layer, theory in (
        ("VGG16 pool5", vgg, str(len(vgg) - 1), vgg_theory),
        ("ResNet-50 layer4", resnet, "layer4", resnet_theory),
    ):
        for row in measure_corner_and_centre(model, layer, theory):
            rows.append({"network": network, "size": theory.size[0], **row})
    report.say(
        "Step 3. The field's size is not what a pixel sees. A 212-pixel field centred on pixel "
        "15.5 reaches from -90 to 121: the part before 0 lies on the zero padding around the "
        "image, which holds no information. So we measure, at 224x224: a random image goes "
        "through the network, the gradient of one output pixel (every channel) is set to random "
        "numbers and back-propagated, and the input pixels with a non-zero gradient are the ones "
        "that pixel depends on. We do it for the corner pixel (0, 0) and the centre pixel. To "
        "keep it fast we measure copies with the same kernels, strides and paddings and "
        f"1/{NARROW} of the channels (the field depends only on the geometry); rows and columns "
        "give the same ranges."
    )
    report.table(
        "corner_and_centre",
        "Input rows each output pixel depends on, at 224x224 (field = the rule's interval)",
        [
            Column("network", "network", align="<"),
            Column("size", "field size"),
            Column("pixel", "output pixel", align="<"),
            Column("field", "field", align=">"),
            Column("inside", "inside the image"),
            Column("measured", "measured"),
            Column("seen", "rows seen"),
        ],
        rows,
    )
    for row in rows:
        report.check(
            f"{row['network']}, {row['pixel']}: rows seen, measured vs rule",
            row["measured"],
            row["inside"],
            "the rule clipped to the image",
            quiet=True,
        )
    vgg_corner, resnet_corner = rows[0], rows[2]
    report.say(
        f"So VGG16's pool5 pixel (0, 0) sees rows and columns {vgg_corner['measured']} only, "
        f"{vgg_corner['seen']} of 224, although its field is 212 wide; the centre pixel sees its "
        f"whole field, {rows[1]['measured']}. ResNet-50's field (427 in torchvision's layout) is "
        f"wider than the image, yet its corner pixel sees rows {resnet_corner['measured']}: half "
        "the field hangs over the padding. Only pixels near the centre of layer4 see the whole "
        "image."
    )
    report.check(
        "ResNet-50 layer4 corner pixel sees the whole image",
        resnet_corner["whole_image"],
        True,
        "the claim 'every pixel of layer4 depends on the whole image'",
        why=f"It sees rows {resnet_corner['measured']}: a field centred on pixel 0 reaches 213 to "
        "each side, and the half before 0 is padding.",
    )
    return {"rows": rows}


def resnet_fields(report: Report) -> list[dict[str, Any]]:
    """Step 4: ResNet-50's last layer in torchvision's layout and the paper's (stride in 1x1)."""
    rows = []
    for layout, stride_in_1x1 in (
        ("torchvision (stride on the 3x3)", False),
        ("paper (stride on the first 1x1)", True),
    ):
        # Geometry only: the smallest input and 1/NARROW of the channels give the same fields,
        # faster.
        model = resnet50(
            stride_in_1x1=stride_in_1x1, widths=tuple(w // NARROW for w in (64, 128, 256, 512))
        )
        fields = receptive_field(model, (3, 32, 32))
        main_path = _main_path_rule(model)
        for stage in ("maxpool", "layer1", "layer2", "layer3", "layer4"):
            rows.append(
                {
                    "layout": layout,
                    "layer": stage,
                    "rf": fields[stage].size[0],
                    "jump": fields[stage].jump[0],
                    "main_path": main_path[stage],
                }
            )
    report.say(
        "Step 4. ResNet-50's fields, by the rule. Branches meet at every residual addition; the "
        "field there is the union of the two branches' fields, and the shortcut's (a 1x1 conv or "
        "nothing) is always the smaller one, so the rule along the main path of 3x3 convs ('main "
        "path' below) gives the same numbers as the graph walk. Where the stride-2 sits matters: "
        "on the first 1x1, the 3x3 after it already runs at the doubled jump."
    )
    report.table(
        "resnet50",
        "ResNet-50, output of each stage",
        [
            Column("layout", "layout", align="<"),
            Column("layer", "stage", align="<"),
            Column("rf", "receptive field"),
            Column("main_path", "main path rule"),
            Column("jump", "jump"),
        ],
        rows,
    )
    last = {r["layout"]: r for r in rows if r["layer"] == "layer4"}
    torchvision_rf, paper_rf = (r["rf"] for r in last.values())
    report.check(
        "ResNet-50 layer4, stride in the first 1x1 (the paper's layout)",
        paper_rf,
        RESNET50_V1,
        DISTILL,
        note="The TF-slim ResNet-50 v1 that Araujo et al. measured strides the 3x3 of the last "
        "block of a stage instead; its field happens to add up to the same 483.",
    )
    report.check(
        "ResNet-50 layer4, torchvision's layout: graph walk vs main-path rule",
        torchvision_rf,
        last["torchvision (stride on the 3x3)"]["main_path"],
        "the rule along the main path",
    )
    report.say(
        f"Both fields, {torchvision_rf} and {paper_rf} pixels, are larger than the 224x224 image, "
        "but as Step 3 measured, a field that large does not mean every pixel sees the whole "
        "image: a corner pixel's field is centred near the corner. And inside the field, pixels "
        "near its centre count far more than those at its edge, so the 'effective' field is "
        "smaller still (Luo et al. 2016)."
    )
    return rows


def _main_path_rule(model: nn.Module) -> dict[str, int]:
    """The rule r += (k - 1) * j, j *= s along conv1, max pool, each block's conv1-conv2-conv3."""
    r, j, out = 1, 1, {}

    def step(layer: Any) -> None:
        nonlocal r, j
        k = layer.kernel_size[0] if isinstance(layer.kernel_size, tuple) else layer.kernel_size
        s = layer.stride[0] if isinstance(layer.stride, tuple) else layer.stride
        r, j = r + (k - 1) * j, j * s

    step(model.conv1)
    step(model.maxpool)
    out["maxpool"] = r
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for block in getattr(model, stage):
            for conv in (block.conv1, block.conv2, block.conv3):
                step(conv)
        out[stage] = r
    return out


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "receptive_field", "Receptive fields: 3x3 stacks, VGG16 and ResNet-50 (slide VGGNet (2))"
    )
    report.data["step1"] = seven_vs_three(report)
    report.data["vgg16"] = vgg_fields(report)
    report.data["measured"] = measured_corners(report)
    report.data["resnet50"] = resnet_fields(report)
    vgg = {r["layer"]: r for r in report.data["vgg16"]}
    report.exercise(
        "How many 3x3 convs (stride 1, no pooling) must be stacked for a receptive field of 224 "
        "or more?",
        112,
    )
    report.exercise(
        "VGG16's pool5 has jump 32 and start 15.5. Which input rows does pool5 pixel (6, 6), the "
        "last one, see at 224x224?",
        f"{round(15.5 + 6 * 32 - 105.5)}..{min(223, round(15.5 + 6 * 32 + 105.5))}",
    )
    report.exercise(
        "conv4_3's field is 92 pixels with jump 8. How far apart are the centres of two "
        "neighbouring conv4_3 pixels' fields, and how many input rows do their fields share?",
        {"apart": vgg["conv4_3"]["jump"], "shared": vgg["conv4_3"]["rf"] - vgg["conv4_3"]["jump"]},
    )
    return finish(report, args, plot)


def plot(fig: Any, report: Report) -> None:
    """Receptive field vs depth: VGG16 layer by layer, ResNet-50 stage by stage, both layouts."""
    left, right = fig.subplots(1, 2)
    vgg = report.data["vgg16"]
    left.plot(range(len(vgg)), [r["rf"] for r in vgg], "o-")
    left.axhline(224, color="grey", linestyle="--", label="image size 224")
    left.set_xticks(range(len(vgg)), [r["layer"] for r in vgg], rotation=90, fontsize=7)
    left.set_ylabel("receptive field (pixels)")
    left.set_title("VGG16: +2 jumps per 3x3 conv")
    left.legend()
    resnet = report.data["resnet50"]
    for layout in dict.fromkeys(r["layout"] for r in resnet):
        rows = [r for r in resnet if r["layout"] == layout]
        right.plot([r["layer"] for r in rows], [r["rf"] for r in rows], "o-", label=layout)
    right.axhline(224, color="grey", linestyle="--")
    right.set_title("ResNet-50, stage outputs")
    right.legend(fontsize=7)


if __name__ == "__main__":
    main(sys.argv[1:])
