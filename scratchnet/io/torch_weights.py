"""Load PyTorch weights into a scratchnet model: ``load_torch_state_dict(model, path_or_dict)``.

scratchnet's models use torchvision's module names (``layer1.0.conv1.weight``,
``features.denseblock1.denselayer1.norm1.running_mean``, ...) and the same array layouts (conv
weights (OC, C, KH, KW), linear weights (out, in)), so a torchvision state_dict needs no renaming:
each tensor becomes a NumPy array and ``model.load_state_dict(..., strict=True)`` checks that every
key is present on both sides with the same shape (BatchNorm's ``num_batches_tracked`` included).

torch is imported only to read a ``.pth`` file, and then with ``weights_only=True``: unpickling
an untrusted checkpoint otherwise runs whatever code it contains. Without torch, convert the file
once on a machine that has it::

    import numpy as np, torch
    state = torch.load("resnet50.pth", map_location="cpu", weights_only=True)
    np.savez("resnet50.npz", **{k: v.numpy() for k, v in state.items()})

and load the ``.npz`` (read with ``allow_pickle=False``).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from scratchnet.io.files import describe_start, open_regular_file, read_npz

__all__ = ["load_torch_state_dict", "torch_state_dict_to_numpy"]


def torch_state_dict_to_numpy(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Each value (torch tensor, NumPy array or number)
    as a NumPy array, keys and order unchanged.
    """
    arrays = {}
    for key, value in state_dict.items():
        if hasattr(value, "detach") and hasattr(value, "cpu"):
            # a torch.Tensor, without importing torch
            value = value.detach().cpu().numpy()
        arrays[key] = np.asarray(value)
    return arrays


def load_torch_state_dict(model: Any, path_or_dict: str | os.PathLike | Mapping[str, Any]) -> Any:
    """Copy PyTorch weights into ``model`` (strict: every key and shape must match).

    Parameters
    ----------
    model : scratchnet.nn.Module
    path_or_dict : mapping or path
        A state_dict of torch tensors or NumPy arrays, a ``.pth``/``.pt`` file (needs torch), or an
        ``.npz`` file of arrays.

    Returns
    -------
    The result of ``model.load_state_dict`` (missing and unexpected keys: empty when it succeeds).
    """
    if isinstance(path_or_dict, Mapping):
        state = path_or_dict
    else:
        state = _read(Path(path_or_dict))
    return model.load_state_dict(torch_state_dict_to_numpy(state), strict=True)


def _read(path: Path) -> Mapping[str, Any]:
    if path.suffix == ".npz":
        return read_npz(path, "weights file (.npz of arrays)")
    with open_regular_file(path, "PyTorch weights file") as file:
        # missing, a directory, a FIFO: refused here
        head = file.read(8)
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"reading {path.name} needs PyTorch (`pip install torch`); or convert it to .npz where "
            "torch is installed (see scratchnet.io.torch_weights) and load the .npz instead"
        ) from None
    if not head.startswith((b"PK", b"\x80")):
        # torch.save writes a zip archive (a pickle before PyTorch 1.6)
        raise ValueError(f"{path} is not a PyTorch weights file (.pth): {describe_start(head)}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's message suggests weights_only=False: never pass that on
        # the lines that suggest loading it anyway
        unsafe_hints = (
            "weights_only",
            "safe_globals",
            "trust",
        )
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        lines = [line for line in lines if not any(hint in line for hint in unsafe_hints)]
        reason = f" ({lines[0]})" if lines else ""
        raise ValueError(
            f"{path} is damaged or holds more than tensors and plain containers{reason}: "
            "scratchnet reads PyTorch files only with torch.load(weights_only=True), because "
            "loading anything else can run code"
        ) from None
    except Exception as error:  # torch's messages differ by version: keep their first line
        first_line = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ValueError(
            f"{path} is truncated or not a PyTorch weights file ({first_line})"
        ) from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]  # a training checkpoint {"state_dict": ..., "epoch": ...}
    if not isinstance(state, Mapping):
        raise TypeError(
            f"{path.name} holds a {type(state).__name__}, not a state_dict (a dict of tensors)"
        )
    return state
