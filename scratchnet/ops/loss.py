"""Losses: cross_entropy, nll_loss, mse_loss, binary_cross_entropy_with_logits.

Cross-entropy is what every classifier of the lecture is trained with: softmax over the class
scores, then -log of the probability of the true class. Computing it in one Function from the
logits (not as log(softmax(x))) is both stable for huge logits and gives the famous gradient

    dL/dlogits = softmax(logits) - target distribution    (divided by N for the mean),

which is also why label smoothing is one line: it only changes the target distribution. The
plain case (integer targets, no class weights, no smoothing) has its own Function,
``CrossEntropyFunction``, with exactly that gradient; ``WeightedNllFunction`` serves the rest.

Every loss takes ``reduction``: "mean" (the default), "sum", or "none" (one loss per element).
Options after ``weight`` are keyword-only, so PyTorch's legacy positional arguments
(``size_average``, ``reduce``) cannot land in the wrong parameter.
Notation: N batch, C classes; ``(N, C, d1, ...)`` inputs with ``(N, d1, ...)`` targets are
accepted too (per-pixel classification), the class dimension always being dim 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet.backend import Array, fast_kernel, get_xp
from scratchnet.function import Function, not_a_tensor
from scratchnet.ops.elementwise import _operands
from scratchnet.ops.reduce import check_floating
from scratchnet.tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


class WeightedNllFunction(Function):
    """L_i = -sum_c a_ic z_ic, reduced; ``a`` is a fixed (N, C, ...) array of target weights.

    With ``log_softmax=True`` z = log softmax(x) is computed here (cross-entropy), otherwise z = x
    (nll_loss, whose input already holds log-probabilities).
    """

    def __init__(self, a: Array, reduction: str, divisor: Any, log_softmax: bool) -> None:
        self.a, self.reduction, self.divisor, self.log_softmax = a, reduction, divisor, log_softmax

    def forward(self, x: Array) -> Array:
        xp = get_xp(x)
        z = x
        if self.log_softmax:
            shifted = x - x.max(axis=1, keepdims=True)  # the log-sum-exp trick (see log_softmax)
            exps = xp.exp(shifted)
            total = exps.sum(axis=1, keepdims=True)
            z = shifted - xp.log(total)  # log softmax(x), (N, C, ...)
            self.probs = exps / total  # softmax(x), kept for backward
        # Only the classes with a target weight count: a masked class (logit -inf, so z = -inf)
        # with a = 0 would give 0 * -inf = NaN; PyTorch skips it, and so does this where.
        losses = -(self.a * xp.where(self.a == 0, 0, z)).sum(axis=1)  # (N, ...)
        return _reduce(losses, self.reduction, self.divisor)

    def backward(self, gy: Array) -> Array:
        g = _unreduce(gy, self.a.shape[:1] + self.a.shape[2:], self.reduction, self.divisor)
        g = g[:, None]  # (N, 1, ...): the per-sample gradient, broadcast over classes
        if not self.log_softmax:
            return -self.a * g  # dL/dz = -a
        # d/dx of -sum_c a_c log softmax_c(x) = softmax(x) * sum_c a_c - a; with sum_c a_c = 1
        # (no class weights) this is the familiar softmax - target.
        return (self.probs * self.a.sum(axis=1, keepdims=True) - self.a) * g


class CrossEntropyFunction(Function):
    """Cross-entropy from (N, C) logits and (N,) integer targets: the plain case, in one Function.

    No class weights and no label smoothing (those take ``WeightedNllFunction``), so the target
    distribution is one-hot and the gradient is the famous softmax - one_hot. Forward saves the
    softmax, which is all that backward needs besides the targets. The Numba siblings in
    ``scratchnet.kernels.numba_loss`` compute both into one array, row by row, with no one-hot
    array and no temporaries.
    """

    def __init__(self, target: Array, ignore_index: int, reduction: str, divisor: Any) -> None:
        self.target, self.ignore_index = target, ignore_index
        self.reduction, self.divisor = reduction, divisor

    def forward(self, x: Array) -> Array:
        fast = fast_kernel(x, "cross_entropy_forward", family="loss")
        forward = cross_entropy_forward if fast is None else fast
        losses, self.probs = forward(x, self.target, self.ignore_index)  # (N,), (N, C)
        return _reduce(losses, self.reduction, self.divisor)

    def backward(self, gy: Array) -> Array:
        g = _unreduce(gy, self.target.shape, self.reduction, self.divisor)  # (N,)
        fast = fast_kernel(gy, "cross_entropy_backward", family="loss")
        backward = cross_entropy_backward if fast is None else fast
        return backward(self.probs, self.target, self.ignore_index, g)


def cross_entropy_forward(x: Array, target: Array, ignore_index: int) -> tuple[Array, Array]:
    """Per-sample losses L_n = log sum_c exp(x_nc) - x_n,t_n, and p = softmax(x) for backward.

    Shapes: x (N, C) logits, target (N,) integers -> losses (N,), p (N, C). A target equal to
    ``ignore_index`` gets a loss of 0. The row max is subtracted first (the log-sum-exp trick:
    no overflow for huge logits; it cancels in both results).
    """
    xp = get_xp(x)
    shifted = x - x.max(axis=1, keepdims=True)  # (N, C), every row's max is 0
    exps = xp.exp(shifted)
    total = exps.sum(axis=1, keepdims=True)  # (N, 1)
    kept = target != ignore_index
    picked = shifted[xp.arange(len(target)), xp.where(kept, target, 0)]  # (N,), shifted x_n,t_n
    losses = xp.where(kept, xp.log(total[:, 0]) - picked, 0).astype(x.dtype, copy=False)
    return losses, exps / total


def cross_entropy_backward(p: Array, target: Array, ignore_index: int, g: Array) -> Array:
    """dL/dx_n = (p_n - one_hot(t_n)) * g_n, and 0 for a target equal to ``ignore_index``.

    Shapes: p = softmax(x) (N, C), target (N,), g (N,) the upstream gradient per sample -> (N, C).
    """
    xp = get_xp(p)
    one_hot = xp.arange(p.shape[1]) == target[:, None]  # (N, C) booleans
    g_kept = xp.where(target != ignore_index, g, 0).astype(p.dtype, copy=False)  # (N,)
    return (p - one_hot) * g_kept[:, None]


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between the softmax of ``input`` (logits) and integer class ``target``.

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, d1, ...): unnormalised class scores (logits)
    target : Tensor of integers, shape (N,) or (N, d1, ...), values in [0, C) (or ``ignore_index``)
    weight : Tensor, shape (C,), optional: a rescaling weight per class
    ignore_index : int: targets with this value contribute neither loss nor gradient
    reduction : "mean" | "sum" | "none"
        "mean" divides by the number of (weighted) non-ignored targets, as PyTorch.
    label_smoothing : float in [0, 1]
        The target distribution becomes (1 - s) one_hot + s / C (Szegedy et al., 2016).

    Returns
    -------
    Tensor, a scalar (shape ()) or, for reduction="none", shape (N,) or (N, d1, ...).

    Notes
    -----
    With q the (smoothed) target distribution and p = softmax(x):
    L_n = -sum_c w_c q_nc log p_nc, and dL_n/dx_n = p_n * sum_c w_c q_nc - w * q_n
    (= p_n - q_n without weights).
    """
    op = "cross_entropy"
    t = _checked_target(op, input, target, ignore_index, label_smoothing, reduction)
    check_floating(op, input)  # logits of integers: PyTorch refuses (no log_softmax for them)
    plain = weight is None and not label_smoothing and input.ndim == 2 and input.shape[1] > 0
    if plain and input.dtype.kind == "f":
        kept = (t != ignore_index).sum()
        divisor = get_xp(t).asarray(kept, dtype=input.dtype)  # "mean": the non-ignored targets
        return CrossEntropyFunction(t, ignore_index, reduction, divisor)(input)
    a, divisor = _target_weights(input, t, weight, ignore_index, label_smoothing)
    return WeightedNllFunction(a, reduction, divisor, log_softmax=True)(input)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: -input[n, target[n]], for ``input`` holding log-probabilities.

    Shapes as ``cross_entropy``: input (N, C) or (N, C, d1, ...), integer target (N,) or
    (N, d1, ...).
    ``cross_entropy(x, t) == nll_loss(log_softmax(x, dim=1), t)``.
    dL/dinput[n, c] = -w_c for c = target[n] (divided by the weight total for "mean"), else 0.
    """
    t = _checked_target("nll_loss", input, target, ignore_index, 0.0, reduction)
    a, divisor = _target_weights(input, t, weight, ignore_index, 0.0)
    return WeightedNllFunction(a, reduction, divisor, log_softmax=False)(input)


def _checked_target(
    op: str, x: Tensor, target: Tensor, ignore_index: int, label_smoothing: float, reduction: str
) -> Array:
    """The target's integer array, after checking it and the options against the input x."""
    _check_reduction(op, reduction)
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input: {not_a_tensor(x)}")
    if x.ndim < 2:
        raise ValueError(
            f"{op}: expected input of shape (N, C) or (N, C, d1, ...), got shape {x.shape}"
        )
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    xp = get_xp(x.array)
    t = target.array if isinstance(target, Tensor) else xp.asarray(target)
    C = x.shape[1]
    expected = x.shape[:1] + x.shape[2:]
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: target must hold integer class indices in [0, {C}), got dtype {t.dtype} of "
            f"shape {tuple(t.shape)} (class-probability targets are not supported); convert with "
            "target.long()"
        )
    if t.dtype not in (np.int64, np.uint8):  # PyTorch's rule, also for int32 (NumPy would pass)
        raise TypeError(
            f"{op}: expected target dtype int64 (long) or uint8, got {t.dtype} of shape "
            f"{tuple(t.shape)}; convert with target.long()"
        )
    if tuple(t.shape) != expected:
        raise ValueError(
            f"{op}: target of shape {tuple(t.shape)} does not match input of shape {x.shape}; "
            f"expected target shape {expected}"
        )
    ignored = t == ignore_index
    bad = ((t < 0) | (t >= C)) & ~ignored
    if bool(bad.any()):
        values = sorted({int(v) for v in t[bad].ravel()[:5].tolist()})
        raise IndexError(
            f"{op}: target values must be class indices in [0, {C}) for input of shape {x.shape} "
            f"({C} classes), got {values} in target of shape {tuple(t.shape)}"
        )
    return t


