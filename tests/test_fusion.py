"""BN + ReLU fusion in training (issue #19): ``y = bn(x); y.relu_()`` with the fast batch norm.

The fused path (``FastBatchNormFunction.absorb_relu_``) must compute what the unfused one and
PyTorch compute, happen only where it is safe, and keep PyTorch's in-place rules.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from device_checks import NumPyChannelKernels
from helpers import assert_close, assert_same, random_array

import scratchnet as sn
from scratchnet import backend
from scratchnet.nn import functional as F

MODIFIED = "modified by an inplace operation"
# float32 against float64 PyTorch/unfused: a per-channel sum of a few hundred terms
TOLERANCE = {np.float32: 1e-4, np.float64: 1e-10}
SHAPES = [(4, 3, 5, 5), (6, 4, 7), (8, 5)]  # 4D, 3D (N, C, L), 2D (N, C)


@pytest.fixture(autouse=True)
def fusion_on(monkeypatch):
    """The fusion is opt-in (SCRATCHNET_FUSE_BN_RELU=1): these tests turn it on."""
    monkeypatch.setenv("SCRATCHNET_FUSE_BN_RELU", "1")


def test_fusion_is_off_by_default_and_the_setting_is_checked(monkeypatch):
    bn = sn.nn.BatchNorm2d(3)
    monkeypatch.delenv("SCRATCHNET_FUSE_BN_RELU")
    x = sn.tensor(random_array((4, 3, 5, 5), np.float32), requires_grad=True)
    assert bn(x).relu_().grad_fn.name == "Relu"
    monkeypatch.setenv("SCRATCHNET_FUSE_BN_RELU", "yes")
    with pytest.raises(ValueError, match="SCRATCHNET_FUSE_BN_RELU"):
        bn(x).relu_()
    monkeypatch.setenv("SCRATCHNET_FUSE_BN_RELU", "1")
    assert bn(x).relu_().grad_fn.name == "BatchNormRelu"


def _bn(shape, affine, dtype, lib=sn):
    module = (lib.nn.BatchNorm2d if len(shape) == 4 else lib.nn.BatchNorm1d)(
        shape[1], affine=affine
    )
    module = module.double() if dtype == np.float64 else module
    if affine:  # gamma and beta away from 1 and 0, some gamma negative
        module.weight.data = lib.tensor(random_array(shape[1], dtype, seed=7))
        module.bias.data = lib.tensor(random_array(shape[1], dtype, seed=8))
    return module


def _bn_relu_step(shape, affine, dtype, relu, lib=sn):
    """One training forward and backward of relu(bn(x)); the output, the gradients, the stats."""
    bn = _bn(shape, affine, dtype, lib)
    x = lib.tensor(random_array(shape, dtype), requires_grad=True)
    y = relu(bn(x))
    (y * lib.tensor(random_array(shape, dtype, seed=1))).sum().backward()
    grads = [x.grad] + ([bn.weight.grad, bn.bias.grad] if affine else [])
    return y, grads, [bn.running_mean, bn.running_var], bn


def _fused(y):
    return y.relu_()


def _unfused(y):
    return F.relu(y)  # out of place: a Relu node, today's path


def _as_numpy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_bn_relu_matches_unfused_and_torch(shape, affine, dtype):
    torch = pytest.importorskip("torch")
    y, grads, stats, _ = _bn_relu_step(shape, affine, dtype, _fused)
    # The fusion happened for (N, C, M) inputs; (N, C) inputs run the reference (documented).
    assert y.grad_fn.name == ("Relu" if len(shape) == 2 else "BatchNormRelu")
    y_ref, grads_ref, stats_ref, _ = _bn_relu_step(shape, affine, dtype, _unfused)
    y_torch, grads_torch, stats_torch, _ = _bn_relu_step(
        shape, affine, dtype, lambda t: t.relu_(), lib=torch
    )
    for ours, unfused, theirs in zip(
        [y, *grads, *stats],
        [y_ref, *grads_ref, *stats_ref],
        [y_torch, *grads_torch, *stats_torch],
        strict=True,
    ):
        assert_close(ours, _as_numpy(unfused), rtol=TOLERANCE[dtype])
        assert_close(ours, _as_numpy(theirs), rtol=TOLERANCE[dtype])


def test_fusion_writes_in_place_and_backward_makes_no_masked_gradient():
    """The ReLU writes over the BN output (same memory, version + 1, no allocation), and the
    backward allocates less than the unfused one by about one input-sized array (the ReLU's
    masked gradient).
    """
    shape, dtype = (8, 16, 32, 32), np.float32  # 512 KiB per array
    nbytes = int(np.prod(shape)) * 4
    peaks = {}
    for name, relu in (("fused", _fused), ("unfused", _unfused)):
        bn = _bn(shape, True, dtype)
        y = bn(sn.tensor(random_array(shape, dtype), requires_grad=True))
        before = y.array.copy()
        tracemalloc.start()
        out = relu(y)
        relu_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        np.testing.assert_array_equal(out.array, np.maximum(before, 0))
        if name == "fused":
            assert out is y and y._version == 1
            assert relu_peak < nbytes // 8, relu_peak  # no output array, no copy
        seed = sn.tensor(random_array(shape, dtype, seed=1))
        tracemalloc.start()
        out.backward(seed)
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # Unfused: the Relu's masked gradient, then the BN gradient. Fused: the BN gradient only.
    assert peaks["fused"] < peaks["unfused"] - nbytes // 2, peaks


def _conv_output(x):
    return F.conv2d(x, sn.tensor(random_array((3, 3, 1, 1), x.dtype, seed=3)))


# Each: how y is made from the input (x, bn) and what is done before relu_. None of these fuse.
FALLBACKS = {
    "eval mode": lambda x, bn: bn.eval()(x),
    "another creator": lambda x, bn: _conv_output(x),
    "changed since BN": lambda x, bn: _changed_without_graph(bn(x)),
    "float16": lambda x, bn: bn.to(sn.float16)(x.half()),
}


def _changed_without_graph(y):
    with sn.no_grad():
        y.mul_(1.5)  # version + 1, the creator stays the batch norm
    return y


@pytest.mark.parametrize("case", list(FALLBACKS))
def test_no_fusion_where_unsafe(case):
    """Each case records a Relu node, and the result and gradient are the Relu path's."""
    results = []
    for relu in (_fused, _unfused):
        bn = _bn((4, 3, 5, 5), True, np.float32)
        x = sn.tensor(random_array((4, 3, 5, 5), np.float32), requires_grad=True)
        y = relu(FALLBACKS[case](x, bn))
        assert y.grad_fn.name == "Relu"
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    for fused, unfused in zip(*results, strict=True):
        np.testing.assert_array_equal(fused, unfused)


