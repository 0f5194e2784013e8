"""conv2d (im2col) and conv2d_naive (loops): gradients, agreement with each other, PyTorch, errors.

The fast conv2d against this reference is in tests/test_kernels.py.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from helpers import assert_close, random_tensors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import backend
from scratchnet.gradcheck import gradcheck
from scratchnet.ops.conv import conv2d, conv2d_naive

torch_settings = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def conv_configs(draw, max_kernel=7, max_batch=2):
    """A small convolution: stride 1-3, padding 0-3, dilation 1-2, groups 1/2/4, kernel 1-7."""
    groups = draw(st.sampled_from([1, 2, 4]))
    c_per_group = draw(st.integers(1, 2 if groups < 4 else 1))
    oc_per_group = draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # The smallest input a window fits in, plus a little: odd and even sizes, down to 1.
    spatial = tuple(
        max(1, d * (k - 1) + 1 - 2 * p + draw(st.integers(0, 3)))
        for k, p, d in zip(kernel, padding, dilation, strict=True)
    )
    return dict(
        x_shape=(draw(st.integers(1, max_batch)), groups * c_per_group, *spatial),
        w_shape=(groups * oc_per_group, c_per_group, *kernel),
        bias=draw(st.booleans()),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )


def make_inputs(cfg, dtype=np.float64, seed=0):
    """Input, weight and (where the config has one) bias, drawn in that order from one stream."""
    bias_shapes = [(cfg["w_shape"][0],)] if cfg["bias"] else []
    x, w, *b = random_tensors([cfg["x_shape"], cfg["w_shape"], *bias_shapes], dtype, seed)
    return x, w, (b[0] if b else None)


def conv_args(cfg):
    return dict(
        stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"]
    )


def forward_backward(fn, cfg, dtype=np.float64, seed=0):
    """Output and the gradients of (input, weight, bias) for a random upstream gradient."""
    x, w, b = make_inputs(cfg, dtype, seed)
    y = fn(x, w, b, **conv_args(cfg))
    g = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(dtype)
    y.backward(g)
    return [y.array, x.grad.array, w.grad.array] + ([b.grad.array] if b is not None else [])


# --------------------------------------------------------------------------- gradients


@given(conv_configs(max_kernel=5))
def test_conv2d_gradcheck(cfg):
    x, w, b = make_inputs(cfg)
    inputs = [x, w] if b is None else [x, w, b]
    assert gradcheck(lambda *t: conv2d(*t, **conv_args(cfg)), inputs)


@settings(max_examples=8)
@given(conv_configs(max_kernel=3, max_batch=1))
def test_conv2d_naive_gradcheck(cfg):
    x, w, b = make_inputs(cfg)
    inputs = [x, w] if b is None else [x, w, b]
    assert gradcheck(lambda *t: conv2d_naive(*t, **conv_args(cfg)), inputs)


@st.composite
def pointwise_configs(draw):
    """1x1 convolutions with stride 1 and no padding: conv2d's path without im2col."""
    cfg = draw(conv_configs(max_kernel=1))
    return dict(cfg, stride=(1, 1), padding=(0, 0), dilation=(draw(st.integers(1, 2)),) * 2)


@given(pointwise_configs())
def test_pointwise_conv2d_gradcheck_and_matches_naive(cfg):
    x, w, b = make_inputs(cfg)
    inputs = [x, w] if b is None else [x, w, b]
    assert gradcheck(lambda *t: conv2d(*t, **conv_args(cfg)), inputs)
    for a, e in zip(
        forward_backward(conv2d, cfg), forward_backward(conv2d_naive, cfg), strict=True
    ):
        assert_close(a, e, 1e-12)


@given(conv_configs())
def test_conv2d_matches_naive(cfg):
    """The reference's forward and every gradient equal the loop definition."""
    with backend.reference_kernels():
        actual = forward_backward(conv2d, cfg)
    for a, e in zip(actual, forward_backward(conv2d_naive, cfg), strict=True):
        assert_close(a, e, 1e-12)


# --------------------------------------------------------------------------- against PyTorch


