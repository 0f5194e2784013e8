"""Budgets: AlexNet, VGG16 and GoogLeNet's parameters, what global average pooling saves, 144 crops.

Slide "GoogLeNet (1)" says GoogLeNet is much deeper than AlexNet but has 1/2 of its parameters; the
paper says 12x fewer. Slide "GoogLeNet (3)" credits global average pooling (GAP) instead of fully
connected layers for the saving. Slide "GoogLeNet (8)" describes the training crops (8% to 100% of
the image's area, aspect ratio 3/4 to 4/3) and the 144 test crops per image. Slide "ResNet (3)"
says ResNet-34, unlike VGG, has no hidden FC layers, no dropout and a single max pool.

This lesson builds ``alexnet()``, ``vgg16()``, ``googlenet()`` and ``resnet34()``, counts their
parameters and their layers by kind, compares GoogLeNet's GAP head with an FC head on the same
7x7x1024 map, enumerates the 144 test crops and costs them with ``summary()``, and samples the
training crops with ``scratchnet.data.transforms.RandomResizedCrop``.

Run it: ``python -m scratchnet.lessons.budgets`` (``--json``, ``--plot budgets.png``).
Read next: ``scratchnet/models/alexnet.py``, ``scratchnet/models/googlenet.py`` (the head),
``scratchnet/data/transforms.py`` (``RandomResizedCrop``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnet import nn
from scratchnet.analysis import summary
from scratchnet.data.transforms import RandomResizedCrop
from scratchnet.lessons._common import (
    Column,
    Report,
    count_parameters,
    finish,
    fmt_int,
    fmt_si,
    parse_args,
    run_lesson,
)
from scratchnet.models import alexnet, googlenet, resnet34, vgg16
from scratchnet.viz.result import RunResult

SLIDE_1 = 'lecture, GoogLeNet (1): "AlexNet 대비 parameters의 수는 1/2" (1/2 of AlexNet\'s)'
PAPER = 'Szegedy et al. 2015, Sec. 1: "12x fewer parameters than ... Krizhevsky et al."'
TORCHVISION = {
    "AlexNet": 61_100_840,
    "VGG16": 138_357_544,
    "GoogLeNet": 6_624_904,
}  # meta["num_params"]
SCALES = (256, 288, 320, 352)  # GoogLeNet (8): the shorter side of the test image
SQUARES = ("left/top", "centre", "right/bottom")  # three squares along the longer side
CROPS = ("top-left", "top-right", "bottom-left", "bottom-right", "centre 224", "whole square")
FLIPS = ("as is", "mirrored")
CROP_SAMPLES = 500  # training crops drawn to show the distribution


def parameter_budget(report: Report) -> dict[str, Any]:
    """Step 1: AlexNet, VGG16, GoogLeNet; where their parameters sit."""
    models = {
        "AlexNet": alexnet(),
        "VGG16": vgg16(init_weights=False),
        "GoogLeNet": googlenet(aux_logits=False),
    }
    rows = []
    for name, model in models.items():
        linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        total = count_parameters(model)
        fc = sum(count_parameters(m) for m in linear)
        rows.append(
            {
                "network": name,
                "convs": len(convs),
                "fcs": len(linear),
                "params": total,
                "fc_params": fc,
                "fc_share": fc / total,
            }
        )
        report.check(
            f"{name} parameters", total, TORCHVISION[name], "torchvision num_params", quiet=True
        )
    report.say(
        "Step 1. The parameter budget: every parameter of each model (count_parameters), the "
        "part in its fully connected (FC) layers, and its number of conv and FC layers. "
        "GoogLeNet is built as torchvision builds it, without the auxiliary heads used only in "
        "training."
    )
    report.table(
        "budget",
        "",
        [
            Column("network", "network", align="<"),
            Column("convs", "convs"),
            Column("fcs", "FC layers"),
            Column("params", "parameters", fmt_int),
            Column("fc_params", "in FC layers", fmt_int),
            Column("fc_share", "share", lambda v: f"{v:.0%}"),
        ],
        rows,
    )
    by_name = {r["network"]: r for r in rows}
    ratio = by_name["GoogLeNet"]["params"] / by_name["AlexNet"]["params"]
    report.check(
        "GoogLeNet's parameters / AlexNet's",
        ratio,
        0.5,
        SLIDE_1,
        shown="1/2",
        fmt=lambda v: f"{v:.3f} (1/{1 / v:.1f})",
        why=f"GoogLeNet has about 1/{1 / ratio:.0f} of AlexNet's parameters, far fewer than half.",
    )
    report.check(
        "AlexNet's parameters / GoogLeNet's",
        1 / ratio,
        "12",
        PAPER,
        fmt=lambda v: f"{v:.2f}x",
        why="With torchvision's two models the factor is 9.2. The paper gives no count of its "
        "own; 12x would need GoogLeNet to have about "
        f"{by_name['AlexNet']['params'] / 12 / 1e6:.1f}M parameters against AlexNet's "
        f"{by_name['AlexNet']['params'] / 1e6:.1f}M, or AlexNet about "
        f"{12 * by_name['GoogLeNet']['params'] / 1e6:.1f}M against GoogLeNet's "
        f"{by_name['GoogLeNet']['params'] / 1e6:.1f}M. Neither is a count we can reproduce.",
    )
    report.say(
        "GoogLeNet is 22 layers deep (the paper's count of layers with weights on its longest "
        "path) against AlexNet's 8 and VGG16's 16, yet has the fewest parameters: AlexNet keeps "
        f"{by_name['AlexNet']['fc_share']:.0%} of its parameters in FC layers, VGG16 "
        f"{by_name['VGG16']['fc_share']:.0%}, GoogLeNet {by_name['GoogLeNet']['fc_share']:.0%} "
        "(its one FC layer is the classifier). Step 2 shows where that difference comes from."
    )
    return {"rows": rows, "googlenet": models["GoogLeNet"], "vgg16": models["VGG16"]}


def gap_vs_fc(report: Report, model: nn.Module) -> dict[str, Any]:
    """Step 2: GoogLeNet's head (GAP + FC 1024 -> 1000) vs an FC head on the flat 7x7x1024 map."""
    classifier = model.fc  # after global average pooling: 1024 -> 1000
    channels, size, classes = classifier.in_features, 7, classifier.out_features
    flat_fc = nn.Linear(channels * size * size, classes)  # what a flatten + FC head would need
    rows = [
        {
            "head": "global average pool + FC",
            "input": f"{channels}",
            "params": count_parameters(classifier),
        },
        {
            "head": "flatten + FC",
            "input": f"{size}*{size}*{channels}",
            "params": count_parameters(flat_fc),
        },
    ]
    saved = rows[1]["params"] - rows[0]["params"]
    report.say(
        "Step 2. Global average pooling (slide GoogLeNet (3), from Network in Network). "
        f"GoogLeNet's last map is {size}x{size}x{channels}. Averaging each of the {channels} maps "
        f"to one number leaves a {channels}-vector for the classifier; flattening the map instead "
        f"would feed {size * size * channels:,} numbers to it. The two heads, as real layers:"
    )
    report.table(
        "heads",
        "",
        [
            Column("head", "head", align="<"),
            Column("input", "FC input", align="<"),
            Column("params", "parameters", fmt_int),
        ],
        rows,
    )
    report.check(
        "parameters the flatten + FC head would add",
        saved,
        (size * size - 1) * channels * classes,
        "(7*7 - 1) * 1024 * 1000: the biases are the same",
    )
    report.say(
        f"The FC head would hold {fmt_int(rows[1]['params'])} parameters, "
        f"{rows[1]['params'] / rows[0]['params']:.0f} times the GAP head and "
        f"{rows[1]['params'] / count_parameters(model):.1f} times all of GoogLeNet. GAP has no "
        "weights at all, so it cannot overfit; the slide's 'fewer parameters, less computation, "
        "less overfitting'."
    )
    return {"rows": rows, "saved": saved}


