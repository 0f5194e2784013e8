"""batch_norm: gradients (train and eval), the running statistics, Numba kernels, PyTorch.

The fast BatchNormFunction against the reference one is in tests/test_kernels.py.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from device_checks import NumPyChannelKernels as reference
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet.backend import reference_kernels
from scratchnet.ops.norm import batch_norm

SHAPES = [(6, 3), (4, 3, 5), (3, 2, 4, 5)]  # (N, C), (N, C, L), (N, C, H, W)


def _inputs(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = sn.tensor(rng.standard_normal(shape) * 2 + 1, dtype=dtype, requires_grad=True)
    weight = sn.tensor(rng.standard_normal(C), dtype=dtype, requires_grad=True)
    bias = sn.tensor(rng.standard_normal(C), dtype=dtype, requires_grad=True)
    running_mean = sn.tensor(rng.standard_normal(C), dtype=dtype)
    running_var = sn.tensor(rng.random(C) + 0.5, dtype=dtype)
    return x, weight, bias, running_mean, running_var


@pytest.fixture(params=["fast", "reference"])
def kernels(request):
    """Run a test on the default (Numba where it applies) path and on the forced NumPy reference."""
    if request.param == "reference":
        with reference_kernels():
            yield request.param
    else:
        yield request.param


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck(shape, training, kernels):
    x, weight, bias, running_mean, running_var = _inputs(shape)

    def fn(x, weight, bias):
        # Fresh copies, so the running update of one call does not leak into the next.
        return batch_norm(
            x, sn.tensor(running_mean), sn.tensor(running_var), weight, bias, training=training
        )

    assert sn.gradcheck(fn, [x, weight, bias])


@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_without_affine(training, kernels):
    x, _, _, running_mean, running_var = _inputs((3, 2, 3, 4))
    assert sn.gradcheck(lambda x: batch_norm(x, running_mean, running_var, training=training), [x])


def test_gradcheck_weight_only_and_bias_only():
    x, weight, bias, _, _ = _inputs((5, 3, 2, 2))
    assert sn.gradcheck(
        lambda x, w: batch_norm(x, None, None, weight=w, training=True), [x, weight]
    )
    assert sn.gradcheck(lambda x, b: batch_norm(x, None, None, bias=b, training=True), [x, bias])


@given(
    N=st.integers(2, 4),
    C=st.integers(1, 3),
    spatial=st.lists(st.integers(1, 3), max_size=2),
    training=st.booleans(),
    affine=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_drawn_configurations(N, C, spatial, training, affine, seed):
    x, weight, bias, running_mean, running_var = _inputs((N, C, *spatial), seed=seed)
    inputs = [x, weight, bias] if affine else [x]

    def fn(x, weight=None, bias=None):
        return batch_norm(
            x, sn.tensor(running_mean), sn.tensor(running_var), weight, bias, training=training
        )

    assert sn.gradcheck(fn, inputs, seed=seed)


def test_training_input_gradient_is_not_trivially_zero():
    # With an upstream gradient of ones, dL/dx of a training BN is exactly 0 (hence random G).
    x, weight, bias, _, _ = _inputs((4, 3, 2, 2))
    batch_norm(x, None, None, weight, bias, training=True).sum().backward()
    np.testing.assert_allclose(x.grad.array, 0, atol=1e-12)
    x.grad = None
    g = np.random.default_rng(1).standard_normal(x.shape)
    batch_norm(x, None, None, weight, bias, training=True).backward(g)
    assert np.abs(x.grad.array).max() > 1e-3


def test_backward_does_not_modify_the_upstream_gradient(kernels):
    x, weight, bias, running_mean, running_var = _inputs((4, 3, 5, 5))
    g = np.random.default_rng(2).standard_normal(x.shape)
    before = g.copy()
    batch_norm(x, running_mean, running_var, weight, bias, training=True).backward(g)
    np.testing.assert_array_equal(g, before)


# ---------------------------------------------------------------- forward and running statistics


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_training_normalises_each_channel(shape, kernels):
    x = _inputs(shape)[0]
    y = batch_norm(x, None, None, training=True).array
    axes = (0, *range(2, len(shape)))
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose(
        y.var(axis=axes), 1, rtol=1e-4
    )  # biased variance, minus the eps effect


def test_running_update_uses_unbiased_variance(kernels):
    x, weight, bias, _, _ = _inputs((4, 3, 2, 5))
    running_mean, running_var = sn.zeros(3, dtype=np.float64), sn.ones(3, dtype=np.float64)
    batch_norm(x, running_mean, running_var, weight, bias, training=True, momentum=0.25)
    data = x.array.transpose(1, 0, 2, 3).reshape(3, -1)  # (C, N*H*W)
    np.testing.assert_allclose(running_mean.array, 0.25 * data.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(
        running_var.array, 0.75 + 0.25 * data.var(axis=1, ddof=1), rtol=1e-12
    )


def test_eval_uses_running_statistics_and_leaves_them_alone(kernels):
    x, weight, bias, running_mean, running_var = _inputs((4, 3, 3, 3))
    before = running_mean.array.copy(), running_var.array.copy()
    y = batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=1e-3).array
    shape = (1, 3, 1, 1)
    expected = (x.array - before[0].reshape(shape)) / np.sqrt(before[1].reshape(shape) + 1e-3)
    expected = expected * weight.array.reshape(shape) + bias.array.reshape(shape)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_array_equal(running_mean.array, before[0])
    np.testing.assert_array_equal(running_var.array, before[1])


def test_float32_stays_float32(kernels):
    x, weight, bias, running_mean, running_var = _inputs((4, 3, 5, 5), dtype=np.float32)
    y = batch_norm(x, running_mean, running_var, weight, bias, training=True)
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert y.dtype == np.float32
    assert x.grad.dtype == weight.grad.dtype == bias.grad.dtype == np.float32
    assert running_mean.dtype == running_var.dtype == np.float32


def test_float32_is_accurate_for_inputs_with_a_large_mean(kernels):
    # x = 1000 + small noise: the variance is tiny next to the mean, where a one-pass
    # E[x^2] - E[x]^2 would fail.
    rng = np.random.default_rng(3)
    data = 1000 + rng.standard_normal((8, 4, 6, 6))
    exact = batch_norm(sn.tensor(data), None, None, training=True).array
    approx = batch_norm(sn.tensor(data, dtype=np.float32), None, None, training=True).array
    np.testing.assert_allclose(approx, exact, atol=2e-3)


def test_errors():
    x = sn.randn(4, 3, 2, 2)
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        batch_norm(sn.randn(1, 3), None, None, training=True)
    with pytest.raises(
        ValueError, match=r"running_mean must have shape \(3,\).*\(4, 3, 2, 2\), got \(4,\)"
    ):
        batch_norm(x, sn.zeros(4), sn.ones(3), training=True)
    with pytest.raises(ValueError, match=r"eval mode"):
        batch_norm(x, None, None, training=False)
    # One dtype, as PyTorch (a float32 layer silently computed a float64 input in float64)
    x64 = sn.randn(4, 3, 2, 2, dtype=np.float64)
    with pytest.raises(TypeError, match=r"batch_norm: expected one dtype.*input float64"):
        batch_norm(x64, None, None, sn.ones(3), training=True)
    with pytest.raises(TypeError, match=r"running_mean float64"):
        batch_norm(x, sn.zeros(3, dtype=np.float64), sn.ones(3), training=False)
    with pytest.raises(TypeError, match=r"expected one dtype"):
        sn.nn.BatchNorm2d(3)(x64)
    # PyTorch: "not implemented for 'Long'" (the normalised values were truncated to integers)
    with pytest.raises(TypeError, match=r"batch_norm\(\): input of dtype int64"):
        batch_norm(sn.zeros((4, 3), dtype=np.int64), None, None, training=True)
    # PyTorch's rule: both running statistics or neither (one alone was an AttributeError)
    for stats in ((sn.zeros(3), None), (None, sn.ones(3))):
        with pytest.raises(ValueError, match=r"running_mean and running_var.*both"):
            batch_norm(x, *stats, training=True)
    with pytest.raises(ValueError, match=r"\(N, C\).*got shape \(3,\)"):
        batch_norm(sn.randn(3), None, None, training=True)


# --------------------------------------------------------------------- Numba kernels == NumPy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 1), (5, 4, 7), (3, 8, 33), (1, 2, 50)])
def test_numba_kernels_match_reference(shape, dtype):
    fast = pytest.importorskip("scratchnet.kernels.numba_norm", reason="numba is not installed")
    rng = np.random.default_rng(4)
    x3 = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    g3 = rng.standard_normal(shape).astype(dtype)
    a, b, c = (rng.standard_normal(shape[1]).astype(dtype) for _ in range(3))
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    cases = [
        ("channel_mean_var", (x3,)),
        ("channel_grad_sums", (g3, x3, x3.mean(axis=(0, 2)).astype(dtype))),
        ("channel_affine", (x3, a, b)),
        ("channel_affine2", (g3, x3, a, b, c)),
    ]
    for name, args in cases:
        expected = getattr(reference, name)(*args)
        got = getattr(fast, name)(*args)
        for e, r in zip(
            expected if isinstance(expected, tuple) else (expected,),
            got if isinstance(got, tuple) else (got,),
            strict=True,
        ):
            assert r.dtype == dtype and r.shape == e.shape, name
            assert_close(r, e, rtol, err_msg=name)


def test_numba_kernels_on_the_threaded_path_match_reference():
    """An input above THREADED_MIN_WORK is split between threads by channel: same results."""
    fast = pytest.importorskip("scratchnet.kernels.numba_norm", reason="numba is not installed")
    from scratchnet.kernels.numba_threads import THREADED_MIN_WORK

    rng = np.random.default_rng(5)
    shape = (2, 16, THREADED_MIN_WORK["norm"] // 16)  # 2x the threshold
    x3 = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    g3 = rng.standard_normal(shape).astype(np.float32)
    a, b, c = (rng.standard_normal(shape[1]).astype(np.float32) for _ in range(3))
    mean = x3.mean(axis=(0, 2), dtype=np.float64).astype(np.float32)
    for name, args in [
        ("channel_mean_var", (x3,)),
        ("channel_grad_sums", (g3, x3, mean)),
        ("channel_affine", (x3, a, b)),
        ("channel_affine2", (g3, x3, a, b, c)),
    ]:
        expected, got = getattr(reference, name)(*args), getattr(fast, name)(*args)
        for e, r in zip(
            expected if isinstance(expected, tuple) else (expected,),
            got if isinstance(got, tuple) else (got,),
            strict=True,
        ):
            assert_close(r, e, 1e-4, err_msg=name)


@given(
    N=st.integers(1, 5),
    C=st.integers(1, 6),
    M=st.integers(1, 40),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_numba_kernels_match_reference_on_drawn_shapes(N, C, M, dtype, seed):
    fast = pytest.importorskip("scratchnet.kernels.numba_norm", reason="numba is not installed")
    rng = np.random.default_rng(seed)
    x3 = (rng.standard_normal((N, C, M)) * 3 + 2).astype(dtype)
    g3 = rng.standard_normal((N, C, M)).astype(dtype)
    rtol = 1e-4 if dtype == np.float32 else 1e-11
    for expected, got in [
        (reference.channel_mean_var(x3), fast.channel_mean_var(x3)),
        (
            reference.channel_grad_sums(g3, x3, x3.mean(axis=(0, 2))),
            fast.channel_grad_sums(g3, x3, x3.mean(axis=(0, 2))),
        ),
    ]:
        for e, r in zip(expected, got, strict=True):
            np.testing.assert_allclose(r, e, rtol=rtol, atol=rtol * (1 + np.abs(e).max()))


def test_fast_and_reference_paths_agree_end_to_end():
    x, weight, bias, running_mean, running_var = _inputs((4, 5, 6, 7), dtype=np.float32)
    g = np.random.default_rng(5).standard_normal(x.shape).astype(np.float32)
    results = []
    for ctx in (reference_kernels, contextlib.nullcontext):
        x.grad = weight.grad = bias.grad = None
        rm, rv = sn.tensor(running_mean), sn.tensor(running_var)
        with ctx():
            y = batch_norm(x, rm, rv, weight, bias, training=True)
            y.backward(g)
        results.append(
            [y.array, x.grad.array, weight.grad.array, bias.grad.array, rm.array, rv.array]
        )
    for fast, ref in zip(*results, strict=True):
        np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- PyTorch as the oracle


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(("dtype", "rtol"), [(np.float32, 1e-4), (np.float64, 1e-10)])
def test_matches_torch(torch, shape, training, dtype, rtol, kernels):
    x, weight, bias, running_mean, running_var = _inputs(shape, dtype=dtype)
    g = np.random.default_rng(6).standard_normal(shape).astype(dtype)
    tx, tw, tb = (torch.tensor(t.array, requires_grad=True) for t in (x, weight, bias))
    trm, trv = torch.tensor(running_mean.array), torch.tensor(running_var.array)
    ty = torch.nn.functional.batch_norm(
        tx, trm, trv, tw, tb, training=training, momentum=0.2, eps=1e-4
    )
    ty.backward(torch.tensor(g))
    y = batch_norm(
        x, running_mean, running_var, weight, bias, training=training, momentum=0.2, eps=1e-4
    )
    y.backward(g)
    pairs = [
        (y.array, ty),
        (x.grad.array, tx.grad),
        (weight.grad.array, tw.grad),
        (bias.grad.array, tb.grad),
        (running_mean.array, trm),
        (running_var.array, trv),
    ]
    for ours, theirs in pairs:
        theirs = theirs.detach().numpy()
        assert ours.dtype == dtype
        assert_close(ours, theirs, rtol)
