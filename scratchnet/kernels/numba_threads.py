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
# on a quiet machine, more than a small job itself; on a busy one, a time slice (4-8 ms) whenever
# the other core is taken, at any size. Measured on the 2-core Xeon (AVX-512, 2 MiB L2 per core)
# with 2 threads, the ``threaded`` / ``serial`` build of each kernel, wall clock, median (range) of
# interleaved rounds (9 at 2^17 and 2^18, 5 at 2^19), best of 20 calls each:
#   elements            2^17                2^18                2^19
#   norm mean/var       260 (149-298)       0.54 (0.52-0.57)    0.47 (0.46-0.47)
#   norm grad sums      0.60 (0.56-228)     0.49 (0.48-0.60)    0.53 (0.50-0.53)
#   norm a g + b x + c  0.48 (0.47-0.49)    0.26 (0.23-0.32)    0.52 (0.48-0.55)
#   ReLU forward        0.62 (0.60-0.67)    0.35 (0.32-0.41)    0.38 (0.36-0.39)
#   ReLU backward       0.47 (0.40-0.48)    0.28 (0.25-109)     0.51 (0.50-0.53)
# (a ratio in the hundreds is a round where the second thread waited for a time slice). From 2^18
# elements (1 MiB of float32) every kernel ran in 0.26-0.54 of its one-thread time: an input
# that fits the caches is still split well over two cores, whose L2s are separate.
THREADED_MIN_WORK = {
    # pooling: output elements x window elements, the number of loop iterations
    "window": 2**16,
    # batch norm: input elements (was 2**20, "below 4 MiB one thread is fastest": not so here)
    "norm": 2**18,
    # ReLU: elements, also bandwidth-bound (was 2**19)
    "activation": 2**18,
    # the conv's im2col, col2im and reorders: elements written. Alone, on ResNet-20's column
    # chunks (7 images, 2.6e5-1e6 elements), im2col and col2im threaded took 0.42-0.83 of one
    # thread's time; but inside whole training steps on the quiet machine they made steps slower
    # (ResNet-20 386 vs 354 ms, small CNN 23.6 vs 19.0 ms, median of 5 interleaved rounds): each
    # runs right after an OpenBLAS product, whose threads keep spinning on the other core for
    # ~100 ms (docs/performance.md, "spin_ms"). So they stay on one thread: the bound is above
    # the largest column chunk (numba_cpu.COLUMN_BUFFER_BYTES = 2**21 float32 elements).
    "columns": 2**22,
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
    THREADED_MIN_WORK[family]  # a KeyError for a misspelt family, at once
    serial = types.FunctionType(loops.__code__, loops.__globals__, loops.__name__ + "_serial")
    serial.__qualname__ = loops.__qualname__ + "_serial"
    threaded = njit(parallel=True, cache=True, **options)(loops)
    serial = njit(cache=True, **options)(serial)

    def run(work: int, *args: Any) -> Any:
        if work < THREADED_MIN_WORK[family]:
            return serial(*args)
        with _threaded_launch:
            return threaded(*args)

    run.threaded, run.serial = threaded, serial
    return run
