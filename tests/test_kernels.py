"""Fast kernels (Numba) against the NumPy reference they mirror: same signature, same results.

Two levels: the array kernels (im2col, col2im, the pooling loops) against the reference functions
of the same name, and the fast Functions (conv2d, pooling, batch norm; kernels/fast_functions.py)
against the reference Functions of ops/, forward and backward, on drawn geometries. Tolerances:
float64 to 1e-12 and float32 to 1e-5, relative to the largest magnitude of the array (the two
paths add the same terms in a different order; float32's epsilon is 1.2e-7, and a sum of a few
hundred terms loses up to about two decimal digits of that).
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest
from helpers import assert_same, on_reference_kernels, random_array
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import backend
from scratchnet.nn import functional as F
from scratchnet.ops import im2col as reference_im2col
from scratchnet.ops import pool as reference_pool
from scratchnet.ops.conv import Conv2dFunction
from scratchnet.ops.norm import BatchNormFunction

pytest.importorskip("numba", reason="Numba is not installed: the fast kernels cannot run")
fast = pytest.importorskip("scratchnet.kernels.numba_cpu")
fast_norm = pytest.importorskip("scratchnet.kernels.numba_norm")
from device_checks import BUFFER_PARAMETERS, check_registered_kernels  # noqa: E402
from test_conv import conv_args, conv_configs, make_inputs  # noqa: E402

from scratchnet.kernels.numba_threads import THREADED_MIN_WORK  # noqa: E402 (needs Numba)

PAIRS = [
    (reference_im2col, "im2col"),
    (reference_im2col, "col2im"),
    (reference_pool, "max_pool2d_forward"),
    (reference_pool, "max_pool2d_backward"),
    (reference_pool, "avg_pool2d_forward"),
    (reference_pool, "avg_pool2d_backward"),
]


@st.composite
def windows(draw, pooling=False):
    """An input shape and a window: kernel 1-5 (any shape), stride 1-3, padding, dilation 1-2."""
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2 if pooling else 3)) for k in kernel)
    dilation = (1, 1) if pooling == "avg" else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    spatial = tuple(
        max(d, d * (k - 1) + 1 - 2 * p + draw(st.integers(0, 5)))
        for k, p, d in zip(kernel, padding, dilation, strict=True)
    )
    x_shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4)), *spatial)
    ceil_mode = draw(st.booleans()) if pooling else False
    return x_shape, dict(
        kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode
    )


dtypes = st.sampled_from([np.float32, np.float64])


@pytest.mark.parametrize(("module", "name"), PAIRS, ids=[name for _, name in PAIRS])
def test_fast_kernel_has_the_reference_signature(module, name):
    ours = list(inspect.signature(getattr(fast, name)).parameters)
    theirs = list(inspect.signature(getattr(module, name)).parameters)
    assert ours[: len(theirs)] == theirs
    assert all(extra in BUFFER_PARAMETERS for extra in ours[len(theirs) :])
    assert (
        f"scratchnet.ops.{module.__name__.rsplit('.', 1)[1]}.{name}" in getattr(fast, name).__doc__
    )


@pytest.mark.skipif(
    not backend.fast_kernels_enabled(),
    reason="SCRATCHNET_KERNELS=reference forces the reference path",
)
def test_dispatch_picks_the_fast_kernels():
    assert backend.fast_kernels_for(np.zeros(1)) is fast
    assert backend.fast_function(np.zeros(1), Conv2dFunction) is fast.Conv2dFunction
    assert (
        backend.fast_function(np.zeros(1), BatchNormFunction, "norm") is fast_norm.BatchNormFunction
    )
    with backend.reference_kernels():
        assert backend.fast_kernels_for(np.zeros(1)) is None
        assert backend.fast_function(np.zeros(1), Conv2dFunction) is Conv2dFunction


def test_float16_runs_the_reference_where_numba_has_no_half_floats():
    # Numba cannot compute in float16: the fast path used to raise its bare NotImplementedError
    # where the reference (and PyTorch) computes.
    x = random_array((2, 3, 6, 6), np.float16)
    weight, logits = random_array((4, 3, 3, 3), np.float16, seed=1), x[:, :, 0, 0]
    ops = [
        (lambda t: F.conv2d(t, sn.tensor(weight), padding=1), x),
        (lambda t: F.max_pool2d(t, 2), x),
        (lambda t: F.avg_pool2d(t, 2), x),
        (F.relu, x),
        (lambda t: F.batch_norm(t, None, None, training=True), x),
        (lambda t: F.cross_entropy(t, sn.tensor([0, 2])), logits),
    ]
    for op, values in ops:
        fast_result = _value_and_grad(op, values)
        reference_result = on_reference_kernels(_value_and_grad, op, values)
        for ours, reference in zip(fast_result, reference_result, strict=True):
            assert ours.dtype == np.float16
            np.testing.assert_array_equal(ours, reference)


def _value_and_grad(op, values):
    t = sn.tensor(values, requires_grad=True)
    y = op(t)
    y.sum().backward()
    return y.array, t.grad.array


# --------------------------------------------------------------------------- the registry


def test_a_kernel_name_that_is_not_registered_is_an_error():
    with pytest.raises(LookupError, match=r"no fast kernel 'Conv2DFunction' .* family 'window'"):
        backend.fast_kernel(np.zeros(1), "Conv2DFunction")  # a typo must not run the slow path
    with pytest.raises(LookupError, match="'relu_forward' is registered in family 'norm'"):
        backend.fast_kernel(np.zeros(1), "relu_forward", family="norm")
    # Registered, but only for the CPU: on another device the reference runs.
    assert backend.fast_kernel(np.zeros(1), "relu_forward", family="activation") is not None


@pytest.mark.parametrize(
    ("key", "entry"),
    [item for item in backend.KERNEL_MODULES.items() if item[0][1] == "cpu"],
    ids=lambda v: "-".join(v) if isinstance(v[0], str) and len(v) == 2 and "." not in v[0] else "",
)
def test_every_registered_kernel_exists_in_its_module(key, entry):
    """The CPU modules here; the GPU module in tests/test_cupy_gpu_emulated.py."""
    check_registered_kernels(importlib.import_module(entry[0]), entry[1])


# --------------------------------------------------------------------------- im2col / col2im


@given(windows(pooling=True), dtypes, st.sampled_from([0.0, -np.inf]))
def test_im2col_matches_reference(window, dtype, pad_value):
    x_shape, geometry = window
    x = random_array(x_shape, dtype)
    expected = on_reference_kernels(reference_im2col.im2col, x, **geometry, pad_value=pad_value)
    assert_same(fast.im2col(x, **geometry, pad_value=pad_value), expected, dtype)
    # Into a given buffer, and from a non-contiguous input.
    out = np.full_like(expected, np.nan)
    assert fast.im2col(x, **geometry, pad_value=pad_value, out=out) is out
    assert_same(out, expected, dtype)
    x_t = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    assert_same(fast.im2col(x_t, **geometry, pad_value=pad_value), expected, dtype)


@given(windows(pooling=True), dtypes)
def test_col2im_matches_reference(window, dtype):
    x_shape, geometry = window
    col_shape = reference_im2col.im2col(np.zeros(x_shape, dtype), **geometry).shape
    col = random_array(col_shape, dtype)
    expected = on_reference_kernels(reference_im2col.col2im, col, x_shape, **geometry)
    assert_same(fast.col2im(col, x_shape, **geometry), expected, dtype)
    out = np.full(x_shape, np.nan, dtype)
    before = col.copy()
    assert fast.col2im(col, x_shape, **geometry, out=out) is out
    assert_same(out, expected, dtype)
    np.testing.assert_array_equal(col, before)  # not allowed to overwrite: col is untouched
    assert_same(fast.col2im(col, x_shape, **geometry, overwrite_col=True), expected, dtype)


@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize(("kernel", "padding"), [(3, 1), (3, 0), (5, 2), (3, 2), (2, 1)])
def test_col2im_whole_runs_of_a_same_convolution_match_reference(kernel, padding, dilation):
    """Stride 1, as many output as input columns: col2im, allowed to overwrite col, adds runs."""
    x_shape = (2, 3, 8, 8)  # a same convolution where 2 * padding == dilation * (kernel - 1)
    geometry = {"kernel_size": kernel, "padding": padding, "dilation": dilation}
    col_shape = reference_im2col.im2col(np.zeros(x_shape), **geometry).shape
    col = random_array(col_shape, np.float64)
    expected = on_reference_kernels(reference_im2col.col2im, col, x_shape, **geometry)
    assert_same(
        fast.col2im(col.copy(), x_shape, **geometry, overwrite_col=True), expected, np.float64
    )


@given(windows())
def test_col2im_is_the_adjoint_of_im2col(window):
    """<im2col(x), c> == <x, col2im(c)> for every x and c: col2im is im2col's exact backward."""
    x_shape, geometry = window
    x = random_array(x_shape, np.float64)
    for use_reference in (False, True):
        run = on_reference_kernels if use_reference else (lambda fn, *a, **k: fn(*a, **k))
        col = run(reference_im2col.im2col, x, **geometry)
        c = random_array(col.shape, np.float64, seed=1)
        back = run(reference_im2col.col2im, c, x_shape, **geometry)
        np.testing.assert_allclose((col * c).sum(), (x * back).sum(), rtol=1e-12)


