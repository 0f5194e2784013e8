"""The benchmark suite: scratchnet vs PyTorch CPU, the matrix-product floor, DeZero, the reference.

    python -m benchmarks              # all sections, about 6 minutes on 2 cores
    python -m benchmarks --quick      # 2 rounds, fewer shapes, no reference path: 2-3 minutes
    python -m benchmarks --only ops,train --out /tmp/bench
    python -m benchmarks --only train --runs 3    # ratio ranges over 3 whole runs

Sections:

* ``ops``: conv2d (the layer list of ``benchmarks/conv.py``), max/avg pooling, batch norm, ReLU,
  linear, softmax cross-entropy; each forward (under no_grad) and forward + backward (with a random
  upstream gradient). Convolutions are also compared with their matrix products alone ("floor").
* ``train``: one SGD step (momentum 0.9: forward, cross-entropy, backward, update) of the small
  CNN (64x1x28x28), ResNet-20 (64x3x32x32) and VGG-11-BN (16x3x64x64; its torch twin comes from
  torchvision, when it imports). From the ResNet-20 step: a CIFAR-10 epoch estimate (50,000
  images / batch 64 x the median step), and the peak memory of a step, each library alone in a
  fresh process (``benchmarks/memory.py``).
* ``infer``: VGG16 and ResNet-50, 1x3x224x224, eval mode, no_grad (torch twins from torchvision).
* ``dispatch``: a chain of 1,000 ``x = x + 1.0`` on a 4-element tensor that requires grad; the
  time per op, forward only (the graph is recorded) and forward + backward.

Every case runs each library once per round, in a rotating order, each timed call after a pause
and an untimed warm call (the fair clock of ``_timing.py``); the table shows medians, the medians
of the per-round ratios with their range (over rounds, or over runs with ``--runs``), and the
minor page faults per call. The torch twin of each network has the same weights
(``benchmarks/models.py``) and uses the same thread count as Numba. Peak memory is the growth of
the process's peak resident set (VmHWM, reset through ``/proc/self/clear_refs``) during one call:
it counts NumPy's and PyTorch's allocations alike. It is measured in a second pass, after every
timing, because the malloc setting it needs would slow the timed calls down (see
``measure_memory``). Results go to ``latest.md`` and ``latest.json`` in ``./benchmark-results/``
(ignored by git; or ``--out``). The committed ``benchmarks/results/`` holds the published run: a
quick or local run never overwrites it unless given ``--out benchmarks/results``.

On a machine where another program holds a core, two OpenBLAS threads wait for each other and
matrix products slow down 2-10x at random; one thread per library, and its CPU time rather than
the wall time, give steadier numbers:

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m benchmarks --quick --cpu-time
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

import scratchnet as sn
from benchmarks import _timing
from benchmarks._timing import geometric_mean, interleaved, median, paired_ratios
from benchmarks.conv import LAYERS, layer_name, optional_torch
from benchmarks.memory import peak_step_memory
from benchmarks.models import pair
from scratchnet import backend
from scratchnet.nn import functional as F

PATHS = ("fast", "reference", "torch", "floor", "dezero")
RATIOS = {
    "fast/torch": ("fast", "torch"),
    "fast/floor": ("fast", "floor"),
    "fast/dezero": ("fast", "dezero"),
    "ref/torch": ("reference", "torch"),
}
CIFAR_IMAGES, CIFAR_BATCH = 50_000, 64  # a CIFAR-10 epoch at the ResNet-20 row's batch size


# ----------------------------------------------------------------------------------- memory
def _glibc():
    """The C library, where it is glibc (for ``mallopt`` and ``malloc_trim``); None elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def set_mmap_threshold(size: int) -> bool:
    """Ask glibc to serve allocations below ``size`` bytes from its heap (``M_MMAP_THRESHOLD``).

    By default glibc moves this threshold between 128 KiB and 32 MiB as blocks are freed; an
    array above it gets fresh pages from the kernel on every allocation, and each page costs a
    fault when first written. Returns False where it cannot be set (not glibc).
    """
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(-3, size))  # M_MMAP_THRESHOLD = -3


