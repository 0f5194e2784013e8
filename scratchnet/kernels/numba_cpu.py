"""Fast CPU kernels, compiled by Numba: the same functions as the NumPy reference, only faster.

Every public function here has the signature, the memory layout and the result of the reference
function its docstring names (``scratchnet.ops.im2col.im2col`` and so on); a parity test pins each
pair together (tests/test_kernels.py). The public functions are thin Python wrappers that allocate
the outputs and call a compiled ``_kernel`` that writes into them.

Why they are faster than the NumPy reference:

* one pass over memory: the reference makes KH*KW strided copies (im2col) or a padded copy plus an
  im2col (pooling); these loops read each input element once and write each output element once;
* both CPU cores: ``prange`` splits the outer loop (over rows of the column matrix, or over the
  (image, channel) planes) between threads, and every thread writes only its own part of the
  output, so there is no race and no lock;
* no temporary arrays and no float64 promotion.

The kernels are compiled on first use and cached on disk (``cache=True``), so only the first run on
a machine pays the compile time. ``NUMBA_DISABLE_JIT=1`` runs them as plain Python for debugging.
This module is imported only through ``scratchnet.backend.fast_kernels_for``.

Notation as in ``scratchnet.ops.im2col``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from scratchnet.backend import Array
from scratchnet.ops.im2col import IntPair, window_geometry


# Below this many output elements a kernel runs on one thread: waking the other threads costs
# 10-30 us (much more when the machine is busy), more than the work itself.
PARALLEL_MIN_WORK = 2**16


def _launch(kernel, work: int, *args) -> None:
    """Run a compiled ``prange`` kernel, threaded only when there is enough work to share."""
    if work >= PARALLEL_MIN_WORK:
        kernel(*args)
        return
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        kernel(*args)
    finally:
        numba.set_num_threads(threads)


@njit(cache=True)
def _valid_range(offset, stride, size, count):
    """The outputs o in [lo, hi) whose input index ``o*stride + offset`` lies in [0, size)."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = 0 if size - 1 - offset < 0 else (size - 1 - offset) // stride + 1
    hi = min(hi, count)
    return min(lo, hi), hi


# --------------------------------------------------------------------------- im2col / col2im


@njit(parallel=True, cache=True)
def _im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, pad_value, col):
    N, C, H, W = x.shape
    P = OH * OW
    # One task per (row of col, image): a contiguous run of P outputs, written by one thread.
    for task in prange(C * KH * KW * N):
        r, n = task // N, task % N
        c, i, j = r // (KH * KW), (r // KW) % KH, r % KW
        dst = col[r, n * P : (n + 1) * P]
        w_offset = j * DW - PW
        lo, hi = _valid_range(w_offset, SW, W, OW)  # the ow whose column is inside the input
        for oh in range(OH):
            h = oh * SH - PH + i * DH
            out_row = dst[oh * OW : (oh + 1) * OW]
            if h < 0 or h >= H:
                out_row[:] = pad_value
                continue
            src = x[n, c, h]
            out_row[:lo] = pad_value
            if SW == 1:  # a contiguous copy, which the compiler vectorises
                out_row[lo:hi] = src[lo + w_offset : hi + w_offset]
            else:
                for ow in range(lo, hi):
                    out_row[ow] = src[ow * SW + w_offset]
            out_row[hi:] = pad_value


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
    _launch(_im2col, out.size, np.ascontiguousarray(x), *g, pad_value, out)
    return out


@njit(parallel=True, cache=True)
def _col2im(col, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, gx):
    N, C, H, W = gx.shape
    P = OH * OW
    # One task per (image, channel) plane: only this task writes to it.
    for task in prange(N * C):
        n, c = task // C, task % C
        plane = gx[n, c]
        plane[:] = 0
        for i in range(KH):
            for j in range(KW):
                src = col[(c * KH + i) * KW + j, n * P : (n + 1) * P]
                w_offset = j * DW - PW
                lo, hi = _valid_range(w_offset, SW, W, OW)
                for oh in range(OH):
                    h = oh * SH - PH + i * DH
                    if h < 0 or h >= H:
                        continue  # this part of the window lies on the padding: dropped
                    row = plane[h]
                    src_row = src[oh * OW : (oh + 1) * OW]
                    if SW == 1:
                        row[lo + w_offset : hi + w_offset] += src_row[lo:hi]
                    else:
                        for ow in range(lo, hi):
                            row[ow * SW + w_offset] += src_row[ow]


