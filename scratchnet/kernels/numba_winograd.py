"""Numba siblings of the Winograd F(2x2, 3x3) convolution (``scratchnet.ops.winograd``): the same
three functions, signatures and results, for 3x3 stride-1 layers on the CPU.

The reference builds every 4x4 tile as an array and transforms it with small matrix products;
here each transform is one pass over memory, a row of tiles at a time, split between the cores
by (image, channel). The 16 batched matrix products stay with NumPy's ``matmul`` (BLAS),
which is where the 2.25x fewer multiplications are. The batch is processed a few images at a
time (``TILE_BUFFER_BYTES``) so that the transformed tiles are still in the cache when the matrix
product reads them, as the im2col conv does with its columns. ``tests/test_winograd.py`` pins
these to the reference.

When to use it: ``winograd_wins(N, C, K, H, W, dtype)`` is the selection rule, measured on this
project's CPUs (see the constants below and ``docs/concepts/winograd.md``), and the environment
variable ``SCRATCHNET_WINOGRAD`` overrides it: ``auto`` (the default: the rule decides), ``on``
(every 3x3 stride-1 layer that Winograd can compute), ``off`` (never). ``use_winograd(...)``
combines the two and is what a conv dispatch asks.

Meant to be imported by the conv's fast path, where it picks the algorithm of a layer, once Numba
has imported (nothing else imports ``kernels/``). ``NUMBA_DISABLE_JIT=1`` runs the kernels as
plain Python for debugging.
"""

from __future__ import annotations

import os

import numpy as np
from numba import prange

from scratchnet.backend import Array
from scratchnet.kernels.numba_threads import threaded_kernel
from scratchnet.kernels.scratch import borrow
from scratchnet.ops.im2col import IntPair
from scratchnet.ops.winograd import (
    BLOCK,
    KERNEL,
    TILE,
    check_winograd_shapes,
    tile_counts,
    weight_gradient_shapes,
)

# The batch is transformed and multiplied a few images at a time, so that the transformed tiles
# (16 values per 2x2 outputs, 4x the input) and the product are still in the cache when the next
# step reads them; at least one image per chunk. Measured (tools/bench_winograd.py's layers, one
# thread, CPU time of forward + both gradients): 0.25-0.5 MiB best, e.g. (64,16,32,32)->16 23 ms
# at 0.5 MiB, 27 at 2, 37 at 8, 61 at 16 MiB; the 8x8 layer loses 30% below 0.125 MiB.
TILE_BUFFER_BYTES = 2**19
# Each kernel's outer loop runs in this many parts (threads take parts), each allocating its
# scratch rows once: an allocation per (image, channel) pair cost more than the transform itself
# (a microsecond each, 4096 of them in a ResNet-20 layer).
PARTS = 64

# --------------------------------------------------------------------------- the selection rule
# Measured by tools/bench_winograd.py (float32, CPU time of one thread: the 2-core machine of this
# project was shared with a dozen jobs, where wall-clock ratios swung from 0.01 to 85), Winograd
# time / im2col time for forward + both gradients, median (range) over two runs of 3 and 5 rounds:
#   (64, 16, 32, 32) -> 16    0.76 (0.66-0.92), 0.86 (0.81-1.22)    wins
#   (32, 64, 32, 32) -> 64    0.74 (0.58-0.86), 0.91 (0.83-1.22)    wins
#   (16, 128, 28, 28) -> 128  0.74 (0.58-0.87), 1.03 (0.72-1.12)    wins, less clearly
#   (64, 32, 16, 16) -> 32    0.96 (0.89-1.20), 1.11 (1.01-1.88)    loses
#   (64, 64, 8, 8) -> 64      1.02 (0.96-1.27), 1.12 (1.01-1.32)    loses
# On a small map the rows of tiles are short and the transforms' per-row work dominates; the
# 16 GEMMs are (K, C) @ (C, P) with small K and C, far from the BLAS's peak. In float64 the
# products cost twice as much and Winograd wins on every layer (one run of 3 rounds):
#   0.55 (0.46-0.58), 0.63 (0.50-0.90), 0.63 (0.61-0.76), 0.73 (0.70-0.93), 0.87 (0.67-0.90)
# in the order above, the 8x8 layer last.
# But a whole float32 training step with 2 threads (wall clock, a quiet machine, best step of 5,
# median of 3 interleaved runs) was slower with Winograd on the layers above 28x28 than without:
#   ResNet-20 (64x3x32x32): 517 ms with the rule above, 403 ms with SCRATCHNET_WINOGRAD=off
#   VGG-11-BN (16x3x64x64): 1157 ms with it, 1052 ms without
# (the transforms scale worse over two threads than the BLAS does). So in float32 the automatic
# choice is im2col everywhere until a 2-thread measurement per layer shows a win; float64 keeps
# the single-thread rule (not yet measured with 2 threads).
WINOGRAD_MIN_MAP = {
    np.dtype(np.float64): 8 * 8,  # every map measured wins, 8x8 the smallest
}
WINOGRAD_MIN_CHANNELS = 16  # C and K at least this (the fewest measured; fewer: untested)
WINOGRAD_SETTING = "SCRATCHNET_WINOGRAD"  # auto | on | off
_MODES = ("auto", "on", "off")


