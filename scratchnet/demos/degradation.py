"""The degradation problem (He et al. 2015, Fig. 1 and Fig. 6; the lecture's "ResNet (1)").

A deeper plain network reaches a *higher training error* than a shallower one: the extra layers
could learn the identity and do no harm, yet the optimiser does not find that solution. This is
not overfitting (the training error itself is worse) and, with batch normalisation, not vanishing
gradients. Residual connections fix it: the residual net of the same depth trains better.

    python -m scratchnet.demos.degradation --out runs/degradation

trains three CIFAR-style networks from ``scratchnet.models`` (3x3 stem, three stages, global
average pooling; BN after every conv), identical except for depth and shortcuts:

* plain-20 (the shallow plain net), plain-56 (the deep plain net), ResNet-56 (deep, with identity
  shortcuts, option A);

on the same data in the same order with the same optimiser, and plots their training error per
epoch (``degradation.png``), writing the numbers to ``metrics.json``. The defaults (the bundled
digits, narrow stages of 8/16/32 channels, 8 epochs) finish in about a minute on one core;
``--depths``, ``--widths``, ``--epochs`` and ``--dataset`` scale it up (CIFAR-10 as in the paper
needs many hours on a CPU).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import scratchnet as sn
from scratchnet import optim
from scratchnet.data import DataLoader
from scratchnet.demos.common import DATASETS, limit, load_split, out_dir, with_channels, write_json
from scratchnet.models import cifar_resnet
from scratchnet.train import Trainer
from scratchnet.viz import plot_curves


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.demos.degradation", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits", help=f"one of {DATASETS}")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--depths", default="20,56", help="shallow,deep (each 6n+2)")
    parser.add_argument("--widths", default="8,16,32", help="channels of the three stages (paper: 16,32,64)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1, help="SGD, momentum 0.9, weight decay 1e-4 (the paper's)")
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/degradation")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out = out_dir(args.out)
    shallow, deep = (int(d) for d in args.depths.split(","))
    widths = tuple(int(w) for w in args.widths.split(","))
    train_set = with_channels(limit(load_split(args.dataset, "train", args.data_root), args.train_limit), 3)
    networks = {f"plain-{shallow}": (shallow, "none"), f"plain-{deep}": (deep, "none"), f"ResNet-{deep}": (deep, "A")}

    curves: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}
    for name, (depth, shortcut) in networks.items():
        sn.manual_seed(args.seed)  # every network: same init stream, same batches in the same order
        model = cifar_resnet(depth, train_set.num_classes, shortcut=shortcut, widths=widths)
        optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
        loader = DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed)
        trainer = Trainer(model, optimizer, progress=not args.no_progress)
        start, cpu_start = time.perf_counter(), time.process_time()
        history = trainer.fit(loader, None, args.epochs)
        seconds[name], cpu_seconds[name] = time.perf_counter() - start, time.process_time() - cpu_start
        curves[name] = [1 - a for a in history["train_accuracy"]]  # training error, epoch by epoch
        print(f"{name}: training error per epoch {[round(e, 4) for e in curves[name]]} ({seconds[name]:.0f} s)")

    final = {name: errors[-1] for name, errors in curves.items()}
    plain_shallow, plain_deep, residual_deep = (final[name] for name in networks)
    # Compare the whole second half of training, not one noisy epoch.
    late = {name: sum(e[len(e) // 2 :]) / len(e[len(e) // 2 :]) for name, e in curves.items()}
    degradation = late[f"plain-{deep}"] > late[f"plain-{shallow}"]
    residual_fixes_it = late[f"ResNet-{deep}"] < late[f"plain-{deep}"]
    title = f"{args.dataset}: training error (widths {'/'.join(map(str, widths))})"
    plot_curves(curves, out / "degradation.png", ylabel="training error", title=title,
                styles={f"plain-{shallow}": "--", f"plain-{deep}": "-", f"ResNet-{deep}": "-"})  # fmt: skip
    metrics = {
        "dataset": args.dataset, "widths": widths, "epochs": args.epochs, "batch_size": args.batch_size,
        "lr": args.lr, "training_error": curves, "final_training_error": final,
        "mean_training_error_second_half": late, "seconds": seconds, "cpu_seconds": cpu_seconds,
        "deep_plain_worse_than_shallow_plain": degradation, "deep_residual_better_than_deep_plain": residual_fixes_it,
    }  # fmt: skip
    write_json(out / "metrics.json", metrics)
    print(f"final training error: plain-{shallow} {plain_shallow:.4f}, plain-{deep} {plain_deep:.4f}, "
          f"ResNet-{deep} {residual_deep:.4f}")  # fmt: skip
    print(
        f"degradation shown: {degradation}; residual net better: {residual_fixes_it}; figure: {out / 'degradation.png'}"
    )
    return metrics


if __name__ == "__main__":
    main()
