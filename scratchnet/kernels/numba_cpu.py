"""Fast CPU kernels, compiled by Numba: the same functions as the NumPy reference, only faster.

Every public function here has the signature (plus an ``out=`` buffer where it helps), the memory
layout and the result of the reference function its docstring names
(``scratchnet.ops.im2col.im2col`` and so on); a parity test pins each pair together
(tests/test_kernels.py). The public functions are thin Python wrappers that allocate the outputs
and call a compiled loop nest (``_im2col`` ...) that writes into them. At the bottom, the fast
``Conv2dFunction``, ``MaxPool2dFunction`` and ``AvgPool2dFunction`` of ``fast_functions`` are bound
to these kernels: those are what ``backend.KERNEL_MODULES`` lists.

Why they are faster than the NumPy reference:

* one pass over memory: the reference makes KH*KW strided copies (im2col) or a padded copy plus an
  im2col (pooling); these loops read each input element once and write each output element once;
* both CPU cores where it pays: ``prange`` splits the rows of col (im2col), the (image, channel)
  planes (col2im, pooling) or the (image, channel) rows (the reorders) between threads, and every
  thread writes only its own, so there is no race and no lock. Whether a call runs threaded is
  ``THREADED_MIN_WORK`` in ``numba_threads``. The conv's column kernels stay on one thread there:
  alone they ran in 0.41-0.65 of one thread's time, but inside whole training steps on a quiet
  machine threading them made steps slower (ResNet-20 386 vs 354 ms), because each one follows an
  OpenBLAS product whose threads keep spinning on the other core (on a machine at load 6-7 the
  threaded ones were instead far faster: 0.18 of the time, where one-thread kernels waited for a
  core);
* no temporary arrays and no float64 promotion;
* every bound is computed once per kernel (``_valid_outputs``), not per element, and the inner
  loops index flat arrays with unsigned integers. Numba checks every signed index for a negative
  value (``a[-1]`` is the last element), and that check keeps the compiler from turning a loop
  into vector instructions; an unsigned index cannot be negative, so the loop vectorises. The three
  tiny loops that do all the copying (``_fill``, ``_copy``, ``_add``) are inlined into each kernel.

The kernels are compiled on first use and cached on disk (``cache=True``), so only the first run on
a machine pays the compile time. ``NUMBA_DISABLE_JIT=1`` runs them as plain Python for debugging.
This module is imported only through ``scratchnet.backend.fast_kernels_for``.

Notation as in ``scratchnet.ops.im2col``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scratchnet.backend import Array
from scratchnet.kernels import numba_winograd
from scratchnet.kernels.fast_functions import (
    FastAvgPool2dFunction,
    FastConv2dFunction,
    FastMaxPool2dFunction,
)
from scratchnet.kernels.numba_threads import threaded_kernel
from scratchnet.ops.im2col import IntPair, window_geometry


@njit(cache=True, inline="always")
def _fill(dst, start, count, value):
    """dst[start + k] = value for k < count (unsigned indices: see the module docstring)."""
    start = np.uint64(start)
    for k in range(np.uint64(max(count, 0))):
        dst[start + k] = value


@njit(cache=True, inline="always")
def _copy(dst, start, src, src_start, count, step):
    """dst[start + k] = src[src_start + k * step] for k < count."""
    start, src_start = np.uint64(start), np.uint64(src_start)
    if step == 2:  # stride-2 layers: a constant step lets the compiler vectorise the gather
        for k in range(np.uint64(max(count, 0))):
            dst[start + k] = src[src_start + np.uint64(2) * k]
        return
    step = np.uint64(step)
    for k in range(np.uint64(max(count, 0))):
        dst[start + k] = src[src_start + k * step]


@njit(cache=True, inline="always")
def _add(dst, start, step, src, src_start, count):
    """dst[start + k * step] += src[src_start + k] for k < count."""
    start, src_start, step = np.uint64(start), np.uint64(src_start), np.uint64(step)
    for k in range(np.uint64(max(count, 0))):
        dst[start + k * step] += src[src_start + k]


@njit(cache=True)
def _valid_outputs(size, kernel, stride, padding, dilation, count):
    """For each kernel offset i: the outputs o in [lo[i], hi[i]) that read inside the input.

    Output o reads input index ``o * stride - padding + i * dilation``; it is inside when that
    lies in [0, size). Outside it, im2col writes padding and col2im drops the gradient.
    """
    lo, hi = np.zeros(kernel, np.int64), np.zeros(kernel, np.int64)
    for i in range(kernel):
        offset = i * dilation - padding
        first = 0 if offset >= 0 else (-offset + stride - 1) // stride  # ceil(-offset / stride)
        # one past the last output inside
        last = (size - 1 - offset) // stride + 1 if size - 1 - offset >= 0 else 0
        hi[i] = min(last, count)
        lo[i] = min(first, hi[i])
    return lo, hi


@njit(cache=True)
def _window_bounds(size, kernel, stride, padding, dilation, count):
    """For each output o: the kernel offsets i in [lo[o], hi[o]) whose input index lies inside."""
    lo, hi = np.zeros(count, np.int64), np.zeros(count, np.int64)
    for o in range(count):
        start = o * stride - padding
        first = 0 if start >= 0 else (-start + dilation - 1) // dilation
        last = (size - 1 - start) // dilation + 1 if size - 1 - start >= 0 else 0
        hi[o] = min(last, kernel)
        lo[o] = min(first, hi[o])
    return lo, hi


# --------------------------------------------------------------------------- im2col / col2im


@njit(cache=True, inline="always")
def _run(i, j, oh_lo, oh_hi, ow_lo, ow_hi, W, OW, PH, PW, DH, DW):
    """Window offset (i, j)'s run: (start in x's plane, start in the image's block of col, length).

    Only for a same convolution (``SH == SW == 1`` and ``OW == W``): output row oh + 1 then reads
    the input row after the one output row oh reads, so the inside part of all output rows is one
    contiguous run of x, and one of col.
    """
    h = oh_lo[i] - PH + i * DH  # the input row of the first output row inside
    in_plane = h * W + ow_lo[j] + j * DW - PW
    in_block = oh_lo[i] * OW + ow_lo[j]
    return in_plane, in_block, (oh_hi[i] - oh_lo[i] - 1) * OW + ow_hi[j] - ow_lo[j]


@njit(cache=True, inline="always")
def _fill_padding_columns(col_flat, block, i, j, oh_lo, oh_hi, ow_lo, ow_hi, OW, value):
    """Set the entries of col that read the left or right padding to ``value``.

    Output rows oh_lo[i] to oh_hi[i] only.

    A run (``_run``) also covers them, with the neighbouring rows' edge pixels.
    """
    for oh in range(oh_lo[i], oh_hi[i]):
        _fill(col_flat, block + oh * OW, ow_lo[j], value)
        _fill(col_flat, block + oh * OW + ow_hi[j], OW - ow_hi[j], value)


@threaded_kernel(family="columns")
def _im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, pad_value, col):
    N, C, H, W = x.shape
    P = OH * OW
    x_flat, col_flat = x.reshape(-1), col.reshape(-1)
    # Per kernel row i: the output rows inside; per kernel column j: the output columns inside.
    oh_lo, oh_hi = _valid_outputs(H, KH, SH, PH, DH, OH)
    ow_lo, ow_hi = _valid_outputs(W, KW, SW, PW, DW, OW)
    rows_follow = SH == 1 and SW == 1 and OW == W  # a same convolution: see _run
    # One row of col, (c, i, j), at a time, for all images.
    for r in prange(C * KH * KW):
        c, i, j = r // (KH * KW), (r // KW) % KH, r % KW
        for n in range(N):
            block = (r * N + n) * P  # col[r, n*P]: where image n's OH x OW outputs start
            _fill(col_flat, block, oh_lo[i] * OW, pad_value)  # rows that read the top padding
            if rows_follow and oh_hi[i] - oh_lo[i] > 1 and ow_hi[j] > ow_lo[j]:
                # Copy the whole run at once: one long loop the compiler vectorises, where the row
                # by row copy below makes 8-element loops on ResNet's 8x8 planes (5x slower).
                in_plane, in_block, count = _run(
                    i, j, oh_lo, oh_hi, ow_lo, ow_hi, W, OW, PH, PW, DH, DW
                )
                _copy(col_flat, block + in_block, x_flat, (n * C + c) * H * W + in_plane, count, 1)
                _fill_padding_columns(
                    col_flat, block, i, j, oh_lo, oh_hi, ow_lo, ow_hi, OW, pad_value
                )
            else:
                for oh in range(oh_lo[i], oh_hi[i]):
                    out = block + oh * OW
                    h = oh * SH - PH + i * DH
                    # x[n, c, h, the first column inside]
                    first = ((n * C + c) * H + h) * W + ow_lo[j] * SW + j * DW - PW
                    _fill(col_flat, out, ow_lo[j], pad_value)
                    _copy(col_flat, out + ow_lo[j], x_flat, first, ow_hi[j] - ow_lo[j], SW)
                    _fill(col_flat, out + ow_hi[j], OW - ow_hi[j], pad_value)
            bottom = (OH - oh_hi[i]) * OW  # outputs of the rows that read the bottom padding
            _fill(col_flat, block + oh_hi[i] * OW, bottom, pad_value)


def im2col(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    pad_value: float = 0.0,
    out: Array | None = None,
) -> Array:
    """Fast :func:`scratchnet.ops.im2col.im2col`: (N, C, H, W) -> (C*KH*KW, N*OH*OW)."""
    g = window_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    N, C = x.shape[:2]
    if out is None:
        out = np.empty((C * g.KH * g.KW, N * g.OH * g.OW), dtype=x.dtype)
    _im2col(out.size, np.ascontiguousarray(x), *g, pad_value, out)
    return out


@threaded_kernel(family="columns")
def _col2im(col, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, overwrite_col, gx):
    N, C, H, W = gx.shape
    P = OH * OW
    col_flat, gx_flat = col.reshape(-1), gx.reshape(-1)
    oh_lo, oh_hi = _valid_outputs(H, KH, SH, PH, DH, OH)
    ow_lo, ow_hi = _valid_outputs(W, KW, SW, PW, DW, OW)
    rows_follow = SH == 1 and SW == 1 and OW == W  # a same convolution: see _run
    for task in prange(N * C):  # one (image, channel) plane at a time
        n, c = task // C, task % C
        plane = task * H * W  # gx[n, c, 0, 0]
        _fill(gx_flat, plane, H * W, 0)
        for i in range(KH):
            for j in range(KW):
                block = (((c * KH + i) * KW + j) * N + n) * P  # col[(c, i, j), n*P]
                one_run = rows_follow and oh_hi[i] - oh_lo[i] > 1 and ow_hi[j] > ow_lo[j]
                if overwrite_col and one_run:
                    # Add the whole run at once. It also spans the entries of col that fell on the
                    # padding columns: zeroed first (the caller allowed it), they add nothing.
                    _fill_padding_columns(col_flat, block, i, j, oh_lo, oh_hi, ow_lo, ow_hi, OW, 0)
                    in_plane, in_block, count = _run(
                        i, j, oh_lo, oh_hi, ow_lo, ow_hi, W, OW, PH, PW, DH, DW
                    )
                    _add(gx_flat, plane + in_plane, 1, col_flat, block + in_block, count)
                    continue
                for oh in range(oh_lo[i], oh_hi[i]):  # rows outside fell on the padding: dropped
                    h = oh * SH - PH + i * DH
                    first = plane + h * W + ow_lo[j] * SW + j * DW - PW
                    inside = block + oh * OW + ow_lo[j]  # col's first entry read inside x
                    _add(gx_flat, first, SW, col_flat, inside, ow_hi[j] - ow_lo[j])


def col2im(
    col: Array,
    x_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    out: Array | None = None,
    overwrite_col: bool = False,
) -> Array:
    """Fast :func:`scratchnet.ops.im2col.col2im`: (C*KH*KW, N*OH*OW) -> (N, C, H, W)."""
    g = window_geometry(x_shape, kernel_size, stride, padding, dilation, ceil_mode)
    if out is None:
        out = np.empty(x_shape, dtype=col.dtype)
    contiguous = np.ascontiguousarray(col)
    # A copy made just above is ours to overwrite; the caller's col only if it allowed it.
    _col2im(col.size, contiguous, *g, overwrite_col or contiguous is not col, out)
    return out


# --------------------------------------------------------------------------- layout reorders


@threaded_kernel(family="columns")
def _rows_to_nchw(rows, bias, out):
    N, OC, P = out.shape
    rows_flat, out_flat = rows.reshape(-1), out.reshape(-1)
    for task in prange(N * OC):
        n, o = task // OC, task % OC
        b = bias[o]
        src, dst = np.uint64((o * N + n) * P), np.uint64(task * P)  # rows[o, n*P], out[n, o, 0]
        for p in range(np.uint64(P)):
            out_flat[dst + p] = rows_flat[src + p] + b


def rows_to_nchw(rows: Array, out: Array, bias: Array | None = None) -> Array:
    """Fast reorder of a conv product: (OC, N*OH*OW) -> (N, OC, OH, OW), + bias."""
    N, OC = out.shape[:2]
    if bias is None:
        bias = np.zeros(OC, dtype=rows.dtype)  # adding 0 keeps one compiled kernel
    _rows_to_nchw(out.size, np.ascontiguousarray(rows), bias, out.reshape(N, OC, -1))
    return out


@threaded_kernel(family="columns")
def _nchw_to_rows(y, out):
    N, OC, P = y.shape
    y_flat, out_flat = y.reshape(-1), out.reshape(-1)
    for task in prange(N * OC):
        n, o = task // OC, task % OC
        _copy(out_flat, (o * N + n) * P, y_flat, task * P, P, 1)  # out[o, n*P:(n+1)*P] = y[n, o]


def nchw_to_rows(y: Array, out: Array | None = None) -> Array:
    """Fast reorder of a conv gradient: (N, OC, OH, OW) -> (OC, N*OH*OW)."""
    N, OC, OH, OW = y.shape
    if out is None:
        out = np.empty((OC, N * OH * OW), dtype=y.dtype)
    _nchw_to_rows(out.size, np.ascontiguousarray(y).reshape(N, OC, OH * OW), out)
    return out


# --------------------------------------------------------------------------- max pooling


@threaded_kernel
def _max_pool2d_forward(x, KH, KW, SH, SW, PH, PW, DH, DW, y, indices):
    N, C, H, W = x.shape
    OH, OW = y.shape[2:]
    x_flat, y_flat, indices_flat = x.reshape(-1), y.reshape(-1), indices.reshape(-1)
    # Per output row: the kernel rows inside the input; per output column: its first kernel
    # column inside; per kernel column: the output columns inside.
    i_lo, i_hi = _window_bounds(H, KH, SH, PH, DH, OH)
    j_lo, _ = _window_bounds(W, KW, SW, PW, DW, OW)
    ow_lo, ow_hi = _valid_outputs(W, KW, SW, PW, DW, OW)
    # One (image, channel) plane per task, one output row at a time.
    for task in prange(N * C):
        plane = np.uint64(task * H * W)
        for oh in range(OH):
            h0 = oh * SH - PH
            out = np.uint64((task * OH + oh) * OW)  # y[n, c, oh, 0]
            # Each window starts from its first element inside the input (padding never wins) ...
            first_row = (h0 + i_lo[oh] * DH) * W - PW
            for ow in range(OW):
                at = first_row + ow * SW + j_lo[ow] * DW
                y_flat[out + np.uint64(ow)] = x_flat[plane + np.uint64(at)]
                indices_flat[out + np.uint64(ow)] = at
            # ... then meets its elements in row-major order, each window offset (i, j) swept over
            # the whole output row at once: long loops, where one window at a time makes 2x2 loops.
            for i in range(i_lo[oh], i_hi[oh]):
                row = (h0 + i * DH) * W - PW
                for j in range(KW):
                    for ow in range(ow_lo[j], ow_hi[j]):
                        at = row + ow * SW + j * DW
                        v = x_flat[plane + np.uint64(at)]
                        best = y_flat[out + np.uint64(ow)]
                        # Strictly greater: the first maximum wins a tie; NaN wins, as in np.argmax.
                        if v > best or (np.isnan(v) and not np.isnan(best)):
                            y_flat[out + np.uint64(ow)] = v
                            indices_flat[out + np.uint64(ow)] = at


def max_pool2d_forward(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> tuple[Array, Array]:
    """Fast :func:`scratchnet.ops.pool.max_pool2d_forward`: (N, C, H, W) -> y, indices.

    Both (N, C, OH, OW).
    """
    g = window_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    N, C = x.shape[:2]
    y = np.empty((N, C, g.OH, g.OW), dtype=x.dtype)
    indices = np.empty((N, C, g.OH, g.OW), dtype=np.int64)
    args = (g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW)
    _max_pool2d_forward(y.size * g.KH * g.KW, np.ascontiguousarray(x), *args, y, indices)
    return y, indices


@threaded_kernel
def _max_pool2d_backward(gy, indices, gx):
    N, C, P = gy.shape
    HW = gx.shape[2]
    gy_flat, indices_flat, gx_flat = gy.reshape(-1), indices.reshape(-1), gx.reshape(-1)
    for task in prange(N * C):
        plane = np.uint64(task * HW)
        _fill(gx_flat, plane, HW, 0)
        for p in range(np.uint64(task * P), np.uint64((task + 1) * P)):
            # += : one element may win several windows
            gx_flat[plane + np.uint64(indices_flat[p])] += gy_flat[p]


def max_pool2d_backward(gy: Array, indices: Array, x_shape: tuple[int, int, int, int]) -> Array:
    """Fast :func:`scratchnet.ops.pool.max_pool2d_backward`: scatter gy to the winners."""
    N, C, H, W = x_shape
    gx = np.empty(x_shape, dtype=gy.dtype)
    P = gy.shape[2] * gy.shape[3]  # OH*OW (not -1: ambiguous for an empty batch)
    gy3 = np.ascontiguousarray(gy).reshape(N, C, P)
    indices3 = np.ascontiguousarray(indices, dtype=np.int64).reshape(N, C, P)
    _max_pool2d_backward(gx.size + gy.size, gy3, indices3, gx.reshape(N, C, H * W))
    return gx


# --------------------------------------------------------------------------- average pooling


@njit(cache=True)
def _avg_windows(size, kernel, stride, padding, count, count_include_pad):
    """Per output o: its window [start, end) cut to the input, and the size it divides by.

    The divisor counts the padding (``count_include_pad``) up to the end of the padded input, where
    a ceil-mode window may hang over; otherwise only the input elements.
    """
    start, end = np.zeros(count, np.int64), np.zeros(count, np.int64)
    divisor = np.zeros(count, np.int64)
    for o in range(count):
        first = o * stride - padding
        last = min(first + kernel, size + padding)
        start[o], end[o] = max(first, 0), min(last, size)
        divisor[o] = last - first if count_include_pad else end[o] - start[o]
    return start, end, divisor


@threaded_kernel
def _avg_pool2d_forward(x, KH, KW, SH, SW, PH, PW, count_include_pad, y):
    N, C, H, W = x.shape
    OH, OW = y.shape[2:]
    x_flat, y_flat = x.reshape(-1), y.reshape(-1)
    h_start, h_end, h_div = _avg_windows(H, KH, SH, PH, OH, count_include_pad)
    w_start, w_end, w_div = _avg_windows(W, KW, SW, PW, OW, count_include_pad)
    for task in prange(N * C):
        plane = task * H * W
        for oh in range(OH):
            for ow in range(OW):
                total = 0.0
                for h in range(h_start[oh], h_end[oh]):
                    row = np.uint64(plane + h * W)
                    for w in range(np.uint64(w_start[ow]), np.uint64(w_end[ow])):
                        total += x_flat[row + w]
                y_flat[np.uint64((task * OH + oh) * OW + ow)] = total / (h_div[oh] * w_div[ow])


def avg_pool2d_forward(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Array:
    """Fast :func:`scratchnet.ops.pool.avg_pool2d_forward`: (N, C, H, W) -> (N, C, OH, OW)."""
    g = window_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode)
    N, C = x.shape[:2]
    y = np.empty((N, C, g.OH, g.OW), dtype=x.dtype)
    args = (g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, count_include_pad)
    _avg_pool2d_forward(y.size * g.KH * g.KW, np.ascontiguousarray(x), *args, y)
    return y


@threaded_kernel
def _avg_pool2d_backward(gy, KH, KW, SH, SW, PH, PW, count_include_pad, gx):
    N, C, H, W = gx.shape
    OH, OW = gy.shape[2:]
    gy_flat, gx_flat = gy.reshape(-1), gx.reshape(-1)
    h_start, h_end, h_div = _avg_windows(H, KH, SH, PH, OH, count_include_pad)
    w_start, w_end, w_div = _avg_windows(W, KW, SW, PW, OW, count_include_pad)
    for task in prange(N * C):
        plane = task * H * W
        _fill(gx_flat, plane, H * W, 0)
        for oh in range(OH):
            for ow in range(OW):
                share = gy_flat[np.uint64((task * OH + oh) * OW + ow)] / (h_div[oh] * w_div[ow])
                for h in range(h_start[oh], h_end[oh]):
                    row = np.uint64(plane + h * W)
                    for w in range(np.uint64(w_start[ow]), np.uint64(w_end[ow])):
                        gx_flat[row + w] += share


def avg_pool2d_backward(
    gy: Array,
    x_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Array:
    """Fast :func:`scratchnet.ops.pool.avg_pool2d_backward`: (N, C, OH, OW) -> (N, C, H, W)."""
    g = window_geometry(x_shape, kernel_size, stride, padding, 1, ceil_mode)
    gx = np.empty(x_shape, dtype=gy.dtype)
    args = (g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, count_include_pad)
    _avg_pool2d_backward(gy.size * g.KH * g.KW, np.ascontiguousarray(gy), *args, gx)
    return gx


# --------------------------------------------------------------------------- the fast Functions

# The column matrix of a whole batch is KH*KW times larger than its input (9x for 3x3), so the fast
# conv2d builds it a few images at a time into one buffer of at most this size, and no larger than
# the input itself (one image's columns at least). A buffer that stays in the CPU's cache is filled
# and read by the matrix product without going through main memory; the cap by the input keeps the
# extra memory of a late, small layer (ResNet's 8x8 stage) near its own size.
COLUMN_BUFFER_BYTES = 8 * 2**20


class Conv2dFunction(FastConv2dFunction):
    """Fast :class:`scratchnet.ops.conv.Conv2dFunction` on the CPU: cache-sized column chunks,
    and Winograd F(2x2, 3x3) for the 3x3 stride-1 layers where it was measured to win.
    """

    winograd = numba_winograd

    im2col, col2im = staticmethod(im2col), staticmethod(col2im)
    rows_to_nchw, nchw_to_rows = staticmethod(rows_to_nchw), staticmethod(nchw_to_rows)

    def column_budget(self, x: Array) -> int:
        return min(COLUMN_BUFFER_BYTES, x.nbytes)


class MaxPool2dFunction(FastMaxPool2dFunction):
    """Fast :class:`scratchnet.ops.pool.MaxPool2dFunction` on the CPU."""

    max_pool2d_forward = staticmethod(max_pool2d_forward)
    max_pool2d_backward = staticmethod(max_pool2d_backward)


class AvgPool2dFunction(FastAvgPool2dFunction):
    """Fast :class:`scratchnet.ops.pool.AvgPool2dFunction` on the CPU."""

    avg_pool2d_forward = staticmethod(avg_pool2d_forward)
    avg_pool2d_backward = staticmethod(avg_pool2d_backward)
