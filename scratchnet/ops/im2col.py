"""im2col and col2im: turn convolution into one matrix product (slide "GoogLeNet (4)": a 1x1
convolution is a matrix product over channels; im2col makes every convolution one).

``im2col`` copies every KH x KW window of the input into a column of a matrix. A convolution is
then ``weight (OC, C*KH*KW) @ col (C*KH*KW, N*OH*OW)``, which a BLAS library runs near the
machine's peak. ``col2im`` is its adjoint: it adds each column back onto the window it came from,
which is exactly the backward of im2col (a window element used by several overlapping windows
collects all of their gradients).

Layout. The column matrix is (C*KH*KW, N*OH*OW): one row per (channel, kernel row, kernel column),
one column per (image, output row, output column). With this "transposed" layout the forward and
both weight-gradient products are single matrix products over the whole batch; only the (OC, N*OH*OW)
result needs a reorder to (N, OC, OH, OW), done by ``rows_to_nchw`` (and back by ``nchw_to_rows``).

Here are the readable NumPy reference versions. Each public function first asks the backend for a
fast kernel with the same signature and layout (``scratchnet.kernels.numba_cpu``) and runs the
reference code below only when there is none (``SCRATCHNET_KERNELS=reference``).

Notation (as in DeZero's im2col):
    N: batch size            C: channels             H, W: input height and width
    KH, KW: kernel size      SH, SW: stride          PH, PW: padding       DH, DW: dilation
    OH, OW: output size      OC: output channels     P: OH*OW, positions per image
"""

from __future__ import annotations

from typing import NamedTuple

from scratchnet.backend import Array, fast_kernel, get_xp

IntPair = int | tuple[int, int]


