"""VGG16's memory and parameters, layer by layer: the lecture's table recomputed from the model.

Slide "VGGNet (3)" lists, for every layer of VGG16, the shape of its output, how many numbers that
output holds for one image ("memory") and how many weights the layer has ("params, not counting
biases"). This lesson builds ``scratchnet.models.vgg16()``, pushes one 224x224 image through it,
and recounts every line from the real layers and the real output arrays:

    memory of a layer = output.numel() for one image     e.g. 224*224*64 = 3,211,264
    params of a layer = layer.weight.numel()              e.g. (3*3*3)*64 = 1,728

Then it adds the rows up, compares the totals with the slide (138,357,544 parameters is 138M to the
nearest million; the slide's "24M activations" does not follow from its own rows: the exact rows add
up to 15,237,608, the printed, rounded rows to 15.18M), and shows where the
memory and the parameters live: early convolutions and late fully connected layers.

Run it: ``python -m scratchnet.lessons.vgg_params`` (``--json``, ``--plot vgg.png``).
Read next: ``scratchnet/models/vgg.py`` (the model, built from the paper's configuration table),
``scratchnet/nn/conv.py``, ``scratchnet/nn/pooling.py`` and ``scratchnet/nn/linear.py`` (``Conv2d``,
``MaxPool2d``, ``Linear``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from scratchnet import nn
from scratchnet.creation import randn
from scratchnet.lessons._common import (
    Column,
    Printed,
    Report,
    count_parameters,
    finish,
    fmt_bytes,
    fmt_int,
    fmt_pct,
    fmt_si,
    parse_args,
    printed,
    record_outputs,
    round_as_printed,
    run_lesson,
)
from scratchnet.models import vgg16
from scratchnet.tensor import Tensor
from scratchnet.viz.result import RunResult

SLIDE = "lecture, VGGNet (3)"

# The slide's rows, as printed: (layer, memory, params not counting biases). These are the
# references; nothing below is computed from them except their own sums.
LECTURE_ROWS: list[tuple[str, str, int]] = [
    ("INPUT", "150K", 0),
    ("CONV3-64", "3.2M", 1_728),
    ("CONV3-64", "3.2M", 36_864),
    ("POOL2", "800K", 0),
    ("CONV3-128", "1.6M", 73_728),
    ("CONV3-128", "1.6M", 147_456),
    ("POOL2", "400K", 0),
    ("CONV3-256", "800K", 294_912),
    ("CONV3-256", "800K", 589_824),
    ("CONV3-256", "800K", 589_824),
    ("POOL2", "200K", 0),
    ("CONV3-512", "400K", 1_179_648),
    ("CONV3-512", "400K", 2_359_296),
    ("CONV3-512", "400K", 2_359_296),
    ("POOL2", "100K", 0),
    ("CONV3-512", "100K", 2_359_296),
    ("CONV3-512", "100K", 2_359_296),
    ("CONV3-512", "100K", 2_359_296),
    ("POOL2", "25K", 0),
    ("FC", "4096", 102_760_448),
    ("FC", "4096", 16_777_216),
    ("FC", "1000", 4_096_000),
]
# The slide's totals are checked as printed: "TOTAL memory: 24M * 4 bytes ~ 96MB / image (only
# forward! ~2 for bwd)" and "TOTAL params: 138M parameters".
TORCHVISION_VGG16 = 138_357_544  # torchvision.models.VGG16_Weights.IMAGENET1K_V1.meta["num_params"]

# The slide rounds memory to two significant figures ("800K" for 802,816: the nearest 10K).
SIGNIFICANT = 2


def parse_si(text: str) -> float:
    """The slide's way of writing numbers: ``'3.2M' -> 3.2e6``, ``'150K' -> 150e3``."""
    scale = {"K": 1e3, "M": 1e6}
    return float(text[:-1]) * scale[text[-1]] if text[-1] in scale else float(text)


def as_printed(memory: str) -> Printed:
    """A memory figure of the slide: 2 significant figures if abbreviated ("800K"), else exact."""
    return printed(memory, significant=SIGNIFICANT) if memory[-1] in "KM" else printed(memory)


