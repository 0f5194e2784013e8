"""Assertions for the labs' tests, with messages a student can act on.

A bare ``assert y.shape == (2, 4, 5, 5)`` fails with pytest's ``assert (2, 4, 3, 3) == ...``; these
say what was checked, what was expected and what came out, and where the worst difference is::

    conv2d(x, w, stride=2): expected shape (2, 4, 3, 3), got (2, 4, 5, 5)
    im2col(x): wrong value at index (3, 7): expected 0.4173, got 0 (12 of 54 elements differ, ...)
    conv backward: gradcheck: gradient of input 1 (weight, shape (4, 3, 3, 3)) is wrong at index ...

``python -m scratchnet.labs check`` prints these messages as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scratchnet.gradcheck import GradcheckError, gradcheck


def as_numpy(value: Any) -> np.ndarray:
    """A Tensor's data, or anything array-like, as a NumPy array (copied from the GPU if needed)."""
    return np.asarray(value)  # Tensor.__array__ does the copy


def shape_of(value: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in getattr(value, "shape", np.shape(value)))


def expect_shape(actual: Any, expected: Sequence[int], what: str) -> None:
    """Fail with "<what>: expected shape (...), got
    (...)" unless ``actual`` has shape ``expected``.
    """
    if actual is None:
        raise AssertionError(
            f"{what}: expected an array of shape {tuple(expected)}, got None (a missing return?)"
        )
    got = shape_of(actual)
    if got != tuple(expected):
        raise AssertionError(f"{what}: expected shape {tuple(expected)}, got {got}")


def expect_close(
    actual: Any, expected: Any, what: str, atol: float = 1e-6, rtol: float = 1e-5
) -> None:
    """Fail unless ``actual`` has ``expected``'s shape and values (``|a - e| <= atol + rtol |e|``).

    The message gives the worst element: its index, the expected and the actual value.
    """
    want = as_numpy(expected).astype(np.float64)
    expect_shape(actual, want.shape, what)
    got = as_numpy(actual).astype(np.float64)
    excess = np.asarray(np.abs(got - want) - (atol + rtol * np.abs(want)))  # 0-d stays an array
    excess[np.isnan(got) != np.isnan(want)] = np.inf  # a NaN where a number belongs is always wrong
    excess[np.isnan(got) & np.isnan(want)] = -1.0
    if not (excess > 0).any():
        return
    worst = np.unravel_index(int(np.argmax(excess)), want.shape) if want.ndim else ()
    index = tuple(int(i) for i in worst)
    where = f" at index {index}" if index else ""
    raise AssertionError(
        f"{what}: wrong value{where}: expected {want[worst]:.6g}, got {got[worst]:.6g} "
        f"({int((excess > 0).sum())} of {want.size} elements differ; max abs error "
        f"{float(np.nanmax(np.abs(got - want), initial=0)):.3g}, "
        f"tolerance atol={atol}, rtol={rtol})"
    )


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    """Fail with "<what>: expected <expected>, got <actual>" unless the two are equal."""
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def expect_gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    what: str,
    names: Sequence[str] | None = None,
    **options: Any,
) -> None:
    """``scratchnet.gradcheck(fn, inputs)``, its error message prefixed by ``what`` and with the
    inputs named (``input 1 (weight, shape ...)``) when ``names`` are given.
    """
    try:
        gradcheck(fn, inputs, **options)
    except GradcheckError as error:
        message = str(error)
        if names is not None:
            message = re.sub(
                r"input (\d+) \(shape",
                lambda m: f"input {m[1]} ({names[int(m[1])]}, shape",
                message,
            )
        raise GradcheckError(f"{what}: {message}") from None
