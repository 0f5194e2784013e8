"""2-D convolution, two ways: ``conv2d_naive`` (plain loops, the definition) and ``conv2d`` (im2col
and one matrix product per group, the way libraries compute it).

The convolution layer is the building block of every network in the lecture: VGG's stacks of 3x3
convolutions (slides "VGGNet (1)-(2)"), GoogLeNet's 1x1 "bottleneck" convolutions (slides
"GoogLeNet (4)-(5)"), ResNet's building blocks (slide "ResNet (4)"). Grouped convolution
(``groups``) splits the channels into independent groups: ResNeXt's cardinality, and the depthwise
convolutions of MobileNet when ``groups`` equals the channel count.

For one output element, with g the group of filter o and Cg = C / groups::

    y[n, o, oh, ow] = b[o] + sum over c < Cg, i < KH, j < KW of
                      w[o, c, i, j] * x_padded[n, g*Cg + c, oh*SH + i*DH, ow*SW + j*DW]

The gradients follow from the same sum: dL/dw collects x under every window times the upstream
gradient; dL/dx scatters the upstream gradient times w back onto every window (a "transposed
convolution"); dL/db sums the upstream gradient over the batch and the positions.

``conv2d`` runs ``Conv2dFunction`` (im2col, a few images at a time) or, for a 1x1 kernel with
stride 1 and no padding, ``PointwiseConv2dFunction``, which needs no im2col at all.
"""

from __future__ import annotations

from scratchnet.backend import Array, device_of, get_xp
from scratchnet.function import Function
from scratchnet.ops.im2col import (
    IntPair,
    col2im,
    im2col,
    nchw_to_rows,
    output_size,
    pair,
    rows_to_nchw,
)
from scratchnet.ops.shape import pad as pad_tensor
from scratchnet.ops.shape import squeeze, unsqueeze
from scratchnet.tensor import Tensor

# The column matrix of a whole batch is KH*KW times larger than its input (9x for 3x3), so conv2d
# builds it a few images at a time into one buffer of at most this size, and no larger than the
# input itself (one image's columns at least). A buffer that stays in the CPU's cache is filled and
# read by the matrix product without going through main memory; the cap by the input keeps the
# extra memory of a late, small layer (ResNet's 8x8 stage) near its own size.
COLUMN_BUFFER_BYTES = 8 * 2**20
# On a GPU the opposite holds: each chunk is a kernel launch and a cuBLAS call, and a small chunk
# leaves most of the GPU idle, so the whole batch is unrolled at once up to this size.
GPU_COLUMN_BUFFER_BYTES = 1024 * 2**20