def _target_weights(
    x: Tensor, t: Array, weight: Tensor | None, ignore_index: int, label_smoothing: float
) -> tuple[Array, Any]:
    """A = w * q (shape of x) for the checked target t, and the divisor of the "mean" reduction."""
    xp, C = get_xp(t), x.shape[1]
    ignored = t == ignore_index
    classes = xp.arange(C).reshape((1, C) + (1,) * (x.ndim - 2))  # (1, C, 1, ...)
    # Any valid class where the target is ignored; its a is zeroed below.
    safe_t = xp.where(ignored, 0, t)
    a = (classes == safe_t[:, None]).astype(x.dtype)  # one-hot targets, (N, C, ...)
    # a = q * w * (not ignored), with q = (1 - s) one_hot + s / C the target distribution; each
    # factor that is 1 everywhere (the usual case: no smoothing, no weights) is skipped.
    if label_smoothing:
        a *= 1 - label_smoothing
        a += label_smoothing / C
    w = xp.ones(C, dtype=x.dtype) if weight is None else weight.array.astype(x.dtype)
    if weight is not None:
        a *= w.reshape(classes.shape)
    a *= ~ignored[:, None]  # ignored targets: a = 0, no loss, no gradient
    # "mean" divides by the total weight of the true classes of the non-ignored targets (PyTorch's
    # rule; the number of non-ignored targets when there are no class weights).
    divisor = (w[safe_t] * ~ignored).sum()
    return a, divisor