def fix_malloc_threshold() -> None:
    """Make glibc hand every block of 64 KiB or more back to the system when it is freed.

    By default glibc raises its mmap threshold after the first large free (up to 32 MiB), keeps
    later blocks in its heap, and the resident set then stops tracking what is in use: a NumPy
    op that reuses freed heap pages shows no growth at all. A fixed threshold makes the peak-RSS
    growth comparable between NumPy and PyTorch (both allocate through malloc).
    """
    set_mmap_threshold(64 * 1024)


def peak_rss_growth(fn) -> float:
    """Bytes by which the process's peak resident set grows during ``fn()`` (Linux; else NaN).

    Free memory that glibc still holds (from the timed calls before) is handed back first, so that
    ``fn`` reusing it shows up as growth too.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
    except OSError:
        return float("nan")
    before = _status_kib("VmRSS")
    fn()
    return (_status_kib("VmHWM") - before) * 1024.0


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# -------------------------------------------------------------------------------- the cases
def optional_dezero():
    """DeZero when it imports. Its 0.0.13 release still names ``np.int`` (gone in NumPy 2.0)."""
    try:
        if not hasattr(np, "int"):
            np.int = int  # type: ignore[attr-defined]  # only so that this old release imports
        import dezero
        import dezero.functions
        import dezero.layers
        import dezero.optimizers
    except Exception:
        return None
    return dezero


def op_pair(sn_fn, torch_fn, arrays, torch, dz_fn=None, dezero=None, reference=True, floor=None):
    """{(op, path): callable} for an op's forward and forward + backward on float32 ``arrays``.

    ``arrays`` need gradients (the first is the input); an int array (targets) is passed as is.
    """
    rng = np.random.default_rng(2)
    mine = [sn.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    with sn.no_grad():
        y_shape = sn_fn(*mine).shape
    gy = rng.standard_normal(y_shape).astype(np.float32)
    # Made once, outside the timed call, as torch's ``tg`` below: sn.tensor copies its data (until
    # 2026-12-06 it was made inside, which timed an 8 MB copy and a fresh allocation per call).
    my_gy = sn.tensor(gy)

    def forward():
        with sn.no_grad():
            sn_fn(*mine)

    def forward_backward():
        for t in mine:
            t.grad = None
        sn_fn(*mine).backward(my_gy)

    def on_reference(fn):
        def run():
            with backend.reference_kernels():
                fn()

        return run

    cases = {("fwd", "fast"): forward, ("fwd+bwd", "fast"): forward_backward}
    if reference:
        cases |= {
            ("fwd", "reference"): on_reference(forward),
            ("fwd+bwd", "reference"): on_reference(forward_backward),
        }
    if floor is not None:
        cases |= {("fwd", "floor"): floor[0], ("fwd+bwd", "floor"): floor[1]}
    if torch is not None:
        theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        tg = torch.tensor(gy)

        def torch_forward():
            with torch.no_grad():
                torch_fn(*theirs)

        def torch_forward_backward():
            for t in theirs:
                t.grad = None
            torch_fn(*theirs).backward(tg)

        cases |= {("fwd", "torch"): torch_forward, ("fwd+bwd", "torch"): torch_forward_backward}
    if dezero is not None and dz_fn is not None:
        dz = [dezero.Variable(a) for a in arrays]

        def dezero_forward():
            with dezero.no_grad():
                dz_fn(*dz)

        def dezero_forward_backward():
            for v in dz:
                v.cleargrad()
            y = dz_fn(*dz)
            y.grad = dezero.Variable(gy.reshape(y.shape))
            y.backward()

        cases |= {("fwd", "dezero"): dezero_forward, ("fwd+bwd", "dezero"): dezero_forward_backward}
    return cases


def conv_floor(N, C, OC, k, OH, OW):
    """An im2col convolution's matrix products on preallocated arrays: (fwd, fwd+bwd) callables."""
    rng = np.random.default_rng(0)
    R, P = C * k * k, N * OH * OW
    col, w_rows, g_rows = (
        rng.standard_normal(s, dtype=np.float32) for s in ((R, P), (OC, R), (OC, P))
    )
    y, gw, gcol = (
        np.empty((OC, P), np.float32),
        np.empty((OC, R), np.float32),
        np.empty((R, P), np.float32),
    )

    def forward():
        np.matmul(w_rows, col, out=y)

    def forward_backward():
        forward()
        np.matmul(g_rows, col.T, out=gw)
        np.matmul(w_rows.T, g_rows, out=gcol)

    return forward, forward_backward


