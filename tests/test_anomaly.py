"""scratchnet.autograd: detect_anomaly names the first op
whose forward or backward makes NaN/Inf; backward()."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.autograd as autograd
from scratchnet import nn

# NumPy warns when it makes a NaN or Inf;
# pyproject turns RuntimeWarnings from scratchnet into errors.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def test_forward_nan_names_the_first_op_and_the_shapes():
    x = sn.tensor([[4.0, -1.0, 9.0]], requires_grad=True)
    y = x * 2  # finite
    with autograd.detect_anomaly(), pytest.raises(FloatingPointError) as error:
        z = sn.sqrt(y)  # sqrt(-2) = NaN: the first bad op
        sn.log(z)  # would propagate the NaN, but never runs
    message = str(error.value)
    assert "Sqrt" in message and "forward" in message
    assert "(1, 3)" in message
    assert "Log" not in message


def test_backward_inf_names_the_op():
    x = sn.tensor([0.0, 1.0, 4.0], requires_grad=True)
    with autograd.detect_anomaly():
        y = sn.sqrt(x)  # forward is finite: 0, 1, 2
        loss = (y * 3).sum()
        with pytest.raises(
            FloatingPointError, match=r"Sqrt produced NaN or Inf in its backward.*\(3,\)"
        ):
            loss.backward()  # d sqrt(x)/dx = 1 / (2 sqrt(x)) = inf at 0


def test_anomaly_inside_a_network_names_the_layer_op():
    layer = nn.Linear(3, 4)
    with sn.no_grad():
        layer.weight.array[0, 0] = np.inf
    x = sn.randn(2, 3)
    with (
        autograd.detect_anomaly(),
        pytest.raises(FloatingPointError, match=r"Linear.*forward.*\(2, 3\), \(4, 3\)"),
    ):
        layer(x)


def test_without_detect_anomaly_nan_passes_silently():
    x = sn.tensor([-1.0, 1.0], requires_grad=True)
    y = sn.log(x)
    assert np.isnan(y.array[0])
    assert not autograd.is_anomaly_enabled()


def test_mode_is_restored_after_an_error():
    with pytest.raises(FloatingPointError), autograd.detect_anomaly():
        assert autograd.anomaly_mode_enabled()
        sn.log(sn.tensor([-1.0]))
    assert not autograd.anomaly_mode_enabled()


def test_finite_graphs_run_normally_under_detect_anomaly():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    x = sn.randn(5, 4)
    with autograd.detect_anomaly():
        nn.functional.cross_entropy(model(x), sn.tensor([0, 1, 1, 0, 1])).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_autograd_namespace():
    assert autograd.detect_anomaly is sn.detect_anomaly
    assert autograd.no_grad is sn.no_grad
    with autograd.no_grad():
        assert not autograd.is_grad_enabled()
        with autograd.enable_grad():
            assert autograd.is_grad_enabled()
    assert callable(autograd.gradcheck) and autograd.Function is sn.Function


def test_autograd_backward_from_several_outputs():
    x = sn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a, b = x * x, (x * 3).sum()
    autograd.backward([a, b], [sn.tensor([1.0, 0.0, 2.0]), None])
    np.testing.assert_allclose(x.grad.array, [2 * 1 + 3, 0 + 3, 2 * 3 * 2 + 3])
    with pytest.raises(RuntimeError, match=r"grad_tensors must be given.*\(3,\)"):
        autograd.backward([x * 2])
