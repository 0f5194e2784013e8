"""The gradient checker itself: it passes correct ops and catches wrong ones, saying where."""

from __future__ import annotations

import re

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.function import Function
from scratchnet.gradcheck import numerical_grad


class DoubleWithWrongGradient(Function):
    """y = 2x, but backward is wrong at one element (index (1, 2)): a deliberately broken op."""

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        gx = 2 * gy
        gx[1, 2] *= 3  # the bug
        return gx


class CenterWithZeroGradient(Function):
    """y = x - mean(x), whose true gradient g - mean(g) is 0 when g is all ones.

    A backward returning zeros is wrong, but a check driven by ones could not see it.
    """

    def forward(self, x):
        return x - x.mean()

    def backward(self, gy):
        return np.zeros_like(gy)


def test_passes_correct_ops():
    x = sn.randn(3, 4, requires_grad=True)
    w = sn.randn(4, 2, requires_grad=True)
    assert sn.gradcheck(lambda x, w: (x @ w).tanh(), [x, w]) is True


def test_error_names_input_index_and_values():
    x = sn.randn(3, 4, requires_grad=True)
    with pytest.raises(sn.GradcheckError) as info:
        sn.gradcheck(
            lambda a, b: (a * 1.0, DoubleWithWrongGradient()(b)),
            [sn.randn(2, requires_grad=True), x],
        )
    message = str(info.value)
    assert "input 1" in message and "(3, 4)" in message and "index (1, 2)" in message
    analytic, numeric = (
        float(v) for v in re.search(r"analytic (\S+), numeric (\S+)", message).groups()
    )
    assert np.isclose(analytic, 3 * numeric, rtol=1e-4)
    assert "1 of 12 elements differ" in message


def test_random_upstream_catches_what_ones_would_miss():
    x = sn.randn(5, requires_grad=True)
    with pytest.raises(sn.GradcheckError):
        sn.gradcheck(lambda x: CenterWithZeroGradient()(x), [x])


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(sn.GradcheckError, AssertionError)


def test_multiple_outputs_and_non_tensor_arguments():
    x = sn.randn(6, 2, requires_grad=True)
    assert sn.gradcheck(lambda x, n: x.split(n), [x, 4])
    assert sn.gradcheck(lambda x, n: (x * n, x.exp()), [x, 3.0])


def test_only_inputs_that_require_grad_are_checked():
    x = sn.randn(3, requires_grad=True)
    constant = sn.randn(3)
    assert sn.gradcheck(lambda x, c: x * c, [x, constant])


def test_inputs_are_checked_in_float64_and_left_untouched():
    x = sn.randn(3, requires_grad=True)
    before = x.numpy().copy()
    seen = []

    def fn(t):
        seen.append(t.dtype)
        return t * t

    assert sn.gradcheck(fn, [x])
    assert set(seen) == {np.dtype(np.float64)}
    assert x.dtype == np.float32 and x.grad is None and np.array_equal(x.numpy(), before)


def test_single_tensor_input():
    assert sn.gradcheck(lambda x: x.sigmoid(), sn.randn(4, requires_grad=True))


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        sn.gradcheck(lambda x: x * 2, [sn.randn(3)])


def test_needs_an_output_that_requires_grad():
    with pytest.raises(sn.GradcheckError, match="no output of fn requires grad"):
        sn.gradcheck(lambda x: x.detach(), [sn.randn(3, requires_grad=True)])


def test_numerical_grad_is_a_central_difference():
    x = np.array([1.0, -2.0, 0.5])
    upstream = [np.array([1.0, 2.0, -1.0])]
    grad = numerical_grad(lambda: [x**3], x, upstream, eps=1e-6)
    np.testing.assert_allclose(grad, upstream[0] * 3 * x**2, rtol=1e-8)
    assert x.tolist() == [1.0, -2.0, 0.5]  # restored after every step


def test_tolerances_are_used():
    class SlightlyOff(Function):
        def forward(self, x):
            return x.copy()

        def backward(self, gy):
            return gy * (1 + 1e-4)

    x = sn.randn(3, requires_grad=True)
    assert sn.gradcheck(lambda x: SlightlyOff()(x), [x], rtol=1e-3)
    with pytest.raises(sn.GradcheckError):
        sn.gradcheck(lambda x: SlightlyOff()(x), [x], atol=1e-9, rtol=1e-6)
