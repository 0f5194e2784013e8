"""Timing helpers shared by the benchmarks: the fair clock, interleaved rounds, paired ratios.

The fair clock. On a small shared machine two libraries timed in one process disturb each other:
OpenBLAS's and PyTorch's worker threads keep spinning for a while after each call (OpenBLAS: 2^28
cycles, ~0.1 s; ``spin_after`` measures it, and ``python -m benchmarks`` prints what it measured)
and slow down whichever library runs next. So every timed sample, of either library, is taken

1. after a pause (``PAUSE_S``, 150 ms) longer than the other library's spin, so that its threads
   are idle and hold no core;
2. after one untimed warm call of the same library: after the pause this library's own threads
   are asleep too, and waking them costs up to a scheduler tick (~10 ms here) that a training
   loop, calling one op after another, never pays; the warm call also brings its arrays back
   into the caches, as in a loop.

(Shortening the spin with ``OPENBLAS_THREAD_TIMEOUT=4`` instead made OpenBLAS's sleeping threads
wake up late: skinny matrix products such as a convolution's weight gradient then stalled for
about 0.6 s, one call in two.) Other programs come and go, so the libraries are interleaved (one
sample of each per round, in a rotating order) and compared by the median of the per-round
ratios, which cancels most of the drift; the spread of those ratios (over rounds, or over whole
runs with ``--runs``) is reported next to it.
"""

from __future__ import annotations

import math
import resource
import statistics
import time
from collections.abc import Callable

PAUSE_S = 0.15  # between samples: longer than the worker threads' spin after a call


def interleaved(
    cases: dict[str, Callable[[], object]],
    rounds: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
    faults: dict[str, list[int]] | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of each case, one sample per case per round, in a rotating order.

    Each sample follows a pause and an untimed warm call (the fair clock of the module docstring).
    ``clock=time.process_time`` measures the CPU time of all the process's threads instead of the
    wall time: with one thread per library it is not inflated by other programs on a busy machine.
    ``faults``, if given, receives each timed call's minor page faults (``getrusage``: the whole
    process, which runs one library at a time).
    """
    names = list(cases)
    for name in names:
        for _ in range(max(warmup, 1)):
            cases[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            time.sleep(PAUSE_S)
            cases[name]()  # the warm call: wakes this library's worker threads
            faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = clock()
            cases[name]()
            times[name].append(clock() - start)
            if faults is not None:
                minflt = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                faults.setdefault(name, []).append(minflt - faults_before)
    return times


def spin_after(fn: Callable[[], object], window_s: float = 0.005, horizon_s: float = 0.5) -> float:
    """Seconds after ``fn()`` returns during which the process still burns CPU: its worker threads
    spinning while the calling thread sleeps. The last window of ``window_s`` that used more than
    a fifth of a core counts as busy; the result is rounded up to a window.
    """
    fn()
    fn()
    started = time.perf_counter()
    last_busy = 0.0
    cpu_before = time.process_time()
    while time.perf_counter() - started < horizon_s:
        time.sleep(window_s)
        cpu = time.process_time()
        if cpu - cpu_before > 0.2 * window_s:
            last_busy = time.perf_counter() - started
        cpu_before = cpu
    return last_busy


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def paired_ratios(numerator: list[float], denominator: list[float]) -> list[float]:
    """Numerator / denominator round by round (samples of the same round are paired)."""
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of numerator / denominator (samples of the same round are paired)."""
    return statistics.median(paired_ratios(numerator, denominator))


def geometric_mean(values: list[float]) -> float:
    values = [v for v in values if v == v and v > 0]  # skip NaN (a missing measurement)
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}" if seconds == seconds else "-"


def ratio(value: float) -> str:
    return f"{value:.2f}x" if value == value else "-"
