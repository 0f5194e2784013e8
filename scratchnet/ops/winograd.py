"""Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional
Neural Networks", CVPR 2016): a 3x3 stride-1 convolution with 2.25x fewer multiplications.

VGG, ResNet and DenseNet are stacks of 3x3 stride-1 convolutions (slides "VGGNet (1)-(2)",
"ResNet (4)"), so most of their arithmetic is this one layer. im2col (``ops/im2col.py``) computes
each output from its 3x3 window: 9 multiplications per output and channel, 36 for a 2x2 block
of outputs. Winograd computes a 2x2 block from its 4x4 input tile with 16 multiplications.

The 1-D algorithm F(2, 3): two outputs of a 3-tap filter g from four inputs d,
``y0 = d0 g0 + d1 g1 + d2 g2`` and ``y1 = d1 g0 + d2 g1 + d3 g2`` (6 multiplications), are::

    y = A^T [(G g) * (B^T d)]         * elementwise: 4 multiplications

    B^T = [[1,  0, -1,  0],     G = [[  1,    0,    0],     A^T = [[1, 1,  1,  0],
           [0,  1,  1,  0],          [1/2,  1/2,  1/2],            [0, 1, -1, -1]]
           [0, -1,  1,  0],          [1/2, -1/2,  1/2],
           [0,  1,  0, -1]]          [  0,    0,    1]]

Derivation (Cook-Toom, the interpolation points 0, 1, -1 and infinity). First the *linear*
convolution of a 2-tap signal h with the 3-tap g: the coefficients of the product polynomial
``s(t) = (h0 + h1 t)(g0 + g1 t + g2 t^2)``, degree 3, so it is fixed by its values at 4 points.
Evaluate both factors at 0, 1, -1 and infinity (the value "at infinity" is the leading
coefficient: h1, g2), multiply the 4 pairs (the only 4 multiplications) and interpolate s back
from its 4 values (Lagrange). The evaluations of g are the rows of G: g(0) = g0,
g(1)/2, g(-1)/2, g2; Lagrange's denominators (the 1/2) are moved into G, which is computed once
per layer, so that the per-tile matrices hold only 0, 1 and -1. The evaluations of h are A
(A^T's columns: h(0) = h0, h(1) = h0 + h1, h(-1) = h0 - h1, h1) and the interpolation is B.
F(2, 3) is the transpose of that algorithm in h (Winograd's transposition principle): since
``s_k = sum over a + i = k of h_a g_i`` and ``y_a = sum over i of g_i d_(a+i)``, y is the
adjoint of h -> s, ``y = A^T [(G g) * (B^T d)]``. (Lavin & Gray flip the sign of the infinity
row in both A and B; the signs cancel.)

Nesting F(2, 3) in both axes gives F(2x2, 3x3)::

    Y = A^T [(G g G^T) * (B^T d B)] A      d: 4x4 input tile, g: 3x3 filter, Y: 2x2 outputs

16 multiplications for 4 outputs instead of 4 * 9 = 36: 2.25x fewer.

Over channels the elementwise product becomes a matrix product. For each of the 16 positions
(xi, nu) of the 4x4 transformed tile::

    U[xi, nu] = (G g G^T)[xi, nu]    (K, C)  one matrix per layer (K filters, C channels)
    V[xi, nu] = (B^T d B)[xi, nu]    (C, P)  P = N * TH * TW tiles of the whole batch
    M[xi, nu] = U[xi, nu] @ V[xi, nu] (K, P)  16 GEMMs, summing over channels in the matrix product
    Y = A^T M A                      per tile: the 2x2 outputs of every filter

Tiles. The output (OH x OW, OH = H + 2*PH - 2) is cut into TH x TW blocks of 2x2, TH = ceil(OH/2);
block (th, tw) reads the 4x4 padded input tile at rows 2*th .. 2*th + 3: tiles overlap by 2. An
odd OH is rounded up by padding the input with zeros at the bottom (right), and the extra output
row is cropped.

The gradients are Winograd too (same transforms, same 2.25x):

* ``dL/dx`` is a stride-1 3x3 convolution of the upstream gradient, padded by ``2 - PH``, with the
  filter rotated by 180 degrees and its channel axes swapped: ``winograd_conv2d_forward`` again.
* ``dL/dw[k, c, i, j] = sum over n, oh, ow of gy[n, k, oh, ow] x_pad[n, c, oh + i, ow + j]`` is a
  correlation of the input with the 2x2 blocks of gy, 3x3 results: F(3x3, 2x2), the transpose of
  F(2x2, 3x3). Since ``Y = A^T [(G g) * (B^T d)]`` is linear in g, its adjoint in g is
  ``dL/dg = G^T [(A dY) * (B^T d)]``: the same input transform B^T, gy transformed by A, the
  output by G^T. Summed over every tile and image (the sum commutes with G^T)::

      dW = G^T [sum over tiles (A gy A^T) * (B^T d B)] G
         = G^T M G,  M[xi, nu] = (A gy A^T)[xi, nu] (K, P) @ V[xi, nu]^T (P, C): 16 GEMMs

  again 16 multiplications per tile and channel pair where im2col's ``gy @ col^T`` takes 36.

Rules: stride 1, dilation 1, groups 1, a 3x3 kernel, padding 0..2 (what 3x3 layers use; 2 - PH
must be a padding for the input gradient). ``kernels/numba_winograd.py`` is the fast sibling.

Notation: N batch, C input channels, K output channels (filters), H x W input, PH, PW padding,
OH x OW output, TH x TW tiles, P = N*TH*TW tiles in all, (xi, nu) a position in the 4x4 tile.
"""

