"""Reductions (sum, mean, var, max, min, amax, amin)
and broadcasting (broadcast_to, expand, sum_to)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnet as sn
from scratchnet.ops.reduce import sum_to

# name: (fn applied to scratchnet and torch tensors alike, input shape)
CASES = {
    "sum": (lambda x: x.sum(), (2, 3, 4)),
    "sum-dim": (lambda x: x.sum(1), (2, 3, 4)),
    "sum-dims-keepdim": (lambda x: x.sum(dim=(0, 2), keepdim=True), (2, 3, 4)),
    "sum-negative-dim": (lambda x: x.sum(-1), (2, 3, 4)),
    "sum-0d": (lambda x: x.sum(), ()),
    "sum-0d-dim": (lambda x: x.sum(0), ()),
    "mean": (lambda x: x.mean(), (2, 3, 4)),
    "mean-dim": (lambda x: x.mean(dim=0), (2, 3, 4)),
    "mean-dims-keepdim": (lambda x: x.mean(dim=(-1, 1), keepdim=True), (2, 3, 4)),
    "var": (lambda x: x.var(), (3, 4)),
    "var-dim": (lambda x: x.var(dim=1), (3, 4, 2)),
    "var-biased-keepdim": (lambda x: x.var(dim=(0, 2), correction=0, keepdim=True), (3, 4, 2)),
    "max": (lambda x: x.max(), (3, 4)),
    "max-dim": (lambda x: x.max(dim=1).values, (3, 4, 2)),
    "max-dim-keepdim": (lambda x: x.max(-1, keepdim=True).values, (3, 4)),
    "min": (lambda x: x.min(), (3, 4)),
    "min-dim": (lambda x: x.min(0).values, (3, 4)),
    "max-0d-dim": (lambda x: x.max(-1).values, ()),
    "amax": (lambda x: x.amax(dim=(0, 1)), (3, 4, 2)),
    "amin-keepdim": (lambda x: x.amin(dim=1, keepdim=True), (3, 4)),
    # An empty dim list reduces over every dimension, as in PyTorch (squeeze(()) drops none).
    "sum-empty-dims": (lambda x: x.sum(dim=[]), (2, 3)),
    "mean-empty-dims-keepdim": (lambda x: x.mean((), keepdim=True), (2, 3)),
    "amax-empty-dims": (lambda x: x.amax(()), (2, 3)),
    "squeeze-empty-dims": (lambda x: x.squeeze(()), (1, 3)),
    "expand": (lambda x: x.expand(2, 3, 4), (3, 1)),
    "expand-minus-one": (lambda x: x.expand(5, -1, 4), (3, 1)),
    "broadcast_to": (lambda x: x.broadcast_to((2, 3, 4)), (1, 4)),
}


def make_input(shape, dtype=np.float64, seed: int = 0) -> sn.Tensor:
    # Distinct values, so max and min have no ties (the gradient of a tie is a convention).
    size = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(max(size, 1))[:size]
    return sn.tensor((values / 3.0 - 1.0).reshape(shape).astype(dtype), requires_grad=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, shape = CASES[name]
    assert sn.gradcheck(fn, [make_input(shape)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(torch, name, dtype):
    fn, shape = CASES[name]
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-5, 1e-6)
    x = make_input(shape, dtype)
    t = torch.tensor(x.numpy().copy(), requires_grad=True)
    y, ty = fn(x), fn(t)
    assert y.dtype == dtype and y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


def test_function_forms():
    """``sn.<reduction>(x, dim)`` gives NumPy's values (and the method form the same ones)."""
    x = make_input((3, 4))
    a = x.numpy()
    expected = {
        "sum": a.sum(1),
        "mean": a.mean(1),
        "var": a.var(1, ddof=1),  # PyTorch's default: the unbiased estimate
        "amax": a.max(1),
        "amin": a.min(1),
    }
    for name, values in expected.items():
        np.testing.assert_allclose(getattr(sn, name)(x, 1).numpy(), values, rtol=1e-6, err_msg=name)
        assert np.array_equal(getattr(sn, name)(x, 1).numpy(), getattr(x, name)(1).numpy()), name
    assert sn.max(x).item() == a.max() and sn.min(x).item() == a.min()
    values, indices = sn.max(x, 1)
    np.testing.assert_array_equal(values.numpy(), x.numpy().max(1))
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.numpy(), x.numpy().argmax(1))
    np.testing.assert_array_equal(sn.min(x, 0).indices.numpy(), x.numpy().argmin(0))
    stacked = np.broadcast_to(a, (2, 3, 4))
    for y in (sn.broadcast_to(x, (2, 3, 4)), sn.expand(x, 2, 3, 4), x.expand_as(sn.zeros(2, 3, 4))):
        np.testing.assert_array_equal(y.numpy(), stacked)
    assert x.argmax().item() == a.argmax()
    np.testing.assert_array_equal(x.argmin(1, keepdim=True).numpy(), a.argmin(1)[:, None])


def test_var_unbiased_flag():
    x = make_input((5,))
    assert np.isclose(x.var(unbiased=False).item(), x.numpy().var())
    assert np.isclose(x.var(unbiased=True).item(), x.numpy().var(ddof=1))
    assert np.isclose(x.var().item(), x.numpy().var(ddof=1))  # PyTorch's default: n - 1


def test_tie_conventions():
    """amax / max() share the gradient among ties;
    max(dim) gives it to the returned index (as PyTorch)."""
    x = sn.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5]]
    x.grad = None
    x.max(1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0]]
    x.grad = None
    x.amin(1).sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 0.0]]


