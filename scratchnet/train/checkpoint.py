"""Checkpoints: everything needed to stop training and go on later as if nothing had happened.

A checkpoint holds the model's weights and buffers, the optimizer's state (momentum buffers,
Adam's moments), the scheduler's counters, the number of finished epochs, the training history,
the data loaders' seeds and the state of scratchnet's random number generator (dropout, random
init). It is one ``.npz`` file written by ``scratchnet.io.npz.save``: atomically, so a crash
mid-save leaves the previous checkpoint intact, and without pickle, so loading a file from
elsewhere cannot run code.

Loading is all-or-nothing: a damaged or foreign file is refused before anything is touched, and
if one of the objects refuses its state (a model of another shape, an optimizer of another kind),
every object already loaded is put back as it was, so a failed ``load_checkpoint`` changes nothing.
"""

from __future__ import annotations

import copy
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


def save_checkpoint(
    path: str | os.PathLike,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int = 0,
    history: Any = None,
    loaders: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
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


def load_checkpoint(
    path: str | os.PathLike,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    loaders: dict[str, Any] | None = None,
    restore_rng: bool = True,
    max_expansion: float | None = None,
) -> dict[str, Any]:
    """Read a checkpoint and load it into the objects given (each optional), all or nothing.

    Parameters
    ----------
    path : path
    model, optimizer, scheduler : optional
        Loaded with their ``load_state_dict``.
    loaders : dict of name -> DataLoader, optional
    restore_rng : bool
        Put scratchnet's random number generator back into its saved state.
    max_expansion : float, optional
        The decompression limit (``scratchnet.io.files.MAX_EXPANSION`` by default).

    Returns
    -------
    dict
        The whole checkpoint: ``epoch``, ``history``, ``extra`` and the raw states.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, ValueError
        The file is missing, a directory, or not a readable scratchnet checkpoint (nothing changed).
    RuntimeError, ValueError
        An object refused its state, e.g. a model of another architecture; every object is left
        as it was before the call.
    """
    state = load(path, max_expansion=max_expansion)
    _check_layout(state, path)
    targets = []  # (what, object, its saved state), in loading order
    if model is not None:
        targets.append(("model", model, state["model"]))
    for what, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None:
            if state[what] is None:
                raise ValueError(f"{path} holds no {what} state")
            targets.append((what, obj, state[what]))
    for name, loader in (loaders or {}).items():
        if name in state["loaders"]:
            targets.append((f"loader {name!r}", loader, state["loaders"][name]))
    if restore_rng:
        targets.append(("random number generator", _Rng(), state["rng"]))
    # (object, its state before): filled before each load, so a half-done load is undone too
    undo = []
    try:
        for _, obj, saved in targets:
            undo.append((obj, copy.deepcopy(obj.state_dict())))
            obj.load_state_dict(saved)
    except Exception as error:
        for obj, before in reversed(undo):
            obj.load_state_dict(before)
        if hasattr(error, "add_note"):  # Python 3.11+
            error.add_note(
                f"while loading the {targets[len(undo) - 1][0]} from checkpoint {path}; "
                "nothing was changed"
            )
        raise
    return state


class _Rng:
    """scratchnet's random number generator, seen as one more object with a state."""

    def state_dict(self) -> dict[str, Any]:
        return rng_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            set_rng_state(state)
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(
                f"the saved random number generator state is not valid ({error!r})"
            ) from None


# What each entry of a checkpoint must be: the file may come from anywhere.
_LAYOUT: dict[str, tuple[type, ...]] = {
    "epoch": (int,),
    "model": (dict,),
    "optimizer": (dict, type(None)),
    "scheduler": (dict, type(None)),
    "rng": (dict,),
    "loaders": (dict,),
    "extra": (dict,),
}


def _check_layout(state: Any, path: str | os.PathLike) -> None:
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a scratchnet checkpoint (expected format {FORMAT!r}); a file written "
            "by scratchnet.save, not save_checkpoint, is read with scratchnet.load"
        )
    for key, types in _LAYOUT.items():
        if not isinstance(state.get(key), types) or isinstance(state.get(key), bool):
            raise ValueError(
                f"{path} is damaged or not a scratchnet checkpoint: its {key!r} entry is "
                f"{type(state.get(key)).__name__}, expected "
                f"{' or '.join(t.__name__ for t in types)}"
            )