@torch_settings
@given(
    cfg=st.one_of(conv_configs(), pointwise_configs()),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_conv2d_matches_torch(torch, cfg, dtype):
    ours = forward_backward(conv2d, cfg, dtype)
    x, w, b = (
        None if t is None else torch.tensor(t.array, requires_grad=True)
        for t in make_inputs(cfg, dtype)
    )
    y = torch.nn.functional.conv2d(x, w, b, **conv_args(cfg))
    y.backward(torch.tensor(np.random.default_rng(1).standard_normal(y.shape).astype(dtype)))
    theirs = [y, x.grad, w.grad] + ([b.grad] if b is not None else [])
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for a, e in zip(ours, theirs, strict=True):
        assert a.dtype == dtype
        assert_close(a, e.detach().numpy(), rtol)


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note about its own copy
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 4), (1, 5)])
def test_string_padding_matches_torch(torch, padding, kernel):
    cfg = dict(
        x_shape=(2, 3, 7, 9),
        w_shape=(4, 3, *kernel),
        bias=True,
        stride=1,
        padding=padding,
        dilation=(1, 2),
        groups=1,
    )
    ours = forward_backward(conv2d, cfg)
    x, w, b = (torch.tensor(t.array, requires_grad=True) for t in make_inputs(cfg))
    y = torch.nn.functional.conv2d(x, w, b, padding=padding, dilation=(1, 2))
    y.backward(torch.tensor(np.random.default_rng(1).standard_normal(y.shape)))
    for a, e in zip(ours, [y, x.grad, w.grad, b.grad], strict=True):
        assert_close(a, e.detach().numpy(), 1e-10)


@pytest.mark.parametrize("stride", [1, 2])  # 1: the 1x1 conv takes the pointwise path
@pytest.mark.parametrize("kernel", [1, 3])
def test_views_of_input_and_weight_match_torch(torch, kernel, stride):
    # Transposed views of the input and of the weight: the fast path's weight gradient was all
    # zeros (a gradient written into a copy), and its input gradient a Numba TypingError.
    x0 = np.random.default_rng(0).standard_normal((2, 3, 7, 8)).astype(np.float32)
    w0 = np.random.default_rng(1).standard_normal((4, 3, kernel, kernel)).astype(np.float32)
    g = (
        np.random.default_rng(2)
        .standard_normal((2, 4, 8, 7))
        .astype(np.float32)[..., ::stride, ::stride]
    )
    results = []
    for lib, conv in ((sn, conv2d), (torch, torch.nn.functional.conv2d)):
        x, w = lib.tensor(x0, requires_grad=True), lib.tensor(w0, requires_grad=True)
        y = conv(x.transpose(2, 3), w.transpose(2, 3), stride=stride, padding=kernel // 2)
        (y * lib.tensor(np.ascontiguousarray(g))).sum().backward()
        results.append([t.detach().numpy() for t in (y, x.grad, w.grad)])
    for ours, theirs in zip(*results, strict=True):
        assert_close(ours, theirs, 1e-4)


@pytest.mark.parametrize("kernels", ["fast", "reference"])
def test_an_empty_batch_gives_empty_results_as_in_torch(torch, kernels):
    # N = 0: PyTorch computes (an empty output, a zero weight gradient); the reference used to
    # fail in a reshape with -1, ambiguous for zero values.
    x, w = sn.zeros((0, 4, 5, 5), requires_grad=True), sn.ones((6, 2, 3, 3), requires_grad=True)
    with backend.reference_kernels() if kernels == "reference" else contextlib.nullcontext():
        y = conv2d(x, w, padding=1, groups=2)
        y.sum().backward()
    tx, tw = torch.zeros(0, 4, 5, 5, requires_grad=True), torch.ones(6, 2, 3, 3, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, padding=1, groups=2)
    ty.sum().backward()
    for ours, theirs in [(y, ty), (x.grad, tx.grad), (w.grad, tw.grad)]:
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.array, theirs.detach().numpy())


# --------------------------------------------------------------------------- behaviour


def test_one_image_without_batch_dimension():
    x, w = sn.randn(3, 8, 8), sn.randn(5, 3, 3, 3)
    y = conv2d(x, w, padding=1)
    assert y.shape == (5, 8, 8)
    np.testing.assert_allclose(y.array, conv2d(x.unsqueeze(0), w, padding=1).array[0])


def test_float32_stays_float32():
    x = sn.randn(2, 4, 6, 6, requires_grad=True)
    w, b = sn.randn(8, 4, 3, 3, requires_grad=True), sn.randn(8, requires_grad=True)
    y = conv2d(x, w, b, stride=2, padding=1)
    y.sum().backward()
    assert {t.dtype for t in (y, x.grad, w.grad, b.grad)} == {np.dtype(np.float32)}


def test_no_input_gradient_when_input_does_not_require_it():
    x = sn.randn(2, 3, 6, 6)
    w = sn.randn(4, 3, 3, 3, requires_grad=True)
    conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None
    x2, w2 = sn.tensor(x.array, requires_grad=True), sn.tensor(w.array, requires_grad=True)
    conv2d(x2, w2, padding=1).sum().backward()
    np.testing.assert_allclose(w.grad.array, w2.grad.array)


