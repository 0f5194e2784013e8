"""The random number generator behind ``randn``, ``rand``, weight initialisation and dropout.

One NumPy ``Generator`` for the whole library; ``manual_seed(seed)`` resets it (and CuPy's, when
CuPy is in use), so a seeded script gives the same numbers every run, as ``torch.manual_seed``.
"""

from __future__ import annotations

import sys

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random number scratchnet draws; returns the new generator."""
    global _generator
    _generator = np.random.default_rng(seed)
    if "cupy" in sys.modules:  # only if the program already uses the GPU; never imports CuPy
        sys.modules["cupy"].random.seed(seed)
    return _generator


def generator() -> np.random.Generator:
    """The library's current generator (changes when ``manual_seed`` is called)."""
    return _generator
