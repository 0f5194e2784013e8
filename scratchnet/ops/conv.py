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

``Conv2dFunction`` below is the algorithm of the slide, whole batch at once. The fast sibling the
backend picks by default (``scratchnet.kernels.fast_functions.FastConv2dFunction``) computes the
same result in cache-sized chunks into reused buffers; ``SCRATCHNET_KERNELS=reference`` runs this
file's code only.
"""

from __future__ import annotations

from scratchnet.backend import Array, fast_function, get_xp
from scratchnet.function import Function
from scratchnet.ops.im2col import IntPair, Window, col2im, im2col, output_size, pair
from scratchnet.ops.shape import pad as pad_tensor
from scratchnet.ops.shape import squeeze, unsqueeze
from scratchnet.tensor import Tensor


class Conv2dFunction(Function):
    """The convolution by im2col: one matrix product per group (the forward and backward below).

    ``window`` (kernel_size, stride, padding, dilation) says where the windows lie; ``groups``
    splits the C input and OC output channels into G independent convolutions. The backward
    builds the columns again rather than keeping them from the forward: kept, they would hold
    KH*KW copies of every layer's input until the backward pass.
    """

    def __init__(self, window: Window, groups: int) -> None:
        self.window, self.groups = window, groups

    def forward(self, x: Array, weight: Array, bias: Array | None = None) -> Array:
        xp = get_xp(x)
        self.x, self.weight, self.has_bias = x, weight, bias is not None
        (N, C, H, W), (OC, _, KH, KW), G = x.shape, weight.shape, self.groups
        OH, OW = conv_output_size((H, W), (KH, KW), self.window)
        col = im2col(x, *self.window)  # (C*KH*KW, N*OH*OW)
        # Sizes spelt out, not -1: with an empty batch (N = 0) -1 would be ambiguous.
        col = col.reshape(G, C // G * KH * KW, N * OH * OW)  # (G, C/G*KH*KW, N*OH*OW)
        w_rows = weight.reshape(G, OC // G, -1)  # (G, OC/G, C/G*KH*KW)
        y_rows = w_rows @ col  # (G, OC/G, N*OH*OW)
        y = y_rows.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)  # (N, OC, OH, OW)
        if bias is not None:
            y = y + bias.reshape(1, OC, 1, 1)
        return xp.ascontiguousarray(y)

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        x, weight, G = self.x, self.weight, self.groups
        N, OC, OH, OW = gy.shape
        C, KH, KW = x.shape[1], *weight.shape[2:]
        gy_rows = gy.transpose(1, 0, 2, 3).reshape(G, OC // G, N * OH * OW)  # (G, OC/G, N*OH*OW)
        w_rows = weight.reshape(G, OC // G, -1)  # (G, OC/G, C/G*KH*KW)
        col = im2col(x, *self.window).reshape(G, C // G * KH * KW, N * OH * OW)
        gw = (gy_rows @ col.transpose(0, 2, 1)).reshape(weight.shape)  # dL/dW = gy_rows col^T
        gcol = w_rows.transpose(0, 2, 1) @ gy_rows  # (G, C/G*KH*KW, N*OH*OW): dL/dcol = W^T gy
        gx = col2im(gcol.reshape(C * KH * KW, N * OH * OW), x.shape, *self.window)  # (N, C, H, W)
        if not self.has_bias:
            return gx, gw
        return gx, gw, gy.sum(axis=(0, 2, 3))  # dL/db: (OC,)


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
    Forward: ``col = im2col(x)``, shape (C*KH*KW, N*OH*OW), then per group
    ``W (OC, C*KH*KW) @ col``.
    Backward, with G the upstream gradient as (OC, N*OH*OW):
    ``dL/dW = G @ col^T``, ``dL/db = G.sum(1)``, ``dL/dx = col2im(W^T @ G)``.

    Example
    -------
    >>> import scratchnet as sn
    >>> conv2d(sn.ones((1, 3, 32, 32)), sn.ones((64, 3, 3, 3)), padding=1).shape
    (1, 64, 32, 32)
    """
    inputs, window, batched = _checked(
        "conv2d", input, weight, bias, stride, padding, dilation, groups
    )
    # The one dispatch point: the fast sibling registered in backend.KERNEL_MODULES for the input's
    # device, or Conv2dFunction itself (SCRATCHNET_KERNELS=reference, or no fast kernels here).
    function_class = fast_function(inputs[0].array, Conv2dFunction)
    y = function_class(window, groups)(*inputs)
    return y if batched else squeeze(y, 0)


# ---------------------------------------------------------------------- the definition, in loops


