"""Shape ops: reshape/view, transpose/permute, flatten,
squeeze/unsqueeze, indexing, cat/stack/split/chunk, pad."""

from __future__ import annotations

import types

import numpy as np
import pytest
from helpers import random_tensors
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnet as sn

MASK = np.array(
    [[True, False, True, False], [False, False, True, True], [True, True, False, False]]
)

# name: (fn(m, *tensors) where m is scratchnet or a torch namespace, input shapes)
CASES = {
    "reshape": (lambda m, x: x.reshape(6, 4), [(2, 3, 4)]),
    "reshape-minus-one": (lambda m, x: x.reshape(-1), [(2, 3, 4)]),
    "reshape-tuple": (lambda m, x: x.reshape((4, -1, 2)), [(2, 3, 4)]),
    "reshape-0d": (lambda m, x: x.reshape(1, 1), [()]),
    "view": (lambda m, x: x.view(4, -1), [(2, 3, 4)]),
    "transpose": (lambda m, x: x.transpose(0, 2), [(2, 3, 4)]),
    "transpose-negative": (lambda m, x: x.transpose(-1, -2), [(2, 3, 4)]),
    "permute": (lambda m, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    "permute-tuple": (lambda m, x: x.permute((1, 2, 0)), [(2, 3, 4)]),
    "T": (lambda m, x: x.T, [(3, 4)]),
    "flatten": (lambda m, x: x.flatten(), [(2, 3, 4)]),
    "flatten-from-1": (lambda m, x: x.flatten(1), [(2, 3, 4, 2)]),
    "flatten-middle": (lambda m, x: x.flatten(1, 2), [(2, 3, 4, 2)]),
    "flatten-0d": (lambda m, x: x.flatten(), [()]),
    "squeeze": (lambda m, x: x.squeeze(), [(1, 3, 1, 4)]),
    "squeeze-dim": (lambda m, x: x.squeeze(2), [(1, 3, 1, 4)]),
    "squeeze-other-size": (lambda m, x: x.squeeze(1), [(1, 3, 1, 4)]),
    "unsqueeze": (lambda m, x: x.unsqueeze(0), [(3, 4)]),
    "unsqueeze-last": (lambda m, x: x.unsqueeze(-1), [(3, 4)]),
    "index-int": (lambda m, x: x[1], [(3, 4)]),
    "index-negative": (lambda m, x: x[-1, :, 2], [(3, 4, 5)]),
    "slice": (lambda m, x: x[:, 1:3], [(3, 4)]),
    "slice-step-ellipsis": (lambda m, x: x[..., ::2], [(2, 3, 5)]),
    "index-none": (lambda m, x: x[None, 0], [(3, 4)]),
    "index-list-repeated": (lambda m, x: x[[0, 0, 2]], [(3, 4)]),
    "index-tensor": (lambda m, x: x[m.tensor([2, 0, 2, 1])], [(3, 4)]),
    "index-columns": (lambda m, x: x[:, [3, 0, 3]], [(3, 4)]),
    "index-pairs": (lambda m, x: x[[0, 2, 0], [1, 1, 1]], [(3, 4)]),
    "index-bool": (lambda m, x: x[m.tensor(MASK)], [(3, 4)]),
    "index-bool-rows": (lambda m, x: x[m.tensor([True, False, True])], [(3, 4)]),
    "cat": (lambda m, a, b: m.cat([a, b]), [(2, 3), (4, 3)]),
    "cat-dim1": (lambda m, a, b, c: m.cat([a, b, c], dim=1), [(2, 1, 3), (2, 4, 3), (2, 2, 3)]),
    "cat-negative-dim": (lambda m, a, b: m.cat([a, b], dim=-1), [(2, 3), (2, 2)]),
    "cat-same-tensor": (lambda m, a: m.cat([a, a * 2], 0), [(2, 3)]),
    "stack": (lambda m, a, b: m.stack([a, b]), [(2, 3), (2, 3)]),
    "stack-last": (lambda m, a, b: m.stack([a, b], dim=-1), [(2, 3), (2, 3)]),
    "split": (lambda m, x: x.split(2, dim=1), [(3, 5)]),
    "split-sections": (lambda m, x: x.split([1, 3, 1], dim=-1), [(3, 5)]),
    "split-one-piece-used": (lambda m, x: x.split(2)[1], [(5, 2)]),
    "chunk": (lambda m, x: x.chunk(3, dim=0), [(7, 2)]),
    "chunk-uneven": (lambda m, x: x.chunk(4, dim=1), [(2, 6)]),
    "pad-last-dim": (lambda m, x: m.pad(x, (1, 2)), [(2, 3)]),
    "pad-image": (lambda m, x: m.pad(x, (1, 1, 2, 0), value=0.5), [(1, 2, 3, 4)]),
}


def torch_namespace(torch):
    """The few module-level functions the cases call, under scratchnet's names."""
    return types.SimpleNamespace(
        cat=torch.cat, stack=torch.stack, tensor=torch.tensor, pad=torch.nn.functional.pad
    )


def as_tuple(y):
    return tuple(y) if isinstance(y, tuple | list) else (y,)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, shapes = CASES[name]
    assert sn.gradcheck(lambda *xs: fn(sn, *xs), random_tensors(shapes))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(torch, name, dtype):
    """Shape ops move values without arithmetic: forward and gradients equal PyTorch's exactly."""
    fn, shapes = CASES[name]
    xs = random_tensors(shapes, dtype)
    ts = [torch.tensor(x.numpy().copy(), requires_grad=True) for x in xs]
    ys, tys = as_tuple(fn(sn, *xs)), as_tuple(fn(torch_namespace(torch), *ts))
    assert len(ys) == len(tys)
    rng = np.random.default_rng(1)
    gs = [rng.standard_normal(y.shape).astype(dtype) for y in ys]
    for y, ty in zip(ys, tys, strict=True):
        assert y.dtype == dtype and y.shape == tuple(ty.shape)
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    loss = sn.stack([(y * sn.tensor(g)).sum() for y, g in zip(ys, gs, strict=True)]).sum()
    loss.backward()
    torch.autograd.backward(tys, [torch.tensor(g) for g in gs])
    for x, t in zip(xs, ts, strict=True):
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(
            x.grad.numpy(), t.grad.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-14
        )


def test_function_forms():
    """Each ``sn.<op>(x, ...)`` gives the values NumPy gives for that rearrangement."""
    a = np.arange(24.0).reshape(2, 3, 4)  # distinct values: a wrong order cannot match by chance
    x = sn.tensor(a)

    def same(y, expected):
        np.testing.assert_array_equal(y.numpy(), expected)
        assert y.shape == expected.shape

    same(sn.reshape(x, (6, 4)), a.reshape(6, 4))
    same(sn.flatten(x, 1), a.reshape(2, 12))
    same(sn.transpose(x, 0, 2), a.transpose(2, 1, 0))
    same(sn.permute(x, (1, 2, 0)), a.transpose(1, 2, 0))
    same(sn.unsqueeze(x, 1), a[:, None])
    same(sn.squeeze(sn.unsqueeze(x, 1)), a)
    same(sn.concat([x, 2 * x], 2), np.concatenate([a, 2 * a], 2))
    for piece, expected in zip(sn.split(x, [1, 2], 1), np.split(a, [1], 1), strict=True):
        same(piece, expected)
    for piece, expected in zip(sn.chunk(x, 3, -1), np.split(a, [2], -1), strict=True):
        same(piece, expected)  # ceil(4 / 3) = 2 per chunk: two chunks, as torch.chunk gives
    same(sn.pad(x, (1, 2), value=-1.0), np.pad(a, [(0, 0), (0, 0), (1, 2)], constant_values=-1.0))


def test_reshape_of_same_shape_returns_the_tensor():
    x = sn.randn(2, 3, requires_grad=True)
    assert x.reshape(2, 3) is x and x.view(2, -1) is x


def test_split_unused_pieces_get_zero_gradient():
    x = sn.randn(5, 2, requires_grad=True)
    first, _second, third = x.split(2)
    (first.sum() + 2 * third.sum()).backward()
    assert x.grad.tolist() == [[1.0, 1.0]] * 2 + [[0.0, 0.0]] * 2 + [[2.0, 2.0]]


def test_setitem_and_inplace_need_no_grad():
    x = sn.zeros(2, 3)
    x[0, 1:] = 5.0
    x[sn.tensor([1])] = sn.tensor([1.0, 2.0, 3.0])
    assert x.tolist() == [[0.0, 5.0, 5.0], [1.0, 2.0, 3.0]]
    w = sn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in place"):
        w[0] = 2.0
    with sn.no_grad():
        w[0] = 2.0
        w.fill_(3.0)
    assert w.tolist() == [3.0, 3.0, 3.0]


def test_iteration_and_len():
    x = sn.arange(6).reshape(3, 2)
    assert len(x) == 3 and [row.tolist() for row in x] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(TypeError, match="0-d"):
        len(sn.tensor(1.0))


# ---------------------------------------------------------------------- properties


@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=4), data=st.data())
def test_permute_gradient_is_the_inverse_permutation(shape, data):
    dims = data.draw(st.permutations(range(len(shape))))
    rng = np.random.default_rng(0)
    a, g = rng.standard_normal(shape), rng.standard_normal(tuple(shape[d] for d in dims))
    x = sn.tensor(a, requires_grad=True)
    y = x.permute(*dims) if dims else x.permute(())
    np.testing.assert_array_equal(y.numpy(), a.transpose(dims))
    y.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), g.transpose(np.argsort(dims)))


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), data=st.data())
def test_view_ops_match_numpy_and_send_the_gradient_back(shape, data):
    """flatten, squeeze, unsqueeze and transpose against their NumPy spellings; each gradient is the
    upstream gradient put back into the input's shape."""
    ndim = len(shape)
    start = data.draw(st.integers(-ndim, ndim - 1))
    end = data.draw(st.integers(start % ndim, ndim - 1))
    dim0, dim1 = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim - 1))
    new_axis = data.draw(st.integers(-ndim - 1, ndim))
    ops = [
        (
            lambda x: x.flatten(start, end),
            lambda a: a.reshape(*shape[: start % ndim], -1, *shape[end + 1 :]),
        ),
        (lambda x: x.squeeze(), np.squeeze),
        (lambda x: x.squeeze(dim0), lambda a: np.squeeze(a, dim0) if shape[dim0] == 1 else a),
        (lambda x: x.unsqueeze(new_axis), lambda a: np.expand_dims(a, new_axis)),
        (lambda x: x.transpose(dim0, dim1), lambda a: np.swapaxes(a, dim0, dim1)),
    ]
    a = np.random.default_rng(0).standard_normal(shape)
    for op, numpy_op in ops:
        x = sn.tensor(a, requires_grad=True)
        y = op(x)
        np.testing.assert_array_equal(y.numpy(), numpy_op(a))
        g = np.random.default_rng(1).standard_normal(y.shape)
        y.backward(g)
        expected = np.zeros(shape)
        expected_view = numpy_op(expected)  # a view of `expected` in the output's layout
        expected_view[...] = g
        np.testing.assert_array_equal(x.grad.numpy(), expected)


