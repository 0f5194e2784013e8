"""Checks for lab 1. Run them from this folder with:  python -m scratchnet.labs check ."""

import autograd_ops as lab
import numpy as np

import scratchnet as sn
from scratchnet.labs.expect import expect_close, expect_gradcheck, expect_shape

# Points per task: the score is POINTS[task] x the share of that task's checks that pass.
POINTS = {"1.1": 2, "1.2": 2, "1.3": 3, "1.4": 2, "1.5": 3, "1.6": 4, "1.7": 4}
# scratchnet's own versions of what this lab asks you to write: your file may not call them.
FORBIDDEN = (
    "scratchnet.ops.elementwise.MulFunction",
    "scratchnet.ops.elementwise.mul",
    "scratchnet.ops.elementwise.AddFunction",
    "scratchnet.ops.elementwise.add",
    "scratchnet.ops.elementwise.ReluFunction",
    "scratchnet.ops.elementwise.relu",
    "scratchnet.ops.elementwise.relu_forward",
    "scratchnet.ops.elementwise.relu_backward",
    "scratchnet.ops.elementwise.SigmoidFunction",
    "scratchnet.ops.elementwise.sigmoid",
    "scratchnet.ops.linalg",
    "scratchnet.nn.functional.relu",
    "scratchnet.nn.activation",
    "scratchnet.nn.linear",
    "scratchnet.gradcheck.numerical_grad",
)


def leaf(rng, *shape):
    """A float64 tensor that requires grad, with values away from 0 (ReLU's kink)."""
    values = rng.standard_normal(shape)
    values += np.sign(values) * 0.1
    return sn.tensor(values, requires_grad=True)


def test_mul_backward():
    """Task 1.1: mul's backward passes gradcheck"""
    rng = np.random.default_rng(1)
    expect_gradcheck(lab.mul, [leaf(rng, 3, 4), leaf(rng, 3, 4)], "mul backward", names=("a", "b"))


def test_mul_same_tensor_twice():
    """Task 1.1: mul(x, x) gets the gradient 2x (the engine adds both uses' gradients)"""
    x = sn.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    lab.mul(x, x).sum().backward()
    expect_close(x.grad, 2 * x.array, "x.grad after mul(x, x).sum().backward()")


def test_add_bias_backward():
    """Task 1.2: add_bias's backward passes gradcheck; the bias gradient has the bias's shape"""
    rng = np.random.default_rng(2)
    x, b = leaf(rng, 5, 3), leaf(rng, 3)
    function = lab.AddBiasFunction()
    function.forward(x.array, b.array)
    grads = function.backward(rng.standard_normal((5, 3)))
    expect_shape(grads[1], (3,), "AddBiasFunction.backward's gradient for b (D,)")
    expect_gradcheck(lab.add_bias, [x, b], "add_bias backward", names=("x", "b"))


def test_relu_backward():
    """Task 1.3: relu's backward passes gradcheck"""
    rng = np.random.default_rng(3)
    expect_gradcheck(lab.relu, [leaf(rng, 4, 5)], "relu backward", names=("x",))


def test_relu_gradient_at_zero_and_no_inplace():
    """Task 1.3: relu's gradient is 0 at x = 0,
    and backward leaves the incoming gradient untouched"""
    function = lab.ReluFunction()
    function.forward(np.array([-1.0, 0.0, 2.0]))
    gy = np.array([5.0, 6.0, 7.0])
    gx = function.backward(gy)
    expect_close(gx, [0.0, 0.0, 7.0], "ReluFunction.backward at x = [-1, 0, 2] with gy = [5, 6, 7]")
    expect_close(
        gy, [5.0, 6.0, 7.0], "gy after ReluFunction.backward (it must not be changed in place)"
    )


