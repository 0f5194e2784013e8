"""RMSprop (Hinton's lecture 6e, 2012): divide the gradient by a running RMS of its recent values.

Follows PyTorch's ``torch.optim.RMSprop`` exactly, including the centred variant (Graves 2013),
which divides by an estimate of the gradient's standard deviation instead of its RMS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scratchnet.backend import Array, get_xp
from scratchnet.optim.optimizer import Optimizer
from scratchnet.tensor import Tensor


class RMSprop(Optimizer):
    """RMSprop (PyTorch's ``torch.optim.RMSprop``).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups.
    lr : float
        Learning rate eta.
    alpha : float
        Smoothing constant of the running average of g^2.
    eps : float
        Added to the denominator so it is never zero.
    weight_decay : float
        L2 penalty lambda, added to the gradient.
    momentum : float
        Momentum factor mu applied to the scaled step.
    centered : bool
        Subtract the squared running mean of g: divide by an estimate of the variance.
    maximize : bool
        Maximise the objective instead of minimising it.

    Notes
    -----
    With g = grad + lambda * p::

        v <- alpha * v + (1 - alpha) * g^2
        s = sqrt(v) + eps                       (centred: gbar <- alpha gbar + (1 - alpha) g,
                                                           s = sqrt(v - gbar^2) + eps)
        b <- mu * b + g / s,   p <- p - eta * b   (mu > 0)   or   p <- p - eta * g / s
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if lr < 0.0 or eps < 0.0 or momentum < 0.0 or weight_decay < 0.0 or alpha < 0.0:
            raise ValueError("RMSprop: lr, alpha, eps, momentum and weight_decay must be >= 0")
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def update(self, p: Tensor, grad: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_xp(p.array)
        alpha, mu = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.array)
            if mu > 0:
                state["momentum_buffer"] = xp.zeros_like(p.array)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p.array)
        state["step"] += 1

        g = grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * g * g
        if group["centered"]:
            state["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * g
            scale = (
                xp.sqrt(state["square_avg"] - state["grad_avg"] * state["grad_avg"]) + group["eps"]
            )
        else:
            scale = xp.sqrt(state["square_avg"]) + group["eps"]

        if mu > 0:
            state["momentum_buffer"] = mu * state["momentum_buffer"] + g / scale
            p.array -= group["lr"] * state["momentum_buffer"]
        else:
            p.array -= group["lr"] * g / scale
