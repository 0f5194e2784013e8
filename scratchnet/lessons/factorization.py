"""Factorising convolutions: fewer weights, the same receptive field (slides GoogLeNet (9)-(11)).

Inception-v3 (Szegedy et al. 2016) replaces big kernels by stacks of small ones:

* a 5x5 conv by two 3x3 convs: (9 + 9) / 25 = 72% of the weights, 28% fewer (slide GoogLeNet (9));
* an n x n conv by a 1 x n conv followed by an n x 1 conv: 2n / n^2 of the weights, for n = 3
  (3 + 3) / 9 = 67%, 33% fewer (slide GoogLeNet (10)); for n = 7, 14 / 49 = 29%.

This lesson builds each pair from real ``nn.Conv2d`` layers (C channels in and out, no biases),
counts their weights with ``.parameters()`` and their multiply-adds with
``scratchnet.analysis.summary``, and checks with ``receptive_field`` and by back-propagation that
both members of a pair see the same patch. Then it recomputes slide GoogLeNet (11): shrinking a
35x35x320 grid to 17x17x640 by pooling first, by convolving first (about 4x the work), or by both
side by side (Inception-v3's way).

Run it: ``python -m scratchnet.lessons.factorization`` (``--json``, ``--plot fact.png``).
Read next: ``scratchnet/models/inception.py`` (``InceptionA``: 5x5 as two 3x3, ``InceptionC``: 1x7
and 7x1, ``InceptionB``: the grid reduction), ``scratchnet/analysis/summary.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from scratchnet import cat, nn, no_grad, zeros
from scratchnet.analysis import empirical_receptive_field, receptive_field, summary
from scratchnet.lessons._common import (
    Column,
    Report,
    count_parameters,
    finish,
    fmt_int,
    fmt_pct,
    fmt_si,
    parse_args,
    run_lesson,
)
from scratchnet.models.inception import InceptionB
from scratchnet.tensor import Tensor
from scratchnet.viz.result import RunResult

C = 64  # channels in and out of every pair; the ratios do not depend on C
GRID = 17  # spatial size at which the multiply-adds are counted (Inception-v3's 17x17 stage)

# (name, the big layer's kernel, the factorised stack's kernels, the source's ratio as printed, and
# where)
PAIRS: list[tuple[str, tuple[int, int], list[tuple[int, int]], str | None, str]] = [
    (
        "5x5 -> 3x3 + 3x3",
        (5, 5),
        [(3, 3), (3, 3)],
        "72%",
        'lecture, GoogLeNet (9): "(9+9)/25 = 72"',
    ),
    (
        "3x3 -> 1x3 + 3x1",
        (3, 3),
        [(1, 3), (3, 1)],
        "66.6%",
        'lecture, GoogLeNet (10): "(3+3)/9 = 66.6"',
    ),
    (
        "7x7 -> 1x7 + 7x1",
        (7, 7),
        [(1, 7), (7, 1)],
        None,
        "Inception-v3's 17x17 modules (InceptionC)",
    ),
    (
        "3x3 -> 2x2 + 2x2",
        (3, 3),
        [(2, 2), (2, 2)],
        "89%",
        'Szegedy et al. 2016, Sec. 3.2: "only 11% saving"',
    ),
]


def conv(kernel: tuple[int, int]) -> nn.Conv2d:
    """C -> C channels, 'same' padding where the kernel is odd (a 2x2 kernel cannot be centred)."""
    padding = tuple(k // 2 if k % 2 else 0 for k in kernel)
    return nn.Conv2d(C, C, kernel, padding=padding, bias=False)


def compare_pair(big: tuple[int, int], small: list[tuple[int, int]]) -> dict[str, Any]:
    """Weights, multiply-adds and receptive field of one big conv and of its factorised stack."""
    one = nn.Sequential(conv(big))
    stack = nn.Sequential(*[conv(k) for k in small])
    out: dict[str, Any] = {}
    for key, net in (("big", one), ("stack", stack)):
        last = str(len(net) - 1)
        fields = receptive_field(net, (C, 11, 11))
        measured = empirical_receptive_field(net, (C, 11, 11), layer=last, batch_size=1)
        out[key] = {
            "params": count_parameters(net),
            "macs": summary(net, (C, GRID, GRID)).macs,
            "rf": fields[last].size,
            "rf_measured": measured.size,
        }
    return out


def grid_reduction(report: Report) -> dict[str, Any]:
    """Step 3: 35x35x320 -> 17x17x640 three ways, one 3x3 conv standing in for Inception."""

    class ConvAndPool(nn.Module):
        """Inception-v3's idea at its simplest: a stride-2 conv and a stride-2 pool side by side."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(320, 320, 3, stride=2, bias=False)  # 35 -> 17
            self.pool = nn.MaxPool2d(3, stride=2)  # 35 -> 17, keeps the 320 channels

        def forward(self, x: Tensor) -> Tensor:
            return cat([self.conv(x), self.pool(x)], 1)  # (N, 640, 17, 17)

    ways = {
        "pool, then conv 320->640": nn.Sequential(
            nn.MaxPool2d(3, stride=2), nn.Conv2d(320, 640, 3, padding=1, bias=False)
        ),
        "conv 320->640, then pool": nn.Sequential(
            nn.Conv2d(320, 640, 3, padding=1, bias=False), nn.MaxPool2d(3, stride=2)
        ),
        "conv/2 and pool/2 side by side": ConvAndPool(),
    }
    ways["Inception-v3's InceptionB, 288 -> 768"] = InceptionB(288)  # the real module (Mixed_6a)
    rows = []
    for name, net in ways.items():
        in_channels = 288 if isinstance(net, InceptionB) else 320
        s = summary(net, (in_channels, 35, 35))
        rows.append(
            {"way": name, "output": _output_shape(net, s), "macs": s.macs, "params": s.total_params}
        )
    pool_first, conv_first, both, _ = (r["macs"] for r in rows)
    report.say(
        "Step 3. Reducing the grid (slide GoogLeNet (11)): 35x35x320 to 17x17x640. We let one "
        "3x3 conv from 320 to 640 channels stand in for the Inception module (the paper's "
        "argument counts the expensive conv; any module gives the same ratio) and count "
        "multiply-adds with summary(): pooling first is cheap but throws away three quarters of "
        "the positions before any filter sees them (a 'representational bottleneck'); convolving "
        "first keeps them and costs about 4x; Inception-v3 does both at once, a stride-2 conv "
        "beside a stride-2 pool, concatenated."
    )
    report.table(
        "grid_reduction",
        "",
        [
            Column("way", "35x35x320 -> 17x17x640", align="<"),
            Column("output", "output shape", lambda s: "x".join(map(str, s[1:])), "<"),
            Column("macs", "multiply-adds", fmt_int),
            Column("params", "weights", fmt_int),
        ],
        rows,
    )
    report.check(
        "conv first vs pool first, multiply-adds",
        conv_first / pool_first,
        "4",
        'lecture, GoogLeNet (11): "4배 증가" (4 times more)',
        fmt=lambda v: f"{v:.2f}x",
        note="Exactly (35 / 17)^2 = 4.24: a 3x3/2 pool without padding turns 35 into 17, not 17.5; "
        "the paper's d -> d/2 gives 4.",
    )
    report.check(
        "conv and pool side by side vs pool first",
        both / pool_first,
        0.5,
        "320 of the 640 channels come from the conv",
        shown="1/2",
    )
    return {"rows": rows}