def winograd_mode() -> str:
    """``SCRATCHNET_WINOGRAD``: ``auto`` (default), ``on`` or ``off``; anything else is an error."""
    mode = os.environ.get(WINOGRAD_SETTING, "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise ValueError(
            f"{WINOGRAD_SETTING}={os.environ[WINOGRAD_SETTING]!r}: expected one of {_MODES}"
        )
    return mode


def winograd_wins(N: int, C: int, K: int, H: int, W: int, dtype: np.dtype) -> bool:
    """Whether Winograd beats im2col on this CPU for a 3x3 stride-1 layer of this shape.

    From the measurements above: float32 or float64, a map of at least ``WINOGRAD_MIN_MAP``
    positions for the dtype, at least ``WINOGRAD_MIN_CHANNELS`` input and output channels. The
    batch size N does not enter: the work is chunked by images, so each chunk looks alike.
    """
    min_map = WINOGRAD_MIN_MAP.get(np.dtype(dtype))
    return min_map is not None and H * W >= min_map and min(C, K) >= WINOGRAD_MIN_CHANNELS


def use_winograd(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    dtype: np.dtype,
) -> bool:
    """What a conv dispatch asks: can Winograd compute this layer, and should it (the setting)?"""
    mode = winograd_mode()
    computable = (
        mode != "off"
        and tuple(w_shape[2:]) == (KERNEL, KERNEL)
        and tuple(stride) == (1, 1)
        and tuple(dilation) == (1, 1)
        and groups == 1
        and all(0 <= p <= KERNEL - 1 for p in padding)
        and all(size + 2 * p >= KERNEL for size, p in zip(x_shape[2:], padding, strict=True))
        and np.dtype(dtype) in (np.float32, np.float64)
    )
    if not computable:
        return False
    N, C, H, W = x_shape
    return mode == "on" or winograd_wins(N, C, w_shape[0], H, W, dtype)


# --------------------------------------------------------------------------- the three products


def winograd_conv2d_forward(
    x: Array, w: Array, bias: Array | None = None, padding: IntPair = 1
) -> Array:
    """Mirrors ``ops.winograd.winograd_conv2d_forward``: x (N, C, H, W), w (K, C, 3, 3) -> y."""
    (PH, PW), (OH, OW) = check_winograd_shapes("winograd_conv2d_forward", x.shape, w, padding)
    x, w = _contiguous(x), _contiguous(w.astype(x.dtype, copy=False))
    N, C, K = x.shape[0], x.shape[1], w.shape[0]
    TH, TW = tile_counts(OH, OW)
    bias = np.zeros(K, dtype=x.dtype) if bias is None else _contiguous(bias.astype(x.dtype))
    y = np.empty((N, K, OH, OW), dtype=x.dtype)
    images = _images_per_chunk(N, max(C, K) * TH * TW, x.itemsize)
    # The transformed filters U, tiles V and products M are scratch (kernels/scratch.py): they
    # die with this call, and V and M are reused by every chunk.
    with (
        borrow(np, (TILE * TILE, K, C), x.dtype) as U,  # (16, K, C)
        borrow(np, TILE * TILE * C * images * TH * TW, x.dtype) as V,
        borrow(np, TILE * TILE * K * images * TH * TW, x.dtype) as M,
    ):
        _filter_transform(K * C * 16, w, U)
        for start in range(0, N, images):
            n = min(images, N - start)
            P = n * TH * TW
            x_n, y_n = x[start : start + n], y[start : start + n]  # this chunk's images
            V_n = V[: TILE * TILE * C * P].reshape(TILE * TILE, C, P)  # (16, C, P)
            _input_transform(x_n.size * 4, x_n, PH, PW, TH, TW, V_n)  # work: 4 values per input
            M_n = np.matmul(U, V_n, out=M[: TILE * TILE * K * P].reshape(TILE * TILE, K, P))
            _output_transform(y_n.size, M_n, bias, TH, TW, y_n)
    return y