def layer_rows(outputs: list[tuple[str, nn.Module, Tensor]], image: Tensor) -> list[dict[str, Any]]:
    """One row per line of the slide: the input, every conv, every max pool, every linear layer.

    ``outputs`` are the ``(path, layer, output)`` of a real forward pass (``record_outputs``). A
    conv row stands for conv + ReLU, as on the slide: the ReLU keeps the shape and has no weights.
    """
    rows = [_row("INPUT", "input", "", image.shape[1:], image.dtype.itemsize, None)]
    block, conv_in_block, fc = 1, 0, 6
    for path, layer, output in outputs:
        if not isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.Linear)):
            continue
        if isinstance(layer, nn.Conv2d):
            conv_in_block += 1
            label = f"CONV{layer.kernel_size[0]}-{layer.out_channels}"
            name = f"conv{block}_{conv_in_block}"
        elif isinstance(layer, nn.MaxPool2d):
            label, name = f"POOL{_first(layer.kernel_size)}", f"pool{block}"
            block, conv_in_block = block + 1, 0
        else:
            label, name, fc = "FC", f"fc{fc}", fc + 1
        rows.append(_row(label, name, path, output.shape[1:], output.dtype.itemsize, layer))
    return rows


def _row(
    label: str, name: str, path: str, shape: Sequence[int], itemsize: int, layer: Any
) -> dict[str, Any]:
    weights = layer.weight.numel() if layer is not None and hasattr(layer, "weight") else 0
    biases = layer.bias.numel() if weights and layer.bias is not None else 0
    if isinstance(layer, nn.Conv2d):
        c_out, c_in, kh, kw = layer.weight.shape
        weights_formula = f"({kh}*{kw}*{c_in})*{c_out}"
    elif isinstance(layer, nn.Linear):
        n_out, n_in = layer.weight.shape
        weights_formula = f"{n_in}*{n_out}"
    else:
        weights_formula = "0"
    memory = 1
    for s in shape:
        memory *= s
    memory_formula = (
        "*".join(str(s) for s in (*shape[1:], shape[0])) if len(shape) == 3 else str(memory)
    )
    return {
        "layer": label,
        "name": name,
        "module": path,  # where the layer lives in model.state_dict()
        "output": tuple(shape),
        "memory": memory,
        "memory_formula": memory_formula,
        "bytes": memory * itemsize,
        "weights": weights,
        "weights_formula": weights_formula,
        "biases": biases,
    }


def _first(size: int | Sequence[int]) -> int:
    return size if isinstance(size, int) else size[0]


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report("vgg_params", "VGG16: memory and parameters, layer by layer (slide VGGNet (3))")
    # init_weights=False keeps the layers' default initialisation and skips torchvision's second
    # pass over the 138M weights: this lesson needs the shapes, not trained or scaled values.
    model = vgg16(init_weights=False)
    model.eval()
    image = randn(1, 3, 224, 224)  # one RGB image; the values do not matter for shapes
    outputs = record_outputs(model, image, (nn.Conv2d, nn.MaxPool2d, nn.Linear, nn.ReLU))
    rows = layer_rows(outputs, image)

    totals = slide_table(report, rows)
    totals.update(total_params=count_parameters(model))
    add_up_the_rows(report, rows, outputs, totals, image.dtype.itemsize)
    shares = where_memory_and_parameters_live(report, rows, totals)
    memory_during_training(report, totals, image.dtype.itemsize)
    exercises(report, rows, totals)
    report.data.update(totals, **shares)
    return finish(report, args, plot)


