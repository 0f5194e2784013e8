"""Kernel parity checks shared by tests/test_gpu.py (CuPy on a GPU) and tests/test_cupy_gpu_emulated.py
(the same CUDA C compiled for the CPU): every fast kernel against the NumPy reference it mirrors.

Each check takes the kernel module, ``put`` (a NumPy array to the kernels' device) and ``get`` (back).
"""

from __future__ import annotations

import inspect

import numpy as np

from scratchnet import backend
from scratchnet.ops import im2col as reference_im2col
from scratchnet.ops import norm as reference_norm
from scratchnet.ops import pool as reference_pool

WINDOW_KERNELS = [
    (reference_im2col, "im2col"),
    (reference_im2col, "col2im"),
    (reference_im2col, "rows_to_nchw"),
    (reference_im2col, "nchw_to_rows"),
    (reference_pool, "max_pool2d_forward"),
    (reference_pool, "max_pool2d_backward"),
    (reference_pool, "avg_pool2d_forward"),
    (reference_pool, "avg_pool2d_backward"),
]
NORM_KERNELS = ["channel_mean_var", "channel_grad_sums", "channel_affine", "channel_affine2"]

# (N, C, H, W), geometry: every window is valid for pooling too (padding <= kernel // 2, no window
# of padding only). Covers stride, padding, dilation, non-square kernels and ceil mode.
WINDOWS = [
    ((2, 3, 7, 6), {"kernel_size": 3, "stride": 1, "padding": 1, "dilation": 1, "ceil_mode": False}),
    ((2, 2, 9, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1, "ceil_mode": True}),
    ((1, 3, 11, 10), {"kernel_size": (2, 3), "stride": (2, 1), "padding": (1, 0), "dilation": (2, 1), "ceil_mode": False}),
    ((3, 2, 8, 8), {"kernel_size": 2, "stride": 2, "padding": 0, "dilation": 1, "ceil_mode": False}),
    ((2, 1, 5, 7), {"kernel_size": (3, 1), "stride": (1, 3), "padding": (1, 0), "dilation": 1, "ceil_mode": True}),
    ((1, 4, 13, 13), {"kernel_size": 7, "stride": 2, "padding": 3, "dilation": 1, "ceil_mode": False}),
    ((2, 2, 10, 9), {"kernel_size": 3, "stride": 3, "padding": 1, "dilation": 2, "ceil_mode": True}),
]
DTYPES = [np.float32, np.float64]


def reference(fn, *args, **kwargs):
    with backend.reference_kernels():
        return fn(*args, **kwargs)


