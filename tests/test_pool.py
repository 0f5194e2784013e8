"""Pooling: output sizes (ceil_mode), gradients, vs PyTorch, adaptive and global pools, errors."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from helpers import assert_close
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import backend
from scratchnet.gradcheck import gradcheck
from scratchnet.ops.im2col import output_size
from scratchnet.ops.pool import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    global_avg_pool2d,
    max_pool2d,
)

torch_settings = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def pool_configs(draw, dilation=True):
    """Kernel 1-4 (any shape), stride 1-3, padding up to half the kernel, dilation 1-2, ceil."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    # At least one dilation step wide, so that no dilated window holds only padding (an error).
    spatial = tuple(
        max(d, d * (k - 1) + 1 - 2 * p + draw(st.integers(0, 4)))
        for k, p, d in zip(kernel, padding, dil, strict=True)
    )
    return dict(
        x_shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial),
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        dilation=dil,
        ceil_mode=draw(st.booleans()),
    )


def distinct_values(shape, dtype=np.float64, seed=0):
    """A random permutation of well separated values: no ties, the max is unique in every window."""
    rng = np.random.default_rng(seed)
    values = rng.permutation(int(np.prod(shape))).astype(dtype) / 4 - 3
    return sn.tensor(values.reshape(shape), requires_grad=True)