class Conv2dNaiveFunction(Function):
    def __init__(self, window: Window, groups: int) -> None:
        self.window, self.groups = window, groups

    def forward(self, x: Array, weight: Array, bias: Array | None = None) -> Array:
        xp = get_xp(x)
        self.has_bias = bias is not None
        (PH, PW) = self.window.padding
        self.x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))  # (N, C, H + 2PH, W + 2PW)
        self.weight = weight
        N, OC = x.shape[0], weight.shape[0]
        OH, OW = conv_output_size(x.shape[2:], weight.shape[2:], self.window)
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
        PH, PW = self.window.padding
        H, W = x_pad.shape[2] - 2 * PH, x_pad.shape[3] - 2 * PW
        gx = gx_pad[:, :, PH : PH + H, PW : PW + W]  # the gradient that fell on padding is dropped
        return (gx, gw, gy.sum(axis=(0, 2, 3))) if self.has_bias else (gx, gw)

    def _windows(self, N: int, OC: int, OH: int, OW: int):
        """Every (n, o, oh, ow) with the index of its (C/groups, KH, KW) window in x_pad."""
        (SH, SW), (DH, DW) = self.window.stride, self.window.dilation
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
    Its backward loops over the same windows: ``dL/dx[window] += g * w[o]`` and
    ``dL/dw[o] += g * x[window]``.
    """
    inputs, window, batched = _checked(
        "conv2d_naive", input, weight, bias, stride, padding, dilation, groups
    )
    y = Conv2dNaiveFunction(window, groups)(*inputs)
    return y if batched else squeeze(y, 0)


# --------------------------------------------------------------------------- checks


def _checked(name, x, weight, bias, stride, padding, dilation, groups):
    """Check the arguments; errors name the op and the shapes.

    Returns the Function's inputs (x with a batch dimension), its :class:`Window`, and whether
    the input had a batch dimension.
    """
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
            f"{name}: stride, dilation and groups must be positive, got {stride}, {dilation}, "
            f"{groups}"
        )
    shape, (OC, Cg, KH, KW) = x.shape, weight.shape
    C, H, W = shape[-3:]
    if OC % groups:
        raise ValueError(
            f"{name}: groups={groups} does not divide the {OC} output channels of weight "
            f"{weight.shape}"
        )
    if C % groups:
        raise ValueError(
            f"{name}: groups={groups} does not divide the {C} channels of input {x.shape}"
        )
    if C != Cg * groups:
        raise ValueError(
            f"{name}: weight of shape {weight.shape} expects {Cg * groups} input channels "
            f"(groups={groups}), got {C} for input of shape {x.shape}"
        )
    if bias is not None and bias.shape != (OC,):
        raise ValueError(
            f"{name}: bias must have shape ({OC},) for weight of shape {weight.shape}, "
            f"got {bias.shape}"
        )
    for other in (weight, bias):
        if other is not None and other.dtype != x.dtype:
            raise TypeError(
                f"{name}: input ({x.dtype}) and weight/bias ({other.dtype}) must have the same "
                "dtype; convert one of them, e.g. x.float()"
            )
    batched = x.ndim == 4
    if not batched:  # one image (C, H, W), as PyTorch allows: add a batch dimension, drop it after
        x = unsqueeze(x, 0)
    if isinstance(padding, str):
        x, padding = _string_padding(name, x, padding, (KH, KW), stride, dilation)
    padding = pair(padding, "padding")
    if min(padding) < 0:
        raise ValueError(f"{name}: padding must be >= 0, got {padding}")
    window = Window((KH, KW), stride, padding, dilation)
    OH, OW = conv_output_size(x.shape[2:], (KH, KW), window)
    if OH < 1 or OW < 1:
        span = f"{dilation[0] * (KH - 1) + 1}x{dilation[1] * (KW - 1) + 1}"
        padded = f"{H + 2 * padding[0]}x{W + 2 * padding[1]}"
        raise ValueError(
            f"{name}: kernel {KH}x{KW} (dilation {dilation}) spans {span}, larger than the padded "
            f"input {padded} (input of shape {shape}, padding {padding}): the output would be "
            f"{OH}x{OW}"
        )
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return inputs, window, batched


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
    # input size - output size, per axis
    totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    extra = [t % 2 for t in totals]
    if any(extra):
        x = pad_tensor(x, (0, extra[1], 0, extra[0]))  # (left, right, top, bottom)
    return x, (totals[0] // 2, totals[1] // 2)


def conv_output_size(size: tuple[int, int], kernel: tuple[int, int], window: Window):
    """(OH, OW) of a convolution of an (H, W) input (``output_size`` along each axis)."""
    _, stride, padding, dilation = window
    return tuple(
        output_size(*numbers)
        for numbers in zip(size, kernel, stride, padding, dilation, strict=True)
    )
