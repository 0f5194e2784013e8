"""In-place operations, version counters and the gradient-shape check (issue 13, part A).

Each case is run the PyTorch way and compared with PyTorch where it is installed: an in-place op
changes the tensor's own memory, is recorded in the graph, and backward refuses a saved array that
was changed since it was saved, with PyTorch's message.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import backend, nn, optim
from scratchnet.function import Function
from scratchnet.nn import functional as F

MODIFIED = "modified by an inplace operation"


# --------------------------------------------------------------- in place: same object, same memory


def test_augmented_assignment_changes_the_tensor_in_place():
    x = sn.tensor([1.0, 2.0, 4.0])
    alias, memory = x, x.array
    x += 1
    x -= sn.tensor([1.0, 1.0, 1.0])
    x *= 2
    x /= 4
    assert x is alias and x.array is memory and x._version == 4
    np.testing.assert_allclose(x.array, [0.5, 1.0, 2.0])


def test_inplace_methods_change_memory_and_count_versions():
    x = sn.tensor([-2.0, 0.5, 3.0])
    memory = x.array
    steps = [
        (lambda: x.add_(1, alpha=2), [0.0, 2.5, 5.0]),
        (lambda: x.sub_(1), [-1.0, 1.5, 4.0]),
        (lambda: x.mul_(2), [-2.0, 3.0, 8.0]),
        (lambda: x.div_(sn.tensor([2.0, 3.0, 4.0])), [-1.0, 1.0, 2.0]),
        (lambda: x.clamp_(-0.5, 1.5), [-0.5, 1.0, 1.5]),
        (lambda: x.relu_(), [0.0, 1.0, 1.5]),
        (lambda: x.masked_fill_(x > 1.2, 7.0), [0.0, 1.0, 7.0]),
        (lambda: x.copy_(sn.tensor([3.0, 2.0, 1.0])), [3.0, 2.0, 1.0]),
        (lambda: x.fill_(4.0), [4.0, 4.0, 4.0]),
        (lambda: x.__setitem__(1, 9.0), [4.0, 9.0, 4.0]),
        (lambda: x.zero_(), [0.0, 0.0, 0.0]),
    ]
    for version, (step, expected) in enumerate(steps, start=1):
        assert step() is x or step is steps[9][0]  # __setitem__ returns None
        assert x.array is memory and x._version == version
        np.testing.assert_allclose(x.array, expected)


def test_inplace_results_follow_pytorchs_casting_and_shape_rules():
    i = sn.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type int64"):
        i += 0.5
    i.fill_(2.7)  # a number takes the tensor's dtype, as torch.fill_ does
    assert i.tolist() == [2, 2, 2]
    with pytest.raises(RuntimeError, match=r"cannot change a tensor's shape"):
        sn.zeros(3).add_(sn.zeros(2, 3))


def test_a_leaf_that_requires_grad_changes_in_place_only_under_no_grad(torch):
    for lib in (sn, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(
            RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"
        ):
            w += 1
        with lib.no_grad():
            w += 1
        assert w.requires_grad and w.is_leaf and w.tolist() == [2.0, 3.0]


# ---------------------------------------------------------------------- in place inside a graph


def _grads(lib, build):
    x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    w = lib.tensor([2.0, 3.0, 0.5], requires_grad=True)
    out = build(x, w)
    (out * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return [None if t.grad is None else np.asarray(t.grad.tolist()) for t in (x, w)]


def _inplace_chain(x, w):  # the example, then more
    y = x * 2
    y += 1
    y.mul_(w)  # Mul needs y's old values for w's gradient: they are kept
    y.clamp_(-1.0, 5.0)
    y[0] = w[1] * 3
    y.masked_fill_(y < 0.5, 0.25)
    return y.relu_()  # Relu saves its output: changing y after this would be refused


def _read_before_the_change(x, w):
    """Ops that read y before an in-place change send their gradient to y's old values."""
    y = x * w
    before = y * 3 + y[2] * 2  # Mul and an index read y as it was
    y.add_(1)
    y[0] = y[1] * 4  # the value is read from y itself, before it is written
    after = y * 2
    y.relu_()
    return before + after + y


