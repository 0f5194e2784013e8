"""The gradient checker: compare backward's gradients with finite differences.

For a function f and a random upstream gradient G (the same shape as f's output) the scalar
L = sum(G * f(x)) has dL/dx = (what backward computes from G). Its numerical estimate is the
central difference

    dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),

accurate to O(eps^2) in float64. A random G (never all ones) makes sure every output element
matters: a BatchNorm tested with G = ones has an input gradient of exactly zero and could not fail.
This mirrors ``torch.autograd.gradcheck``; students use it in the labs, and every op's test does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scratchnet.backend import Array, get_xp
from scratchnet.function import GradientShapeError, no_grad
from scratchnet.tensor import Tensor


class GradcheckError(AssertionError):
    """Backward's gradient disagrees with the numerical one; the message names where."""


def numerical_grad(
    fn: Callable[[], Array], x: Array, upstream: Sequence[Array], eps: float = 1e-6
) -> Array:
    """Central-difference estimate of d sum(upstream * fn()) / dx, perturbing ``x`` in place.

    ``x`` must be contiguous, so that ``reshape(-1)`` is a view that writes through to it.
    """
    xp = get_xp(x)
    grad = xp.zeros_like(x)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i].copy()
        flat[i] = original + eps
        plus = _weighted_sum(fn(), upstream)
        flat[i] = original - eps
        minus = _weighted_sum(fn(), upstream)
        flat[i] = original
        grad_flat[i] = (plus - minus) / (2 * eps)
    return grad


def _weighted_sum(outputs: Sequence[Array], upstream: Sequence[Array]) -> Any:
    return sum(float((y * g).sum()) for y, g in zip(outputs, upstream, strict=True))


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check ``fn``'s analytic gradients against central differences, in float64.

    Parameters
    ----------
    fn : callable
        Takes the inputs, returns a Tensor or a tuple of Tensors.
    inputs : Tensor or sequence
        The arguments of ``fn``. Floating tensors that require grad are checked (converted to
        float64 copies first); anything else is passed through unchanged.
    eps, atol, rtol : float
        Step of the central difference, and the tolerances: an element passes if
        |analytic - numeric| <= atol + rtol |numeric|.
    seed : int
        Seed of the random upstream gradient.

    Returns
    -------
    True when every gradient matches.

    Raises
    ------
    GradcheckError
        Naming the input, the worst element's index, and the analytic and numeric values there; or
        the input whose gradient came back with another shape than the input's.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [
        i
        for i, x in enumerate(inputs)
        if isinstance(x, Tensor) and x.requires_grad and x.dtype.kind == "f"
    ]
    if not checked:
        raise ValueError(
            "gradcheck: no input requires grad; pass tensors made with requires_grad=True"
        )
    for i in checked:
        inputs[i] = Tensor(inputs[i].array.astype(np.float64), requires_grad=True)

    outputs = _as_tuple(fn(*inputs))
    xp = get_xp(outputs[0].array)
    rng = np.random.default_rng(seed)
    upstream = [xp.asarray(rng.standard_normal(y.shape)) for y in outputs]

    # Analytic: one backward of L = sum(G * y) over all outputs.
    differentiable = [(y, g) for y, g in zip(outputs, upstream, strict=True) if y.requires_grad]
    if not differentiable:
        raise GradcheckError("gradcheck: no output of fn requires grad, so no gradient can flow")
    loss = (differentiable[0][0] * Tensor(differentiable[0][1])).sum()
    for y, g in differentiable[1:]:
        loss = loss + (y * Tensor(g)).sum()
    try:
        loss.backward()
    except GradientShapeError as error:
        # an op's backward broke the shape rule: say it as gradcheck
        raise GradcheckError(f"gradcheck: {error}") from error

    def evaluate() -> list[Array]:
        with no_grad():
            return [y.array for y in _as_tuple(fn(*inputs))]

    for i in checked:
        x = inputs[i]
        analytic = xp.zeros_like(x.array) if x.grad is None else x.grad.array
        if analytic.shape != x.shape:
            # a backward returned a gradient of another shape than its input
            raise GradcheckError(
                f"gradcheck: gradient of input {i} has shape {tuple(analytic.shape)}, expected the "
                f"input's shape {tuple(x.shape)}: a backward returned a gradient of the wrong shape"
            )
        numeric = numerical_grad(evaluate, x.array, upstream, eps)
        error = abs(analytic - numeric) - (atol + rtol * abs(numeric))
        if bool((error > 0).any()):
            worst = np.unravel_index(int(error.argmax()), x.shape)
            worst = tuple(int(w) for w in worst)
            raise GradcheckError(
                f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at index {worst}: "
                f"analytic {float(analytic[worst]):.6g}, numeric {float(numeric[worst]):.6g} "
                f"(atol={atol}, rtol={rtol}; {int((error > 0).sum())} "
                f"of {x.array.size} elements differ)"
            )
    return True


def _as_tuple(result: Any) -> tuple[Tensor, ...]:
    return tuple(result) if isinstance(result, tuple | list) else (result,)