def test_tie_conventions_match_torch(torch):
    values = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    for fn in [
        lambda t: t.max(),
        lambda t: t.max(1).values,
        lambda t: t.amax(1),
        lambda t: t.min(0).values,
    ]:
        x, t = sn.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
        fn(x).sum().backward()
        fn(t).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_empty_tensors():
    x = sn.zeros(0, 3, requires_grad=True)
    y = x.sum(0)
    assert y.tolist() == [0.0, 0.0, 0.0]
    y.sum().backward()
    assert x.grad.shape == (0, 3)
    assert x.sum(1).shape == (0,)
    with pytest.raises(ValueError, match=r"empty tensor of shape \(0, 3\)"):
        x.max()


def test_reductions_keep_float32():
    x = sn.randn(4, 5, requires_grad=True)
    for y in [x.sum(), x.mean(0), x.var(1), x.amax(), x.max(0).values]:
        assert y.dtype == np.float32
        y.backward(np.ones(y.shape, np.float32))
        assert x.grad.dtype == np.float32
        x.grad = None


def test_integer_reductions():
    x = sn.tensor([[1, 2], [3, 4]])
    assert x.sum().item() == 10 and x.sum().dtype == np.int64
    assert x.max(1).values.tolist() == [2, 4]
    assert x.float().mean().item() == 2.5


# ---------------------------------------------------------------------- properties


@st.composite
def shape_and_dims(draw):
    """A shape, a dim argument for it
    (None, an int, or a tuple, negative dims included), keepdim."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    dims = draw(
        st.lists(
            st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim, unique_by=lambda d: d % ndim
        )
    )
    dim = draw(st.sampled_from([None, dims[0], tuple(dims)]))
    return shape, dim, draw(st.booleans())


def numpy_axis(dim, ndim):
    return tuple(range(ndim)) if dim is None else (dim,) if isinstance(dim, int) else dim


@given(case=shape_and_dims(), seed=st.integers(0, 2**16))
def test_sum_mean_var_properties(case, seed):
    """Forward equals NumPy; sum's gradient is g broadcast back, mean's is g / n, var's is
    g * 2 (x - mean) / (n - 1)."""
    shape, dim, keepdim = case
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    axis = numpy_axis(dim, len(shape))
    n = int(np.prod([shape[d] for d in axis]))
    for name, expected, local in [
        ("sum", a.sum(axis, keepdims=keepdim), lambda g: g),
        ("mean", a.mean(axis, keepdims=keepdim), lambda g: g / n),
        (
            "var",
            a.var(axis, ddof=1, keepdims=keepdim) if n > 1 else None,
            lambda g: g * 2 * (a - a.mean(axis, keepdims=True)) / (n - 1),
        ),
    ]:
        if expected is None:
            continue  # the unbiased variance of one element divides by zero
        x = sn.tensor(a, requires_grad=True)
        y = getattr(x, name)(dim, keepdim=keepdim)
        assert y.shape == np.shape(expected)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        g_kept = g.reshape(a.sum(axis, keepdims=True).shape)  # put the reduced dims back as 1
        np.testing.assert_allclose(
            x.grad.numpy(), np.broadcast_to(local(g_kept), shape), rtol=1e-10, atol=1e-12
        )


@given(case=shape_and_dims(), seed=st.integers(0, 2**16))
def test_amax_amin_properties(case, seed):
    """Without ties the gradient of amax is g at the maximum of each slice, 0 elsewhere."""
    shape, dim, keepdim = case
    rng = np.random.default_rng(seed)
    a = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)  # distinct values
    axis = numpy_axis(dim, len(shape))
    for name, reduce_ in [("amax", np.max), ("amin", np.min)]:
        x = sn.tensor(a, requires_grad=True)
        y = getattr(x, name)(dim, keepdim)
        expected = reduce_(a, axis, keepdims=True)
        np.testing.assert_array_equal(y.numpy(), expected if keepdim else expected.reshape(y.shape))
        g = rng.standard_normal(y.shape)
        y.backward(g)
        np.testing.assert_array_equal(x.grad.numpy(), (a == expected) * g.reshape(expected.shape))


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=4, max_side=3))
def test_broadcast_to_and_sum_to_are_adjoint(shapes):
    """<broadcast_to(x), g> == <x, sum_to(g)>: the backward of a broadcast is its adjoint."""
    (shape,), target = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(0)
    a, g = rng.standard_normal(shape), rng.standard_normal(target)
    assert sum_to(g, shape).shape == shape
    np.testing.assert_allclose(
        (np.broadcast_to(a, target) * g).sum(), (a * sum_to(g, shape)).sum(), rtol=1e-10
    )
    x = sn.tensor(a, requires_grad=True)
    y = x.broadcast_to(target)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), sum_to(g, shape), rtol=1e-12)
    assert sn.gradcheck(lambda x: x.broadcast_to(target), [sn.tensor(a, requires_grad=True)])


def test_sum_to_doctest_example():
    assert sum_to(np.ones((2, 3, 4)), (3, 1)).tolist() == [[8.0], [8.0], [8.0]]
    g = np.ones((2, 3))
    assert sum_to(g, (2, 3)) is g


@pytest.mark.parametrize("values", [[1, 2, 3], [True, False, True]])
def test_mean_and_var_of_integers_are_refused_as_in_pytorch(values):
    """PyTorch raises for the mean of an int64 or bool tensor;
    a silent float64 result would differ."""
    x = sn.tensor(values)
    for op in ("mean", "var"):
        with pytest.raises(
            TypeError, match=rf"{op}\(\): input of dtype {x.dtype}.*x.float\(\).{op}\(\)"
        ):
            getattr(x, op)()
    assert x.float().mean().item() == pytest.approx(np.mean(values))