class MseFunction(Function):
    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def forward(self, x: Array, t: Array) -> Array:
        self.diff = x - t
        return _reduce(self.diff * self.diff, self.reduction, self.diff.size)

    def backward(self, gy: Array) -> tuple[Array, Array]:
        g = _unreduce(gy, self.diff.shape, self.reduction, self.diff.size) * 2 * self.diff
        return g, -g


def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Mean squared error (x - t)^2.  Shapes: input and target equal (any shape).

    dL/dx = 2 (x - t) (divided by the number of elements for "mean"), dL/dt = -dL/dx.
    """
    _check_reduction("mse_loss", reduction)
    if input.shape != getattr(target, "shape", None):
        raise ValueError(
            f"mse_loss: input of shape {input.shape} and target of shape "
            f"{getattr(target, 'shape', None)} must have the same shape"
        )
    x, t = _operands("mse_loss", input, target)
    return MseFunction(reduction)(x, t)


class BceWithLogitsFunction(Function):
    def __init__(self, reduction: str, weight: Array | None, pos_weight: Array | None) -> None:
        self.reduction, self.weight, self.pos_weight = reduction, weight, pos_weight

    def forward(self, x: Array, t: Array) -> Array:
        xp = get_xp(x)
        # softplus(-x) = log(1 + e^-x) = max(-x, 0) + log(1 + e^-|x|): never overflows.
        self.softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        # sigmoid(x) = 1 / (1 + e^-x) = e^-softplus(-x)
        self.sigmoid_neg = xp.exp(-self.softplus_neg)
        # Loss = -[p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]
        #      = (1 - t) x + (1 + (p - 1) t) softplus(-x).
        self.log_weight = 1 if self.pos_weight is None else 1 + (self.pos_weight - 1) * t
        self.x, self.t = x, t
        losses = (1 - t) * x + self.log_weight * self.softplus_neg
        if self.weight is not None:
            losses = losses * self.weight
        self.shape = losses.shape
        return _reduce(losses, self.reduction, losses.size)

    def backward(self, gy: Array) -> tuple[Array, Array]:
        g = _unreduce(gy, self.shape, self.reduction, int(np.prod(self.shape)))
        if self.weight is not None:
            g = g * self.weight
        # d/dx = (1 - t) - (1 + (p - 1) t) (1 - sigmoid(x)); for p = 1 this is sigmoid(x) - t.
        gx = g * ((1 - self.t) - self.log_weight * (1 - self.sigmoid_neg))
        # d/dt = -x + (p - 1) softplus(-x)
        pos = 0 if self.pos_weight is None else (self.pos_weight - 1) * self.softplus_neg
        gt = g * (pos - self.x)
        return gx, gt


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy of sigmoid(input) against ``target`` in [0, 1], from the logits.

    Shapes: input and target equal (any shape); ``weight`` broadcasts to it, ``pos_weight``
    (weight of the positive class) broadcasts along the last dimension, e.g. shape (num_classes,).
    L = -[pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))];
    dL/dx = sigmoid(x) - t when pos_weight is 1.
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    if input.shape != getattr(target, "shape", None):
        raise ValueError(
            f"binary_cross_entropy_with_logits: input of shape {input.shape} and target of shape "
            f"{getattr(target, 'shape', None)} must have the same shape"
        )
    x, t = _operands("binary_cross_entropy_with_logits", input, target)
    w = None if weight is None else weight.array.astype(x.dtype)
    p = None if pos_weight is None else pos_weight.array.astype(x.dtype)
    return BceWithLogitsFunction(reduction, w, p)(x, t)


# --------------------------------------------------------------------------- reductions


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(losses: Array, reduction: str, divisor: Any) -> Array:
    """Per-element losses -> what ``reduction`` asks for (mean divides by ``divisor``).

    A divisor of 0 (every target equal to ``ignore_index``) gives 0 / 0 = NaN, PyTorch's value
    for the mean of no losses; it is not warned about, as PyTorch does not.
    """
    if reduction == "none":
        return losses
    total = get_xp(losses).asarray(losses.sum())  # a 0-d array (NumPy's sum gives a scalar)
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / divisor


def _unreduce(gy: Array, shape: tuple[int, ...], reduction: str, divisor: Any) -> Array:
    """The adjoint of ``_reduce``: the upstream gradient as one value per element, of ``shape``.

    With a divisor of 0 (all targets ignored) no element took part in the mean, so each gets a
    zero gradient, as in PyTorch, not 0 * (1 / 0) = NaN, which an optimizer step would write into
    every weight. Dividing by inf instead of 0 gives that 0 without a branch or a warning.
    """
    xp = get_xp(gy)
    if reduction == "none":
        return gy
    g = gy if reduction == "sum" else gy / xp.where(divisor == 0, xp.inf, divisor).astype(gy.dtype)
    return xp.broadcast_to(g, shape)
