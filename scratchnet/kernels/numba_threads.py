"""How the Numba kernels use the CPU's cores: each loop nest compiled twice, threaded and serial.

A kernel written with ``prange`` runs its outer loop on all cores when its input is large, and on
one core when it is small, where waking the other threads would cost more than the work. Every
Numba kernel module builds its threaded kernels with ``threaded_kernel``, and ``THREADED_MIN_WORK``
is the one setting that says where "large" starts, per kernel family.

``scratchnet.backend.import_numba`` chose Numba's "workqueue" thread pool before any kernel module
was imported (see there why). That pool serves one launch at a time (a second, concurrent one
would abort the process), so threaded launches from several Python threads take turns on a lock.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any

from numba import njit

_threaded_launch = threading.Lock()

# Below this much work a kernel runs on one thread, per family of backend.KERNEL_MODULES (each
# kernel's caller passes its work as the first argument). Waking the other threads costs 10-30 us
# (much more when the machine is busy), more than a small job itself.
THREADED_MIN_WORK = {
    # pooling: output elements x window elements, the number of loop iterations
    "window": 2**16,
    # batch norm: input elements. It is limited by memory bandwidth, and an input below 4 MiB of
    # float32 stays in the CPU's caches, where one thread is fastest
    "norm": 2**20,
    # ReLU: elements (2 MiB of float32), also bandwidth-bound
    "activation": 2**19,
}


def threaded_kernel(
    loops: Callable | None = None, *, family: str = "window", **options: Any
) -> Callable:
    """Compile a ``prange`` loop nest twice: threaded, and serial (``prange`` runs as ``range``).

    The result is called as ``run(work, *args)`` and returns what the loops return: a ``work``
    below ``THREADED_MIN_WORK[family]`` takes the serial build. The serial build compiles a
    renamed copy of the function, so Numba's on-disk cache (keyed by the function's name) keeps
    the two apart. ``options`` go to ``numba.njit`` (``fastmath=...``). Usable as
    ``@threaded_kernel`` or ``@threaded_kernel(family="norm")``.
    """
    if loops is None:
        return lambda f: threaded_kernel(f, family=family, **options)
    min_work = THREADED_MIN_WORK[family]  # a KeyError for a misspelt family
    serial = types.FunctionType(loops.__code__, loops.__globals__, loops.__name__ + "_serial")
    serial.__qualname__ = loops.__qualname__ + "_serial"
    threaded = njit(parallel=True, cache=True, **options)(loops)
    serial = njit(cache=True, **options)(serial)

    def run(work: int, *args: Any) -> Any:
        if work < min_work:
            return serial(*args)
        with _threaded_launch:
            return threaded(*args)

    run.threaded, run.serial = threaded, serial
    return run
