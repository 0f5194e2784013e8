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
# (a microsecond each, 4096 of them in a ResNet-20 layer). A chunk with fewer (image, channel)
# pairs than PARTS runs one part per pair: Numba hands each thread a contiguous half of the parts,
# so 32 pairs (two 16-channel images) in 64 parts left the second thread's half empty.
PARTS = 64

# --------------------------------------------------------------------------- the selection rule
# Winograd time / im2col time of conv2d forward + both gradients (the whole F.conv2d call), float32,
# median (range) over 3 interleaved rounds, best of 3 calls: CPU time of one thread, the measure
# that survived this project's shared 2-core machine (load average 5-10 during the session; see
# below for 2 threads). The layers of ResNet-20 (batch 64), VGG-11-BN (16x3x64x64), VGG-16
# (1x3x224x224) and benchmarks/conv.py, every 3x3 stride-1 layer with C >= 16:
#   map      (N, C) -> K          ratio              map      (N, C) -> K          ratio
#   224x224  (1, 64) -> 64        0.77 (0.75-0.79)   16x16    (64, 32) -> 32       1.07 (1.04-1.11)
#   112x112  (1, 64) -> 128       0.78 (0.76-0.80)   16x16    (16, 128) -> 256     1.07 (1.01-1.11)
#   112x112  (1, 128) -> 128      0.71 (0.69-0.71)   16x16    (16, 256) -> 256     0.97 (0.97-0.97)
#   56x56    (8, 64) -> 64        0.85 (0.68-0.95)   14x14    (1, 512) -> 512      4.60 (4.55-5.01)
#   56x56    (1, 128) -> 256      0.93 (0.88-0.98)   8x8      (64, 64) -> 64       0.99 (0.98-1.07)
#   56x56    (1, 256) -> 256      0.84 (0.83-0.85)   8x8      (32, 256) -> 256     1.10 (0.97-1.40)
#   32x32    (64, 16) -> 16       0.80 (0.76-0.81)   8x8      (16, 256) -> 512     1.70 (1.68-1.72)
#   32x32    (32, 64) -> 64       0.74 (0.74-0.84)   8x8      (16, 512) -> 512     1.83 (1.79-1.86)
#   32x32    (16, 64) -> 128      0.88 (0.85-0.95)   4x4      (16, 512) -> 512     1.66 (1.65-1.66)
#   28x28    (1, 256) -> 512      1.77 (1.56-1.81)
#   28x28    (1, 512) -> 512      1.89 (1.89-1.97)
# Per layer, Winograd wins on every map of 32x32 and more (0.71-0.93), ties or loses below. On a
# small map the rows of tiles are short, the transforms' per-row work dominates, and the 16
# products (K, C) @ (C, P) have few tiles P for many channels: at 512 channels and 28x28 or less,
# reading the 16 transformed filters (16 K C values, recomputed every call) costs more than the
# 2.25x fewer multiplications save.
# Two threads, wall clock, per layer, could not rank the two on this machine: with 5-10 runnable
# jobs on 2 cores, each of im2col's large threaded BLAS products waited for its second thread to
# be scheduled (a (64, 16, 32, 32) layer 160-380 ms against 37 ms of CPU time), while Winograd's
# small, single-threaded products did not wait: every layer "won" 0.1-0.6 there. One defect of the
# transforms on 2 threads is fixed (see PARTS): with 16 channels, a chunk's 32 (image, channel)
# pairs all ran on one thread. Whole training steps, 2 threads, Winograd where the table says it
# wins against SCRATCHNET_WINOGRAD=off (the same process, toggled between steps, interleaved
# rounds, best of 2-3 steps each, median (range) of the per-round ratios):
#   ResNet-20 (64x3x32x32), Winograd on 32x32:    1.11 (0.40-2.19), 8 rounds; 1.66 (0.41-3.02) in 5
#                                                 rounds of fresh processes; 517 vs 403 ms (quiet)
#   VGG-16 (1x3x224x224), Winograd from 56x56:    1.15 (1.09-1.57), 5 rounds, slower in every one
# So the per-layer win of one thread's work does not survive two threads and a whole step (why
# was not isolated here: the transforms are memory-bound, and the tiles of a large map are fresh
# allocations on every call), and in float32 the automatic choice stays im2col for every layer;
# SCRATCHNET_WINOGRAD=on takes Winograd where it can. In float64 the products cost twice as much
# and Winograd wins on every layer measured (one thread, one run of 3 rounds), down to 8x8:
#   0.55 (0.46-0.58), 0.63 (0.50-0.90), 0.63 (0.61-0.76), 0.73 (0.70-0.93), 0.87 (0.67-0.90)
# for (64, 16, 32, 32) -> 16, (32, 64, 32, 32) -> 64, (16, 128, 28, 28) -> 128,
# (64, 32, 16, 16) -> 32 and (64, 64, 8, 8) -> 64 (not yet measured with 2 threads).
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
    parts = min(PARTS, N * C)  # fewer tasks than PARTS: one part each
    for part in prange(parts):  # scratch allocated once per part, not per nc
        rows = np.zeros((TILE, width), dtype=x.dtype)  # 4 padded input rows; zeros: padding
        t = np.empty((TILE, width), dtype=x.dtype)  # B^T rows
        for nc in range(part, N * C, parts):
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
    parts = min(PARTS, K * C)  # fewer tasks than PARTS: one part each
    for part in prange(parts):  # scratch allocated once per part, not per kc
        e = np.empty((KERNEL, TILE), dtype=w.dtype)  # g G^T: G applied to each row
        for kc in range(part, K * C, parts):
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
    parts = min(PARTS, N * K)  # fewer tasks than PARTS: one part each
    for part in prange(parts):  # scratch allocated once per part, not per nk
        s = np.empty((TILE, BLOCK * TW), dtype=M.dtype)  # m A, for a whole row of tiles
        for nk in range(part, N * K, parts):
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
    parts = min(PARTS, N * K)  # fewer tasks than PARTS: one part each
    for part in prange(parts):  # scratch allocated once per part, not per nk
        rows = np.zeros((BLOCK, BLOCK * TW), dtype=gy.dtype)  # zeros: past the output's edge
        h = np.empty((TILE, BLOCK * TW), dtype=gy.dtype)  # A g
        for nk in range(part, N * K, parts):
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
    parts = min(PARTS, K * C)  # fewer tasks than PARTS: one part each
    for part in prange(parts):  # scratch allocated once per part, not per kc
        r = np.empty((TILE, KERNEL), dtype=M.dtype)  # m G: G^T applied to each row
        for kc in range(part, K * C, parts):
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
