"""Draw the figures of the concept pages (docs/concepts/*.md) into docs/figures/concepts/.

    python docs/figures/make_concept_figures.py            # all figures
    python docs/figures/make_concept_figures.py im2col     # only those whose name contains "im2col"

Every number in a figure is computed by scratchnet itself: the unrolled matrix is the output of
``scratchnet.ops.im2col.im2col``, the overlap counts come from ``col2im``, the graph is the one
``backward()`` walks (its order recorded while it runs), the BatchNorm histograms come from
``nn.BatchNorm2d`` and the receptive fields from ``scratchnet.analysis.receptive_field`` and from
back-propagating one output pixel. The PNGs are committed, so reading the docs needs none of this.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

import scratchnet as sn
from scratchnet import nn
from scratchnet.ops.im2col import col2im, im2col

OUT = Path(__file__).resolve().parent / "concepts"
DPI = 110
WINDOW_COLORS = ["#e41a1c", "#377eb8", "#4daf4a", "#ff7f00"]  # one per sliding window / column


def save(fig: plt.Figure, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    # no version: stable bytes
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


# --------------------------------------------------------------------------- autograd


def autograd_graph() -> None:
    """The graph of loss = sum((relu(x * w) + x)^2),
    its generations, and the order backward visits.
    """
    x = sn.tensor([1.0, -2.0, 3.0], requires_grad=True)
    w = sn.tensor([0.5, 0.5, -1.0], requires_grad=True)
    h = (x * w).relu()
    y = h + x  # x is used twice: its gradient is the sum of two paths
    loss = (y * y).sum()

    names = {id(x): "x (leaf)", id(w): "w (leaf)", id(h): "h", id(y): "y", id(loss): "loss"}
    names[id(h.creator.inputs[0])] = "x * w"  # the intermediates the user never named
    names[id(loss.creator.inputs[0])] = "y * y"
    # Collect the Functions (iteratively, as scratchnet does) before backward frees them.
    functions, todo = [], [loss.creator]
    while todo:
        f = todo.pop()
        if f not in functions:
            functions.append(f)
            todo.extend(t.creator for t in f.inputs if t.creator is not None)
    edges = []  # (from, to) as node keys; tensors by id, functions by id
    tensors = {id(t): t for f in functions for t in f.inputs} | {id(loss): loss}
    for f in functions:
        for t in dict.fromkeys(f.inputs):  # y * y: one edge, drawn once
            edges.append((id(t), id(f)))
        for ref in f.outputs:
            edges.append((id(f), id(ref())))
    labels = {id(f): f"{f.name}\ngeneration {f.generation}" for f in functions}

    # Record the order in which backward() calls each Function's backward.
    visited: list[int] = []
    for f in functions:
        original = f.backward

        def spy(*gys: np.ndarray, _f: object = f, _original: Callable = original) -> object:
            visited.append(id(_f))
            return _original(*gys)

        f.backward = spy  # an instance attribute, for this figure only
    loss.backward()

    # Layout: tensors in even columns (2 * generation), functions in odd ones (2 * generation + 1).
    column = {key: 2 * t.generation for key, t in tensors.items()} | {
        id(f): 2 * f.generation + 1 for f in functions
    }
    row = {id(x): -0.8, id(w): 0.8}  # the two leaves above and below the chain
    position = {key: (column[key] * 1.9, -row.get(key, 0.0)) for key in column}
    half_width, half_height = 0.72, 0.32

    fig, ax = plt.subplots(figsize=(14, 3.8))
    for start, end in edges:
        (x0, y0), (x1, y1) = position[start], position[end]
        if start == id(x) and column[end] > 1:  # x's second use, by Add: an arc over the chain
            ax.add_patch(
                FancyArrowPatch(
                    (x0 + 0.2, y0 + half_height),
                    (x1, y1 + half_height),
                    arrowstyle="-|>",
                    mutation_scale=14,
                    color="#c0392b",
                    connectionstyle="arc3,rad=-0.18",
                )
            )
            continue
        ax.add_patch(
            FancyArrowPatch(
                (x0 + half_width, y0),
                (x1 - half_width, y1),
                arrowstyle="-|>",
                mutation_scale=14,
                color="0.35",
            )
        )
    for key, (px, py) in position.items():
        is_function = key in labels
        text = labels[key] if is_function else f"{names[key]}\nshape {tensors[key].shape}"
        face = "#fdb462" if is_function else ("#d9d9d9" if tensors[key].is_leaf else "white")
        ax.add_patch(
            FancyBboxPatch(
                (px - half_width, py - half_height),
                2 * half_width,
                2 * half_height,
                boxstyle="round,pad=0.02",
                facecolor=face,
                edgecolor="0.2",
            )
        )
        ax.text(px, py, text, ha="center", va="center", fontsize=8.5)
        if is_function:
            step = visited.index(key) + 1
            ax.text(
                px + half_width,
                py + half_height + 0.08,
                str(step),
                ha="center",
                va="center",
                fontsize=9,
                color="white",
                fontweight="bold",
                bbox={"boxstyle": "circle,pad=0.25", "facecolor": "#c0392b"},
            )
    gx, gy = position[id(x)]
    ax.text(
        gx - half_width - 0.1,
        gy,
        f"x.grad =\n{np.round(x.grad.numpy(), 2).tolist()}\n(both paths added)",
        ha="right",
        va="center",
        fontsize=8.5,
    )
    ax.set_title(
        "loss = sum((relu(x * w) + x) ** 2): forward runs left to right; the red numbers are the "
        "order in which backward() runs each Function (latest generation first)",
        fontsize=10,
    )
    xs = [p[0] for p in position.values()]
    ax.set_xlim(min(xs) - 2.6, max(xs) + 1.0)
    ax.set_ylim(-1.4, 1.9)
    ax.set_aspect("equal")
    ax.axis("off")
    save(fig, "autograd_graph.png")


# --------------------------------------------------------------------------- im2col and col2im


def _grid(
    ax: plt.Axes,
    values: np.ndarray,
    left: float,
    top: float,
    fmt: Callable[[float], str],
    size: float = 1.0,
    colors: np.ndarray | None = None,
) -> None:
    """Draw a 2-D array as labelled cells, row 0 at the top;
    ``colors`` gives each cell's face colour.
    """
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            face = "white" if colors is None else colors[i][j]
            ax.add_patch(
                Rectangle(
                    (left + j * size, top - (i + 1) * size),
                    size,
                    size,
                    facecolor=face,
                    edgecolor="0.3",
                    linewidth=0.6,
                )
            )
            ax.text(
                left + (j + 0.5) * size,
                top - (i + 0.5) * size,
                fmt(values[i, j]),
                ha="center",
                va="center",
                fontsize=7.5,
            )


def im2col_unrolled() -> None:
    """One 2-channel 4x4 image, a 3x3 kernel, stride 1:
    four windows become the four columns of col.
    """
    N, C, H, W, K = 1, 2, 4, 4, 3
    # element values = their flat index
    x = np.arange(N * C * H * W, dtype=np.float64).reshape(N, C, H, W)
    col = im2col(x, K)  # (C*K*K, N*OH*OW) = (18, 4)
    OH = OW = H - K + 1

    fig, ax = plt.subplots(figsize=(12, 7.5))
    # The input: each channel as a 4x4 grid, the four windows outlined in their colours.
    for c in range(C):
        top = 17.5 - c * 6.0
        _grid(ax, x[0, c], 0, top, lambda v: f"{v:.0f}")
        ax.text(2, top + 0.4, f"x[0, {c}]  (channel {c})", ha="center", fontsize=9)
        for window in range(OH * OW):
            oh, ow = divmod(window, OW)
            inset = 0.06 * (window + 1)
            ax.add_patch(
                Rectangle(
                    (ow + inset, top - oh - K + inset),
                    K - 2 * inset,
                    K - 2 * inset,
                    fill=False,
                    edgecolor=WINDOW_COLORS[window],
                    linewidth=2,
                )
            )
    # The column matrix, each column in the colour of its window; row labels (c, i, j).
    left, top = 9.5, 19.0
    colors = np.array(
        [[WINDOW_COLORS[j] + "40" for j in range(col.shape[1])] for _ in range(col.shape[0])]
    )
    _grid(ax, col, left, top, lambda v: f"{v:.0f}", colors=colors)
    for r in range(col.shape[0]):
        c, rest = divmod(r, K * K)
        i, j = divmod(rest, K)
        ax.text(
            left - 0.2, top - r - 0.5, f"(c={c}, i={i}, j={j})", ha="right", va="center", fontsize=7
        )
    for window in range(OH * OW):
        oh, ow = divmod(window, OW)
        ax.text(
            left + window + 0.5,
            top + 0.2,
            f"{oh},{ow}",
            ha="center",
            va="bottom",
            fontsize=8,
            color=WINDOW_COLORS[window],
            fontweight="bold",
        )
    ax.text(left - 0.2, top + 0.2, "column (oh, ow):", ha="right", va="bottom", fontsize=8)
    ax.text(
        left + 2,
        top + 1.6,
        f"col = im2col(x, {K}):  shape (C*KH*KW, N*OH*OW) = {col.shape}",
        ha="center",
        fontsize=10,
        fontweight="bold",
    )
    ax.annotate(
        "",
        xy=(left - 3.6, 12),
        xytext=(4.6, 12),
        arrowprops={"arrowstyle": "-|>", "color": "0.3", "lw": 1.5},
    )
    ax.text(
        15.0,
        12.0,
        "one row per (channel, kernel row, kernel column)\none column per (image, output row, "
        "output column)\n\nthe convolution is ONE matrix product:\n\n"
        "  weight.reshape(OC, C*KH*KW) @ col\n"
        "  -> (OC, N*OH*OW) -> (N, OC, OH, OW)\n\nvalues are the flat indices of x, so you can\n"
        "read off where every entry came from",
        va="center",
        fontsize=9,
        family="monospace",
    )
    ax.set_xlim(-0.5, 26.5)
    ax.set_ylim(-0.5, 21.5)
    ax.set_aspect("equal")
    ax.axis("off")
    save(fig, "im2col_unrolled.png")


def conv_as_matmul() -> None:
    """The forward product and the two backward products
    of conv2d, as blocks drawn to their shapes.
    """
    OC, CKK, NP = 1.0, 1.6, 3.2  # drawn sizes of OC, C*KH*KW and N*OH*OW
    names = {OC: "OC", CKK: "C·KH·KW", NP: "N·OH·OW"}
    colors = {
        "W": "#fdb462",
        "col": "#80b1d3",
        "Y": "#b3de69",
        "dY": "#b3de69",
        "dW": "#fdb462",
        "dcol": "#bebada",
    }
    rows = [
        (
            "forward",
            [
                ("W", OC, CKK),
                "@",
                ("col", CKK, NP),
                "=",
                ("Y", OC, NP),
                "→ rows_to_nchw → y (N, OC, OH, OW)",
            ],
        ),
        (
            "weight gradient",
            [
                ("dY", OC, NP),
                "@",
                ("colᵀ", NP, CKK),
                "=",
                ("dW", OC, CKK),
                "(db = dY summed over its columns)",
            ],
        ),
        (
            "input gradient",
            [
                ("Wᵀ", CKK, OC),
                "@",
                ("dY", OC, NP),
                "=",
                ("dcol", CKK, NP),
                "→ col2im → dx (N, C, H, W)",
            ],
        ),
    ]
    fig, ax = plt.subplots(figsize=(12, 6.2))
    top = 0.0
    for title, items in rows:
        height = max(item[1] for item in items if isinstance(item, tuple))
        ax.text(
            -0.3, top - height / 2, title, ha="right", va="center", fontsize=10, fontweight="bold"
        )
        x = 0.0
        for item in items:
            if isinstance(item, str) and len(item) == 1:
                ax.text(x + 0.3, top - height / 2, item, ha="center", va="center", fontsize=15)
                x += 0.6
            elif isinstance(item, str):
                ax.text(x + 0.2, top - height / 2, item, ha="left", va="center", fontsize=9.5)
            else:
                name, rows_, cols = item
                y0 = top - height / 2 - rows_ / 2
                base = name.rstrip("ᵀ")
                ax.add_patch(
                    Rectangle((x, y0), cols, rows_, facecolor=colors[base], edgecolor="0.2")
                )
                ax.text(
                    x + cols / 2,
                    y0 + rows_ / 2 + 0.12,
                    name,
                    ha="center",
                    va="center",
                    fontsize=10,
                    fontweight="bold",
                )
                shape = f"{names[rows_]} x {names[cols]}"
                if cols > 2:
                    ax.text(
                        x + cols / 2,
                        y0 + rows_ / 2 - 0.18,
                        shape,
                        ha="center",
                        va="center",
                        fontsize=8,
                    )
                else:  # too narrow: the shape goes under the block
                    ax.text(x + cols / 2, y0 - 0.15, shape, ha="center", va="top", fontsize=8)
                x += cols
        top -= height + 0.9
    ax.set_xlim(-2.6, 17.5)
    ax.set_ylim(top + 0.4, 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        "conv2d as matrix products (scratchnet/ops/conv.py), col = im2col(x); "
        "every block drawn to the size of its shape",
        fontsize=10,
    )
    save(fig, "conv_as_matmul.png")


def col2im_overlap() -> None:
    """col2im(im2col(ones)): how many windows cover each input pixel, for three geometries."""
    cases = [
        (3, 1, 1, "3x3, stride 1, padding 1"),
        (3, 2, 1, "3x3, stride 2, padding 1"),
        (2, 2, 0, "2x2, stride 2"),
    ]
    fig, axes = plt.subplots(1, len(cases), figsize=(12, 4))
    for ax, (kernel, stride, padding, title) in zip(axes, cases, strict=True):
        shape = (1, 1, 6, 6)
        ones = np.ones(shape)
        counts = col2im(im2col(ones, kernel, stride, padding), shape, kernel, stride, padding)[0, 0]
        ax.imshow(counts, cmap="Blues", vmin=0, vmax=9)
        for (i, j), value in np.ndenumerate(counts):
            ax.text(
                j,
                i,
                f"{value:.0f}",
                ha="center",
                va="center",
                fontsize=11,
                color="black" if value < 6 else "white",
            )
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "col2im(im2col(ones)) on a 6x6 image: each pixel receives one contribution per window that "
        "contains it,\nso col2im(im2col(x)) = counts * x; it is x itself only when the windows "
        "tile the image without overlap (right)",
        fontsize=10,
    )
    save(fig, "col2im_overlap.png")


# --------------------------------------------------------------------------- batch norm


def batchnorm_axes() -> None:
    """Which values share one mean and variance: channel c, over the batch and every position."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    N, C = 4, 6
    for n in range(N):
        for c in range(C):
            highlighted = c == 2
            ax.add_patch(
                Rectangle(
                    (c * 1.2, -n * 1.2),
                    1.0,
                    1.0,
                    facecolor="#80b1d3" if highlighted else "0.93",
                    edgecolor="0.3",
                )
            )
            for k in range(1, 3):  # a small H x W grid inside each cell
                ax.plot(
                    [c * 1.2 + k / 3, c * 1.2 + k / 3],
                    [-n * 1.2, -n * 1.2 + 1],
                    color="0.6",
                    lw=0.5,
                )
                ax.plot(
                    [c * 1.2, c * 1.2 + 1],
                    [-n * 1.2 + k / 3, -n * 1.2 + k / 3],
                    color="0.6",
                    lw=0.5,
                )
    ax.text(C * 1.2 / 2 - 0.1, 1.45, "channels C  →", ha="center", fontsize=10)
    ax.text(-0.3, -N * 1.2 / 2 + 0.6, "batch N\n↓", ha="right", va="center", fontsize=10)
    ax.text(
        C * 1.2 + 0.2,
        -1.2,
        "each cell: one H x W feature map\n\nBatchNorm2d: one mean and\none variance "
        "per channel,\nover N * H * W values\n(the blue column)",
        va="center",
        fontsize=9,
    )
    ax.set_xlim(-1.2, C * 1.2 + 4.5)
    ax.set_ylim(-N * 1.2 + 0.9, 1.9)
    ax.set_aspect("equal")
    ax.axis("off")
    save(fig, "batchnorm_axes.png")


