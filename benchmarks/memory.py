"""Peak memory of one training step, each library alone in a fresh process.

    python -m benchmarks.memory scratchnet resnet20      # prints one line of JSON
    python -m benchmarks.memory torch resnet20

The child process builds the network (``benchmarks.models``), runs one untimed step on a batch of
2 (first-call work: kernels loaded from Numba's cache, the optimizer's state), then reads its
resident set, resets its high-water mark (``/proc/self/clear_refs``), runs ``--steps`` training
steps at the benchmark's batch size, and reads the high-water mark (``VmHWM``). The growth
between the two is what a training step needs on top of the model and the data: activations,
gradients and temporaries, whichever library allocated them (tracemalloc would see NumPy's
arrays but not PyTorch's). Not ``getrusage``'s ``ru_maxrss``: Linux carries it over from the
parent through fork and exec, so a child of the (large) benchmark process would report the
parent's size. A fresh process per library keeps one library's
freed-but-kept heap from hiding the other's growth; the scratchnet child never imports torch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]  # where ``-m benchmarks.memory`` imports from


def status_kib(field: str) -> int:
    """A field of ``/proc/self/status`` in KiB: VmRSS (resident now), VmHWM (its peak)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def measure(library: str, name: str, steps: int, threads: int) -> dict:
    """Run in the child: {"resident MiB": before the steps, "peak growth MiB": during them}."""
    from benchmarks.models import pair

    torch = None
    if library == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        import numba

        numba.set_num_threads(threads)
    mine, theirs, shape = pair(name, torch)
    if library == "torch":
        from benchmarks.run import torch_sgd_step as make_step

        model = theirs
        make = lambda x, t: make_step(torch, model, x, t)  # noqa: E731
    else:
        from benchmarks.run import sgd_step

        make = lambda x, t: sgd_step(mine, x, t)  # noqa: E731
    rng = np.random.default_rng(3)
    small = rng.standard_normal((2, *shape[1:]), dtype=np.float32)
    make(small, rng.integers(0, 10, 2))()  # first-call work, on a batch of 2
    x = rng.standard_normal(shape, dtype=np.float32)
    step = make(x, rng.integers(0, 10, shape[0]))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set
    before = status_kib("VmRSS")
    for _ in range(steps):
        step()
    peak = status_kib("VmHWM")
    return {"resident MiB": before / 1024, "peak growth MiB": (peak - before) / 1024}


def peak_step_memory(library: str, name: str, steps: int = 3, threads: int = 2) -> float:
    """Peak growth in MiB of ``steps`` training steps of ``name`` in a fresh process; NaN if the
    child fails (e.g. torchvision missing for the VGG twin)."""
    command = [sys.executable, "-m", "benchmarks.memory", library, name, f"--steps={steps}"]
    done = subprocess.run(
        [*command, f"--threads={threads}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPOSITORY,
    )
    if done.returncode != 0 or not done.stdout.strip():
        return float("nan")
    return json.loads(done.stdout.strip().splitlines()[-1])["peak growth MiB"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", choices=("scratchnet", "torch"))
    parser.add_argument("name", help="small_cnn, resnet20 or vgg11_bn")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.library, args.name, args.steps, args.threads)))


if __name__ == "__main__":
    main()
