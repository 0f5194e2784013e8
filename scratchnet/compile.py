"""``scratchnet.compile``: PyTorch 2's ``torch.compile``, which here returns the model unchanged.

``torch.compile`` traces a model and generates fused kernels; the results are meant to be the same
as without it, only faster. scratchnet has no compiler, so ``compile(model)`` returns ``model``
itself (a function the same way) with a warning saying so: the numbers a program computes are
exactly those it would compute uncompiled, so nothing silently changes but the speed.
"""

from __future__ import annotations

import warnings
from typing import Any


def compile(model: Any = None, **options: Any) -> Any:
    """Return ``model`` unchanged (scratchnet has no compiler); also usable as ``@compile(...)``."""
    if model is None:  # @compile(mode="max-autotune") decorates later
        return lambda function: compile(function, **options)
    warnings.warn(
        "scratchnet.compile: scratchnet has no compiler; the "
        "model runs as written (same results, no speed-up)",
        UserWarning,
        stacklevel=2,
    )
    return model