def _output_shape(net: nn.Module, s: Any) -> tuple[int, ...]:
    """A Sequential's output is its last layer's (summary's last row); for branches that meet in a
    concatenation we run the module once more and look.
    """
    if isinstance(net, nn.Sequential):
        return s.rows[-1].output_shape
    with no_grad():
        return net(zeros(*s.input_shape)).shape


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "factorization",
        "Factorising convolutions: fewer weights, same field (slides GoogLeNet (9)-(11))",
    )

    rows = pairs_table(report)
    what_is_saved(report, rows)
    exercises(report)

    report.data["grid_reduction"] = grid_reduction(report)
    return finish(report, args, plot)


def pairs_table(report: Report) -> list[dict[str, Any]]:
    """Steps 1 and 2: each big conv against the stack that replaces it: weights and field."""
    report.say(
        "Steps 1 and 2. Each pair below is a big conv and the stack that replaces it, built from "
        f"nn.Conv2d with C = {C} channels in and out and no biases. 'weights' is "
        f"count_parameters(), 'multiply-adds' is summary(...).macs on a {GRID}x{GRID} grid "
        "(Inception-v3's 17x17 stage), 'field' is what receptive_field() computes and 'measured' "
        "what back-propagating one output pixel shows."
    )
    rows = []
    for name, big, small, ratio_ref, source in PAIRS:
        result = compare_pair(big, small)
        b, s = result["big"], result["stack"]
        ratio = s["params"] / b["params"]
        rows.append(
            {
                "pair": name,
                "big_params": b["params"],
                "stack_params": s["params"],
                "ratio": ratio,
                "saving": 1 - ratio,
                "big_macs": b["macs"],
                "stack_macs": s["macs"],
                "big_rf": "x".join(map(str, b["rf"])),
                "stack_rf": "x".join(map(str, s["rf"])),
                "measured": "x".join(map(str, s["rf_measured"])),
            }
        )
        if ratio_ref is not None:
            report.check_rounded(
                f"{name}: weights of the stack / the big conv",
                ratio,
                ratio_ref,
                source,
                fmt=fmt_pct,
            )
        report.check(
            f"{name}: receptive field, stack (measured) vs big conv",
            rows[-1]["measured"],
            rows[-1]["big_rf"],
            "receptive_field() of the big conv",
            quiet=True,
        )
    report.table(
        "pairs",
        "",
        [
            Column("pair", "big conv -> stack", align="<"),
            Column("big_params", "weights", fmt_int),
            Column("stack_params", "-> weights", fmt_int),
            Column("ratio", "ratio", fmt_pct),
            Column("saving", "saving", fmt_pct),
            Column("big_macs", "multiply-adds", fmt_si),
            Column("stack_macs", "->", fmt_si),
            Column("big_rf", "field"),
            Column("stack_rf", "->"),
            Column("measured", "measured"),
        ],
        rows,
    )
    return rows


