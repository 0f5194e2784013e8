"""Training: the loop (``fit``, ``Trainer``, ``evaluate``), metrics, and checkpoints."""

from scratchnet.train import metrics
from scratchnet.train.checkpoint import load_checkpoint, save_checkpoint
from scratchnet.train.loop import History, Trainer, default_loss, evaluate, fit

__all__ = [
    "History",
    "Trainer",
    "default_loss",
    "evaluate",
    "fit",
    "load_checkpoint",
    "metrics",
    "save_checkpoint",
]
