"""1x1 convolutions: mixing channels pixel by pixel, and why the Inception module needs them.

Slide GoogLeNet (4): a 1x1 convolution looks at one pixel at a time and combines the values of all
input maps at that pixel with learned weights, so 4 input maps become 2 output maps (dimension
reduction), and the ReLU after it adds a non-linearity. It is the same as a fully connected layer
applied at every pixel (NIN's "MLP conv", slide GoogLeNet (2)).

Slide GoogLeNet (5): in the naive Inception module the 3x3 and 5x5 convs see every input channel and
the pooling branch passes them all on, so the module is expensive and its output is wider than its
input. Putting 1x1 convs before the 3x3 and 5x5 ("reduce") and after the pool ("pool proj") fixes
both. This lesson runs the 4 -> 2 example on real numbers, then builds inception (3a) both ways with
``scratchnet.models.googlenet.Inception`` and counts weights and multiply-adds with ``summary``.

Run it: ``python -m scratchnet.lessons.one_by_one`` (``--json``, ``--plot inception.png``).
Read next: ``scratchnet/models/googlenet.py`` (``Inception(reduce=...)``),
``scratchnet/ops/conv.py`` (a 1x1 conv is im2col with one position per pixel: a plain matrix
product), ``scratchnet/models/nin.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

import scratchnet
from scratchnet import nn
from scratchnet.analysis import summary
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
from scratchnet.models.googlenet import Inception
from scratchnet.viz.result import RunResult

TABLE = "lecture, GoogLeNet (6), inception (3a)"
# The table's (3a) row: params 159K, ops 128M (K = 1024 for params, M = 10^6 for ops: see
# googlenet_table).
TABLE_3A_PARAMS, TABLE_3A_OPS = "159K", "128M"  # as printed; the table's K is 1024

# Inception (3a) and (3b) of the table: in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
WIDTHS_3A = (192, 64, 96, 128, 16, 32, 32)
WIDTHS_3B = (256, 128, 128, 192, 32, 96, 64)
BRANCHES = {"branch1": "1x1", "branch2": "3x3", "branch3": "5x5", "branch4": "pool"}


def four_to_two(report: Report) -> dict[str, Any]:
    """Step 1: a real nn.Conv2d(4, 2, kernel_size=1) on four 3x3 maps with small whole numbers."""
    layer = nn.Conv2d(4, 2, kernel_size=1, bias=False)
    weights = np.array(
        [[1, 2, 0, -1], [0, 1, 1, 1]], dtype=np.float32
    )  # (out 2, in 4): easy to follow by hand
    with scratchnet.no_grad():
        layer.weight.copy_(weights.reshape(2, 4, 1, 1))
    maps = (
        np.arange(4 * 3 * 3, dtype=np.float32).reshape(1, 4, 3, 3) % 5
    )  # (N=1, C=4, H=3, W=3), values 0..4
    with scratchnet.no_grad():
        out = layer(scratchnet.tensor(maps))  # (1, 2, 3, 3)
        relu_out = nn.ReLU()(out)
    by_hand = np.einsum("oc,nchw->nohw", weights, maps)  # every pixel: (2x4 matrix) @ (4 values)
    pixel = maps[0, :, 0, 2]
    report.say(
        "Step 1. Four maps in, two maps out (slide GoogLeNet (4)). We build nn.Conv2d(4, 2, "
        f"kernel_size=1), set its {layer.weight.numel()} weights to small whole numbers and apply "
        "it to four 3x3 maps. At every pixel the 1x1 conv multiplies the 4 values found there by "
        "a 2x4 weight matrix:",
        "  W = " + _matrix(weights) + "\n"
        f"  pixel (0, 2): inputs {_vector(pixel)} -> W @ inputs = {_vector(weights @ pixel)}",
    )
    rows = []
    for c in range(4):
        rows.append({"map": f"input {c}", "values": _grid(maps[0, c])})
    for o in range(2):
        rows.append({"map": f"output {o}", "values": _grid(out.numpy()[0, o])})
        rows.append({"map": f"ReLU(output {o})", "values": _grid(relu_out.numpy()[0, o])})
    report.table(
        "four_to_two",
        "",
        [Column("map", "map", align="<"), Column("values", "rows of the 3x3 map", align="<")],
        rows,
    )
    report.check(
        "1x1 conv output = W @ (input at each pixel)",
        bool(np.array_equal(out.numpy(), by_hand)),
        True,
        "np.einsum on the same numbers",
        shown="True",
    )
    report.check(
        "output maps",
        out.shape[1],
        2,
        'lecture, GoogLeNet (4): "4개의 입력 feature map이 2개의 출력 feature map으로"',
    )
    report.check(
        "weights of the 1x1 conv (4 in x 2 out)",
        count_parameters(layer),
        4 * 2,
        "one weight per (in, out) pair",
    )
    report.say(
        "The spatial size is untouched; only the number of maps changes. Negative outputs are "
        "cut to 0 by the ReLU, so a 1x1 conv + ReLU is a small non-linear network applied at "
        "every pixel, the 'MLP' of Network in Network."
    )
    return {"weights": weights.tolist(), "input": maps.tolist(), "output": out.numpy().tolist()}


def _grid(a: np.ndarray) -> str:
    return " | ".join(
        " ".join(f"{v + 0:3g}" for v in row) for row in a
    )  # + 0 turns ReLU's -0.0 into 0


def _vector(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{x:g}" for x in v) + "]"


def _matrix(m: np.ndarray) -> str:
    return "[" + "; ".join(" ".join(f"{x:g}" for x in row) for row in m) + "]"


def module_costs(module: Inception, size: int) -> dict[str, Any]:
    """Weights and multiply-adds of each branch (from summary's rows), and the output channels."""
    s = summary(module, (module.branch1.conv.in_channels, size, size))
    branches: dict[str, dict[str, Any]] = {}
    for row in s.rows:
        if row.type != "Conv2d":
            continue
        branch = branches.setdefault(
            row.name.split(".")[0], {"layers": [], "weights": 0, "macs": 0}
        )
        conv = module.get_submodule(row.name)
        k = conv.kernel_size[0] if isinstance(conv.kernel_size, tuple) else conv.kernel_size
        branch["layers"].append(f"{k}x{k} {conv.in_channels}->{conv.out_channels}")
        branch["weights"] += row.params
        branch["macs"] += row.macs
    with scratchnet.no_grad():
        out = module(scratchnet.zeros(*s.input_shape))
    return {
        "branches": branches,
        "weights": sum(b["weights"] for b in branches.values()),
        "macs": s.macs,
        "all_params": s.total_params,
        "out_channels": out.shape[1],
        "in_channels": s.input_shape[1],
    }


def naive_vs_reduced(report: Report) -> dict[str, Any]:
    """Step 2: inception (3a) naive and with reductions; then what the naive width does to (3b)."""
    naive = module_costs(Inception(*WIDTHS_3A, reduce=False, paper_5x5=True), 28)
    reduced = module_costs(Inception(*WIDTHS_3A, reduce=True, paper_5x5=True), 28)
    rows = []
    for label, costs in (("naive (a)", naive), ("with 1x1 reductions (b)", reduced)):
        for name, b in costs["branches"].items():
            rows.append(
                {
                    "module": label,
                    "branch": BRANCHES[name],
                    "layers": ", ".join(b["layers"]),
                    "weights": b["weights"],
                    "macs": b["macs"],
                }
            )
        if label.startswith("naive"):
            rows.append(
                {
                    "module": label,
                    "branch": "pool",
                    "layers": "3x3 max pool, all 192 maps pass",
                    "weights": 0,
                    "macs": 0,
                }
            )
        rows.append(
            {
                "module": label,
                "branch": "total",
                "layers": f"{costs['in_channels']} -> {costs['out_channels']} maps",
                "weights": costs["weights"],
                "macs": costs["macs"],
            }
        )
    report.say(
        f"Step 2. Inception (3a) at 28x28x{WIDTHS_3A[0]}, built twice with "
        f"scratchnet.models.googlenet.Inception({', '.join(map(str, WIDTHS_3A))}, "
        "paper_5x5=True): reduce=False is the naive module of figure (a), reduce=True figure "
        "(b). 'weights' are conv weights (the paper's networks have no BatchNorm), "
        "'multiply-adds' come from summary(). ('paper_5x5=True': torchvision, whose layout the "
        "model follows, uses a 3x3 in the 5x5 branch.)"
    )
    report.table(
        "inception_3a",
        "",
        [
            Column("module", "module", align="<"),
            Column("branch", "branch", align="<"),
            Column("layers", "convolutions", align="<"),
            Column("weights", "weights", fmt_int),
            Column("macs", "multiply-adds", fmt_int),
        ],
        rows,
    )
    params_check = report.check_rounded(
        "(3a) with reductions: weights", reduced["weights"], TABLE_3A_PARAMS, TABLE, kilo=1024
    )
    params_check.note = (
        "The table's K is 1024: 163,328 / 1024 = 159.5, which the table truncates to 159 "
        "(rounded to nearest it would print 160); see googlenet_table."
    )
    report.show(params_check)
    report.check("(3a) with reductions: multiply-adds", reduced["macs"], TABLE_3A_OPS, TABLE)
    report.check(
        "(3a) output maps with reductions",
        reduced["out_channels"],
        256,
        "lecture, GoogLeNet (6): 28x28x256",
    )

    # The naive module's output is wider than its input; the next module then costs even more.
    naive_3b = module_costs(
        Inception(naive["out_channels"], *WIDTHS_3B[1:], reduce=False, paper_5x5=True), 28
    )
    reduced_3b = module_costs(Inception(*WIDTHS_3B, reduce=True, paper_5x5=True), 28)
    chain = [
        {
            "modules": "naive (3a) -> naive (3b)",
            "maps": f"192 -> {naive['out_channels']} -> {naive_3b['out_channels']}",
            "weights": naive["weights"] + naive_3b["weights"],
            "macs": naive["macs"] + naive_3b["macs"],
        },
        {
            "modules": "reduced (3a) -> reduced (3b)",
            "maps": f"192 -> {reduced['out_channels']} -> {reduced_3b['out_channels']}",
            "weights": reduced["weights"] + reduced_3b["weights"],
            "macs": reduced["macs"] + reduced_3b["macs"],
        },
    ]
    report.say(
        f"The naive module costs {naive['macs'] / reduced['macs']:.1f}x the multiply-adds and "
        f"{naive['weights'] / reduced['weights']:.1f}x the weights, and because its pool branch "
        f"passes all {naive['in_channels']} maps on, it outputs {naive['out_channels']} maps "
        f"instead of {reduced['out_channels']}. Stack a second naive module (with (3b)'s widths) "
        "on top and the width keeps growing, and so does the cost:"
    )
    report.table(
        "two_modules",
        "",
        [
            Column("modules", "two modules at 28x28", align="<"),
            Column("maps", "maps", align="<"),
            Column("weights", "weights", fmt_int),
            Column("macs", "multiply-adds", fmt_si),
        ],
        chain,
    )
    report.say(
        f"The 1x1 reductions cut the channels to {WIDTHS_3A[2]} and {WIDTHS_3A[4]} before the 3x3 "
        f"and 5x5 convs and to {WIDTHS_3A[6]} after the pool: cheap (a 1x1 conv has one weight "
        "per pair of maps), and each adds a ReLU. This is what lets GoogLeNet stack nine such "
        "modules (googlenet_table)."
    )
    return {"naive": naive, "reduced": reduced, "chain": chain}


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "one_by_one", "1x1 convolutions and the Inception module (slides GoogLeNet (2)-(5))"
    )
    report.data["four_to_two"] = four_to_two(report)
    report.data["inception_3a"] = naive_vs_reduced(report)
    report.exercise(
        "A 1x1 conv turns 28x28x192 into 28x28x16. How many weights (no bias) and multiply-adds "
        "does it cost?",
        {"weights": 192 * 16, "macs": 28 * 28 * 192 * 16},
    )
    report.exercise(
        "In the naive (3a), the pool branch passes all 192 maps on. How many maps does the "
        "module output, and how many weights would a 3x3 conv to 128 maps in the next module "
        "need on that input?",
        {"maps": 64 + 128 + 32 + 192, "weights": 9 * (64 + 128 + 32 + 192) * 128},
    )
    report.exercise(
        "By what factor does the 1x1 reduction to 16 maps cut the weights of (3a)'s 5x5 branch "
        "(192 -> 32 directly vs 192 -> 16 -> 32)?",
        round(25 * 192 * 32 / (192 * 16 + 25 * 16 * 32), 2),
    )
    return finish(report, args, plot)


def plot(fig: Any, report: Report) -> None:
    """Multiply-adds per branch of inception (3a), naive vs with 1x1 reductions."""
    data = report.data["inception_3a"]
    ax = fig.subplots()
    labels = list(BRANCHES.values())
    for offset, key, name in (
        (-0.2, "naive", "naive (a)"),
        (0.2, "reduced", "with 1x1 reductions (b)"),
    ):
        branches = data[key]["branches"]
        values = [branches[b]["macs"] / 1e6 if b in branches else 0 for b in BRANCHES]
        ax.bar(
            [i + offset for i in range(len(labels))],
            values,
            width=0.4,
            label=f"{name}: {data[key]['macs'] / 1e6:.0f}M",
        )
    ax.set_xticks(range(len(labels)), [f"{b} branch" for b in labels])
    ax.set_ylabel("multiply-adds (millions), 28x28x192 input")
    ax.set_title("Inception (3a): the 1x1 reductions pay for themselves")
    ax.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
