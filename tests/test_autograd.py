"""The backward walk: accumulation, retain_graph, no_grad,
requires_grad propagation, deep graphs, dtypes."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.function import Function


def test_reused_tensor_accumulates_gradient():
    x = sn.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()  # d(x^2)/dx = 2x: both uses of x send a gradient
    assert x.grad.tolist() == [2.0, -4.0, 6.0]


def test_residual_add_sends_gradient_down_both_branches():
    x = sn.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x.relu() * 3.0 + x  # y = f(x) + x, a ResNet block's skip connection
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 1.0, 4.0]


def test_diamond_graph():
    x = sn.tensor(2.0, requires_grad=True)
    a, b = x * 3.0, x.exp()
    y = a * b + a  # x reaches y along three paths
    y.backward()
    assert np.isclose(x.grad.item(), 3 * np.exp(2) + 3 * 2 * np.exp(2) + 3)


def test_leaf_gradients_accumulate_across_backward_calls():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    x.grad = None  # what an optimizer's zero_grad() does
    (x * 4.0).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]


def _held_gradient(lib):
    """A .grad kept by the user (a logger, a list of gradients) across backward and zero_grad."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    h.retain_grad()  # a retained non-leaf gradient is replaced, not added to in place
    loss = (h * 2).sum()
    loss.backward(retain_graph=True)
    held, held_h = x.grad, h.grad
    loss.backward()
    after_second = [held is x.grad, held.tolist(), held_h is h.grad, held_h.tolist()]
    optimizer = lib.optim.SGD([x], lr=0.1)
    optimizer.zero_grad(set_to_none=False)
    after_zero = [held is x.grad, held.tolist()]
    layer = lib.nn.Linear(2, 1)
    layer(x).sum().backward()
    held_weight = layer.weight.grad
    layer.zero_grad(set_to_none=False)
    return after_second, after_zero, [held_weight is layer.weight.grad, held_weight.tolist()]