def col2im(
    col: Array,
    x_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    out: Array | None = None,
) -> Array:
    """Fast :func:`scratchnet.ops.im2col.col2im`: (C*KH*KW, N*OH*OW) -> (N, C, H, W)."""
    g = window_geometry(x_shape, kernel_size, stride, padding, dilation, ceil_mode)
    if out is None:
        out = np.empty(x_shape, dtype=col.dtype)
    _launch(_col2im, col.size, np.ascontiguousarray(col), *g, out)
    return out


# --------------------------------------------------------------------------- layout reorders


@njit(parallel=True, cache=True)
def _rows_to_nchw(rows, bias, has_bias, out):
    N, OC = out.shape[:2]
    P = rows.shape[1] // N
    for task in prange(N * OC):
        n, o = task // OC, task % OC
        src = rows[o, n * P : (n + 1) * P]
        dst = out[n, o]
        b = bias[o] if has_bias else 0
        for p in range(P):
            dst[p] = src[p] + b


def rows_to_nchw(rows: Array, out: Array, bias: Array | None = None) -> Array:
    """Fast :func:`scratchnet.ops.im2col.rows_to_nchw`: (OC, N*OH*OW) -> (N, OC, OH, OW), + bias."""
    N, OC = out.shape[:2]
    flat = out.reshape(N, OC, -1)  # a view: out is contiguous
    has_bias = bias is not None
    if not has_bias:
        bias = np.zeros(OC, dtype=rows.dtype)  # unused; keeps one compiled signature
    _launch(_rows_to_nchw, rows.size, np.ascontiguousarray(rows), bias, has_bias, flat)
    return out


@njit(parallel=True, cache=True)
def _nchw_to_rows(y, out):
    N, OC, P = y.shape
    for task in prange(N * OC):
        n, o = task // OC, task % OC
        out[o, n * P : (n + 1) * P] = y[n, o]


def nchw_to_rows(y: Array, out: Array | None = None) -> Array:
    """Fast :func:`scratchnet.ops.im2col.nchw_to_rows`: (N, OC, OH, OW) -> (OC, N*OH*OW)."""
    N, OC, OH, OW = y.shape
    if out is None:
        out = np.empty((OC, N * OH * OW), dtype=y.dtype)
    _launch(_nchw_to_rows, out.size, np.ascontiguousarray(y).reshape(N, OC, OH * OW), out)
    return out


# --------------------------------------------------------------------------- max pooling


@njit(parallel=True, cache=True)
def _max_pool2d_forward(x, KH, KW, SH, SW, PH, PW, DH, DW, y, indices):
    N, C, H, W = x.shape
    OH, OW = y.shape[2:]
    for task in prange(N * C):
        n, c = task // C, task % C
        plane = x[n, c]
        for oh in range(OH):
            h0 = oh * SH - PH
            i_lo, i_hi = _valid_range(h0, DH, H, KH)  # the kernel rows inside the input
            for ow in range(OW):
                w0 = ow * SW - PW
                j_lo, j_hi = _valid_range(w0, DW, W, KW)
                # Start from the first element inside the input (padding is -inf: it never wins).
                best_h, best_w = h0 + i_lo * DH, w0 + j_lo * DW
                best = plane[best_h, best_w]
                for i in range(i_lo, i_hi):
                    h = h0 + i * DH
                    for j in range(j_lo, j_hi):
                        v = plane[h, w0 + j * DW]
                        # Strictly greater: the first maximum wins a tie; NaN wins, as in np.argmax.
                        if v > best or (np.isnan(v) and not np.isnan(best)):
                            best, best_h, best_w = v, h, w0 + j * DW
                y[n, c, oh, ow] = best
                indices[n, c, oh, ow] = best_h * W + best_w


