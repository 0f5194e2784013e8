"""Fast GPU kernels, in CUDA C compiled by CuPy: the same functions as the NumPy reference.

Every public function here has the signature, the memory layout and the result of the reference
function its docstring names (``scratchnet.ops.im2col.im2col`` and so on), exactly as the CPU
siblings in ``numba_cpu.py`` and ``numba_norm.py``; ``tests/test_gpu.py`` pins each pair together on
a GPU, and ``tests/test_cupy_gpu_emulated.py`` runs the same CUDA C on the CPU (see below).

How a GPU kernel differs from the Numba loops:

* one thread per OUTPUT element, thousands at a time. The CPU kernels give each of 2 cores a big
  slice of the work; a GPU wants a thread for every element it writes, and it runs them in groups of
  32 ("warps") that should touch neighbouring addresses together ("coalesced" access). Each kernel
  below maps a flat thread number ``k`` to the element it writes, in memory order, so neighbouring
  threads write neighbouring elements;
* gather, not scatter: col2im and average pooling's backward are written per INPUT pixel (each
  thread adds up every window element that sits on its pixel) instead of per window element (which
  would have several threads adding to one pixel at once). No two threads write the same address,
  so no atomic operations are needed and the sums are deterministic. Only max pooling's backward
  scatters with ``atomicAdd``: it receives just the winners' indices, not the window geometry (the
  adaptive max pooling uses it too), so it cannot know which windows cover a pixel. Where windows
  overlap, the order of those few additions (and so the last bits of a float32 sum) may vary;
* a grid-stride loop (``for (k = first thread; k < count; k += all threads)``): the kernel is
  correct for any number of threads, even one, which is how the emulated test runs it on the CPU;
* 32-bit index arithmetic whenever every size fits (integer division is much slower in 64 bits on
  a GPU, and im2col divides six times per element); ``long long`` above 2^30 elements.

The matrix products themselves are not here: conv2d calls ``xp.matmul``, which CuPy sends to cuBLAS.
Batch normalization's per-channel loops are a CuPy ``ReductionKernel`` (a per-channel sum of
(x - mean)^2, or of g (x - mean), in one pass without the temporary array) and two
``ElementwiseKernel``s (the affine maps, one pass each instead of two or three).

Kernels are compiled by NVRTC on first use (a second or so each) and cached on disk by CuPy under
``~/.cupy/kernel_cache``. Only float32 and float64 are compiled, as on the CPU. This module is
imported only through ``scratchnet.backend.fast_kernels_for``, i.e. once a CuPy array exists.

Notation as in ``scratchnet.ops.im2col``.
"""

from __future__ import annotations

import functools

import cupy
import numpy as np

from scratchnet.backend import Array
from scratchnet.kernels.fast_functions import (
    FastAvgPool2dFunction,
    FastBatchNormFunction,
    FastConv2dFunction,
    FastMaxPool2dFunction,
)
from scratchnet.ops.im2col import IntPair, window_geometry

BLOCK = 256  # threads per block: a multiple of the warp size (32), a common good default
MAX_BLOCKS = 2**31 - 1  # the largest grid CUDA launches in x; the grid-stride loop covers the rest
INDEX32_LIMIT = 2**30  # below it, 32-bit indices (k + all threads stays below 2^31: no overflow)
C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

# Put in front of every kernel: T is the element type, index_t the index type, chosen per launch.
PRELUDE = r"""
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
// Thread k handles element k, k + (all threads), ... up to count.
#define FOR_EACH_ELEMENT(k, count) \
    for (index_t k = (index_t)blockIdx.x * blockDim.x + threadIdx.x; k < (count); \
         k += (index_t)blockDim.x * gridDim.x)
"""

# --------------------------------------------------------------------------- CUDA C sources

