"""GPU helpers under PyTorch's names (``scratchnet.cuda.is_available()``, ...), backed by CuPy.

Nothing here imports CuPy until it is called.
"""

from __future__ import annotations

from scratchnet.backend import import_cupy, require_cupy


def is_available() -> bool:
    """True if CuPy is installed and sees at least one GPU."""
    return import_cupy() is not None


def device_count() -> int:
    """Number of visible GPUs (0 without CuPy)."""
    cupy = import_cupy()
    return 0 if cupy is None else int(cupy.cuda.runtime.getDeviceCount())


def synchronize() -> None:
    """Wait for all queued GPU work to finish (needed before timing GPU code)."""
    require_cupy("scratchnet.cuda.synchronize()").cuda.Device().synchronize()


def memory_allocated() -> int:
    """Bytes currently held by tensors in CuPy's memory pool."""
    return int(require_cupy("scratchnet.cuda.memory_allocated()").get_default_memory_pool().used_bytes())


def max_memory_allocated() -> int:
    """Bytes the memory pool has reserved at most (CuPy keeps freed blocks; this is its high-water mark)."""
    return int(require_cupy("scratchnet.cuda.max_memory_allocated()").get_default_memory_pool().total_bytes())


def manual_seed(seed: int) -> None:
    """Seed CuPy's generator."""
    require_cupy("scratchnet.cuda.manual_seed()").random.seed(seed)