def ops_benchmarks(torch, dezero, quick: bool, reference: bool):
    """Yield (op, shape label, cases) for every op benchmark."""
    rng = np.random.default_rng(0)
    layers = LAYERS[:3] if quick else LAYERS
    tF = torch.nn.functional if torch else None
    dF = dezero.functions if dezero else None
    for layer in layers:
        (N, C, H, W), OC, k, s, p = layer
        x = rng.standard_normal((N, C, H, W), dtype=np.float32)
        w = rng.standard_normal((OC, C, k, k), dtype=np.float32) * 0.1
        b = rng.standard_normal(OC, dtype=np.float32)
        OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
        yield (
            "conv2d",
            layer_name(layer),
            op_pair(
                lambda x, w, b, s=s, p=p: F.conv2d(x, w, b, stride=s, padding=p),
                lambda x, w, b, s=s, p=p: tF.conv2d(x, w, b, stride=s, padding=p),
                [x, w, b],
                torch,
                dz_fn=lambda x, w, b, s=s, p=p: dF.conv2d(x, w, b, s, p),
                dezero=dezero,
                reference=reference,
                floor=conv_floor(N, C, OC, k, OH, OW),
            ),
        )
        y = rng.standard_normal((N, OC, OH, OW), dtype=np.float32)
        # ResNet's stem pool after the 7x7, else VGG's 2x2.
        pool = (3, 2, 1) if k == 7 else (2, 2, 0)
        label = f"({N},{OC},{OH},{OW}) {pool[0]}x{pool[0]}/{pool[1]}"
        yield (
            "max_pool2d",
            label,
            op_pair(
                lambda y, pool=pool: F.max_pool2d(y, *pool),
                lambda y, pool=pool: tF.max_pool2d(y, *pool),
                [y],
                torch,
                dz_fn=(lambda y: dF.pooling(y, 2, 2)) if pool == (2, 2, 0) else None,
                dezero=dezero,
                reference=reference,
            ),
        )
        yield (
            "avg_pool2d",
            label,
            op_pair(
                lambda y, pool=pool: F.avg_pool2d(y, *pool),
                lambda y, pool=pool: tF.avg_pool2d(y, *pool),
                [y],
                torch,
                reference=reference,
            ),
        )
        mean, var = np.zeros(OC, np.float32), np.ones(OC, np.float32)
        gamma, beta = (
            rng.standard_normal(OC).astype(np.float32),
            rng.standard_normal(OC).astype(np.float32),
        )
        yield (
            "batch_norm",
            f"({N},{OC},{OH},{OW}) train",
            op_pair(
                lambda y, g, bt, mean=mean, var=var: F.batch_norm(
                    y, sn.tensor(mean.copy()), sn.tensor(var.copy()), g, bt, training=True
                ),
                lambda y, g, bt, mean=mean, var=var: tF.batch_norm(
                    y, torch.tensor(mean), torch.tensor(var), g, bt, training=True
                ),
                [y, gamma, beta],
                torch,
                reference=reference,
            ),
        )
        yield (
            "relu",
            f"({N},{OC},{OH},{OW})",
            op_pair(
                F.relu,
                tF.relu if tF else None,
                [y],
                torch,
                dz_fn=dF.relu if dF else None,
                dezero=dezero,
                reference=reference,
            ),
        )
    for batch, fan_in, fan_out in [(256, 1024, 1024), (64, 3136, 128)]:
        x = rng.standard_normal((batch, fan_in), dtype=np.float32)
        w = rng.standard_normal((fan_out, fan_in), dtype=np.float32) * 0.03
        b = rng.standard_normal(fan_out, dtype=np.float32)
        yield (
            "linear",
            f"({batch},{fan_in})->{fan_out}",
            op_pair(
                F.linear,
                tF.linear if tF else None,
                [x, w, b],
                torch,
                dz_fn=(lambda x, w, b: dF.linear(x, w.T, b)) if dF else None,
                dezero=dezero,
                reference=reference,
            ),
        )
    for batch, classes in [(256, 1000), (64, 10)]:
        logits = rng.standard_normal((batch, classes), dtype=np.float32)
        target = rng.integers(0, classes, batch)
        yield (
            "cross_entropy",
            f"({batch},{classes})",
            op_pair(
                F.cross_entropy,
                tF.cross_entropy if tF else None,
                [logits, target],
                torch,
                dz_fn=dF.softmax_cross_entropy if dF else None,
                dezero=dezero,
                reference=reference,
            ),
        )


