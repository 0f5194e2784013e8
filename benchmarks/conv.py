"""Conv, max pooling and batch norm on the lecture's layer shapes: scratchnet, the floor, PyTorch.

For each layer (input shape -> output channels, kernel, stride, padding) it times, interleaved:

* conv2d forward, and forward + backward, on scratchnet's fast path (Numba kernels) and its
  reference path (plain NumPy), against the same-sized matrix products alone (the floor of any
  im2col convolution: ``W @ col`` forward, plus ``G @ col^T`` and ``W^T @ G`` backward) and against
  PyTorch's CPU convolution with the same number of threads;
* max pooling forward + backward on the convolution's output (2x2/2, or 3x3/2 pad 1 after the
  7x7 stem, as in VGG and ResNet), and batch norm (training mode) forward + backward, when
  ``scratchnet.ops.norm.batch_norm`` exists.

It prints medians (ms) and the medians of paired ratios, and their geometric means over the layers.

    python -m benchmarks.conv            # about four minutes on 2 cores
    python -m benchmarks.conv --quick    # fewer rounds, no reference path

On a busy shared machine, wall times of multi-threaded code swing by 2x and more. One thread per
library and CPU time give steadier ratios of the work done:

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m benchmarks.conv --cpu-time
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np

import scratchnet as sn
from benchmarks._timing import geometric_mean, interleaved, median, ms, paired_ratio, ratio
from scratchnet import backend
from scratchnet.ops.conv import conv2d
from scratchnet.ops.pool import max_pool2d

# (N, C, H, W), OC, kernel, stride, padding
LAYERS = [
    ((32, 64, 32, 32), 64, 3, 1, 1),
    ((8, 64, 56, 56), 64, 3, 1, 1),
    ((32, 64, 56, 56), 64, 1, 1, 0),
    ((8, 3, 224, 224), 64, 7, 2, 3),
    ((32, 256, 8, 8), 256, 3, 1, 1),
]


def layer_name(layer) -> str:
    (N, C, H, W), OC, k, s, p = layer
    return f"({N},{C},{H},{W})->{OC} {k}x{k}" + (f"/{s}" if s > 1 else "") + (f" p{p}" if p else "")


def optional_torch():
    try:
        torch = importlib.import_module("torch")
    except Exception:  # not installed, or a broken install
        return None
    import numba

    torch.set_num_threads(numba.get_num_threads())  # the same thread count as the Numba kernels
    return torch


def conv_cases(layer, torch, with_reference: bool):
    """{(op, path): callable} for one layer's conv2d forward and forward + backward."""
    (N, C, H, W), OC, k, s, p = layer
    rng = np.random.default_rng(0)
    x_data = rng.standard_normal((N, C, H, W), dtype=np.float32)
    w_data = rng.standard_normal((OC, C, k, k), dtype=np.float32) * 0.1
    b_data = rng.standard_normal(OC, dtype=np.float32)
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    gy = rng.standard_normal((N, OC, OH, OW), dtype=np.float32)
    x, w, b = (sn.tensor(a, requires_grad=True) for a in (x_data, w_data, b_data))

    def forward():
        with sn.no_grad():
            conv2d(x, w, b, stride=s, padding=p)

    def forward_backward():
        x.grad = w.grad = b.grad = None
        conv2d(x, w, b, stride=s, padding=p).backward(gy)

    def on_reference(fn):
        def run():
            with backend.reference_kernels():
                fn()

        return run

    # The floor: the matrix products of an im2col convolution, on preallocated arrays.
    R, NP = C * k * k, N * OH * OW
    col, w_rows, g_rows = (
        rng.standard_normal(shape, dtype=np.float32) for shape in ((R, NP), (OC, R), (OC, NP))
    )
    y_out, gw_out, gcol_out = (
        np.empty((OC, NP), np.float32),
        np.empty((OC, R), np.float32),
        np.empty((R, NP), np.float32),
    )

    def floor_forward():
        np.matmul(w_rows, col, out=y_out)

    def floor_forward_backward():
        np.matmul(w_rows, col, out=y_out)
        np.matmul(g_rows, col.T, out=gw_out)
        np.matmul(w_rows.T, g_rows, out=gcol_out)

    cases = {
        ("conv fwd", "fast"): forward,
        ("conv fwd", "floor"): floor_forward,
        ("conv fwd+bwd", "fast"): forward_backward,
        ("conv fwd+bwd", "floor"): floor_forward_backward,
    }
    if with_reference:
        cases[("conv fwd", "reference")] = on_reference(forward)
        cases[("conv fwd+bwd", "reference")] = on_reference(forward_backward)
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x_data, w_data, b_data))
        tg = torch.tensor(gy)

        def torch_forward():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p)

        def torch_forward_backward():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p).backward(tg)

        cases[("conv fwd", "torch")] = torch_forward
        cases[("conv fwd+bwd", "torch")] = torch_forward_backward
    return cases, (N, OC, OH, OW)


