"""Adadelta (Zeiler 2012): a per-weight step size
from running averages of squared gradients and steps.

Follows PyTorch's ``torch.optim.Adadelta`` (pytorch/examples' MNIST script trains with it, lr=1.0).
Its step has the units of the weight: the ratio RMS[step] / RMS[gradient] plays the role of the
inverse Hessian, so no global learning rate is needed in principle (PyTorch's ``lr`` just scales
it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scratchnet.backend import Array, get_xp
from scratchnet.optim.optimizer import Optimizer
from scratchnet.tensor import Tensor


class Adadelta(Optimizer):
    """Adadelta (PyTorch's ``torch.optim.Adadelta``).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups.
    lr : float
        Scales the step (1.0 in the paper).
    rho : float
        Smoothing constant of both running averages.
    eps : float
        Added inside both square roots (it also starts the first steps: RMS[step] is sqrt(eps)
        then).
    weight_decay : float
        L2 penalty lambda, added to the gradient.
    maximize : bool
        Maximise the objective instead of minimising it.

    Notes
    -----
    With g = grad + lambda * p, v and u starting at 0::

        v <- rho * v + (1 - rho) * g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho * u + (1 - rho) * delta^2
        p <- p - lr * delta
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        if lr < 0.0 or eps < 0.0 or weight_decay < 0.0 or not 0.0 <= rho <= 1.0:
            raise ValueError(
                f"Adadelta: lr, eps and weight_decay must be >= 0 and rho in [0, 1], got "
                f"lr={lr}, rho={rho}, eps={eps}, weight_decay={weight_decay}"
            )
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def update(self, p: Tensor, grad: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_xp(p.array)
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.array)  # v: running mean of g^2
            state["acc_delta"] = xp.zeros_like(p.array)  # u: running mean of delta^2
        state["step"] += 1

        g = grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        state["square_avg"] = rho * state["square_avg"] + (1 - rho) * g * g
        delta = xp.sqrt(state["acc_delta"] + eps) / xp.sqrt(state["square_avg"] + eps) * g
        state["acc_delta"] = rho * state["acc_delta"] + (1 - rho) * delta * delta
        p.array -= group["lr"] * delta