def train_benchmarks(torch, dezero, quick: bool, reference: bool):
    """Yield (network, shape label, cases) for one SGD step of each training network."""
    for name in ("small_cnn", "resnet20", "vgg11_bn"):
        mine, theirs, shape = pair(name, torch)
        rng = np.random.default_rng(3)
        x = rng.standard_normal(shape, dtype=np.float32)
        target = rng.integers(0, 10, shape[0])
        cases = {("train step", "fast"): sgd_step(mine, x, target)}
        if reference and name == "small_cnn":  # the reference path on the larger nets takes minutes
            step = sgd_step(mine, x, target)

            def reference_step(step=step):
                with backend.reference_kernels():
                    step()

            cases[("train step", "reference")] = reference_step
        if theirs is not None:
            cases[("train step", "torch")] = torch_sgd_step(torch, theirs, x, target)
        if dezero is not None and name == "small_cnn":
            cases[("train step", "dezero")] = dezero_small_cnn_step(dezero, mine, x, target)
        yield name, "x".join(map(str, shape)), cases


def sgd_step(model, x, target):
    model.train()
    optimizer = sn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xt, tt = sn.tensor(x), sn.tensor(target)

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(xt), tt).backward()
        optimizer.step()

    return step


def torch_sgd_step(torch, model, x, target):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xt, tt = torch.from_numpy(x), torch.from_numpy(target)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), tt).backward()
        optimizer.step()

    return step


def dezero_small_cnn_step(dezero, mine, x, target):
    """The small CNN in DeZero (its own Conv2d, pooling, Linear), with scratchnet's weights."""
    L, dF = dezero.layers, dezero.functions
    weights = [np.array(p.array) for p in mine.parameters()]  # conv1 W, b, conv2 W, b, fc1 ...

    class SmallCNN(dezero.Model):
        def __init__(self):
            super().__init__()
            self.conv1 = L.Conv2d(32, 3, 1, 1, in_channels=1)
            self.conv2 = L.Conv2d(64, 3, 1, 1, in_channels=32)
            self.fc1, self.fc2 = L.Linear(128, in_size=64 * 7 * 7), L.Linear(10, in_size=128)

        def forward(self, x):
            x = dF.pooling(dF.relu(self.conv1(x)), 2, 2)
            x = dF.pooling(dF.relu(self.conv2(x)), 2, 2)
            x = dF.relu(self.fc1(dF.reshape(x, (x.shape[0], -1))))
            return self.fc2(x)

    model = SmallCNN()
    layers = (model.conv1, model.conv2, model.fc1, model.fc2)
    for layer, w, b in zip(layers, weights[::2], weights[1::2], strict=True):
        layer.W.data = w if w.ndim == 4 else w.T.copy()  # DeZero's Linear weight is (in, out)
        layer.b.data = b
    optimizer = dezero.optimizers.MomentumSGD(lr=0.01, momentum=0.9).setup(model)

    def step():
        model.cleargrads()
        dF.softmax_cross_entropy(model(x), target).backward()
        optimizer.update()

    return step


