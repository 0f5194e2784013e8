"""Timing helpers shared by the benchmarks: interleaved rounds, medians, paired ratios.

Two traps on a small shared machine shape these helpers. OpenBLAS's and PyTorch's worker threads
keep spinning for a while after each call (OpenBLAS: 2^28 cycles, about 0.1 s) and slow whichever
library runs next, so every sample is preceded by a pause longer than that. (Shortening the spin
with ``OPENBLAS_THREAD_TIMEOUT=4`` instead made OpenBLAS's sleeping threads wake up late: skinny
matrix products such as a convolution's weight gradient then stalled for about 0.6 s, one call in
two.) After the pause, though, the worker threads have gone to sleep, and waking them costs up to
a scheduler tick (~10 ms here) that a training loop, calling one op after another, never pays; a
short case therefore makes one untimed call right before its timed one, so that the timed call
sees the warm threads and caches of a loop. Other programs come and go, so the libraries are
interleaved (one sample of each per round, in a rotating order) and compared by the median of the
per-round ratios, which cancels most of the drift.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

PAUSE_S = 0.15  # between samples: longer than the worker threads' spin after a call
WARM_CALL_BELOW_S = 0.1  # cases faster than this make an untimed call before each timed one


def interleaved(
    cases: dict[str, Callable[[], object]],
    rounds: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds per call of each case, one sample per case per round, in a rotating order.

    ``clock=time.process_time`` measures the CPU time of all the process's threads instead of the
    wall time: with one thread per library it is not inflated by other programs on a busy machine.
    """
    names = list(cases)
    short = {}
    for name in names:
        for _ in range(max(warmup, 1)):
            start = time.perf_counter()
            cases[name]()
            short[name] = time.perf_counter() - start < WARM_CALL_BELOW_S
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            time.sleep(PAUSE_S)
            if short[name]:
                cases[name]()  # wakes this library's worker threads (see the module docstring)
            start = clock()
            cases[name]()
            times[name].append(clock() - start)
    return times


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of numerator / denominator (samples of the same round are paired)."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def geometric_mean(values: list[float]) -> float:
    values = [v for v in values if v == v and v > 0]  # skip NaN (a missing measurement)
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}" if seconds == seconds else "-"


def ratio(value: float) -> str:
    return f"{value:.2f}x" if value == value else "-"
