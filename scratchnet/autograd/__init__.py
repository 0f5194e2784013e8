"""``scratchnet.autograd``: autograd under PyTorch's names (``torch.autograd``).

* from ``scratchnet/engine.py``, the graph engine (read top to bottom: recording ops, the backward
  walk, accumulation, version checks, in-place changes): ``Function``, ``no_grad()``,
  ``enable_grad()``, ``detect_anomaly()``;
* ``ctx.py``: PyTorch's custom-op protocol (``class F(Function)`` with ``@staticmethod
  forward(ctx, ...)``, ``F.apply(x)``), run through the engine's own ``Function``;
* here: ``backward(tensors, grad_tensors)`` (one backward pass from several outputs at once),
  ``Variable`` (PyTorch's deprecated alias), and ``gradcheck`` (from ``gradcheck.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scratchnet.autograd.ctx import CtxFunction, once_differentiable
from scratchnet.engine import (
    AccumulateGrad,
    Function,
    anomaly_mode_enabled,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
)
from scratchnet.gradcheck import GradcheckError, gradcheck
from scratchnet.tensor import Tensor

is_anomaly_enabled = anomaly_mode_enabled  # PyTorch's name


def backward(
    tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None, retain_graph: bool = False
) -> None:
    """Accumulate into every leaf's ``.grad`` the gradient of sum_i <grad_tensors[i], tensors[i]>.

    One walk over the graph for all the outputs together (``torch.autograd.backward``): a leaf
    reached from several outputs gets the sum of their gradients. ``grad_tensors`` may be omitted
    for outputs with a single element.
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise ValueError(
            f"backward: got {len(tensors)} tensors but {len(grad_tensors)} grad_tensors"
        )
    total = None
    for t, g in zip(tensors, grad_tensors, strict=True):
        if g is None and t.array.size != 1:
            raise RuntimeError(
                f"backward: grad_tensors must be given for the output of shape {t.shape}"
            )
        term = t.sum() if g is None else (t * (g if isinstance(g, Tensor) else Tensor(g))).sum()
        total = term if total is None else total + term
    total.backward(retain_graph=retain_graph)


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Tensor:
    """PyTorch's deprecated ``Variable``: since PyTorch 0.4 a Tensor is all it returns, as here.

    The tensor shares ``data``'s array; ``volatile`` (removed in PyTorch 0.4) must stay False:
    use ``with scratchnet.no_grad():`` instead.
    """
    if volatile:
        raise RuntimeError(
            "Variable(volatile=True) was removed in PyTorch 0.4; use `with no_grad():`"
        )
    tensor = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad:
        tensor = (
            Tensor(tensor.array, requires_grad=True)
            if not tensor.is_leaf
            else tensor.requires_grad_(True)
        )
    return tensor


__all__ = [
    "AccumulateGrad",
    "CtxFunction",
    "Function",
    "GradcheckError",
    "Variable",
    "anomaly_mode_enabled",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "gradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
]
