"""Pooling: max and average over sliding windows, their adaptive forms, and global average pooling.

Pooling shrinks each channel's feature map on its own (no weights): VGG halves the map with 2x2
max pooling after each stage (slide "VGGNet (3)"), GoogLeNet uses 3x3 stride-2 max pooling with
``ceil_mode=True`` between Inception stages, and NIN, GoogLeNet and ResNet end with global average
pooling instead of large fully connected layers (slides "GoogLeNet (2)-(3)").

Backward: max pooling sends each window's gradient to the one element that won it (the forward
remembers where: ``indices``, PyTorch's flat index into the input's H*W plane); average pooling
shares it evenly among the window's elements.

The four reference window functions below (max/avg, forward/backward) reuse im2col: every channel
of every image is treated as a one-channel image, so the windows become the columns of an im2col
matrix. ``max_pool2d`` and ``avg_pool2d`` are the dispatch points: each asks the backend once for
the fast sibling of its Function (``scratchnet.kernels.fast_functions``), whose kernels loop over
the windows in one pass; ``SCRATCHNET_KERNELS=reference`` runs the code of this file.
"""

from __future__ import annotations

import math

from scratchnet.backend import Array, fast_function, get_xp
from scratchnet.function import Function
from scratchnet.ops.im2col import IntPair, Window, col2im, im2col, pair, window, window_geometry
from scratchnet.ops.reduce import check_floating
from scratchnet.ops.shape import squeeze, unsqueeze
from scratchnet.tensor import Tensor

# ------------------------------------------------------------------ the reference window functions


