"""Microbenchmark: Winograd F(2x2, 3x3) (``kernels/numba_winograd.py``) against the im2col conv
(``scratchnet.nn.functional.conv2d``, its fast path) and PyTorch, on ResNet-20's and VGG-like 3x3
stride-1 layers, forward and forward+backward, float32.

    PYTHONPATH=. python tools/bench_winograd.py [--rounds 5] [--repeats 3] [--float64]
    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=. \
        python tools/bench_winograd.py --threads 1 --clock process

The second form counts the CPU time of one thread (``time.process_time``): on a machine shared
with other jobs, wall-clock times swing by 10x and more, while the CPU time a computation takes
moves little; it measures the work of each algorithm on one core (set the thread variables before
Python starts: NumPy's BLAS reads them at import).

Each round times every contender once per shape (best of ``repeats`` calls), interleaved, so that
the machine's load falls on all of them alike; the table gives the median over the rounds and the
range (min-max) of the per-round ratios. PyTorch runs with ``torch.set_num_threads(2)``. Numbers
from this script are the ones quoted in ``docs/concepts/winograd.md`` and in the selection rule of
``scratchnet/kernels/numba_winograd.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.kernels import numba_winograd as wino

SHAPES = [  # (N, C, H, W) -> K, 3x3, stride 1, padding 1
    ((64, 16, 32, 32), 16),  # ResNet-20 stage 1
    ((64, 32, 16, 16), 32),  # ResNet-20 stage 2
    ((64, 64, 8, 8), 64),  # ResNet-20 stage 3
    ((32, 64, 32, 32), 64),  # VGG-like
    ((16, 128, 28, 28), 128),  # VGG-like
]


CLOCKS = {"wall": time.perf_counter, "process": time.process_time}


def best_of(fn, repeats: int, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def contenders(x, w, b, gy, torch):
    """The contenders of one layer: {name: (forward, forward+backward)}, each a callable."""
    xt = sn.tensor(x, requires_grad=True)
    wt = sn.tensor(w, requires_grad=True)
    bt = sn.tensor(b, requires_grad=True)
    gyt = sn.tensor(gy)

    def im2col_fwd():
        with sn.no_grad():
            F.conv2d(xt, wt, bt, padding=1)

    def im2col_fwd_bwd():
        F.conv2d(xt, wt, bt, padding=1).backward(gyt)

    def wino_fwd():
        wino.winograd_conv2d_forward(x, w, b, 1)

    def wino_fwd_bwd():
        wino.winograd_conv2d_forward(x, w, b, 1)
        wino.winograd_conv2d_backward_input(gy, w, 1, x.shape)
        wino.winograd_conv2d_backward_weight(x, gy, 1)
        gy.sum(axis=(0, 2, 3))  # the bias gradient, as the conv computes it

    table = {"im2col": (im2col_fwd, im2col_fwd_bwd), "winograd": (wino_fwd, wino_fwd_bwd)}
    if torch is not None:
        tx = torch.tensor(x, requires_grad=True)
        tw = torch.tensor(w, requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        tgy = torch.tensor(gy)

        def torch_fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, padding=1)

        def torch_fwd_bwd():
            torch.nn.functional.conv2d(tx, tw, tb, padding=1).backward(tgy)

        table["torch"] = (torch_fwd, torch_fwd_bwd)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--float64", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch's threads")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    dtype = np.float64 if args.float64 else np.float32
    rng = np.random.default_rng(0)
    layers = []
    for (N, C, H, W), K in SHAPES:
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        w = rng.standard_normal((K, C, 3, 3)).astype(dtype)
        b = rng.standard_normal(K).astype(dtype)
        gy = rng.standard_normal((N, K, H, W)).astype(dtype)
        table = contenders(x, w, b, gy, torch)
        for forward, both in table.values():  # warm up: compile, allocate
            forward()
            both()
        layers.append(((N, C, H, W), K, table))
    times: dict = {}  # (layer, name, pass) -> [seconds per round]
    for _ in range(args.rounds):
        for index, (_, _, table) in enumerate(layers):
            for name, (forward, both) in table.items():
                times.setdefault((index, name, "fwd"), []).append(
                    best_of(forward, args.repeats, clock)
                )
                times.setdefault((index, name, "f+b"), []).append(
                    best_of(both, args.repeats, clock)
                )
    print(
        f"{np.dtype(dtype).name}, {args.clock} clock, torch threads {args.threads}, "
        f"{args.rounds} rounds, best of {args.repeats}; ms = median"
    )
    header = "layer                      pass  im2col ms  winograd ms  wino/im2col"
    print(header + ("  torch ms  wino/torch" if torch is not None else ""))
    for index, (shape, K, table) in enumerate(layers):
        for step in ("fwd", "f+b"):
            im2col, winograd = times[(index, "im2col", step)], times[(index, "winograd", step)]
            ratios = [a / b for a, b in zip(winograd, im2col, strict=True)]
            line = (
                f"{shape!s:18} -> {K:<4} {step}  {statistics.median(im2col) * 1e3:9.2f}"
                f"  {statistics.median(winograd) * 1e3:11.2f}  {statistics.median(ratios):.2f}"
                f" ({min(ratios):.2f}-{max(ratios):.2f})"
            )
            if "torch" in table:
                torch_times = times[(index, "torch", step)]
                vs_torch = [a / b for a, b in zip(winograd, torch_times, strict=True)]
                torch_ms = statistics.median(torch_times) * 1e3
                line += (
                    f"  {torch_ms:8.2f}  {statistics.median(vs_torch):.2f}"
                    f" ({min(vs_torch):.2f}-{max(vs_torch):.2f})"
                )
            print(line)


if __name__ == "__main__":
    main()