class Conv2dFunction(Function):
    def __init__(
        self,
        stride: tuple[int, int],
        padding: tuple[int, int],
        dilation: tuple[int, int],
        groups: int,
    ):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x: Array, weight: Array, bias: Array | None = None) -> Array:
        xp = get_xp(x)
        self.x, self.weight, self.has_bias = x, weight, bias is not None
        N, OC, G = x.shape[0], weight.shape[0], self.groups
        OH, OW = _conv_output_shape(x.shape, weight.shape, self.stride, self.padding, self.dilation)
        w_rows = weight.reshape(G, OC // G, -1)  # (G, OC/G, C/G*KH*KW)
        y = xp.empty((N, OC, OH, OW), dtype=x.dtype)
        for batch, col_buffer, rows_buffer in self._chunks(x, OC, OH * OW):
            col = im2col(
                x[batch], weight.shape[2:], self.stride, self.padding, self.dilation, out=col_buffer
            )
            y_rows = xp.matmul(
                w_rows, col.reshape(G, -1, col.shape[1]), out=rows_buffer
            )  # (G, OC/G, n*OH*OW)
            rows_to_nchw(y_rows.reshape(OC, -1), out=y[batch], bias=bias)  # (n, OC, OH, OW)
        return y

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        xp = get_xp(gy)
        x, weight, G = self.x, self.weight, self.groups
        OC = weight.shape[0]
        w_rows = weight.reshape(G, OC // G, -1)  # (G, OC/G, C/G*KH*KW)
        gx = xp.empty_like(x) if self._needs_grad(0) else None
        gw = xp.zeros_like(weight) if self._needs_grad(1) else None  # None: a frozen weight
        gw_rows = (
            None if gw is None else gw.reshape(w_rows.shape)
        )  # (G, OC/G, C/G*KH*KW), a view of gw
        gw_chunk = None if gw is None else xp.empty_like(w_rows)  # one chunk's share, reused
        gb = xp.zeros(OC, dtype=gy.dtype)
        for batch, col_buffer, rows_buffer in self._chunks(x, OC, gy.shape[2] * gy.shape[3]):
            gy_rows = nchw_to_rows(gy[batch], out=rows_buffer.reshape(OC, -1))  # (OC, n*OH*OW)
            gb += gy_rows.sum(axis=1)
            gy_rows = gy_rows.reshape(G, OC // G, -1)  # (G, OC/G, n*OH*OW)
            if gw_rows is not None:
                # The forward's columns, built again: keeping them would hold KH*KW copies of every
                # layer's input in memory until backward.
                col = im2col(
                    x[batch],
                    weight.shape[2:],
                    self.stride,
                    self.padding,
                    self.dilation,
                    out=col_buffer,
                )
                col = col.reshape(G, -1, col.shape[1])  # (G, C/G*KH*KW, n*OH*OW)
                gw_rows += xp.matmul(
                    gy_rows, col.transpose(0, 2, 1), out=gw_chunk
                )  # (G, OC/G, C/G*KH*KW)
            if gx is not None:
                # dL/dcol = W^T dL/dy (written over col, no longer needed), then summed onto x's windows.
                gcol = xp.matmul(
                    w_rows.transpose(0, 2, 1),
                    gy_rows,
                    out=col_buffer.reshape(G, -1, gy_rows.shape[2]),
                )
                gcol = gcol.reshape(-1, gcol.shape[2])  # (C*KH*KW, n*OH*OW)
                col2im(
                    gcol,
                    x[batch].shape,
                    weight.shape[2:],
                    self.stride,
                    self.padding,
                    self.dilation,
                    out=gx[batch],
                    overwrite_col=True,
                )
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def _chunks(self, x: Array, OC: int, P: int):
        """Split the batch into runs of images whose column matrix fits the buffer (see ``COLUMN_BUFFER_BYTES``).

        Yields (batch slice, col buffer, rows buffer); the two buffers are allocated once and
        reused by every chunk, as contiguous views of the right shape.
        """
        xp = get_xp(x)
        N, C = x.shape[:2]
        R = C * self.weight.shape[2] * self.weight.shape[3]  # rows of col: C*KH*KW
        budget = (
            GPU_COLUMN_BUFFER_BYTES
            if device_of(x) == "cuda"
            else min(COLUMN_BUFFER_BYTES, x.nbytes)
        )
        images = max(1, min(N, budget // (R * P * x.itemsize)))
        col_buffer = xp.empty(R * images * P, dtype=x.dtype)
        rows_buffer = xp.empty(OC * images * P, dtype=x.dtype)
        for start in range(0, N, images):
            n = min(images, N - start)
            yield (
                slice(start, start + n),
                col_buffer[: R * n * P].reshape(R, n * P),
                rows_buffer[: OC * n * P].reshape(self.groups, OC // self.groups, n * P),
            )

    def _needs_grad(self, i: int) -> bool:
        """Whether input i needs a gradient (skip the work for an image batch that does not)."""
        return self.inputs is None or self.inputs[i].requires_grad


class PointwiseConv2dFunction(Conv2dFunction):
    """A 1x1 convolution with stride 1 and no padding (slide "GoogLeNet (4)").

    At every position it is a matrix product over channels, so each image's (C, H*W) block is
    already its own column matrix: no im2col, and the product lands directly in (N, OC, H*W) order.
    """

    def __init__(self, groups: int):
        super().__init__(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=groups)

    def forward(self, x: Array, weight: Array, bias: Array | None = None) -> Array:
        self.x, self.weight, self.has_bias = x, weight, bias is not None
        (N, C, H, W), OC, G = x.shape, weight.shape[0], self.groups
        w = weight.reshape(G, OC // G, C // G)  # (G, OC/G, C/G)
        y = get_xp(x).matmul(w, x.reshape(N, G, C // G, H * W))  # (N, G, OC/G, H*W)
        y = y.reshape(N, OC, H, W)
        if bias is not None:
            y += bias.reshape(1, OC, 1, 1)
        return y

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        xp = get_xp(gy)
        x, weight, G = self.x, self.weight, self.groups
        (N, C, H, W), OC = x.shape, weight.shape[0]
        w = weight.reshape(G, OC // G, C // G)  # (G, OC/G, C/G)
        gy4 = gy.reshape(N, G, OC // G, H * W)  # (N, G, OC/G, H*W)
        gx = gw = None
        if self._needs_grad(0):
            gx = xp.matmul(w.transpose(0, 2, 1), gy4).reshape(x.shape)  # (N, G, C/G, H*W)
        if self._needs_grad(1):
            x4 = x.reshape(N, G, C // G, H * W)
            gw = (
                xp.matmul(gy4, x4.transpose(0, 1, 3, 2)).sum(axis=0).reshape(weight.shape)
            )  # sum over images
        if not self.has_bias:
            return gx, gw
        return gx, gw, gy.sum(axis=(2, 3)).sum(axis=0)  # (OC,)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair | str = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution by im2col + matrix product (``torch.nn.functional.conv2d``).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W) or (C, H, W)
    weight : Tensor, shape (OC, C/groups, KH, KW)
    bias : Tensor, shape (OC,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), ``"valid"`` (no padding) or ``"same"`` (output size = input size)
    groups : int
        Split the channels into ``groups`` independent convolutions.

    Returns
    -------
    Tensor, shape (N, OC, OH, OW), with ``OH = (H + 2*PH - DH*(KH-1) - 1) // SH + 1`` (same for OW).

    Notes
    -----
    Forward: ``col = im2col(x)``, shape (C*KH*KW, N*OH*OW), then per group ``W (OC, C*KH*KW) @ col``.
    Backward, with G the upstream gradient as (OC, N*OH*OW):
    ``dL/dW = G @ col^T``, ``dL/db = G.sum(1)``, ``dL/dx = col2im(W^T @ G)``.

    Example
    -------
    >>> import scratchnet as sn
    >>> conv2d(sn.ones((1, 3, 32, 32)), sn.ones((64, 3, 3, 3)), padding=1).shape
    (1, 64, 32, 32)
    """
    return _convolve(
        "conv2d", _conv2d_function, input, weight, bias, stride, padding, dilation, groups
    )


def _conv2d_function(stride, padding, dilation, groups, kernel) -> Function:
    if kernel == (1, 1) and stride == (1, 1) and padding == (0, 0):
        return PointwiseConv2dFunction(groups)  # no im2col needed
    return Conv2dFunction(stride, padding, dilation, groups)


# --------------------------------------------------------------------------- the definition, in loops


class Conv2dNaiveFunction(Function):
    def __init__(
        self,
        stride: tuple[int, int],
        padding: tuple[int, int],
        dilation: tuple[int, int],
        groups: int,
    ):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x: Array, weight: Array, bias: Array | None = None) -> Array:
        xp = get_xp(x)
        self.has_bias = bias is not None
        (PH, PW) = self.padding
        self.x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))  # (N, C, H + 2PH, W + 2PW)
        self.weight = weight
        N, OC = x.shape[0], weight.shape[0]
        OH, OW = _conv_output_shape(x.shape, weight.shape, self.stride, self.padding, self.dilation)
        y = xp.zeros((N, OC, OH, OW), dtype=x.dtype)
        for n, o, oh, ow, window in self._windows(N, OC, OH, OW):
            y[n, o, oh, ow] = (self.x_pad[window] * weight[o]).sum()
        if bias is not None:
            y += bias.reshape(1, OC, 1, 1)
        return y

    def backward(self, gy: Array) -> tuple[Array, ...]:
        xp = get_xp(gy)
        weight, x_pad = self.weight, self.x_pad
        gx_pad, gw = xp.zeros_like(x_pad), xp.zeros_like(weight)
        N, OC, OH, OW = gy.shape
        for n, o, oh, ow, window in self._windows(N, OC, OH, OW):
            gx_pad[window] += gy[n, o, oh, ow] * weight[o]  # the window's share of dL/dx
            gw[o] += gy[n, o, oh, ow] * x_pad[window]  # each weight saw this window
        PH, PW = self.padding
        H, W = x_pad.shape[2] - 2 * PH, x_pad.shape[3] - 2 * PW
        gx = gx_pad[:, :, PH : PH + H, PW : PW + W]  # the gradient that fell on padding is dropped
        return (gx, gw, gy.sum(axis=(0, 2, 3))) if self.has_bias else (gx, gw)

    def _windows(self, N: int, OC: int, OH: int, OW: int):
        """Every (n, o, oh, ow) with the index of its (C/groups, KH, KW) window in x_pad."""
        (SH, SW), (DH, DW) = self.stride, self.dilation
        OCg, Cg, KH, KW = OC // self.groups, *self.weight.shape[1:]
        for n in range(N):
            for o in range(OC):
                c0 = (o // OCg) * Cg  # the first input channel of filter o's group
                for oh in range(OH):
                    for ow in range(OW):
                        h0, w0 = oh * SH, ow * SW  # the window's top-left corner in x_pad
                        rows = slice(h0, h0 + DH * (KH - 1) + 1, DH)
                        cols = slice(w0, w0 + DW * (KW - 1) + 1, DW)
                        yield n, o, oh, ow, (n, slice(c0, c0 + Cg), rows, cols)


def conv2d_naive(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair | str = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution computed straight from its definition, one output element at a time.

    Same arguments, shapes and result as :func:`conv2d`; slow, for teaching and as a test oracle.
    Its backward loops over the same windows: ``dL/dx[window] += g * w[o]``, ``dL/dw[o] += g * x[window]``.
    """
    return _convolve(
        "conv2d_naive", _naive_function, input, weight, bias, stride, padding, dilation, groups
    )


def _naive_function(stride, padding, dilation, groups, kernel) -> Function:
    return Conv2dNaiveFunction(stride, padding, dilation, groups)


# --------------------------------------------------------------------------- checks


def _convolve(name, make_function, x, weight, bias, stride, padding, dilation, groups) -> Tensor:
    """Check the arguments (errors name the op and the shapes), then run the Function ``make_function`` picks."""
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{name}: expected input of shape (N, C, H, W) or (C, H, W), got shape {x.shape}"
        )
    if weight.ndim != 4:
        raise ValueError(
            f"{name}: expected weight of shape (OC, C/groups, KH, KW), got shape {weight.shape}"
        )
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    if min(stride) < 1 or min(dilation) < 1 or not isinstance(groups, int) or groups < 1:
        raise ValueError(
            f"{name}: stride, dilation and groups must be positive, got {stride}, {dilation}, {groups}"
        )
    shape, (OC, Cg, KH, KW) = x.shape, weight.shape
    C, H, W = shape[-3:]
    if OC % groups:
        raise ValueError(
            f"{name}: groups={groups} does not divide the {OC} output channels of weight {weight.shape}"
        )
    if C % groups:
        raise ValueError(
            f"{name}: groups={groups} does not divide the {C} channels of input {x.shape}"
        )
    if C != Cg * groups:
        raise ValueError(
            f"{name}: weight of shape {weight.shape} expects {Cg * groups} input channels (groups={groups}), "
            f"got {C} for input of shape {x.shape}"
        )
    if bias is not None and bias.shape != (OC,):
        raise ValueError(
            f"{name}: bias must have shape ({OC},) for weight of shape {weight.shape}, got {bias.shape}"
        )
    for other in (weight, bias):
        if other is not None and other.dtype != x.dtype:
            raise TypeError(
                f"{name}: input ({x.dtype}) and weight/bias ({other.dtype}) must have the same dtype; "
                "convert one of them, e.g. x.float()"
            )
    batched = x.ndim == 4
    if not batched:  # one image (C, H, W), as PyTorch allows: add a batch dimension, drop it after
        x = unsqueeze(x, 0)
    if isinstance(padding, str):
        x, padding = _string_padding(name, x, padding, (KH, KW), stride, dilation)
    padding = pair(padding, "padding")
    if min(padding) < 0:
        raise ValueError(f"{name}: padding must be >= 0, got {padding}")
    OH, OW = _conv_output_shape(x.shape, weight.shape, stride, padding, dilation)
    if OH < 1 or OW < 1:
        raise ValueError(
            f"{name}: kernel {KH}x{KW} (dilation {dilation}) spans {dilation[0] * (KH - 1) + 1}x"
            f"{dilation[1] * (KW - 1) + 1}, larger than the padded input {H + 2 * padding[0]}x{W + 2 * padding[1]} "
            f"(input of shape {shape}, padding {padding}): the output would be {OH}x{OW}"
        )
    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = make_function(stride, padding, dilation, groups, (KH, KW))(*inputs)
    return y if batched else squeeze(y, 0)


def _string_padding(name, x, padding, kernel, stride, dilation):
    """``"valid"`` is no padding; ``"same"`` pads so the output has the input's size (stride 1).

    PyTorch puts the odd element of an even total padding at the bottom/right: that part is
    padded here explicitly, the symmetric rest by the convolution.
    """
    if padding == "valid":
        return x, (0, 0)
    if padding != "same":
        raise ValueError(
            f"{name}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
        )
    if stride != (1, 1):
        raise ValueError(f"{name}: padding='same' needs stride 1, got stride {stride}")
    totals = [
        d * (k - 1) for k, d in zip(kernel, dilation, strict=True)
    ]  # input size - output size
    extra = [t % 2 for t in totals]
    if any(extra):
        x = pad_tensor(x, (0, extra[1], 0, extra[0]))  # (left, right, top, bottom)
    return x, (totals[0] // 2, totals[1] // 2)


def _conv_output_shape(x_shape, w_shape, stride, padding, dilation) -> tuple[int, int]:
    return tuple(
        output_size(size, kernel, s, p, d)
        for size, kernel, s, p, d in zip(
            x_shape[2:], w_shape[2:], stride, padding, dilation, strict=True
        )
    )