def infer_benchmarks(torch, quick: bool):
    for name in ("vgg16", "resnet50"):
        mine, theirs, shape = pair(name, torch)
        x = np.random.default_rng(4).standard_normal(shape, dtype=np.float32)
        mine.eval()
        xt = sn.tensor(x)

        def forward(mine=mine, xt=xt):
            with sn.no_grad():
                mine(xt)

        cases = {("inference", "fast"): forward}
        if theirs is not None:
            theirs.eval()
            tx = torch.from_numpy(x)

            def torch_forward(theirs=theirs, tx=tx):
                with torch.no_grad():
                    theirs(tx)

            cases[("inference", "torch")] = torch_forward
        yield name, "x".join(map(str, shape)), cases


def dispatch_benchmarks(torch, dezero):
    """A chain of 1,000 ``x + 1.0``: time per op is the Python overhead of one op."""
    length = 1000
    data = np.ones(4, np.float32)

    def chain(make, add_one):
        def forward():  # records the graph, as in training
            x = make()
            for _ in range(length):
                x = add_one(x)

        def forward_backward():
            x0 = make()
            x = x0
            for _ in range(length):
                x = add_one(x)
            x.sum().backward() if hasattr(x, "sum") else x.backward()

        return forward, forward_backward

    cases = {}
    mine = chain(lambda: sn.tensor(data, requires_grad=True), lambda x: x + 1.0)
    cases |= {("chain fwd", "fast"): mine[0], ("chain fwd+bwd", "fast"): mine[1]}
    if torch is not None:
        theirs = chain(lambda: torch.tensor(data, requires_grad=True), lambda x: x + 1.0)
        cases |= {("chain fwd", "torch"): theirs[0], ("chain fwd+bwd", "torch"): theirs[1]}
    if dezero is not None:
        dz = chain(lambda: dezero.Variable(data.copy()), lambda x: x + 1.0)
        cases |= {("chain fwd", "dezero"): dz[0], ("chain fwd+bwd", "dezero"): dz[1]}
    yield "add (per op)", f"1,000 ops on {data.shape}", cases


# --------------------------------------------------------------------------------- the run
def measure(section, name, label, cases, rounds, clock=time.perf_counter):
    """Rows (one per op of the cases): medians per path, paired ratios with their range over
    rounds, and the median minor page faults per call of each path."""
    faults: dict = {}
    times = interleaved(cases, rounds, clock=clock, faults=faults)
    rows = []
    for op in dict.fromkeys(op for op, _ in cases):
        get = lambda path, op=op: times.get((op, path))  # noqa: E731
        row = {"section": section, "name": name, "shape": label, "op": op}
        for path in PATHS:
            row[path] = median(get(path)) if get(path) else float("nan")
            if (op, path) in faults:
                row[f"{path} faults"] = median(faults[(op, path)])
        for key, (a, b) in RATIOS.items():
            both = get(a) and get(b)
            ratios = paired_ratios(get(a), get(b)) if both else [float("nan")]
            row[key] = median(ratios)
            row[f"{key} range"] = (min(ratios), max(ratios))
        if section == "dispatch":
            for path in PATHS:
                row[path] = row[path] / 1000  # per op
        rows.append(row)
    return rows