@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=4), data=st.data())
def test_reshape_gradient_is_reshaped_back(shape, data):
    size = int(np.prod(shape))
    # A random target shape with the same number of elements: split the size into factors.
    factors, rest = [], size
    for d in data.draw(st.lists(st.integers(1, 4), max_size=3)):
        if rest % d == 0:
            factors.append(d)
            rest //= d
    target = (*factors, rest)
    rng = np.random.default_rng(0)
    a, g = rng.standard_normal(shape), rng.standard_normal(target)
    x = sn.tensor(a, requires_grad=True)
    y = x.reshape(target)
    assert y.shape == target
    y.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), g.reshape(shape))


@given(data=st.data())
def test_basic_indexing_scatters_the_gradient(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4))
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True))
    a = np.random.default_rng(0).standard_normal(shape)
    x = sn.tensor(a, requires_grad=True)
    y = x[index]
    np.testing.assert_array_equal(y.numpy(), a[index])
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(g)
    expected = np.zeros(shape)
    np.add.at(expected, index, g)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@given(data=st.data())
def test_integer_array_indexing_adds_repeated_picks(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    index = data.draw(
        hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2))
    )
    a = np.random.default_rng(0).standard_normal(shape)
    x = sn.tensor(a, requires_grad=True)
    y = x[index]
    np.testing.assert_array_equal(y.numpy(), a[index])
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(g)
    expected = np.zeros(shape)
    np.add.at(expected, index, g)  # an element picked k times collects k gradients
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