def testing_crops(report: Report, model: nn.Module) -> dict[str, Any]:
    """Step 3: GoogLeNet (8)'s 144 crops per test image, enumerated, and what they cost."""
    crops = [(s, q, c, f) for s in SCALES for q in SQUARES for c in CROPS for f in FLIPS]
    macs = summary(model, (3, 224, 224)).macs  # one 224x224 crop
    report.say(
        "Step 3. Testing with 144 crops (slide GoogLeNet (8)). Each test image is resized to 4 "
        f"scales (shorter side {', '.join(map(str, SCALES))}); from each, 3 squares are taken "
        "along the longer side (left, centre, right, or top, centre, bottom); from each square 6 "
        "crops of 224x224: the 4 corners, the centre, and the whole square resized to 224 (the "
        "slide's 'two central' crops are these last two); and each crop is also mirrored. The "
        "softmax outputs of all crops are averaged."
    )
    report.check(
        "test crops per image",
        len(crops),
        144,
        "lecture, GoogLeNet (8): 4 x 3 x 6 x 2",
        fmt=fmt_int,
    )
    report.say(
        f"  one 224x224 crop:      {fmt_int(macs)} multiply-adds ({fmt_si(macs)})\n"
        f"  144 crops, one image:  {fmt_int(144 * macs)} multiply-adds ({fmt_si(144 * macs)})",
        "The paper notes that so many crops are not necessary in practice: the gain over 10 crops "
        "is small.",
    )
    return {"crops": len(crops), "macs_per_crop": macs, "macs_per_image": 144 * macs}


