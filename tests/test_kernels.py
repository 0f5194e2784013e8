"""Fast kernels (Numba) against the NumPy reference they mirror: same signature, same results."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from helpers import assert_same, on_reference_kernels, random_array
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import backend
from scratchnet.ops import im2col as reference_im2col
from scratchnet.ops import pool as reference_pool

pytest.importorskip("numba", reason="Numba is not installed: the fast kernels cannot run")
fast = pytest.importorskip("scratchnet.kernels.numba_cpu")

PAIRS = [
    (reference_im2col, "im2col"),
    (reference_im2col, "col2im"),
    (reference_im2col, "rows_to_nchw"),
    (reference_im2col, "nchw_to_rows"),
    (reference_pool, "max_pool2d_forward"),
    (reference_pool, "max_pool2d_backward"),
    (reference_pool, "avg_pool2d_forward"),
    (reference_pool, "avg_pool2d_backward"),
]


@st.composite
def windows(draw, pooling=False):
    """An input shape and a window geometry: kernel 1-5 (any shape), stride 1-3, padding, dilation 1-2."""
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
    assert (
        inspect.signature(getattr(fast, name)).parameters.keys()
        == inspect.signature(getattr(module, name)).parameters.keys()
    )
    assert (
        f"scratchnet.ops.{module.__name__.rsplit('.', 1)[1]}.{name}" in getattr(fast, name).__doc__
    )


@pytest.mark.skipif(
    not backend.fast_kernels_enabled(),
    reason="SCRATCHNET_KERNELS=reference forces the reference path",
)
def test_dispatch_picks_the_fast_kernels():
    assert backend.fast_kernels_for(np.zeros(1)) is fast
    with backend.reference_kernels():
        assert backend.fast_kernels_for(np.zeros(1)) is None


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
    """Stride 1 and as many output as input columns: col2im, allowed to overwrite col, adds whole runs."""
    x_shape = (
        2,
        3,
        8,
        8,
    )  # a same convolution where 2 * padding == dilation * (kernel - 1), others too
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
def test_reorders_match_reference(shape, dtype, with_bias):
    N, OC, OH, OW = shape
    rows = random_array((OC, N * OH * OW), dtype)
    bias = random_array(OC, dtype, seed=1) if with_bias else None
    expected = on_reference_kernels(
        reference_im2col.rows_to_nchw, rows, np.empty(shape, dtype), bias
    )
    assert_same(fast.rows_to_nchw(rows, np.empty(shape, dtype), bias), expected, dtype)
    y = random_array(shape, dtype, seed=2)
    assert_same(fast.nchw_to_rows(y), on_reference_kernels(reference_im2col.nchw_to_rows, y), dtype)
    np.testing.assert_array_equal(
        fast.nchw_to_rows(fast.rows_to_nchw(rows, np.empty(shape, dtype))), rows
    )


# --------------------------------------------------------------------------- pooling


@given(windows(pooling=True), dtypes)
def test_max_pool_matches_reference(window, dtype):
    x_shape, geometry = window
    x = (np.random.default_rng(0).permutation(int(np.prod(x_shape))).reshape(x_shape) - 7.5).astype(
        dtype
    )  # no ties
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
    from scratchnet.kernels.numba_threads import PARALLEL_MIN_WORK

    assert x.size >= PARALLEL_MIN_WORK
    y, indices = fast.max_pool2d_forward(x, 3, 2, 1)
    y_ref, indices_ref = on_reference_kernels(reference_pool.max_pool2d_forward, x, 3, 2, 1)
    assert_same(y, y_ref, np.float32)
    np.testing.assert_array_equal(indices, indices_ref)
    gy = random_array(y.shape, np.float32, seed=1)
    expected = on_reference_kernels(reference_pool.avg_pool2d_backward, gy, x.shape, 3, 2, 1)
    assert_same(fast.avg_pool2d_backward(gy, x.shape, 3, 2, 1), expected, np.float32)