def pool_and_norm_cases(layer, shape, torch, with_reference: bool):
    """{(op, path): callable} for max pooling and batch norm on the conv's output shape."""
    rng = np.random.default_rng(1)
    # ResNet's stem pool after the 7x7, else VGG's 2x2.
    pool = (3, 2, 1) if layer[2] == 7 else (2, 2, 0)
    y_data = rng.standard_normal(shape, dtype=np.float32)
    y = sn.tensor(y_data, requires_grad=True)
    g_pool = rng.standard_normal(max_pool2d(y, *pool).shape, dtype=np.float32)
    g_norm = rng.standard_normal(shape, dtype=np.float32)

    def pool_fb():
        y.grad = None
        max_pool2d(y, *pool).backward(g_pool)

    def pool_reference():
        with backend.reference_kernels():
            pool_fb()

    cases = {("maxpool fwd+bwd", "fast"): pool_fb}
    if with_reference:
        cases[("maxpool fwd+bwd", "reference")] = pool_reference
    norm = _batch_norm()
    C = shape[1]
    if norm is not None:
        gamma, beta = (
            sn.tensor(np.ones(C, np.float32), requires_grad=True),
            sn.tensor(np.zeros(C, np.float32), requires_grad=True),
        )
        mean, var = sn.tensor(np.zeros(C, np.float32)), sn.tensor(np.ones(C, np.float32))

        def norm_fb():
            y.grad = gamma.grad = beta.grad = None
            norm(y, mean, var, gamma, beta, training=True).backward(g_norm)

        cases[("batchnorm fwd+bwd", "fast")] = norm_fb
    if torch is not None:
        ty = torch.tensor(y_data, requires_grad=True)
        tg_pool, tg_norm = torch.tensor(g_pool), torch.tensor(g_norm)
        t_gamma, t_beta = torch.ones(C, requires_grad=True), torch.zeros(C, requires_grad=True)
        t_mean, t_var = torch.zeros(C), torch.ones(C)

        def torch_pool_fb():
            ty.grad = None
            torch.nn.functional.max_pool2d(ty, *pool).backward(tg_pool)

        def torch_norm_fb():
            ty.grad = t_gamma.grad = t_beta.grad = None
            torch.nn.functional.batch_norm(
                ty, t_mean, t_var, t_gamma, t_beta, training=True
            ).backward(tg_norm)

        cases[("maxpool fwd+bwd", "torch")] = torch_pool_fb
        if norm is not None:
            cases[("batchnorm fwd+bwd", "torch")] = torch_norm_fb
    return cases


def _batch_norm():
    try:
        return importlib.import_module("scratchnet.ops.norm").batch_norm
    except (ImportError, AttributeError):
        return None


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, no reference path")
    parser.add_argument(
        "--rounds", type=int, default=None, help="samples per case (default 7, quick 3)"
    )
    parser.add_argument("--no-reference", action="store_true", help="skip the NumPy reference path")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument(
        "--column-buffer-mb",
        type=float,
        default=None,
        help="override numba_cpu.COLUMN_BUFFER_BYTES",
    )
    parser.add_argument(
        "--cpu-time", action="store_true", help="CPU time of all threads instead of wall time"
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    with_reference = not (args.quick or args.no_reference)
    # Load the kernels first: they choose Numba's thread pool, which is fixed once any Numba
    # threading call (such as get_num_threads below) has run.
    kernels = backend.fast_kernels_for(np.zeros(1))
    torch = None if args.no_torch else optional_torch()
    if args.column_buffer_mb is not None:
        kernels.COLUMN_BUFFER_BYTES = int(args.column_buffer_mb * 2**20)
    import numba

    print(
        f"float32, {numba.get_num_threads()} threads ({numba.threading_layer()} pool); "
        f"fast kernels: {kernels.__name__ if kernels else 'none'}; "
        f"torch {torch.__version__ if torch else 'not available'}; {rounds} interleaved rounds of "
        f"{'CPU' if args.cpu_time else 'wall'} time; "
        f"column buffer {kernels.COLUMN_BUFFER_BYTES / 2**20:.0f} MiB"
    )
    rows = []
    for layer in LAYERS:
        cases, shape = conv_cases(layer, torch, with_reference)
        cases |= pool_and_norm_cases(layer, shape, torch, with_reference)
        times = interleaved(
            cases, rounds, clock=time.process_time if args.cpu_time else time.perf_counter
        )
        for op in dict.fromkeys(op for op, _ in cases):
            get = lambda path, op=op, times=times: times.get((op, path))  # noqa: E731
            row = {"layer": layer_name(layer), "op": op}
            for path in ("fast", "reference", "floor", "torch"):
                row[path] = median(get(path)) if get(path) else float("nan")
            pairs = {
                "fast/torch": ("fast", "torch"),
                "fast/floor": ("fast", "floor"),
                "ref/torch": ("reference", "torch"),
            }
            for key, (a, b) in pairs.items():
                row[key] = paired_ratio(get(a), get(b)) if get(a) and get(b) else float("nan")
            rows.append(row)
    print_table(rows)
    return rows


def print_table(rows: list[dict]) -> None:
    header = (
        "| layer | op | fast ms | reference ms | floor ms | torch ms "
        "| fast/torch | fast/floor | ref/torch |"
    )
    print(header)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['layer']} | {r['op']} | {ms(r['fast'])} | {ms(r['reference'])} | "
            f"{ms(r['floor'])} | {ms(r['torch'])} | {ratio(r['fast/torch'])} | "
            f"{ratio(r['fast/floor'])} | {ratio(r['ref/torch'])} |"
        )
    for op in dict.fromkeys(r["op"] for r in rows):
        mine = [r for r in rows if r["op"] == op]
        means = {
            key: geometric_mean([r[key] for r in mine])
            for key in ("fast/torch", "fast/floor", "ref/torch")
        }
        print(
            f"| **geometric mean** | {op} | | | | | {ratio(means['fast/torch'])} | "
            f"{ratio(means['fast/floor'])} | {ratio(means['ref/torch'])} |"
        )


if __name__ == "__main__":
    main()
