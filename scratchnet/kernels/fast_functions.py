"""The fast Functions: each reference Function of ``scratchnet/ops/`` rewritten for speed.

Each class here subclasses the reference Function it replaces, keeps its constructor and its
attributes (``window``, ``groups``, ``indices``, ``batch_mean``...), and overrides only
``forward`` and ``backward``: same inputs, same results, fewer passes over memory. They are
device-neutral: the array kernels they call (im2col into a buffer, the pooling loops, the
per-channel loops of batch norm) are class attributes that a device module fills in. The CPU
module (``numba_cpu``, ``numba_norm``) and the GPU module (``cupy_gpu``) each define a subclass
under the reference's own name, ``Conv2dFunction`` and so on, and ``backend.KERNEL_MODULES`` lists
it; an op's wrapper asks ``backend.fast_function(x, Conv2dFunction)`` once, the only dispatch.

Where the speed comes from:

* convolution: the column matrix of a whole batch is KH*KW times larger than its input, so it is
  built a few images at a time into one reused buffer (``column_budget``: a CPU cache's worth; on a
  GPU the whole batch, since a small chunk leaves the GPU idle), the products write into reused
  buffers (``out=``), the reorder to (N, OC, OH, OW) adds the bias on the way, col2im may write
  over its scratch input, and a 1x1 convolution skips im2col altogether (``conv_algorithm``).
  The scratch buffers are borrowed (``kernels/scratch.py``: kept across calls when its pool is
  turned on, plain allocations by default) and never leave the call;
* batch norm: the backward is rewritten per channel as dL/dx = a g + b x + c, one pass that never
  forms x_hat (see ``FastBatchNormFunction``); the statistics take one kernel.

``tests/test_kernels.py`` pins every class here to its reference (hypothesis, float32 and float64).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from contextlib import nullcontext
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from scratchnet.backend import Array, get_xp
from scratchnet.engine import is_grad_enabled, rebase_fused
from scratchnet.kernels.scratch import borrow
from scratchnet.ops.conv import Conv2dFunction, conv_output_size
from scratchnet.ops.im2col import Window
from scratchnet.ops.norm import BatchNormFunction
from scratchnet.ops.pool import AvgPool2dFunction, MaxPool2dFunction
from scratchnet.tensor import Tensor

Kernel = Callable[..., Any]

# --------------------------------------------------------------------------- convolution


def conv_algorithm(
    window: Window, x: Array, weight: Array, groups: int, winograd: ModuleType | None
) -> str:
    """The algorithm that computes a convolution layer: the one place to add another.

    "pointwise": a 1x1 kernel with stride 1 and no padding is a matrix product over channels at
    every position, no im2col needed (slide "GoogLeNet (4)"); "winograd": a 3x3 stride-1 layer
    where the device has Winograd F(2x2, 3x3) kernels and ``winograd.use_winograd`` says it wins
    on this shape (``SCRATCHNET_WINOGRAD=auto|on|off``; docs/concepts/winograd.md);
    "im2col": every other layer.
    """
    if weight.shape[2:] == (1, 1) and window.stride == (1, 1) and window.padding == (0, 0):
        return "pointwise"
    if winograd is not None and winograd.use_winograd(
        x.shape, weight.shape, window.stride, window.padding, window.dilation, groups, x.dtype
    ):
        return "winograd"
    return "im2col"


class FastConv2dFunction(Conv2dFunction):
    """Fast :class:`scratchnet.ops.conv.Conv2dFunction`: chunked im2col into reused buffers.

    A device module fills in the four array kernels (each with an ``out=`` buffer) and the size
    of the column buffer; ``conv_algorithm`` picks the algorithm of each layer.
    """

    im2col: ClassVar[Kernel]  # (x, kernel, stride, padding, dilation, ..., out) -> col
    col2im: ClassVar[Kernel]  # (col, x_shape, kernel, ..., out, overwrite_col) -> x
    rows_to_nchw: ClassVar[Kernel]  # (rows (OC, n*P), out (n, OC, OH, OW), bias) -> out
    nchw_to_rows: ClassVar[Kernel]  # (y (n, OC, OH, OW), out (OC, n*P)) -> out

    # The device's Winograd kernels (a module with use_winograd and the three products), or None.
    winograd: ClassVar[ModuleType | None] = None

    def column_budget(self, x: Array) -> int:
        """Bytes of the column buffer for input ``x`` (a device module's choice)."""
        raise NotImplementedError

    def forward(self, x: Array, weight: Array, bias: Array | None = None) -> Array:
        self.x, self.weight, self.has_bias = x, weight, bias is not None
        self.algorithm = conv_algorithm(self.window, x, weight, self.groups, self.winograd)
        if self.algorithm == "pointwise":
            return self._pointwise_forward(x, weight, bias)
        if self.algorithm == "winograd":
            return self.winograd.winograd_conv2d_forward(x, weight, bias, self.window.padding)
        return self._im2col_forward(x, weight, bias)

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        if self.algorithm == "pointwise":
            gx, gw = self._pointwise_backward(gy)
        elif self.algorithm == "winograd":
            gx, gw = self._winograd_backward(gy)
        else:
            gx, gw = self._im2col_backward(gy)
        if not self.has_bias:
            return gx, gw
        return gx, gw, gy.sum(axis=(2, 3)).sum(axis=0)  # (OC,)

    # ------------------------------------------------------------------ im2col, chunk by chunk

    def _im2col_forward(self, x: Array, weight: Array, bias: Array | None) -> Array:
        xp = get_xp(x)
        N, OC, G = x.shape[0], weight.shape[0], self.groups
        w_rows = weight.reshape(G, OC // G, -1)  # (G, OC/G, C/G*KH*KW)
        y = xp.empty((N, OC, *self._output_size(x)), dtype=x.dtype)  # (N, OC, OH, OW)
        for batch, col_buffer, rows_buffer in self._chunks(x, OC):
            col = self.im2col(x[batch], *self.window, out=col_buffer)  # (C*KH*KW, n*P)
            col = col.reshape(G, -1, col.shape[1])  # (G, C/G*KH*KW, n*P)
            y_rows = xp.matmul(w_rows, col, out=rows_buffer)  # (G, OC/G, n*P)
            self.rows_to_nchw(y_rows.reshape(OC, -1), out=y[batch], bias=bias)  # (n, OC, OH, OW)
        return y

    def _im2col_backward(self, gy: Array) -> tuple[Array | None, Array | None]:
        xp = get_xp(gy)
        x, weight, G = self.x, self.weight, self.groups
        OC = weight.shape[0]
        w_rows = weight.reshape(G, OC // G, -1)  # (G, OC/G, C/G*KH*KW)
        # New C-ordered arrays, not empty_like/zeros_like, which copy the layout of a transposed or
        # flipped view: col2im needs a contiguous gx, and gw_rows must be a view of gw, not a copy.
        gx = xp.empty(x.shape, dtype=x.dtype) if self._needs_grad(0) else None
        gw = xp.zeros(weight.shape, dtype=weight.dtype) if self._needs_grad(1) else None
        gw_rows = None if gw is None else gw.reshape(w_rows.shape)  # a view of gw
        # One chunk's share of gw, reused, computed transposed: col @ gy^T (an (R, OC) result)
        # runs 1.3-1.9x faster in OpenBLAS than gy @ col^T on these shapes (docs/performance.md).
        # A scratch buffer (kernels/scratch.py): it dies with this call.
        chunk_t_shape = w_rows.transpose(0, 2, 1).shape  # (G, C/G*KH*KW, OC/G)
        gw_scratch = nullcontext() if gw is None else borrow(xp, chunk_t_shape, weight.dtype)
        with gw_scratch as gw_chunk_t:
            for batch, col_buffer, rows_buffer in self._chunks(x, OC):
                gy_rows = rows_buffer.reshape(OC, -1)  # (OC, n*P)
                gy_rows = self.nchw_to_rows(gy[batch], out=gy_rows)
                gy_rows = gy_rows.reshape(G, OC // G, -1)  # (G, OC/G, n*P)
                if gw_rows is not None:
                    col = self.im2col(x[batch], *self.window, out=col_buffer)  # (C*KH*KW, n*P)
                    col = col.reshape(G, -1, col.shape[1])  # (G, C/G*KH*KW, n*P)
                    xp.matmul(col, gy_rows.transpose(0, 2, 1), out=gw_chunk_t)
                    gw_rows += gw_chunk_t.transpose(0, 2, 1)  # (G, OC/G, C/G*KH*KW)
                if gx is not None:
                    # dL/dcol = W^T dL/dy, written over the column buffer (its columns are used
                    # up), then added onto x's windows by col2im, which may zero parts of it.
                    gcol_buffer = col_buffer.reshape(G, -1, gy_rows.shape[2])
                    gcol = xp.matmul(w_rows.transpose(0, 2, 1), gy_rows, out=gcol_buffer)
                    gcol = gcol.reshape(-1, gcol.shape[2])  # (C*KH*KW, n*P)
                    gx_n = gx[batch]  # (n, C, H, W), a view of gx
                    self.col2im(gcol, gx_n.shape, *self.window, out=gx_n, overwrite_col=True)
        return gx, gw

    def _chunks(self, x: Array, OC: int):
        """Split the batch into runs of images whose column matrix fits ``column_budget``.

        Yields (batch slice, col buffer, rows buffer): two scratch buffers borrowed
        (``kernels/scratch.py``) for the whole loop and given back when it ends, reused by every
        chunk as contiguous views of the right shape. They die with the call: nothing the caller
        returns or saves may be a view of them.
        """
        xp = get_xp(x)
        N, C = x.shape[:2]
        KH, KW = self.window.kernel_size
        OH, OW = self._output_size(x)
        R, P = C * KH * KW, OH * OW  # rows of col, and positions per image
        images = max(1, min(N, self.column_budget(x) // (R * P * x.itemsize)))
        with (
            borrow(xp, R * images * P, x.dtype) as col_buffer,
            borrow(xp, OC * images * P, x.dtype) as rows_buffer,
        ):
            for start in range(0, N, images):
                n = min(images, N - start)
                yield (
                    slice(start, start + n),
                    col_buffer[: R * n * P].reshape(R, n * P),
                    rows_buffer[: OC * n * P].reshape(self.groups, OC // self.groups, n * P),
                )

    def _output_size(self, x: Array) -> tuple[int, int]:
        return conv_output_size(x.shape[2:], self.window.kernel_size, self.window)

    # ------------------------------------------------------------------ Winograd F(2x2, 3x3)

    def _winograd_backward(self, gy: Array) -> tuple[Array | None, Array | None]:
        # Both gradients are 3x3 stride-1 products again, so Winograd computes them too.
        x, weight, padding = self.x, self.weight, self.window.padding
        gx = gw = None
        if self._needs_grad(0):
            gx = self.winograd.winograd_conv2d_backward_input(gy, weight, padding, x.shape)
        if self._needs_grad(1):
            gw = self.winograd.winograd_conv2d_backward_weight(x, gy, padding)
        return gx, gw

    # ------------------------------------------------------------------ pointwise (1x1)

    def _pointwise_forward(self, x: Array, weight: Array, bias: Array | None) -> Array:
        # Each image's (C, H*W) block is already its own column matrix: no im2col, and the
        # product lands directly in (N, OC, H*W) order.
        (N, C, H, W), OC, G = x.shape, weight.shape[0], self.groups
        w = weight.reshape(G, OC // G, C // G)  # (G, OC/G, C/G)
        y = get_xp(x).matmul(w, x.reshape(N, G, C // G, H * W))  # (N, G, OC/G, H*W)
        y = y.reshape(N, OC, H, W)
        if bias is not None:
            y += bias.reshape(1, OC, 1, 1)
        return y

    def _pointwise_backward(self, gy: Array) -> tuple[Array | None, Array | None]:
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
            per_image = xp.matmul(gy4, x4.transpose(0, 1, 3, 2))  # (N, G, OC/G, C/G)
            gw = per_image.sum(axis=0).reshape(weight.shape)
        return gx, gw

    def _needs_grad(self, i: int) -> bool:
        """Whether input i needs a gradient (skip the work for an image batch that does not)."""
        return self.inputs is None or self.inputs[i].requires_grad


# --------------------------------------------------------------------------- pooling


class FastMaxPool2dFunction(MaxPool2dFunction):
    """Fast :class:`scratchnet.ops.pool.MaxPool2dFunction`: one pass over each window's elements."""

    max_pool2d_forward: ClassVar[Kernel]  # the signature of ops.pool.max_pool2d_forward
    max_pool2d_backward: ClassVar[Kernel]

    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        y, self.indices = self.max_pool2d_forward(x, *self.window, self.ceil_mode)
        return y

    def backward(self, gy: Array) -> Array:
        return self.max_pool2d_backward(gy, self.indices, self.x_shape)


class FastAvgPool2dFunction(AvgPool2dFunction):
    """Fast :class:`scratchnet.ops.pool.AvgPool2dFunction`: sums the windows in one pass."""

    avg_pool2d_forward: ClassVar[Kernel]  # the signature of ops.pool.avg_pool2d_forward
    avg_pool2d_backward: ClassVar[Kernel]

    def forward(self, x: Array) -> Array:
        self.x_shape = x.shape
        kernel_size, stride, padding, _ = self.window
        options = (self.ceil_mode, self.count_include_pad)
        return self.avg_pool2d_forward(x, kernel_size, stride, padding, *options)

    def backward(self, gy: Array) -> Array:
        kernel_size, stride, padding, _ = self.window
        options = (self.ceil_mode, self.count_include_pad)
        return self.avg_pool2d_backward(gy, self.x_shape, kernel_size, stride, padding, *options)


# --------------------------------------------------------------------------- batch normalization


FUSION_SETTING = "SCRATCHNET_FUSE_BN_RELU"  # 1: fuse BN + ReLU in training; 0 (default): not


def fusion_enabled() -> bool:
    """Whether ``FastBatchNormFunction.absorb_relu_`` may fuse (``SCRATCHNET_FUSE_BN_RELU``).

    Off by default, from measurements on the 2-core Xeon (docs/performance.md, "BN+ReLU
    fusion"): fused, a BN + ReLU layer ran in 0.64-0.92 of its time, but whole ResNet-20
    training steps did not get faster (360 vs 357 ms, median of 6 interleaved rounds) and took 3x
    the page faults (7,577 vs 2,275 per step): with fewer large arrays freed, glibc's malloc keeps
    handing memory back to the system and faulting it in again.
    """
    value = os.environ.get(FUSION_SETTING, "0").strip()
    if value not in ("0", "1"):
        raise ValueError(f"{FUSION_SETTING}={value!r}: expected 0 or 1")
    return value == "1"


class FastBatchNormFunction(BatchNormFunction):
    """Fast :class:`scratchnet.ops.norm.BatchNormFunction`: the paper's backward in one pass.

    The input is seen as (N, C, M), M = H*W. Four per-channel kernels do the work, filled in by a
    device module: ``channel_mean_var`` (mean and biased var), ``channel_grad_sums`` (sum g and
    sum g (x - mean)), ``channel_affine`` (x * scale + shift) and ``channel_affine2``
    (a g + b x + c). The forward is one affine map y = x * scale + shift with scale = gamma / std
    and shift = beta - mean * scale. The backward's

        dL/dx = gamma / (n std) * (n g - sum g - x_hat * sum(g x_hat))

    with x_hat = (x - mean) / std is, per channel, a g + b (x - mean) + c' = a g + b x + c with
    a = gamma / std, b = -a / std * sum(g x_hat) / n and c = -a sum(g) / n - b mean: one pass
    over g and x, and x_hat (an input-sized array) is never formed or kept.

    For (N, C) inputs (M = 1) NumPy's reductions down the rows are already as fast: the
    reference's forward and backward run.

    BN + ReLU in training (``absorb_relu_``): ``y.relu_()`` on the untouched output of a training
    node runs in place in one pass, and the node's backward masks g (0 where relu(y) <= 0, as
    ReLU's backward does) inside ``channel_grad_sums`` and ``channel_affine2``: no ReLU node, no
    masked-gradient array, no ReLU backward pass.
    """

    channel_mean_var: ClassVar[Kernel]
    channel_grad_sums: ClassVar[Kernel]  # (g3, x3, mean, relu_out=None)
    channel_affine: ClassVar[Kernel]
    channel_affine2: ClassVar[Kernel]  # (g3, x3, a, b, c, relu_out=None)
    # max(x, 0) over a C-contiguous array, in place; None: this device does not fuse BN + ReLU.
    relu_in_place: ClassVar[Kernel | None] = None
    absorbed_relu = False  # True on a node that absorbed a ReLU (absorb_relu_)
    relu_output: Array | None = None  # that node's saved relu(y): its backward's mask

    def absorb_relu_(self, tensor: Tensor) -> bool:
        """Run ``tensor.relu_()`` as part of this node, if it is safe; True if it did.

        Safe: grad mode is on and ``tensor`` is this training node's own output, untouched since
        (same version, not a view), an (N, C, M) input with M > 1, float32 or float64, on a device
        with the kernels. The ReLU then writes over the tensor (one pass, no copy, version + 1),
        and a copy of this node that masks g in its backward becomes the tensor's creator; this
        node keeps a stand-in output (``engine.rebase_fused``), so an op that read the BN output
        before the ReLU still gets its unmasked gradient. Anything else returns False: ``relu_``
        then records a Relu node as for any tensor. Off unless ``SCRATCHNET_FUSE_BN_RELU=1``
        (``fusion_enabled``).
        """
        fuses = (
            self.relu_in_place is not None
            and fusion_enabled()
            and self.training
            and not getattr(self, "rows", True)
            and not self.absorbed_relu  # relu_ twice: the second is a Relu node
            and not self.freed
            and self.inputs is not None  # recorded in a graph
            and is_grad_enabled()
            and tensor.creator is self
            and tensor._base is None
            and tensor._version == (self.output_versions or [0])[0]
            and tensor.dtype in (np.float32, np.float64)
            and tensor.array.flags.c_contiguous
            and tensor.array.flags.writeable
        )
        if not fuses:
            return False
        fused = copy.copy(self)  # shares the saved arrays, which neither node writes
        self.relu_in_place(tensor.array)
        tensor._bump_version()
        fused.absorbed_relu = True
        fused.relu_output = tensor.array  # saved: a change after the ReLU is caught at backward
        rebase_fused(tensor, fused)
        return True

    @property
    def name(self) -> str:
        """``BatchNorm``, or ``BatchNormRelu`` for a node that absorbed a ReLU (PyTorch shows the
        ReLU's node there: ReluBackward0).
        """
        return super().name + ("Relu" if self.absorbed_relu else "")

    def free(self) -> None:
        self.__dict__.pop("stand_in", None)  # the old place of the output (see absorb_relu_)
        super().free()

    def forward(self, x: Array, *affine: Array) -> Array:
        xp = get_xp(x)
        N, C = x.shape[:2]
        self.rows = x.size == N * C  # M = 1
        if self.rows:
            return super().forward(x, *affine)
        x3 = xp.ascontiguousarray(x).reshape(N, C, -1)  # (N, C, M)
        n = x3.shape[0] * x3.shape[2]
        gamma = affine[0] if self.has_weight else xp.ones(C, dtype=x.dtype)  # (C,)
        beta = affine[-1] if self.has_bias else xp.zeros(C, dtype=x.dtype)  # (C,)
        if self.training:
            mean, var = self.channel_mean_var(x3)  # (C,), (C,); var is biased (divides by n)
            self.batch_mean, self.batch_var = mean, var * n / (n - 1)
        else:
            mean = self.running_mean.astype(x.dtype)
            var = self.running_var.astype(x.dtype)
        inv_std = 1 / xp.sqrt(var + self.eps)  # (C,)
        scale = gamma * inv_std
        shift = beta - mean * scale
        self.x3, self.mean, self.inv_std, self.gamma, self.scale = x3, mean, inv_std, gamma, scale
        return self.channel_affine(x3, scale, shift).reshape(x.shape)  # (N, C, M) -> x's shape

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        if self.rows:
            return super().backward(gy)
        xp = get_xp(gy)
        x3, mean, inv_std, gamma = self.x3, self.mean, self.inv_std, self.gamma
        g3 = xp.ascontiguousarray(gy).reshape(x3.shape)  # (N, C, M)
        n = x3.shape[0] * x3.shape[2]
        # With an absorbed ReLU, g is masked inside the kernels: 0 where relu(y) <= 0.
        relu_out = None if self.relu_output is None else self.relu_output.reshape(x3.shape)
        # sum g, sum g (x - mean)
        sum_g, sum_g_centered = self.channel_grad_sums(g3, x3, mean, relu_out)
        grad_beta = sum_g
        grad_gamma = sum_g_centered * inv_std  # sum g x_hat
        if self.training:
            a = gamma * inv_std
            b = -a * inv_std * grad_gamma / n
            c = -a * grad_beta / n - b * mean
            gx = self.channel_affine2(g3, x3, a, b, c, relu_out)  # (N, C, M)
        else:  # y = x * scale + shift exactly: dL/dx = g * scale
            gx = self.channel_affine(g3, self.scale, xp.zeros_like(self.scale))  # (N, C, M)
        grads: list[Array | None] = [gx.reshape(gy.shape)]
        if self.has_weight:
            grads.append(grad_gamma)
        if self.has_bias:
            grads.append(grad_beta)
        return tuple(grads)