from __future__ import annotations

import numpy as np

from scratchnet.backend import Array, get_xp
from scratchnet.ops.im2col import IntPair, pair

# fmt: off
# F(2, 3) at the points 0, 1, -1, infinity (see the module docstring for the derivation).
B_T = np.array([[1,  0, -1,  0],
                [0,  1,  1,  0],
                [0, -1,  1,  0],
                [0,  1,  0, -1]], dtype=np.float64)  # (4, 4) input transform: B^T d
G = np.array([[1.0,  0.0, 0.0],
              [0.5,  0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0.0,  0.0, 1.0]], dtype=np.float64)  # (4, 3) filter transform: G g
A_T = np.array([[1, 1,  1,  0],
                [0, 1, -1, -1]], dtype=np.float64)  # (2, 4) output transform: A^T m
# fmt: on

TILE = 4  # input tile: m + r - 1 = 2 + 3 - 1
BLOCK = 2  # outputs per tile along each axis (m)
KERNEL = 3  # taps along each axis (r)


def winograd_conv2d_forward(
    x: Array, w: Array, bias: Array | None = None, padding: IntPair = 1
) -> Array:
    """A 3x3 stride-1 convolution by F(2x2, 3x3); mirrors the im2col conv's forward product.

    Parameters
    ----------
    x : Array, shape (N, C, H, W)
    w : Array, shape (K, C, 3, 3)
    bias : Array, shape (K,), or None
    padding : int or (PH, PW), each 0..2

    Returns
    -------
    Array, shape (N, K, OH, OW), OH = H + 2*PH - 2, OW = W + 2*PW - 2
    """
    xp = get_xp(x)
    N, K = x.shape[0], w.shape[0]
    (PH, PW), (OH, OW) = check_winograd_shapes("winograd_conv2d_forward", x.shape, w, padding)
    TH, TW = tile_counts(OH, OW)
    V = input_transform(x, (PH, PW), (TH, TW))  # (16, C, P)
    U = filter_transform(w)  # (16, K, C)
    M = xp.matmul(U, V)  # (16, K, P): the 16 GEMMs, each summing over channels
    y_blocks = output_transform(M, (N, K, TH, TW))  # (N, K, 2*TH, 2*TW)
    y = y_blocks[:, :, :OH, :OW]  # (N, K, OH, OW): crop the rounding-up
    if bias is not None:
        y = y + bias.reshape(1, K, 1, 1)
    return xp.ascontiguousarray(y)


