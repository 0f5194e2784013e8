"""Draw the figure of docs/concepts/winograd.md into docs/figures/concepts/winograd_tiles.png.

    python docs/figures/make_winograd_figure.py

Every number in it is computed by ``scratchnet.ops.winograd``: the tile, its transforms B^T d B
and G g G^T, their product and the 2x2 outputs, checked against the layer's output. It reuses the
drawing helpers of ``make_concept_figures.py`` (same directory), so it looks like the other
concept figures. The PNG is committed, so reading the docs needs none of this.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # make_concept_figures, a sibling script

import matplotlib.pyplot as plt
import numpy as np
from make_concept_figures import WINDOW_COLORS, _grid, save
from matplotlib.patches import Rectangle

from scratchnet.ops import winograd


def winograd_tiles() -> None:
    """F(2x2, 3x3): overlapping 4x4 tiles, the three transforms of one tile, the 16 GEMMs."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 10, size=(1, 1, 6, 6)).astype(np.float64)  # one 6x6 channel
    g = rng.integers(-1, 2, size=(1, 1, 3, 3)).astype(np.float64)  # one 3x3 filter
    x_pad = np.pad(x[0, 0], 1)  # (8, 8): padding 1
    y = winograd.winograd_conv2d_forward(x, g, None, 1)[0, 0]  # (6, 6): 3 x 3 tiles of 2 x 2
    d = x_pad[0:4, 0:4]  # tile (0, 0)
    V = winograd.B_T @ d @ winograd.B_T.T
    U = winograd.G @ g[0, 0] @ winograd.G.T
    M = U * V  # one channel: the GEMM over channels is this product summed over C
    Y = winograd.A_T @ M @ winograd.A_T.T
    assert np.allclose(Y, y[0:2, 0:2])

    fig, ax = plt.subplots(figsize=(13, 8.6))
    red, blue = WINDOW_COLORS[0], WINDOW_COLORS[1]
    # The padded input, two overlapping tiles outlined; the output with their 2x2 blocks.
    colors = np.full((8, 8), "white", dtype=object)
    colors[0, :] = colors[-1, :] = colors[:, 0] = colors[:, -1] = "0.88"  # the zero padding
    _grid(ax, x_pad, 0, 21, lambda v: f"{v:.0f}", colors=colors)
    ax.text(4, 21.4, "input, padded by 1 (grey): 8 x 8", ha="center", fontsize=9)
    for left, color, inset in [(0, red, 0.08), (2, blue, 0.16)]:
        ax.add_patch(
            Rectangle(
                (left + inset, 17 + inset),
                4 - 2 * inset,
                4 - 2 * inset,
                fill=False,
                edgecolor=color,
                linewidth=2.2,
            )
        )
    ax.text(
        4,
        12.7,
        "4x4 tiles every 2 pixels: neighbours overlap by 2",
        ha="center",
        va="top",
        fontsize=9,
    )
    _grid(ax, y, 10, 21, lambda v: f"{v:.0f}")
    ax.text(13, 21.4, "output 6 x 6 = 3 x 3 blocks of 2 x 2", ha="center", fontsize=9)
    for left, color in [(10, red), (12, blue)]:
        ax.add_patch(
            Rectangle((left + 0.08, 19.08), 1.84, 1.84, fill=False, edgecolor=color, linewidth=2.2)
        )
    # One tile through the three transforms.
    top, fmt = 10.5, lambda v: f"{v + 0:g}"  # + 0: no "-0"
    pink = "#fde0dd"
    steps = [
        (d, 0, "d: tile (0, 0)", pink),
        (V, 6, "V = B^T d B", pink),
        (g[0, 0], 12.5, "g: the 3x3 filter", "white"),
        (U, 18, "U = G g G^T", "#fff2cc"),
        (M, 24, "M = U * V (elementwise)", pink),
        (Y, 30, "Y = A^T M A", pink),
    ]
    for values, left, title, face in steps:
        _grid(ax, values, left, top, fmt, colors=np.full(values.shape, face, dtype=object))
        ax.text(left + values.shape[1] / 2, top + 0.4, title, ha="center", fontsize=9)
    for start, end in [(4.2, 5.8), (15.7, 17.8), (22.2, 23.8), (28.2, 29.8)]:
        ax.annotate(
            "",
            xy=(end, top - 2),
            xytext=(start, top - 2),
            arrowprops={"arrowstyle": "-|>", "color": "0.3", "lw": 1.3},
        )
    ax.annotate(
        "",
        xy=(24.2, top - 4.2),
        xytext=(10.0, top - 4.2),
        arrowprops={
            "arrowstyle": "-|>",
            "color": "0.3",
            "lw": 1.0,
            "connectionstyle": "arc3,rad=0.12",
        },
    )  # V goes into the product too
    ax.text(
        30,
        top - 2.6,
        "= the direct 3x3 sums\n(the red block of\nthe output):\n16 products, not\n4 x 9 = 36",
        fontsize=8.5,
        va="top",
    )
    # The 16 batched matrix products over channels.
    left, top = 0, 2.6
    blocks = [  # (left, width, height, colour, label)
        (0, 1.6, 1.0, "#fff2cc", "U[xi, nu]\n(K, C)"),
        (3.4, 3.2, 1.6, "#fde0dd", "V[xi, nu]\n(C, P)"),
        (9.0, 3.2, 1.0, "#b3de69", "M[xi, nu]\n(K, P)"),
    ]
    for k in range(16):
        dx = 0.12 * k
        for x0, width, height, face, _ in blocks:
            ax.add_patch(
                Rectangle(
                    (left + x0 + dx, top - height - dx),
                    width,
                    height,
                    facecolor=face,
                    edgecolor="0.3",
                    linewidth=0.5,
                )
            )
    for x0, width, _, _, label in blocks:
        ax.text(left + x0 + width / 2, top + 0.25, label, ha="center", va="bottom", fontsize=8.5)
    ax.text(left + 2.7, top - 0.3, "@", fontsize=13, ha="center", va="center")
    ax.text(left + 8.3, top - 0.3, "=", fontsize=13, ha="center", va="center")
    ax.text(
        15,
        top - 0.9,
        "16 GEMMs, one per position (xi, nu) of the 4x4 transformed tile, each summing over\n"
        "the C channels; P = N * TH * TW tiles of the whole batch. im2col's one GEMM is\n"
        "(K, 9C) @ (9C, 4P): 36 K C P multiplications; these are 16 K C P: 2.25x fewer.",
        fontsize=9,
        va="center",
    )
    ax.set_xlim(-0.5, 34.5)
    ax.set_ylim(-1.2, 22.2)
    ax.set_aspect("equal")
    ax.axis("off")
    save(fig, "winograd_tiles.png")


if __name__ == "__main__":
    winograd_tiles()