def merge_runs(runs: list[list[dict]]) -> list[dict]:
    """One row per case from several whole runs: the median over runs of each median and ratio,
    and each ratio's range over the runs (one run: its range over rounds, as measured)."""
    if len(runs) == 1:
        return runs[0]
    merged = []
    for same in zip(*runs, strict=True):
        row = dict(same[0])
        for key in row:
            values = [r[key] for r in same]
            if isinstance(row[key], int | float) and not key.endswith("range"):
                row[key] = median(values)
        for key in RATIOS:
            finite = [r[key] for r in same if r[key] == r[key]]
            row[f"{key} range"] = (min(finite), max(finite)) if finite else (math.nan, math.nan)
        row["runs"] = len(runs)
        merged.append(row)
    return merged


def add_step_memory(rows: list[dict], torch, quick: bool) -> None:
    """Peak memory of a training step per library, each in a fresh process (benchmarks/memory.py).

    Quick runs measure ResNet-20 only. The children use this process's thread count.
    """
    import numba

    threads = numba.get_num_threads()
    for row in rows:
        if row["section"] != "train" or (quick and row["name"] != "resnet20"):
            continue
        row["fast step MiB"] = peak_step_memory("scratchnet", row["name"], threads=threads)
        if torch is not None:
            row["torch step MiB"] = peak_step_memory("torch", row["name"], threads=threads)


def epoch_minutes(step_seconds: float) -> float:
    """Minutes for a CIFAR-10 epoch (50,000 images, batches of 64) at ``step_seconds`` a step."""
    return CIFAR_IMAGES / CIFAR_BATCH * step_seconds / 60


def measure_memory(rows, section, name, label, cases, memory_ops) -> None:
    """Add the peak-memory growth of one call of each ``memory_ops`` case to its row (after a
    warm-up call).

    Run after all the timings, once ``fix_malloc_threshold`` has made the resident set track what
    is in use: that setting also makes every large allocation fresh pages from the kernel, whose
    page faults would inflate the times of whichever library allocates more.
    """
    for op in memory_ops:
        key = (section, name, label, op)
        row = next(r for r in rows if (r["section"], r["name"], r["shape"], r["op"]) == key)
        for path in ("fast", "torch"):
            if (op, path) in cases:
                call = cases[(op, path)]
                call()  # warm-up: first-call allocations (optimizer state, compiled kernels)
                row[f"{path} peak MiB"] = peak_rss_growth(call) / 2**20


def all_benchmarks(sections, torch, dezero, quick: bool, reference: bool):
    """Yield (section, name, shape label, cases, ops whose peak memory is measured)."""
    if "ops" in sections:
        for name, label, cases in ops_benchmarks(torch, dezero, quick, reference):
            yield "ops", name, label, cases, ("fwd+bwd",) if name == "conv2d" else ()
    if "train" in sections:
        for name, label, cases in train_benchmarks(torch, dezero, quick, reference):
            yield "train", name, label, cases, ("train step",)
    if "infer" in sections:
        for name, label, cases in infer_benchmarks(torch, quick):
            yield "infer", name, label, cases, ("inference",)
    if "dispatch" in sections:
        for name, label, cases in dispatch_benchmarks(torch, dezero):
            yield "dispatch", name, label, cases, ()


