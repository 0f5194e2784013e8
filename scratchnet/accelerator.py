"""``scratchnet.accelerator``: PyTorch's device-generic GPU queries (``torch.accelerator``).

The one accelerator scratchnet knows is an NVIDIA GPU through CuPy, so everything here asks
``scratchnet.cuda``.
"""

from __future__ import annotations

from scratchnet import cuda
from scratchnet.backend import device


def is_available() -> bool:
    """True if a GPU is usable (CuPy installed and a GPU seen)."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """``device(type='cuda')`` where a GPU is usable,
    else None (scratchnet then runs on the CPU).
    """
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def current_device_index() -> int:
    return 0 if cuda.is_available() else -1


def synchronize(device_index: int | None = None) -> None:
    cuda.synchronize()