def training_crops(report: Report) -> dict[str, Any]:
    """Step 4: the training crops' area and aspect ratio, sampled with RandomResizedCrop."""
    transform = RandomResizedCrop(224)
    rng = np.random.default_rng(0)
    height = width = 1000
    boxes = [transform.crop_box(height, width, rng) for _ in range(CROP_SAMPLES)]
    areas = np.array([h * w / (height * width) for _, _, h, w in boxes])
    aspects = np.array([w / h for _, _, h, w in boxes])
    report.say(
        "Step 4. Training crops (slide GoogLeNet (8)): patches of 8% to 100% of the image's area "
        "with aspect ratio (width / height) between 3/4 and 4/3, resized to 224x224. "
        f"scratchnet's RandomResizedCrop(224) uses scale={transform.scale} and "
        f"ratio=({transform.ratio[0]:.4g}, {transform.ratio[1]:.4g}); {CROP_SAMPLES} crops of a "
        f"1000x1000 image cover areas {areas.min():.1%} to {areas.max():.1%} (median "
        f"{np.median(areas):.0%}) and aspect ratios {aspects.min():.3f} to {aspects.max():.3f}."
    )
    report.check(
        "training crops: area range", list(transform.scale), [0.08, 1.0], "lecture, GoogLeNet (8)"
    )
    report.check(
        "training crops: aspect-ratio range",
        [round(r, 4) for r in transform.ratio],
        [round(3 / 4, 4), round(4 / 3, 4)],
        "lecture, GoogLeNet (8): [3/4, 4/3]",
    )
    return {"areas": areas.tolist(), "aspects": aspects.tolist()}