def _shared_gradient_array(lib):
    """x + w sends one array to x and to w; x then gets more before w's gradient is read."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w, a = x * 1, x * 2  # a's Mul runs before w's: it adds into x.grad while w still waits
    ((x + w) * lib.tensor([3.0, 5.0])).sum().add(a.sum()).backward()
    return x.grad.tolist()


def _gradient_returned_from_saved_memory(lib):
    """A custom backward that returns a saved tensor as it is: the .grad must not be that tensor."""

    class TimesY(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(y)
            return x * y

        @staticmethod
        def backward(ctx, grad_output):
            (y,) = ctx.saved_tensors
            return y, None  # d(x * y).sum() / dx, valid for a sum only

    x, y = lib.tensor([1.0, 2.0], requires_grad=True), lib.tensor([3.0, 4.0])
    loss = TimesY.apply(x, y).sum()
    loss.backward(retain_graph=True)
    with lib.no_grad():
        x.grad.mul_(10)  # what gradient clipping or an optimizer may do to a .grad
    loss.backward()
    return x.grad.tolist(), y.tolist()


def test_a_leaf_gradient_accumulates_and_zeroes_in_place_as_in_torch(torch):
    assert _held_gradient(sn) == _held_gradient(torch)
    assert _shared_gradient_array(sn) == _shared_gradient_array(torch) == [8.0, 12.0]
    expected = ([33.0, 44.0], [3.0, 4.0])
    assert _gradient_returned_from_saved_memory(sn) == _gradient_returned_from_saved_memory(torch)
    assert _gradient_returned_from_saved_memory(sn) == expected


def test_gradient_arrays_are_never_shared_or_read_only():
    """An add sends one array to both inputs and a sum a read-only broadcast view: each leaf must
    still own a writable .grad, or an optimizer changing one .grad in place would corrupt
    another."""
    a, b = sn.randn(2, 3, requires_grad=True), sn.randn(2, 3, requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.array, b.grad.array)
    assert a.grad.array.flags.writeable and a.grad.array.flags.c_contiguous
    with sn.no_grad():
        a.grad.array *= 2
    assert b.grad.tolist() == [[1.0] * 3] * 2
    g = np.ones((2, 3), np.float32)
    c = sn.randn(2, 3, requires_grad=True)
    c.backward(g)  # a leaf root: its grad must not be the caller's array either
    g[0, 0] = 7.0
    assert c.grad.array[0, 0] == 1.0


def test_retain_graph_allows_a_second_backward():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]


def test_second_backward_without_retain_graph_raises():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"a second time.*retain_graph=True"):
        y.backward()


def test_shared_subgraph_is_freed_by_the_first_backward():
    x = sn.tensor([1.0], requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="Exp a second time"):
        (h * 2.0).sum().backward()


def test_backward_frees_saved_arrays():
    x = sn.randn(3, requires_grad=True)
    y = x * x
    function = y.creator
    assert function.a is not None
    y.sum().backward()
    assert function.freed and function.inputs is None and not hasattr(function, "a")


def test_no_grad_context_and_decorator():
    x = sn.tensor([1.0], requires_grad=True)
    with sn.no_grad():
        y = x * 2
        assert not sn.is_grad_enabled()
    assert sn.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y.creator is None

    @sn.no_grad()
    def evaluate(t):
        return t * 2

    z = evaluate(x)
    assert not z.requires_grad and sn.is_grad_enabled()


def test_no_grad_decorator_on_a_recursive_function():
    @sn.no_grad()
    def depth(n):
        assert not sn.is_grad_enabled()
        return depth(n - 1) + 1 if n else 0

    assert depth(3) == 3
    # the outermost call restores the mode, not the innermost's saved value
    assert sn.is_grad_enabled()

    @sn.enable_grad()
    def inner(n):
        return inner(n - 1) if n else sn.is_grad_enabled()

    with sn.no_grad():
        assert inner(2)
        assert not sn.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = sn.tensor([1.0], requires_grad=True)
    with sn.no_grad():
        with sn.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not y.is_leaf and not z.requires_grad


def test_no_grad_restores_state_after_an_exception():
    with pytest.raises(ValueError), sn.no_grad():
        raise ValueError
    assert sn.is_grad_enabled()


def test_requires_grad_propagates_like_pytorch():
    a = sn.tensor([1.0, 2.0], requires_grad=True)
    b = sn.tensor([3.0, 4.0])
    assert (a + b).requires_grad and (b + a).requires_grad and (a * 2).requires_grad
    assert not (b * 2).requires_grad and (b * 2).is_leaf
    assert a.is_leaf and not (a + b).is_leaf and b.is_leaf
    assert (a + b).grad_fn is not None and (b * 2).grad_fn is None
    values, indices = a.max(0)
    assert values.requires_grad and not indices.requires_grad  # integer outputs never need grad
    assert not (a > b).requires_grad
    assert not a.long().requires_grad and a.double().requires_grad


def test_requires_grad_flag_methods():
    x = sn.zeros(3)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = sn.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_a_fresh_weight_gradient_is_kept_without_a_copy():
    """The weight gradient a linear layer's backward makes is nobody else's: it becomes .grad as it
    is. A copy would double the memory of every weight gradient (392 MiB for VGG16's first FC
    layer)."""
    import tracemalloc

    x = sn.randn(4, 1024)
    w = sn.randn(2048, 1024, requires_grad=True)  # 8 MiB of float32
    y = sn.nn.functional.linear(x, w).sum()
    tracemalloc.start()
    y.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert w.grad.shape == (2048, 1024)
    assert peak < 1.5 * w.array.nbytes  # the gradient once, not twice


def test_detach_cuts_the_graph_and_shares_memory():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.array, y.array)
    (d * x).sum().backward()  # no gradient through d
    assert x.grad.tolist() == [2.0, 4.0]


def test_retain_grad_on_non_leaves():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    y = h * h
    y.retain_grad()
    y.sum().backward()
    assert h.grad.tolist() == [6.0, 12.0] and y.grad.tolist() == [1.0, 1.0]
    assert x.grad.tolist() == [18.0, 36.0]
    z = x * 3.0
    z.sum().backward()
    assert z.grad is None  # non-leaves keep no .grad unless asked


def test_backward_with_explicit_gradient():
    x = sn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.backward(sn.tensor([1.0, 0.0, -1.0]))
    assert x.grad.tolist() == [2.0, 0.0, -2.0]
    z = sn.tensor([1.0, 2.0], requires_grad=True)
    (z * 1.0).backward([0.5, 0.25])  # a list works too, in the tensor's dtype
    assert z.grad.tolist() == [0.5, 0.25] and z.grad.dtype == np.float32


def test_backward_on_one_element_tensors_and_leaves():
    x = sn.tensor([[2.0]], requires_grad=True)
    (x * 3).backward()  # a single element needs no gradient argument
    assert x.grad.tolist() == [[3.0]]
    leaf = sn.tensor(5.0, requires_grad=True)
    leaf.backward()
    assert leaf.grad.item() == 1.0


def test_deep_chain_has_no_recursion_limit():
    x = sn.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert np.isclose(x.grad.item(), 1.0001**5000, rtol=1e-3)
    for _ in range(5000):
        y = y * 1.0
    del y  # dropping a 5,000-deep graph that never ran backward must not overflow the stack either
    gc.collect()


def test_deep_residual_chain():
    # y_{k+1} = y_k + 0.001 tanh(y_k), 2,000 times: dy_{k+1}/dy_k = 1 + 0.001 (1 - tanh^2 y_k), so
    # dy/dx is the product of the 2,000 factors, computed here by hand alongside the forward.
    x0 = np.array([0.1, -0.2])
    x = sn.tensor(x0, requires_grad=True, dtype=sn.float64)
    y, y_hand, slope = x, x0.copy(), np.ones(2)
    for _ in range(2000):
        y = y + 0.001 * y.tanh()
        slope *= 1 + 0.001 * (1 - np.tanh(y_hand) ** 2)
        y_hand = y_hand + 0.001 * np.tanh(y_hand)
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), y_hand)  # the same float64 operations, in order
    np.testing.assert_allclose(x.grad.numpy(), slope, rtol=1e-12)
    assert slope.min() > 1.2  # not a trivial product: the chain amplifies the gradient


def test_identity_residual_chain_passes_gradient_exactly():
    # Residual branches that output zero: every unit is the identity, y = x after 2,000 of them,
    # and the gradient comes back through 2,000 additions as exactly 1 (He et al. 2016, eq. 5).
    x = sn.tensor([0.1, -0.2, 3.0], requires_grad=True, dtype=sn.float64)
    y = x
    for _ in range(2000):
        y = y + 0.0 * y.tanh()
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))


def test_backward_order_is_deterministic():
    """Functions run latest generation first, ties broken by creation order (latest first)."""
    calls = []

    class Tap(Function):
        def __init__(self, name):
            self.tag = name

        def forward(self, x):
            return x.copy()

        def backward(self, gy):
            calls.append(self.tag)
            return gy

    def run():
        calls.clear()
        x = sn.tensor([1.0], requires_grad=True)
        a, b = Tap("a")(x), Tap("b")(x)
        c = Tap("c")(a)
        (c + b + Tap("d")(a)).sum().backward()
        return list(calls)

    first = run()
    assert first == run() == run()
    assert first.index("c") < first.index("a") and first.index("d") < first.index("a")


def test_a_function_runs_once_after_all_its_consumers():
    counts = {"n": 0}

    class Count(Function):
        def forward(self, x):
            return x.copy()

        def backward(self, gy):
            counts["n"] += 1
            return gy

    x = sn.tensor([1.0], requires_grad=True)
    h = Count()(x)
    (h * 2 + h.exp() + h * h).sum().backward()
    assert counts["n"] == 1
    assert np.isclose(x.grad.item(), 2 + np.e + 2)


def test_graph_is_released_when_the_output_goes():
    x = sn.randn(3, requires_grad=True)
    y = x.exp() * 2
    function = weakref.ref(y.creator)
    del y
    gc.collect()
    assert function() is None  # no reference cycle keeps the graph alive


def test_float32_by_default_and_float64_end_to_end():
    assert sn.tensor([1.0, 2.0]).dtype == np.float32
    assert sn.randn(2).dtype == np.float32 and sn.zeros(2).dtype == np.float32
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = ((x * 2.0 + 1) ** 2 / 3.0 - 0.5).exp().log().sigmoid().mean()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32

    w = sn.tensor([1.0, 2.0], dtype=sn.float64, requires_grad=True)
    z = ((w * 2.0 + 1) ** 2 / 3.0).tanh().sum()
    assert z.dtype == np.float64
    z.backward()
    assert w.grad.dtype == np.float64


def test_cast_is_differentiable():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 3.0]
    assert x.to(sn.float32) is x and x.float() is x


def test_detect_anomaly_names_the_op():
    x = sn.tensor([-1.0, 1.0], requires_grad=True)
    with (
        pytest.raises(FloatingPointError, match="Log produced NaN"),
        sn.detect_anomaly(),
        np.errstate(invalid="ignore"),
    ):
        x.log()


def test_import_loads_neither_cupy_torch_nor_numba():
    code = (
        "import sys, scratchnet\n"
        "x = scratchnet.randn(2, 3, requires_grad=True)\n"
        "(x * 2).sum().backward()\n"
        "loaded = [m for m in ('cupy', 'torch', 'numba') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


GRAPHS = {
    "shared add": lambda a, b, c: (a + b) + (b + c),
    "add of one tensor to itself": lambda a, b, c: (a + a) * c,
    "linear": lambda a, b, c: sn.nn.functional.linear(a, b, c[0, :2]),
    "broadcast and reshape": lambda a, b, c: (a.reshape(3, 2) * c[0, :2]).T + b.T.reshape(2, 3).T.T,
    "concat and index": lambda a, b, c: sn.cat([a, b, c], dim=0)[1:5] * 2.0,
    "retained middle": lambda a, b, c: _retained(a * 1.0) + a + b + c,
}


_RETAINED: list = []


def _retained(t):
    t.retain_grad()
    _RETAINED.append(t)
    return t


@pytest.mark.parametrize("name", list(GRAPHS))
def test_every_gradient_is_its_own_writable_array(name):
    """Gradients that are handed over without a copy are never shared: between leaves, with a
    retained non-leaf, or with the caller's seed; changing one in place changes nothing else."""
    rng = np.random.default_rng(0)
    leaves = [
        sn.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
        for _ in range(3)
    ]
    _RETAINED.clear()
    out = GRAPHS[name](*leaves)
    seed = rng.standard_normal(out.shape).astype(np.float32)
    seed_before = seed.copy()
    out.backward(seed)
    grads = [t.grad.array for t in leaves if t.grad is not None]
    grads += [t.grad.array for t in _RETAINED]
    for i, g in enumerate(grads):
        assert g.flags.writeable and not np.shares_memory(g, seed)
        for other in grads[i + 1 :]:
            assert not np.shares_memory(g, other)
    before = [g.copy() for g in grads]
    grads[0] += 1.0
    for g, b in zip(grads[1:], before[1:], strict=True):
        np.testing.assert_array_equal(g, b)
    np.testing.assert_array_equal(seed, seed_before)
