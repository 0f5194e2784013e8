"""Matrix products: ``matmul`` (with batch dimensions, NumPy's rules) and ``linear`` (a fully
connected layer, y = x W^T + b, the "FC" rows of the VGG table on slide "VGGNet (3)").
"""

from __future__ import annotations

from scratchnet.backend import Array, get_xp
from scratchnet.function import Function, not_a_tensor
from scratchnet.ops.reduce import sum_to
from scratchnet.tensor import Tensor, as_tensor


def check_same_dtype(op: str, tensors: dict[str, Tensor | None]) -> None:
    """Raise unless the named tensors share one dtype: PyTorch's rule for matrix products.

    NumPy would promote (float32 @ int64 is float64), which gives a layer a dtype nobody chose;
    PyTorch refuses, and so does scratchnet, naming the op and every dtype.
    """
    present = {name: t for name, t in tensors.items() if t is not None}
    if len({t.dtype for t in present.values()}) > 1:
        described = ", ".join(f"{name} {t.dtype} {t.shape}" for name, t in present.items())
        raise TypeError(
            f"{op}: expected one dtype, got {described}; convert one of them, "
            "e.g. x.float() for the input, or model.double() for the layer"
        )


class MatMulFunction(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        return get_xp(a).matmul(a, b)

    def backward(self, gy: Array) -> tuple[Array, Array]:
        xp = get_xp(gy)
        a, b = self.a, self.b
        # A 1-D operand is treated as a row (a) or column (b) vector; put that dim back first.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = gy[..., None] if b.ndim == 1 else gy  # (..., M, 1) for a matrix-vector product
        g2 = g2[..., None, :] if a.ndim == 1 else g2  # (..., 1, N) for a vector-matrix product
        ga = xp.matmul(g2, xp.swapaxes(b2, -1, -2))  # (..., M, K) = (..., M, N) @ (..., N, K)
        gb = xp.matmul(xp.swapaxes(a2, -1, -2), g2)  # (..., K, N) = (..., K, M) @ (..., M, N)
        # Batch dims were broadcast: sum them back to each operand's own shape.
        ga = sum_to(ga, a2.shape).reshape(a.shape)
        gb = sum_to(gb, b2.shape).reshape(b.shape)
        return ga, gb


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy's rules: (..., M, K) @
    (..., K, N) -> (..., M, N), batch dims broadcast.

    d(AB)/dA = G B^T,  d(AB)/dB = A^T G  (G the upstream gradient).

    Both operands must have the same dtype, as in PyTorch: float32 @ int64 is refused, not
    promoted to a float64 result as NumPy would.
    """
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a, b = as_tensor(a, like=like), as_tensor(b, like=like)
    check_same_dtype("matmul", {"the first operand": a, "the second operand": b})
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last dim of the first "
            f"({k_a}) must equal the {'only' if b.ndim == 1 else 'second-to-last'} "
            f"dim of the second ({k_b})"
        )
    if a.ndim > 2 and b.ndim > 2:
        try:
            get_xp(a.array).broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dims of {a.shape} and {b.shape} do not broadcast"
            ) from None
    return MatMulFunction()(a, b)


class LinearFunction(Function):
    def forward(self, x: Array, weight: Array, bias: Array | None = None) -> Array:
        self.x, self.weight, self.has_bias = x, weight, bias is not None
        y = x @ weight.T  # (..., out) = (..., in) @ (in, out)
        return y if bias is None else y + bias

    def backward(self, gy: Array) -> tuple[Array, ...]:
        gx = gy @ self.weight  # (..., in)
        g2 = gy.reshape(-1, gy.shape[-1])  # (rows, out)
        x2 = self.x.reshape(-1, self.x.shape[-1])  # (rows, in)
        gw = g2.T @ x2  # (out, in)
        if not self.has_bias:
            return gx, gw
        return gx, gw, g2.sum(axis=0)  # the bias gradient, (out,)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Fully connected layer y = x W^T + b.

    Shapes: x (..., in), W (out, in), b (out,) -> y (..., out).
    dy/dx = W, dy/dW = x (summed over rows), dy/db = 1 (summed over rows).
    All three must have one dtype, as in PyTorch (an int64 input is refused, not promoted).
    """
    name = f"Linear({weight.shape[-1]}, {weight.shape[0]})"
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: {not_a_tensor(input)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"{name} expects inputs of shape (..., {weight.shape[-1]}), got shape {input.shape}"
        )
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(
            f"{name}: bias must have shape ({weight.shape[0]},) for weight of shape "
            f"{weight.shape}, got {bias.shape}"
        )
    check_same_dtype(name, {"input": input, "weight": weight, "bias": bias})
    if bias is None:
        return LinearFunction()(input, weight)
    return LinearFunction()(input, weight, bias)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix product without broadcasting
    (``torch.bmm``): (B, M, K) @ (B, K, N) -> (B, M, N).

    The same op as ``matmul`` (and the same backward: G B^T and A^T G per batch element), with
    PyTorch's stricter check: both operands 3-D, equal batch sizes.
    """
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(
            "bmm: both operands must be 3-D, (B, M, K) and "
            f"(B, K, N), got shapes {a.shape} and {b.shape}"
        )
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {a.shape} and {b.shape}")
    return matmul(a, b)