SOURCES = {
    # col (C*KH*KW, N*OH*OW): thread k writes col[k], reading one input element or the padding.
    "im2col": r"""
extern "C" __global__ void scratchnet_im2col(
    const T* x, T* col, index_t N, index_t C, index_t H, index_t W, index_t KH, index_t KW,
    index_t SH, index_t SW, index_t PH, index_t PW, index_t DH, index_t DW, index_t OH, index_t OW,
    T pad_value, index_t count)
{
    FOR_EACH_ELEMENT(k, count) {
        index_t ow = k % OW, oh = (k / OW) % OH, n = (k / (OW * OH)) % N;
        index_t r = k / (OW * OH * N);  // the row of col: (c, i, j)
        index_t j = r % KW, i = (r / KW) % KH, c = r / (KW * KH);
        index_t h = oh * SH - PH + i * DH, w = ow * SW - PW + j * DW;  // in the unpadded input
        bool inside = 0 <= h && h < H && 0 <= w && w < W;
        col[k] = inside ? x[((n * C + c) * H + h) * W + w] : pad_value;
    }
}
""",
    # x (N, C, H, W): thread k sums, for its pixel (h, w), the col entries of the window elements
    # on it.
    "col2im": r"""
extern "C" __global__ void scratchnet_col2im(
    const T* col, T* x, index_t N, index_t C, index_t H, index_t W, index_t KH, index_t KW,
    index_t SH, index_t SW, index_t PH, index_t PW, index_t DH, index_t DW, index_t OH, index_t OW,
    index_t count)
{
    FOR_EACH_ELEMENT(k, count) {
        index_t w = k % W, h = (k / W) % H, c = (k / (W * H)) % C, n = k / (W * H * C);
        T total = 0;
        for (index_t i = 0; i < KH; ++i) {
            // Kernel row i of output row oh sits on h when oh * SH = h + PH - i * DH.
            index_t row = h + PH - i * DH;
            if (row < 0 || row % SH != 0 || row / SH >= OH) continue;
            index_t oh = row / SH;
            for (index_t j = 0; j < KW; ++j) {
                index_t column = w + PW - j * DW;
                if (column < 0 || column % SW != 0 || column / SW >= OW) continue;
                index_t ow = column / SW;
                total += col[(((c * KH + i) * KW + j) * N + n) * OH * OW + oh * OW + ow];
            }
        }
        x[k] = total;  // (i, j) in increasing order, as the reference adds them
    }
}
""",
    # out (N, OC, P) from rows (OC, N*P), plus the bias of each channel.
    "rows_to_nchw": r"""
extern "C" __global__ void scratchnet_rows_to_nchw(
    const T* rows, const T* bias, T* out, index_t N, index_t OC, index_t P, index_t has_bias,
    index_t count)
{
    FOR_EACH_ELEMENT(k, count) {
        index_t p = k % P, o = (k / P) % OC, n = k / (P * OC);
        T value = rows[(o * N + n) * P + p];
        out[k] = has_bias ? value + bias[o] : value;
    }
}
""",
    # rows (OC, N*P) from y (N, OC, P).
    "nchw_to_rows": r"""
extern "C" __global__ void scratchnet_nchw_to_rows(
    const T* y, T* rows, index_t N, index_t OC, index_t P, index_t count)
{
    FOR_EACH_ELEMENT(k, count) {
        index_t p = k % P, n = (k / P) % N, o = k / (P * N);
        rows[k] = y[(n * OC + o) * P + p];
    }
}
""",
    # y, indices (N*C, OH, OW): thread k scans its window, skipping what lies on the padding.
    "max_pool2d_forward": r"""
extern "C" __global__ void scratchnet_max_pool2d_forward(
    const T* x, T* y, long long* indices, index_t H, index_t W, index_t KH, index_t KW, index_t SH,
    index_t SW, index_t PH, index_t PW, index_t DH, index_t DW, index_t OH, index_t OW,
    index_t count)
{
    FOR_EACH_ELEMENT(k, count) {
        index_t ow = k % OW, oh = (k / OW) % OH, plane = k / (OW * OH);
        const T* image = x + plane * H * W;  // this (n, c) plane
        T best = 0;
        index_t best_at = -1;  // none yet: padding never wins (the reference pads with -inf)
        for (index_t i = 0; i < KH; ++i) {
            index_t h = oh * SH - PH + i * DH;
            if (h < 0 || h >= H) continue;
            for (index_t j = 0; j < KW; ++j) {
                index_t w = ow * SW - PW + j * DW;
                if (w < 0 || w >= W) continue;
                T v = image[h * W + w];
                // Strictly greater: the first maximum wins a tie; a NaN wins, as in np.argmax.
                if (best_at < 0 || v > best || (isnan(v) && !isnan(best))) {
                    best = v;
                    best_at = h * W + w;
                }
            }
        }
        y[k] = best;
        indices[k] = best_at;  // every window holds an input element (pool.py checks it)
    }
}
""",
    # gx (N*C, H*W) += gy (N*C, P) at the winners; gx starts at zero.
    "max_pool2d_backward": r"""
extern "C" __global__ void scratchnet_max_pool2d_backward(
    const T* gy, const long long* indices, T* gx, index_t P, index_t HW, index_t count)
{
    FOR_EACH_ELEMENT(k, count) {
        // atomicAdd: one element may win several overlapping windows, whose threads add at once.
        atomicAdd(&gx[(k / P) * HW + indices[k]], gy[k]);
    }
}
""",
    # y (N*C, OH, OW): the mean over the window cut to the input, divided as PyTorch does.
    "avg_pool2d_forward": r"""
extern "C" __global__ void scratchnet_avg_pool2d_forward(
    const T* x, T* y, index_t H, index_t W, index_t KH, index_t KW, index_t SH, index_t SW,
    index_t PH, index_t PW, index_t OH, index_t OW, index_t count_include_pad, index_t count)
{
    FOR_EACH_ELEMENT(k, count) {
        index_t ow = k % OW, oh = (k / OW) % OH, plane = k / (OW * OH);
        const T* image = x + plane * H * W;
        index_t h_first = oh * SH - PH, w_first = ow * SW - PW;
        // A window ends at the padded input's edge (a ceil-mode window may hang over it) ...
        index_t h_last = MIN(h_first + KH, H + PH), w_last = MIN(w_first + KW, W + PW);
        // ... and its input elements are those inside [0, H) x [0, W).
        index_t h_start = MAX(h_first, 0), h_end = MIN(h_last, H);
        index_t w_start = MAX(w_first, 0), w_end = MIN(w_last, W);
        index_t divisor = count_include_pad ? (h_last - h_first) * (w_last - w_first)
                                            : (h_end - h_start) * (w_end - w_start);
        T total = 0;
        for (index_t h = h_start; h < h_end; ++h)
            for (index_t w = w_start; w < w_end; ++w) total += image[h * W + w];
        y[k] = total / (T)divisor;
    }
}
""",
    # gx (N*C, H, W): thread k adds the shares of every window that contains its pixel.
    "avg_pool2d_backward": r"""
extern "C" __global__ void scratchnet_avg_pool2d_backward(
    const T* gy, T* gx, index_t H, index_t W, index_t KH, index_t KW, index_t SH, index_t SW,
    index_t PH, index_t PW, index_t OH, index_t OW, index_t count_include_pad, index_t count)
{
    FOR_EACH_ELEMENT(k, count) {
        index_t w = k % W, h = (k / W) % H, plane = k / (W * H);
        // Window oh covers rows [oh*SH - PH, oh*SH - PH + KH): it contains h for oh from
        // ceil((h + PH - KH + 1) / SH) to floor((h + PH) / SH), within [0, OH).
        index_t oh_lo = h + PH - KH + 1 <= 0 ? 0 : (h + PH - KH + 1 + SH - 1) / SH;
        index_t oh_hi = MIN((h + PH) / SH + 1, OH);
        index_t ow_lo = w + PW - KW + 1 <= 0 ? 0 : (w + PW - KW + 1 + SW - 1) / SW;
        index_t ow_hi = MIN((w + PW) / SW + 1, OW);
        T total = 0;
        for (index_t oh = oh_lo; oh < oh_hi; ++oh) {
            index_t h_first = oh * SH - PH, h_last = MIN(h_first + KH, H + PH);
            index_t rows = count_include_pad ? h_last - h_first : MIN(h_last, H) - MAX(h_first, 0);
            for (index_t ow = ow_lo; ow < ow_hi; ++ow) {
                index_t w_first = ow * SW - PW, w_last = MIN(w_first + KW, W + PW);
                index_t columns = count_include_pad ? w_last - w_first
                                                    : MIN(w_last, W) - MAX(w_first, 0);
                total += gy[(plane * OH + oh) * OW + ow] / (T)(rows * columns);
            }
        }
        gx[k] = total;
    }
}
""",
}


