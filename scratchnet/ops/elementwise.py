"""Element-wise ops: arithmetic with broadcasting, and the unary functions (exp, log, relu, ...).

Broadcasting follows NumPy's rules. In backward, the gradient of an input that was broadcast is
summed back to that input's shape (``sum_to``): an input used many times collects every use's
gradient, just as a variable used twice in a formula does (slide "ResNet (2)": a residual add sends
the same gradient down both branches).

Shapes: every op here maps inputs of broadcast-compatible shapes to an output of the broadcast
shape; unary ops keep the shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet.backend import Array, device_of, fast_kernel, get_xp, normalize_device
from scratchnet.backend import to_device as move_array
from scratchnet.dtypes import DEFAULT_FLOAT, result_dtype
from scratchnet.function import Function, is_grad_enabled
from scratchnet.ops.reduce import sum_to
from scratchnet.shapes import broadcast_shape
from scratchnet.tensor import Tensor, _check_writeable, as_tensor


class AddFunction(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.a_shape, self.b_shape = a.shape, b.shape
        return a + b

    def backward(self, gy: Array) -> tuple[Array, Array]:
        return sum_to(gy, self.a_shape), sum_to(gy, self.b_shape)


def add(a: Tensor, b: Any, *, alpha: float = 1, out: Tensor | None = None) -> Tensor:
    """A + alpha * b.  Shapes broadcast.  d(a+b)/da = 1, d(a+b)/db = 1.

    ``alpha`` and ``out`` are PyTorch's keywords (``torch.add(x, y, out=result)``).
    """
    if alpha != 1:
        b = mul(b, alpha)
    a, b = _operands("add", a, b)
    return write_out("add", AddFunction()(a, b), out)


class SubFunction(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.a_shape, self.b_shape = a.shape, b.shape
        return a - b

    def backward(self, gy: Array) -> tuple[Array, Array]:
        return sum_to(gy, self.a_shape), sum_to(-gy, self.b_shape)


def sub(a: Any, b: Any, *, alpha: float = 1, out: Tensor | None = None) -> Tensor:
    """A - alpha * b.  Shapes broadcast.  d/da = 1, d/db = -1."""
    if alpha != 1:
        b = mul(b, alpha)
    a, b = _operands("sub", a, b)
    return write_out("sub", SubFunction()(a, b), out)


class MulFunction(Function):
    saved_for_input_grad = {"a": 1, "b": 0}  # noqa: RUF012 (read-only) a serves b's gradient only, b a's

    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        return a * b

    def backward(self, gy: Array) -> tuple[Array, Array]:
        return sum_to(gy * self.b, self.a.shape), sum_to(gy * self.a, self.b.shape)


def mul(a: Any, b: Any, *, out: Tensor | None = None) -> Tensor:
    """A * b.  Shapes broadcast.  d(ab)/da = b, d(ab)/db = a."""
    a, b = _operands("mul", a, b)
    return write_out("mul", MulFunction()(a, b), out)


class DivFunction(Function):
    saved_for_input_grad = {"a": 1}  # noqa: RUF012 (read-only) a serves only b's gradient

    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        return a / b

    def backward(self, gy: Array) -> tuple[Array, Array]:
        ga = gy / self.b
        gb = -ga * self.a / self.b
        return sum_to(ga, self.a.shape), sum_to(gb, self.b.shape)


def div(a: Any, b: Any, *, out: Tensor | None = None) -> Tensor:
    """A / b.  Shapes broadcast.  d(a/b)/da = 1/b, d(a/b)/db = -a/b^2."""
    a, b = _operands("div", a, b)
    return write_out("div", DivFunction()(_floating(a), _floating(b)), out)


def write_out(name: str, result: Tensor, out: Tensor | None) -> Tensor:
    """PyTorch's ``out=``: write ``result`` into ``out`` (cast to its dtype) and return ``out``.

    As in PyTorch, the graph does not go through ``out``: it is refused where a gradient would be
    needed.
    """
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad"
        )
    if out.shape != result.shape:
        raise RuntimeError(
            f"{name}(): out= has shape {out.shape}, the result has shape {result.shape}"
        )
    _check_writeable(out, name)
    out.array[...] = result.array
    out._bump_version()  # a graph that saved out's old values must refuse to use them
    return out


class PowScalarFunction(Function):
    def __init__(self, exponent: float) -> None:
        self.exponent = exponent

    def forward(self, x: Array) -> Array:
        self.x = x
        return x**self.exponent

    def backward(self, gy: Array) -> Array:
        if self.exponent == 0:  # x^0 = 1 is constant; x^(0-1) would put 0 * inf = NaN at x = 0
            return get_xp(gy).zeros_like(gy)
        return gy * self.exponent * self.x ** (self.exponent - 1)


class PowFunction(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        self.y = a**b
        return self.y

    def backward(self, gy: Array) -> tuple[Array, Array]:
        xp = get_xp(gy)
        # d(a^b)/da = b a^(b-1). Where b == 0 that is 0 (a^0 is constant), but a^(0-1) would be
        # inf at a = 0 and 0 * inf = NaN: the exponent 1 there keeps every factor finite.
        ga = gy * self.b * self.a ** xp.where(self.b == 0, 1, self.b - 1)
        # d(a^b)/db = a^b log(a), defined for a > 0; PyTorch's convention: 0 where a == 0.
        log_a = xp.log(xp.where(self.a > 0, self.a, 1))
        gb = gy * self.y * log_a
        return sum_to(ga, self.a.shape), sum_to(gb, self.b.shape)


def pow(x: Any, exponent: Any) -> Tensor:
    """X ** exponent.  d/dx = p x^(p-1); for a tensor exponent also d/dp = x^p log x."""
    if isinstance(exponent, int | float) and isinstance(x, Tensor):
        return PowScalarFunction(exponent)(_floating(x) if isinstance(exponent, float) else x)
    a, b = _operands("pow", x, exponent)
    return PowFunction()(a, b)


class NegFunction(Function):
    def forward(self, x: Array) -> Array:
        return -x

    def backward(self, gy: Array) -> Array:
        return -gy


def neg(x: Tensor) -> Tensor:
    """-x.  d(-x)/dx = -1."""
    return NegFunction()(x)


class AbsFunction(Function):
    def forward(self, x: Array) -> Array:
        self.x = x
        return get_xp(x).abs(x)

    def backward(self, gy: Array) -> Array:
        # sign(0) = 0: the subgradient PyTorch uses at the kink. Written as (x > 0) - (x < 0), not
        # xp.sign, so that a NaN input gets 0 too, as in PyTorch (NumPy's sign(NaN) is NaN).
        return gy * ((self.x > 0).astype(gy.dtype) - (self.x < 0))


def abs(x: Tensor) -> Tensor:
    """|x|.  d|x|/dx = sign(x), taken as 0 at x = 0 (and at a NaN, as in PyTorch)."""
    return AbsFunction()(x)


class ExpFunction(Function):
    def forward(self, x: Array) -> Array:
        self.y = get_xp(x).exp(x)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * self.y


def exp(x: Tensor) -> Tensor:
    """e^x.  d(e^x)/dx = e^x."""
    return ExpFunction()(_floating(x))


class LogFunction(Function):
    def forward(self, x: Array) -> Array:
        self.x = x
        return get_xp(x).log(x)

    def backward(self, gy: Array) -> Array:
        return gy / self.x


def log(x: Tensor) -> Tensor:
    """Natural log.  d(log x)/dx = 1/x."""
    return LogFunction()(_floating(x))


class SqrtFunction(Function):
    def forward(self, x: Array) -> Array:
        self.y = get_xp(x).sqrt(x)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy / (2 * self.y)


def sqrt(x: Tensor) -> Tensor:
    """Square root.  d(sqrt x)/dx = 1 / (2 sqrt x)."""
    return SqrtFunction()(_floating(x))


class TanhFunction(Function):
    def forward(self, x: Array) -> Array:
        self.y = get_xp(x).tanh(x)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * (1 - self.y * self.y)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent.  d(tanh x)/dx = 1 - tanh(x)^2."""
    return TanhFunction()(_floating(x))


