"""Checks for lab 2. Run them from this folder with:  python -m scratchnet.labs check ."""

import conv_im2col as lab
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.labs.expect import expect_close, expect_equal, expect_gradcheck, expect_shape
from scratchnet.nn import functional as F
from scratchnet.ops import im2col as reference

# Points per task: the score is POINTS[task] x the share of that task's checks that pass.
POINTS = {"2.1": 1, "2.2": 3, "2.3": 4, "2.4": 4, "2.5": 4, "2.6": 4}
# scratchnet's own versions of what this lab asks you to write: your file may not call them.
FORBIDDEN = (
    "scratchnet.ops.im2col.im2col",
    "scratchnet.ops.im2col.col2im",
    "scratchnet.ops.conv",
    "scratchnet.nn.conv",
    "scratchnet.kernels",
)

# (stride, padding) pairs, kernel shapes: VGG's 3x3/1/1,
# a strided conv, a 1x3 of Inception-v3's factorisation.
GEOMETRIES = [(1, 0), (1, 1), (2, 1), (2, 0)]


def random_conv(rng, N=2, C=3, H=6, W=5, OC=4, KH=3, KW=3):
    return (
        rng.standard_normal((N, C, H, W)),
        rng.standard_normal((OC, C, KH, KW)),
        rng.standard_normal(OC),
    )


def scratchnet_conv(x, w, b, stride, padding):
    return F.conv2d(
        sn.tensor(x), sn.tensor(w), sn.tensor(b), stride=stride, padding=padding
    ).numpy()


def test_output_size():
    """Task 2.1: conv_output_size for VGG's 3x3/1/1, GoogLeNet's 7x7/2 stem and a strided 3x3"""
    cases = [
        ((224, 3, 1, 1), 224),
        ((224, 7, 2, 3), 112),
        ((56, 3, 2, 1), 28),
        ((5, 3, 2, 0), 2),
        ((7, 1, 1, 0), 7),
    ]
    for (size, kernel, stride, padding), expected in cases:
        got = lab.conv_output_size(size, kernel, stride, padding)
        expect_equal(
            got,
            expected,
            f"conv_output_size(size={size}, kernel={kernel}, stride={stride}, padding={padding})",
        )


@pytest.mark.parametrize(("stride", "padding"), GEOMETRIES)
def test_loops_match_scratchnet(stride, padding):
    """Task 2.2: conv2d_loops matches scratchnet's convolution"""
    x, w, b = random_conv(np.random.default_rng(0))
    what = f"conv2d_loops(x, w, b, stride={stride}, padding={padding})"
    expect_close(
        lab.conv2d_loops(x, w, b, stride, padding), scratchnet_conv(x, w, b, stride, padding), what
    )


def test_im2col_small_example():
    """Task 2.3: im2col of a 2x3 image with a 2x2 kernel: two windows, two columns"""
    x = np.arange(6.0).reshape(1, 1, 2, 3)  # [[0, 1, 2], [3, 4, 5]]
    # The windows [[0, 1], [3, 4]] and [[1, 2], [4, 5]], each read row by row into one column.
    expected = np.array([[0, 1], [1, 2], [3, 4], [4, 5]], dtype=float)
    expect_close(lab.im2col(x, 2, 2), expected, "im2col(arange(6).reshape(1, 1, 2, 3), 2, 2)")


@pytest.mark.parametrize(("stride", "padding"), GEOMETRIES)
def test_im2col_matches_reference(stride, padding):
    """Task 2.3: im2col has shape (C*KH*KW, N*OH*OW) and matches scratchnet's im2col"""
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 5))
    col = lab.im2col(x, 3, 2, stride, padding)
    expected = reference.im2col(x, (3, 2), stride, padding)
    expect_shape(
        col,
        expected.shape,
        f"im2col(x of shape {x.shape}, KH=3, KW=2, stride={stride}, padding={padding})",
    )
    expect_close(col, expected, f"im2col(x, KH=3, KW=2, stride={stride}, padding={padding})")


def test_col2im_adds_overlaps():
    """Task 2.4: col2im of im2col(ones) counts how many windows cover each pixel"""
    ones = np.ones((1, 1, 4, 4))
    counts = lab.col2im(lab.im2col(ones, 3, 3), ones.shape, 3, 3)
    # A 3x3 window at stride 1 over 4x4: corner pixels are in 1 window, the centre 2x2 in all 4.
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]], dtype=float)
    expect_close(counts, expected[None, None], "col2im(im2col(ones((1, 1, 4, 4)), 3, 3))")


