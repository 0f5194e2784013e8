"""PyTorch's conventions where a naive implementation computes something else, silently.

Each case is pinned twice: by its known value (so the test means something without PyTorch) and
against torch itself where it is installed. The values were measured with torch 2.14.1.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import value_and_grad
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn, optim

NAN, INF = float("nan"), float("inf")


# ---------------------------------------------------------------------- cross_entropy / nll_loss


@pytest.mark.parametrize(
    "loss",
    [
        lambda x, t: F.cross_entropy(x, t),
        lambda x, t: F.nll_loss(x, t),
        lambda x, t: F.cross_entropy(x, t, weight=x.detach()[0].abs() + 1),
        lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
    ],
    ids=["cross_entropy", "nll_loss", "weighted", "label_smoothing"],
)
def test_mean_over_all_ignored_targets_is_nan_with_zero_gradient(loss):
    """torch: the mean of no losses is NaN, and the gradient zeros,
    so an optimizer step changes nothing."""
    x = sn.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    out = loss(x, sn.tensor([-100, -100, -100]))
    out.backward()
    assert np.isnan(out.item())
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))
    model = nn.Linear(4, 3)  # and a step on that gradient leaves the weights finite
    F.cross_entropy(model(sn.randn(3, 4)), sn.tensor([-100, -100, -100])).backward()
    optim.SGD(model.parameters(), lr=0.1).step()
    assert np.isfinite(model.weight.numpy()).all()


def test_all_ignored_targets_match_torch(torch):
    values, target = np.random.default_rng(1).standard_normal((3, 4)), [-100, -100, -100]
    for reduction in ("mean", "sum"):
        for smoothing in (0.0, 0.2):
            options = {"reduction": reduction, "label_smoothing": smoothing}
            ours, grad = value_and_grad(
                sn, lambda x, o=options: F.cross_entropy(x, sn.tensor(target), **o), values
            )
            theirs, torch_grad = value_and_grad(
                torch,
                lambda x, o=options: torch.nn.functional.cross_entropy(
                    x, torch.tensor(target), **o
                ),
                values,
            )
            np.testing.assert_array_equal(ours.item(), theirs.item())  # NaN == NaN here
            np.testing.assert_array_equal(grad, torch_grad)


def test_masked_class_with_minus_inf_logit():
    """A -inf logit (a masked class) that is not the target:
    finite loss and gradient, as in torch."""
    loss, grad = value_and_grad(
        sn, lambda x: F.cross_entropy(x, sn.tensor([0])), [[0.0, 1.0, -INF]]
    )
    assert loss.item() == pytest.approx(np.log1p(np.e))  # 1.3133: -log(1 / (1 + e))
    np.testing.assert_allclose(grad, [[-np.e / (1 + np.e), np.e / (1 + np.e), 0.0]])
    loss, grad = value_and_grad(sn, lambda x: F.nll_loss(x, sn.tensor([0])), [[-0.5, -INF]])
    assert loss.item() == 0.5 and grad.tolist() == [[-1.0, 0.0]]


@pytest.mark.parametrize(
    ("values", "target", "smoothing"),
    [
        ([[0.0, 1.0, -INF]], [0], 0.0),
        ([[0.0, 1.0, -INF]], [2], 0.0),  # the target itself masked: inf, as in torch
        ([[0.0, 1.0, -INF]], [0], 0.1),  # smoothing puts weight on the masked class: inf
        ([[-INF, 2.0, 0.5], [1.0, -INF, -INF]], [1, 0], 0.0),
    ],
)
def test_minus_inf_logits_match_torch(torch, values, target, smoothing):
    ours, grad = value_and_grad(
        sn, lambda x: F.cross_entropy(x, sn.tensor(target), label_smoothing=smoothing), values
    )
    theirs, torch_grad = value_and_grad(
        torch,
        lambda x: torch.nn.functional.cross_entropy(
            x, torch.tensor(target), label_smoothing=smoothing
        ),
        values,
    )
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-12, atol=1e-15)
    assert np.isfinite(grad).all()


# --------------------------------------------------------------------- NaN through relu and maximum


def test_nan_passes_the_gradient_through_relu_maximum_minimum():
    values = [NAN, -1.0, 2.0]
    assert value_and_grad(sn, lambda x: x.relu().sum(), values)[1].tolist() == [1.0, 0.0, 1.0]
    assert value_and_grad(sn, lambda x: x.maximum(sn.tensor(0.0, dtype=sn.float64)).sum(), values)[
        1
    ].tolist() == [1, 0, 1]
    assert value_and_grad(sn, lambda x: x.minimum(sn.tensor(0.0, dtype=sn.float64)).sum(), values)[
        1
    ].tolist() == [1, 1, 0]
    # A NaN on either side: both inputs get the whole gradient there (a tie still halves it).
    a = sn.tensor([NAN, 1.0, 2.0], requires_grad=True)
    b = sn.tensor([1.0, NAN, 2.0], requires_grad=True)
    a.maximum(b).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0, 0.5] and b.grad.tolist() == [1.0, 1.0, 0.5]


@pytest.mark.parametrize("op", ["relu", "maximum", "minimum", "clamp", "clamp_min", "abs"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_kink_gradients_match_torch(torch, op, dtype):
    values = np.array([NAN, 0.0, -1.0, 2.0, 0.5, -0.0, INF, -INF], dtype=dtype)
    other = np.array([0.0, NAN, 0.0, 2.0, NAN, 0.0, 1.0, -INF], dtype=dtype)
    g = np.random.default_rng(2).standard_normal(values.shape).astype(dtype)

    def run(lib, tensor):
        x, y = tensor(values, requires_grad=True), tensor(other, requires_grad=True)
        out = {
            "relu": lambda: x.relu(),
            "maximum": lambda: x.maximum(y),
            "minimum": lambda: x.minimum(y),
            "clamp": lambda: x.clamp(0.0, 1.0),
            "clamp_min": lambda: x.clamp(min=0.0),
            "abs": lambda: x.abs(),
        }[op]()
        out.backward(tensor(g))
        return out.detach().numpy() if lib == "torch" else out.numpy(), x.grad.numpy(), y.grad

    ours, grad, grad_y = run("sn", sn.tensor)
    theirs, torch_grad, torch_grad_y = run("torch", torch.tensor)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(grad, torch_grad)
    if torch_grad_y is not None:
        np.testing.assert_array_equal(grad_y.numpy(), torch_grad_y.numpy())


# ---------------------------------------------------------------------- indexing layout


def test_integer_next_to_an_index_array_follows_torch_layout():
    """x[0, :, idx]: torch selects x[0] first, (2, 2),
    then [:, idx] -> (2, 4); NumPy gives (4, 2)."""
    data = np.arange(16.0).reshape(4, 2, 2)
    x = sn.tensor(data, requires_grad=True)
    idx = [0, 1, 1, 0]
    y = x[0, :, sn.tensor(idx)]
    assert y.shape == (2, 4)
    np.testing.assert_array_equal(y.numpy(), data[0][:, idx])
    g = np.arange(8.0).reshape(2, 4)
    y.backward(g)
    expected = np.zeros_like(data)
    np.add.at(expected[0], (slice(None), idx), g)  # index 1 and 0 picked twice: their gradients add
    np.testing.assert_array_equal(x.grad.numpy(), expected)


_SHAPE = (3, 4, 2, 5)


@st.composite
def _mixed_index(draw):
    """A tuple of ints, slices, index arrays, None and
    at most one Ellipsis for a (3, 4, 2, 5) tensor."""
    kinds = draw(
        st.lists(
            st.sampled_from(["int", "slice", "array", "none", "ellipsis"]), min_size=1, max_size=6
        )
    )
    consumes = ("int", "slice", "array")
    assume(kinds.count("ellipsis") <= 1 and sum(k in consumes for k in kinds) <= len(_SHAPE))
    # The dimension each entry indexes: counted from the
    # front before an Ellipsis, from the back after it.
    after = kinds[kinds.index("ellipsis") + 1 :] if "ellipsis" in kinds else []
    dim, length, index = 0, draw(st.integers(1, 3)), []
    for kind in kinds:
        if kind == "ellipsis":
            dim = len(_SHAPE) - sum(k in consumes for k in after)
            index.append(Ellipsis)
        elif kind == "none":
            index.append(None)
        else:
            size = _SHAPE[dim]
            dim += 1
            if kind == "int":
                index.append(draw(st.integers(-size, size - 1)))
            elif kind == "slice":
                index.append(slice(draw(st.integers(0, size - 1)), None, draw(st.integers(1, 2))))
            else:  # every index array has the same length, so they broadcast together
                index.append(
                    draw(st.lists(st.integers(0, size - 1), min_size=length, max_size=length))
                )
    return tuple(index)


@settings(max_examples=60, deadline=None)
@given(index=_mixed_index(), seed=st.integers(0, 2**16))
def test_mixed_basic_and_advanced_indexing_matches_torch(index, seed):
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed: cross-checks against torch skipped"
    )
    data = np.random.default_rng(seed).standard_normal(_SHAPE)
    x, xt = sn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    y = x[tuple(sn.tensor(i) if isinstance(i, list) else i for i in index)]
    yt = xt[tuple(torch.tensor(i) if isinstance(i, list) else i for i in index)]
    assert y.shape == tuple(yt.shape), f"x{list(index)}"
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    y.backward(g)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------------- dtypes of matrix products


def test_linear_and_matmul_refuse_mixed_dtypes():
    """torch 2.14.1 raises too: "mat1 and mat2 must have the same dtype, but got Long and Float"."""
    with pytest.raises(
        TypeError,
        match=r"Linear\(3, 2\): expected one dtype, got input int64 \(2, 3\), "
        r"weight float32 \(2, 3\), bias float32 \(2,\)",
    ):
        nn.Linear(3, 2)(sn.tensor([[1, 2, 3], [4, 5, 6]]))
    with pytest.raises(TypeError, match=r"Linear\(3, 2\): .*input float64"):
        nn.Linear(3, 2)(sn.randn(1, 3, dtype=sn.float64))
    with pytest.raises(
        TypeError, match=r"matmul: expected one dtype, got .*float32 \(2, 3\), .*float64 \(3, 2\)"
    ):
        sn.randn(2, 3) @ sn.randn(3, 2, dtype=sn.float64)
    assert (sn.tensor([[1, 2]]) @ sn.tensor([[3], [4]])).tolist() == [[11]]  # one dtype: fine
    assert nn.Linear(3, 2).double()(sn.randn(1, 3, dtype=sn.float64)).dtype == sn.float64


# ---------------------------------------------------------------------- var of one value


def test_var_of_one_value_is_nan_with_a_warning(torch):
    with pytest.warns(UserWarning, match=r"degrees of freedom is <= 0 for input of shape \(1,\)"):
        out, grad = value_and_grad(sn, lambda x: x.var(), [3.0])
    assert np.isnan(out.item()) and np.isnan(grad).all()
    for values, dim, correction in [
        ([3.0], None, 1),
        ([[1.0, 2.0], [3.0, 5.0]], 0, 2),
        ([[1.0, 2.0]], 1, 3),
    ]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")

            def summed_var(x, dim=dim, correction=correction):
                return x.var(dim, correction=correction).sum()

            ours, grad = value_and_grad(sn, summed_var, values)
            theirs, torch_grad = value_and_grad(torch, summed_var, values)
        np.testing.assert_array_equal(ours.item(), theirs.item())
        np.testing.assert_array_equal(grad, torch_grad)


# ---------------------------------------------------------------------- optimizer states


def _stepped(optimizer_class, model, **options):
    optimizer = optimizer_class(model.parameters(), **options)
    model(sn.randn(2, model.in_features)).sum().backward()
    optimizer.step()
    return optimizer


@pytest.mark.parametrize(
    ("saved", "loaded"),
    [
        (optim.Adam, optim.SGD),
        (optim.SGD, optim.Adam),
        (optim.RMSprop, optim.Adam),
        (optim.Adam, optim.RMSprop),
    ],
)
def test_state_of_another_kind_of_optimizer_is_refused(saved, loaded):
    model = nn.Linear(3, 2)
    state = _stepped(saved, model, lr=0.01).state_dict()
    target = loaded(model.parameters(), lr=0.5)
    with pytest.raises(
        ValueError,
        match=rf"{loaded.__name__}.load_state_dict: the state was saved by another kind "
        r"of optimizer: parameter group 0 has no ",
    ):
        target.load_state_dict(state)
    assert target.param_groups[0]["lr"] == 0.5 and not target.state  # nothing was changed


@pytest.mark.parametrize("optimizer_class", [optim.SGD, optim.Adam, optim.RMSprop])
def test_state_for_parameters_of_another_shape_is_refused(optimizer_class):
    options = {"lr": 0.1, "momentum": 0.9} if optimizer_class is not optim.Adam else {"lr": 0.1}
    state = _stepped(optimizer_class, nn.Linear(3, 2), **options).state_dict()
    other = optimizer_class(nn.Linear(4, 2).parameters(), **options)
    with pytest.raises(
        ValueError,
        match=r"state '\w+' of parameter 0 in group 0 has shape \(2, 3\), but that "
        r"parameter has shape \(2, 4\)",
    ):
        other.load_state_dict(state)
    same = optimizer_class(nn.Linear(3, 2).parameters(), **options)
    same.load_state_dict(state)  # the same shapes still load
    assert len(same.state) == 2
