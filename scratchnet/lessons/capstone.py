"""Capstone: the lecture's networks side by side, parameters vs multiply-adds vs activation memory.

Every network of the lecture trades three costs: parameters (memory for the model, and what can
overfit), multiply-adds per image (time), and activations per image (memory during training, which
grows with the batch). This lesson builds VGG16, GoogLeNet, ResNet-50 in both layouts (stride on the
first 1x1 as in the paper, on the 3x3 as in torchvision), DenseNet-121, SE-ResNet-50, Inception-v4
and Inception-ResNet-v2, counts all three with ``scratchnet.analysis.summary`` and puts them on one
log-log chart.

The networks made for 224x224 are counted on a 32x32 image and scaled (``cost_at_224``: every map is
exactly 7 x 7 times smaller; the tests check it against real 224x224 passes); the Inception-v4
family, made for 299x299 with unpadded convs, runs at 299x299.

Run it: ``python -m scratchnet.lessons.capstone`` (``--json``, ``--plot capstone.png``).
Read next: ``scratchnet/analysis/summary.py`` (how MACs and activations are counted), the lessons of
each network (``python -m scratchnet.lessons``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from scratchnet import nn
from scratchnet.analysis import summary
from scratchnet.lessons._common import (
    Column,
    Report,
    cost_at_224,
    count_parameters,
    finish,
    fmt_bytes,
    fmt_int,
    fmt_si,
    parse_args,
    run_lesson,
)
from scratchnet.models import (
    densenet121,
    googlenet,
    inception_resnet_v2,
    inception_v4,
    resnet50,
    se_resnet50,
    vgg16,
)
from scratchnet.viz.result import RunResult

# name -> (constructor, input size); all at 1000 classes, without auxiliary heads.
NETWORKS: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "VGG16": (lambda: vgg16(init_weights=False), 224),
    "GoogLeNet": (lambda: googlenet(aux_logits=False), 224),
    "ResNet-50 (paper)": (lambda: resnet50(stride_in_1x1=True), 224),
    "ResNet-50 (torchvision)": (resnet50, 224),  # the same parameters; only the stride moves
    "DenseNet-121": (densenet121, 224),
    "SE-ResNet-50": (lambda: se_resnet50(stride_in_1x1=True), 224),
    "Inception-v4": (inception_v4, 299),
    "Inception-ResNet-v2": (inception_resnet_v2, 299),
}
BYTES = 4  # float32


def measure(name: str, make: Callable[[], nn.Module], size: int) -> dict[str, Any]:
    """Parameters, multiply-adds and activations (outputs of the leaf layers) of one image."""
    model = make()
    if size == 224:
        rows = cost_at_224(model)
        macs, activations = sum(r["macs"] for r in rows), sum(r["activations"] for r in rows)
    else:
        s = summary(model, (3, size, size))
        macs, activations = s.macs, s.activations
    return {
        "network": name,
        "input": f"{size}x{size}",
        "params": count_parameters(model),
        "macs": macs,
        "activations": activations,
        "activation_bytes": activations * BYTES,
        "model": model,
    }


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "capstone", "Capstone: parameters, multiply-adds and activations of the lecture's CNNs"
    )
    rows = [measure(name, make, size) for name, (make, size) in NETWORKS.items()]
    for row in rows:
        del row["model"]

    the_table(report, rows)
    by = the_extremes(report, rows)
    exercises(report, by, rows)
    report.check(
        "ResNet-50: the same parameters in both layouts",
        by["ResNet-50 (torchvision)"]["params"],
        by["ResNet-50 (paper)"]["params"],
        "a stride has no weights",
    )

    report.data["networks"] = rows
    return finish(report, args, plot)


def the_table(report: Report, rows: list[dict[str, Any]]) -> None:
    """The table: parameters, multiply-adds and activations of each network."""
    report.say(
        "Per image, as summary() counts them: parameters (weights, biases, BatchNorm), "
        "multiply-adds of the conv and FC layers, and activations = the values in the outputs of "
        "all leaf layers in one forward pass (float32; training keeps them for the backward "
        "pass, and they grow with the batch)."
    )
    report.table(
        "networks",
        "",
        [
            Column("network", "network", align="<"),
            Column("input", "input", align="<"),
            Column("params", "parameters", fmt_int),
            Column("macs", "multiply-adds", fmt_si),
            Column("activations", "activations", fmt_si),
            Column("activation_bytes", "memory", fmt_bytes),
        ],
        rows,
    )


def the_extremes(report: Report, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Which network has the most and the fewest of each, and why."""
    by = {r["network"]: r for r in rows}
    most = {
        key: max(rows, key=lambda r, key=key: r[key])["network"]
        for key in ("params", "macs", "activations")
    }
    least = {
        key: min(rows, key=lambda r, key=key: r[key])["network"]
        for key in ("params", "macs", "activations")
    }
    report.say(
        f"Most parameters: {most['params']}; most multiply-adds: {most['macs']}; most "
        f"activations: {most['activations']}. Fewest of each: {least['params']}, {least['macs']}, "
        f"{least['activations']}. VGG16 has "
        f"{by['VGG16']['params'] / by['GoogLeNet']['params']:.0f}x GoogLeNet's parameters. "
        "DenseNet-121 has a third of ResNet-50's parameters "
        f"({by['DenseNet-121']['params'] / by['ResNet-50 (torchvision)']['params']:.0%}) but "
        f"{by['DenseNet-121']['activations'] / by['ResNet-50 (torchvision)']['activations']:.1f}x "
        "its activations: every dense layer's input is a new concatenation of all earlier maps. "
        f"SE adds {by['SE-ResNet-50']['params'] / by['ResNet-50 (paper)']['params'] - 1:.0%} "
        "parameters to ResNet-50 and "
        f"{by['SE-ResNet-50']['macs'] / by['ResNet-50 (paper)']['macs'] - 1:.2%} multiply-adds. "
        "The Inception-v4 family runs at 299x299 and pays for it in multiply-adds."
    )
    return by


def exercises(report: Report, by: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """The exercises, answered from the same rows (the answers are in ``--json``)."""
    report.exercise(
        "How many images of a batch fit in 16 GB (10^9 bytes) if training keeps each image's "
        "activations twice (forward and backward) and nothing else: VGG16 vs DenseNet-121?",
        {
            name: int(16e9 // (2 * by[name]["activation_bytes"]))
            for name in ("VGG16", "DenseNet-121")
        },
    )
    report.exercise(
        "Which network has the most multiply-adds per parameter, and how many?",
        max(((r["network"], round(r["macs"] / r["params"], 1)) for r in rows), key=lambda x: x[1]),
    )
    report.exercise(
        "Counting a multiply-add as two FLOPs, how many 10^9 FLOPs does Inception-v4 need per "
        "image?",
        round(2 * by["Inception-v4"]["macs"] / 1e9, 2),
    )


def plot(fig: Any, report: Report) -> None:
    """Multiply-adds against parameters, log-log; the marker's area is the activation memory."""
    rows = report.data["networks"]
    ax = fig.subplots()
    biggest = max(r["activation_bytes"] for r in rows)
    for r in rows:
        area = 30 + 600 * r["activation_bytes"] / biggest
        ax.scatter(r["params"], r["macs"], s=area, alpha=0.6)
        ax.annotate(
            f"{r['network']}\n{fmt_bytes(r['activation_bytes'])}",
            (r["params"], r["macs"]),
            fontsize=7,
            xytext=(5, 5),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("multiply-adds per image")
    ax.set_title("The lecture's CNNs (marker area: activation memory per image)")


if __name__ == "__main__":
    main(sys.argv[1:])