@pytest.mark.parametrize(
    "build",
    [
        _inplace_chain,
        _read_before_the_change,
        lambda x, w: F.relu(x * w, inplace=True) + x,
        lambda x, w: (x * 1).add_(w, alpha=2).sub_(x).div_(w),
        lambda x, w: (x * 3).copy_(w),
        lambda x, w: (
            sn.zeros(3).add_(w).mul_(x)
            if isinstance(x, sn.Tensor)
            else x.new_zeros(3).add_(w).mul_(x)
        ),
    ],
    ids=["chain", "read-before", "F.relu-inplace", "add-sub-div", "copy_", "into-a-constant"],
)
def test_inplace_ops_in_a_graph_give_pytorchs_gradients(build, torch):
    ours, theirs = _grads(sn, build), _grads(torch, build)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_next_functions_keep_the_edges_an_op_recorded_before_an_inplace_change():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    made_y, z = y.grad_fn, y * 3
    y.add_(1)  # y's grad_fn is now the Add; z read y before, from the Mul
    assert z.grad_fn.next_functions[0][0] is made_y
    assert y.grad_fn.next_functions[0][0] is made_y
    constant = sn.ones(2)
    product = constant * x
    constant.add_(x)  # did not require grad when the product read it: no edge
    assert product.grad_fn.next_functions[0] == (None, 0)


