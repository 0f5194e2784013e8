"""Checkpoints: everything needed to stop training and go on later as if nothing had happened.

A checkpoint holds the model's weights and buffers, the optimizer's state (momentum buffers,
Adam's moments), the scheduler's counters, the number of finished epochs, the training history,
the data loaders' seeds and the state of scratchnet's random number generator (dropout, random
init). It is one ``.npz`` file written by ``scratchnet.io.npz.save``: atomically, so a crash
mid-save leaves the previous checkpoint intact, and without pickle, so loading a file from
elsewhere cannot run code.
"""

from __future__ import annotations

import os
from typing import Any

from scratchnet.io.npz import load, save
from scratchnet.rng import generator

FORMAT = "scratchnet-checkpoint-1"


def rng_state() -> dict[str, Any]:
    """The state of scratchnet's random number generator (its bit generator's state dict)."""
    return generator().bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put scratchnet's random number generator back into a saved state."""
    generator().bit_generator.state = state


def save_checkpoint(path: str | os.PathLike, model: Any, optimizer: Any = None, scheduler: Any = None,
                    epoch: int = 0, history: Any = None, loaders: dict[str, Any] | None = None,
                    **extra: Any) -> None:  # fmt: skip
    """Write a checkpoint to ``path`` (atomically; see the module docstring).

    Parameters
    ----------
    model : Module
    optimizer, scheduler : optional
        Anything with ``state_dict()``.
    epoch : int
        Number of finished epochs: a resumed run starts at this epoch.
    history : History or dict, optional
    loaders : dict of name -> DataLoader, optional
        Their seeds and epoch counters.
    **extra
        More values to store (numbers, strings, arrays, nested dicts).
    """
    state = {
        "format": FORMAT,
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_state(),
        "history": history.to_dict() if hasattr(history, "to_dict") else history,
        "loaders": {name: loader.state_dict() for name, loader in (loaders or {}).items()},
        "extra": extra,
    }
    save(state, path)


def load_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None, scheduler: Any = None,
                    loaders: dict[str, Any] | None = None, restore_rng: bool = True) -> dict[str, Any]:  # fmt: skip
    """Read a checkpoint and load it into the objects given (each optional).

    Returns
    -------
    dict
        The whole checkpoint: ``epoch``, ``history``, ``extra`` and the raw states.
    """
    state = load(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a scratchnet checkpoint (expected format {FORMAT!r})")
    if model is not None:
        model.load_state_dict(state["model"])
    if optimizer is not None:
        if state["optimizer"] is None:
            raise ValueError(f"{path} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        if state["scheduler"] is None:
            raise ValueError(f"{path} holds no scheduler state")
        scheduler.load_state_dict(state["scheduler"])
    for name, loader in (loaders or {}).items():
        if name in state["loaders"]:
            loader.load_state_dict(state["loaders"][name])
    if restore_rng:
        set_rng_state(state["rng"])
    return state