def machine() -> dict:
    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    import os

    info["cpus"] = os.cpu_count()
    try:
        import threadpoolctl

        info["blas"] = [
            f"{p['internal_api']} {p.get('version')} ({p.get('threading_layer')}, "
            f"{p['num_threads']} threads, {p.get('architecture')}) from {Path(p['filepath']).name}"
            for p in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds, 3 conv layers, no ref")
    parser.add_argument("--rounds", type=int, default=None, help="per case (default 5, quick 2)")
    parser.add_argument("--runs", type=int, default=1, help="whole runs: ranges over them")
    parser.add_argument("--only", default="ops,train,infer,dispatch", help="sections, by commas")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="CPU time of the process instead of wall time (with one thread per library: steady "
        "on a busy machine)",
    )
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-dezero", action="store_true")
    # Not benchmarks/results: that folder is the committed, published run (see the docstring).
    parser.add_argument("--out", default="benchmark-results", help="for latest.md and .json")
    parser.add_argument(
        "--mmap-threshold-mib",
        type=float,
        default=None,
        help="fix glibc's mmap threshold for the timings (both libraries), e.g. 32: see "
        "docs/performance.md",
    )
    args = parser.parse_args(argv)
    if args.mmap_threshold_mib:
        set_mmap_threshold(int(args.mmap_threshold_mib * 2**20))
    rounds = args.rounds or (2 if args.quick else 5)
    reference = not (args.quick or args.no_reference)
    kernels = backend.fast_kernels_for(np.zeros(1))  # fixes Numba's thread pool before torch loads
    torch = None if args.no_torch else optional_torch()
    dezero = None if args.no_dezero else optional_dezero()
    import numba

    threshold = args.mmap_threshold_mib
    info = machine() | {
        "threads": numba.get_num_threads(),
        "numba": f"{numba.__version__} ({numba.threading_layer()} pool)",
        "fast kernels": kernels.__name__ if kernels else "none",
        "torch": torch.__version__ if torch else "not available",
        "torchvision": _torchvision_version(torch),
        "dezero": getattr(dezero, "__version__", "available") if dezero else "not available",
        "rounds": rounds,
        "runs": args.runs,
        "mmap threshold": f"{threshold:g} MiB" if threshold else "glibc default",
        "pause_ms": _timing.PAUSE_S * 1e3,
        "clock": "CPU time (process_time)" if args.cpu_time else "wall (perf_counter)",
        "spin_ms": spin_times(torch),
    }
    print(", ".join(f"{k}: {v}" for k, v in info.items()), flush=True)
    sections = args.only.split(",")
    started = time.perf_counter()
    clock = time.process_time if args.cpu_time else time.perf_counter
    runs: list[list[dict]] = []
    for _ in range(args.runs):
        rows: list[dict] = []
        for section, name, label, cases, _ in all_benchmarks(
            sections, torch, dezero, args.quick, reference
        ):
            rows += measure(section, name, label, cases, rounds, clock)
            if section != "dispatch":
                print(format_row(rows[-1]), flush=True)
        runs.append(rows)
    rows = merge_runs(runs)
    add_step_memory(rows, torch, args.quick)
    fix_malloc_threshold()
    for section, name, label, cases, memory_ops in all_benchmarks(
        sections, torch, dezero, args.quick, False
    ):
        if memory_ops:
            measure_memory(rows, section, name, label, cases, memory_ops)
    info["seconds"] = round(time.perf_counter() - started, 1)
    markdown = to_markdown(rows, info)
    print(markdown)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(markdown)
    finite = [{key: _null_nan(value) for key, value in row.items()} for row in rows]
    (out / "latest.json").write_text(
        json.dumps({"machine": info, "rows": finite}, indent=1, default=str)
    )
    return rows


def _null_nan(value):
    """JSON has no NaN: a missing measurement (NaN, alone or in a range) becomes null."""
    if isinstance(value, tuple):
        return [_null_nan(v) for v in value]
    return None if value != value else value


def _torchvision_version(torch) -> str:
    try:
        import torchvision
    except Exception:  # not installed, or built for another torch
        return "not available"
    return torchvision.__version__ if torch else "not used"


def spin_times(torch) -> dict:
    """How long each library's worker threads keep a core busy after a call, in ms (the pause
    between samples must be longer: see ``_timing.py``)."""
    a = np.random.default_rng(0).standard_normal((512, 512), dtype=np.float32)
    spins = {"numpy matmul": _timing.spin_after(lambda: a @ a)}
    if torch is not None:
        ta = torch.from_numpy(a)
        x, w = ta.reshape(1, 16, 128, 128), ta.reshape(-1)[: 16 * 16 * 9].reshape(16, 16, 3, 3)
        spins["torch matmul"] = _timing.spin_after(lambda: ta @ ta)
        spins["torch conv2d"] = _timing.spin_after(lambda: torch.nn.functional.conv2d(x, w))
    return {name: round(seconds * 1e3) for name, seconds in spins.items()}