def max_args(cfg):
    return {k: cfg[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}


def avg_args(cfg, count_include_pad):
    keys = ("kernel_size", "stride", "padding", "ceil_mode")
    return {k: cfg[k] for k in keys} | {"count_include_pad": count_include_pad}


def call_avg(x, cfg, count_include_pad):
    return avg_pool2d(x, **avg_args(cfg, count_include_pad))


# --------------------------------------------------------------------------- output size


@torch_settings
@given(
    size=st.integers(1, 20),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 2),
    ceil_mode=st.booleans(),
    data=st.data(),
)
def test_output_size_matches_torch(torch, size, kernel, stride, dilation, ceil_mode, data):
    padding = data.draw(st.integers(0, kernel // 2))
    if size + 2 * padding < dilation * (kernel - 1) + 1:
        return  # no window fits: an error in both libraries
    expected = torch.nn.functional.max_pool2d(
        torch.zeros(1, 1, size, 1), (kernel, 1), (stride, 1), (padding, 0), (dilation, 1), ceil_mode
    ).shape[2]
    assert output_size(size, kernel, stride, padding, dilation, ceil_mode) == expected


def test_ceil_mode_examples():
    # GoogLeNet: 112 -> 56 with a 3x3/2 max pool in ceil mode (floor mode would give 55).
    assert output_size(112, 3, 2, 0, 1, ceil_mode=True) == 56
    assert output_size(112, 3, 2, 0, 1, ceil_mode=False) == 55
    # The last window would start in the right padding: not counted.
    assert output_size(5, 2, 2, 1, 1, ceil_mode=True) == 3
    assert output_size(4, 2, 2, 1, 1, ceil_mode=True) == 3


# --------------------------------------------------------------------------- gradients


@given(pool_configs())
def test_max_pool2d_gradcheck(cfg):
    x = distinct_values(cfg["x_shape"])
    assert gradcheck(lambda t: max_pool2d(t, **max_args(cfg)), [x])


@given(pool_configs(dilation=False), st.booleans())
def test_avg_pool2d_gradcheck(cfg, count_include_pad):
    x = sn.tensor(np.random.default_rng(0).standard_normal(cfg["x_shape"]), requires_grad=True)
    assert gradcheck(lambda t: call_avg(t, cfg, count_include_pad), [x])


@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
    out=st.tuples(st.integers(1, 5), st.integers(1, 5)),
)
def test_adaptive_pools_gradcheck(shape, out):
    x = distinct_values(shape)
    assert gradcheck(lambda t: adaptive_avg_pool2d(t, out), [x])
    assert gradcheck(lambda t: adaptive_max_pool2d(t, out), [x])


def test_global_avg_pool2d_gradcheck():
    x = sn.tensor(np.random.default_rng(0).standard_normal((2, 3, 5, 4)), requires_grad=True)
    assert gradcheck(global_avg_pool2d, [x])
    assert global_avg_pool2d(x).shape == (2, 3, 1, 1)


# --------------------------------------------------------------------------- against PyTorch


def torch_pool(torch, fn, x, g, **kwargs):
    tx = torch.tensor(x.array, requires_grad=True)
    y = fn(tx, **kwargs)
    indices = None
    if isinstance(y, tuple):
        y, indices = y
    y.backward(torch.tensor(g))
    return y.detach().numpy(), tx.grad.numpy(), None if indices is None else indices.numpy()


def ours_pool(fn, x, g, **kwargs):
    x = sn.tensor(x.array, requires_grad=True)
    y = fn(x, **kwargs)
    indices = None
    if isinstance(y, tuple):
        y, indices = y
    y.backward(g)
    return y.array, x.grad.array, None if indices is None else indices.array


@torch_settings
@given(cfg=pool_configs(), dtype=st.sampled_from([np.float32, np.float64]))
def test_max_pool2d_matches_torch(torch, cfg, dtype):
    x = distinct_values(cfg["x_shape"], dtype)
    g = np.random.default_rng(1).standard_normal(max_pool2d(x, **max_args(cfg)).shape).astype(dtype)
    ours = ours_pool(max_pool2d, x, g, return_indices=True, **max_args(cfg))
    theirs = torch_pool(
        torch, torch.nn.functional.max_pool2d, x, g, return_indices=True, **max_args(cfg)
    )
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    assert_close(ours[0], theirs[0], rtol)
    assert_close(ours[1], theirs[1], rtol)
    np.testing.assert_array_equal(ours[2], theirs[2])
    assert ours[0].dtype == ours[1].dtype == dtype and ours[2].dtype == np.int64


@torch_settings
@given(
    cfg=pool_configs(dilation=False),
    count_include_pad=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_avg_pool2d_matches_torch(torch, cfg, count_include_pad, dtype):
    x = sn.tensor(np.random.default_rng(0).standard_normal(cfg["x_shape"]).astype(dtype))
    args = avg_args(cfg, count_include_pad)
    g = np.random.default_rng(1).standard_normal(avg_pool2d(x, **args).shape).astype(dtype)
    ours = ours_pool(avg_pool2d, x, g, **args)
    theirs = torch_pool(torch, torch.nn.functional.avg_pool2d, x, g, **args)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for a, e in zip(ours[:2], theirs[:2], strict=True):
        assert a.dtype == dtype
        assert_close(a, e, rtol)


@torch_settings
@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 11), st.integers(1, 11)),
    out=st.tuples(st.one_of(st.none(), st.integers(1, 6)), st.integers(1, 6)),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_adaptive_pools_match_torch(torch, shape, out, dtype):
    x = distinct_values(shape, dtype)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    y_shape = adaptive_avg_pool2d(x, out).shape
    g = np.random.default_rng(1).standard_normal(y_shape).astype(dtype)
    for ours_fn, torch_fn, kwargs in [
        (adaptive_avg_pool2d, torch.nn.functional.adaptive_avg_pool2d, {}),
        (adaptive_max_pool2d, torch.nn.functional.adaptive_max_pool2d, {"return_indices": True}),
    ]:
        ours = ours_pool(ours_fn, x, g, output_size=out, **kwargs)
        theirs = torch_pool(torch, torch_fn, x, g, output_size=out, **kwargs)
        assert_close(ours[0], theirs[0], rtol)
        assert_close(ours[1], theirs[1], rtol)
        if kwargs:
            np.testing.assert_array_equal(ours[2], theirs[2])


