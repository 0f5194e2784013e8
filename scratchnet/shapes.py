"""Shape and dimension rules every op uses: broadcasting, ``dim=`` arguments, NumPy's aliases.

A leaf module: it imports nothing from scratchnet, so every layer can use it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any


def broadcast_shape(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape NumPy broadcasting gives two shapes, or a ValueError naming the op and both shapes.

    Align the shapes from the right; each pair of sizes must be equal or one of them 1, which is
    stretched: (8, 1, 6) and (7, 1) give (8, 7, 6).
    """
    if a == b or not b:  # the common cases (equal shapes, a scalar) need no loop
        return a
    if not a:
        return b
    shape = []
    for i in range(1, max(len(a), len(b)) + 1):
        size_a = a[-i] if i <= len(a) else 1  # a missing leading dimension counts as 1
        size_b = b[-i] if i <= len(b) else 1
        if size_a != size_b and size_a != 1 and size_b != 1:
            raise ValueError(
                f"{op}: shapes {tuple(a)} and {tuple(b)} cannot be broadcast together (NumPy's "
                "rule: aligned from the right, each pair of sizes must be equal or one of them 1)"
            )
        shape.append(size_b if size_a == 1 else size_a)
    return tuple(reversed(shape))


def normalize_dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """``dim`` (int, sequence, or None for all) as a sorted tuple of non-negative axes.

    Negative dims count from the end (-1 is the last). An empty sequence also means all, as in
    PyTorch's reductions (``x.sum(dim=[])`` is the sum of every element). A 0-d tensor accepts
    dim 0 and -1, as in PyTorch, and has no axis to reduce: the result is ``()``.
    """
    dims = (dim,) if isinstance(dim, int) or dim is None else tuple(dim)
    if dim is None or not dims:
        return tuple(range(ndim))
    rank = max(ndim, 1)
    for d in dims:
        if isinstance(d, bool):  # an int to Python, not a dimension to PyTorch
            raise TypeError(f"dim must be an int or a sequence of ints, got {dim!r}")
        if not -rank <= d < rank:
            raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
    axes = sorted(d % rank for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"dim {dim} names the same dimension twice")
    return tuple(axes) if ndim else ()


def size_of(size: tuple[Any, ...]) -> tuple[int, ...]:
    """A size given as separate ints or as one sequence: ``(2, 3)`` for ``f(2, 3)`` and
    ``f((2, 3))`` alike (``new_zeros``, ``view``, ``repeat`` accept both).
    """
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], list | tuple) else tuple(size)


def accepts_numpy_names(method: Any) -> Any:
    """Let ``method`` take NumPy's ``axis=``/``keepdims=`` for ``dim=``/``keepdim=``, as torch does.

    ``torch.argmax(x, axis=1)`` and ``x.sum(axis=0, keepdims=True)`` work in PyTorch (its argument
    parser maps NumPy's names), and code copied from NumPy uses them.
    """

    @functools.wraps(method)
    def with_numpy_names(*args: Any, **kwargs: Any) -> Any:
        for numpy_name, torch_name in (("axis", "dim"), ("keepdims", "keepdim")):
            if numpy_name in kwargs:
                if torch_name in kwargs:
                    raise TypeError(
                        f"{method.__name__}() got both {torch_name}= and its alias {numpy_name}="
                    )
                kwargs[torch_name] = kwargs.pop(numpy_name)
        return method(*args, **kwargs)

    return with_numpy_names
