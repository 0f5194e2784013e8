"""GPU helpers under PyTorch's names (``scratchnet.cuda.is_available()``, ...), backed by CuPy.

Nothing here imports CuPy until it is called, and ``is_available``/``device_count`` never raise: on
a machine without CuPy or without a GPU they answer False and 0. Everything else raises a
RuntimeError that says what is missing and which CuPy package to install.

Memory. CuPy keeps the GPU memory of freed arrays in a pool and reuses it, as PyTorch's caching
allocator does. ``memory_allocated()`` is what arrays hold now. ``max_memory_allocated()`` is the
peak of that since ``reset_peak_memory_stats()``, measured by a CuPy memory hook that the reset
installs (it costs a few microseconds per allocation, so it is off until asked for); before any
reset it is the pool's size, which only grows (until ``empty_cache()``) and so bounds the peak from
above.
"""

from __future__ import annotations

from typing import Any

from scratchnet import rng
from scratchnet.backend import import_cupy, require_cupy

_peak_tracker: Any = None  # the memory hook installed by reset_peak_memory_stats()


def is_available() -> bool:
    """True if CuPy is installed and sees at least one GPU."""
    return import_cupy() is not None


def device_count() -> int:
    """Number of visible GPUs (0 without CuPy or a GPU)."""
    cupy = import_cupy()
    return 0 if cupy is None else int(cupy.cuda.runtime.getDeviceCount())


def get_device_name(device: int = 0) -> str:
    """The GPU's name, e.g. ``"NVIDIA H100 80GB HBM3"``."""
    name = require_cupy("scratchnet.cuda.get_device_name()").cuda.runtime.getDeviceProperties(
        device
    )["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize() -> None:
    """Wait for all queued GPU work to finish.

    GPU calls return before the work is done, so time GPU code only between two ``synchronize()``
    calls.
    """
    require_cupy("scratchnet.cuda.synchronize()").cuda.Device().synchronize()


def memory_allocated() -> int:
    """Bytes held by arrays now (CuPy's memory pool, in use)."""
    return int(
        require_cupy("scratchnet.cuda.memory_allocated()").get_default_memory_pool().used_bytes()
    )


def max_memory_allocated() -> int:
    """Peak of ``memory_allocated()`` since ``reset_peak_memory_stats()``.

    Before any reset: the pool's size (CuPy keeps freed blocks for reuse, so the pool is the
    high-water mark, an upper bound of the peak).
    """
    cupy = require_cupy("scratchnet.cuda.max_memory_allocated()")
    if _peak_tracker is not None:
        return _peak_tracker.peak
    return int(cupy.get_default_memory_pool().total_bytes())


def memory_reserved() -> int:
    """Bytes the memory pool holds from the GPU, in use or cached for reuse."""
    return int(
        require_cupy("scratchnet.cuda.memory_reserved()").get_default_memory_pool().total_bytes()
    )


def empty_cache() -> None:
    """Give the pool's cached (unused) blocks back to the GPU."""
    require_cupy("scratchnet.cuda.empty_cache()").get_default_memory_pool().free_all_blocks()


def reset_peak_memory_stats() -> None:
    """Start measuring the peak of ``memory_allocated()``
    afresh (from now on, until the next reset).

    Installs a memory hook on the calling thread, the first time; it sees every allocation from
    CuPy's pool and every return to it.
    """
    global _peak_tracker
    cupy = require_cupy("scratchnet.cuda.reset_peak_memory_stats()")
    if _peak_tracker is None:
        _peak_tracker = _make_peak_tracker(cupy)
        _peak_tracker.__enter__()  # registered until the program ends
    _peak_tracker.reset(int(cupy.get_default_memory_pool().used_bytes()))


def manual_seed(seed: int) -> None:
    """Seed the GPU's random numbers (dropout masks drawn on the GPU, and CuPy's own generator)."""
    require_cupy("scratchnet.cuda.manual_seed()")
    rng.manual_seed_device(seed)


def _make_peak_tracker(cupy: Any) -> Any:
    """A ``cupy.cuda.MemoryHook`` that follows the bytes in use and remembers their maximum."""

    class PeakTracker(cupy.cuda.MemoryHook):
        name = "scratchnet_peak_tracker"

        def reset(self, in_use: int) -> None:
            self.in_use = self.peak = in_use

        def malloc_postprocess(self, **kwargs: Any) -> None:  # a block handed out by the pool
            self.in_use += kwargs["mem_size"]
            self.peak = max(self.peak, self.in_use)

        def free_postprocess(self, **kwargs: Any) -> None:  # a block given back to the pool
            self.in_use -= kwargs["mem_size"]

    tracker = PeakTracker()
    tracker.reset(0)
    return tracker


# ------------------------------------------------------------------------- not available (issue 14)


def _no_streams(feature: str) -> NotImplementedError:
    return NotImplementedError(
        f"scratchnet.cuda.{feature}: CUDA streams and events are not available in scratchnet (all "
        "GPU work runs on CuPy's default stream, in order); drop the stream code, and time GPU "
        "work between two scratchnet.cuda.synchronize() calls"
    )


class Stream:
    """Not available: see ``_no_streams``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _no_streams("Stream")


class Event:
    """Not available: see ``_no_streams``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _no_streams("Event")


def stream(*args: Any, **kwargs: Any) -> Any:
    raise _no_streams("stream")


def current_stream(*args: Any, **kwargs: Any) -> Any:
    raise _no_streams("current_stream")


def manual_seed_all(seed: int) -> None:
    """Seed every GPU: scratchnet uses one GPU at most;
    nothing to do without one (as in PyTorch).
    """
    if is_available():
        manual_seed(seed)


def current_device() -> int:
    """Index of the current GPU: always 0 (scratchnet uses one GPU)."""
    require_cupy("scratchnet.cuda.current_device()")
    return 0