@pytest.mark.parametrize("kernels", ["fast", "reference"])
def test_changing_the_returned_indices_does_not_change_the_gradient(kernels):
    # The returned indices were the array backward reads: indices.zero_() sent every gradient to
    # element 0 (PyTorch raises; here they are a copy, and the gradient stays right).
    x0 = distinct_values((1, 2, 4, 6), np.float64).array
    path = backend.reference_kernels if kernels == "reference" else contextlib.nullcontext
    pools = [(max_pool2d, {"kernel_size": 2}), (adaptive_max_pool2d, {"output_size": 3})]
    for pool, kwargs in pools:  # 4x6 to 3x3: overlapping windows, the adaptive Function itself
        grads = []
        for change in (False, True):
            x = sn.tensor(x0, requires_grad=True)
            with path():
                y, indices = pool(x, return_indices=True, **kwargs)
                if change:
                    indices.zero_()
                y.sum().backward()
            grads.append(x.grad.array)
        np.testing.assert_array_equal(grads[1], grads[0])


def test_integer_adaptive_pooling_is_refused_as_in_torch(torch):
    # PyTorch: "not implemented for 'Long'"; the adaptive means were truncated to integers.
    x = np.arange(24).reshape(1, 2, 3, 4)  # int64
    for name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        with pytest.raises((RuntimeError, NotImplementedError)):
            getattr(torch.nn.functional, name)(torch.tensor(x), (2, 3))
        with pytest.raises(TypeError, match=rf"{name}\(\): input of dtype int64"):
            getattr(sn.nn.functional, name)(sn.tensor(x), (2, 3))


@pytest.mark.parametrize("kernels", ["fast", "reference"])
def test_integer_pooling_matches_torch(torch, kernels):
    # Integers stay integers (the mean truncated toward zero). The reference used to pad max
    # pooling with -inf (an OverflowError for integers) and to return float64 means.
    x = np.random.default_rng(0).integers(-9, 10, (2, 3, 5, 6))  # int64
    pools = [
        ("max_pool2d", max_pool2d, {"kernel_size": 3, "stride": 2, "padding": 1}, x),
        ("max_pool2d", max_pool2d, {"kernel_size": 2, "padding": 1}, (x + 9).astype(np.uint8)),
        ("avg_pool2d", avg_pool2d, {"kernel_size": 2, "ceil_mode": True}, x),
        ("avg_pool2d", avg_pool2d, {"kernel_size": 3, "padding": 1, "count_include_pad": False}, x),
    ]
    for name, pool, kwargs, values in pools:
        with backend.reference_kernels() if kernels == "reference" else contextlib.nullcontext():
            ours = pool(sn.tensor(values), **kwargs).array
        theirs = getattr(torch.nn.functional, name)(torch.tensor(values), **kwargs).numpy()
        assert ours.dtype == values.dtype, (name, kwargs)
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("kernels", ["fast", "reference"])
def test_an_empty_batch_gives_empty_results_as_in_torch(torch, kernels):
    # N = 0: PyTorch computes; max pooling's backward (both paths) and the adaptive max pooling
    # used to fail in a reshape with -1, ambiguous for zero values.
    pools = [
        ("max_pool2d", max_pool2d, {"kernel_size": 2}),
        ("avg_pool2d", avg_pool2d, {"kernel_size": 2}),
        ("adaptive_max_pool2d", adaptive_max_pool2d, {"output_size": 3}),
        ("adaptive_avg_pool2d", adaptive_avg_pool2d, {"output_size": 3}),
    ]
    for name, pool, kwargs in pools:
        x = sn.zeros((0, 3, 7, 8), requires_grad=True)
        with backend.reference_kernels() if kernels == "reference" else contextlib.nullcontext():
            y = pool(x, **kwargs)
            y.sum().backward()
        tx = torch.zeros(0, 3, 7, 8, requires_grad=True)
        ty = getattr(torch.nn.functional, name)(tx, **kwargs)
        ty.sum().backward()
        assert y.shape == tuple(ty.shape) and x.grad.shape == tuple(tx.grad.shape), name


def test_googlenet_ceil_mode_pool_matches_torch(torch):
    x = distinct_values((2, 4, 15, 14), np.float32)
    g = np.random.default_rng(1).standard_normal((2, 4, 7, 7)).astype(np.float32)
    ours = ours_pool(max_pool2d, x, g, kernel_size=3, stride=2, ceil_mode=True)
    theirs = torch_pool(
        torch, torch.nn.functional.max_pool2d, x, g, kernel_size=3, stride=2, ceil_mode=True
    )
    assert ours[0].shape == (2, 4, 7, 7)
    np.testing.assert_allclose(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1])


