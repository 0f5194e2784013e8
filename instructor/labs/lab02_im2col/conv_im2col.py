"""Lab 2: convolution by im2col, forward and backward.

A convolution slides a (C, KH, KW) filter over the image and takes a dot product at every
position. Written as loops it is six nested ``for``s and very slow in Python. im2col ("image to
columns") copies every window into one column of a matrix, so that the whole convolution becomes a
single matrix product, which NumPy hands to an optimised BLAS library::

    col = im2col(x)                        # (C*KH*KW, N*OH*OW): one column per window
    y   = W.reshape(OC, C*KH*KW) @ col     # (OC, N*OH*OW): one row per filter

Its backward is two more matrix products and col2im, im2col's adjoint, which adds every column
back onto the window it came from. This is how scratchnet (``scratchnet/ops/im2col.py``,
``scratchnet/ops/conv.py``), Caffe and Chainer compute convolutions on the CPU.

Notation: N batch, C channels, H x W input, OC filters of KH x KW, stride S, padding P, output
OH x OW. Layout of col (the same as scratchnet's): row ``(c, i, j)`` = c*KH*KW + i*KW + j, column
``(n, oh, ow)`` = n*OH*OW + oh*OW + ow, and
``col[(c, i, j), (n, oh, ow)] = x_padded[n, c, oh*S + i, ow*S + j]``.

Check your work:  python -m scratchnet.labs check lessons/lab02_im2col
"""

from __future__ import annotations

import numpy as np

from scratchnet import Function, Tensor

# =====================================================================================
# TASK 2.1  The output size
# =====================================================================================


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """How many positions a window of ``kernel`` takes along an axis of ``size``
    (padded by ``padding`` on both sides, moved by ``stride``). VGG's 3x3 convs, stride 1, padding
    1, keep the size: ``conv_output_size(224, 3, 1, 1) == 224`` (slide "VGGNet (1)")."""
    # HINT: the padded axis has size + 2*padding elements; the window's first element can sit at
    #       0, stride, 2*stride, ... as long as the whole window fits.
    ### BEGIN SOLUTION
    return (size + 2 * padding - kernel) // stride + 1
    ### END SOLUTION


# =====================================================================================
# TASK 2.2  Convolution from its definition, in loops
# =====================================================================================