# --------------------------------------------------------------------------- layout reorders


@given(
    st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 6), st.integers(1, 6)),
    dtypes,
    st.booleans(),
)
def test_reorders_match_the_transposes_of_the_reference_conv(shape, dtype, with_bias):
    N, OC, OH, OW = shape
    rows = random_array((OC, N * OH * OW), dtype)
    bias = random_array(OC, dtype, seed=1) if with_bias else np.zeros(OC, dtype)
    expected = rows.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3) + bias.reshape(1, OC, 1, 1)
    actual = fast.rows_to_nchw(rows, np.empty(shape, dtype), bias if with_bias else None)
    assert_same(actual, expected, dtype)
    y = random_array(shape, dtype, seed=2)
    assert_same(fast.nchw_to_rows(y), y.transpose(1, 0, 2, 3).reshape(OC, -1), dtype)


# --------------------------------------------------------------------------- pooling


@given(windows(pooling=True), dtypes)
def test_max_pool_matches_reference(window, dtype):
    x_shape, geometry = window
    distinct = np.random.default_rng(0).permutation(int(np.prod(x_shape))) - 7.5  # no ties
    x = distinct.reshape(x_shape).astype(dtype)
    y, indices = fast.max_pool2d_forward(x, **geometry)
    y_ref, indices_ref = on_reference_kernels(reference_pool.max_pool2d_forward, x, **geometry)
    assert_same(y, y_ref, dtype)
    np.testing.assert_array_equal(indices, indices_ref)
    assert indices.dtype == np.int64
    gy = random_array(y.shape, dtype, seed=1)
    assert_same(
        fast.max_pool2d_backward(gy, indices, x_shape),
        on_reference_kernels(reference_pool.max_pool2d_backward, gy, indices, x_shape),
        dtype,
    )


