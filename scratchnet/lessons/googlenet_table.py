"""GoogLeNet's table (slide GoogLeNet (6), the paper's Table 1), recomputed from the real model.

Every row of the table -- type, patch size/stride, output size, depth, the six widths of an
Inception module, params and ops -- is read off ``scratchnet.models.googlenet``: shapes and
multiply-adds from ``scratchnet.analysis.summary`` (one forward pass at 224x224), widths from the
layers' ``out_channels``, params from the layers' weights. The paper's figures stand beside them.

Which counting convention does the paper use? Trying the candidates on every row shows that

* params = the weights of the convolutions and the linear layer (no biases), in units of
  K = 1024 (163,328 weights in inception (3a) = 159.5K; the table prints 159K);
* ops = multiply-adds of the convolutions and the linear layer, in units of M = 10^6
  (inception (3a): 128,049,152 = 128M).

Each entry gets a verdict: exact, within rounding (to the nearest unit of its last digit, or down
where the paper truncates; the rule is named) or differs. With that convention the lesson finds 3 of
the 12 params entries (conv 2 and linear exact, 3a truncated: 159.5K -> 159K) and 10 of the 12 ops
entries (4a truncated: 73.6M -> 73M, the one truncation among entries that otherwise round to
nearest). The other params entries differ by -5% to +7.5% (conv 1: 3.4x); they are explained
where they occur. For conv 1 two hypotheses are set side by side, with their arithmetic: a slip in
the paper, or the depthwise-separable first layer of TF-slim's BN-Inception (2,712 weights = 2.7K
with K = 1000, 34,019,328 multiply-adds = 34M).

Run it: ``python -m scratchnet.lessons.googlenet_table`` (``--json``, ``--plot googlenet.png``).
Read next: ``scratchnet/models/googlenet.py`` (the table, row by row),
``scratchnet/analysis/summary.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from scratchnet import nn
from scratchnet.analysis import summary
from scratchnet.lessons._common import (
    Column,
    Report,
    count_weights,
    finish,
    fmt_int,
    parse_args,
    run_lesson,
)
from scratchnet.models.googlenet import BasicConv2d, Inception, googlenet
from scratchnet.viz.result import RunResult

SOURCE = "lecture, GoogLeNet (6) = Szegedy et al. 2015, Table 1"
K, M = 1024, 1e6  # the table's units for params and ops (see the module docstring)

# The table as printed: type -> (patch size/stride, output size, depth, widths, params in K, ops in
# M). widths: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj); None where the column is
# empty.
PAPER: dict[str, tuple[str, str, int, tuple[int | None, ...], float | None, float | None]] = {
    "convolution 1": ("7x7/2", "112x112x64", 1, (None, None, None, None, None, None), 2.7, 34),
    "max pool 1": ("3x3/2", "56x56x64", 0, (None,) * 6, None, None),
    "convolution 2": ("3x3/1", "56x56x192", 2, (None, 64, 192, None, None, None), 112, 360),
    "max pool 2": ("3x3/2", "28x28x192", 0, (None,) * 6, None, None),
    "inception (3a)": ("", "28x28x256", 2, (64, 96, 128, 16, 32, 32), 159, 128),
    "inception (3b)": ("", "28x28x480", 2, (128, 128, 192, 32, 96, 64), 380, 304),
    "max pool 3": ("3x3/2", "14x14x480", 0, (None,) * 6, None, None),
    "inception (4a)": ("", "14x14x512", 2, (192, 96, 208, 16, 48, 64), 364, 73),
    "inception (4b)": ("", "14x14x512", 2, (160, 112, 224, 24, 64, 64), 437, 88),
    "inception (4c)": ("", "14x14x512", 2, (128, 128, 256, 24, 64, 64), 463, 100),
    "inception (4d)": ("", "14x14x528", 2, (112, 144, 288, 32, 64, 64), 580, 119),
    "inception (4e)": ("", "14x14x832", 2, (256, 160, 320, 32, 128, 128), 840, 170),
    "max pool 4": ("3x3/2", "7x7x832", 0, (None,) * 6, None, None),
    "inception (5a)": ("", "7x7x832", 2, (256, 160, 320, 32, 128, 128), 1072, 54),
    "inception (5b)": ("", "7x7x1024", 2, (384, 192, 384, 48, 128, 128), 1388, 71),
    "avg pool": ("7x7/1", "1x1x1024", 0, (None,) * 6, None, None),
    "dropout (40%)": ("", "1x1x1024", 0, (None,) * 6, None, None),
    "linear": ("", "1x1x1000", 1, (None,) * 6, 1000, 1),
}
WIDTH_KEYS = ("n1x1", "n3x3red", "n3x3", "n5x5red", "n5x5", "pool_proj")
PAPER_BUDGET = (
    1.5e9  # Section 5: "a computational budget of 1.5 billion multiply-adds at inference time"
)


def table_rows(model: nn.Module) -> list[dict[str, Any]]:
    """One row per line of the table, from the model's top-level layers and one summary() pass."""
    s = summary(model, (3, 224, 224))
    groups: list[tuple[str, list[str]]] = []  # (the table's type, the model's top-level modules)
    counters = {"convolution": 0, "max pool": 0}
    children = dict(model.named_children())
    for name, child in children.items():
        if name == "conv3":
            groups[-1][1].append(name)  # conv2 (1x1 "3x3 reduce") + conv3 (3x3): one row, depth 2
            continue
        if isinstance(child, BasicConv2d):
            counters["convolution"] += 1
            groups.append((f"convolution {counters['convolution']}", [name]))
        elif isinstance(child, nn.MaxPool2d):
            counters["max pool"] += 1
            groups.append((f"max pool {counters['max pool']}", [name]))
        elif isinstance(child, Inception):
            groups.append((f"inception ({name[-2:]})", [name]))
        elif isinstance(child, nn.AdaptiveAvgPool2d):
            groups.append(("avg pool", [name]))
        elif isinstance(child, nn.Dropout):
            groups.append((f"dropout ({child.p:.0%})", [name]))
        elif isinstance(child, nn.Linear):
            groups.append(("linear", [name]))

    rows, previous_shape = [], (1, 3, 224, 224)
    for label, names in groups:
        modules = [children[n] for n in names]
        shape = s[names[-1]].output_shape  # (1, C, H, W) or (1, C) after the linear layer
        row: dict[str, Any] = {"type": label, "modules": "+".join(names)}
        row["patch"] = _patch(modules[-1], previous_shape)  # conv2 + conv3: the 3x3's patch
        row["output"] = (
            f"{shape[2]}x{shape[3]}x{shape[1]}" if len(shape) == 4 else f"1x1x{shape[1]}"
        )
        row["depth"] = _depth(modules)
        row.update(_widths(modules))
        weights = sum(
            count_weights(m)[0] for m in modules
        )  # conv and linear weights: no biases, no BN
        row["params"] = weights if weights else None
        row["ops"] = sum(s[n].macs for n in names) or None
        rows.append(row)
        previous_shape = shape
    return rows