def test_no_fusion_on_reference_kernels_out_of_place_or_without_grad():
    bn = _bn((4, 3, 5, 5), True, np.float64)
    x = sn.tensor(random_array((4, 3, 5, 5)), requires_grad=True)
    with backend.reference_kernels():
        assert bn(x).relu_().grad_fn.name == "Relu"  # SCRATCHNET_KERNELS=reference: textbook code
    y = bn(x)
    assert F.relu(y).grad_fn.name == "Relu" and y.grad_fn.name == "BatchNorm"
    with sn.no_grad():
        y = bn(x)
        y.relu_()
    assert y.grad_fn is None and y._version == 1 and (y.array >= 0).all()


def test_relu_on_a_view_of_the_bn_output_is_refused_as_before():
    bn = _bn((4, 3, 5, 5), True, np.float64)
    y = bn(sn.tensor(random_array((4, 3, 5, 5)), requires_grad=True))
    with pytest.raises(RuntimeError, match="view of another tensor"):
        y[:2].relu_()
    assert y.grad_fn.name == "BatchNorm" and y._version == 0


def test_output_saved_before_relu_is_caught_as_in_torch():
    torch = pytest.importorskip("torch")
    for lib in (sn, torch):
        bn = _bn((4, 3, 5, 5), True, np.float64, lib)
        y = bn(lib.tensor(random_array((4, 3, 5, 5)), requires_grad=True))
        z = y**2  # Pow saves y
        y.relu_()
        with pytest.raises(RuntimeError, match=MODIFIED):
            (z + y).sum().backward()