@given(windows(pooling="avg"), dtypes, st.booleans())
def test_avg_pool_matches_reference(window, dtype, count_include_pad):
    x_shape, geometry = window
    del geometry["dilation"]
    x = random_array(x_shape, dtype)
    y = fast.avg_pool2d_forward(x, **geometry, count_include_pad=count_include_pad)
    assert_same(
        y,
        on_reference_kernels(
            reference_pool.avg_pool2d_forward, x, **geometry, count_include_pad=count_include_pad
        ),
        dtype,
    )
    gy = random_array(y.shape, dtype, seed=1)
    assert_same(
        fast.avg_pool2d_backward(gy, x_shape, **geometry, count_include_pad=count_include_pad),
        on_reference_kernels(
            reference_pool.avg_pool2d_backward,
            gy,
            x_shape,
            **geometry,
            count_include_pad=count_include_pad,
        ),
        dtype,
    )


def test_max_pool_ties_go_to_the_first_element_on_both_paths():
    x = np.zeros((1, 1, 4, 4), np.float32)
    _, indices = fast.max_pool2d_forward(x, 2, 2)
    _, indices_ref = on_reference_kernels(reference_pool.max_pool2d_forward, x, 2, 2)
    np.testing.assert_array_equal(indices, [[[[0, 2], [8, 10]]]])
    np.testing.assert_array_equal(indices_ref, indices)


