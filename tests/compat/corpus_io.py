"""The corpus programs' two hooks: share the initial weights between runs, and report results.

Both use NumPy only and work on whichever ``torch`` the program imported (PyTorch or scratchnet).
Outside the tests (no environment variables set) both do nothing, and each program is a plain
script.

* ``share_initial_state(model_or_dict)``: the PyTorch run saves the initial ``state_dict`` (or the
  dict of tensors) to ``$COMPAT_INIT`` as ``.npz``; the scratchnet run loads it from there, so both
  runs start from the same weights (the two libraries' random generators differ).
* ``report(**numbers)``: adds numbers (or lists of numbers) to the JSON file ``$COMPAT_OUT``, which
  the test compares between the two runs.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np


def share_initial_state(state: Any) -> None:
    path = os.environ.get("COMPAT_INIT")
    if not path:
        return
    import torch  # the program's torch: PyTorch, or scratchnet in the scratchnet run

    tensors = state.state_dict() if isinstance(state, torch.nn.Module) else state
    if os.path.exists(path):
        with np.load(path) as saved:
            arrays = {key: saved[key] for key in saved.files}
        if isinstance(state, torch.nn.Module):
            state.load_state_dict({key: torch.from_numpy(array) for key, array in arrays.items()})
        else:
            with torch.no_grad():
                for key, tensor in tensors.items():
                    tensor.copy_(torch.from_numpy(arrays[key]))
    else:
        np.savez(path, **{key: _numpy(t) for key, t in tensors.items()})


def report(**numbers: Any) -> None:
    path = os.environ.get("COMPAT_OUT")
    if not path:
        return
    results = {}
    if os.path.exists(path):
        with open(path) as file:
            results = json.load(file)
    results.update({key: _plain(value) for key, value in numbers.items()})
    with open(path, "w") as file:
        json.dump(results, file)


def _numpy(tensor: Any) -> np.ndarray:
    """A tensor's values as a NumPy array (an array is passed through)."""
    return tensor if isinstance(tensor, np.ndarray) else tensor.detach().cpu().numpy()


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str):
        return value
    return np.asarray(value).tolist()  # a 0-d or small tensor of either library