def _patch(module: nn.Module, input_shape: tuple[int, ...]) -> str:
    """'7x7/2' from the layer's kernel and stride; the global average pool's window is its input."""
    layer = module.conv if isinstance(module, BasicConv2d) else module
    if isinstance(layer, nn.AdaptiveAvgPool2d):
        return f"{input_shape[2]}x{input_shape[3]}/1"
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
        k, s = _pair(layer.kernel_size), _pair(layer.stride)
        return f"{k[0]}x{k[1]}/{s[0]}"
    return ""


def _pair(x: int | tuple[int, int]) -> tuple[int, int]:
    return (x, x) if isinstance(x, int) else tuple(x)


def _depth(modules: list[nn.Module]) -> int:
    """Layers with weights on the longest path: the table's 'depth'."""
    if isinstance(modules[0], Inception):
        branches = [modules[0].branch1, modules[0].branch2, modules[0].branch3, modules[0].branch4]
        return max(sum(isinstance(m, nn.Conv2d) for m in b.modules()) for b in branches)
    return sum(
        isinstance(m, (nn.Conv2d, nn.Linear)) for module in modules for m in module.modules()
    )


def _widths(modules: list[nn.Module]) -> dict[str, int | None]:
    """The six width columns, from the convs' out_channels."""
    widths = dict.fromkeys(WIDTH_KEYS)
    first = modules[0]
    if isinstance(first, Inception):
        widths["n1x1"] = first.branch1.conv.out_channels
        widths["n3x3red"], widths["n3x3"] = (m.conv.out_channels for m in first.branch2)
        widths["n5x5red"], widths["n5x5"] = (m.conv.out_channels for m in first.branch3)
        widths["pool_proj"] = first.branch4[1].conv.out_channels
    elif len(modules) == 2:  # conv2 (1x1) + conv3 (3x3): the table's "#3x3 reduce" and "#3x3"
        widths["n3x3red"], widths["n3x3"] = (
            modules[0].conv.out_channels,
            modules[1].conv.out_channels,
        )
    return widths