def test_large_inputs_take_the_threaded_path():
    x = random_array((4, 16, 64, 64), np.float32)
    assert x.size >= THREADED_MIN_WORK["window"]
    y, indices = fast.max_pool2d_forward(x, 3, 2, 1)
    y_ref, indices_ref = on_reference_kernels(reference_pool.max_pool2d_forward, x, 3, 2, 1)
    assert_same(y, y_ref, np.float32)
    np.testing.assert_array_equal(indices, indices_ref)
    gy = random_array(y.shape, np.float32, seed=1)
    expected = on_reference_kernels(reference_pool.avg_pool2d_backward, gy, x.shape, 3, 2, 1)
    assert_same(fast.avg_pool2d_backward(gy, x.shape, 3, 2, 1), expected, np.float32)


@pytest.mark.parametrize(
    "x_shape, window",
    [
        ((3, 5, 9, 8), (3, 1, 1, 1)),  # a same convolution: whole runs
        ((2, 4, 7, 7), ((2, 3), 2, (1, 0), (1, 2))),  # row by row
        ((7, 16, 16, 16), (3, 1, 1, 1)),  # a chunk of 7 images, as ResNet-20's
    ],
)
def test_the_conv_column_kernels_agree_threaded_and_serial(x_shape, window):
    """Both builds of im2col, col2im and the reorders (THREADED_MIN_WORK["columns"] picks)."""
    x = random_array(x_shape, np.float32)
    col_ref = reference_im2col.im2col(x, *window)
    gcol = random_array(col_ref.shape, np.float32, seed=1)
    gx_ref = reference_im2col.col2im(gcol, x_shape, *window)
    g = reference_im2col.window_geometry(x_shape, *window, ceil_mode=False)
    rows = gcol[: x_shape[1]]  # (OC, N*OH*OW) with OC = C
    nchw_ref = rows.reshape(x_shape[1], x_shape[0], -1).transpose(1, 0, 2)  # (N, OC, OH*OW)
    bias = random_array(x_shape[1], np.float32, seed=2)
    for build in ("serial", "threaded"):
        col = np.empty_like(col_ref)
        getattr(fast._im2col, build)(x, *g, 0.0, col)
        np.testing.assert_array_equal(col, col_ref, err_msg=build)
        gx = np.empty(x_shape, np.float32)
        getattr(fast._col2im, build)(gcol.copy(), *g, True, gx)
        assert_same(gx, gx_ref, np.float32)
        out = np.empty(nchw_ref.shape, np.float32)  # C order (empty_like keeps the transpose)
        getattr(fast._rows_to_nchw, build)(rows, bias, out)
        np.testing.assert_array_equal(out, nchw_ref + bias[:, None], err_msg=build)
        back = np.empty_like(rows)
        getattr(fast._nchw_to_rows, build)(np.ascontiguousarray(nchw_ref), back)
        np.testing.assert_array_equal(back, rows, err_msg=build)
    # Both builds ran above; which one a call takes is THREADED_MIN_WORK["columns"]'s choice.


# --------------------------------------------------------------------------- the fast Functions


def run_both(op, inputs, upstream_seed=1):
    """``op(*inputs)`` forward and backward on the fast path and on the reference path.

    Returns (fast results, reference results), each [y, gradients of the inputs...], and checks
    that the two paths ran two different Functions.
    """
    results, creators = [], []
    for use_reference in (False, True):
        copies = [sn.tensor(t.array.copy(), requires_grad=t.requires_grad) for t in inputs]
        if use_reference:
            with backend.reference_kernels():
                y = op(*copies)
        else:
            y = op(*copies)
        g = random_array(y.shape, y.array.dtype, seed=upstream_seed)
        y.backward(g)
        creators.append(type(y.creator))
        results.append([y.array] + [t.grad.array for t in copies if t.requires_grad])
    assert creators[0] is not creators[1] and issubclass(creators[0], creators[1])
    return results