def max_pool2d_forward(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> tuple[Array, Array]:
    """Fast :func:`scratchnet.ops.pool.max_pool2d_forward`: (N, C, H, W) -> y, indices (N, C, OH, OW)."""
    g = window_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    N, C = x.shape[:2]
    y = np.empty((N, C, g.OH, g.OW), dtype=x.dtype)
    indices = np.empty((N, C, g.OH, g.OW), dtype=np.int64)
    work = y.size * g.KH * g.KW
    _launch(_max_pool2d_forward, work, np.ascontiguousarray(x), g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, y, indices)
    return y, indices


@njit(parallel=True, cache=True)
def _max_pool2d_backward(gy, indices, gx):
    N, C, P = gy.shape
    for task in prange(N * C):
        n, c = task // C, task % C
        plane = gx[n, c]
        plane[:] = 0
        for p in range(P):
            plane[indices[n, c, p]] += gy[n, c, p]  # one element may win several windows: add


def max_pool2d_backward(gy: Array, indices: Array, x_shape: tuple[int, int, int, int]) -> Array:
    """Fast :func:`scratchnet.ops.pool.max_pool2d_backward`: scatter gy to the winners."""
    N, C, H, W = x_shape
    gx = np.empty(x_shape, dtype=gy.dtype)
    _launch(
        _max_pool2d_backward,
        gx.size + gy.size,
        np.ascontiguousarray(gy).reshape(N, C, -1),
        np.ascontiguousarray(indices, dtype=np.int64).reshape(N, C, -1),
        gx.reshape(N, C, H * W),
    )
    return gx


# --------------------------------------------------------------------------- average pooling


@njit(cache=True)
def _window(o, stride, padding, kernel, size):
    """Window o along one axis: its first and one-past-last input index, and its divisor parts.

    Returns (start, end) cut to the input, and the length counted with padding (cut only at the
    end of the padded input, where a ceil-mode window may hang over).
    """
    start = o * stride - padding
    end = min(start + kernel, size + padding)
    with_pad = end - start
    return max(start, 0), min(end, size), with_pad


@njit(parallel=True, cache=True)
def _avg_pool2d_forward(x, KH, KW, SH, SW, PH, PW, count_include_pad, y):
    N, C, H, W = x.shape
    OH, OW = y.shape[2:]
    for task in prange(N * C):
        n, c = task // C, task % C
        plane = x[n, c]
        for oh in range(OH):
            h_start, h_end, h_pad = _window(oh, SH, PH, KH, H)
            for ow in range(OW):
                w_start, w_end, w_pad = _window(ow, SW, PW, KW, W)
                total = 0.0
                for h in range(h_start, h_end):
                    for w in range(w_start, w_end):
                        total += plane[h, w]
                if count_include_pad:
                    divisor = h_pad * w_pad
                else:
                    divisor = (h_end - h_start) * (w_end - w_start)
                y[n, c, oh, ow] = total / divisor


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
    work = y.size * g.KH * g.KW
    _launch(_avg_pool2d_forward, work, np.ascontiguousarray(x), g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, count_include_pad, y)
    return y


@njit(parallel=True, cache=True)
def _avg_pool2d_backward(gy, KH, KW, SH, SW, PH, PW, count_include_pad, gx):
    N, C, H, W = gx.shape
    OH, OW = gy.shape[2:]
    for task in prange(N * C):
        n, c = task // C, task % C
        plane = gx[n, c]
        plane[:] = 0
        for oh in range(OH):
            h_start, h_end, h_pad = _window(oh, SH, PH, KH, H)
            for ow in range(OW):
                w_start, w_end, w_pad = _window(ow, SW, PW, KW, W)
                if count_include_pad:
                    divisor = h_pad * w_pad
                else:
                    divisor = (h_end - h_start) * (w_end - w_start)
                share = gy[n, c, oh, ow] / divisor
                for h in range(h_start, h_end):
                    for w in range(w_start, w_end):
                        plane[h, w] += share


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
    work = gy.size * g.KH * g.KW
    _launch(_avg_pool2d_backward, work, np.ascontiguousarray(gy), g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, count_include_pad, gx)
    return gx
