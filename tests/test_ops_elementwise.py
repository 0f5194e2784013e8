"""Element-wise ops: gradient checks, broadcasting
properties, PyTorch cross-checks, kink conventions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnet as sn


def off_kinks(x: np.ndarray, kinks=(0.0,), margin: float = 0.1) -> np.ndarray:
    """Push values within ``margin`` of a kink away from it,
    so finite differences stay on one side."""
    x = x.copy()
    for kink in kinks:
        close = np.abs(x - kink) < margin
        x[close] = kink + np.where(x[close] >= kink, margin, -margin)
    return x


def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def nonzero(*shape):
    return lambda rng: off_kinks(rng.standard_normal(shape), (0.0,), 0.3)


@dataclass
class Case:
    name: str
    fn: Callable  # on scratchnet tensors
    inputs: list[Callable]  # each: rng -> a float64 array
    torch_fn: Callable | None = None  # (torch, *tensors) -> output; default: fn on torch tensors

    def __str__(self) -> str:
        return self.name


COND = np.array([[True, False, True], [False, False, True]])

CASES = [
    Case("add", lambda a, b: a + b, [normal(2, 3), normal(2, 3)]),
    Case("add-broadcast", lambda a, b: a + b, [normal(4, 1, 3), normal(2, 1)]),
    Case("add-scalar", lambda a: 2.5 + a + 1.5, [normal(2, 3)]),
    Case("sub", lambda a, b: a - b, [normal(2, 3), normal(3)]),
    Case("rsub", lambda a: 1.0 - a, [normal(2, 3)]),
    Case("mul", lambda a, b: a * b, [normal(2, 3), normal(2, 1)]),
    Case("mul-scalar", lambda a: a * 3.0, [normal(2, 3)]),
    Case("div", lambda a, b: a / b, [normal(2, 3), nonzero(3)]),
    Case("rdiv", lambda a: 2.0 / a, [nonzero(2, 3)]),
    Case("pow-int", lambda a: a**3, [normal(2, 3)]),
    Case("pow-float", lambda a: a**0.5, [positive(2, 3)]),
    Case("pow-negative", lambda a: a**-2, [nonzero(2, 3)]),
    Case("pow-zero", lambda a: a**0 * a, [normal(2, 3)]),
    Case("pow-tensor", lambda a, b: a**b, [positive(2, 3), normal(3)]),
    Case("rpow", lambda a: 2.0**a, [normal(2, 3)]),
    Case("neg", lambda a: -a, [normal(2, 3)]),
    Case("abs", lambda a: a.abs(), [nonzero(2, 3)]),
    Case("exp", lambda a: a.exp(), [normal(2, 3)]),
    Case("log", lambda a: a.log(), [positive(2, 3)]),
    Case("sqrt", lambda a: a.sqrt(), [positive(2, 3)]),
    Case("tanh", lambda a: a.tanh(), [normal(2, 3)]),
    Case("sigmoid", lambda a: a.sigmoid(), [normal(2, 3)]),
    Case("relu", lambda a: a.relu(), [nonzero(3, 4)]),
    Case(
        "clamp",
        lambda a: a.clamp(-0.5, 0.5),
        [lambda rng: off_kinks(rng.standard_normal((3, 4)), (-0.5, 0.5))],
    ),
    Case(
        "clamp-min",
        lambda a: a.clamp(min=-0.2),
        [lambda rng: off_kinks(rng.standard_normal((3, 4)), (-0.2,))],
    ),
    Case(
        "clip-max",
        lambda a: a.clip(max=0.3),
        [lambda rng: off_kinks(rng.standard_normal((3, 4)), (0.3,))],
    ),
    Case(
        "maximum",
        lambda a, b: a.maximum(b),
        [normal(2, 3), lambda rng: rng.standard_normal((2, 3)) + 0.25],
    ),
    Case(
        "minimum",
        lambda a, b: a.minimum(b),
        [normal(2, 3), lambda rng: rng.standard_normal((1, 3)) + 0.25],
    ),
    Case(
        "where",
        lambda a, b: sn.where(sn.tensor(COND), a, b),
        [normal(2, 3), normal(3)],
        lambda torch, a, b: torch.where(torch.tensor(COND), a, b),
    ),
    Case(
        "where-scalar",
        lambda a: sn.where(sn.tensor(COND), a, 0.5),
        [normal(2, 3)],
        lambda torch, a: torch.where(torch.tensor(COND), a, 0.5),
    ),
]


def make_inputs(case: Case, dtype=np.float64, seed: int = 0) -> list[sn.Tensor]:
    rng = np.random.default_rng(seed)
    return [sn.tensor(make(rng).astype(dtype), requires_grad=True) for make in case.inputs]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradcheck(case):
    assert sn.gradcheck(case.fn, make_inputs(case))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_float32_stays_float32(case):
    xs = make_inputs(case, np.float32)
    y = case.fn(*xs)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert all(x.grad.dtype == np.float32 and x.grad.shape == x.shape for x in xs)


def matches_torch(torch, case, dtype, seed: int = 0) -> None:
    """Forward values and input gradients of ``case``
    equal PyTorch's, for one random upstream gradient."""
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-4, 1e-5)
    xs = make_inputs(case, dtype, seed)
    ts = [torch.tensor(x.numpy().copy(), requires_grad=True) for x in xs]
    y = case.fn(*xs)
    ty = case.torch_fn(torch, *ts) if case.torch_fn else case.fn(*ts)
    assert y.dtype == dtype and str(ty.dtype) == f"torch.{np.dtype(dtype).name}"
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(torch, case, dtype):
    matches_torch(torch, case, dtype)