class SigmoidFunction(Function):
    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        # 0.5 * (1 + tanh(x/2)) equals 1 / (1 + e^-x) but never overflows for large |x|.
        self.y = 0.5 * (xp.tanh(0.5 * x) + 1)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * self.y * (1 - self.y)


def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid 1 / (1 + e^-x).  d(sigma)/dx = sigma (1 - sigma)."""
    return SigmoidFunction()(_floating(x))


class ReluFunction(Function):
    def forward(self, x: Array) -> Array:
        fast = fast_kernel(x, "relu_forward", family="activation")
        self.y = relu_forward(x) if fast is None else fast(x)
        return self.y

    def backward(self, gy: Array) -> Array:
        fast = fast_kernel(gy, "relu_backward", family="activation")
        return relu_backward(gy, self.y) if fast is None else fast(gy, self.y)


def relu_forward(x: Array) -> Array:
    """max(x, 0), element-wise (a NaN stays NaN)."""
    return get_xp(x).maximum(x, 0)


def relu_backward(gy: Array, y: Array) -> Array:
    """dL/dx = dL/dy except where the output y = relu(x) is <= 0 (x <= 0), where it is 0.

    The derivative at exactly 0 is taken as 0, PyTorch's convention. A NaN input gives a NaN
    output, which is not <= 0: its gradient passes, as in PyTorch (the test is "y <= 0 blocks",
    not "y > 0 passes"). Reading it off the output rather than the input lets backward keep
    nothing but the output, which the next layer keeps anyway.
    """
    return get_xp(gy).where(y <= 0, 0, gy).astype(gy.dtype, copy=False)


def relu(x: Tensor) -> Tensor:
    """max(x, 0).  d relu/dx = 0 where x <= 0 (also at 0),
    else 1 (also for a NaN, as in PyTorch).
    """
    return ReluFunction()(x)


class ClampFunction(Function):
    def __init__(self, low: float | None, high: float | None) -> None:
        self.low, self.high = low, high

    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        low = None if self.low is None else xp.asarray(self.low, dtype=x.dtype)
        high = None if self.high is None else xp.asarray(self.high, dtype=x.dtype)
        y = x if low is None else xp.maximum(x, low)
        y = y if high is None else xp.minimum(y, high)
        # The gradient passes strictly inside (low, high); at a bound it is 0, so clamp(x, min=0)
        # and relu(x) agree at 0. This is what PyTorch 2.14.1 computes for number bounds (measured:
        # all 186 of 300 random configurations that hit a bound agree, float32 and float64). A
        # NaN compares False with both bounds: its gradient is 0, as in PyTorch.
        above = True if low is None else x > low
        below = True if high is None else x < high
        self.inside = xp.logical_and(above, below)
        return y

    def backward(self, gy: Array) -> Array:
        return gy * self.inside


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Clip x to [min, max] (either bound may be None).  d/dx = 1 inside (min, max), else 0.

    At a bound the gradient is 0, as PyTorch 2.14.1 computes for number bounds (tests pin it).
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return ClampFunction(min, max)(x)


clip = clamp


class MaximumFunction(Function):
    def forward(self, a: Array, b: Array) -> Array:
        xp = get_xp(a)
        self.a_shape, self.b_shape = a.shape, b.shape
        # PyTorch's rule, written as what blocks the gradient: a loses where a < b, b where
        # a > b, and a tie halves it. A NaN on either side compares False everywhere, so both
        # inputs get the whole gradient there (the NaN output came from both), as in PyTorch.
        self.a_loses, self.b_loses, self.tie = a < b, a > b, a == b
        return xp.maximum(a, b)

    def backward(self, gy: Array) -> tuple[Array, Array]:
        xp = get_xp(gy)
        share = xp.where(self.tie, 0.5, 1.0).astype(gy.dtype) * gy  # at a tie, half to each input
        ga = xp.where(self.a_loses, 0, share).astype(gy.dtype, copy=False)
        gb = xp.where(self.b_loses, 0, share).astype(gy.dtype, copy=False)
        return sum_to(ga, self.a_shape), sum_to(gb, self.b_shape)


def maximum(a: Any, b: Any) -> Tensor:
    """Element-wise max.  Gradient to the larger input
    (halved on each at a tie, whole to both at a NaN).
    """
    a, b = _operands("maximum", a, b)
    return MaximumFunction()(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Element-wise min, as -max(-a, -b).  Gradient to the smaller input."""
    a, b = _operands("minimum", a, b)
    return neg(maximum(neg(a), neg(b)))