def random(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_same(actual, expected, dtype, rtol=None):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    tolerance = rtol or (1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def check_signatures(kernels) -> None:
    """Same parameters as the reference, and the docstring names it."""
    for module, name in WINDOW_KERNELS:
        fast, ref = getattr(kernels, name), getattr(module, name)
        assert inspect.signature(fast).parameters.keys() == inspect.signature(ref).parameters.keys(), name
        assert f"scratchnet.ops.{module.__name__.rsplit('.', 1)[1]}.{name}" in fast.__doc__, name
    for name in NORM_KERNELS:
        fast, ref = getattr(kernels, name), getattr(reference_norm, name)
        assert inspect.signature(fast).parameters.keys() == inspect.signature(ref).parameters.keys(), name
        assert f"scratchnet.ops.norm.{name}" in fast.__doc__, name


def check_im2col(kernels, put, get, x_shape, geometry, dtype) -> None:
    x = random(x_shape, dtype)
    for pad_value in (0.0, -np.inf):
        expected = reference(reference_im2col.im2col, x, **geometry, pad_value=pad_value)
        assert_same(get(kernels.im2col(put(x), **geometry, pad_value=pad_value)), expected, dtype)
    out = put(np.full(expected.shape, np.nan, dtype))  # into a given buffer, from a non-contiguous input
    x_t = put(np.ascontiguousarray(x.transpose(0, 1, 3, 2))).transpose(0, 1, 3, 2)
    assert kernels.im2col(x_t, **geometry, pad_value=-np.inf, out=out) is out
    assert_same(get(out), expected, dtype)


def check_col2im(kernels, put, get, x_shape, geometry, dtype) -> None:
    col_shape = reference_im2col.im2col(np.zeros(x_shape, dtype), **geometry).shape
    col = random(col_shape, dtype, seed=1)
    expected = reference(reference_im2col.col2im, col, x_shape, **geometry)
    assert_same(get(kernels.col2im(put(col), x_shape, **geometry)), expected, dtype)
    # Into a contiguous buffer, and into a non-contiguous view (copied in at the end).
    out = put(np.full(x_shape, np.nan, dtype))
    assert kernels.col2im(put(col), x_shape, **geometry, out=out) is out
    assert_same(get(out), expected, dtype)
    big = put(np.full((*x_shape[:3], 2 * x_shape[3]), np.nan, dtype))
    view = big[..., ::2]
    assert kernels.col2im(put(col), x_shape, **geometry, out=view) is view
    assert_same(get(big)[..., ::2], expected, dtype)


def check_reorders(kernels, put, get, shape, dtype) -> None:
    N, OC, OH, OW = shape
    rows = random((OC, N * OH * OW), dtype)
    bias = random(OC, dtype, seed=1)
    for b in (None, bias):
        expected = reference(reference_im2col.rows_to_nchw, rows, np.empty(shape, dtype), b)
        out = put(np.full(shape, np.nan, dtype))
        assert kernels.rows_to_nchw(put(rows), out, None if b is None else put(b)) is out
        assert_same(get(out), expected, dtype)
    y = random(shape, dtype, seed=2)
    assert_same(get(kernels.nchw_to_rows(put(y))), reference(reference_im2col.nchw_to_rows, y), dtype)
    out = put(np.empty((OC, N * OH * OW), dtype))
    assert kernels.nchw_to_rows(put(y), out=out) is out
    xp = backend.get_xp(put(y))
    y_broadcast = xp.broadcast_to(put(y[:1]), shape)  # a stride-0 view, as global pooling's backward sends
    assert_same(get(kernels.nchw_to_rows(y_broadcast)), reference(reference_im2col.nchw_to_rows, y[:1].repeat(N, 0)), dtype)


def check_max_pool(kernels, put, get, x_shape, geometry, dtype) -> None:
    # Distinct values (no ties) for the index comparison; then ties and NaN separately.
    x = (np.random.default_rng(0).permutation(int(np.prod(x_shape))).reshape(x_shape) - 7.5).astype(dtype)
    y, indices = kernels.max_pool2d_forward(put(x), **geometry)
    y_ref, indices_ref = reference(reference_pool.max_pool2d_forward, x, **geometry)
    assert_same(get(y), y_ref, dtype)
    assert get(indices).dtype == np.int64
    np.testing.assert_array_equal(get(indices), indices_ref)
    gy = random(y_ref.shape, dtype, seed=1)
    expected = reference(reference_pool.max_pool2d_backward, gy, indices_ref, x_shape)
    assert_same(get(kernels.max_pool2d_backward(put(gy), put(indices_ref), x_shape)), expected, dtype)


def check_max_pool_ties_and_nan(kernels, put, get) -> None:
    x = np.zeros((1, 1, 4, 4), np.float32)
    _, indices = kernels.max_pool2d_forward(put(x), 2, 2)
    np.testing.assert_array_equal(get(indices), [[[[0, 2], [8, 10]]]])  # the first maximum wins a tie
    x[0, 0, 1, 1] = np.nan
    y, indices = kernels.max_pool2d_forward(put(x), 2, 2)
    y_ref, indices_ref = reference(reference_pool.max_pool2d_forward, x, 2, 2)
    np.testing.assert_array_equal(get(indices), indices_ref)  # a NaN wins, as in np.argmax
    assert np.isnan(get(y)[0, 0, 0, 0]) and np.isnan(y_ref[0, 0, 0, 0])


def check_avg_pool(kernels, put, get, x_shape, geometry, dtype) -> None:
    geometry = {k: v for k, v in geometry.items() if k != "dilation"}
    x = random(x_shape, dtype)
    for count_include_pad in (True, False):
        options = {**geometry, "count_include_pad": count_include_pad}
        y = kernels.avg_pool2d_forward(put(x), **options)
        y_ref = reference(reference_pool.avg_pool2d_forward, x, **options)
        assert_same(get(y), y_ref, dtype)
        gy = random(y_ref.shape, dtype, seed=1)
        expected = reference(reference_pool.avg_pool2d_backward, gy, x_shape, **options)
        assert_same(get(kernels.avg_pool2d_backward(put(gy), x_shape, **options)), expected, dtype)


def check_norm(kernels, put, get, shape, dtype) -> None:
    rng = np.random.default_rng(0)
    x3 = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    g3 = rng.standard_normal(shape).astype(dtype)
    C = shape[1]
    a, b, c = (rng.standard_normal(C).astype(dtype) for _ in range(3))
    rtol = 1e-4 if dtype == np.float32 else 1e-10  # float32 sums over thousands of values, in another order
    mean, var = kernels.channel_mean_var(put(x3))
    mean_ref, var_ref = reference_norm.channel_mean_var(x3)
    assert_same(get(mean), mean_ref, dtype, rtol)
    assert_same(get(var), var_ref, dtype, rtol)
    sums = kernels.channel_grad_sums(put(g3), put(x3), put(mean_ref))
    for ours, theirs in zip(sums, reference_norm.channel_grad_sums(g3, x3, mean_ref), strict=True):
        assert_same(get(ours), theirs, dtype, rtol)
    assert_same(get(kernels.channel_affine(put(x3), put(a), put(b))), reference_norm.channel_affine(x3, a, b), dtype)
    expected = reference_norm.channel_affine2(g3, x3, a, b, c)
    assert_same(get(kernels.channel_affine2(put(g3), put(x3), put(a), put(b), put(c))), expected, dtype)
