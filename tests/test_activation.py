"""relu6, leaky_relu, softmax, log_softmax, dropout:
gradients, conventions at the kinks, stability, PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.nn import functional as F
from scratchnet.ops.activation import dropout, leaky_relu, log_softmax, relu6, softmax


def _off_kinks(shape, kinks=(0.0,), seed=0, scale=4.0):
    """Random float64 values at least 0.05 away from
    every kink (finite differences straddle none)."""
    x = np.random.default_rng(seed).uniform(-scale, scale + 4, size=shape)
    for kink in kinks:
        near = np.abs(x - kink) < 0.05
        x[near] += 0.1
    return sn.tensor(x, requires_grad=True)


def test_gradcheck_relu6():
    assert sn.gradcheck(relu6, [_off_kinks((4, 5), kinks=(0.0, 6.0))])


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_gradcheck_leaky_relu(slope):
    assert sn.gradcheck(lambda x: leaky_relu(x, slope), [_off_kinks((4, 5))])


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("op", [softmax, log_softmax])
def test_gradcheck_softmax(op, dim):
    x = sn.tensor(np.random.default_rng(1).standard_normal((3, 4, 5)), requires_grad=True)
    assert sn.gradcheck(lambda x: op(x, dim=dim), [x])


def test_conventions_at_the_kinks(torch):
    values = np.array([-1.0, 0.0, 3.0, 6.0, 7.0])
    cases = [
        (relu6, torch.nn.functional.relu6),
        (lambda t: leaky_relu(t, 0.1), lambda t: torch.nn.functional.leaky_relu(t, 0.1)),
    ]
    for ours, theirs in cases:
        x = sn.tensor(values, requires_grad=True)
        tx = torch.tensor(values, requires_grad=True)
        ours(x).sum().backward()
        theirs(tx).sum().backward()
        np.testing.assert_array_equal(x.grad.array, tx.grad.numpy())


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float32, 1e-4), (np.float64, 1e-10)])
def test_matches_torch(torch, dtype, rtol):
    rng = np.random.default_rng(2)
    data = (rng.standard_normal((4, 6)) * 5).astype(dtype)
    g = rng.standard_normal((4, 6)).astype(dtype)
    tf = torch.nn.functional
    cases = [
        (relu6, tf.relu6),
        (lambda x: leaky_relu(x, 0.3), lambda x: tf.leaky_relu(x, 0.3)),
        (lambda x: softmax(x, dim=1), lambda x: tf.softmax(x, dim=1)),
        (lambda x: softmax(x, dim=0), lambda x: tf.softmax(x, dim=0)),
        (lambda x: log_softmax(x, dim=1), lambda x: tf.log_softmax(x, dim=1)),
        (lambda x: log_softmax(x, dim=-2), lambda x: tf.log_softmax(x, dim=-2)),
    ]
    for ours, theirs in cases:
        x = sn.tensor(data, requires_grad=True)
        tx = torch.tensor(data, requires_grad=True)
        y, ty = ours(x), theirs(tx)
        y.backward(g)
        ty.backward(torch.tensor(g))
        assert y.dtype == dtype and x.grad.dtype == dtype
        np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=rtol, atol=rtol)
        np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=rtol, atol=rtol)


def test_softmax_is_stable_for_huge_logits(torch):
    # exp(1e4) overflows even in float64; the max-subtraction makes it harmless.
    data = np.array(
        [[1e4, 0.0, -1e4], [-1e4, -1e4 + 1, 1e4 - 2], [1e4, 1e4, 1e4]], dtype=np.float32
    )
    x = sn.tensor(data, requires_grad=True)
    p = softmax(x, dim=1)
    logp = log_softmax(x, dim=1)
    assert np.isfinite(p.array).all() and np.isfinite(logp.array).all()
    np.testing.assert_allclose(p.array.sum(axis=1), 1, rtol=1e-6)
    expected = torch.nn.functional.log_softmax(torch.tensor(data), dim=1).numpy()
    np.testing.assert_allclose(logp.array, expected, rtol=1e-6)
    assert logp.array[0, 2] == pytest.approx(-2e4)  # finite, where log(softmax) would give -inf
    logp.backward(np.ones_like(data))
    tx = torch.tensor(data, requires_grad=True)
    torch.nn.functional.log_softmax(tx, dim=1).backward(torch.ones(data.shape))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_softmax_needs_a_dim():
    with pytest.raises(ValueError, match=r"pass dim explicitly.*\(2, 3\)"):
        softmax(sn.randn(2, 3))
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        log_softmax(sn.randn(2, 3), dim=2)


# --------------------------------------------------------------------------- dropout


def test_integer_inputs_are_refused_as_in_torch(torch):
    # PyTorch: "not implemented for 'Long'". scratchnet computed them: softmax in float64, and
    # leaky_relu's and dropout's scaled values truncated back to integers by dropout.
    x = np.arange(-6, 6).reshape(3, 4)  # int64
    ops = [
        ("softmax", {"dim": 1}),
        ("log_softmax", {"dim": 1}),
        ("leaky_relu", {"negative_slope": 0.5}),
        ("dropout", {"p": 0.5}),
    ]
    for name, kwargs in ops:
        with pytest.raises((RuntimeError, NotImplementedError)):
            getattr(torch.nn.functional, name)(torch.tensor(x), **kwargs)
        with pytest.raises(TypeError, match=rf"{name}\(\): input of dtype int64"):
            getattr(F, name)(sn.tensor(x), **kwargs)
    assert F.dropout(sn.tensor(x), 0.5, training=False).dtype == np.int64  # the identity: allowed


def test_dropout_mask_statistics_and_scale():
    p = 0.3
    x = sn.ones(200, 500)
    y = dropout(x, p=p, training=True).array
    dropped = (y == 0).mean()
    # Binomial(100000, 0.3): standard deviation of the fraction ~0.0014; allow 5 of them.
    assert abs(dropped - p) < 0.007
    # inverted dropout: kept units scaled up
    np.testing.assert_allclose(y[y != 0], 1 / (1 - p), rtol=1e-6)
    assert abs(y.mean() - 1) < 0.01  # the expected value is preserved


def test_dropout_gradient_is_the_mask():
    x = sn.randn(50, 40, requires_grad=True)
    y = dropout(x, p=0.5)
    g = np.random.default_rng(3).standard_normal(x.shape).astype(np.float32)
    y.backward(g)
    mask = y.array / x.array  # 0 or 2
    np.testing.assert_allclose(x.grad.array, g * mask, rtol=1e-5)


def test_dropout_gradcheck_with_a_fixed_seed():
    x = sn.tensor(np.random.default_rng(4).standard_normal((6, 7)), requires_grad=True)

    def fn(x):
        sn.manual_seed(123)  # the same mask on every call of the finite differences
        return dropout(x, p=0.4)

    assert sn.gradcheck(fn, [x])


def test_dropout_is_reproducible_with_a_seed():
    x = sn.ones(10, 10)
    sn.manual_seed(7)
    a = dropout(x, 0.5).array
    sn.manual_seed(7)
    b = dropout(x, 0.5).array
    np.testing.assert_array_equal(a, b)


def test_dropout_edge_cases():
    x = sn.randn(4, 5, requires_grad=True)
    assert dropout(x, 0.5, training=False) is x  # eval: the identity
    assert dropout(x, 0.0) is x
    np.testing.assert_array_equal(dropout(x, 1.0).array, 0)
    assert dropout(x.detach().to(np.float64), 0.5).dtype == np.float64
    with pytest.raises(ValueError, match=r"\[0, 1\], got 1.5"):
        dropout(x, 1.5)


def test_dropout_module_train_and_eval():
    layer = nn.Dropout(0.5)
    x = sn.ones(20, 20)
    assert (layer(x).array == 0).any()
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match=r"got -0\.1"):
        nn.Dropout(-0.1)


def test_activation_modules_and_functional_names():
    x = sn.tensor(np.linspace(-8, 8, 12).reshape(3, 4), requires_grad=True)
    pairs = [
        (nn.ReLU(), F.relu(x)),
        (nn.ReLU(inplace=True), F.relu(x.detach().clone(), inplace=True)),
        (nn.ReLU6(), F.relu6(x)),
        (nn.LeakyReLU(0.2), F.leaky_relu(x, 0.2)),
        (nn.Sigmoid(), F.sigmoid(x)),
        (nn.Tanh(), F.tanh(x)),
        (nn.Softmax(dim=1), F.softmax(x, dim=1)),
        (nn.LogSoftmax(dim=0), F.log_softmax(x, dim=0)),
    ]
    for module, expected in pairs:
        # a leaf that requires grad may not
        overwrites = isinstance(module, nn.ReLU) and module.inplace
        np.testing.assert_array_equal(
            module(x.detach().clone() if overwrites else x).array, expected.array
        )


def test_inplace_relu6_leaky_relu_and_dropout_overwrite_their_input_as_pytorch(torch):
    # inplace=True was accepted and ignored: y + h below silently saw the old h.
    values = np.linspace(-8, 8, 12).reshape(3, 4)
    for name, kwargs in [("relu6", {}), ("leaky_relu", {"negative_slope": 0.2})]:
        results = []
        for lib, functional in ((sn, F), (torch, torch.nn.functional)):
            w = lib.tensor(values, requires_grad=True)
            h = w * 2
            y = getattr(functional, name)(h, inplace=True, **kwargs)
            (y + h).sum().backward()  # h is y now
            results.append((y is h, h.detach().numpy(), w.grad.numpy()))
        ours, theirs = results
        assert ours[0] and theirs[0], name
        np.testing.assert_allclose(ours[1], theirs[1])
        np.testing.assert_allclose(ours[2], theirs[2])
    x = sn.ones(200)
    assert F.dropout(x, 0.5, training=True, inplace=True) is x
    assert set(np.unique(x.array)) == {0.0, 2.0}  # x itself dropped and rescaled
    layers = [nn.ReLU6(inplace=True), nn.LeakyReLU(0.1, inplace=True), nn.Dropout(inplace=True)]
    for module in layers:
        x = sn.tensor([-1.0, 7.0])
        assert module(x) is x and x._version == 1, module


def test_inplace_relu_overwrites_its_input_as_pytorch():
    x = sn.tensor([-1.0, 2.0])
    memory = x.array
    y = nn.ReLU(inplace=True)(x)
    assert y is x and x.array is memory and x._version == 1
    np.testing.assert_array_equal(x.array, [0.0, 2.0])


_INPLACE_LAYERS = {
    "ReLU6": lambda lib: lib.nn.ReLU6(inplace=True),
    "LeakyReLU": lambda lib: lib.nn.LeakyReLU(0.1, inplace=True),
    "F.leaky_relu": lambda lib: lambda h: lib.nn.functional.leaky_relu(h, 0.1, inplace=True),
    "F.relu6": lambda lib: lambda h: lib.nn.functional.relu6(h, inplace=True),
    "Dropout(1)": lambda lib: lib.nn.Dropout(1.0, inplace=True),  # every unit dropped
}


def _inplace_in_a_graph(lib, layer):
    x = lib.tensor([[-1.5, 0.5, 7.0], [0.3, -0.2, 1.0]], requires_grad=True)
    h = x * 2
    y = _INPLACE_LAYERS[layer](lib)(h)  # h itself now holds the activation
    (h * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return [y is h, h.tolist(), x.grad.tolist()]


@pytest.mark.parametrize("layer", list(_INPLACE_LAYERS))
def test_inplace_activations_overwrite_their_input_as_pytorch(layer, torch):
    ours, theirs = _inplace_in_a_graph(sn, layer), _inplace_in_a_graph(torch, layer)
    assert ours[0] and ours[0] == theirs[0]
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6)