def max_pool2d_forward(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> tuple[Array, Array]:
    """Max over every window, and where it was.

    Returns
    -------
    y : Array, shape (N, C, OH, OW)
    indices : int64 Array, shape (N, C, OH, OW)
        Flat index ``h * W + w`` of each maximum in its input plane (PyTorch's ``return_indices``).
        The first maximum in the window wins a tie.
    """
    xp = get_xp(x)
    N, C, H, W = x.shape
    _, KW, SH, SW, PH, PW, DH, DW, OH, OW = window_geometry(
        x.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    # Padding is -inf, which never wins a max (padding with 0 would beat an all-negative window);
    # integers have no -inf, and their smallest value never wins either.
    lowest = -math.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
    col = im2col(
        x.reshape(N * C, 1, H, W),
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        pad_value=lowest,
    )
    k = col.argmax(axis=0)  # (N*C*OH*OW,): the winner's position in its window, i * KW + j
    y = xp.take_along_axis(col, k[None], axis=0)  # (1, N*C*OH*OW)
    # Window element (i, j) of output (oh, ow) sits at input row oh*SH - PH + i*DH and input
    # column ow*SW - PW + j*DW.
    k = k.reshape(N, C, OH, OW)
    h = xp.arange(OH).reshape(OH, 1) * SH - PH + (k // KW) * DH  # (N, C, OH, OW)
    w = xp.arange(OW) * SW - PW + (k % KW) * DW  # (N, C, OH, OW)
    return y.reshape(N, C, OH, OW), (h * W + w).astype(xp.int64)


def max_pool2d_backward(gy: Array, indices: Array, x_shape: tuple[int, int, int, int]) -> Array:
    """Send each output's gradient to the input element that won its window.

    Parameters
    ----------
    gy : Array, shape (N, C, OH, OW)
    indices : int64 Array, shape (N, C, OH, OW), from :func:`max_pool2d_forward`
    x_shape : (N, C, H, W)

    Returns
    -------
    gx : Array, shape (N, C, H, W)
    """
    xp = get_xp(gy)
    N, C, H, W = x_shape
    gx = xp.zeros((N * C, H * W), dtype=gy.dtype)
    planes = xp.arange(N * C).reshape(N * C, 1)  # (N*C, 1), broadcast against (N*C, OH*OW)
    # add.at, not gx[...] += gy: with overlapping windows one element can win several windows,
    # and += with repeated indices would keep only one of their gradients.
    positions = gy.shape[2] * gy.shape[3]  # OH*OW (not -1: ambiguous for an empty batch)
    xp.add.at(gx, (planes, indices.reshape(N * C, positions)), gy.reshape(N * C, positions))
    return gx.reshape(x_shape)


def _window_counts(
    size: int, kernel: int, stride: int, padding: int, out: int, count_include_pad: bool, xp
) -> Array:
    """How many elements each window along one axis averages over: the divisor of average pooling.

    A window covers [start, start + kernel), cut at the end of the padded input (a ceil-mode window
    may hang beyond it); without ``count_include_pad`` it is cut to the input itself.
    """
    start = xp.arange(out) * stride - padding
    end = xp.minimum(start + kernel, size + padding)
    if not count_include_pad:
        start, end = xp.maximum(start, 0), xp.minimum(end, size)
    return end - start


def _divisor(
    x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad, dtype, xp
) -> Array:
    """The divisor of every output position, shape (OH, OW)."""
    H, W = x_shape[2:]
    KH, KW, SH, SW, PH, PW, _, _, OH, OW = window_geometry(
        x_shape, kernel_size, stride, padding, 1, ceil_mode
    )
    rows = _window_counts(H, KH, SH, PH, OH, count_include_pad, xp)
    cols = _window_counts(W, KW, SW, PW, OW, count_include_pad, xp)
    divisor = rows.reshape(OH, 1) * cols  # (OH, OW)
    return divisor.astype(dtype)  # in x's dtype: no float64 promotion


def avg_pool2d_forward(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Array:
    """Mean over every window: (N, C, H, W) -> (N, C, OH, OW)."""
    xp = get_xp(x)
    N, C, H, W = x.shape
    planes = x.reshape(N * C, 1, H, W)  # every channel a one-channel image
    col = im2col(planes, kernel_size, stride, padding, 1, ceil_mode)  # (KH*KW, N*C*OH*OW)
    divisor = _divisor(
        x.shape, kernel_size, stride, padding, ceil_mode, count_include_pad, x.dtype, xp
    )
    means = col.sum(axis=0).reshape(N, C, *divisor.shape) / divisor  # (N, C, OH, OW)
    # Integers stay integers, the mean truncated toward zero (C's division), as in PyTorch.
    return means if x.dtype.kind == "f" else means.astype(x.dtype)


def avg_pool2d_backward(
    gy: Array,
    x_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Array:
    """Share each output's gradient evenly among its window: (N, C, OH, OW) -> (N, C, H, W)."""
    xp = get_xp(gy)
    N, C, H, W = x_shape
    KH, KW = pair(kernel_size)
    g = gy / _divisor(
        x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad, gy.dtype, xp
    )
    gcol = xp.broadcast_to(g.reshape(1, -1), (KH * KW, g.size))  # each window element's share
    planes = col2im(gcol, (N * C, 1, H, W), kernel_size, stride, padding, 1, ceil_mode)
    return planes.reshape(x_shape)


# ---------------------------------------------------------------------- max and average pooling


class MaxPool2dFunction(Function):
    def __init__(self, window: Window, ceil_mode: bool) -> None:
        self.window, self.ceil_mode = window, ceil_mode

    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        y, self.indices = max_pool2d_forward(x, *self.window, self.ceil_mode)
        return y

    def backward(self, gy: Array) -> Array:
        return max_pool2d_backward(gy, self.indices, self.x_shape)


def max_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max over KH x KW windows (``torch.nn.functional.max_pool2d``).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), default ``kernel_size`` (windows side by side)
    padding : int or (int, int), at most half the kernel; padded with -inf
    dilation : int or (int, int)
    ceil_mode : bool
        Round the output size up (keep a last partial window), as torchvision's GoogLeNet does.
    return_indices : bool
        Also return the int64 flat index (h * W + w) of each maximum.

    Returns
    -------
    Tensor, shape (N, C, OH, OW), ``OH = floor_or_ceil((H + 2*PH - DH*(KH-1) - 1) / SH) + 1``.

    Notes
    -----
    dL/dx is dL/dy at each window's maximum and 0 elsewhere (summed where one element wins
    several overlapping windows).
    """
    stride = kernel_size if stride is None else stride
    x, batched = _as_batch("max_pool2d", input)
    _check_pool("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    # The one dispatch point: the fast sibling of MaxPool2dFunction for x's device, or it.
    function_class = fast_function(x.array, MaxPool2dFunction)
    function = function_class(window(kernel_size, stride, padding, dilation), ceil_mode)
    # A copy of the indices: backward reads function.indices, which an in-place change to the
    # returned tensor (indices += offset) must not reach.
    y, indices = function(x), function.indices.copy()
    if not batched:
        y, indices = squeeze(y, 0), indices[0]
    return (y, Tensor(indices)) if return_indices else y


class AvgPool2dFunction(Function):
    def __init__(self, window: Window, ceil_mode: bool, count_include_pad: bool) -> None:
        self.window, self.ceil_mode, self.count_include_pad = window, ceil_mode, count_include_pad

    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        kernel_size, stride, padding, _ = self.window  # no dilation: a mean over a solid window
        return avg_pool2d_forward(
            x, kernel_size, stride, padding, self.ceil_mode, self.count_include_pad
        )

    def backward(self, gy: Array) -> Array:
        kernel_size, stride, padding, _ = self.window
        return avg_pool2d_backward(
            gy, self.x_shape, kernel_size, stride, padding, self.ceil_mode, self.count_include_pad
        )


def avg_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over KH x KW windows (``torch.nn.functional.avg_pool2d``).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding, ceil_mode : as for :func:`max_pool2d` (padding with zeros).
    count_include_pad : bool
        Divide by the whole window including its zero padding (True, PyTorch's default) or by the
        number of input elements in it. A ceil-mode window's part beyond the padding never counts.

    Returns
    -------
    Tensor, shape (N, C, OH, OW)

    Notes
    -----
    dL/dx[h, w] = sum over the windows containing (h, w) of dL/dy / (that window's divisor).
    """
    stride = kernel_size if stride is None else stride
    x, batched = _as_batch("avg_pool2d", input)
    _check_pool("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    # The one dispatch point: the fast sibling of AvgPool2dFunction for x's device, or it.
    function_class = fast_function(x.array, AvgPool2dFunction)
    y = function_class(window(kernel_size, stride, padding), ceil_mode, count_include_pad)(x)
    return y if batched else squeeze(y, 0)


# ------------------------------------------------------------------ adaptive and global pooling


def _adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's rule: window i covers [floor(i * size / out), ceil((i + 1) * size / out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


class AdaptiveAvgPool2dFunction(Function):
    def __init__(self, output_size: tuple[int, int]) -> None:
        self.output_size = output_size

    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        self.x_shape = x.shape
        (N, C, H, W), (OH, OW) = x.shape, self.output_size
        y = xp.empty((N, C, OH, OW), dtype=x.dtype)
        for oh, (h0, h1) in enumerate(_adaptive_windows(H, OH)):
            for ow, (w0, w1) in enumerate(_adaptive_windows(W, OW)):
                y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
        return y

    def backward(self, gy: Array) -> Array:
        xp = get_xp(gy)
        (H, W), (OH, OW) = self.x_shape[2:], self.output_size
        gx = xp.zeros(self.x_shape, dtype=gy.dtype)
        for oh, (h0, h1) in enumerate(_adaptive_windows(H, OH)):
            for ow, (w0, w1) in enumerate(_adaptive_windows(W, OW)):
                area = (h1 - h0) * (w1 - w0)
                share = gy[:, :, oh : oh + 1, ow : ow + 1] / area  # (N, C, 1, 1)
                gx[:, :, h0:h1, w0:w1] += share  # += : windows may overlap
        return gx


class AdaptiveMaxPool2dFunction(Function):
    def __init__(self, output_size: tuple[int, int]) -> None:
        self.output_size = output_size

    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        self.x_shape = x.shape
        (N, C, H, W), (OH, OW) = x.shape, self.output_size
        y = xp.empty((N, C, OH, OW), dtype=x.dtype)
        self.indices = xp.empty((N, C, OH, OW), dtype=xp.int64)
        for oh, (h0, h1) in enumerate(_adaptive_windows(H, OH)):
            for ow, (w0, w1) in enumerate(_adaptive_windows(W, OW)):
                area = (h1 - h0) * (w1 - w0)
                window = x[:, :, h0:h1, w0:w1].reshape(N, C, area)  # (N, C, window's values)
                k = window.argmax(axis=2)  # (N, C)
                y[:, :, oh, ow] = xp.take_along_axis(window, k[..., None], axis=2)[..., 0]
                self.indices[:, :, oh, ow] = (h0 + k // (w1 - w0)) * W + (w0 + k % (w1 - w0))
        return y

    def backward(self, gy: Array) -> Array:
        return max_pool2d_backward(gy, self.indices, self.x_shape)


def adaptive_avg_pool2d(
    input: Tensor,
    output_size: int | tuple[int | None, int | None],
) -> Tensor:
    """Average pooling to a fixed output size (``torch.nn.functional.adaptive_avg_pool2d``).

    Output cell (oh, ow) averages rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and the same for
    columns; ``None`` in ``output_size`` keeps that dimension. (N, C, H, W) -> (N, C, OH, OW).
    """
    x, batched = _as_batch("adaptive_avg_pool2d", input)
    check_floating("adaptive_avg_pool2d", x)  # PyTorch: not implemented for integers
    (H, W), (OH, OW) = x.shape[2:], _adaptive_size("adaptive_avg_pool2d", x, output_size)
    if (OH, OW) == (1, 1):
        y = global_avg_pool2d(x)
    elif H % OH == 0 and W % OW == 0:  # equal windows side by side: plain average pooling does it
        y = avg_pool2d(x, (H // OH, W // OW))
    else:
        y = AdaptiveAvgPool2dFunction((OH, OW))(x)
    return y if batched else squeeze(y, 0)


def adaptive_max_pool2d(
    input: Tensor,
    output_size: int | tuple[int | None, int | None],
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling to a fixed output size (``torch.nn.functional.adaptive_max_pool2d``).

    Windows as in :func:`adaptive_avg_pool2d`; ``return_indices`` as in :func:`max_pool2d`.
    """
    x, batched = _as_batch("adaptive_max_pool2d", input)
    check_floating("adaptive_max_pool2d", x)  # PyTorch: not implemented for integers
    (H, W), (OH, OW) = x.shape[2:], _adaptive_size("adaptive_max_pool2d", x, output_size)
    if H % OH == 0 and W % OW == 0:
        y, indices = max_pool2d(x, (H // OH, W // OW), return_indices=True)
    else:
        function = AdaptiveMaxPool2dFunction((OH, OW))
        y, indices = function(x), Tensor(function.indices.copy())  # a copy, as in max_pool2d
    if not batched:
        y, indices = squeeze(y, 0), Tensor(indices.array[0])
    return (y, indices) if return_indices else y


class GlobalAvgPool2dFunction(Function):
    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        return x.mean(axis=(2, 3), keepdims=True)  # (N, C, 1, 1)

    def backward(self, gy: Array) -> Array:
        H, W = self.x_shape[2:]
        return get_xp(gy).broadcast_to(gy / (H * W), self.x_shape)  # every element gets 1/(H*W)


def global_avg_pool2d(input: Tensor) -> Tensor:
    """Global average pooling (NIN, GoogLeNet, ResNet heads): (N, C, H, W) -> (N, C, 1, 1).

    y[n, c] = mean of x[n, c] over all H*W positions;  dL/dx[n, c, h, w] = dL/dy[n, c] / (H*W).
    """
    x, batched = _as_batch("global_avg_pool2d", input)
    y = GlobalAvgPool2dFunction()(x)
    return y if batched else squeeze(y, 0)


# --------------------------------------------------------------------------- checks


def _as_batch(name: str, x: Tensor) -> tuple[Tensor, bool]:
    """(N, C, H, W) as is; one image (C, H, W) gets a batch dimension, as PyTorch allows."""
    if x.ndim == 4:
        return x, True
    if x.ndim == 3:
        return unsqueeze(x, 0), False
    raise ValueError(
        f"{name}: expected input of shape (N, C, H, W) or (C, H, W), got shape {x.shape}"
    )


def _check_pool(name, x, kernel_size, stride, padding, dilation, ceil_mode) -> None:
    (KH, KW), (SH, SW) = pair(kernel_size, "kernel_size"), pair(stride, "stride")
    (PH, PW), (DH, DW) = pair(padding, "padding"), pair(dilation, "dilation")
    if min(KH, KW, SH, SW, DH, DW) < 1 or min(PH, PW) < 0:
        raise ValueError(
            f"{name}: kernel_size, stride and dilation must be >= 1 and padding >= 0, got "
            f"kernel_size {(KH, KW)}, stride {(SH, SW)}, padding {(PH, PW)}, dilation {(DH, DW)}"
        )
    # PyTorch's rule; it also guarantees that every window holds at least one input element.
    if PH > KH // 2 or PW > KW // 2:
        raise ValueError(
            f"{name}: padding {(PH, PW)} must be at most half the kernel size {(KH, KW)}"
        )
    g = window_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    if g.OH < 1 or g.OW < 1:
        raise ValueError(
            f"{name}: kernel {KH}x{KW} (dilation {(DH, DW)}) does not fit input of shape "
            f"{x.shape} with padding {(PH, PW)}: the output would be {g.OH}x{g.OW}"
        )
    H, W = x.shape[2:]
    if not (
        _windows_see_input(H, KH, SH, PH, DH, g.OH) and _windows_see_input(W, KW, SW, PW, DW, g.OW)
    ):
        raise ValueError(
            f"{name}: with dilation {(DH, DW)} some window of kernel {(KH, KW)} holds only padding "
            f"for input of shape {x.shape} (padding {(PH, PW)}); its result would be undefined"
        )


def _windows_see_input(
    size: int, kernel: int, stride: int, padding: int, dilation: int, out: int
) -> bool:
    """Whether every window holds an input element (not a given when dilation skips the input)."""
    if dilation == 1:  # a solid window starting at most kernel // 2 before the input reaches it
        return True
    return all(
        any(0 <= o * stride - padding + i * dilation < size for i in range(kernel))
        for o in range(out)
    )


def _adaptive_size(name: str, x: Tensor, output_size) -> tuple[int, int]:
    sizes = (
        (output_size, output_size)
        if output_size is None or isinstance(output_size, int)
        else tuple(output_size)
    )
    if len(sizes) != 2:
        raise ValueError(f"{name}: output_size must be an int or a pair, got {output_size!r}")
    OH, OW = (
        size if out is None else int(out) for out, size in zip(sizes, x.shape[2:], strict=True)
    )
    if OH < 1 or OW < 1 or min(x.shape[2:]) < 1:
        raise ValueError(
            f"{name}: output_size {(OH, OW)} must be >= 1, for input of shape {x.shape}"
        )
    return OH, OW
