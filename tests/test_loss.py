"""Losses: gradients for every reduction and option, PyTorch cross-checks, stability, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import nn
from scratchnet.ops.activation import log_softmax
from scratchnet.ops.loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss

REDUCTIONS = ["mean", "sum", "none"]
CE_OPTIONS = [
    {},
    {"label_smoothing": 0.2},
    {"weight": True},
    {"ignore_index": 1},
    {"weight": True, "label_smoothing": 0.1, "ignore_index": 1},
]


def _logits(shape=(5, 4), seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return sn.tensor(rng.standard_normal(shape) * 2, dtype=dtype, requires_grad=True)


def _targets(shape=(5,), classes=4, seed=1):
    t = np.random.default_rng(seed).integers(0, classes, size=shape)
    t.flat[0] = 1  # at least one target hits ignore_index=1 where that option is used
    return sn.tensor(t)


def _options(options, dtype=np.float64, classes=4):
    options = dict(options)
    if options.get("weight"):
        options["weight"] = sn.tensor(np.linspace(0.5, 2.0, classes), dtype=dtype)
    return options


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS)
def test_gradcheck_cross_entropy(reduction, options):
    x, t = _logits(), _targets()
    kwargs = _options(options)
    assert sn.gradcheck(lambda x: cross_entropy(x, t, reduction=reduction, **kwargs), [x])


@given(
    N=st.integers(1, 4),
    C=st.integers(1, 5),
    spatial=st.lists(st.integers(1, 3), max_size=1),
    reduction=st.sampled_from(REDUCTIONS),
    label_smoothing=st.sampled_from([0.0, 0.05, 0.5]),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_cross_entropy_drawn_configurations(
    N, C, spatial, reduction, label_smoothing, weighted, seed
):
    rng = np.random.default_rng(seed)
    x = sn.tensor(rng.standard_normal((N, C, *spatial)) * 3, requires_grad=True)
    t = sn.tensor(rng.integers(0, C, size=(N, *spatial)))
    w = sn.tensor(rng.random(C) + 0.5) if weighted else None
    assert sn.gradcheck(
        lambda x: cross_entropy(x, t, w, reduction=reduction, label_smoothing=label_smoothing),
        [x],
        seed=seed,
    )


def test_gradcheck_cross_entropy_per_pixel():
    x, t = _logits((2, 3, 2, 2)), _targets((2, 2, 2), classes=3)
    assert sn.gradcheck(lambda x: cross_entropy(x, t, label_smoothing=0.1), [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_nll_loss(reduction):
    x, t = _logits(), _targets()
    assert sn.gradcheck(lambda x: nll_loss(log_softmax(x, dim=1), t, reduction=reduction), [x])
    w = sn.tensor(np.linspace(0.5, 2.0, 4))
    assert sn.gradcheck(lambda x: nll_loss(x, t, weight=w, reduction=reduction), [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_mse_loss(reduction):
    x, t = _logits((3, 4), seed=2), _logits((3, 4), seed=3)
    assert sn.gradcheck(lambda x, t: mse_loss(x, t, reduction=reduction), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_bce_with_logits(reduction):
    x = _logits((3, 4), seed=4)
    t = sn.tensor(np.random.default_rng(5).random((3, 4)), requires_grad=True)
    weight = sn.tensor(np.random.default_rng(6).random((3, 4)) + 0.5)
    pos_weight = sn.tensor(np.array([0.5, 1.0, 2.0, 3.0]))
    assert sn.gradcheck(
        lambda x, t: binary_cross_entropy_with_logits(x, t, reduction=reduction), [x, t]
    )
    assert sn.gradcheck(
        lambda x, t: binary_cross_entropy_with_logits(
            x, t, weight, reduction=reduction, pos_weight=pos_weight
        ),
        [x, t],
    )


def test_cross_entropy_gradient_is_softmax_minus_target():
    x, t = _logits(), _targets()
    cross_entropy(x, t).backward()
    probs = np.exp(x.array) / np.exp(x.array).sum(axis=1, keepdims=True)
    one_hot = np.eye(4)[t.array]
    np.testing.assert_allclose(x.grad.array, (probs - one_hot) / 5, rtol=1e-12)


def test_cross_entropy_equals_nll_of_log_softmax():
    x, t = _logits(), _targets()
    np.testing.assert_allclose(
        cross_entropy(x, t).array, nll_loss(log_softmax(x, dim=1), t).array, rtol=1e-12
    )


# --------------------------------------------------------------------------- PyTorch as the oracle


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float32, 1e-4), (np.float64, 1e-10)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS)
def test_cross_entropy_matches_torch(torch, dtype, rtol, reduction, options):
    for shape, target_shape in [((5, 4), (5,)), ((2, 4, 3, 2), (2, 3, 2))]:
        x, t = _logits(shape, dtype=dtype), _targets(target_shape)
        kwargs = _options(options, dtype)
        torch_kwargs = {
            k: (torch.tensor(v.array) if isinstance(v, sn.Tensor) else v) for k, v in kwargs.items()
        }
        tx = torch.tensor(x.array, requires_grad=True)
        ty = torch.nn.functional.cross_entropy(
            tx, torch.tensor(t.array), reduction=reduction, **torch_kwargs
        )
        y = cross_entropy(x, t, reduction=reduction, **kwargs)
        g = np.random.default_rng(7).standard_normal(y.shape).astype(dtype)
        y.backward(g)
        ty.backward(torch.tensor(g))
        assert y.dtype == dtype and y.shape == tuple(ty.shape)
        np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=rtol, atol=rtol)
        np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float32, 1e-4), (np.float64, 1e-10)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_other_losses_match_torch(torch, dtype, rtol, reduction):
    rng = np.random.default_rng(8)
    a = (rng.standard_normal((4, 3)) * 3).astype(dtype)
    b = rng.random((4, 3)).astype(dtype)
    w = (rng.random((4, 3)) + 0.5).astype(dtype)
    pw = np.array([0.5, 2.0, 3.0], dtype=dtype)
    labels = np.array([0, 2, 1, 2])
    tf = torch.nn.functional
    options = {"reduction": reduction}
    weighted, t_weighted = {"pos_weight": sn.tensor(pw)}, {"pos_weight": torch.tensor(pw)}
    cases = [
        (
            lambda x, t: mse_loss(x, t, reduction=reduction),
            lambda x, t: tf.mse_loss(x, t, reduction=reduction),
            a,
            b,
        ),
        (
            lambda x, t: binary_cross_entropy_with_logits(x, t, reduction=reduction),
            lambda x, t: tf.binary_cross_entropy_with_logits(x, t, reduction=reduction),
            a,
            b,
        ),
        (
            lambda x, t: binary_cross_entropy_with_logits(
                x, t, sn.tensor(w), **options, **weighted
            ),
            lambda x, t: tf.binary_cross_entropy_with_logits(
                x, t, torch.tensor(w), **options, **t_weighted
            ),
            a,
            b,
        ),
        (
            lambda x, _: nll_loss(x, sn.tensor(labels), reduction=reduction),
            lambda x, _: tf.nll_loss(x, torch.tensor(labels), reduction=reduction),
            a,
            b,
        ),
    ]
    for ours, theirs, xa, ta in cases:
        x, t = sn.tensor(xa, requires_grad=True), sn.tensor(ta, requires_grad=True)
        tx, tt = torch.tensor(xa, requires_grad=True), torch.tensor(ta, requires_grad=True)
        y, ty = ours(x, t), theirs(tx, tt)
        g = rng.standard_normal(y.shape).astype(dtype)
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=rtol, atol=rtol)
        np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=rtol, atol=rtol)
        if tt.grad is not None:
            np.testing.assert_allclose(t.grad.array, tt.grad.numpy(), rtol=rtol, atol=rtol)


def test_losses_are_stable_for_huge_logits(torch):
    data = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], dtype=np.float32)
    target = np.array([1, 1])
    x = sn.tensor(data, requires_grad=True)
    loss = cross_entropy(x, sn.tensor(target))
    expected = torch.nn.functional.cross_entropy(torch.tensor(data), torch.tensor(target))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)  # 1e4, finite
    loss.backward()
    tx = torch.tensor(data, requires_grad=True)
    torch.nn.functional.cross_entropy(tx, torch.tensor(target)).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-7)
    ones = np.ones_like(data)
    bce = binary_cross_entropy_with_logits(sn.tensor(data), sn.tensor(ones))
    t_bce = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(data), torch.tensor(ones)
    )
    assert bce.item() == pytest.approx(t_bce.item(), rel=1e-6)  # log(1 + e^1e4) is not inf


# --------------------------------------------------------------------------- errors


def test_cross_entropy_target_errors():
    x = sn.randn(8, 10)
    with pytest.raises(
        IndexError, match=r"class indices in \[0, 10\).*\(8, 10\).*got \[-3, 10\].*\(8,\)"
    ):
        cross_entropy(x, sn.tensor([0, 1, 10, 3, -3, 5, 6, 7]))
    with pytest.raises(
        TypeError, match=r"integer class indices in \[0, 10\), got dtype float32 of shape \(8,\)"
    ):
        cross_entropy(x, sn.zeros(8))
    for dtype in (np.int32, np.int16, np.int8):  # PyTorch: "expected ... Long or Byte"
        for loss in (cross_entropy, nll_loss):
            with pytest.raises(TypeError, match=rf"int64 \(long\) or uint8, got {dtype.__name__}"):
                loss(x, sn.zeros(8, dtype=dtype))
    assert cross_entropy(x, sn.zeros(8, dtype=np.uint8)).item() > 0  # uint8 is accepted
    with pytest.raises(TypeError, match=r"cross_entropy\(\): input of dtype int64"):
        cross_entropy(sn.zeros((8, 10), dtype=np.int64), sn.zeros(8, dtype=np.int64))
    with pytest.raises(
        ValueError, match=r"target of shape \(8, 1\) does not match input of shape \(8, 10\)"
    ):
        cross_entropy(x, sn.zeros(8, 1, dtype=np.int64))
    with pytest.raises(ValueError, match=r"reduction must be one of"):
        cross_entropy(x, sn.zeros(8, dtype=np.int64), reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        cross_entropy(x, sn.zeros(8, dtype=np.int64), label_smoothing=1.5)
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        nll_loss(x, sn.tensor([11] * 8))
    # ignore_index is allowed outside the range: the mean is over the 7 rows it does not ignore
    log_p = x.numpy() - np.log(np.exp(x.numpy()).sum(1, keepdims=True))
    expected = -log_p[1:, 1].mean()
    loss = cross_entropy(x, sn.tensor([-100] + [1] * 7))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_elementwise_loss_shape_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\) and target of shape \(3, 2\)"):
        mse_loss(sn.randn(2, 3), sn.randn(3, 2))
    with pytest.raises(ValueError, match=r"\(2, 3\) and target of shape \(2,\)"):
        binary_cross_entropy_with_logits(sn.randn(2, 3), sn.randn(2))


def test_loss_modules():
    x, t = _logits(), _targets()
    w = sn.tensor(np.linspace(0.5, 2.0, 4))
    np.testing.assert_allclose(nn.CrossEntropyLoss()(x, t).array, cross_entropy(x, t).array)
    np.testing.assert_allclose(
        nn.CrossEntropyLoss(w, label_smoothing=0.1, reduction="sum", ignore_index=1)(x, t).array,
        cross_entropy(x, t, w, ignore_index=1, reduction="sum", label_smoothing=0.1).array,
    )
    np.testing.assert_allclose(
        nn.NLLLoss(reduction="none")(x, t).array, nll_loss(x, t, reduction="none").array
    )
    y = _logits(seed=9)
    np.testing.assert_allclose(nn.MSELoss()(x, y).array, mse_loss(x, y).array)
    p = sn.tensor(np.random.default_rng(1).random((5, 4)))
    np.testing.assert_allclose(
        nn.BCEWithLogitsLoss()(x, p).array, binary_cross_entropy_with_logits(x, p).array
    )
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    with pytest.raises(TypeError):
        cross_entropy(x, t, None, None, -100)  # PyTorch's legacy positional size_average is refused
    with pytest.raises(TypeError):
        nn.CrossEntropyLoss(None, None, -100)  # PyTorch's legacy positional size_average is refused


# --------------------------------------------------------------------------- the fast kernels


@given(
    N=st.integers(0, 6),
    C=st.integers(1, 7),
    dtype=st.sampled_from([np.float32, np.float64]),
    ignore_index=st.sampled_from([-100, 0, 2]),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_kernels_match_reference(N, C, dtype, ignore_index, seed):
    """The Numba cross-entropy equals the NumPy reference, ignored targets and -inf included."""
    pytest.importorskip("numba", reason="numba is not installed")
    from scratchnet.kernels import numba_loss as fast
    from scratchnet.ops import loss

    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C)) * 5).astype(dtype)
    t = rng.integers(0, C, N)
    if N > 1 and C > 1:  # (a row of one -inf would be all masked: NaN, with a warning)
        t[1] = ignore_index if ignore_index < C else t[1]
        # A masked class (-inf), or a logit whose exp overflows without the shift.
        x[0, rng.integers(C)] = rng.choice([-np.inf, 1e30])
    g = rng.standard_normal(N).astype(dtype)
    losses, probs = fast.cross_entropy_forward(x, t, ignore_index)
    ref_losses, ref_probs = loss.cross_entropy_forward(x, t, ignore_index)
    assert losses.dtype == probs.dtype == dtype and probs.shape == (N, C)
    rtol = 1e-6 if dtype == np.float32 else 1e-14  # the row max, exp and sums are NumPy's in both
    np.testing.assert_allclose(probs, ref_probs, rtol=rtol, atol=0)
    np.testing.assert_allclose(losses, ref_losses, rtol=rtol, atol=rtol)
    gx = fast.cross_entropy_backward(probs, t, ignore_index, g)
    ref_gx = loss.cross_entropy_backward(probs, t, ignore_index, g)
    np.testing.assert_allclose(gx, ref_gx, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_kernels_on_many_rows_split_between_threads(dtype):
    pytest.importorskip("numba", reason="numba is not installed")
    from scratchnet.kernels import numba_loss as fast
    from scratchnet.ops import loss

    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 1000)).astype(dtype)  # above the kernels' threading threshold
    t = rng.integers(0, 1000, 300)
    t[::7] = -100
    g = np.full(300, 1 / 300, dtype)
    losses, probs = fast.cross_entropy_forward(x, t, -100)
    ref_losses, ref_probs = loss.cross_entropy_forward(x, t, -100)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(losses, ref_losses, rtol=rtol)
    np.testing.assert_array_equal(probs, ref_probs)  # the same NumPy exp and sum, then a division
    gx = fast.cross_entropy_backward(probs, t, -100, g)
    np.testing.assert_array_equal(gx, loss.cross_entropy_backward(probs, t, -100, g))
    assert (gx[::7] == 0).all() and (losses[::7] == 0).all()


@pytest.mark.parametrize("options", CE_OPTIONS)
def test_cross_entropy_fast_and_reference_paths_agree(options):
    """The op on the default path (fast kernels) and on the reference; the plain case's Function."""
    from scratchnet import backend
    from scratchnet.ops.loss import CrossEntropyFunction, WeightedNllFunction

    for dtype in (np.float32, np.float64):
        kwargs = _options(options, dtype)
        results = []
        for reference in (False, True):
            x, t = _logits((6, 4), dtype=dtype), _targets((6,))
            with backend.reference_kernels() if reference else _nothing():
                y = cross_entropy(x, t, reduction="sum", **kwargs)
                y.backward()
            results.append((y.array, x.grad.array))
            plain = not (options.get("weight") or options.get("label_smoothing"))
            assert type(y.creator) is (CrossEntropyFunction if plain else WeightedNllFunction)
        np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6, atol=1e-7)


def _nothing():
    import contextlib

    return contextlib.nullcontext()