def vgg_vs_resnet(report: Report, vgg: nn.Module) -> list[dict[str, Any]]:
    """Step 5: VGG16 vs ResNet-34: pools, hidden FC layers, dropouts (slide ResNet (3))."""
    rows = []
    for name, model in (("VGG16", vgg), ("ResNet-34", resnet34())):
        linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
        rows.append(
            {
                "network": name,
                "max_pools": sum(isinstance(m, nn.MaxPool2d) for m in model.modules()),
                "global_pools": sum(isinstance(m, nn.AdaptiveAvgPool2d) for m in model.modules()),
                "hidden_fcs": len(linear) - 1,  # all but the classifier
                "dropouts": sum(isinstance(m, nn.Dropout) for m in model.modules()),
                "params": count_parameters(model),
            }
        )
    report.table(
        "vgg_vs_resnet",
        "Step 5. VGG16 vs ResNet-34, layers by kind (slide ResNet (3))",
        [
            Column("network", "network", align="<"),
            Column("max_pools", "max pools"),
            Column("global_pools", "adaptive avg pools"),
            Column("hidden_fcs", "hidden FC layers"),
            Column("dropouts", "dropouts"),
            Column("params", "parameters", fmt_int),
        ],
        rows,
    )
    vgg_row, resnet_row = rows
    report.check(
        "ResNet-34: max pools, hidden FC layers, dropouts",
        [resnet_row["max_pools"], resnet_row["hidden_fcs"], resnet_row["dropouts"]],
        [1, 0, 0],
        "lecture, ResNet (3); He et al. 2015, Sec. 3.4",
    )
    report.say(
        "ResNet-34 halves its maps with stride-2 convs instead of pools (one max pool after the "
        "first conv), and ends with one global average pool and the classifier: no hidden FC "
        "layer, so no dropout. VGG16's adaptive pool is torchvision's no-op at 224x224 (it makes "
        "other sizes 7x7). With 34 layers against 16, ResNet-34 has "
        f"{resnet_row['params'] / vgg_row['params']:.0%} of VGG16's parameters."
    )
    return rows


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "budgets", "Budgets: AlexNet, VGG16, GoogLeNet; GAP vs FC; 144 crops (GoogLeNet (1)-(8))"
    )
    budget = parameter_budget(report)
    report.data["budget"] = budget["rows"]
    report.data["heads"] = gap_vs_fc(report, budget["googlenet"])
    report.data["test_crops"] = testing_crops(report, budget["googlenet"])
    crops = training_crops(report)
    report.data["vgg_vs_resnet"] = vgg_vs_resnet(report, budget["vgg16"])
    report.data["training_crops"] = {
        "area_range": [min(crops["areas"]), max(crops["areas"])],
        "aspect_range": [min(crops["aspects"]), max(crops["aspects"])],
    }
    report.data["_areas"] = crops["areas"]  # for the figure
    by_name = {r["network"]: r for r in budget["rows"]}
    report.exercise(
        "AlexNet's first FC layer takes the 6x6x256 map. How many parameters would it have if "
        "AlexNet ended with global average pooling (256 values) into a 4096-unit layer instead?",
        256 * 4096 + 4096,
    )
    report.exercise(
        "How many multiply-adds would GoogLeNet spend on one image with 10 crops (4 corners, "
        "centre, each mirrored) instead of 144?",
        10 * report.data["test_crops"]["macs_per_crop"],
    )
    report.exercise(
        "What share of VGG16's parameters would remain if its FC layers were replaced by GAP + one "
        "FC layer 512 -> 1000?",
        round(
            (by_name["VGG16"]["params"] - by_name["VGG16"]["fc_params"] + 512 * 1000 + 1000)
            / by_name["VGG16"]["params"],
            4,
        ),
    )
    return finish(report, args, plot)


def plot(fig: Any, report: Report) -> None:
    """Parameters per network, split into conv and FC; the training crops' area distribution."""
    left, right = fig.subplots(1, 2)
    rows = report.data["budget"]
    names = [r["network"] for r in rows]
    conv = [(r["params"] - r["fc_params"]) / 1e6 for r in rows]
    fc = [r["fc_params"] / 1e6 for r in rows]
    left.bar(names, conv, label="conv layers")
    left.bar(names, fc, bottom=conv, label="FC layers")
    left.set_ylabel("parameters (millions)")
    left.set_title("Where the parameters are")
    left.legend()
    right.hist(report.data["_areas"], bins=30, color="tab:green")
    right.set_xlabel("crop area / image area")
    right.set_title(f"{len(report.data['_areas'])} training crops (RandomResizedCrop)")


if __name__ == "__main__":
    main(sys.argv[1:])