def _fmt(unit: str) -> Any:
    return (lambda v: f"{v / K:,.2f}K") if unit == "K" else (lambda v: f"{v / M:,.2f}M")


def _short(check: Any) -> str:
    """A verdict in a table cell: exact, nearest, floor, or the gap."""
    if check.verdict == "exact":
        return "exact"
    if check.verdict == "within rounding":
        return check.rule.split()[0]
    return f"{100 * check.gap:+.1f}%"


def _why(
    row: dict[str, Any], paper_params: float, paper_ops: float, params_ok: bool, ops_ok: bool
) -> str:
    """Explain a disagreeing row from its own numbers."""
    h, w = (int(v) for v in row["output"].split("x")[:2])
    implied_ops = paper_params * K * h * w / M  # the ops the paper's params entry would give
    if params_ok != ops_ok:
        bad, good = ("params", "ops") if ops_ok else ("ops", "params")
        return (
            f"Its {good} entry fits the widths printed in the row, its {bad} entry does not: no "
            f"rounding of the row's {fmt_int(row[bad])} gives it. Which count the paper made here "
            "it does not say."
        )
    if round(implied_ops) == round(paper_ops):
        return (
            f"The paper's params and ops agree with each other ({paper_params:g}K x 1024 x {h} x "
            f"{w} = {implied_ops:.1f}M), but not with the widths the row prints, whose "
            f"{fmt_int(row['params'])} weights we count: the paper counted a different layer here."
        )
    return "Neither entry fits the widths the row prints, under any rounding."


def _conv1_hypotheses(report: Report, conv1: dict[str, Any]) -> None:
    """Conv 1 prints 2.7K and 34M; the plain 7x7 conv has 9,408 weights and 118M multiply-adds."""
    separable = [
        nn.Conv2d(
            3, 24, 7, stride=2, padding=3, groups=3, bias=False
        ),  # depthwise, depth multiplier 8
        nn.Conv2d(24, 64, 1, bias=False),  # pointwise
    ]
    weights = [layer.weight.numel() for layer in separable]
    macs = [w * 112 * 112 for w in weights]  # both layers output 112x112
    report.say(
        "Step 3. Convolution 1 prints 2.7K params and 34M ops; a 7x7/2 conv 3 -> 64 has 7*7*3*64 "
        f"= {fmt_int(conv1['params'])} weights and {fmt_int(conv1['ops'])} multiply-adds, 3.4x "
        "the printed figures. Two hypotheses fit what we know:",
        "  (a) a slip in the paper: the row describes the plain 7x7 conv and its numbers are "
        "wrong.\n  (b) the row counts a depthwise-separable 7x7 conv: each of the 3 input "
        "channels gets 8 filters (depth multiplier 8, 24 maps), then a 1x1 conv mixes the 24 "
        "maps into 64. TF-slim, TensorFlow's library of reference models, builds BN-Inception "
        "(GoogLeNet with batch normalisation, Inception-v2) with exactly this first layer.\n     "
        f" weights: 7*7*3*8 + 24*64 = {weights[0]:,} + {weights[1]:,} = {sum(weights):,}\n      "
        f"multiply-adds: 112*112*({weights[0]:,} + {weights[1]:,}) = {sum(macs):,}",
        "Hypothesis (b) reproduces both printed figures, but the weights only with K = 1000 "
        "(2.712K -> 2.7K); with the K = 1024 of the other rows it would print 2.6K. The paper "
        "says nothing of a separable conv, so neither reading is proven; the table above counts "
        "the plain conv, as torchvision does.",
    )
    report.check(
        "conv 1 as a depthwise-separable 7x7: weights", sum(weights), "2.7K", SOURCE + ", K = 1000"
    )
    report.check("conv 1 as a depthwise-separable 7x7: multiply-adds", sum(macs), "34M", SOURCE)
    report.data["conv1_separable"] = {"weights": weights, "macs": macs}


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "googlenet_table", "GoogLeNet's table, recomputed (slide GoogLeNet (6), paper Table 1)"
    )
    # The paper's layout: 5x5 convs in the third branch (torchvision has 3x3 there) and 40% dropout
    # (torchvision 20%); no auxiliary heads, which the table does not list. init_weights=False: the
    # values do not matter here, only the shapes.
    model = googlenet(aux_logits=False, paper_5x5=True, dropout=0.4, init_weights=False)
    rows = table_rows(model)

    costed = layout_and_cost_tables(report, rows)
    conv1 = rows[0]
    _conv1_hypotheses(report, conv1)
    total_weights, total_ops, errors = totals(report, rows, costed, conv1, model)
    exercises(report, rows, conv1)

    report.data.update(
        rows=rows, total_weights=total_weights, total_ops=total_ops, params_errors=errors
    )
    return finish(report, args, plot)


