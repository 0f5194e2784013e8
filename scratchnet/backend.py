"""The array backend: the one place that picks NumPy or CuPy, and fast or reference kernels.

Every op starts with ``xp = get_xp(x)``: the array module comes from the data itself, so the same
code runs on the CPU (NumPy) and on an NVIDIA GPU (CuPy) without an ``if gpu:`` anywhere.

This is the only module that imports ``cupy`` or ``numba``, and it imports them lazily: ``import
scratchnet`` loads neither, and a machine without them simply runs the NumPy reference code.

Fast kernels (``scratchnet.kernels``) are used automatically when available; ``KERNEL_MODULES``
lists every one. Set the environment variable ``SCRATCHNET_KERNELS=reference`` or use ``with
reference_kernels():`` to run exactly the code of ``scratchnet/ops/``, the plain NumPy a student
reads top to bottom.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np

#: An n-dimensional array of either backend (``numpy.ndarray`` or ``cupy.ndarray``).
Array = Any

_CUPY_INSTALL_HINT = (
    "Install the CuPy build that matches the CUDA version of your NVIDIA driver (`nvidia-smi` "
    "shows it): "
    "`pip install cupy-cuda12x` for CUDA 12 (what `pip install scratchnet[gpu]` installs), "
    "`pip install cupy-cuda13x` for CUDA 13"
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


_cupy_module: ModuleType | None = None
_cupy_checked = False
_cupy_problem = ""  # why CuPy cannot be used, for the error message


def import_cupy() -> ModuleType | None:
    """Import CuPy if it is installed and sees a GPU; return None otherwise (never raises).

    The answer is worked out once and remembered: CuPy installed on a machine without a GPU (or
    with a driver too old for it) imports fine but fails at the first array, so the device count
    is checked here, and ``require_cupy`` later says which of the two went wrong.
    """
    global _cupy_module, _cupy_checked, _cupy_problem
    if _cupy_checked:
        return _cupy_module
    _cupy_checked = True
    try:
        cupy = importlib.import_module("cupy")
    except Exception as error:  # ImportError, or a broken install
        _cupy_problem = f"CuPy could not be imported ({type(error).__name__}: {error})"
        return None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # no driver, or a driver older than the CUDA of this CuPy build
        _cupy_problem = f"CuPy {cupy.__version__} is installed but cannot reach a GPU ({error})"
        return None
    if count < 1:
        _cupy_problem = f"CuPy {cupy.__version__} is installed but sees no GPU"
        return None
    _cupy_module = cupy
    return cupy


def require_cupy(what: str) -> ModuleType:
    """Return CuPy, or raise a RuntimeError that says what went wrong and what to install."""
    cupy = import_cupy()
    if cupy is None:
        raise RuntimeError(
            f"{what} needs a CUDA GPU and CuPy: {_cupy_problem}. {_CUPY_INSTALL_HINT}."
        )
    return cupy


def cupy_in_use() -> ModuleType | None:
    """CuPy if an earlier call found it usable, else None; never imports anything (for seeding)."""
    return _cupy_module


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

# The fast kernels, the only list of them: (family, device) -> (module, the names it provides).
# A name is either a fast Function, the sibling of the ops/ Function of the same name (a subclass
# with the same constructor and results, picked by the op's wrapper through ``fast_function``), or
# an array function with the signature of the reference of the same name (``fast_kernel``).
# "window": the sliding-window Functions (conv2d, max and average pooling); "norm": batch norm;
# "activation": ReLU's forward and backward, on the CPU only (on a GPU the reference's one CuPy
# element-wise expression is already one pass). Asking for a name that is not listed here raises
# (a typo must not silently run the slow path); tests/test_kernels.py checks that every module
# defines every name listed for it.
KERNEL_MODULES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("window", "cpu"): (
        "scratchnet.kernels.numba_cpu",
        ("Conv2dFunction", "MaxPool2dFunction", "AvgPool2dFunction"),
    ),
    ("window", "cuda"): (
        "scratchnet.kernels.cupy_gpu",
        ("Conv2dFunction", "MaxPool2dFunction", "AvgPool2dFunction"),
    ),
    ("norm", "cpu"): ("scratchnet.kernels.numba_norm", ("BatchNormFunction",)),
    ("norm", "cuda"): ("scratchnet.kernels.cupy_gpu", ("BatchNormFunction",)),
    ("activation", "cpu"): (
        "scratchnet.kernels.numba_activation",
        ("relu_forward", "relu_backward"),
    ),
    # "loss": cross-entropy's plain case (N, C) in one pass over the logits, on the CPU only.
    ("loss", "cpu"): (
        "scratchnet.kernels.numba_loss",
        ("cross_entropy_forward", "cross_entropy_backward"),
    ),
}
_loaded: dict[str, ModuleType | None] = {}  # module name -> the module, None if it failed to import


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
            # Numba's default thread pool (OpenMP) keeps its threads spinning after each kernel,
            # taking the cores from the matrix product (OpenBLAS) that runs next: conv2d forward +
            # backward ran 3-5x slower on a 2-core machine. Numba's own "workqueue" pool lets idle
            # threads sleep. It must be chosen before the first threaded kernel runs, so it is
            # chosen here, where Numba is first imported; an explicit NUMBA_THREADING_LAYER wins.
            if "NUMBA_THREADING_LAYER" not in os.environ:
                _numba_module.config.THREADING_LAYER = "workqueue"
        except Exception as error:  # ImportError, or a broken llvmlite install
            warnings.warn(
                f"numba could not be imported ({error}); scratchnet runs its NumPy reference "
                "kernels, which are correct but slower. `pip install numba` to speed it up.",
                RuntimeWarning,
                stacklevel=2,
            )
    return _numba_module


def fast_kernels_for(x: Array, family: str = "window") -> ModuleType | None:
    """The fast-kernel module of ``family`` for x's device, or None: then the reference runs.

    None also when the fast path is switched off (``SCRATCHNET_KERNELS=reference``), when the
    family has no module for this device, for a float16 array on the CPU, or when the module
    cannot be imported (Numba missing, reported once with a warning).
    """
    if not _use_fast_kernels:
        return None
    device = device_of(x)
    if (family, device) not in KERNEL_MODULES:
        return None
    if device == "cpu" and x.dtype == np.float16:
        return None  # Numba has no float16 arithmetic; the NumPy reference computes half floats
    name = KERNEL_MODULES[(family, device)][0]
    if name not in _loaded:  # the first call only: later ones are one dict lookup
        _loaded[name] = _import_kernels(name, device)
    return _loaded[name]


def fast_kernel(x: Array, name: str, family: str = "window") -> Callable[..., Any] | None:
    """The fast kernel ``name`` of ``family`` for x's device, or None: then the reference runs.

    Raises LookupError for a name that ``KERNEL_MODULES`` does not list under ``family`` on any
    device: a misspelt kernel is an error, not a silently slower run.
    """
    entry = KERNEL_MODULES.get((family, device_of(x)))
    if entry is not None and name in entry[1]:
        module = fast_kernels_for(x, family)
        return None if module is None else getattr(module, name)
    listed = sorted(
        {n for (f, _), (_, names) in KERNEL_MODULES.items() if f == family for n in names}
    )
    if name not in listed:
        raise LookupError(
            f"no fast kernel {name!r} is registered in family {family!r} (backend.KERNEL_MODULES "
            f"lists {listed})"
        )
    return None  # registered for another device only: the reference runs here


def fast_function(x: Array, reference: type, family: str = "window") -> type:
    """The Function class to run on ``x``: the fast sibling of ``reference``, or ``reference``.

    The op's wrapper asks once per call (``fast_function(x, Conv2dFunction)(window, groups)``);
    the sibling has the reference's name, constructor and results (``KERNEL_MODULES`` lists it).
    """
    return fast_kernel(x, reference.__name__, family) or reference


def _import_kernels(name: str, device: str) -> ModuleType | None:
    if device == "cpu":  # Numba kernels: none without Numba (import_numba warns once)
        return None if import_numba() is None else importlib.import_module(name)
    try:
        return importlib.import_module(name)
    except Exception as error:  # e.g. a CuPy build that lacks a part the kernels use
        warnings.warn(
            f"{name} could not be imported ({type(error).__name__}: {error}); scratchnet runs its "
            "reference code on this device instead, which is correct but slower.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


# --------------------------------------------------------------------------- device objects


class device:
    """A device as PyTorch names it: ``device("cpu")``, ``device("cuda:0")``, ``device("cuda", 0)``.

    Compares, hashes and prints like ``torch.device`` (``device(type='cuda', index=0)``; ``str`` is
    ``"cuda:0"``), and goes wherever a device string goes (``x.to(device)``, ``Module.to``,
    ``tensor(..., device=device)``). scratchnet has one GPU at most, so every CUDA index means the
    current GPU; a device is a name, it never checks that the GPU exists (as in PyTorch).
    """

    __slots__ = ("index", "type")

    def __init__(self, type: str | device, index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        name, _, number = str(type).partition(":")
        if name not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type!r} "
                "(scratchnet runs on the CPU with NumPy and on NVIDIA GPUs with CuPy)"
            )
        if number:
            if index is not None:
                raise RuntimeError(
                    f"device({type!r}, {index}): the type string already has an index"
                )
            if not number.isdigit():
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(number)
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index!r}")
        self.type, self.index = name, index

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        # Between devices, torch's rule: type and index (``cuda`` is not ``cuda:0``). A string is
        # compared by what it names, and a string without an index by the type alone, so that
        # ``x.device == "cuda"`` keeps working now that ``Tensor.device`` is a device (torch says
        # False to any string; scratchnet's code and lessons compare with "cpu"/"cuda").
        if isinstance(other, str):
            name, _, number = other.partition(":")
            return name == self.type and (not number or number == str(self.index))
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(
        self,
    ) -> int:  # by type only: equal objects (``device("cpu")``, ``"cpu"``) hash alike
        return hash(self.type)

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (torch.save, DataLoader workers)
        return device, (self.type, self.index)


def is_device(target: Any) -> bool:
    """True for what names a device: ``"cpu"``, ``"cuda:0"``, a ``device`` (not a dtype)."""
    return isinstance(target, str | device)