class WhereFunction(Function):
    def __init__(self, condition: Array) -> None:
        self.condition = condition

    def forward(self, a: Array, b: Array) -> Array:
        self.a_shape, self.b_shape = a.shape, b.shape
        return get_xp(a).where(self.condition, a, b)

    def backward(self, gy: Array) -> tuple[Array, Array]:
        zero = get_xp(gy).zeros((), dtype=gy.dtype)
        ga = get_xp(gy).where(self.condition, gy, zero)
        return sum_to(ga, self.a_shape), sum_to(gy - ga, self.b_shape)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Pick a where condition is true, else b.  Gradient flows to the picked input only."""
    a, b = _operands("where", a, b)
    condition = (
        condition.array if isinstance(condition, Tensor) else get_xp(a.array).asarray(condition)
    )
    if (
        condition.dtype != bool
    ):  # PyTorch refuses too: a float mask is usually a forgotten comparison
        raise TypeError(
            f"where: condition must be boolean, got dtype {condition.dtype} of shape "
            f"{tuple(condition.shape)}; compare first, e.g. "
            "where(x > 0, a, b), or convert with .bool()"
        )
    broadcast_shape("where", condition.shape, broadcast_shape("where", a.shape, b.shape))
    return WhereFunction(condition)(a, b)


class CastFunction(Function):
    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x: Array) -> Array:
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy: Array) -> Array:
        return gy.astype(self.x_dtype)


def cast(x: Tensor, dtype: Any) -> Tensor:
    """X converted to ``dtype``.  The gradient is
    converted back (none flows to an integer result).
    """
    if x.dtype == np.dtype(dtype):
        return x
    return CastFunction(np.dtype(dtype))(x)


class ToDeviceFunction(Function):
    def __init__(self, device: str) -> None:
        self.device = device

    def forward(self, x: Array) -> Array:
        self.source = device_of(x)
        return move_array(x, self.device)

    def backward(self, gy: Array) -> Array:
        return move_array(gy, self.source)


def to_device(x: Tensor, device: str) -> Tensor:
    """X copied to ``"cpu"`` or ``"cuda"``.  The gradient is copied back."""
    if x.device == normalize_device(device):
        return x
    return ToDeviceFunction(device)(x)


class CloneFunction(Function):
    def forward(self, x: Array) -> Array:
        return x.copy()

    def backward(self, gy: Array) -> Array:
        return gy


def clone(x: Tensor) -> Tensor:
    """A copy of x with its own memory.  d/dx = 1."""
    return CloneFunction()(x)


def _floating(x: Tensor) -> Tensor:
    """X itself if it is floating, else x as float32:
    ``int / int`` and ``exp(int)`` are float32, as in PyTorch.
    """
    return x if x.dtype.kind in "fc" else cast(x, DEFAULT_FLOAT)


def _operands(op: str, a: Any, b: Any, broadcast: bool = True) -> tuple[Tensor, Tensor]:
    """Turn both operands into tensors of one dtype and
    (if ``broadcast``) check that their shapes broadcast.

    A Python number takes the dtype of the tensor it meets, so ``x * 2.0`` stays float32 (as in
    PyTorch), and an integer tensor meeting a float becomes float (``result_dtype`` has the rule).
    """
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a, b = as_tensor(a, like=like), as_tensor(b, like=like)
    if a.dtype != b.dtype:
        dtype = result_dtype(a, b)
        a, b = a.to(dtype), b.to(dtype)
    if broadcast:
        broadcast_shape(op, a.shape, b.shape)
    return a, b


# ------------------------------------------------------------------------- trigonometric (issue 14)
# sin and friends: tutorials fit polynomials to sin(x) ("Learning PyTorch with Examples"), and
# d2l's plotting helpers draw them.


class SinFunction(Function):
    def forward(self, x: Array) -> Array:
        self.x = x
        return get_xp(x).sin(x)

    def backward(self, gy: Array) -> Array:
        return gy * get_xp(gy).cos(self.x)


def sin(x: Tensor) -> Tensor:
    """Sine.  d(sin x)/dx = cos x."""
    return SinFunction()(_floating(x))


class CosFunction(Function):
    def forward(self, x: Array) -> Array:
        self.x = x
        return get_xp(x).cos(x)

    def backward(self, gy: Array) -> Array:
        return -gy * get_xp(gy).sin(self.x)


def cos(x: Tensor) -> Tensor:
    """Cosine.  d(cos x)/dx = -sin x."""
    return CosFunction()(_floating(x))


class SinhFunction(Function):
    def forward(self, x: Array) -> Array:
        self.x = x
        return get_xp(x).sinh(x)

    def backward(self, gy: Array) -> Array:
        return gy * get_xp(gy).cosh(self.x)


def sinh(x: Tensor) -> Tensor:
    """Hyperbolic sine.  d(sinh x)/dx = cosh x."""
    return SinhFunction()(_floating(x))


class CoshFunction(Function):
    def forward(self, x: Array) -> Array:
        self.x = x
        return get_xp(x).cosh(x)

    def backward(self, gy: Array) -> Array:
        return gy * get_xp(gy).sinh(self.x)


def cosh(x: Tensor) -> Tensor:
    """Hyperbolic cosine.  d(cosh x)/dx = sinh x."""
    return CoshFunction()(_floating(x))