def batchnorm_effect() -> None:
    """Per-channel histograms before and after BatchNorm2d (training mode), and the running mean."""
    sn.manual_seed(0)
    rng = np.random.default_rng(0)
    C = 3
    centres, spreads = np.array([-3.0, 1.0, 6.0]), np.array([0.5, 2.0, 1.0])

    def batch(size: int = 32) -> sn.Tensor:
        values = (
            rng.standard_normal((size, C, 8, 8)) * spreads[None, :, None, None]
            + centres[None, :, None, None]
        )
        return sn.tensor(values.astype(np.float32))

    bn = nn.BatchNorm2d(C)
    x = batch()
    y = bn(x)  # training mode: the batch's own statistics
    running = [bn.running_mean.numpy().copy()]
    for _ in range(40):
        bn(batch())
        running.append(bn.running_mean.numpy().copy())
    running = np.array(running)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    colors = ["#1b9e77", "#d95f02", "#7570b3"]
    for c in range(C):
        axes[0].hist(
            x.numpy()[:, c].ravel(), bins=40, alpha=0.6, color=colors[c], label=f"channel {c}"
        )
        axes[1].hist(
            y.numpy()[:, c].ravel(), bins=40, alpha=0.5, color=colors[c], label=f"channel {c}"
        )
        axes[2].plot(running[:, c], color=colors[c], label=f"channel {c}")
        axes[2].axhline(centres[c], color=colors[c], ls=":", lw=1)
    axes[0].set_title("input x: each channel its own mean and spread", fontsize=10)
    axes[1].set_title(
        "BatchNorm2d(3)(x), training mode:\nmean 0, variance 1 per channel (gamma=1, beta=0)",
        fontsize=10,
    )
    axes[2].set_title(
        "running_mean after each batch (momentum 0.1)\ndotted: the true means, used in eval mode",
        fontsize=10,
    )
    axes[2].set_xlabel("batches seen")
    for ax in axes:
        ax.legend(fontsize=8)
    save(fig, "batchnorm_effect.png")