def winograd_conv2d_backward_input(
    gy: Array, w: Array, padding: IntPair, x_shape: tuple[int, ...]
) -> Array:
    """Mirrors ``ops.winograd.winograd_conv2d_backward_input``: the forward of gy, padded 2 - P."""
    (PH, PW), _ = check_winograd_shapes(
        "winograd_conv2d_backward_input", x_shape, w, padding, gy.shape
    )
    w_flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, K, 3, 3), copied by the forward
    return winograd_conv2d_forward(gy, w_flipped, None, (KERNEL - 1 - PH, KERNEL - 1 - PW))


def winograd_conv2d_backward_weight(x: Array, gy: Array, padding: IntPair) -> Array:
    """Mirrors ``ops.winograd.winograd_conv2d_backward_weight``: G^T [sum (A gy A^T) * V] G."""
    (PH, PW), (TH, TW) = weight_gradient_shapes(x.shape, gy.shape, padding)
    x, gy = _contiguous(x), _contiguous(gy.astype(x.dtype, copy=False))
    N, C, K = x.shape[0], x.shape[1], gy.shape[1]
    images = _images_per_chunk(N, max(C, K) * TH * TW, x.itemsize)
    gw = np.empty((K, C, KERNEL, KERNEL), dtype=x.dtype)
    # Scratch as in the forward: tiles, transformed gradients and the summed products.
    with (
        borrow(np, TILE * TILE * C * images * TH * TW, x.dtype) as V,
        borrow(np, TILE * TILE * K * images * TH * TW, x.dtype) as gy_hat,
        borrow(np, (TILE * TILE, K, C), x.dtype) as M,  # (16, K, C): summed over the chunks
        borrow(np, (TILE * TILE, K, C), x.dtype) as M_chunk,
    ):
        M[...] = 0
        for start in range(0, N, images):
            n = min(images, N - start)
            P = n * TH * TW
            x_n, gy_n = x[start : start + n], gy[start : start + n]  # this chunk's images
            V_n = V[: TILE * TILE * C * P].reshape(TILE * TILE, C, P)  # (16, C, P)
            _input_transform(x_n.size * 4, x_n, PH, PW, TH, TW, V_n)
            gy_hat_n = gy_hat[: TILE * TILE * K * P].reshape(TILE * TILE, K, P)  # (16, K, P)
            _gradient_transform(gy_n.size * 4, gy_n, TH, TW, gy_hat_n)
            M += np.matmul(gy_hat_n, V_n.transpose(0, 2, 1), out=M_chunk)  # (16, K, C)
        _weight_output_transform(K * C * 16, M, gw)
    return gw


# --------------------------------------------------------------------------- the transforms