def conv2d_loops(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """The definition, loop by loop:
    y[n, o, oh, ow] = b[o] + sum over (c, i, j) of w[o, c, i, j] * x_pad[n, c, oh*S + i, ow*S + j].

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (OC, C, KH, KW)
    b : ndarray, shape (OC,)

    Returns
    -------
    ndarray, shape (N, OC, OH, OW)
    """
    # HINT: np.pad(x, ((0, 0), (0, 0), (P, P), (P, P))) pads only H and W, with zeros.
    # HINT: loop over n, o, oh, ow; the window is x_pad[n, :, oh*S : oh*S + KH, ow*S : ow*S + KW].
    ### BEGIN SOLUTION
    N, _, H, W = x.shape
    OC, _, KH, KW = w.shape
    OH = conv_output_size(H, KH, stride, padding)
    OW = conv_output_size(W, KW, stride, padding)
    x_pad = np.pad(
        x, ((0, 0), (0, 0), (padding, padding), (padding, padding))
    )  # (N, C, H+2P, W+2P)
    y = np.zeros((N, OC, OH, OW), dtype=x.dtype)
    for n in range(N):
        for o in range(OC):
            for oh in range(OH):
                for ow in range(OW):
                    window = x_pad[
                        n, :, oh * stride : oh * stride + KH, ow * stride : ow * stride + KW
                    ]  # (C, KH, KW)
                    y[n, o, oh, ow] = (window * w[o]).sum() + b[o]
    return y
    ### END SOLUTION


# =====================================================================================
# TASK 2.3  im2col: every window becomes a column
# =====================================================================================


def im2col(x: np.ndarray, KH: int, KW: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Unfold the windows of ``x`` into the columns of a matrix.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)

    Returns
    -------
    col : ndarray, shape (C*KH*KW, N*OH*OW)
        ``col[(c, i, j), (n, oh, ow)] = x_padded[n, c, oh*stride + i, ow*stride + j]``
        (see the top of the file).
    """
    # HINT: one way: an array col6 of shape (C, KH, KW, N, OH, OW), filled by one strided slice per
    #       kernel offset (i, j):
    #       x_pad[:, :, i : i + stride*OH : stride, j : j + stride*OW : stride] is (N, C, OH, OW),
    #       every window's element (i, j) at once. Then reorder and reshape col6.
    # HINT: a loop over the N*OH*OW windows (x_pad[n, :, rows, cols].reshape(-1) into one column) is
    #       slower but fine here.
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    OH = conv_output_size(H, KH, stride, padding)
    OW = conv_output_size(W, KW, stride, padding)
    x_pad = np.pad(
        x, ((0, 0), (0, 0), (padding, padding), (padding, padding))
    )  # (N, C, H+2P, W+2P)
    col = np.empty((C, KH, KW, N, OH, OW), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            window = x_pad[
                :, :, i : i + stride * OH : stride, j : j + stride * OW : stride
            ]  # (N, C, OH, OW)
            col[:, i, j] = window.transpose(1, 0, 2, 3)  # (C, N, OH, OW)
    return col.reshape(C * KH * KW, N * OH * OW)
    ### END SOLUTION


# =====================================================================================
# TASK 2.4  col2im: im2col's adjoint
# =====================================================================================


def col2im(
    col: np.ndarray,
    x_shape: tuple[int, int, int, int],
    KH: int,
    KW: int,
    stride: int = 1,
    padding: int = 0,
) -> np.ndarray:
    """Add every column back onto the window it came from: the backward of im2col.

    Parameters
    ----------
    col : ndarray, shape (C*KH*KW, N*OH*OW)
    x_shape : (N, C, H, W), the shape of the image that was unfolded

    Returns
    -------
    ndarray, shape (N, C, H, W)
        ``x[n, c, h, w]`` = the sum of every col entry that im2col copied from (n, c, h, w).
        Entries that came from the padding are dropped.
    """
    # HINT: mirror your im2col: reshape col to (C, KH, KW, N, OH, OW), then for every (i, j) ADD
    #       (+=, not =) the slice back into a zero array of the padded shape. Overlapping windows
    #       (stride < kernel) share pixels, and each pixel must collect every window's share.
    # HINT: at the end cut the padding off: x_pad[:, :, P : P + H, P : P + W].
    ### BEGIN SOLUTION
    N, C, H, W = x_shape
    OH = conv_output_size(H, KH, stride, padding)
    OW = conv_output_size(W, KW, stride, padding)
    col6 = col.reshape(C, KH, KW, N, OH, OW)
    x_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=col.dtype)
    for i in range(KH):
        for j in range(KW):
            window = col6[:, i, j].transpose(1, 0, 2, 3)  # (C, N, OH, OW) -> (N, C, OH, OW)
            x_pad[:, :, i : i + stride * OH : stride, j : j + stride * OW : stride] += window
    return x_pad[:, :, padding : padding + H, padding : padding + W]
    ### END SOLUTION


# =====================================================================================
# TASK 2.5  The convolution's forward: im2col and one matrix product
# TASK 2.6  The convolution's backward: two matrix products and col2im
# =====================================================================================


class Conv2dFunction(Function):
    """y = conv(x, w) + b, by im2col.  x (N, C, H, W),
    w (OC, C, KH, KW), b (OC,) -> y (N, OC, OH, OW)."""

    def __init__(self, stride: int = 1, padding: int = 0) -> None:
        self.stride, self.padding = stride, padding

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        # TASK 2.5
        # HINT: col = im2col(...) is (C*KH*KW, N*OH*OW); w.reshape(OC, -1) is (OC, C*KH*KW).
        # HINT: their product is (OC, N*OH*OW): add b as a column, then reshape to (OC, N, OH, OW)
        #       and transpose to (N, OC, OH, OW).
        # HINT: save what backward needs: x's shape, w, and col (no need to unfold x twice).
        ### BEGIN SOLUTION
        N, _, H, W = x.shape
        OC, _, KH, KW = w.shape
        OH = conv_output_size(H, KH, self.stride, self.padding)
        OW = conv_output_size(W, KW, self.stride, self.padding)
        self.x_shape, self.w = x.shape, w
        self.col = im2col(x, KH, KW, self.stride, self.padding)  # (C*KH*KW, N*OH*OW)
        y = w.reshape(OC, -1) @ self.col + b[:, None]  # (OC, N*OH*OW)
        return y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)  # (N, OC, OH, OW)
        ### END SOLUTION

    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # TASK 2.6
        # HINT: first bring gy (N, OC, OH, OW) to the
        # layout of the forward's product, (OC, N*OH*OW).
        # HINT: then the forward was a plain matmul (TASK 1.5 of lab 1): gw_rows = g @ col.T and
        #       gcol = w_rows.T @ g; col2im turns gcol into gx; gb adds g over everything but OC.
        ### BEGIN SOLUTION
        OC, _, KH, KW = self.w.shape
        g = gy.transpose(1, 0, 2, 3).reshape(OC, -1)  # (OC, N*OH*OW)
        gb = g.sum(axis=1)  # (OC,)
        gw = (g @ self.col.T).reshape(self.w.shape)  # (OC, C*KH*KW) -> (OC, C, KH, KW)
        gcol = self.w.reshape(OC, -1).T @ g  # (C*KH*KW, N*OH*OW)
        gx = col2im(gcol, self.x_shape, KH, KW, self.stride, self.padding)  # (N, C, H, W)
        return gx, gw, gb
        ### END SOLUTION


def conv2d(x: Tensor, w: Tensor, b: Tensor, stride: int = 1, padding: int = 0) -> Tensor:
    """Your convolution on Tensors, recorded in the graph."""
    return Conv2dFunction(stride, padding)(x, w, b)


def main() -> None:
    """Time your loops against your im2col convolution on one VGG-sized layer slice."""
    import time

    rng = np.random.default_rng(0)
    x, w, b = (
        rng.standard_normal((2, 16, 28, 28)),
        rng.standard_normal((32, 16, 3, 3)),
        np.zeros(32),
    )
    start = time.perf_counter()
    slow = conv2d_loops(x, w, b, 1, 1)
    middle = time.perf_counter()
    fast = Conv2dFunction(1, 1).forward(x, w, b)
    end = time.perf_counter()
    print(
        f"loops {middle - start:.3f} s, im2col {end - middle:.4f} s, same result: "
        f"{np.allclose(slow, fast)}"
    )


if __name__ == "__main__":
    main()
