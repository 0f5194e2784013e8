"""Optimizers (``scratchnet.optim``, as ``torch.optim``): they turn gradients into weight updates.

``SGD``, ``Adam``, ``AdamW``, ``RMSprop`` and ``Adadelta`` follow PyTorch's update rules and
argument names; the learning-rate schedules are in ``scratchnet.optim.lr_scheduler``.
"""

from scratchnet.optim import lr_scheduler
from scratchnet.optim.adadelta import Adadelta
from scratchnet.optim.adam import Adam, AdamW
from scratchnet.optim.optimizer import Optimizer
from scratchnet.optim.rmsprop import RMSprop
from scratchnet.optim.sgd import SGD

__all__ = ["SGD", "Adadelta", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