@threaded_kernel
def _input_transform(x, PH, PW, TH, TW, V):
    """V[xi*4 + nu, c, p] = (B^T d B)[xi, nu] for the 4x4 tile d of tile p = (n, th, tw).

    Per row of tiles: B^T down the tile's 4 input rows at once (``t``, whole rows, each input
    row read twice since tiles overlap by 2), then B across each tile's 4 columns of ``t``.
    """
    N, C, H, W = x.shape
    width = BLOCK * TW + KERNEL - 1  # the padded columns the tiles read
    for part in prange(PARTS):  # scratch allocated once per part, not per nc
        rows = np.zeros((TILE, width), dtype=x.dtype)  # 4 padded input rows; zeros: padding
        t = np.empty((TILE, width), dtype=x.dtype)  # B^T rows
        for nc in range(part, N * C, PARTS):
            n, c = nc // C, nc % C
            for th in range(TH):
                for i in range(TILE):
                    row = BLOCK * th + i - PH  # the input row under tile row i; outside: padding
                    inside = 0 <= row < H
                    for col in range(W):  # a loop, not a slice: a slice is a new array object
                        rows[i, PW + col] = x[n, c, row, col] if inside else 0
                for col in range(width):
                    t[0, col] = rows[0, col] - rows[2, col]
                    t[1, col] = rows[1, col] + rows[2, col]
                    t[2, col] = rows[2, col] - rows[1, col]
                    t[3, col] = rows[1, col] - rows[3, col]
                p0 = (n * TH + th) * TW  # the first tile of this row of tiles
                for xi in range(TILE):
                    for tw in range(TW):
                        col = BLOCK * tw
                        e0, e1, e2, e3 = t[xi, col], t[xi, col + 1], t[xi, col + 2], t[xi, col + 3]
                        V[xi * TILE + 0, c, p0 + tw] = e0 - e2
                        V[xi * TILE + 1, c, p0 + tw] = e1 + e2
                        V[xi * TILE + 2, c, p0 + tw] = e2 - e1
                        V[xi * TILE + 3, c, p0 + tw] = e1 - e3


@threaded_kernel
def _filter_transform(w, U):
    """U[xi*4 + nu, k, c] = (G g G^T)[xi, nu] for the 3x3 filter g = w[k, c]."""
    K, C = w.shape[:2]
    for part in prange(PARTS):  # scratch allocated once per part, not per kc
        e = np.empty((KERNEL, TILE), dtype=w.dtype)  # g G^T: G applied to each row
        for kc in range(part, K * C, PARTS):
            k, c = kc // C, kc % C
            for i in range(KERNEL):
                g0, g1, g2 = w[k, c, i, 0], w[k, c, i, 1], w[k, c, i, 2]
                e[i, 0] = g0
                e[i, 1] = 0.5 * (g0 + g1 + g2)
                e[i, 2] = 0.5 * (g0 - g1 + g2)
                e[i, 3] = g2
            for j in range(TILE):  # G e: G applied to each column
                U[0 * TILE + j, k, c] = e[0, j]
                U[1 * TILE + j, k, c] = 0.5 * (e[0, j] + e[1, j] + e[2, j])
                U[2 * TILE + j, k, c] = 0.5 * (e[0, j] - e[1, j] + e[2, j])
                U[3 * TILE + j, k, c] = e[2, j]


@threaded_kernel
def _output_transform(M, bias, TH, TW, y):
    """y[n, k, 2*th + a, 2*tw + b] = bias[k] + (A^T m A)[a, b], m = M[:, k, p] as 4x4; cropped.

    Per row of tiles: A across each tile's 4 columns (``s``, one padded output row per tile row
    xi), then A^T down the 4 rows of ``s`` into the 2 output rows.
    """
    N, K, OH, OW = y.shape
    for part in prange(PARTS):  # scratch allocated once per part, not per nk
        s = np.empty((TILE, BLOCK * TW), dtype=M.dtype)  # m A, for a whole row of tiles
        for nk in range(part, N * K, PARTS):
            n, k = nk // K, nk % K
            for th in range(TH):
                p0 = (n * TH + th) * TW
                for xi in range(TILE):
                    for tw in range(TW):
                        m0, m1 = M[xi * TILE + 0, k, p0 + tw], M[xi * TILE + 1, k, p0 + tw]
                        m2, m3 = M[xi * TILE + 2, k, p0 + tw], M[xi * TILE + 3, k, p0 + tw]
                        s[xi, BLOCK * tw] = m0 + m1 + m2
                        s[xi, BLOCK * tw + 1] = m1 - m2 - m3
                top = BLOCK * th
                for ow in range(OW):  # an odd OW: the last column of s is cropped
                    y[n, k, top, ow] = s[0, ow] + s[1, ow] + s[2, ow] + bias[k]
                if top + 1 < OH:  # an odd OH: the last tile's bottom row is cropped
                    for ow in range(OW):
                        y[n, k, top + 1, ow] = s[1, ow] - s[2, ow] - s[3, ow] + bias[k]


