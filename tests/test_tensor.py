"""Tensor basics: creation, attributes, conversions, repr, dtype promotion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn

# ---------------------------------------------------------------------- creation


def test_tensor_from_python_data():
    assert sn.tensor([1.0, 2.0]).dtype == np.float32  # Python floats: PyTorch's default float32
    assert sn.tensor([1, 2]).dtype == np.int64
    assert sn.tensor([True, False]).dtype == np.bool_
    assert sn.tensor(2.5).shape == () and sn.tensor(2.5).item() == 2.5
    assert sn.tensor([[1, 2.5]]).dtype == np.float32
    assert sn.tensor([1.0], dtype=sn.float64).dtype == np.float64
    assert sn.tensor([sn.tensor(1.0), sn.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_tensor_from_numpy_keeps_dtype_and_copies():
    a = np.array([1.0, 2.0])  # float64
    x = sn.tensor(a)
    assert x.dtype == np.float64  # as torch.tensor(np_array)
    a[0] = 5.0
    assert x.tolist() == [1.0, 2.0]  # a new leaf never shares the caller's memory
    assert sn.tensor(np.float32(2.0)).dtype == np.float32
    assert sn.tensor(np.array([1, 2], np.int32)).dtype == np.int32
    y = sn.tensor(x, dtype=sn.float32)
    assert y.dtype == np.float32 and x.dtype == np.float64


@pytest.mark.parametrize(
    "data",
    [
        [np.float64(1.0), 2.0],
        [[np.float64(1.0)], [2.0]],
        [np.array([1.0, 2.0]), np.array([3.0, 4.0])],
        [1.0, np.float32(2.0)],
        [np.int64(1), 2.5],
    ],
    ids=["float64-scalar", "nested", "float64-arrays", "float32-scalar", "int-and-float"],
)
@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")
def test_lists_of_numpy_scalars_keep_their_dtype_as_in_torch(data, torch):
    assert str(sn.tensor(data).dtype) == str(torch.tensor(data).dtype).removeprefix("torch.")


def test_tensor_class_wraps_without_copy():
    a = np.zeros(3, np.float64)
    x = sn.Tensor(a)
    assert x.array is a and x.dtype == np.float64 and x.is_leaf and not x.requires_grad
    assert sn.Tensor(2.0).dtype == np.float32


def test_constructors():
    assert sn.zeros(2, 3).shape == (2, 3) and sn.zeros((2, 3)).tolist() == [[0.0] * 3] * 2
    assert sn.ones([4]).dtype == np.float32 and sn.ones(2, dtype=sn.float64).dtype == np.float64
    assert sn.full((2,), 7.0).tolist() == [7.0, 7.0] and sn.full((2,), 7.0).dtype == np.float32
    assert sn.full((2,), 7).dtype == np.int64
    assert sn.arange(4).tolist() == [0, 1, 2, 3] and sn.arange(4).dtype == np.int64
    assert (
        sn.arange(1, 2, 0.5).tolist() == [1.0, 1.5] and sn.arange(0.0, 1.0, 0.5).dtype == np.float32
    )
    assert sn.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]] and sn.eye(2, 3).shape == (2, 3)
    x = sn.randn(2, 3, dtype=sn.float64)
    for like in [sn.zeros_like(x), sn.ones_like(x), sn.full_like(x, 2.0), sn.randn_like(x)]:
        assert like.shape == (2, 3) and like.dtype == np.float64 and like.device == "cpu"
    assert sn.zeros_like(x, dtype=sn.float32).dtype == np.float32
    assert sn.rand(100).numpy().min() >= 0 and sn.rand(100).numpy().max() < 1
    r = sn.randint(0, 3, (50,))
    assert r.dtype == np.int64 and set(r.tolist()) <= {0, 1, 2}
    assert sn.randn(3, requires_grad=True).requires_grad


def test_manual_seed_makes_random_tensors_reproducible():
    sn.manual_seed(42)
    a = sn.randn(5).numpy().copy()
    sn.manual_seed(42)
    b = sn.randn(5).numpy()
    assert np.array_equal(a, b)
    assert not np.array_equal(b, sn.randn(5).numpy())


# ---------------------------------------------------------------------- attributes and conversions


def test_attributes():
    x = sn.randn(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4 and len(x) == 2
    assert x.device == "cpu" and x.is_leaf and x.grad is None and x.grad_fn is None
    assert x.contiguous() is x and isinstance(x.array, np.ndarray)


def test_conversions():
    x = sn.tensor([[1.5]])
    assert x.item() == 1.5 and float(x) == 1.5 and int(x) == 1 and bool(x)
    assert x.tolist() == [[1.5]] and x.numpy() is x.array
    assert np.asarray(x).dtype == np.float32 and np.asarray(x, dtype=np.float64).dtype == np.float64
    assert (
        x.long().dtype == np.int64 and x.bool().dtype == np.bool_ and x.double().dtype == np.float64
    )
    assert x.cpu() is x and x.to("cpu") is x and x.to(sn.float32) is x


def test_clone_is_a_differentiable_copy():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert not np.shares_memory(x.array, y.array) and y.grad_fn is not None
    (y * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_any_all_argmax():
    x = sn.tensor([[0.0, 2.0], [3.0, -1.0]])
    assert (x > 2).any().item() and not (x > 2).all().item()
    assert (
        x.argmax().item() == 2
        and x.argmax(1).tolist() == [1, 0]
        and x.argmin(0, keepdim=True).tolist() == [[0, 1]]
    )
    # Over all elements, keepdim keeps every dimension at size 1 (PyTorch's shape (1, 1))
    assert x.argmax(keepdim=True).tolist() == [[2]] and x.argmin(keepdim=True).shape == (1, 1)


def _contiguous_facts(lib):
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    same = x.contiguous() is x
    y = x.T.contiguous()  # a transposed view is not contiguous: a copy
    (y * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    with lib.no_grad():
        y[0, 0] = 9.0
    return [same, x.tolist(), x.grad.tolist(), y.tolist()]


def test_contiguous_copies_a_non_contiguous_view_as_in_torch(torch):
    assert _contiguous_facts(sn) == _contiguous_facts(torch)


def _view_facts(lib):
    x = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    flat = x.view(6)  # contiguous: the same memory
    flat[0] = 0.0
    columns = x.T[1:].view(2, 2)  # a slice of the transpose: no copy needed
    columns[0, 0] = 7.0
    try:
        x.T.view(6)  # would need a copy: refused
    except RuntimeError as error:
        refused = str(error).split(" (")[0]
    return [x.tolist(), refused, list(columns.shape)]


def test_view_refuses_what_needs_a_copy_as_in_torch(torch):
    assert _view_facts(sn) == _view_facts(torch)


def _assign_grad(lib, make):
    x = lib.zeros(2, requires_grad=True)
    try:
        x.grad = make(lib)
    except (TypeError, RuntimeError) as error:
        return type(error).__name__, str(error).split(" Please")[0].replace("'", "")
    return x.grad.tolist()


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.ones(2),
        lambda lib: lib.zeros(3),
        lambda lib: lib.zeros(2, 1),  # would broadcast into a (2, 2) .grad at the next backward
        lambda lib: lib.zeros(2, dtype=lib.float64),
        lambda lib: np.zeros(2, np.float32),
    ],
    ids=["ok", "size", "broadcastable", "dtype", "ndarray"],
)
def test_assigned_grad_must_match_the_tensor_as_in_torch(make, torch):
    ours, theirs = _assign_grad(sn, make), _assign_grad(torch, make)
    assert ours[0] == theirs[0]
    if ours[0] == "RuntimeError" and "size" in theirs[1]:
        assert ours[1] == theirs[1]


def _to_copies(lib):
    x = lib.ones(2, requires_grad=True)
    calls = [
        x.to("cpu", copy=True),
        x.to(lib.float32, copy=True),
        x.to(x, copy=True),
        x.to("cpu", lib.float32, False, True),  # positional non_blocking, copy
        x.to("cpu", copy=False),
        x.to(lib.float32),
    ]
    calls[0].sum().backward()  # a copy still passes the gradient back
    return [y is x for y in calls], x.grad.tolist()


def test_to_with_copy_true_returns_a_new_tensor_as_in_torch(torch):
    assert _to_copies(sn) == _to_copies(torch)


def _argmax_edges(lib):
    results = []
    for call in [
        lambda: lib.zeros(0).argmax(),
        lambda: lib.zeros(0, 3).argmax(0),
        lambda: lib.zeros(0, 3).argmax(1, keepdim=True),
        lambda: lib.ones(2, 3).argmax(3),
        lambda: lib.ones(2, 3).argmin(-3),
        lambda: lib.tensor(3.0).argmax(-1, keepdim=True),
    ]:
        try:
            results.append(list(call().shape))
        except IndexError as error:
            results.append(str(error).split(" (")[0].split(",")[0].rstrip(".").lower())
    return results


def test_argmax_empty_and_out_of_range_dims_as_in_torch(torch):
    assert _argmax_edges(sn) == _argmax_edges(torch)


def test_identity_hash_and_elementwise_equality():
    a, b = sn.tensor([1.0]), sn.tensor([1.0])
    assert len({a, b}) == 2 and (a == b).item()


# ---------------------------------------------------------------------- repr


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: sn.tensor([1.0, 2.5]), "tensor([1.0000, 2.5000])"),
        (lambda: sn.tensor(3.0), "tensor(3.)"),
        (lambda: sn.tensor([1, 2]), "tensor([1, 2])"),
        (lambda: sn.tensor(3, dtype=sn.int32), "tensor(3, dtype=int32)"),
        (lambda: sn.tensor([1.0], dtype=sn.float64), "tensor([1.], dtype=float64)"),
        (lambda: sn.tensor([True, False]), "tensor([ True, False])"),
        (lambda: sn.tensor([1.0], requires_grad=True), "tensor([1.], requires_grad=True)"),
        (lambda: sn.tensor([1.0], requires_grad=True) * 2, "tensor([2.], grad_fn=<MulBackward>)"),
        (lambda: sn.zeros(0), "tensor([])"),
        (lambda: sn.zeros(2, 0, 3), "tensor([], size=(2, 0, 3))"),
        (lambda: sn.zeros((0,), dtype=sn.float64), "tensor([], dtype=float64)"),
    ],
)
def test_repr(make, expected):
    assert repr(make()) == expected


def test_repr_of_a_matrix_aligns_rows():
    assert repr(sn.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"


def test_repr_matches_torch_for_simple_cases(torch):
    for data in [
        [1.0, 2.5],
        [[1.0, -2.0], [3.25, 4.0]],
        3.0,
        2.5,
        [1, 2],
        [1e-5, 1.0],
        [float("nan"), 0.5],
    ]:
        assert repr(sn.tensor(data)) == repr(torch.tensor(data))


# ---------------------------------------------------------------------- dtype promotion


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: sn.tensor([1, 2]) + sn.tensor([1.5]), np.float32),  # NumPy would give float64
        (lambda: sn.tensor([1, 2]) + 0.5, np.float32),
        (lambda: sn.tensor([1, 2]) + 2, np.int64),
        (lambda: sn.tensor([1, 2]) + np.int64(2), np.int64),
        (lambda: sn.tensor([1, 2], dtype=sn.int32) + 2, np.int32),
        (lambda: sn.tensor([1, 2]) / 2, np.float32),  # true division of integers is float
        (lambda: sn.tensor([1, 4]).sqrt(), np.float32),
        (lambda: sn.tensor([1, 4]) ** 0.5, np.float32),
        (lambda: sn.tensor([1, 4]) ** 2, np.int64),
        (lambda: 2.0 ** sn.tensor([1, 4]), np.float32),
        (lambda: sn.tensor([True]) + 2, np.int64),
        (lambda: sn.tensor([True]) + True, np.bool_),
        (lambda: sn.tensor([1.0]) + sn.tensor([1.0], dtype=sn.float64), np.float64),
        (
            lambda: sn.tensor([1.0]) * sn.tensor(2.0, dtype=sn.float64),
            np.float32,
        ),  # a 0-d tensor does not widen
        (
            lambda: sn.tensor([1]) * sn.tensor(2.0, dtype=sn.float64),
            np.float64,
        ),  # ... unless of a higher kind
        (lambda: sn.tensor([1.0]) * np.float64(2.0), np.float32),
        (lambda: sn.tensor([1.0]) * np.ones(1), np.float64),  # an array operand keeps its dtype
        (lambda: sn.tensor([1], dtype=sn.uint8) + sn.tensor([1], dtype=sn.int8), np.int16),
        (lambda: sn.cat([sn.tensor([1]), sn.tensor([1.5])]), np.float32),
        (lambda: sn.where(sn.tensor([True]), sn.tensor([1]), 0.5), np.float32),
    ],
)
def test_promotion(make, expected):
    assert make().dtype == expected


def test_promotion_matches_torch(torch):
    dtypes = ["bool", "uint8", "int8", "int32", "int64", "float32", "float64"]
    for a in dtypes:
        for b in dtypes:
            for shape_b in [(2,), ()]:
                x = sn.zeros(2, dtype=np.dtype(a)) + sn.zeros(shape_b, dtype=np.dtype(b))
                t = torch.zeros(2, dtype=getattr(torch, a)) + torch.zeros(
                    shape_b, dtype=getattr(torch, b)
                )
                assert str(t.dtype) == f"torch.{x.dtype}", (a, b, shape_b)


@given(value=st.one_of(st.booleans(), st.integers(-5, 5), st.floats(-5, 5)))
def test_python_scalars_match_torch_promotion(value):
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed: cross-checks against torch skipped"
    )
    for dtype in ["bool", "int32", "int64", "float32", "float64"]:
        x = sn.zeros(2, dtype=np.dtype(dtype)) + value
        t = torch.zeros(2, dtype=getattr(torch, dtype)) + value
        assert str(t.dtype) == f"torch.{x.dtype}", (dtype, value)


def test_mixed_dtype_gradients_flow_back_in_each_dtype():
    a = sn.tensor([1.0, 2.0], requires_grad=True)
    b = sn.tensor([3.0, 4.0], dtype=sn.float64, requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert a.grad.tolist() == [3.0, 4.0] and b.grad.tolist() == [1.0, 2.0]


def test_integer_tensors_meeting_floats_give_differentiable_float_results():
    i = sn.tensor([1, 2])
    w = sn.tensor([0.5, 0.5], requires_grad=True)
    y = i * w
    assert y.dtype == np.float32 and y.requires_grad
    y.sum().backward()
    assert w.grad.tolist() == [1.0, 2.0]


# ---------------------------------------------------------------------- zero-dimensional tensors


def test_zero_dim_tensors():
    x = sn.tensor(2.0, requires_grad=True)
    y = (x * x + x.exp()).sum(0).mean(-1).reshape(1).squeeze()
    assert y.shape == ()
    y.backward()
    assert np.isclose(x.grad.item(), 4 + np.exp(2))
    assert x.flatten().shape == (1,) and x.unsqueeze(0).shape == (1,) and x.T.shape == ()
    assert x.var(correction=0).item() == 0.0
    with pytest.raises(IndexError):
        x.sum(1)


# ---------------------------------------------------------------------- .data (PyTorch's), .array


def _data_facts(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    d, dy = x.data, y.data
    d[0] = 10.0  # shares memory: x sees it
    return [
        type(d) is type(x),
        d.requires_grad,
        d.is_leaf,
        d.grad_fn is None,
        dy.is_leaf,
        dy.grad_fn is None,
        x.tolist(),
        x._version,
        d._version,
        x.data is x.data,  # a new tensor each time, as in PyTorch
    ]


def test_data_is_a_detached_tensor_sharing_memory_as_in_torch(torch):
    assert _data_facts(sn) == _data_facts(torch)
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    assert np.shares_memory(x.data.array, x.array) and x.data.numpy() is x.array


def _write_through(lib, how):
    """A saved input changed in place after forward: through .data (unseen) or .detach (caught)."""
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = w * 1
    loss = (a * a).sum()  # Mul saves a
    getattr(a, how)().mul_(2) if how == "detach" else a.data.mul_(2)
    try:
        loss.backward()
    except RuntimeError as error:
        return "modified by an inplace operation" in str(error)
    return w.grad.tolist()


@pytest.mark.parametrize("how", ["data", "detach"])
def test_changes_through_data_are_invisible_to_autograd_and_through_detach_caught(how, torch):
    ours, theirs = _write_through(sn, how), _write_through(torch, how)
    assert ours == theirs
    assert ours == ([4.0, 8.0, 12.0] if how == "data" else True)


def _set_data(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.data = lib.zeros(5, dtype=lib.float64)  # any shape and dtype
    y = lib.ones(2)
    y.data = lib.arange(3)
    return [list(x.shape), str(x.dtype).split(".")[-1], x.requires_grad, x.is_leaf, y.tolist()]


def test_setting_data_swaps_the_storage_as_in_torch(torch):
    assert _set_data(sn) == _set_data(torch)
    x = sn.tensor([1.0, 2.0])
    new = sn.tensor([5.0, 6.0, 7.0])
    x.data = new
    assert x.array is new.array  # the storage itself, not a copy


def _set_data_errors(lib, value):
    x = lib.ones(2, requires_grad=True)
    try:
        x.data = value(lib)
    except (TypeError, RuntimeError) as error:
        return type(error).__name__, str(error).split(" (")[0]
    return None


@pytest.mark.parametrize(
    "value",
    [lambda lib: np.zeros(2, np.float32), lambda lib: [1.0, 2.0], lambda lib: lib.arange(3)],
    ids=["ndarray", "list", "integer-tensor"],
)
def test_setting_data_refuses_what_torch_refuses(value, torch):
    ours, theirs = _set_data_errors(sn, value), _set_data_errors(torch, value)
    assert ours is not None and ours[0] == theirs[0]
    assert ours[1].startswith(theirs[1].split(",")[0])


def _old_sgd_idioms(lib):
    w = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (w * w).sum().backward()
    w.data -= 0.25 * w.grad  # Python sets w.data to the changed tensor afterwards
    first = w.tolist()
    w.data.add_(w.grad, alpha=-0.5)
    w.data.mul_(2)
    second = w.tolist()
    w.data.zero_()
    return [first, second, w.tolist(), w._version, w.requires_grad]


def test_old_update_idioms_through_data_change_the_tensor_as_in_torch(torch):
    assert _old_sgd_idioms(sn) == _old_sgd_idioms(torch)
    p = sn.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    memory = p.array
    p.array -= 0.5 * p.grad  # the raw array: NumPy's operator, a Tensor on the right
    p.data -= 0.25 * p.grad  # PyTorch's .data: the Tensor's own in-place operator
    assert p.array is memory and p.tolist() == [-0.5, -1.0] and p._version == 0