def assert_close_to_scale(actual, expected, dtype):
    """Equal within the module docstring's tolerance, relative to the array's largest value."""
    assert actual.dtype == expected.dtype == dtype and actual.shape == expected.shape
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-30)
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance * scale)


@settings(max_examples=25, deadline=None)
@given(conv_configs(max_kernel=5, max_batch=5), dtypes, st.integers(1, 3))
def test_fast_conv2d_matches_the_reference(cfg, dtype, images_per_chunk):
    """Groups, stride, padding, dilation, odd sizes, 1x1 layers; batches split into chunks."""
    C, (KH, KW) = cfg["x_shape"][1], cfg["w_shape"][2:]
    x, w, b = make_inputs(cfg, dtype)
    OH, OW = F.conv2d(x, w, **conv_args(cfg)).shape[2:]
    bytes_per_image = C * KH * KW * OH * OW * np.dtype(dtype).itemsize
    inputs = [x, w] if b is None else [x, w, b]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast, "COLUMN_BUFFER_BYTES", images_per_chunk * bytes_per_image)
        ours, theirs = run_both(lambda *t: F.conv2d(*t, **conv_args(cfg)), inputs)
    for a, e in zip(ours, theirs, strict=True):
        assert_close_to_scale(a, e, dtype)


@settings(max_examples=15, deadline=None)
@given(windows(pooling=True), dtypes)
def test_fast_max_pool2d_matches_the_reference(window, dtype):
    x_shape, geometry = window
    distinct = np.random.default_rng(0).permutation(int(np.prod(x_shape))) - 7.5  # no ties
    x = sn.tensor(distinct.reshape(x_shape).astype(dtype), requires_grad=True)
    ours, theirs = run_both(lambda t: F.max_pool2d(t, **geometry), [x])
    for a, e in zip(ours, theirs, strict=True):
        assert_close_to_scale(a, e, dtype)


@settings(max_examples=15, deadline=None)
@given(windows(pooling="avg"), dtypes, st.booleans())
def test_fast_avg_pool2d_matches_the_reference(window, dtype, count_include_pad):
    x_shape, geometry = window
    del geometry["dilation"]
    x = sn.tensor(random_array(x_shape, dtype), requires_grad=True)
    pool = lambda t: F.avg_pool2d(t, **geometry, count_include_pad=count_include_pad)  # noqa: E731
    ours, theirs = run_both(pool, [x])
    for a, e in zip(ours, theirs, strict=True):
        assert_close_to_scale(a, e, dtype)


@settings(max_examples=20, deadline=None)
@given(
    st.tuples(st.integers(2, 5), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5)),
    dtypes,
    st.booleans(),
    st.booleans(),
)
def test_fast_batch_norm_matches_the_reference(shape, dtype, training, affine):
    """Train and eval, with and without gamma and beta; the running statistics move alike."""
    x = sn.tensor(random_array(shape, dtype) * 3 + 1, requires_grad=True)
    C = shape[1]
    gamma = sn.tensor(random_array(C, dtype, seed=2) + 1, requires_grad=True)
    beta = sn.tensor(random_array(C, dtype, seed=3), requires_grad=True)
    running = {}  # fast, then reference: each path's own running statistics

    def bn(x, *affine):
        stats = [
            sn.tensor(random_array(C, dtype, seed=4)),
            sn.tensor(random_array(C, dtype, seed=5) ** 2),
        ]
        running[backend.fast_kernels_enabled()] = stats
        return F.batch_norm(x, *stats, *affine, training=training)

    ours, theirs = run_both(bn, [x, gamma, beta] if affine else [x])
    for a, e in zip(ours, theirs, strict=True):
        assert_close_to_scale(a, e, dtype)
    for a, e in zip(running[True], running[False], strict=True):
        assert_close_to_scale(a.array, e.array, dtype)
