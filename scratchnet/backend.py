"""The array backend: the one place that decides between NumPy and CuPy, and between fast and reference kernels.

Every op starts with ``xp = get_xp(x)``: the array module comes from the data itself, so the same
code runs on the CPU (NumPy) and on an NVIDIA GPU (CuPy) without an ``if gpu:`` anywhere.

This is the only module that imports ``cupy`` or ``numba``, and it imports them lazily: ``import
scratchnet`` loads neither, and a machine without them simply runs the NumPy reference code.

Fast kernels (``scratchnet.kernels``) are used automatically when available. Set the environment
variable ``SCRATCHNET_KERNELS=reference`` or use ``with reference_kernels():`` to force the plain
NumPy path a student can read top to bottom.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

#: An n-dimensional array of either backend (``numpy.ndarray`` or ``cupy.ndarray``).
Array = Any

_CUPY_INSTALL_HINT = (
    "install CuPy for your CUDA driver, e.g. `pip install cupy-cuda12x` (CUDA 12) or "
    "`pip install cupy-cuda13x` (CUDA 13), on a machine with an NVIDIA GPU"
)


# --------------------------------------------------------------------------- array module


def get_xp(x: Any) -> ModuleType:
    """Return the array module (``numpy`` or ``cupy``) that owns ``x``.

    A CuPy array can only exist once CuPy has been imported, so looking at the type's module is
    enough and never imports anything.
    """
    if type(x).__module__.startswith("cupy"):
        return sys.modules["cupy"]
    return np


def is_cuda_array(x: Any) -> bool:
    """True if ``x`` is a CuPy (GPU) array."""
    return type(x).__module__.startswith("cupy")


def device_of(x: Array) -> str:
    """``"cuda"`` for a CuPy array, ``"cpu"`` otherwise."""
    return "cuda" if is_cuda_array(x) else "cpu"


def import_cupy() -> ModuleType | None:
    """Import CuPy if it is installed and sees a GPU; return None otherwise (never raises)."""
    if "cupy" in sys.modules:
        return sys.modules["cupy"]
    try:
        cupy = importlib.import_module("cupy")
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # ImportError, or a CUDA driver error on a machine without a GPU
        return None
    return cupy


def require_cupy(what: str) -> ModuleType:
    """Return CuPy, or raise a RuntimeError that says what to install."""
    cupy = import_cupy()
    if cupy is None:
        raise RuntimeError(f"{what} needs a CUDA GPU and CuPy, and none was found: {_CUPY_INSTALL_HINT}.")
    return cupy


def normalize_device(device: str | None) -> str:
    """Map ``None``, ``"cpu"``, ``"cuda"`` and ``"cuda:0"`` to ``"cpu"`` or ``"cuda"``."""
    if device is None:
        return "cpu"
    name = str(device).split(":")[0]
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    return name


def to_device(x: Array, device: str) -> Array:
    """Move an array to ``"cpu"`` (NumPy) or ``"cuda"`` (CuPy); a no-op if it is already there."""
    device = normalize_device(device)
    if device == "cpu":
        return x.get() if is_cuda_array(x) else x
    cupy = require_cupy("device='cuda'")
    return x if is_cuda_array(x) else cupy.asarray(x)


# --------------------------------------------------------------------------- fast kernels

_use_fast_kernels = os.environ.get("SCRATCHNET_KERNELS", "fast").lower() != "reference"
_numba_module: ModuleType | None = None
_numba_checked = False


def fast_kernels_enabled() -> bool:
    """True unless the reference path is forced (``SCRATCHNET_KERNELS=reference``)."""
    return _use_fast_kernels


@contextlib.contextmanager
def reference_kernels() -> Iterator[None]:
    """Run the enclosed code on the plain NumPy reference kernels only."""
    global _use_fast_kernels
    previous, _use_fast_kernels = _use_fast_kernels, False
    try:
        yield
    finally:
        _use_fast_kernels = previous


def import_numba() -> ModuleType | None:
    """Import Numba on first use; warn once and return None if it is missing."""
    global _numba_module, _numba_checked
    if not _numba_checked:
        _numba_checked = True
        try:
            _numba_module = importlib.import_module("numba")
        except Exception as error:  # ImportError, or a broken llvmlite install
            warnings.warn(
                f"numba could not be imported ({error}); scratchnet runs its NumPy reference "
                "kernels, which are correct but slower. `pip install numba` to speed it up.",
                RuntimeWarning,
                stacklevel=2,
            )
    return _numba_module


def fast_kernels_for(x: Array) -> ModuleType | None:
    """The fast-kernel module for the array's device, or None to use the reference path.

    ``scratchnet.kernels.numba_cpu`` for NumPy arrays (when Numba imports),
    ``scratchnet.kernels.cupy_gpu`` for CuPy arrays.
    """
    if not _use_fast_kernels:
        return None
    if is_cuda_array(x):
        return importlib.import_module("scratchnet.kernels.cupy_gpu")
    if import_numba() is None:
        return None
    return importlib.import_module("scratchnet.kernels.numba_cpu")