def test_frozen_weight_gets_no_gradient_and_input_gradient_is_right():
    x = sn.randn(2, 4, 7, 7, requires_grad=True)
    w, b = sn.randn(6, 2, 3, 3), sn.randn(6, requires_grad=True)
    conv2d(x, w, b, stride=2, padding=1, groups=2).sum().backward()
    assert w.grad is None
    np.testing.assert_allclose(b.grad.array, np.full(6, 2 * 4 * 4))  # N * OH * OW
    x2 = sn.tensor(x.array, requires_grad=True)
    conv2d_naive(x2, w, b, stride=2, padding=1, groups=2).sum().backward()
    np.testing.assert_allclose(x.grad.array, x2.grad.array, rtol=1e-5, atol=1e-5)


def test_one_by_one_conv_is_a_matrix_product_over_channels():
    """Slide "GoogLeNet (4)": a 1x1 convolution mixes channels at every position."""
    x, w = sn.randn(2, 6, 5, 4), sn.randn(3, 6, 1, 1)
    expected = np.einsum("oc,nchw->nohw", w.array[:, :, 0, 0], x.array)
    np.testing.assert_allclose(conv2d(x, w).array, expected, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("fn", [conv2d, conv2d_naive])
def test_channel_mismatch_names_the_shapes(fn):
    with pytest.raises(ValueError) as error:
        fn(sn.zeros(8, 1, 28, 28), sn.zeros(64, 3, 3, 3))
    expected = (
        "weight of shape (64, 3, 3, 3) expects 3 input channels (groups=1), got 1 for input of "
        "shape (8, 1, 28, 28)"
    )
    assert expected in str(error.value)
    assert str(error.value).startswith(fn.__name__)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "match"),
    [
        (
            (8, 28),
            (4, 3, 3, 3),
            {},
            r"expected input of shape \(N, C, H, W\) or \(C, H, W\), got shape \(8, 28\)",
        ),
        ((1, 8, 3, 28, 28), (4, 3, 3, 3), {}, r"got shape \(1, 8, 3, 28, 28\)"),
        (
            (2, 3, 8, 8),
            (4, 3, 3),
            {},
            r"expected weight of shape \(OC, C/groups, KH, KW\), got shape \(4, 3, 3\)",
        ),
        (
            (2, 3, 4, 4),
            (4, 3, 7, 7),
            {"padding": 1},
            r"kernel 7x7 .* larger than the padded input 6x6",
        ),
        (
            (2, 3, 4, 4),
            (4, 3, 3, 3),
            {"dilation": 2},
            r"spans 5x5, larger than the padded input 4x4",
        ),
        (
            (2, 6, 8, 8),
            (4, 2, 3, 3),
            {"groups": 4},
            r"groups=4 does not divide the 6 channels of input \(2, 6, 8, 8\)",
        ),
        (
            (2, 6, 8, 8),
            (3, 3, 3, 3),
            {"groups": 2},
            r"groups=2 does not divide the 3 output channels",
        ),
        ((2, 6, 8, 8), (4, 3, 3, 3), {"stride": 0}, r"must be positive"),
        ((2, 6, 8, 8), (4, 3, 3, 3), {"groups": 2, "padding": -1}, r"padding must be >= 0"),
        (
            (2, 6, 8, 8),
            (4, 3, 3, 3),
            {"groups": 2, "padding": "full"},
            r"padding must be an int, a pair, 'valid' or 'same'",
        ),
        (
            (2, 6, 8, 8),
            (4, 3, 3, 3),
            {"groups": 2, "stride": 2, "padding": "same"},
            r"padding='same' needs stride 1",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv2d(sn.zeros(*x_shape), sn.zeros(*w_shape), **kwargs)


def test_channel_mismatch_of_one_image_names_its_shape():
    with pytest.raises(
        ValueError,
        match=r"expects 3 input channels \(groups=1\), got 1 for input of shape \(1, 28, 28\)",
    ):
        conv2d(sn.zeros(1, 28, 28), sn.zeros(64, 3, 3, 3))


def test_bad_bias_and_dtype():
    x, w = sn.zeros(2, 3, 8, 8), sn.zeros(4, 3, 3, 3)
    with pytest.raises(
        ValueError,
        match=r"bias must have shape \(4,\) for weight of shape \(4, 3, 3, 3\), got \(3,\)",
    ):
        conv2d(x, w, sn.zeros(3))
    with pytest.raises(
        TypeError, match=r"input \(float64\) and weight/bias \(float32\) must have the same dtype"
    ):
        conv2d(x.to(sn.float64), w)