@functools.cache
def compiled(name: str, dtype: np.dtype, wide: bool) -> cupy.RawKernel:
    """The kernel ``name`` for element type ``dtype``, 32-bit (or if ``wide`` 64-bit) indices."""
    if dtype not in C_TYPES:
        raise NotImplementedError(
            f"scratchnet's GPU kernel {name} supports float32 and float64, got {dtype}"
        )
    header = f"typedef {C_TYPES[dtype]} T;\ntypedef {'long long' if wide else 'int'} index_t;\n"
    return cupy.RawKernel(header + PRELUDE + SOURCES[name], f"scratchnet_{name}")


def launch(name: str, dtype: np.dtype, count: int, largest: int, *args: object) -> None:
    """Run kernel ``name`` with one thread per element, ``count`` of them.

    ``largest`` is the size of the biggest array, which decides the index type.

    CuPy passes each argument with its exact C type, so Python ints become ``index_t`` and Python
    floats ``T`` here; arrays are passed as pointers.
    """
    if count == 0:
        return
    dtype = np.dtype(dtype)
    wide = largest >= INDEX32_LIMIT
    index = np.int64 if wide else np.int32
    kernel = compiled(name, dtype, wide)
    values = [
        index(a)
        if isinstance(a, int | np.integer | np.bool_)
        else dtype.type(a)
        if isinstance(a, float)
        else a
        for a in args
    ]
    blocks = min(-(-count // BLOCK), MAX_BLOCKS)
    kernel((blocks,), (BLOCK,), (*values, index(count)))


def _output(out: Array | None, shape: tuple[int, ...], dtype: np.dtype) -> tuple[Array, Array]:
    """(what the kernel writes into, what is returned): ``out`` itself when it is contiguous."""
    if out is None:
        result = cupy.empty(shape, dtype=dtype)
        return result, result
    if out.flags.c_contiguous:
        return out, out
    return cupy.empty(shape, dtype=dtype), out  # copied into ``out`` by _finish


def _finish(written: Array, out: Array) -> Array:
    if written is not out:
        out[...] = written.reshape(out.shape)
    return out


# --------------------------------------------------------------------------- im2col / col2im


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
    """GPU :func:`scratchnet.ops.im2col.im2col`: (N, C, H, W) -> (C*KH*KW, N*OH*OW)."""
    g = window_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    N, C, H, W = x.shape
    x = cupy.ascontiguousarray(x)
    col, result = _output(out, (C * g.KH * g.KW, N * g.OH * g.OW), x.dtype)
    geometry = (g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.OH, g.OW)
    launch(
        "im2col",
        x.dtype,
        col.size,
        max(col.size, x.size),
        x,
        col,
        N,
        C,
        H,
        W,
        *geometry,
        float(pad_value),
    )
    return _finish(col, result)


def col2im(
    col: Array,
    x_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    out: Array | None = None,
    overwrite_col: bool = False,  # the CPU's signature: the gather kernel only reads col
) -> Array:
    """GPU :func:`scratchnet.ops.im2col.col2im`: (C*KH*KW, N*OH*OW) -> (N, C, H, W), no atomics."""
    g = window_geometry(x_shape, kernel_size, stride, padding, dilation, ceil_mode)
    N, C, H, W = x_shape
    col = cupy.ascontiguousarray(col)  # a broadcast view (average pooling's backward) becomes real
    x, result = _output(out, tuple(x_shape), col.dtype)
    geometry = (g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.OH, g.OW)
    launch("col2im", col.dtype, x.size, max(col.size, x.size), col, x, N, C, H, W, *geometry)
    return _finish(x, result)


# --------------------------------------------------------------------------- layout reorders


def rows_to_nchw(rows: Array, out: Array, bias: Array | None = None) -> Array:
    """GPU reorder of a conv product: (OC, N*OH*OW) -> (N, OC, OH, OW), + bias."""
    N, OC, OH, OW = out.shape
    rows = cupy.ascontiguousarray(rows)
    written, result = _output(out, out.shape, out.dtype)
    has_bias = bias is not None
    bias = (
        cupy.ascontiguousarray(bias, dtype=rows.dtype) if has_bias else rows
    )  # rows: any pointer, never read
    launch(
        "rows_to_nchw",
        rows.dtype,
        written.size,
        written.size,
        rows,
        bias,
        written,
        N,
        OC,
        OH * OW,
        has_bias,
    )
    return _finish(written, result)


def nchw_to_rows(y: Array, out: Array | None = None) -> Array:
    """GPU reorder of a conv gradient: (N, OC, OH, OW) -> (OC, N*OH*OW)."""
    N, OC, OH, OW = y.shape
    y = cupy.ascontiguousarray(y)
    rows, result = _output(out, (OC, N * OH * OW), y.dtype)
    launch("nchw_to_rows", y.dtype, rows.size, rows.size, y, rows, N, OC, OH * OW)
    return _finish(rows, result)


# --------------------------------------------------------------------------- max pooling


def max_pool2d_forward(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> tuple[Array, Array]:
    """GPU :func:`scratchnet.ops.pool.max_pool2d_forward`: (N, C, H, W) -> y, indices.

    Both (N, C, OH, OW).
    """
    g = window_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    N, C, H, W = x.shape
    x = cupy.ascontiguousarray(x)
    y = cupy.empty((N, C, g.OH, g.OW), dtype=x.dtype)
    indices = cupy.empty((N, C, g.OH, g.OW), dtype=cupy.int64)
    geometry = (g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.OH, g.OW)
    launch(
        "max_pool2d_forward", x.dtype, y.size, max(y.size, x.size), x, y, indices, H, W, *geometry
    )
    return y, indices


def max_pool2d_backward(gy: Array, indices: Array, x_shape: tuple[int, int, int, int]) -> Array:
    """GPU :func:`scratchnet.ops.pool.max_pool2d_backward`: scatter gy to the winners."""
    N, C, H, W = x_shape
    gy = cupy.ascontiguousarray(gy)
    indices = cupy.ascontiguousarray(indices, dtype=cupy.int64)
    gx = cupy.zeros(x_shape, dtype=gy.dtype)
    P = gy.size // max(N * C, 1)  # OH*OW
    launch(
        "max_pool2d_backward", gy.dtype, gy.size, max(gy.size, gx.size), gy, indices, gx, P, H * W
    )
    return gx


# --------------------------------------------------------------------------- average pooling


def avg_pool2d_forward(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Array:
    """GPU :func:`scratchnet.ops.pool.avg_pool2d_forward`: (N, C, H, W) -> (N, C, OH, OW)."""
    g = window_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode)
    N, C, H, W = x.shape
    x = cupy.ascontiguousarray(x)
    y = cupy.empty((N, C, g.OH, g.OW), dtype=x.dtype)
    geometry = (g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.OH, g.OW)
    launch(
        "avg_pool2d_forward",
        x.dtype,
        y.size,
        max(y.size, x.size),
        x,
        y,
        H,
        W,
        *geometry,
        count_include_pad,
    )
    return y


def avg_pool2d_backward(
    gy: Array,
    x_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Array:
    """GPU :func:`scratchnet.ops.pool.avg_pool2d_backward`: (N, C, OH, OW) -> (N, C, H, W).

    A gather per input pixel: no atomics.
    """
    g = window_geometry(x_shape, kernel_size, stride, padding, 1, ceil_mode)
    H, W = x_shape[2:]
    gy = cupy.ascontiguousarray(gy)
    gx = cupy.empty(x_shape, dtype=gy.dtype)
    geometry = (g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.OH, g.OW)
    launch(
        "avg_pool2d_backward",
        gy.dtype,
        gx.size,
        max(gy.size, gx.size),
        gy,
        gx,
        H,
        W,
        *geometry,
        count_include_pad,
    )
    return gx


# --------------------------------------------------------------------------- batch normalization

# CuPy writes the loop, the indexing and the broadcasting of these; we write one line of C each.
# A per-channel (1, C, 1) argument broadcasts against the (N, C, M) array.
_squared_deviation_sum = cupy.ReductionKernel(
    "T x, T mean",
    "T total",
    "(x - mean) * (x - mean)",
    "a + b",
    "total = a",
    "0",
    "scratchnet_squared_deviation_sum",
)
_centered_product_sum = cupy.ReductionKernel(
    "T g, T x, T mean",
    "T total",
    "g * (x - mean)",
    "a + b",
    "total = a",
    "0",
    "scratchnet_centered_product_sum",
)
_affine = cupy.ElementwiseKernel(
    "T x, T scale, T shift", "T y", "y = x * scale + shift", "scratchnet_channel_affine"
)
_affine2 = cupy.ElementwiseKernel(
    "T g, T x, T a, T b, T c", "T out", "out = a * g + b * x + c", "scratchnet_channel_affine2"
)


def _per_channel(v: Array, x3: Array) -> Array:
    """A (C,) vector as (1, C, 1) in x3's dtype, to broadcast against (N, C, M)."""
    return v.astype(x3.dtype, copy=False).reshape(1, -1, 1)


def channel_mean_var(x3: Array) -> tuple[Array, Array]:
    """Mean and biased variance per channel, in two passes: (N, C, M) -> (C,), (C,)."""
    n = x3.shape[0] * x3.shape[2]
    mean = x3.mean(axis=(0, 2))  # (C,)
    # The sum of squared deviations in one kernel: no (N, C, M) temporary.
    var = _squared_deviation_sum(x3, _per_channel(mean, x3), axis=(0, 2)) / n
    return mean, var.astype(x3.dtype, copy=False)


def channel_grad_sums(
    g3: Array, x3: Array, mean: Array, relu_out: None = None
) -> tuple[Array, Array]:
    """Sum g and sum g (x - mean) per channel: (N, C, M) twice -> (C,), (C,).

    ``relu_out`` is always None: the GPU class does not fuse BN + ReLU (no ``relu_in_place``).
    """
    sum_g = g3.sum(axis=(0, 2))  # (C,)
    sum_g_centered = _centered_product_sum(g3, x3, _per_channel(mean, x3), axis=(0, 2))  # (C,)
    return sum_g, sum_g_centered


def channel_affine(x3: Array, scale: Array, shift: Array) -> Array:
    """X * scale + shift per channel: (N, C, M) -> (N, C, M)."""
    return _affine(x3, _per_channel(scale, x3), _per_channel(shift, x3))


def channel_affine2(
    g3: Array, x3: Array, a: Array, b: Array, c: Array, relu_out: None = None
) -> Array:
    """A g + b x + c per channel: (N, C, M) twice -> (N, C, M); ``relu_out`` is always None."""
    return _affine2(g3, x3, _per_channel(a, g3), _per_channel(b, g3), _per_channel(c, g3))


# --------------------------------------------------------------------------- the fast Functions

# On a GPU each chunk of a convolution is a kernel launch and a cuBLAS call, and a small chunk
# leaves most of the GPU idle, so the whole batch is unrolled at once, up to this size (the CPU's
# budget is a cache's worth: numba_cpu.COLUMN_BUFFER_BYTES).
GPU_COLUMN_BUFFER_BYTES = 1024 * 2**20


class Conv2dFunction(FastConv2dFunction):
    """Fast :class:`scratchnet.ops.conv.Conv2dFunction` on the GPU: the whole batch at once."""

    im2col, col2im = staticmethod(im2col), staticmethod(col2im)
    rows_to_nchw, nchw_to_rows = staticmethod(rows_to_nchw), staticmethod(nchw_to_rows)

    def column_budget(self, x: Array) -> int:
        return GPU_COLUMN_BUFFER_BYTES


class MaxPool2dFunction(FastMaxPool2dFunction):
    """Fast :class:`scratchnet.ops.pool.MaxPool2dFunction` on the GPU."""

    max_pool2d_forward = staticmethod(max_pool2d_forward)
    max_pool2d_backward = staticmethod(max_pool2d_backward)


class AvgPool2dFunction(FastAvgPool2dFunction):
    """Fast :class:`scratchnet.ops.pool.AvgPool2dFunction` on the GPU."""

    avg_pool2d_forward = staticmethod(avg_pool2d_forward)
    avg_pool2d_backward = staticmethod(avg_pool2d_backward)


class BatchNormFunction(FastBatchNormFunction):
    """Fast :class:`scratchnet.ops.norm.BatchNormFunction` on the GPU."""

    channel_mean_var = staticmethod(channel_mean_var)
    channel_grad_sums = staticmethod(channel_grad_sums)
    channel_affine = staticmethod(channel_affine)
    channel_affine2 = staticmethod(channel_affine2)