@pytest.mark.parametrize(("stride", "padding"), GEOMETRIES)
def test_col2im_is_the_adjoint(stride, padding):
    """Task 2.4: col2im matches scratchnet's and is im2col's adjoint:
    <im2col(x), c> = <x, col2im(c)>"""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 6, 5))
    c = rng.standard_normal(reference.im2col(x, (3, 2), stride, padding).shape)
    back = lab.col2im(c, x.shape, 3, 2, stride, padding)
    what = f"col2im(c, {x.shape}, KH=3, KW=2, stride={stride}, padding={padding})"
    expect_close(back, reference.col2im(c, x.shape, (3, 2), stride, padding), what)
    expect_close(
        float((x * back).sum()),
        float((reference.im2col(x, (3, 2), stride, padding) * c).sum()),
        "<x, col2im(c)> vs <im2col(x), c>",
    )


@pytest.mark.parametrize(("stride", "padding"), GEOMETRIES)
def test_forward_matches_scratchnet(stride, padding):
    """Task 2.5: Conv2dFunction.forward matches scratchnet's convolution"""
    x, w, b = random_conv(np.random.default_rng(3))
    what = f"conv2d(x, w, b, stride={stride}, padding={padding})"
    expect_close(
        lab.conv2d(sn.tensor(x), sn.tensor(w), sn.tensor(b), stride, padding),
        scratchnet_conv(x, w, b, stride, padding),
        what,
    )


def test_forward_asymmetric_kernel():
    """Task 2.5: a 1x3 kernel
    (Inception-v3's asymmetric factorisation, slide "GoogLeNet (10)") works too"""
    x, w, b = random_conv(np.random.default_rng(4), KH=1, KW=3)
    expect_close(
        lab.conv2d(sn.tensor(x), sn.tensor(w), sn.tensor(b), 1, 0),
        scratchnet_conv(x, w, b, 1, 0),
        "conv2d with a 1x3 kernel",
    )


def test_one_by_one_is_a_matrix_product():
    """Task 2.5: a 1x1 convolution mixes channels at every pixel:
    a matrix product (slide "GoogLeNet (4)")"""
    rng = np.random.default_rng(5)
    x, w, b = random_conv(rng, C=4, OC=2, KH=1, KW=1)
    expected = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x) + b[None, :, None, None]
    expect_close(
        lab.conv2d(sn.tensor(x), sn.tensor(w), sn.tensor(b)), expected, "1x1 conv2d vs einsum"
    )


def reference_gradients(x, w, b, gy, stride, padding):
    """dL/dx, dL/dw, dL/db of L = sum(gy * conv2d(x, w, b)), by scratchnet's own convolution."""
    inputs = [sn.tensor(a, requires_grad=True) for a in (x, w, b)]
    F.conv2d(*inputs, stride=stride, padding=padding).backward(sn.tensor(gy))
    return [t.grad.numpy() for t in inputs]


@pytest.mark.parametrize(("stride", "padding"), [(1, 1), (2, 1), (2, 0)])
def test_backward_matches_reference(stride, padding):
    """Task 2.6: Conv2dFunction.backward gives scratchnet's
    gradients for x, w and b (a fixed random upstream)"""
    # Compared with the reference, not only with your own forward: a backward that mirrors a bug of
    # the forward (say, a missing (N, OC) <-> (OC, N) transpose in both) passes gradcheck, not this.
    rng = np.random.default_rng(6)
    x, w, b = random_conv(rng, N=2, C=2, H=5, W=4, OC=3)
    function = lab.Conv2dFunction(stride, padding)
    function.forward(x, w, b)
    gy = rng.standard_normal(scratchnet_conv(x, w, b, stride, padding).shape)
    grads = function.backward(gy.copy())
    if not isinstance(grads, tuple | list) or len(grads) != 3:
        raise AssertionError("Conv2dFunction.backward should return three gradients (gx, gw, gb)")
    expected = reference_gradients(x, w, b, gy, stride, padding)
    for grad, like, name in zip(grads, expected, ("x", "w", "b"), strict=True):
        what = f"conv2d backward (stride={stride}, padding={padding}): gradient for {name}"
        expect_shape(grad, like.shape, what)
        expect_close(grad, like, what)


def test_backward_gradcheck():
    """Task 2.6: conv2d (your forward and backward, chained by the engine)
    passes gradcheck for x, w and b"""
    x, w, b = random_conv(np.random.default_rng(9), N=2, C=2, H=5, W=4, OC=3)
    inputs = [sn.tensor(a, requires_grad=True) for a in (x, w, b)]
    expect_gradcheck(
        lambda *t: lab.conv2d(*t, stride=2, padding=1),
        inputs,
        "conv2d backward (stride=2, padding=1)",
        names=("x", "w", "b"),
    )


def test_backward_shapes():
    """Task 2.6: the gradients have the shapes of x, w and b"""
    x, w, b = random_conv(np.random.default_rng(7))
    function = lab.Conv2dFunction(2, 1)
    y = function.forward(x, w, b)
    grads = function.backward(np.ones_like(y))
    for grad, like, name in zip(grads, (x, w, b), ("x", "w", "b"), strict=True):
        expect_shape(grad, like.shape, f"Conv2dFunction.backward's gradient for {name}")