def _ms(value: float, section: str = "") -> str:
    if value != value:
        return "-"
    return f"{value * 1e6:.1f} us" if section == "dispatch" else f"{value * 1e3:.1f}"


def _x(value: float) -> str:
    return f"{value:.2f}x" if value == value else "-"


def _number(row: dict, key: str) -> str:
    value = row.get(key, float("nan"))
    return f"{value:.0f}" if value == value else "-"


def _range(row: dict, key: str) -> str:
    low, high = row.get(f"{key} range", (math.nan, math.nan))
    return f"{low:.2f}-{high:.2f}" if low == low else "-"


HEADER = (
    "| section | name | shape | op | fast ms | ref ms | torch ms | floor ms | dezero ms "
    "| fast/torch | range | fast/floor | fast/dezero | ref/torch "
    "| peak MiB fast / torch | faults/call fast / torch |"
)


def format_row(r: dict) -> str:
    sec = r["section"]
    times = " | ".join(_ms(r[p], sec) for p in ("fast", "reference", "torch", "floor", "dezero"))
    ratios = " | ".join(_x(r[k]) for k in RATIOS if k != "fast/torch")
    return (
        f"| {sec} | {r['name']} | {r['shape']} | {r['op']} | {times} | "
        f"{_x(r['fast/torch'])} | {_range(r, 'fast/torch')} | {ratios} | "
        f"{_number(r, 'fast peak MiB')} / {_number(r, 'torch peak MiB')} | "
        f"{_number(r, 'fast faults')} / {_number(r, 'torch faults')} |"
    )


def to_markdown(rows: list[dict], info: dict) -> str:
    over = f"over {info['runs']} runs" if info.get("runs", 1) > 1 else "over rounds"
    lines = [
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in info.items()),
        "",
        f"Ratios: medians of the paired per-round ratios; range: lowest-highest {over}.",
        "",
        HEADER,
        "|" + "---|" * 4 + "---:|" * 12,
    ]
    lines += [format_row(r) for r in rows]
    lines += _training_tables(rows)
    lines += [
        "",
        "| geometric mean over shapes | op | fast/torch | fast/floor | fast/dezero | ref/torch |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in dict.fromkeys(r["name"] for r in rows if r["section"] == "ops"):
        for op in ("fwd", "fwd+bwd"):
            mine = [r for r in rows if r["name"] == name and r["op"] == op]
            means = [geometric_mean([r[k] for r in mine]) for k in RATIOS]
            lines.append(f"| {name} | {op} | " + " | ".join(_x(m) for m in means) + " |")
    return "\n".join(lines) + "\n"


def _training_tables(rows: list[dict]) -> list[str]:
    """The CIFAR-10 epoch estimate and each step's peak memory in a fresh process."""
    train = [r for r in rows if r["section"] == "train"]
    lines = []
    for r in train:
        if r["name"] == "resnet20":
            fast, torch = epoch_minutes(r["fast"]), epoch_minutes(r["torch"])
            lines += [
                "",
                f"CIFAR-10 epoch estimate, ResNet-20 ({CIFAR_IMAGES:,} images / batch "
                f"{CIFAR_BATCH} x the median step): scratchnet {fast:.1f} min, torch "
                + (f"{torch:.1f} min" if torch == torch else "-")
                + f" ({_x(r['fast/torch'])}, range {_range(r, 'fast/torch')}).",
            ]
    measured = [r for r in train if "fast step MiB" in r]
    if measured:
        lines += [
            "",
            "| training step | peak growth MiB, fresh process: scratchnet | torch | ratio |",
            "|---|---:|---:|---:|",
        ]
        for r in measured:
            fast, torch = r["fast step MiB"], r.get("torch step MiB", math.nan)
            lines.append(
                f"| {r['name']} {r['shape']} | {fast:.0f} | "
                + (f"{torch:.0f} | {_x(fast / torch)} |" if torch == torch else "- | - |")
            )
    return lines


if __name__ == "__main__":
    main()
