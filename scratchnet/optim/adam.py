"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019): adaptive moment estimation.

Adam keeps two running averages per parameter: of the gradient (the first moment, a momentum) and
of its square (the second moment, a per-weight scale). Each weight's step is the first divided by
the square root of the second, so every weight moves at about the same speed whatever the size of
its gradient. AdamW differs in one line: weight decay shrinks the weights directly instead of being
added to the gradient (where Adam's scaling would weaken it). Both follow PyTorch's update exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from scratchnet.backend import Array, get_xp
from scratchnet.optim.optimizer import Optimizer
from scratchnet.tensor import Tensor


class Adam(Optimizer):
    """Adam (PyTorch's ``torch.optim.Adam``).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups.
    lr : float
        Learning rate eta.
    betas : (float, float)
        Decay rates (beta1, beta2) of the first and second moment averages.
    eps : float
        Added to the denominator so it is never zero.
    weight_decay : float
        L2 penalty lambda, added to the gradient (for AdamW's decoupled decay use ``AdamW``).
    amsgrad : bool
        Divide by the largest second moment seen so far (Reddi et al. 2018).
    maximize : bool
        Maximise the objective instead of minimising it.

    Notes
    -----
    At step t, with g = grad + lambda * p::

        m <- beta1 * m + (1 - beta1) * g          first moment
        v <- beta2 * v + (1 - beta2) * g^2        second moment
        p <- p - eta / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    m and v start at zero, so early averages are too small; dividing by (1 - beta^t) corrects
    that bias. Note where eps sits: outside the square root, after the bias correction (PyTorch's
    choice; the paper's pseudo-code reads the same).
    """

    decoupled_weight_decay = False  # AdamW sets this

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if lr < 0.0 or eps < 0.0 or weight_decay < 0.0:
            raise ValueError(f"{type(self).__name__}: lr, eps and weight_decay must be >= 0")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def update(self, p: Tensor, grad: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_xp(p.array)
        lr, (beta1, beta2), eps, decay = (
            group["lr"],
            group["betas"],
            group["eps"],
            group["weight_decay"],
        )
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.array)  # m
            state["exp_avg_sq"] = xp.zeros_like(p.array)  # v
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.array)
        state["step"] += 1
        t = state["step"]

        g = grad
        if decay != 0:
            if self.decoupled_weight_decay:
                p.array *= 1 - lr * decay  # AdamW: shrink the weight itself, before the Adam step
            else:
                g = g + decay * p.array  # Adam: L2 penalty through the gradient

        state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
        state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
        v = state["exp_avg_sq"]
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.maximum(state["max_exp_avg_sq"], v)
            v = state["max_exp_avg_sq"]

        step_size = lr / (1 - beta1**t)  # bias correction of m
        denom = xp.sqrt(v) / math.sqrt(1 - beta2**t) + eps  # bias correction of v
        p.array -= step_size * state["exp_avg"] / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's ``torch.optim.AdamW``).

    The same arguments as ``Adam``, with ``weight_decay=0.01`` by default. Before each Adam step the
    weights shrink by a factor ``1 - lr * weight_decay``; the gradient is left alone.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