# --------------------------------------------------------------------------- receptive fields


def receptive_field_growth() -> None:
    """VGG16's receptive field and jump after every layer, from
    scratchnet.analysis.receptive_field.
    """
    from scratchnet.models.vgg import CONFIGS, make_layers

    # VGG16's convolutional part (no FC layers: only geometry matters)
    features = make_layers(CONFIGS["D"])
    fields = sn.receptive_field(features, (3, 32, 32))  # any input size gives the same fields
    rows = [r for r in fields.rows if r.type in ("Conv2d", "MaxPool2d")]
    names, block, conv = [], 1, 0
    for r in rows:
        if r.type == "MaxPool2d":
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            conv += 1
            names.append(f"conv{block}_{conv}")
    sizes = [r.size[0] for r in rows]
    jumps = [r.jump[0] for r in rows]

    fig, ax = plt.subplots(figsize=(12, 4))
    bars = ax.bar(
        range(len(rows)),
        sizes,
        color=["#80b1d3" if n.startswith("conv") else "#fb8072" for n in names],
    )
    for bar, size, jump in zip(bars, sizes, jumps, strict=True):
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            size + 3,
            f"{size}\nj={jump}",
            ha="center",
            fontsize=7.5,
        )
    ax.axhline(224, color="0.4", ls="--", lw=1)
    ax.text(0, 230, "224: the ImageNet image", fontsize=8)
    ax.set_xticks(range(len(rows)), names, rotation=60, fontsize=8)
    ax.set_ylabel("receptive field (pixels)")
    ax.set_ylim(0, 265)
    ax.set_title(
        "VGG16: r_out = r + (k - 1) * j, j_out = j * stride (blue: 3x3 conv adds 2j; red: 2x2 "
        "pool adds j, doubles j)",
        fontsize=10,
    )
    save(fig, "receptive_field_vgg16.png")