def test_sigmoid_forward():
    """Task 1.4: sigmoid's forward matches 1 / (1 + exp(-x))"""
    x = np.linspace(-6, 6, 13)
    expect_close(lab.sigmoid(sn.tensor(x)), 1 / (1 + np.exp(-x)), "sigmoid(x)")


def test_sigmoid_backward():
    """Task 1.4: sigmoid's backward passes gradcheck"""
    rng = np.random.default_rng(4)
    expect_gradcheck(lab.sigmoid, [leaf(rng, 3, 4)], "sigmoid backward", names=("x",))


def test_matmul_backward():
    """Task 1.5: matmul's backward passes gradcheck, with the shapes of x and w"""
    rng = np.random.default_rng(5)
    x, w = leaf(rng, 4, 3), leaf(rng, 3, 2)
    function = lab.MatMulFunction()
    function.forward(x.array, w.array)
    gx, gw = function.backward(rng.standard_normal((4, 2)))
    expect_shape(gx, (4, 3), "MatMulFunction.backward's gradient for x (N, D)")
    expect_shape(gw, (3, 2), "MatMulFunction.backward's gradient for w (D, M)")
    expect_gradcheck(lab.matmul, [x, w], "matmul backward", names=("x", "w"))


def test_numerical_gradient_values():
    """Task 1.6: numerical_gradient of sum(x^3) is 3 x^2"""
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.1, -0.7]])
    # from a copy: a numerical_gradient that moves x must not move the answer
    expected = 3 * x.copy() ** 2
    grad = lab.numerical_gradient(lambda a: float((a**3).sum()), x.copy())
    expect_close(grad, expected, "numerical_gradient(sum(x^3), x)", atol=1e-5)


def test_numerical_gradient_restores_x():
    """Task 1.6: numerical_gradient leaves x exactly as it found it (every element put back)"""
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.1, -0.7]])
    before = x.copy()
    lab.numerical_gradient(lambda a: float((a**3).sum()), x)
    if not np.array_equal(x, before):  # exact: a leftover eps = 1e-6 is within any tolerance
        changed = np.argwhere(x != before)[0]
        index = tuple(int(i) for i in changed)
        raise AssertionError(
            f"x after numerical_gradient: x{list(index)} is {x[index]!r}, was {before[index]!r}; "
            "put every element back to its old value (x[i] = old), not old + eps - eps"
        )


def test_numerical_gradient_is_central():
    """Task 1.6: numerical_gradient uses central differences (accurate even with eps = 1e-3)"""
    x = np.array([0.3, -0.2, 1.1])
    expected = np.exp(x.copy())
    grad = lab.numerical_gradient(lambda a: float(np.exp(a).sum()), x.copy(), eps=1e-3)
    # One-sided differences would be off by about eps/2 * exp(x) ~ 5e-4; central ones by ~eps^2.
    expect_close(grad, expected, "numerical_gradient(sum(exp(x)), x, eps=1e-3)", atol=1e-5, rtol=0)


def test_two_layer_net_forward():
    """Task 1.7: two_layer_net computes relu(x @ w1 + b1) @ w2 + b2"""
    rng = np.random.default_rng(6)
    x, w1, b1, w2, b2 = (rng.standard_normal(s) for s in [(4, 3), (3, 5), (5,), (5, 2), (2,)])
    scores = lab.two_layer_net(*(sn.tensor(a) for a in (x, w1, b1, w2, b2)))
    expect_close(scores, np.maximum(x @ w1 + b1, 0) @ w2 + b2, "two_layer_net(x, w1, b1, w2, b2)")


def test_two_layer_net_backward():
    """Task 1.7: the whole network passes gradcheck (your ops, chained by the engine)"""
    rng = np.random.default_rng(7)
    inputs = [leaf(rng, *s) for s in [(4, 3), (3, 5), (5,), (5, 2), (2,)]]
    expect_gradcheck(
        lab.two_layer_net, inputs, "two_layer_net backward", names=("x", "w1", "b1", "w2", "b2")
    )
