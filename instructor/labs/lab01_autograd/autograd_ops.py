"""Lab 1: autograd and the gradient check.

Every network of the lecture (VGG, GoogLeNet, ResNet, DenseNet, SENet) learns by backpropagation:
the loss's gradient flows from the output back through every op to every weight. In scratchnet an
op is a ``Function`` with two methods on plain NumPy arrays, written one under the other:

* ``forward(*xs) -> y``: compute the output, and save (as attributes) what backward will need;
* ``backward(gy) -> gx`` (a tuple, one per input): given ``gy = dL/dy``, the upstream gradient of
  the output, return ``dL/dx = gy * dy/dx`` for every input (the chain rule).

Calling a Function on Tensors runs ``forward`` and records the call in the graph;
``loss.backward()`` then calls each op's ``backward`` in the right order (``scratchnet/tensor.py``,
``_run_backward``). Your job: the backward of five ops, a finite-difference gradient, and a small
network built from your ops. ``scratchnet.gradcheck`` tells you whether each backward is right.

Check your work:  python -m scratchnet.labs check lessons/lab01_autograd
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scratchnet import Function, Tensor

# =====================================================================================
# TASK 1.1  Mul: the product rule
# =====================================================================================


class MulFunction(Function):
    """y = a * b, element-wise; a and b have the same shape."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b  # saved for backward
        return a * b

    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # HINT: dy/da = b and dy/db = a; multiply each by the upstream gradient gy.
        ### BEGIN SOLUTION
        return gy * self.b, gy * self.a
        ### END SOLUTION


def mul(a: Tensor, b: Tensor) -> Tensor:
    """a * b, recorded in the graph."""
    return MulFunction()(a, b)


# =====================================================================================
# TASK 1.2  AddBias: a broadcast input collects the gradient of every row
# =====================================================================================


class AddBiasFunction(Function):
    """y = x + b with x of shape (N, D) and b of shape (D,): the same bias is added to every row."""

    def forward(self, x: np.ndarray, b: np.ndarray) -> np.ndarray:
        return x + b  # NumPy broadcasts b (D,) over the N rows

    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # HINT: b was used N times (once per row), so dL/db adds up the N rows' gradients.
        # HINT: the gradient of an input always has that input's shape: gx (N, D), gb (D,).
        ### BEGIN SOLUTION
        return gy, gy.sum(axis=0)
        ### END SOLUTION


def add_bias(x: Tensor, b: Tensor) -> Tensor:
    """x (N, D) + b (D,), recorded in the graph."""
    return AddBiasFunction()(x, b)


# =====================================================================================
# TASK 1.3  ReLU: a gradient that is 0 or passes through
# =====================================================================================


class ReluFunction(Function):
    """y = max(x, 0)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x > 0  # where the gradient passes
        return x * self.mask

    def backward(self, gy: np.ndarray) -> np.ndarray:
        # HINT: the derivative is 1 where x > 0 and 0 elsewhere;
        # at exactly x = 0 take 0 (PyTorch's choice).
        # HINT: return a NEW array. Writing into gy (gy[~mask] = 0) would corrupt the gradient that
        #       another branch shares, e.g. a ResNet's skip connection.
        ### BEGIN SOLUTION
        return gy * self.mask
        ### END SOLUTION


def relu(x: Tensor) -> Tensor:
    """max(x, 0), recorded in the graph."""
    return ReluFunction()(x)


# =====================================================================================
# TASK 1.4  Sigmoid: forward, and a backward that reuses the output
# =====================================================================================


class SigmoidFunction(Function):
    """y = 1 / (1 + exp(-x)), the gate of an SE block (slide "Attentions (3)")."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        # HINT: save the output as self.y: the derivative is y * (1 - y), no exp needed in backward.
        ### BEGIN SOLUTION
        self.y = 1 / (1 + np.exp(-x))
        return self.y
        ### END SOLUTION

    def backward(self, gy: np.ndarray) -> np.ndarray:
        ### BEGIN SOLUTION
        return gy * self.y * (1 - self.y)
        ### END SOLUTION


def sigmoid(x: Tensor) -> Tensor:
    """The logistic sigmoid, recorded in the graph."""
    return SigmoidFunction()(x)


# =====================================================================================
# TASK 1.5  MatMul: the op behind every fully connected layer (and, via im2col, every conv)
# =====================================================================================


class MatMulFunction(Function):
    """y = x @ w with x (N, D) and w (D, M): y is (N, M)."""

    def forward(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        self.x, self.w = x, w
        return x @ w

    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # HINT: gy is (N, M). Find the product of gy with x or w whose shape is x's (N, D), then w's
        #       (D, M): the shapes leave only one way to write each.
        ### BEGIN SOLUTION
        gx = gy @ self.w.T  # (N, M) @ (M, D) -> (N, D)
        gw = self.x.T @ gy  # (D, N) @ (N, M) -> (D, M)
        return gx, gw
        ### END SOLUTION


def matmul(x: Tensor, w: Tensor) -> Tensor:
    """x @ w, recorded in the graph."""
    return MatMulFunction()(x, w)


# =====================================================================================
# TASK 1.6  The numerical gradient: how gradcheck knows the right answer
# =====================================================================================


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Estimate df/dx by central differences, one element of x at a time.

    Parameters
    ----------
    f : callable
        Takes the array ``x`` and returns a float (for example a loss).
    x : ndarray, float64, any shape
        The point. Change it in place to evaluate f nearby, but leave it as it was when you return.
    eps : float
        The step.

    Returns
    -------
    ndarray, the shape of x
        ``grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``: its error shrinks like eps^2,
        the one-sided ``(f(x + eps e_i) - f(x)) / eps`` only like eps.
    """
    # HINT: np.nditer or np.ndindex(x.shape) visits every index of an array of any shape.
    # HINT: remember x[i], set x[i] = old + eps, evaluate,
    # set x[i] = old - eps, evaluate, put old back.
    ### BEGIN SOLUTION
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        plus = f(x)
        x[index] = old - eps
        minus = f(x)
        x[index] = old
        grad[index] = (plus - minus) / (2 * eps)
    return grad
    ### END SOLUTION


# =====================================================================================
# TASK 1.7  A two-layer network made of your ops
# =====================================================================================


def two_layer_net(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
    """scores = relu(x @ w1 + b1) @ w2 + b2, built ONLY from your ops above.

    Shapes: x (N, D), w1 (D, H), b1 (H,), w2 (H, K), b2 (K,) -> scores (N, K).
    The engine chains your backwards: nothing more to write for the network's gradient.
    """
    ### BEGIN SOLUTION
    hidden = relu(add_bias(matmul(x, w1), b1))  # (N, H)
    return add_bias(matmul(hidden, w2), b2)  # (N, K)
    ### END SOLUTION


class _ForgetfulReluFunction(ReluFunction):
    """A ReLU whose backward forgets the mask: the kind of bug gradcheck exists to catch."""

    def backward(self, gy: np.ndarray) -> np.ndarray:
        return gy


def main() -> None:
    """Gradcheck your two-layer network, then watch gradcheck catch a wrong backward."""
    import scratchnet as sn

    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3, 5), (5,), (5, 2), (2,)]
    inputs = [sn.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    print("gradcheck(two_layer_net):", sn.gradcheck(two_layer_net, inputs))
    x = sn.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    try:
        sn.gradcheck(lambda t: _ForgetfulReluFunction()(t), [x])
    except sn.GradcheckError as error:
        print("a ReLU without its mask:", error)


if __name__ == "__main__":
    main()