def effective_receptive_field() -> None:
    """|d output pixel / d input| for one 7x7 conv and
    for stacks of 3x3 convs (all weights equal).
    """
    cases = [("one 7x7 conv", [7]), ("three 3x3 convs", [3, 3, 3]), ("ten 3x3 convs", [3] * 10)]
    size = 25
    fig, axes = plt.subplots(1, len(cases), figsize=(12, 4))
    for ax, (title, kernels) in zip(axes, cases, strict=True):
        layers = []
        for k in kernels:
            conv = nn.Conv2d(1, 1, k, padding=k // 2, bias=False)
            with sn.no_grad():
                conv.weight.fill_(1.0 / (k * k))  # an average: every window element counts the same
            layers.append(conv)
        stack = nn.Sequential(*layers)
        x = sn.zeros((1, 1, size, size), requires_grad=True)
        y = stack(x)
        seed = np.zeros(y.shape, dtype=np.float32)
        seed[0, 0, size // 2, size // 2] = 1.0  # one output pixel, the centre
        y.backward(seed)
        grad = np.abs(x.grad.numpy()[0, 0])
        image = ax.imshow(grad / grad.max(), cmap="magma")
        r = 1 + sum(k - 1 for k in kernels)
        ax.set_title(f"{title}: field {r}x{r}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, fraction=0.02, label="|gradient| / max")
    fig.suptitle(
        "How much each input pixel moves the centre output pixel: the same 7x7 field, but a stack "
        "weighs the centre more (the 'effective' field, Luo et al. 2016)",
        fontsize=10,
    )
    save(fig, "effective_receptive_field.png")


FIGURES = [
    autograd_graph,
    im2col_unrolled,
    conv_as_matmul,
    col2im_overlap,
    batchnorm_axes,
    batchnorm_effect,
    receptive_field_growth,
    effective_receptive_field,
]


def main(argv: list[str] | None = None) -> None:
    selected = sys.argv[1:] if argv is None else argv
    for figure in FIGURES:
        if not selected or any(word in figure.__name__ for word in selected):
            figure()


if __name__ == "__main__":
    main()
