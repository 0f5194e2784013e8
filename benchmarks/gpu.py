"""scratchnet on the GPU (CuPy) against PyTorch (cuDNN) on the same GPU, at matched precision.

Two parts, each timed for both libraries in one run, interleaved round by round:

* conv2d forward, and forward + backward, on the layer shapes of ``benchmarks/conv.py`` with the
  batch doubled until PyTorch's forward takes at least 1 ms (GPU timings of tiny calls measure the
  launch overhead only), next to the "floor": cuBLAS running just the matrix products of an im2col
  convolution on preallocated arrays;
* a full ResNet-50 training step (batch 32, 3x224x224, SGD with momentum and weight decay): forward,
  cross-entropy, backward, update. Both models start from the same weights, and the first step's
  losses are reported side by side as a sanity check.

Precision is matched both ways, and both are reported, each in its own subprocess (CuPy reads
``CUPY_TF32`` when it is imported):

* ``fp32``: strict FP32 on both sides (``torch.backends.cudnn.allow_tf32 = False``,
  ``torch.backends.cuda.matmul.allow_tf32 = False``; CuPy's default);
* ``tf32``: TF32 tensor cores on both sides (PyTorch's default for convolutions, plus
  ``allow_tf32`` for its matrix products; ``CUPY_TF32=1`` for CuPy's cuBLAS calls).

Every timing is bracketed by ``synchronize()`` on the GPU; the tables give medians (ms), the median
of the per-round ratios scratchnet / PyTorch, and the peak GPU memory of each library during one
call or step (PyTorch's ``max_memory_allocated``; scratchnet's
``scratchnet.cuda.max_memory_allocated``, measured by a CuPy memory hook after the timings, so the
hook costs no time); memory is given for forward + backward, with only that case's tensors alive.

scratchnet's ``conv2d`` builds its column matrix a few images at a time into a buffer of
``scratchnet.kernels.cupy_gpu.GPU_COLUMN_BUFFER_BYTES`` on the GPU (1 GiB by default; 8 MiB on the
CPU); ``--column-buffer-mb`` overrides it, and the output says which size ran.

    python benchmarks/gpu.py                 # both precisions, about 3-4 minutes on an H100
    python benchmarks/gpu.py --quick         # fewer rounds and layers
    python benchmarks/gpu.py --precision fp32

Writes ``gpu.md`` and ``gpu.json`` to ``$OUT`` when set, else to ``./benchmark-results``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks._timing import geometric_mean, median, paired_ratio
from benchmarks.conv import LAYERS, layer_name

MiB = 2**20
MIN_CALL_S = 1e-3  # each conv call should take at least this long in PyTorch
MAX_BATCH = 4096


# --------------------------------------------------------------------------- timing on a GPU


def interleaved_gpu(cases: dict, rounds: int, warmup: int, synchronize) -> dict[str, list[float]]:
    """Seconds per call of each case: one sample per case per round, rotating the order; the GPU
    is synchronized before and after every sample, so queued work is counted where it belongs."""
    names = list(cases)
    for name in names:
        for _ in range(warmup):
            cases[name]()
    synchronize()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            synchronize()
            start = time.perf_counter()
            cases[name]()
            synchronize()
            times[name].append(time.perf_counter() - start)
    return times


def torch_resnet50(torch):
    """torchvision's ResNet-50 (v1.5: stride in the 3x3), or the same network written out here."""
    try:
        import torchvision

        return torchvision.models.resnet50()
    except Exception:  # torchvision missing or broken: the same layers and parameter names
        pass
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, cin, c, stride):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c)
            self.conv2, self.bn2 = nn.Conv2d(c, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c)
            self.conv3, self.bn3 = nn.Conv2d(c, 4 * c, 1, bias=False), nn.BatchNorm2d(4 * c)
            self.relu = nn.ReLU()
            self.downsample = None
            if stride != 1 or cin != 4 * c:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, 4 * c, 1, stride, bias=False), nn.BatchNorm2d(4 * c)
                )

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return self.relu(y + (x if self.downsample is None else self.downsample(x)))

    class ResNet50(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
            self.relu, self.maxpool = nn.ReLU(), nn.MaxPool2d(3, 2, 1)
            cin, stages = 64, []
            for c, count, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
                blocks = [Bottleneck(cin, c, stride)] + [
                    Bottleneck(4 * c, c, 1) for _ in range(count - 1)
                ]
                stages.append(nn.Sequential(*blocks))
                cin = 4 * c
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(2048, 1000)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet50()


# ------------------------------------------------------------------- one precision, in a worker


def worker(precision: str, quick: bool, column_buffer_mb: float) -> dict:
    """Run every measurement at one precision; return the results (run in a subprocess).

    First all timings, then (with scratchnet's memory hook installed, which would slow the timings)
    the peak memory of each case, built afresh so that nothing else is alive on the GPU.
    """
    import cupy
    import torch

    import scratchnet as sn
    from scratchnet.io.torch_weights import torch_state_dict_to_numpy
    from scratchnet.kernels import cupy_gpu
    from scratchnet.models.resnet import resnet50
    from scratchnet.nn import functional as F

    tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = (
        True  # cuDNN picks its fastest algorithm per shape, as usual in training
    )
    cupy_gpu.GPU_COLUMN_BUFFER_BYTES = int(column_buffer_mb * MiB)

    def sync():
        torch.cuda.synchronize()
        cupy.cuda.Device().synchronize()

    rounds, warmup = (5, 2) if quick else (10, 3)
    info = {
        "precision": precision,
        "device": sn.cuda.get_device_name(),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "cupy": cupy.__version__,
        "CUPY_TF32": os.environ.get("CUPY_TF32", ""),
        "column_buffer_mb": column_buffer_mb,
        "rounds": rounds,
    }
    print(f"[{precision}] {info}", flush=True)

    def batch_for(layer) -> int:
        """The layer's batch, doubled until PyTorch's forward takes MIN_CALL_S."""
        (N, C, H, W), OC, k, s, p = layer
        while True:
            tx, tw = torch.randn(N, C, H, W, device="cuda"), torch.randn(OC, C, k, k, device="cuda")
            for _ in range(3):
                torch.nn.functional.conv2d(tx, tw, stride=s, padding=p)
            sync()
            start = time.perf_counter()
            for _ in range(5):
                torch.nn.functional.conv2d(tx, tw, stride=s, padding=p)
            sync()
            if (time.perf_counter() - start) / 5 >= MIN_CALL_S or N >= MAX_BATCH:
                return N
            N *= 2

    def conv_cases(layer, N, with_floor: bool) -> dict:
        (_, C, H, W), OC, k, s, p = layer
        OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
        rng = np.random.default_rng(0)
        x_data = rng.standard_normal((N, C, H, W), dtype=np.float32)
        w_data = (rng.standard_normal((OC, C, k, k)) * 0.1).astype(np.float32)
        b_data = rng.standard_normal(OC).astype(np.float32)
        g_data = rng.standard_normal((N, OC, OH, OW), dtype=np.float32)
        x, w, b = (
            sn.tensor(a, device="cuda", requires_grad=True) for a in (x_data, w_data, b_data)
        )
        g = sn.tensor(g_data, device="cuda")
        tx, tw, tb = (
            torch.tensor(a, device="cuda", requires_grad=True) for a in (x_data, w_data, b_data)
        )
        tg = torch.tensor(g_data, device="cuda")

        def sn_fwd():
            with sn.no_grad():
                F.conv2d(x, w, b, stride=s, padding=p)

        def sn_fb():
            x.grad = w.grad = b.grad = None
            F.conv2d(x, w, b, stride=s, padding=p).backward(g)

        def torch_fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p)

        def torch_fb():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p).backward(tg)

        cases = {
            ("fwd", "scratchnet"): sn_fwd,
            ("fwd", "torch"): torch_fwd,
            ("fwd+bwd", "scratchnet"): sn_fb,
            ("fwd+bwd", "torch"): torch_fb,
        }
        if with_floor:  # the matrix products of an im2col convolution alone, on preallocated arrays
            R, NP = C * k * k, N * OH * OW
            col, w_rows, g_rows = (
                cupy.ones(shape, dtype=cupy.float32) for shape in ((R, NP), (OC, R), (OC, NP))
            )
            y_out, gw_out, gcol_out = (
                cupy.empty((OC, NP), cupy.float32),
                cupy.empty((OC, R), cupy.float32),
                col.copy(),
            )

            def floor_fwd():
                cupy.matmul(w_rows, col, out=y_out)

            def floor_fb():
                cupy.matmul(w_rows, col, out=y_out)
                cupy.matmul(g_rows, col.T, out=gw_out)
                cupy.matmul(w_rows.T, g_rows, out=gcol_out)

            cases |= {("fwd", "floor"): floor_fwd, ("fwd+bwd", "floor"): floor_fb}
        return cases

    def resnet_cases() -> tuple[dict, dict]:
        batch = 32
        torch.manual_seed(0)
        tmodel = torch_resnet50(torch).train()
        smodel = resnet50()
        smodel.load_state_dict(torch_state_dict_to_numpy(tmodel.state_dict()))  # the same weights
        tmodel.cuda()
        smodel.to("cuda").train()
        rng = np.random.default_rng(0)
        images = rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)
        labels = rng.integers(0, 1000, batch)
        sx, st = sn.tensor(images, device="cuda"), sn.tensor(labels, device="cuda")
        tx, tt = torch.tensor(images, device="cuda"), torch.tensor(labels, device="cuda")
        s_opt = sn.optim.SGD(smodel.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        t_opt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        first_losses = {}

        def sn_step():
            loss = F.cross_entropy(smodel(sx), st)
            s_opt.zero_grad()
            loss.backward()
            s_opt.step()
            first_losses.setdefault("scratchnet", loss)

        def torch_step():
            loss = torch.nn.functional.cross_entropy(tmodel(tx), tt)
            t_opt.zero_grad()
            loss.backward()
            t_opt.step()
            first_losses.setdefault("torch", loss)

        return {"scratchnet": sn_step, "torch": torch_step}, first_losses

    def release():
        sync()
        sn.cuda.empty_cache()
        torch.cuda.empty_cache()

    # ----------------------------------------------------------------- timings
    layers = LAYERS[:3] if quick else LAYERS
    batches = [batch_for(layer) for layer in layers]
    conv_rows = []
    for layer, N in zip(layers, batches, strict=True):
        times = interleaved_gpu(conv_cases(layer, N, with_floor=True), rounds, warmup, sync)
        for op in ("fwd", "fwd+bwd"):
            mine, theirs, floor = (
                times[(op, "scratchnet")],
                times[(op, "torch")],
                times[(op, "floor")],
            )
            row = {
                "layer": layer_name(layer),
                "N": N,
                "op": op,
                "scratchnet_ms": median(mine) * 1e3,
                "torch_ms": median(theirs) * 1e3,
                "floor_ms": median(floor) * 1e3,
                "ratio": paired_ratio(mine, theirs),
                "floor_ratio": paired_ratio(mine, floor),
            }
            conv_rows.append(row)
            print(f"[{precision}] {row}", flush=True)
        release()

    steps, first_losses = resnet_cases()
    times = interleaved_gpu(steps, 4 if quick else 8, warmup, sync)
    resnet = {
        "batch": 32,
        "scratchnet_ms": median(times["scratchnet"]) * 1e3,
        "torch_ms": median(times["torch"]) * 1e3,
        "ratio": paired_ratio(times["scratchnet"], times["torch"]),
        "first_loss_scratchnet": float(first_losses["scratchnet"].item()),
        "first_loss_torch": float(first_losses["torch"].item()),
    }
    print(f"[{precision}] resnet50 {resnet}", flush=True)
    del steps, first_losses
    release()

    # --------------------------------------------------------- peak memory, after all timings
    def peaks(sn_fn, torch_fn) -> tuple[float, float]:
        """Peak MiB in use during one call of each (after a first, unmeasured call of each)."""
        sn_fn()
        torch_fn()
        sync()
        sn.cuda.reset_peak_memory_stats()  # installs the memory hook on the first call
        sn_fn()
        sync()
        torch.cuda.reset_peak_memory_stats()
        torch_fn()
        sync()
        return sn.cuda.max_memory_allocated() / MiB, torch.cuda.max_memory_allocated() / MiB

    for layer, N in zip(layers, batches, strict=True):
        cases = conv_cases(layer, N, with_floor=False)
        scratchnet_mib, torch_mib = peaks(
            cases[("fwd+bwd", "scratchnet")], cases[("fwd+bwd", "torch")]
        )
        for row in conv_rows:
            if row["layer"] == layer_name(layer) and row["op"] == "fwd+bwd":
                row["scratchnet_peak_mib"], row["torch_peak_mib"] = scratchnet_mib, torch_mib
        del cases
        release()
    steps, _ = resnet_cases()
    resnet["scratchnet_peak_mib"], resnet["torch_peak_mib"] = peaks(
        steps["scratchnet"], steps["torch"]
    )
    return {"info": info, "conv": conv_rows, "resnet50": resnet}


# --------------------------------------------------------------------------- report


def markdown(results: list[dict]) -> str:
    lines = []
    for result in results:
        info = result["info"]
        name = "strict FP32" if info["precision"] == "fp32" else "TF32"
        lines += [
            f"### {name} on {info['device']}",
            "",
            f"torch {info['torch']} (cuDNN {info['cudnn']}), CuPy {info['cupy']}, "
            f"CUPY_TF32={info['CUPY_TF32'] or 'unset'}, {info['rounds']} interleaved rounds, "
            f"scratchnet column buffer {info['column_buffer_mb']:.0f} MiB.",
            "",
            "| layer | batch | op | scratchnet ms | torch ms | cuBLAS floor ms "
            "| scratchnet / torch | scratchnet / floor | scratchnet peak MiB | torch peak MiB |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in result["conv"]:
            memory = (
                f"{r['scratchnet_peak_mib']:.0f} | {r['torch_peak_mib']:.0f}"
                if "torch_peak_mib" in r
                else "- | -"
            )
            lines.append(
                f"| {r['layer']} | {r['N']} | {r['op']} | {r['scratchnet_ms']:.2f} | "
                f"{r['torch_ms']:.2f} | {r['floor_ms']:.2f} | {r['ratio']:.2f}x | "
                f"{r['floor_ratio']:.2f}x | {memory} |"
            )
        for op in ("fwd", "fwd+bwd"):
            ratios = [r["ratio"] for r in result["conv"] if r["op"] == op]
            lines.append(
                f"| **geometric mean** | | {op} | | | | {geometric_mean(ratios):.2f}x | | | |"
            )
        m = result["resnet50"]
        lines += [
            "",
            "| ResNet-50 training step, batch 32 | scratchnet ms | torch ms | scratchnet / torch "
            "| scratchnet peak MiB | torch peak MiB | first loss (scratchnet, torch) |",
            "|---|---:|---:|---:|---:|---:|---|",
            f"| SGD, momentum 0.9 | {m['scratchnet_ms']:.1f} | {m['torch_ms']:.1f} | "
            f"{m['ratio']:.2f}x | {m['scratchnet_peak_mib']:.0f} | {m['torch_peak_mib']:.0f} | "
            f"{m['first_loss_scratchnet']:.4f}, {m['first_loss_torch']:.4f} |",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=["fp32", "tf32", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="3 layers, fewer rounds")
    parser.add_argument(
        "--column-buffer-mb", type=float, default=1024.0, help="scratchnet's conv column buffer"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds for each precision's subprocess"
    )
    # Internal: the worker writes this precision's JSON here.
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = worker(args.precision, args.quick, args.column_buffer_mb)
        Path(args.worker).write_text(json.dumps(result, indent=1))
        return 0

    out_dir = Path(os.environ.get("OUT") or "benchmark-results")
    out_dir.mkdir(parents=True, exist_ok=True)
    results, failures = [], []
    for precision in ["fp32", "tf32"] if args.precision == "both" else [args.precision]:
        env = dict(os.environ)
        env.pop("CUPY_TF32", None)
        if precision == "tf32":
            env["CUPY_TF32"] = "1"  # read by CuPy at import: hence one subprocess per precision
        path = out_dir / f"gpu-{precision}.json"
        command = [
            sys.executable,
            __file__,
            "--worker",
            str(path),
            "--precision",
            precision,
            "--column-buffer-mb",
            str(args.column_buffer_mb),
        ] + (["--quick"] if args.quick else [])
        try:
            done = subprocess.run(command, env=env, timeout=args.timeout, check=False)
            ok = done.returncode == 0 and path.exists()
        except subprocess.TimeoutExpired:
            ok = False
        if ok:
            results.append(json.loads(path.read_text()))
        else:
            failures.append(precision)
            print(f"{precision}: the benchmark subprocess failed or timed out", flush=True)
    report = markdown(results)
    print(report)
    (out_dir / "gpu.md").write_text(report)
    (out_dir / "gpu.json").write_text(
        json.dumps({"results": results, "failed": failures}, indent=1)
    )
    print(f"written to {out_dir}/gpu.md and gpu.json")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