def pair(value: IntPair, name: str = "value") -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 5) -> (3, 5)``. Sizes, strides, paddings are (height, width) pairs."""
    if isinstance(value, int):
        return (value, value)
    if type(value) is tuple and len(value) == 2:
        return value
    values = tuple(value)
    if len(values) == 1:
        return (int(values[0]), int(values[0]))
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair (height, width), got {value!r}")
    return (int(values[0]), int(values[1]))


def output_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Number of window positions along one axis: PyTorch's rule, exactly.

    A dilated kernel spans ``dilation * (kernel - 1) + 1`` input elements. Windows start every
    ``stride`` elements of the padded input (``size + 2 * padding``); floor mode counts the windows
    that fit entirely, ceil mode also counts a last partial window, but only if it starts inside
    the input or the left padding (never in the right padding alone).
    """
    span = dilation * (kernel - 1) + 1
    room = size + 2 * padding - span  # how far the window's start can move
    if ceil_mode:
        count = -(-room // stride) + 1  # ceil division (a negative room stays negative)
        if (
            count - 1
        ) * stride >= size + padding:  # the last window would start in the right padding
            count -= 1
        return count
    return room // stride + 1


class WindowGeometry(NamedTuple):
    """Kernel, stride, padding, dilation and output size, each as (height, width) numbers."""

    KH: int
    KW: int
    SH: int
    SW: int
    PH: int
    PW: int
    DH: int
    DW: int
    OH: int
    OW: int


def window_geometry(
    x_shape: tuple[int, ...],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> WindowGeometry:
    """All the numbers of a sliding window over an input of shape (N, C, H, W)."""
    H, W = x_shape[-2:]
    (KH, KW), (SH, SW), (PH, PW), (DH, DW) = (
        pair(kernel_size),
        pair(stride),
        pair(padding),
        pair(dilation),
    )
    OH = output_size(H, KH, SH, PH, DH, ceil_mode)
    OW = output_size(W, KW, SW, PW, DW, ceil_mode)
    return WindowGeometry(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def _padded_extent(
    size: int, kernel: int, stride: int, padding: int, dilation: int, out: int
) -> int:
    """Padding after the input: ``padding``, or more where a ceil-mode window hangs over the end."""
    last = (out - 1) * stride + dilation * (kernel - 1)  # last element read, in padded coordinates
    return max(padding, last + 1 - padding - size)


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
    """Unfold every sliding window of ``x`` into a column.

    Parameters
    ----------
    x : Array, shape (N, C, H, W)
    kernel_size, stride, padding, dilation : int or (int, int)
    ceil_mode : bool
        Count a last partial window (pooling's ``ceil_mode``); its missing elements are padding.
    pad_value : float
        Value of the padding: 0 for convolution and average pooling, -inf for max pooling.
    out : Array, shape (C*KH*KW, N*OH*OW), optional
        Contiguous buffer to write into (reused by the caller between chunks of a batch).

    Returns
    -------
    col : Array, shape (C*KH*KW, N*OH*OW)
        ``col[(c, i, j), (n, oh, ow)] = x_padded[n, c, oh*SH + i*DH, ow*SW + j*DW]``.
    """
    fast = fast_kernel(x, "im2col")
    if fast is not None:
        return fast(x, kernel_size, stride, padding, dilation, ceil_mode, pad_value, out)
    xp = get_xp(x)
    N, C, H, W = x.shape
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = window_geometry(
        x.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    bottom = _padded_extent(H, KH, SH, PH, DH, OH)
    right = _padded_extent(W, KW, SW, PW, DW, OW)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, bottom), (PW, right)), constant_values=pad_value)

    col = (
        xp.empty((C, KH, KW, N, OH, OW), dtype=x.dtype)
        if out is None
        else out.reshape(C, KH, KW, N, OH, OW)
    )
    # One strided slice per kernel offset (i, j): KH*KW copies, each as large as the output.
    for i in range(KH):
        top = i * DH  # the padded row that kernel row i sees in the first window
        bottom_end = top + SH * (OH - 1) + 1  # one past the row it sees in the last window
        for j in range(KW):
            left = j * DW
            right_end = left + SW * (OW - 1) + 1
            window = x_pad[:, :, top:bottom_end:SH, left:right_end:SW]  # (N, C, OH, OW)
            col[:, i, j] = window.transpose(1, 0, 2, 3)  # (C, N, OH, OW)
    return col.reshape(C * KH * KW, N * OH * OW)


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
    """The adjoint of :func:`im2col`: add every column back onto its window.

    Parameters
    ----------
    col : Array, shape (C*KH*KW, N*OH*OW)
    x_shape : (N, C, H, W), the shape of the image ``col`` was unfolded from.
    kernel_size, stride, padding, dilation, ceil_mode : as for :func:`im2col`.
    out : Array, shape (N, C, H, W), optional
        Contiguous array to write the result into.
    overwrite_col : bool
        Allow a fast kernel to change ``col`` (it zeroes the entries that fell on the padding, to
        add whole runs at once); for a caller whose ``col`` is scratch. This reference never does.

    Returns
    -------
    x : Array, shape (N, C, H, W)
        ``x[n, c, h, w] = sum of col[(c, i, j), (n, oh, ow)]`` over every window element that
        sits at (h, w); what fell on the padding is dropped.
    """
    fast = fast_kernel(col, "col2im")
    if fast is not None:
        return fast(
            col, x_shape, kernel_size, stride, padding, dilation, ceil_mode, out, overwrite_col
        )
    xp = get_xp(col)
    N, C, H, W = x_shape
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = window_geometry(
        x_shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    bottom = _padded_extent(H, KH, SH, PH, DH, OH)
    right = _padded_extent(W, KW, SW, PW, DW, OW)

    col = col.reshape(C, KH, KW, N, OH, OW)
    x_pad = xp.zeros((N, C, PH + H + bottom, PW + W + right), dtype=col.dtype)
    for i in range(KH):
        top = i * DH
        bottom_end = top + SH * (OH - 1) + 1
        for j in range(KW):
            left = j * DW
            right_end = left + SW * (OW - 1) + 1
            # += , not =: overlapping windows (stride < kernel) add up on the same element.
            x_pad[:, :, top:bottom_end:SH, left:right_end:SW] += col[:, i, j].transpose(1, 0, 2, 3)
    x = x_pad[:, :, PH : PH + H, PW : PW + W]  # (N, C, H, W), the padding cut off
    if out is None:
        return xp.ascontiguousarray(x)
    out[...] = x
    return out


# --------------------------------------------------------------------------- layout reorders


def rows_to_nchw(rows: Array, out: Array, bias: Array | None = None) -> Array:
    """Reorder a matrix-product result to images, adding the bias on the way.

    Parameters
    ----------
    rows : Array, shape (OC, N*OH*OW)
        ``weight @ col``: one row per output channel.
    out : Array, shape (N, OC, OH, OW)
        Contiguous array the images are written into (a slice of a larger batch is fine).
    bias : Array, shape (OC,), optional

    Returns
    -------
    out : Array, shape (N, OC, OH, OW)
    """
    fast = fast_kernel(rows, "rows_to_nchw")
    if fast is not None:
        return fast(rows, out, bias)
    N, OC, OH, OW = out.shape
    out[...] = rows.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)  # (N, OC, OH, OW)
    if bias is not None:
        out += bias.reshape(1, OC, 1, 1)
    return out


def nchw_to_rows(y: Array, out: Array | None = None) -> Array:
    """Reorder images to one row per channel: the inverse of :func:`rows_to_nchw` (without bias).

    Parameters
    ----------
    y : Array, shape (N, OC, OH, OW)
    out : Array, shape (OC, N*OH*OW), optional
        Contiguous buffer to write into.

    Returns
    -------
    rows : Array, shape (OC, N*OH*OW)
    """
    fast = fast_kernel(y, "nchw_to_rows")
    if fast is not None:
        return fast(y, out)
    xp = get_xp(y)
    N, OC, OH, OW = y.shape
    if out is None:
        out = xp.empty((OC, N * OH * OW), dtype=y.dtype)
    out.reshape(OC, N, OH, OW)[...] = y.transpose(1, 0, 2, 3)  # (OC, N, OH, OW)
    return out
