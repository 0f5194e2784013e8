"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

The update is PyTorch's ``torch.optim.SGD``, line for line, so a scratchnet model and a PyTorch
model started from the same weights follow the same trajectory (``tests/test_optim.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scratchnet.backend import Array
from scratchnet.optim.optimizer import Optimizer, add_scaled_
from scratchnet.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent (PyTorch's ``torch.optim.SGD``).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups.
    lr : float
        Learning rate.
    momentum : float
        Momentum factor mu (0 = plain SGD; 0.9 is the usual choice for CNNs).
    dampening : float
        Scales down the new gradient's share in the momentum buffer.
    weight_decay : float
        L2 penalty lambda: ``lambda * p`` is added to the gradient.
    nesterov : bool
        Nesterov momentum: look ahead along the buffer (needs momentum > 0 and dampening = 0).
    maximize : bool
        Maximise the objective instead of minimising it.

    Notes
    -----
    With g = grad + lambda * p, a momentum buffer b (b = g on the first step) and learning rate
    eta::

        b <- mu * b + (1 - dampening) * g
        d = g + mu * b   (Nesterov)   or   d = b
        p <- p - eta * d

    PyTorch's form puts eta outside the buffer (Sutskever et al. 2013 put it inside); the two are
    the same for a constant learning rate and differ when a scheduler changes it.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if lr < 0.0 or momentum < 0.0 or weight_decay < 0.0:
            raise ValueError(
                "SGD: lr, momentum and weight_decay must be "
                f">= 0, got {lr}, {momentum}, {weight_decay}"
            )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def update(self, p: Tensor, grad: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        g = grad
        if group["weight_decay"] != 0:
            # L2 penalty: d/dp (lambda/2 ||p||^2) = lambda p
            g = g + group["weight_decay"] * p.array
        mu = group["momentum"]
        if mu != 0:
            if "momentum_buffer" not in state:
                # the first step starts at g, undampened (as PyTorch)
                state["momentum_buffer"] = g.copy()
            else:
                # b = mu * b + (1 - dampening) * g, in place: a new b each step would allocate
                # another copy of the weights (392 MiB for VGG's first FC layer).
                buffer = state["momentum_buffer"]
                buffer *= mu
                buffer += g if group["dampening"] == 0 else (1 - group["dampening"]) * g
            buffer = state["momentum_buffer"]
            g = g + mu * buffer if group["nesterov"] else buffer
        add_scaled_(p.array, -group["lr"], g)  # p -= lr * g, in place, so every holder of p sees it
