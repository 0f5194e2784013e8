"""``scratchnet.autograd``: the autograd switches and helpers under PyTorch's names (``torch.autograd``).

Everything here is defined elsewhere (the graph machinery in ``function.py`` and ``tensor.py``,
the checker in ``gradcheck.py``); this module only gathers it where PyTorch users look for it:

* ``no_grad()``, ``enable_grad()``, ``is_grad_enabled()``: switch graph recording off and on;
* ``detect_anomaly()``: raise at the first op whose forward or backward produces NaN or Inf,
  naming that op and the shapes involved;
* ``backward(tensors, grad_tensors)``: one backward pass from several outputs at once;
* ``gradcheck(fn, inputs)``: compare backward with finite differences; ``Function``: the op base class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scratchnet.function import (
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


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None, retain_graph: bool = False) -> None:
    """Accumulate into every leaf's ``.grad`` the gradient of sum_i <grad_tensors[i], tensors[i]>.

    One walk over the graph for all the outputs together (``torch.autograd.backward``): a leaf
    reached from several outputs gets the sum of their gradients. ``grad_tensors`` may be omitted
    for outputs with a single element.
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"backward: got {len(tensors)} tensors but {len(grad_tensors)} grad_tensors")
    total = None
    for t, g in zip(tensors, grad_tensors, strict=True):
        if g is None and t.data.size != 1:
            raise RuntimeError(f"backward: grad_tensors must be given for the output of shape {t.shape}")
        term = t.sum() if g is None else (t * (g if isinstance(g, Tensor) else Tensor(g))).sum()
        total = term if total is None else total + term
    total.backward(retain_graph=retain_graph)


__all__ = [
    "Function",
    "GradcheckError",
    "anomaly_mode_enabled",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "gradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
]