def what_is_saved(report: Report, rows: list[dict[str, Any]]) -> None:
    """The savings against the slides' percentages, and the rule behind them."""
    five, three, seven, two = rows
    report.check(
        "5x5 -> two 3x3: saving",
        five["saving"],
        "28%",
        'lecture, GoogLeNet (9): "28% 절감" (28% saved)',
        fmt=fmt_pct,
    )
    report.check(
        "3x3 -> 1x3 + 3x1: saving",
        three["saving"],
        "33%",
        'lecture, GoogLeNet (10): "33% 절감" (33% saved)',
        fmt=fmt_pct,
        note="Exactly 1/3; the slide truncates the ratio 66.66...% to 66.6.",
    )
    report.check(
        "3x3 -> two 2x2: saving",
        two["saving"],
        "11%",
        "Szegedy et al. 2016, Sec. 3.2",
        fmt=fmt_pct,
    )
    report.say(
        "Per pair of channels a k x k kernel has k^2 weights, so the ratios are "
        + ", ".join(f"{r['stack_params'] // (C * C)}/{r['big_params'] // (C * C)}" for r in rows)
        + ", "
        "whatever C is; the multiply-adds shrink by the same ratio, since every weight is used "
        "once per output pixel (the 2x2 pair, which cannot be padded symmetrically, also shrinks "
        f"the grid from {GRID} to {GRID - 2}). Every stack sees the same patch as its big conv "
        "(field = measured). The asymmetric 1 x n + n x 1 saves more the bigger n is "
        f"({fmt_pct(seven['saving'])} for n = 7), and beats splitting a 3x3 into two 2x2 "
        f"({fmt_pct(two['saving'])} saved), the alternative the paper sets it against (it asks "
        "whether 2x2 convs would do, and shows that asymmetric ones do better). The stacks also "
        "have room for a ReLU between their convs (Inception-v3 puts BatchNorm + ReLU after "
        "every conv): more non-linearity for fewer weights."
    )
    report.data["pairs"] = rows


def exercises(report: Report) -> None:
    """The exercises (the answers are in ``--json``)."""
    report.exercise(
        "A 5x5 conv from 192 to 32 channels: how many weights has it, and how many has its "
        "replacement by two 3x3 convs (192 -> 32 -> 32)?",
        {"5x5": 25 * 192 * 32, "two 3x3": 9 * 192 * 32 + 9 * 32 * 32},
    )
    report.exercise("What share of a 5x5 conv's weights does 1x5 + 5x1 keep?", "10/25 = 40%")
    report.exercise(
        "Pooling 17x17 to 8x8 (3x3, stride 2, no padding) before a conv instead of after: by "
        "what exact factor does the conv's cost drop?",
        (17 / 8) ** 2,
    )


def plot(fig: Any, report: Report) -> None:
    """Weights of each big conv and its factorised stack, side by side."""
    rows = report.data["pairs"]
    ax = fig.subplots()
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["big_params"] / 1e3 for r in rows], width=0.4, label="big conv")
    ax.bar(
        [i + 0.2 for i in x],
        [r["stack_params"] / 1e3 for r in rows],
        width=0.4,
        label="factorised stack",
    )
    for i, r in enumerate(rows):
        ax.text(i + 0.2, r["stack_params"] / 1e3, f"{r['ratio']:.0%}", ha="center", va="bottom")
    ax.set_xticks(list(x), [r["pair"] for r in rows])
    ax.set_ylabel(f"weights, thousands (C = {C} in and out)")
    ax.set_title("Same receptive field, fewer weights")
    ax.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