def winograd_conv2d_backward_input(
    gy: Array, w: Array, padding: IntPair, x_shape: tuple[int, ...]
) -> Array:
    """dL/dx of ``winograd_conv2d_forward``: gy padded by 2 - P, the filter rotated and transposed.

    ``gx[n, c, h, w'] = sum over k, i, j of gy[n, k, h + PH - i, w' + PW - j] w[k, c, i, j]``: with
    i -> 2 - i (rotation by 180 degrees) that is a correlation of gy padded by 2 - PH with the
    filter ``w[:, :, ::-1, ::-1]`` whose channel axes are swapped, a (C, K, 3, 3) filter. Its
    output has OH + 2*(2 - PH) - 2 = H rows: exactly x's.

    Parameters
    ----------
    gy : Array, shape (N, K, OH, OW)
    w : Array, shape (K, C, 3, 3)
    padding : int or (PH, PW), each 0..2, the forward's
    x_shape : (N, C, H, W), the forward's input shape

    Returns
    -------
    Array, shape (N, C, H, W)
    """
    xp = get_xp(gy)
    PH, PW = check_winograd_shapes("winograd_conv2d_backward_input", x_shape, w, padding, gy.shape)[
        0
    ]
    w_flipped = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, K, 3, 3)
    # Its output has OH + 2*(2 - PH) - 2 = H rows: x's, since OH = H + 2*PH - 2.
    return winograd_conv2d_forward(gy, w_flipped, None, (KERNEL - 1 - PH, KERNEL - 1 - PW))


def winograd_conv2d_backward_weight(x: Array, gy: Array, padding: IntPair) -> Array:
    """dL/dw of ``winograd_conv2d_forward`` by F(3x3, 2x2): ``G^T [sum (A gy A^T) * V] G``.

    Parameters
    ----------
    x : Array, shape (N, C, H, W), the forward's input
    gy : Array, shape (N, K, OH, OW)
    padding : int or (PH, PW), the forward's

    Returns
    -------
    Array, shape (K, C, 3, 3)
    """
    xp = get_xp(x)
    (PH, PW), (TH, TW) = weight_gradient_shapes(x.shape, gy.shape, padding)
    N, K, OH, OW = gy.shape
    V = input_transform(x, (PH, PW), (TH, TW))  # (16, C, P): the forward's tiles, again
    gy_blocks = xp.zeros((N, K, BLOCK * TH, BLOCK * TW), dtype=gy.dtype)  # zeros: cropped outputs
    gy_blocks[:, :, :OH, :OW] = gy  # have no gradient
    blocks = gy_blocks.reshape(N, K, TH, BLOCK, TW, BLOCK).transpose(0, 1, 2, 4, 3, 5)
    A = xp.asarray(A_T.T, dtype=gy.dtype)  # (4, 2)
    gy_hat = A @ blocks @ A.T  # (N, K, TH, TW, 4, 4): A gy A^T, per 2x2 block
    gy_hat = gy_hat.transpose(4, 5, 1, 0, 2, 3).reshape(TILE * TILE, K, -1)  # (16, K, P)
    M = xp.matmul(gy_hat, V.transpose(0, 2, 1))  # (16, K, C): 16 GEMMs, summing over tiles
    M = M.reshape(TILE, TILE, K, -1).transpose(2, 3, 0, 1)  # (K, C, 4, 4)
    G_ = xp.asarray(G, dtype=gy.dtype)  # (4, 3)
    return xp.ascontiguousarray(G_.T @ M @ G_)  # (K, C, 3, 3): G^T M G


# --------------------------------------------------------------------------- the three transforms


def input_transform(x: Array, padding: tuple[int, int], tiles: tuple[int, int]) -> Array:
    """V = B^T d B for every 4x4 tile d of the padded input, laid out for the 16 GEMMs.

    x (N, C, H, W) is padded by (PH, PW) and, at the bottom and right, with the zeros that the
    last tiles need (a tile of TH x TW blocks covers 2*TH + 2 rows). Returns (16, C, P), P =
    N*TH*TW, row ``xi*4 + nu`` holding the (C, P) matrix of position (xi, nu).
    """
    xp = get_xp(x)
    N, C, H, W = x.shape
    (PH, PW), (TH, TW) = padding, tiles
    rows, cols = BLOCK * TH + KERNEL - 1, BLOCK * TW + KERNEL - 1  # the padded input tiles read
    x_pad = xp.zeros((N, C, rows, cols), dtype=x.dtype)
    x_pad[:, :, PH : PH + H, PW : PW + W] = x  # rows >= PH + H + PH: the input always fits
    d = xp.empty((N, C, TH, TW, TILE, TILE), dtype=x.dtype)
    for i in range(TILE):  # as im2col: one strided slice per position (i, j) in the tile
        for j in range(TILE):
            d[..., i, j] = x_pad[:, :, i : i + BLOCK * TH : BLOCK, j : j + BLOCK * TW : BLOCK]
    BT = xp.asarray(B_T, dtype=x.dtype)
    V = BT @ d @ BT.T  # (N, C, TH, TW, 4, 4): B^T d B per tile
    return V.transpose(4, 5, 1, 0, 2, 3).reshape(TILE * TILE, C, -1)  # (16, C, N*TH*TW)