@given(
    shapes=st.lists(st.integers(0, 3), min_size=1, max_size=4),
    other=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
    data=st.data(),
)
def test_cat_then_split_round_trip(shapes, other, data):
    """split(cat(xs)) == xs, and cat's gradient is the upstream gradient cut back into pieces."""
    dim = data.draw(st.integers(-len(other) - 1, len(other)))
    axis = dim % (len(other) + 1)
    pieces = [(*other[:axis], n, *other[axis:]) for n in shapes]
    rng = np.random.default_rng(0)
    xs = [sn.tensor(rng.standard_normal(p), requires_grad=True) for p in pieces]
    y = sn.cat(xs, dim)
    np.testing.assert_array_equal(y.numpy(), np.concatenate([x.numpy() for x in xs], axis))
    for x, part in zip(xs, y.split(shapes, dim), strict=True):
        np.testing.assert_array_equal(x.numpy(), part.numpy())
    g = rng.standard_normal(y.shape)
    y.backward(g)
    for x, g_part in zip(xs, np.split(g, np.cumsum(shapes)[:-1], axis), strict=True):
        np.testing.assert_array_equal(x.grad.numpy(), g_part)


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), data=st.data())
def test_pad_gradient_crops(shape, data):
    widths = data.draw(
        st.lists(st.integers(0, 2), min_size=2, max_size=2 * len(shape)).filter(
            lambda w: len(w) % 2 == 0
        )
    )
    a = np.random.default_rng(0).standard_normal(shape)
    x = sn.tensor(a, requires_grad=True)
    y = sn.pad(x, widths, value=-1.0)
    numpy_widths = [(0, 0)] * len(shape)
    for i in range(len(widths) // 2):
        numpy_widths[len(shape) - 1 - i] = (widths[2 * i], widths[2 * i + 1])
    np.testing.assert_array_equal(y.numpy(), np.pad(a, numpy_widths, constant_values=-1.0))
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(g)
    crop = tuple(
        slice(before, before + size) for (before, _), size in zip(numpy_widths, shape, strict=True)
    )
    np.testing.assert_array_equal(x.grad.numpy(), g[crop])
