"""matmul (vectors, matrices, broadcast batch dims) and linear."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet.ops.linalg import linear

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),  # matrix @ matrix
    ((4,), (4,)),  # vector . vector -> 0-d
    ((4,), (4, 5)),  # vector @ matrix
    ((3, 4), (4,)),  # matrix @ vector
    ((2, 3, 4), (4, 5)),  # batch @ matrix
    ((3, 4), (2, 4, 5)),  # matrix @ batch
    ((2, 1, 3, 4), (5, 4, 2)),  # batch dims broadcast: (2, 1) with (5,)
    ((4,), (2, 4, 5)),  # vector @ batch
    ((2, 3, 4), (4,)),  # batch @ vector
]


def make(shape, dtype=np.float64, seed=0):
    return sn.tensor(
        np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True
    )


@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES, ids=str)
def test_matmul_gradcheck(shape_a, shape_b):
    assert sn.gradcheck(lambda a, b: a @ b, [make(shape_a), make(shape_b, seed=1)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES, ids=str)
def test_matmul_matches_torch(torch, shape_a, shape_b, dtype):
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-4, 1e-5)
    a, b = make(shape_a, dtype), make(shape_b, dtype, seed=1)
    ta, tb = (torch.tensor(x.numpy().copy(), requires_grad=True) for x in (a, b))
    y, ty = a @ b, ta @ tb
    assert y.dtype == dtype and y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for x, t in [(a, ta), (b, tb)]:
        assert x.grad.shape == x.shape and x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


def test_matmul_forms_and_reflected():
    a, b = make((3, 4)), make((4, 2))
    expected = a.numpy() @ b.numpy()
    for y in [sn.matmul(a, b), a.matmul(b), a @ b, a @ b.numpy(), a.numpy() @ b]:
        np.testing.assert_allclose(y.numpy(), expected)
    c = a.numpy() @ b  # ndarray @ Tensor goes to Tensor.__rmatmul__ and keeps the graph
    c.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), a.numpy().T @ np.ones((3, 2)))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)])
def test_linear_gradcheck(x_shape, bias):
    inputs = [make(x_shape), make((3, 4), seed=1)] + ([make((3,), seed=2)] if bias else [])
    assert sn.gradcheck(linear, inputs)


def test_linear_matches_torch(torch):
    x, w, b = make((2, 5, 4)), make((3, 4), seed=1), make((3,), seed=2)
    tx, tw, tb = (torch.tensor(t.numpy().copy(), requires_grad=True) for t in (x, w, b))
    y, ty = linear(x, w, b), torch.nn.functional.linear(tx, tw, tb)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(3).standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for ours, theirs in [(x, tx), (w, tw), (b, tb)]:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10)


def test_linear_shape_error_names_the_layer():
    with pytest.raises(
        ValueError,
        match=r"Linear\(4, 3\) expects inputs of shape \(\.\.\., 4\), got shape \(2, 5\)",
    ):
        linear(sn.randn(2, 5), sn.randn(3, 4))


@st.composite
def matmul_shapes(draw):
    """Two shapes that matmul accepts: vectors or matrices with broadcastable batch dims."""
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    batch_a = [draw(st.sampled_from([size, 1])) for size in batch]
    batch_b = [draw(st.sampled_from([size, 1])) for size in batch][
        draw(st.integers(0, len(batch))) :
    ]
    shape_a = (k,) if draw(st.booleans()) and not batch_a else (*batch_a, m, k)
    shape_b = (k,) if draw(st.booleans()) and not batch_b else (*batch_b, k, n)
    return shape_a, shape_b


@given(shapes=matmul_shapes(), seed=st.integers(0, 2**16))
def test_matmul_property(shapes, seed):
    """Forward equals NumPy; the gradients are G B^T and A^T G summed over broadcast batch dims,
    checked as <G, dA @ B> == <grad_A, dA> for a random direction dA (the definition of a
    gradient)."""
    shape_a, shape_b = shapes
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    x, y = sn.tensor(a, requires_grad=True), sn.tensor(b, requires_grad=True)
    out = x @ y
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    assert x.grad.shape == shape_a and y.grad.shape == shape_b
    da, db = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    # matmul is bilinear, so its directional derivatives are exact products.
    np.testing.assert_allclose(
        (g * (da @ b)).sum(), (x.grad.numpy() * da).sum(), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        (g * (a @ db)).sum(), (y.grad.numpy() * db).sum(), rtol=1e-9, atol=1e-12
    )