def filter_transform(w: Array) -> Array:
    """U = G g G^T for every 3x3 filter g of w (K, C, 3, 3); returns (16, K, C)."""
    xp = get_xp(w)
    K, C = w.shape[:2]
    G_ = xp.asarray(G, dtype=w.dtype)
    U = G_ @ w @ G_.T  # (K, C, 4, 4)
    return U.transpose(2, 3, 0, 1).reshape(TILE * TILE, K, C)  # (16, K, C)


def output_transform(M: Array, blocks: tuple[int, int, int, int]) -> Array:
    """Y = A^T m A for every tile m of M (16, K, P); returns the (N, K, 2*TH, 2*TW) blocks."""
    N, K, TH, TW = blocks
    AT = get_xp(M).asarray(A_T, dtype=M.dtype)
    m = M.reshape(TILE, TILE, K, N, TH, TW).transpose(3, 2, 4, 5, 0, 1)  # (N, K, TH, TW, 4, 4)
    Y = AT @ m @ AT.T  # (N, K, TH, TW, 2, 2)
    return Y.transpose(0, 1, 2, 4, 3, 5).reshape(N, K, BLOCK * TH, BLOCK * TW)


def tile_counts(OH: int, OW: int) -> tuple[int, int]:
    """TH x TW blocks of 2x2 cover an OH x OW output: ceil, an odd size gets a cropped row."""
    return -(-OH // BLOCK), -(-OW // BLOCK)


def weight_gradient_shapes(
    x_shape: tuple[int, ...], gy_shape: tuple[int, ...], padding: IntPair
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The padding pair and tile counts of the weight gradient; refuses what the forward does."""
    K = gy_shape[1] if len(gy_shape) == 4 else 0  # the weight's K is gy's channels
    C = x_shape[1] if len(x_shape) == 4 else 0
    padding_pair, output = check_winograd_shapes(
        "winograd_conv2d_backward_weight", x_shape, (K, C, KERNEL, KERNEL), padding, gy_shape
    )
    return padding_pair, tile_counts(*output)


def check_winograd_shapes(
    name: str,
    x_shape: tuple[int, ...],
    w: Array | tuple[int, ...],
    padding: IntPair,
    gy_shape: tuple[int, ...] | None = None,
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The padding pair and the output size; raises on anything F(2x2, 3x3) does not compute.

    ``gy_shape``, for the gradients: the upstream gradient must have the output's shape.
    """
    w_shape = tuple(getattr(w, "shape", w))
    PH, PW = pair(padding, "padding")
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(
            f"{name}: expected input (N, C, H, W) and weight (K, C, 3, 3), "
            f"got {tuple(x_shape)} and {w_shape}"
        )
    if w_shape[2:] != (KERNEL, KERNEL) or w_shape[1] != x_shape[1]:
        raise ValueError(
            f"{name}: Winograd F(2x2, 3x3) needs a (K, C, 3, 3) weight matching the input's "
            f"C = {x_shape[1]} channels, got weight {w_shape}"
        )
    if not (0 <= PH <= KERNEL - 1 and 0 <= PW <= KERNEL - 1):
        raise ValueError(f"{name}: padding must be 0, 1 or 2 per axis, got {(PH, PW)}")
    OH, OW = x_shape[2] + 2 * PH - KERNEL + 1, x_shape[3] + 2 * PW - KERNEL + 1
    if OH < 1 or OW < 1:
        raise ValueError(
            f"{name}: input {tuple(x_shape)} with padding {(PH, PW)} is smaller than the 3x3 "
            f"kernel (output would be {OH} x {OW})"
        )
    expected = (x_shape[0], w_shape[0], OH, OW)
    if gy_shape is not None and tuple(gy_shape) != expected:
        raise ValueError(
            f"{name}: the upstream gradient has shape {tuple(gy_shape)}, but the layer's output "
            f"(input {tuple(x_shape)}, weight {w_shape}, padding {(PH, PW)}) is {expected}"
        )
    return (PH, PW), (OH, OW)
