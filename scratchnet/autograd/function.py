"""``scratchnet.autograd.function``: where PyTorch keeps ``Function`` and ``once_differentiable``.

``from torch.autograd.function import once_differentiable`` is how code written for PyTorch
imports the decorator; the objects are those of ``scratchnet.autograd`` (nothing is defined here).
"""

from scratchnet.autograd import CtxFunction as FunctionCtx
from scratchnet.autograd import Function, once_differentiable

__all__ = ["Function", "FunctionCtx", "once_differentiable"]