def slide_table(report: Report, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Step 1: the slide's table, every row recomputed and checked; returns the column totals."""
    report.say(
        "We build scratchnet.models.vgg16() and push one 224x224 RGB image through it (batch 1, "
        "no gradients), recording the output of every layer. For each line of the slide we count:",
        "  memory = the numbers in the layer's output for one image (its activations), "
        "output.numel()\n  params = the layer's weights, layer.weight.numel() (the slide does "
        "not count biases)",
        "The slide's figures stand beside ours. 'ok' means the slide's figure is ours rounded as "
        "the slide rounds memory, to two significant figures (802,816 -> 800K), or equal where it "
        "prints every digit.",
    )
    if len(rows) != len(LECTURE_ROWS):
        raise RuntimeError(f"vgg16 gave {len(rows)} rows, the slide has {len(LECTURE_ROWS)}")
    for row, (label, memory_shown, weights_ref) in zip(rows, LECTURE_ROWS, strict=True):
        row["lecture_memory"] = memory_shown
        row["lecture_weights"] = weights_ref
        name = row["name"]
        memory = report.check(
            f"{name} memory", row["memory"], as_printed(memory_shown), SLIDE, quiet=True
        )
        weights = report.check(f"{name} params", row["weights"], weights_ref, SLIDE, quiet=True)
        layer = report.check(f"{name} type", row["layer"], label, SLIDE, quiet=True)
        row["agrees"] = memory.agrees and weights.agrees and layer.agrees

    totals = {
        key: sum(r[column] for r in rows)
        for key, column in (
            ("total_memory", "memory"),
            ("total_bytes", "bytes"),
            ("total_weights", "weights"),
            ("total_biases", "biases"),
        )
    }
    report.table(
        "layers",
        "Step 1. The slide's table, recomputed (output shape is height x width x channels)",
        [
            Column("name", "layer", align="<"),
            Column("memory_formula", "memory = h*w*c", align="<"),
            Column("memory", "", fmt_int),
            Column("lecture_memory", "slide"),
            Column("weights_formula", "params =", align="<"),
            Column("weights", "", fmt_int),
            Column("lecture_weights", "slide", fmt_int),
            # a str (the TOTAL line's "Step 2") prints as it is
            Column("agrees", "", lambda ok: "ok" if ok else "DIFFERS", "<"),
        ],
        rows,
        totals=[
            {
                "name": "TOTAL",
                "memory": totals["total_memory"],
                "weights": totals["total_weights"],
                "lecture_memory": "24M",
                "lecture_weights": "138M",
                "agrees": "Step 2",
            }
        ],
    )
    n_ok = sum(r["agrees"] for r in rows)
    report.say(f"{n_ok} of {len(rows)} rows agree with the slide in type, memory and params.")
    return totals


def add_up_the_rows(
    report: Report,
    rows: list[dict[str, Any]],
    outputs: list[tuple[str, nn.Module, Any]],
    totals: dict[str, int],
    itemsize: int,
) -> None:
    """Step 2: the totals of one forward pass and of the model, against the slide's TOTAL lines."""
    total_memory, total_bytes = totals["total_memory"], totals["total_bytes"]
    total_params = totals["total_params"]
    relu_outputs = sum(out.numel() for _, layer, out in outputs if isinstance(layer, nn.ReLU))
    totals["relu_outputs"] = relu_outputs
    convs_only = sum(r["memory"] for r in rows if r["layer"].startswith("CONV"))
    report.say(
        "Step 2. Totals. Adding up the rows gives the memory of one forward pass and the size of "
        "the model.",
        f"  activations (rows added up)  {fmt_int(total_memory)} numbers = "
        f"{fmt_si(total_memory)}\n  memory per image, forward    {fmt_si(total_memory)} x "
        f"{itemsize} bytes (float32) = {fmt_bytes(total_bytes)}\n  with the backward pass (x2)  "
        f"{fmt_bytes(2 * total_bytes)}\n  weights, without biases      "
        f"{fmt_int(totals['total_weights'])}\n  biases                       "
        f"{fmt_int(totals['total_biases'])}\n  all of model.parameters()    "
        f"{fmt_int(total_params)}",
    )
    lecture_rows_memory = sum(parse_si(m) for _, m, _ in LECTURE_ROWS)
    rounded_rows = sum(
        float(round_as_printed(r["memory"], as_printed(m)) * Decimal(as_printed(m).unit))
        for r, (_, m, _) in zip(rows, LECTURE_ROWS, strict=True)
    )
    rows_added_up = SLIDE + ", its 22 printed rows added up"
    report.check(
        "our rows, each rounded as the slide prints it, added up",
        rounded_rows,
        lecture_rows_memory,
        rows_added_up,
        shown=fmt_si(lecture_rows_memory, 2),
        note="Rounding every row to two significant figures first, as the slide does, gives the "
        "slide's sum.",
    )
    report.check(
        "activations, our exact rows added up",
        total_memory,
        lecture_rows_memory,
        rows_added_up,
        shown=f"{fmt_int(lecture_rows_memory)} (15.18M)",
        why=(
            f"Two different sums: ours adds the exact rows ({fmt_int(total_memory)} = "
            f"{fmt_si(total_memory, 2)}); the slide's printed rows are rounded before they are "
            f"added and lose {fmt_int(total_memory - lecture_rows_memory)} on the way "
            f"({fmt_si(lecture_rows_memory, 2)}). Both are about 15.2M, far from the slide's 24M "
            "below."
        ),
    )
    report.check(
        "TOTAL memory (activations per image)",
        total_memory,
        "24M",
        SLIDE,
        why=(
            "The slide's total does not follow from its own rows, which add up to "
            f"{fmt_si(total_memory)}. The same rows and the same 24M are on the CS231n slide in "
            "the lecture's references, so the slip is inherited from there. No counting convention "
            f"we tried gives 24M: convolutions only give {fmt_si(convs_only)}; storing every ReLU "
            "output as a separate array (as a framework without in-place ReLU does) gives "
            f"{fmt_si(total_memory + relu_outputs)}."
        ),
    )
    report.check(
        "TOTAL memory in bytes, forward",
        total_bytes,
        "96MB",
        SLIDE,
        why=f"Follows from the 24M above: the rows give {fmt_si(total_memory)} x 4 bytes = "
        f"{fmt_bytes(total_bytes)}.",
    )
    report.check(
        "weights without biases, rows added up",
        totals["total_weights"],
        sum(w for _, _, w in LECTURE_ROWS),
        SLIDE + ", its 22 rows added up",
    )
    report.check(
        "TOTAL params, biases included",
        total_params,
        "138M",
        SLIDE,
        note=f"With or without the {fmt_int(totals['total_biases'])} biases, it rounds to 138M.",
    )
    report.check(
        "TOTAL params, biases included (torchvision)",
        total_params,
        TORCHVISION_VGG16,
        "torchvision vgg16, IMAGENET1K_V1 num_params",
    )


def where_memory_and_parameters_live(
    report: Report, rows: list[dict[str, Any]], totals: dict[str, int]
) -> dict[str, float]:
    """Step 3: early convolutions hold the activations, late FC layers the weights."""
    total_memory, total_weights = totals["total_memory"], totals["total_weights"]
    convs = [r for r in rows if r["layer"].startswith("CONV")]
    early = [r for r in convs if r["name"][4] in "12"]  # conv1_1 ... conv2_2: blocks 1 and 2
    early_memory = sum(r["memory"] for r in early)
    conv_memory = sum(r["memory"] for r in convs)
    fcs = [r for r in rows if r["layer"] == "FC"]
    fc_weights = sum(r["weights"] for r in fcs)
    fc6 = fcs[0]
    fc6_in, fc6_out = fc6["weights_formula"].split("*")
    early_names = ", ".join(r["name"] for r in early)
    report.say(
        "Step 3. Where do memory and parameters live?",
        f"  Memory: the {len(early)} convolutions of blocks 1 and 2 ({early_names}) hold "
        f"{fmt_pct(early_memory / total_memory)} of all activations, the {len(convs)} "
        f"convolutions together {fmt_pct(conv_memory / total_memory)}; the {len(fcs)} FC layers "
        f"output only {fmt_int(sum(r['memory'] for r in fcs))} numbers. Big images with few "
        f"channels early on cost memory.\n  Params: the {len(fcs)} FC layers hold "
        f"{fmt_pct(fc_weights / total_weights)} of the weights, fc6 alone "
        f"({fc6['weights_formula']} = {fmt_int(fc6['weights'])}) "
        f"{fmt_pct(fc6['weights'] / total_weights)}; all {len(convs)} convolutions share the "
        f"remaining {fmt_int(total_weights - fc_weights)}. A 3x3 kernel is tiny; a layer that "
        f"connects every one of {int(fc6_in):,} inputs to every one of {int(fc6_out):,} outputs "
        "is not.",
    )
    report.check(
        "share of activations in the convs of blocks 1-2 ('most memory is in early CONV')",
        round(early_memory / total_memory, 4),
        0.5,
        SLIDE,
        shown="> 50%",
        fmt=fmt_pct,
        agrees=early_memory > total_memory / 2,
    )
    report.check(
        "share of weights in the FC layers ('most params are in late FC')",
        round(fc_weights / total_weights, 4),
        0.5,
        SLIDE,
        shown="> 50%",
        fmt=fmt_pct,
        agrees=fc_weights > total_weights / 2,
    )
    return {
        "early_conv_memory_share": early_memory / total_memory,
        "fc_weight_share": fc_weights / total_weights,
    }


def memory_during_training(report: Report, totals: dict[str, int], itemsize: int) -> None:
    """Step 4: weights, their gradients, and activations that grow with the batch."""
    batch, total_bytes = 32, totals["total_bytes"]
    report.say(
        "Step 4. Memory during training. The table counts one image's activations. The weights "
        f"themselves take {fmt_bytes(totals['total_params'] * itemsize)} at {itemsize} bytes "
        "each, and training keeps as much again for their gradients, plus what the optimizer "
        "stores. Activations grow with the batch, weights do not: at batch "
        f"{batch} the forward activations alone take {fmt_bytes(batch * total_bytes)}, about "
        f"{fmt_bytes(2 * batch * total_bytes)} with the backward pass.",
    )


def exercises(report: Report, rows: list[dict[str, Any]], totals: dict[str, int]) -> None:
    """The exercises, answered from the same rows (the answers are in ``--json``)."""
    conv3_1 = next(r for r in rows if r["name"] == "conv3_1")
    pool5 = next(r for r in rows if r["name"] == "pool5")
    fc6_out = int(next(r for r in rows if r["layer"] == "FC")["weights_formula"].split("*")[1])
    report.exercise(
        "A 256x256 image makes pool5 8x8x512 instead of 7x7x512. How many weights would fc6 need "
        "then?",
        8 * 8 * pool5["output"][0] * fc6_out,
    )
    report.exercise(
        "conv3_1 has (3*3*128)*256 weights. How many would it have with 5x5 kernels, and how many "
        "does a stack of two 3x3 convs (128 -> 256 -> 256) have?",
        {"5x5": conv3_1["weights"] * 25 // 9, "two 3x3": conv3_1["weights"] + 9 * 256 * 256},
    )
    report.exercise(
        "At batch 64, how many MB (10^6 bytes) do the forward activations of the table take in "
        "float32?",
        round(64 * totals["total_bytes"] / 1e6, 1),
    )


def plot(fig: Any, report: Report) -> None:
    """Two bar charts over the same layers: activations (early layers) and weights (late layers)."""
    rows = report.as_dict()["rows"]["layers"][:-1]  # without the TOTAL line
    names = [r["name"] for r in rows]
    x = range(len(rows))
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.bar(x, [r["memory"] / 1e6 for r in rows], color="tab:blue")
    top.set_ylabel("activations (millions)")
    top.set_title("VGG16, one 224x224 image: memory is early, parameters are late")
    bottom.bar(x, [r["weights"] / 1e6 for r in rows], color="tab:orange")
    bottom.set_ylabel("weights (millions)")
    bottom.set_xticks(list(x), names, rotation=90)


if __name__ == "__main__":
    main(sys.argv[1:])