def layout_and_cost_tables(report: Report, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps 1 and 2: the layout and the cost of every row of the paper's table, checked."""
    report.say(
        "We build scratchnet.models.googlenet(paper_5x5=True, dropout=0.4, aux_logits=False), "
        "the paper's layout (torchvision's uses a 3x3 conv in the '5x5' branch and 20% dropout), "
        "run summary() on one 224x224 image, and fill the table from the model. params = conv "
        "and linear weights, no biases and no BatchNorm (batch normalisation came after the "
        "paper), in K = 1024; ops = multiply-adds in M = 10^6. Each entry's verdict: exact; "
        "nearest or floor (our count rounded to the nearest unit, or down, gives the printed "
        "figure); or the gap when no rounding does."
    )
    disagreements = []  # shown under the table
    for row in rows:
        patch, output, depth, widths, paper_params, paper_ops = PAPER[row["type"]]
        row["paper_params"], row["paper_ops"] = paper_params, paper_ops
        layout = [
            report.check(f"{row['type']}: {key}", row[key], ref, SOURCE, quiet=True)
            for key, ref in (("output", output), ("depth", depth))
        ]
        layout += [
            report.check(f"{row['type']}: {key}", row[key], ref, SOURCE, quiet=True)
            for key, ref in zip(WIDTH_KEYS, widths, strict=True)
            if ref is not None
        ]
        if patch:
            patch_check = report.check(
                f"{row['type']}: patch size/stride",
                row["patch"],
                patch,
                SOURCE,
                quiet=True,
                why="The model follows torchvision's layout, which pools with a 2x2 window before "
                "(5a). With ceil_mode=True (the output size is rounded up, so a partial window "
                "at the edge still counts) the output is 7x7 either way.",
            )
            if not patch_check.agrees:
                disagreements.append(patch_check)
        row["layout_ok"] = all(c.agrees for c in layout)
        if paper_params is None:
            continue
        params = report.check_rounded(
            f"{row['type']}: params",
            row["params"],
            f"{paper_params:g}K",
            SOURCE,
            kilo=K,
            fmt=_fmt("K"),
        )
        ops = report.check_rounded(
            f"{row['type']}: ops", row["ops"], f"{paper_ops:g}M", SOURCE, fmt=_fmt("M")
        )
        row["params_ok"], row["ops_ok"] = params.agrees, ops.agrees
        row["params_verdict"], row["ops_verdict"] = _short(params), _short(ops)
        why = _why(row, paper_params, paper_ops, params.agrees, ops.agrees)
        if row["type"] == "convolution 1":
            why = "Two hypotheses, with their arithmetic, follow in Step 3."
        for check in (params, ops):
            if not check.agrees:
                check.note = why if why else "The same as the line above."
                disagreements.append(check)
                why = ""  # explain a row once
            elif check.note:
                disagreements.append(check)  # a truncation: shown, with its rule

    report.table(
        "googlenet",
        "Step 1. The layout: patch size/stride, output size, depth, the widths of each Inception "
        "module (#3x3r and #5x5r: the 1x1 reductions before the 3x3 and 5x5 convs; proj: the 1x1 "
        "after the pool)",
        [
            Column("type", "type", align="<"),
            Column("patch", "patch/stride", align="<"),
            Column("output", "output size", align="<"),
            Column("depth", "depth"),
            Column("n1x1", "#1x1"),
            Column("n3x3red", "#3x3r"),
            Column("n3x3", "#3x3"),
            Column("n5x5red", "#5x5r"),
            Column("n5x5", "#5x5"),
            Column("pool_proj", "proj"),
        ],
        rows,
    )
    layout_ok = sum(r["layout_ok"] for r in rows)
    report.say(
        f"Type, output size, depth and the six widths agree with the paper in {layout_ok} of "
        f"{len(rows)} rows."
    )
    costed = [r for r in rows if r["paper_params"] is not None]
    report.table(
        "googlenet_cost",
        "Step 2. The cost: params in K = 1024 weights, ops in M = 10^6 multiply-adds, ours vs the "
        "paper's",
        [
            Column("type", "type", align="<"),
            Column("params", "params (K)", lambda v: f"{v / K:,.2f}"),
            Column("paper_params", "paper", lambda v: f"{v:g}"),
            Column("params_verdict", "verdict", align="<"),
            Column("ops", "ops (M)", lambda v: f"{v / M:,.2f}"),
            Column("paper_ops", "paper", lambda v: f"{v:g}"),
            Column("ops_verdict", "verdict", align="<"),
        ],
        costed,
    )
    n_params = sum(r["params_ok"] for r in costed)
    n_ops = sum(r["ops_ok"] for r in costed)
    report.say(
        f"{n_params} of {len(costed)} params entries and {n_ops} of {len(costed)} ops entries are "
        "reproduced by a rounding; each of the others, and each truncation, is explained below."
    )
    for check in disagreements:
        report.show(check)
    return costed


def totals(
    report: Report, rows: list[dict[str, Any]], costed: Any, conv1: dict[str, Any], model: nn.Module
) -> tuple[int, int, dict[str, float]]:
    """Step 4: the totals of the ops and params columns, against the paper's sums."""
    total_weights = sum(r["params"] or 0 for r in rows)
    total_ops = sum(r["ops"] or 0 for r in rows)
    paper_ops_sum = sum(p[5] or 0 for p in PAPER.values()) * M
    paper_params_sum = sum(p[4] or 0 for p in PAPER.values())
    errors = {r["type"]: r["params"] / K / r["paper_params"] - 1 for r in costed}
    big = sorted(errors.items(), key=lambda kv: -abs(kv[1]))[:3]
    report.say("Step 4. Totals.")
    report.check(
        "total multiply-adds (inference)",
        total_ops,
        "1.5G",
        "Szegedy et al. 2015, Sec. 5: 1.5 billion",
        why=f"The paper's ops column adds up to {paper_ops_sum / 1e9:.2f}G, its 1.5 billion; the "
        f"real conv1 alone costs {conv1['ops'] / M - PAPER['convolution 1'][5]:.0f}M more than "
        "the 34M printed.",
    )
    report.check(
        "total weights (conv + linear), in K = 1024",
        total_weights / K,
        paper_params_sum,
        "the table's params column added up",
        shown=f"{paper_params_sum:,.1f}K",
        fmt=lambda v: f"{v:,.2f}K",
        why="The column is not printed as a total, so only an exact match would count. The two "
        "sums are close only because row errors cancel: "
        + ", ".join(f"{name.replace('inception ', '')} {100 * e:+.1f}%" for name, e in big)
        + ". Biases and BatchNorm come on top: "
        f"{fmt_int(sum(p.numel() for p in model.parameters()))} parameters in all.",
    )
    return total_weights, total_ops, errors


def exercises(report: Report, rows: list[dict[str, Any]], conv1: dict[str, Any]) -> None:
    """The exercises, answered from the same rows (the answers are in ``--json``)."""
    inception_3a = next(r for r in rows if r["type"] == "inception (3a)")
    report.exercise(
        "How many multiply-adds does inception (3a) save by its 1x1 reductions? Compare a module "
        "with the same output widths and no #3x3r, #5x5r or pool proj convs, fed the 192 input "
        "channels directly.",
        28 * 28 * (192 * 64 + 9 * 192 * 128 + 25 * 192 * 32) - inception_3a["ops"],
    )
    report.exercise(
        "By what factor does the depthwise-separable conv 1 of hypothesis (b) cut the plain "
        "conv's weights?",
        round(conv1["params"] / sum(report.data["conv1_separable"]["weights"]), 2),
    )
    report.exercise(
        "Inception (5b) takes 832 channels in. How many weights does its #1x1 branch have, and "
        "what share of the module's weights is that?",
        {"weights": 832 * 384, "share": round(832 * 384 / rows[-4]["params"], 4)},
    )


def plot(fig: Any, report: Report) -> None:
    """Computed / printed, params and ops, row by row, on a log scale (1 = agreement)."""
    rows = [r for r in report.data["rows"] if r["paper_params"] is not None]
    labels = [r["type"].replace("inception ", "").replace("convolution", "conv") for r in rows]
    ax = fig.subplots()
    x = range(len(rows))
    for offset, key, scale, label in (
        (-0.2, "params", K, "params (K = 1024)"),
        (0.2, "ops", M, "ops (M = 10^6)"),
    ):
        ratios = [r[key] / scale / r[f"paper_{key}"] for r in rows]
        ax.bar([i + offset for i in x], ratios, width=0.4, label=label)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(list(x), labels, rotation=90)
    ax.set_ylabel("ours / paper's (log scale)")
    ax.set_title("GoogLeNet's table: how far each entry is from the model it describes")
    ax.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