def test_change_after_fused_relu_is_caught_as_in_torch():
    """The fused node saved relu(y), as ReLU saves its output: a later change raises."""
    torch = pytest.importorskip("torch")
    for lib in (sn, torch):
        bn = _bn((4, 3, 5, 5), True, np.float64, lib)
        y = bn(lib.tensor(random_array((4, 3, 5, 5)), requires_grad=True))
        y.relu_()
        y.add_(1)
        with pytest.raises(RuntimeError, match=MODIFIED):
            y.sum().backward()


def test_reader_of_the_bn_output_before_relu_gets_the_unmasked_gradient():
    """z = y + 1 (Add saves nothing) reads y before relu_: its gradient reaches the batch norm
    unmasked (the old node keeps a stand-in output), as in PyTorch.
    """
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (sn, torch):
        bn = _bn((4, 3, 5, 5), True, np.float64, lib)
        x = lib.tensor(random_array((4, 3, 5, 5)), requires_grad=True)
        y = bn(x)
        z = y + 1
        y.relu_()
        w1, w2 = (lib.tensor(random_array((4, 3, 5, 5), seed=s)) for s in (1, 2))
        (z * w1 + y * w2).sum().backward()
        grads.append([x.grad, bn.weight.grad, bn.bias.grad])
    for ours, theirs in zip(*grads, strict=True):
        assert_close(ours, _as_numpy(theirs), rtol=1e-10)


def test_retain_graph_and_second_backward_as_before():
    shape = (4, 3, 5, 5)
    for relu in (_fused, _unfused):
        bn = _bn(shape, True, np.float64)
        x = sn.tensor(random_array(shape), requires_grad=True)
        loss = (relu(bn(x)) * sn.tensor(random_array(shape, seed=1))).sum()
        loss.backward(retain_graph=True)
        once = x.grad.numpy().copy()
        loss.backward()
        assert_close(x.grad, 2 * once, rtol=1e-12)
        with pytest.raises(RuntimeError, match="a second time"):
            loss.backward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masked_channel_kernels_match_numpy(dtype):
    """The Numba kernels with relu_out mask g as ReLU's backward does (0 where relu_out <= 0,
    also at exactly 0), against the plain NumPy of tests/device_checks.py.
    """
    pytest.importorskip("numba")
    from scratchnet.kernels import numba_norm

    g3, x3 = random_array((3, 4, 50), dtype, seed=1), random_array((3, 4, 50), dtype, seed=2)
    relu_out = np.maximum(random_array((3, 4, 50), dtype, seed=3), 0)  # half exact zeros
    mean = x3.mean(axis=(0, 2))
    a, b, c = (random_array(4, dtype, seed=s) for s in (4, 5, 6))
    for ours, expected in zip(
        numba_norm.channel_grad_sums(g3, x3, mean, relu_out),
        NumPyChannelKernels.channel_grad_sums(g3, x3, mean, relu_out),
        strict=True,
    ):
        assert_same(ours, expected.astype(dtype), dtype)
    assert_same(
        numba_norm.channel_affine2(g3, x3, a, b, c, relu_out),
        NumPyChannelKernels.channel_affine2(g3, x3, a, b, c, relu_out),
        dtype,
    )


# ---------------------------------------------------------------- relu_ on other tensors


def _residual_sum(lib, dtype=np.float64):
    """a + b: a ReLU input whose creator (Add) absorbs nothing, as after a ResNet block."""
    a = lib.tensor(random_array((4, 3, 8, 8), dtype), requires_grad=True)
    b = lib.tensor(random_array((4, 3, 8, 8), dtype, seed=2), requires_grad=True)
    return a, a + b


def test_in_place_relu_rules_as_in_torch():
    """Not fused: a change after relu_ and a reader saved before it are caught, as in PyTorch."""
    torch = pytest.importorskip("torch")
    for lib in (sn, torch):
        _, y = _residual_sum(lib)
        y.relu_()
        y.add_(1)
        with pytest.raises(RuntimeError, match=MODIFIED):
            y.sum().backward()
        _, y = _residual_sum(lib)
        z = y**2
        y.relu_()
        with pytest.raises(RuntimeError, match=MODIFIED):
            (z + y).sum().backward()
