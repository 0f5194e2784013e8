"""im2col and col2im: turn convolution into one matrix product (slide "GoogLeNet (4)": a 1x1
convolution is a matrix product over channels; im2col makes every convolution one).

``im2col`` copies every KH x KW window of the input into a column of a matrix. A convolution is
then ``weight (OC, C*KH*KW) @ col (C*KH*KW, N*OH*OW)``, which a BLAS library runs near the
machine's peak. ``col2im`` is its adjoint: it adds each column back onto the window it came from,
which is exactly the backward of im2col (a window element used by several overlapping windows
collects all of their gradients).

Layout. The column matrix is (C*KH*KW, N*OH*OW): one row per (channel, kernel row, kernel column),
one column per (image, output row, output column). With this "transposed" layout the forward and
both weight-gradient products are single matrix products over the whole batch; only the
(OC, N*OH*OW) result needs a transpose to (N, OC, OH, OW).

These are the readable NumPy reference versions: one strided copy per kernel offset. The fast
siblings (``scratchnet.kernels.numba_cpu``, ``cupy_gpu``) have the same signatures plus an ``out=``
buffer; the fast convolution uses them, and this file never asks for them.

Notation (as in DeZero's im2col):
    N: batch size            C: channels             H, W: input height and width
    KH, KW: kernel size      SH, SW: stride          PH, PW: padding       DH, DW: dilation
    OH, OW: output size      OC: output channels     P: OH*OW, positions per image
"""

from __future__ import annotations

from typing import NamedTuple

from scratchnet.backend import Array, get_xp

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
        last_start = (count - 1) * stride
        if last_start >= size + padding:  # the last window would start in the right padding
            count -= 1
        return count
    return room // stride + 1


class Window(NamedTuple):
    """The geometry of a sliding window, as a layer states it: each field a (height, width) pair.

    Every conv and pooling Function keeps its own as ``function.window`` (``analysis`` reads it to
    follow receptive fields), and passes it on as ``im2col(x, *window)``.
    """

    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)


def window(
    kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1
) -> Window:
    """A :class:`Window` from ints or pairs.

    ``window(3, 2, 1)`` is ``Window((3, 3), (2, 2), (1, 1), (1, 1))``.
    """
    return Window(pair(kernel_size), pair(stride), pair(padding), pair(dilation))


class WindowGeometry(NamedTuple):
    """Kernel, stride, padding, dilation and output size as ten numbers (the kernels' arguments)."""

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
    (KH, KW), (SH, SW), (PH, PW), (DH, DW) = window(kernel_size, stride, padding, dilation)
    OH = output_size(H, KH, SH, PH, DH, ceil_mode)
    OW = output_size(W, KW, SW, PW, DW, ceil_mode)
    return WindowGeometry(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def _padded_extent(size: int, kernel: int, stride: int, padding: int, dilation: int, out: int):
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

    Returns
    -------
    col : Array, shape (C*KH*KW, N*OH*OW)
        ``col[(c, i, j), (n, oh, ow)] = x_padded[n, c, oh*SH + i*DH, ow*SW + j*DW]``.
    """
    xp = get_xp(x)
    N, C, H, W = x.shape
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = window_geometry(
        x.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    bottom = _padded_extent(H, KH, SH, PH, DH, OH)
    right = _padded_extent(W, KW, SW, PW, DW, OW)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, bottom), (PW, right)), constant_values=pad_value)

    col = xp.empty((C, KH, KW, N, OH, OW), dtype=x.dtype)
    # One strided slice per kernel offset (i, j): KH*KW copies, each as large as the output.
    for i in range(KH):
        top = i * DH  # the padded row that kernel row i sees in the first window
        bottom_end = top + SH * (OH - 1) + 1  # one past the row it sees in the last window
        for j in range(KW):
            left = j * DW
            right_end = left + SW * (OW - 1) + 1
            patch = x_pad[:, :, top:bottom_end:SH, left:right_end:SW]  # (N, C, OH, OW)
            col[:, i, j] = patch.transpose(1, 0, 2, 3)  # (C, N, OH, OW)
    return col.reshape(C * KH * KW, N * OH * OW)


def col2im(
    col: Array,
    x_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> Array:
    """The adjoint of :func:`im2col`: add every column back onto its window.

    Parameters
    ----------
    col : Array, shape (C*KH*KW, N*OH*OW)
    x_shape : (N, C, H, W), the shape of the image ``col`` was unfolded from.
    kernel_size, stride, padding, dilation, ceil_mode : as for :func:`im2col`.

    Returns
    -------
    x : Array, shape (N, C, H, W)
        ``x[n, c, h, w] = sum of col[(c, i, j), (n, oh, ow)]`` over every window element that
        sits at (h, w); what fell on the padding is dropped.
    """
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
    return xp.ascontiguousarray(x_pad[:, :, PH : PH + H, PW : PW + W])  # (N, C, H, W), unpadded