def test_inplace_relu_in_a_network_matches_pytorch(torch):
    net = nn.Sequential(
        nn.Linear(4, 5), nn.ReLU(inplace=True), nn.Linear(5, 2), nn.ReLU(inplace=True)
    )
    ref = torch.nn.Sequential(
        torch.nn.Linear(4, 5), torch.nn.ReLU(inplace=True), torch.nn.Linear(5, 2)
    )
    with torch.no_grad():
        for p, q in zip(net.parameters(), ref.parameters(), strict=True):
            q.copy_(torch.tensor(p.array))
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    hidden = net[0](sn.tensor(x))
    memory = hidden.array
    # overwritten
    assert net[1](hidden) is hidden and hidden.array is memory and hidden._version == 1
    net(sn.tensor(x)).sum().backward()
    ref(torch.tensor(x)).relu_().sum().backward()
    for p, q in zip(net.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- the version check


def _a_times_w(lib):
    a = lib.tensor([1.0, 2.0, 3.0])
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    return a, w, (a * w).sum()


def _setitem_on_saved(lib):
    a, _, loss = _a_times_w(lib)
    a[0] = 100
    return loss


def _zero_saved(lib):
    a, _, loss = _a_times_w(lib)
    a.zero_()
    return loss


def _no_grad_write_to_saved_intermediate(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 2
    loss = (h * h).sum()
    with lib.no_grad():
        h[1] = 5.0
    return loss


def _optimizer_step_between_forward_and_backward(lib):
    _, w, _ = _a_times_w(lib)
    loss = (w * w).sum()  # Mul saves w
    opt = (optim if lib is sn else lib.optim).SGD([w], lr=0.1)
    w.grad = lib.ones(3)
    opt.step()
    return loss


def _write_through_a_view(lib):
    a = lib.tensor([1.0, 2.0, 3.0, 4.0])
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    loss = (a[1:3] * w).sum()  # Mul saves the view a[1:3]
    a.view(2, 2)[1, 1] = 0.0  # another view of the same memory, elsewhere
    return loss


def _write_through_detach(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # Exp saves its output
    y.detach().zero_()
    return y.sum()


def _write_through_a_state_dict_value(lib):
    layer = lib.nn.Linear(2, 1)
    loss = (layer.weight * layer.weight).sum()  # Mul saves the weight
    layer.state_dict()["weight"].mul_(0.5)  # a detached view of the weight, as in PyTorch
    return loss


def _load_state_dict_between_forward_and_backward(lib):
    layer = lib.nn.Linear(2, 1)
    loss = (layer.weight * layer.weight).sum()
    layer.load_state_dict({"weight": lib.zeros(1, 2), "bias": lib.zeros(1)})  # copies in place
    return loss


@pytest.mark.parametrize(
    "case",
    [
        _setitem_on_saved,
        _zero_saved,
        _no_grad_write_to_saved_intermediate,
        _optimizer_step_between_forward_and_backward,
        _write_through_a_view,
        _write_through_detach,
        _write_through_a_state_dict_value,
        _load_state_dict_between_forward_and_backward,
    ],
)
def test_backward_refuses_an_array_changed_since_it_was_saved(case, torch):
    loss = case(torch)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()
    loss = case(sn)
    with pytest.raises(
        RuntimeError, match=MODIFIED + r".* is at version \d+; expected version \d+ instead"
    ):
        loss.backward()


def test_the_message_names_the_op_the_tensor_and_the_versions():
    loss = _setitem_on_saved(sn)
    with pytest.raises(RuntimeError) as error:
        loss.backward()
    message = str(error.value)
    assert "[Tensor of shape (3,), float32], input 0 of MulFunction (saved as `a`)" in message
    assert "is at version 1; expected version 0 instead" in message


def _changed_after_backward(lib):
    a, w, loss = _a_times_w(lib)
    loss.backward()
    a.zero_()
    assert a._version == 1
    return w.grad


def _not_saved(lib):
    a, w = lib.tensor([1.0, 2.0, 3.0]), lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (a + w).sum()  # Add saves neither input
    a.zero_()
    assert a._version == 1
    loss.backward()
    return w.grad


def _output_not_needed(lib):
    a, w = lib.tensor([1.0, 2.0, 3.0]), lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * w  # Mul does not need its output
    loss = (y * 2).sum()
    with lib.no_grad():
        y.zero_()
    assert y._version == 1
    loss.backward()
    return w.grad


def _zero_grad_and_data(lib):
    _, w, loss = _a_times_w(lib)
    opt = (optim if lib is sn else lib.optim).SGD([w], lr=0.1)
    opt.zero_grad()
    w.data[0] = 7.0  # .data is behind autograd's back, in both libraries
    assert w._version == 0
    loss.backward()
    return w.grad


@pytest.mark.parametrize(
    "case", [_changed_after_backward, _not_saved, _output_not_needed, _zero_grad_and_data]
)
def test_changes_backward_does_not_read_are_fine(case, torch):
    np.testing.assert_allclose(np.asarray(case(sn).tolist()), np.asarray(case(torch).tolist()))


def test_views_share_the_version_counter_and_data_does_not():
    a = sn.tensor([[1.0, 2.0], [3.0, 4.0]])
    views = [a[0], a.reshape(4), a.T, a.detach()]
    a.add_(1)
    views[0][1] = 0.0
    assert [v._version for v in views] == [2, 2, 2, 2] and a._version == 2
    assert views[0]._base is a and views[1]._base is a
    a.array[0, 0] = 5.0  # the raw array: not counted
    a.data[0, 1] = 6.0  # nor through .data, which has its own counter (as in PyTorch)
    assert a._version == 2


def test_the_check_holds_with_fast_and_reference_kernels():
    def relu_then_write():
        x = sn.tensor(np.linspace(-1, 1, 8, dtype=np.float32), requires_grad=True)
        y = (x * 2).relu()  # Relu saves its output (a Numba kernel's array by default)
        y += 1
        return y.sum()

    assert backend.fast_kernels_enabled() or True
    with pytest.raises(RuntimeError, match="output 0 of ReluFunction"):
        relu_then_write().backward()
    with backend.reference_kernels(), pytest.raises(RuntimeError, match="output 0 of ReluFunction"):
        relu_then_write().backward()


# -------------------------------------------------------- manual updates, as in PyTorch's tutorials


def test_learning_pytorch_with_examples_manual_sgd_converges_like_torch(torch):
    """The polynomial fit of sin(x) from PyTorch's "Learning PyTorch with Examples", 300 steps."""
    x_np = np.linspace(-math.pi, math.pi, 2000)
    start = np.random.default_rng(0).standard_normal(4)
    losses = {}
    for lib in (sn, torch):
        x, y = lib.tensor(x_np), lib.tensor(np.sin(x_np))
        a, b, c, d = (lib.tensor(v, requires_grad=True) for v in start)
        for _ in range(300):
            y_pred = a + b * x + c * x**2 + d * x**3
            loss = ((y_pred - y) ** 2).sum()
            loss.backward()
            with lib.no_grad():
                for p in (a, b, c, d):
                    p -= 1e-6 * p.grad
                    p.grad = None
        losses[lib.__name__] = (loss.item(), [p.item() for p in (a, b, c, d)])
    assert (
        losses["scratchnet"][0] < 0.2 * ((np.polyval(start[::-1], x_np) - np.sin(x_np)) ** 2).sum()
    )
    np.testing.assert_allclose(losses["scratchnet"][0], losses["torch"][0], rtol=1e-9)
    np.testing.assert_allclose(losses["scratchnet"][1], losses["torch"][1], rtol=1e-9)


def test_linear_regression_with_data_and_inplace_updates_matches_torch(torch):
    rng = np.random.default_rng(2)
    inputs = rng.standard_normal((32, 3)).astype(np.float32)
    targets = inputs @ np.array([[1.5], [-2.0], [0.5]], dtype=np.float32) + 0.3
    results = {}
    for lib in (sn, torch):
        model = (nn if lib is sn else lib.nn).Linear(3, 1)
        with lib.no_grad():
            model.weight.copy_(lib.tensor([[0.1, 0.2, 0.3]]))
            model.bias.fill_(0.0)
        for step in range(100):
            loss = ((model(lib.tensor(inputs)) - lib.tensor(targets)) ** 2).mean()
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                if step % 2:
                    with lib.no_grad():
                        p -= 0.1 * p.grad
                else:
                    p.data -= 0.1 * p.grad  # the older idiom, behind autograd's back
        results[lib.__name__] = loss.item()
    assert results["scratchnet"] < 1e-4
    np.testing.assert_allclose(results["scratchnet"], results["torch"], rtol=1e-3, atol=1e-7)


def test_nn_init_writes_in_place_and_counts_a_version():
    layer = nn.Linear(3, 2)
    memory, version = layer.weight.array, layer.weight._version
    nn.init.kaiming_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    assert layer.weight.array is memory and layer.weight._version == version + 1
    x = sn.randn(4, 3)
    loss = (layer.weight * layer.weight).sum() + (x @ layer.weight.T).sum()
    nn.init.normal_(layer.weight)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


# ---------------------------------------------------------------------- the gradient-shape check


class _WrongShape(Function):
    def forward(self, x):
        return x.sum(axis=0)

    def backward(self, gy):
        return gy  # forgot to broadcast back to x's shape


class _WrongCount(Function):
    def forward(self, x, w):
        return x * w

    def backward(self, gy):
        return gy


class _ReturnsATensor(Function):
    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return sn.Tensor(2 * gy)


class _NoGradient(Function):
    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return None  # PyTorch's convention: None is a zero gradient


def test_function_checks_the_gradients_backward_returns():
    x = sn.randn(4, 3, requires_grad=True)
    w = sn.randn(4, 3, requires_grad=True)
    wrong_shape = (
        r"_WrongShape.backward returned a gradient of shape \(3,\) for input 0 of shape \(4, 3\)"
    )
    with pytest.raises(RuntimeError, match=wrong_shape):
        _WrongShape()(x).sum().backward()
    with pytest.raises(
        RuntimeError, match=r"_WrongCount.backward returned 1 gradient\(s\) for 2 input\(s\)"
    ):
        _WrongCount()(x, w).sum().backward()
    with pytest.raises(TypeError, match=r"_ReturnsATensor\.backward returned a Tensor for input 0"):
        _ReturnsATensor()(x).sum().backward()
    _NoGradient()(x).sum().backward()
    assert x.grad is None


# ---------------------------------------------------------- random in-place sequences against torch

# One step of a small graph on h (the current tensor), x and w (leaves), and nodes (earlier values).
STEPS = [
    "mul_w",
    "add_1",
    "exp",
    "sigmoid",
    "relu",
    "square",  # out of place
    "iadd",
    "imul_w",
    "relu_",
    "clamp_",
    "div_w",
    "masked_fill_",
    "iadd_self",
    "imul_self",  # in place
    "write_saved",
    "setitem_saved",
    "setitem",
    "leaf_add_",  # writes to saved tensors, setitem, a leaf
]


def _run_steps(lib, steps, x_np, w_np):
    x = lib.tensor(x_np, requires_grad=True)
    w = lib.tensor(w_np, requires_grad=True)
    h, nodes = x * 1.5, []
    for i, (step, k) in enumerate(steps):
        nodes.append(h)
        earlier = nodes[k % len(nodes)]
        if step == "mul_w":
            h = h * w
        elif step == "add_1":
            h = h + 1
        elif step == "exp":
            h = (h * 0.3).exp()
        elif step == "sigmoid":
            h = h.sigmoid()
        elif step == "relu":
            h = h.relu()
        elif step == "square":
            h = h * h
        elif step == "iadd":
            h += 0.25
        elif step == "imul_w":
            h *= w
        elif step == "relu_":
            h.relu_()
        elif step == "clamp_":
            # new bounds every step: never exactly at a bound
            h.clamp_(-1.0 - 0.13 * i, 1.0 + 0.17 * i)
        elif step == "div_w":
            h.div_(w)
        elif step == "masked_fill_":
            h.masked_fill_(h > 0.7, 0.375)
        elif step == "iadd_self":
            h += h
        elif step == "imul_self":
            h *= h
        elif step == "write_saved":
            with lib.no_grad():
                earlier.mul_(1.25)
        elif step == "setitem_saved":
            with lib.no_grad():
                earlier[k % 3] = 0.5
        elif step == "setitem":
            h[k % 3] = w[(k + 1) % 3] * 2
        elif step == "leaf_add_":
            x.add_(1)
    (h * lib.tensor([1.0, -2.0, 0.5], dtype=h.dtype)).sum().backward()
    return [np.zeros(3) if t.grad is None else np.asarray(t.grad.tolist()) for t in (x, w)]


def _outcome(lib, steps, x_np, w_np):
    try:
        return _run_steps(lib, steps, x_np, w_np)
    except RuntimeError as error:
        return error


@settings(max_examples=60)
@given(
    steps=st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 5)), min_size=1, max_size=6),
    x=st.lists(st.floats(-2, 2).filter(lambda v: abs(v) > 0.05), min_size=3, max_size=3),
    w=st.lists(st.floats(0.5, 2), min_size=3, max_size=3),
)
def test_random_inplace_sequences_match_torch_or_raise_where_torch_raises(steps, x, w):
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed: cross-checks against torch skipped"
    )
    x_np, w_np = np.array(x), np.array(w)
    ours, theirs = _outcome(sn, steps, x_np, w_np), _outcome(torch, steps, x_np, w_np)
    if isinstance(theirs, RuntimeError):
        assert isinstance(ours, RuntimeError), (
            f"torch raised {theirs!s:.120} but scratchnet did not"
        )
        return
    assert not isinstance(ours, RuntimeError), f"scratchnet raised {ours} but torch did not"
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "variant", ["original", "bn_after_add", "relu_before_add", "relu_preact", "full_preact"]
)
def test_resnet_units_with_inplace_relu_compute_what_they_computed_out_of_place(variant):
    """The (d) unit starts its branch with ReLU on x,
    which the shortcut still needs: not in place."""
    from scratchnet.models.resnet import BasicBlock, Bottleneck

    for block in (BasicBlock(8, 8, variant=variant), Bottleneck(8, 2, variant=variant)):
        x = sn.randn(2, 8, 5, 5, requires_grad=True)
        h = x * 1.0  # a non-leaf, as a block's input in a network
        out = block(h)
        out.sum().backward()
        block.relu.inplace = False
        x2 = sn.tensor(x.array, requires_grad=True)
        expected = block(x2 * 1.0)
        expected.sum().backward()
        np.testing.assert_allclose(out.array, expected.array, rtol=1e-6)
        np.testing.assert_allclose(x.grad.array, x2.grad.array, rtol=1e-5, atol=1e-6)


def test_inplace_on_a_view_in_a_graph_or_a_broadcast_view_is_refused():
    x = sn.randn(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="is a view of another tensor"):
        y[0].add_(1)  # PyTorch re-records y; scratchnet refuses rather than give y a wrong gradient
    a = sn.zeros(2, 3)
    with pytest.raises(RuntimeError, match="is a view of another tensor"):
        a[0].add_(x[0])  # a would hold values that depend on x with no graph to say so
    a[0].add_(1.0)  # no graph involved: fine, and counted for a too
    assert a._version == 1 and a.tolist()[0] == [1.0, 1.0, 1.0]
    wide = sn.ones(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        wide.add_(1)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        wide[0, 0] = 5.0


def test_a_refused_inplace_op_leaves_the_graph_as_it_was():
    x = sn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="cannot change a tensor's shape"):
        y += sn.ones(2, 3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, [2.0, 2.0, 2.0])