# --------------------------------------------------------------------------- behaviour and paths


@given(cfg=pool_configs(), count_include_pad=st.booleans())
def test_reference_path_matches_fast_path(cfg, count_include_pad):
    x = distinct_values(cfg["x_shape"], np.float32)
    g = (
        np.random.default_rng(1)
        .standard_normal(max_pool2d(x, **max_args(cfg)).shape)
        .astype(np.float32)
    )
    ga = (
        np.random.default_rng(2)
        .standard_normal(call_avg(x, cfg, count_include_pad).shape)
        .astype(np.float32)
    )
    results = []
    for reference in (False, True):
        with backend.reference_kernels() if reference else _nothing():
            results.append(
                ours_pool(max_pool2d, x, g, return_indices=True, **max_args(cfg))
                + ours_pool(lambda t: call_avg(t, cfg, count_include_pad), x, ga)[:2]
            )
    fast, ref = results
    for a, e in zip(fast, ref, strict=True):
        if a is not None:
            assert a.dtype == e.dtype
            assert_close(a, e, 1e-6)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_max_pool_gradient_adds_where_one_element_wins_overlapping_windows():
    x = sn.tensor(
        np.array([[[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]]), requires_grad=True
    )
    max_pool2d(x, 2, stride=1).sum().backward()
    # The 1 wins both top windows; a window of zeros credits its first element.
    np.testing.assert_array_equal(x.grad.array[0, 0], [[0, 2, 0], [1, 1, 0], [0, 0, 0]])


def test_one_image_and_return_indices():
    x = sn.randn(3, 6, 6)
    y, indices = max_pool2d(x, 2, return_indices=True)
    assert y.shape == indices.shape == (3, 3, 3)
    flat = x.array.reshape(3, -1)
    np.testing.assert_array_equal(
        np.take_along_axis(flat, indices.array.reshape(3, -1), 1).reshape(3, 3, 3), y.array
    )
    assert avg_pool2d(x, 3).shape == (3, 2, 2)
    assert adaptive_avg_pool2d(x, (2, None)).shape == (3, 2, 6)
    assert global_avg_pool2d(x).shape == (3, 1, 1)


def test_float32_stays_float32():
    x = sn.randn(2, 3, 7, 7, requires_grad=True)
    for fn in (
        lambda t: max_pool2d(t, 3, 2, 1),
        lambda t: avg_pool2d(t, 3, 2, 1),
        lambda t: adaptive_avg_pool2d(t, 3),
    ):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert y.dtype == x.grad.dtype == np.float32


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: max_pool2d(sn.zeros(4, 4), 2),
            r"max_pool2d: expected input of shape \(N, C, H, W\) or \(C, H, W\), "
            r"got shape \(4, 4\)",
        ),
        (
            lambda: max_pool2d(sn.zeros(1, 1, 9, 9), 3, padding=2),
            r"padding \(2, 2\) must be at most half the kernel size \(3, 3\)",
        ),
        (
            lambda: avg_pool2d(sn.zeros(1, 1, 9, 9), 10),
            r"avg_pool2d: kernel 10x10 .* does not fit input of shape \(1, 1, 9, 9\)",
        ),
        (
            lambda: max_pool2d(sn.zeros(1, 1, 9, 9), 2, stride=0),
            r"stride and dilation must be >= 1",
        ),
        (
            lambda: adaptive_avg_pool2d(sn.zeros(1, 1, 9, 9), 0),
            r"output_size \(0, 0\) must be >= 1",
        ),
        (
            lambda: global_avg_pool2d(sn.zeros(1, 1, 1, 9, 9)),
            r"global_avg_pool2d: expected input of shape",
        ),
        (
            lambda: max_pool2d(sn.zeros(1, 1, 1, 5), 2, 1, 1, dilation=2),
            r"some window of kernel \(2, 2\) holds only padding",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