def test_function_forms_equal_methods_and_numpy():
    """``sn.<op>(x)``, ``x.<op>()`` and the operator give the same values, and those are NumPy's."""
    a = np.array([[0.5, -1.5], [2.0, 0.25]])
    x = sn.tensor(a)
    p = x.abs()
    expected = {
        "abs": (x, np.abs(a)),
        "exp": (x, np.exp(a)),
        "sigmoid": (x, 1 / (1 + np.exp(-a))),
        "tanh": (x, np.tanh(a)),
        "relu": (x, np.maximum(a, 0)),
        "log": (p, np.log(np.abs(a))),
        "sqrt": (p, np.sqrt(np.abs(a))),
    }
    for name, (t, values) in expected.items():
        np.testing.assert_allclose(getattr(sn, name)(t).numpy(), values, rtol=1e-14, err_msg=name)
        assert np.array_equal(getattr(sn, name)(t).numpy(), getattr(t, name)().numpy()), name
    np.testing.assert_array_equal(sn.pow(x, 2).numpy(), a**2)
    np.testing.assert_array_equal(sn.clamp(x, -1, 1).numpy(), np.clip(a, -1, 1))
    np.testing.assert_array_equal(sn.clip(x, -1, 1).numpy(), np.clip(a, -1, 1))
    np.testing.assert_array_equal(sn.maximum(x, 0.0).numpy(), np.maximum(a, 0))
    np.testing.assert_array_equal(sn.minimum(x, 0.0).numpy(), np.minimum(a, 0))
    for method, operator, values in [
        (x.add(1), x + 1, a + 1),
        (x.sub(1), x - 1, a - 1),
        (x.mul(2), x * 2, a * 2),
        (x.div(2), x / 2, a / 2),
        (x.pow(3), x**3, a**3),
    ]:
        np.testing.assert_array_equal(method.numpy(), values)
        np.testing.assert_array_equal(operator.numpy(), values)
    assert (+x) is x


# -------------------------------------------------------------------- conventions at kinks and ties


def test_gradient_conventions_at_kinks():
    """PyTorch's choices where the derivative is undefined: relu'(0) = abs'(0) = 0, clamp' = 0 at
    the bounds, maximum/minimum split a tie evenly, sqrt'(0) = inf."""
    x = sn.tensor([0.0, -0.5, 0.5, 1.0], requires_grad=True)
    (x.relu() + x.abs() + x.clamp(-0.5, 0.5)).backward(np.ones(4, np.float32))
    assert x.grad.tolist() == [0.0 + 0.0 + 1.0, 0.0 - 1.0 + 0.0, 1.0 + 1.0 + 0.0, 1.0 + 1.0 + 0.0]

    a, b = sn.tensor([1.0, 2.0], requires_grad=True), sn.tensor([1.0, 1.0], requires_grad=True)
    (a.maximum(b) + 2 * a.minimum(b)).sum().backward()
    assert a.grad.tolist() == [0.5 + 1.0, 1.0] and b.grad.tolist() == [0.5 + 1.0, 2.0]

    base, exponent = (
        sn.tensor([0.0, 0.0], requires_grad=True),
        sn.tensor([0.0, 1.0], requires_grad=True),
    )
    (base**exponent).sum().backward()  # d/da 0^0 = 0 and d/db 0^b = 0, never NaN
    assert base.grad.tolist() == [0.0, 1.0] and exponent.grad.tolist() == [0.0, 0.0]


def test_kink_conventions_match_torch(torch):
    values = np.array([0.0, -0.5, 0.5, 1.0, -2.0])
    for fn in [
        lambda t: t.relu(),
        lambda t: t.abs(),
        lambda t: t.clamp(-0.5, 0.5),
        lambda t: t.clamp(min=0.0),
        lambda t: t.maximum(t * 0 + 0.5),
        lambda t: t.minimum(t * 0 - 0.5),
        lambda t: t**0,
    ]:
        x, t = sn.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
        fn(x).sum().backward()
        fn(t).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_sigmoid_is_stable_for_large_inputs():
    x = sn.tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    y = x.sigmoid()
    assert y.tolist() == [0.0, 0.5, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.25, 0.0]