@threaded_kernel
def _gradient_transform(gy, TH, TW, gy_hat):
    """gy_hat[xi*4 + nu, k, p] = (A g A^T)[xi, nu] for the 2x2 block g of gy (0 past the edge).

    Per row of blocks: A down the block's 2 rows (``h``, whole rows), then A across each block's
    2 columns of ``h``.
    """
    N, K, OH, OW = gy.shape
    for part in prange(PARTS):  # scratch allocated once per part, not per nk
        rows = np.zeros((BLOCK, BLOCK * TW), dtype=gy.dtype)  # zeros: past the output's edge
        h = np.empty((TILE, BLOCK * TW), dtype=gy.dtype)  # A g
        for nk in range(part, N * K, PARTS):
            n, k = nk // K, nk % K
            for th in range(TH):
                for i in range(BLOCK):
                    row = BLOCK * th + i
                    inside = row < OH
                    for col in range(OW):  # a loop, not a slice: a slice is a new array object
                        rows[i, col] = gy[n, k, row, col] if inside else 0
                for col in range(BLOCK * TW):
                    h[0, col] = rows[0, col]
                    h[1, col] = rows[0, col] + rows[1, col]
                    h[2, col] = rows[0, col] - rows[1, col]
                    h[3, col] = -rows[1, col]
                p0 = (n * TH + th) * TW
                for xi in range(TILE):
                    for tw in range(TW):
                        e0, e1 = h[xi, BLOCK * tw], h[xi, BLOCK * tw + 1]
                        gy_hat[xi * TILE + 0, k, p0 + tw] = e0
                        gy_hat[xi * TILE + 1, k, p0 + tw] = e0 + e1
                        gy_hat[xi * TILE + 2, k, p0 + tw] = e0 - e1
                        gy_hat[xi * TILE + 3, k, p0 + tw] = -e1


@threaded_kernel
def _weight_output_transform(M, gw):
    """gw[k, c] = G^T m G, m = M[:, k, c] as 4x4: the weight gradient's 3x3 from its 4x4 sum."""
    K, C = gw.shape[:2]
    for part in prange(PARTS):  # scratch allocated once per part, not per kc
        r = np.empty((TILE, KERNEL), dtype=M.dtype)  # m G: G^T applied to each row
        for kc in range(part, K * C, PARTS):
            k, c = kc // C, kc % C
            for i in range(TILE):
                m0, m1 = M[i * TILE + 0, k, c], M[i * TILE + 1, k, c]
                m2, m3 = M[i * TILE + 2, k, c], M[i * TILE + 3, k, c]
                r[i, 0] = m0 + 0.5 * (m1 + m2)
                r[i, 1] = 0.5 * (m1 - m2)
                r[i, 2] = 0.5 * (m1 + m2) + m3
            for j in range(KERNEL):  # G^T r: G^T applied to each column
                gw[k, c, 0, j] = r[0, j] + 0.5 * (r[1, j] + r[2, j])
                gw[k, c, 1, j] = 0.5 * (r[1, j] - r[2, j])
                gw[k, c, 2, j] = 0.5 * (r[1, j] + r[2, j]) + r[3, j]


# --------------------------------------------------------------------------- helpers


def _images_per_chunk(N: int, values_per_image: int, itemsize: int) -> int:
    """Images per chunk: a chunk's transformed tiles (16 per tile) fit ``TILE_BUFFER_BYTES``."""
    per_image = TILE * TILE * values_per_image * itemsize
    return max(1, min(N, TILE_BUFFER_BYTES // per_image))


def _contiguous(a: np.ndarray) -> np.ndarray:
    """A in C order, copied only if it is not."""
    return a if a.flags.c_contiguous else a.copy(order="C")
