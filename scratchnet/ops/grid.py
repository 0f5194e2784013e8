"""``meshgrid``: coordinate grids from 1-D tensors
(for plotting a function over a plane, as d2l does).

Each output is an input reshaped to one axis and broadcast over the others, so the backward is
``broadcast_to``'s: the gradient of each output is summed back to its 1-D input.
"""

from __future__ import annotations

from collections.abc import Sequence

from scratchnet.ops.reduce import broadcast_to
from scratchnet.ops.shape import reshape
from scratchnet.tensor import Tensor


def meshgrid(*tensors: Tensor | Sequence[Tensor], indexing: str = "ij") -> tuple[Tensor, ...]:
    """Grids from n 1-D tensors of sizes (s1, ..., sn): n tensors of shape (s1, ..., sn).

    ``indexing="ij"`` (PyTorch's default; torch warns when it is not given) puts input i on axis
    i; ``"xy"`` swaps the first two axes, as NumPy's default does.
    """
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: expects 0-D or 1-D tensors, got shape {t.shape}")
    sizes = [t.numel() for t in tensors]
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        axes[0], axes[1] = 1, 0  # x varies along the columns, y along the rows
        sizes[0], sizes[1] = sizes[1], sizes[0]
    shape = tuple(sizes)
    grids = []
    for t, axis in zip(tensors, axes, strict=True):
        one_axis = [1] * len(shape)
        one_axis[axis] = t.numel()
        grids.append(broadcast_to(reshape(t, tuple(one_axis)), shape))  # (s1, ..., sn)
    return tuple(grids)