# ---------------------------------------------------------------------- broadcasting properties


def adjoint_of_broadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` back to ``shape`` by counting where each
    input element was copied (independent of sum_to)."""
    index = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    copies = np.broadcast_to(index, g.shape).ravel()
    return np.bincount(copies, weights=g.ravel(), minlength=index.size).reshape(shape)


BINARY = {  # name: (forward on tensors or arrays, local gradients (g da, g db) on broadcast arrays)
    "add": (lambda a, b: a + b, lambda a, b, g: (g, g)),
    "sub": (lambda a, b: a - b, lambda a, b, g: (g, -g)),
    "mul": (lambda a, b: a * b, lambda a, b, g: (g * b, g * a)),
    "div": (lambda a, b: a / b, lambda a, b, g: (g / b, -g * a / b**2)),
    "maximum": (
        lambda a, b: (sn if isinstance(a, sn.Tensor) else np).maximum(a, b),
        lambda a, b, g: (g * (a > b), g * (a < b)),
    ),
}


@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
    op=st.sampled_from(sorted(BINARY)),
    seed=st.integers(0, 2**16),
)
def test_binary_ops_broadcast(shapes, op, seed):
    """Forward equals NumPy; each gradient has its input's shape and is the upstream gradient
    (times the local derivative) summed over the broadcast copies."""
    shape_a, shape_b = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape_a)
    b = off_kinks(rng.standard_normal(shape_b), (0.0,), 0.5)
    forward, local = BINARY[op]
    x, y = sn.tensor(a, requires_grad=True), sn.tensor(b, requires_grad=True)
    out = forward(x, y)
    assert out.shape == shapes.result_shape and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), forward(a, b), rtol=1e-12)

    g = rng.standard_normal(out.shape)
    out.backward(g)
    a_full, b_full = np.broadcast_to(a, out.shape), np.broadcast_to(b, out.shape)
    ga, gb = local(a_full, b_full, g)
    assert x.grad.shape == shape_a and y.grad.shape == shape_b
    np.testing.assert_allclose(
        x.grad.numpy(), adjoint_of_broadcast(ga, shape_a), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        y.grad.numpy(), adjoint_of_broadcast(gb, shape_b), rtol=1e-10, atol=1e-12
    )


@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    op=st.sampled_from(["add", "sub", "mul", "div", "pow", "maximum", "minimum"]),
)
def test_binary_ops_gradcheck_over_broadcasts(shapes, op):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, shapes.input_shapes[0])  # positive: a valid base for pow
    b = off_kinks(rng.uniform(-2.0, 2.0, shapes.input_shapes[1]), (0.0,), 0.3)  # a safe divisor
    fn = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
        "pow": lambda a, b: a**b,
        "maximum": sn.maximum,
        "minimum": sn.minimum,
    }[op]
    assert sn.gradcheck(fn, [sn.tensor(a, requires_grad=True), sn.tensor(b, requires_grad=True)])


@given(
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
    scalar=st.one_of(st.integers(-3, 3), st.floats(-3, 3)),
    op=st.sampled_from(["+", "-", "*", "r+", "r-", "r*"]),
)
def test_python_scalars_keep_the_tensor_dtype(shape, scalar, op):
    """A Python number never promotes:
    float32 stays float32, float64 stays float64 (as in PyTorch)."""
    ops = {
        "+": lambda x: x + scalar,
        "-": lambda x: x - scalar,
        "*": lambda x: x * scalar,
        "r+": lambda x: scalar + x,
        "r-": lambda x: scalar - x,
        "r*": lambda x: scalar * x,
    }
    for dtype in (np.float32, np.float64):
        a = np.random.default_rng(1).standard_normal(shape).astype(dtype)
        result = ops[op](sn.tensor(a))
        assert result.dtype == dtype and result.shape == shape
        np.testing.assert_allclose(
            result.numpy(), ops[op](a.astype(np.float64)).astype(dtype), rtol=1e-6
        )


@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=4), seed=st.integers(0, 2**16))
def test_unary_gradients_are_the_derivative(shape, seed):
    """For every unary op, backward(g) = g * f'(x) (the derivative written out independently)."""
    rng = np.random.default_rng(seed)
    a = off_kinks(rng.standard_normal(shape), (0.0, -0.5, 0.5), 0.05)
    g = rng.standard_normal(shape)
    derivatives = {
        "exp": (np.exp, lambda x: np.exp(x)),
        "tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2),
        "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
        "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
        "abs": (np.abs, np.sign),
        "clamp": (lambda x: np.clip(x, -0.5, 0.5), lambda x: (np.abs(x) < 0.5) * 1.0),
        "neg": (np.negative, lambda x: -np.ones_like(x)),
    }
    for name, (f, df) in derivatives.items():
        x = sn.tensor(a, requires_grad=True)
        y = -x if name == "neg" else x.clamp(-0.5, 0.5) if name == "clamp" else getattr(x, name)()
        np.testing.assert_allclose(y.numpy(), f(a), rtol=1e-12, atol=1e-15)
        y.backward(g)
        np.testing.assert_allclose(x.grad.numpy(), g * df(a), rtol=1e-10, atol=1e-15)


@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_where_over_broadcasts(shapes, seed):
    """The picked input gets the gradient, summed back
    over broadcasting; the other gets none there."""
    shape_c, shape_a, shape_b = shapes.input_shapes
    rng = np.random.default_rng(seed)
    c, a, b = rng.random(shape_c) < 0.5, rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    x, y = sn.tensor(a, requires_grad=True), sn.tensor(b, requires_grad=True)
    out = sn.where(sn.tensor(c), x, y)
    np.testing.assert_array_equal(out.numpy(), np.where(c, a, b))
    g = rng.standard_normal(out.shape)
    out.backward(g)
    picked = np.broadcast_to(c, out.shape)
    np.testing.assert_allclose(
        x.grad.numpy(), adjoint_of_broadcast(g * picked, shape_a), atol=1e-12
    )
    np.testing.assert_allclose(
        y.grad.numpy(), adjoint_of_broadcast(g * ~picked, shape_b), atol=1e-12
    )


# ---------------------------------------------------------------------- comparisons


@pytest.mark.parametrize(
    "op",
    ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"],
    ids=["==", "!=", "<", "<=", ">", ">="],
)
def test_comparisons_are_boolean_tensors_without_grad(op):
    rng = np.random.default_rng(0)
    a, b = (
        rng.integers(0, 3, (2, 3)).astype(np.float32),
        rng.integers(0, 3, (3,)).astype(np.float32),
    )
    x = sn.tensor(a, requires_grad=True)
    for other, other_array in [(sn.tensor(b), b), (1.0, 1.0), (b, b)]:
        result = getattr(x, op)(other)
        assert isinstance(result, sn.Tensor)
        assert result.dtype == np.bool_ and not result.requires_grad and result.is_leaf
        np.testing.assert_array_equal(result.numpy(), getattr(a, op)(other_array))


def test_reflected_comparisons():
    x = sn.tensor([0.0, 1.0, 2.0])
    assert (1.0 < x).tolist() == [False, False, True]
    assert (1.0 >= x).tolist() == [True, True, False]
    assert (np.float32(1.0) == x).tolist() == [False, True, False]


def test_comparisons_match_torch(torch):
    a = np.array([[0.0, 1.0, 2.0]])
    b = np.array([[1.0], [2.0]])
    for op in ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"]:
        ours = getattr(sn.tensor(a), op)(sn.tensor(b))
        theirs = getattr(torch.tensor(a), op)(torch.tensor(b))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_where_accepts_lists_and_scalars():
    x = sn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = sn.where([True, False, True], x, 0.0)
    assert y.tolist() == [1.0, 0.0, 3.0] and y.dtype == np.float32
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]
    assert sn.where(x > 1.5, 1.0, -1.0).tolist() == [-1.0, 1.0, 1.0]


@pytest.mark.parametrize("size", [50, 2**20 + 3])  # one thread, and split between threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_fast_kernels_match_reference(size, dtype):
    """The Numba ReLU equals the NumPy reference, also at 0, +-inf and NaN (which stays NaN)."""
    fast = pytest.importorskip(
        "scratchnet.kernels.numba_activation", reason="numba is not installed"
    )
    from scratchnet.ops import elementwise

    rng = np.random.default_rng(1)
    x = rng.standard_normal(size).astype(dtype)
    x[:5] = [0.0, -0.0, np.inf, -np.inf, np.nan]
    gy = rng.standard_normal(size).astype(dtype)
    y = fast.relu_forward(x)
    # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(y, elementwise.relu_forward(x))
    assert y[3] == 0 and np.isnan(y[4]) and y.dtype == dtype
    gx = fast.relu_backward(gy, y)
    np.testing.assert_array_equal(gx, elementwise.relu_backward(gy, y))
    # relu'(0) = 0; a NaN passes it, as in PyTorch
    assert gx[0] == 0 and gx[2] == gy[2] and gx[4] == gy[4]
    y4 = fast.relu_forward(x[: 2**4 * 3].reshape(2, 3, 2, 4))  # any shape, the same values
    np.testing.assert_array_equal(y4.ravel(), y[: 2**4 * 3])
