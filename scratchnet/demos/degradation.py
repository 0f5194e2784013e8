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

on the same data in the same order with the same optimiser, once per seed (``--seeds 0,1,2``:
each seed changes the initial weights and the batch order, the same for all three nets). The figure
``degradation.png`` shows every seed's training-error curve (thin) and their mean (thick), and each
seed's final error. The verdicts, printed seed by seed, are the claims that hold in every seed we
ran:

1. plain-56 ends with a higher training error than plain-20 (degradation);
2. ResNet-56 ends with a lower training error than plain-56 (shortcuts fix it).

"ResNet-56 trains as well as plain-20" is *not* claimed: on the bundled digits at this size it
holds in some seeds and not others (a few points either way), and the verdict says so.

The defaults (the bundled digits, narrow stages of 8/16/32 channels, 8 epochs, 3 seeds) take about
a minute of CPU time per seed with one thread (``OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1``);
``--quick`` runs 2 seeds of 6 epochs. ``--depths``,
``--widths``, ``--epochs`` and ``--dataset`` scale it up (CIFAR-10 as in the paper needs hours).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

import scratchnet as sn
from scratchnet import optim
from scratchnet.data import DataLoader
from scratchnet.demos.common import (
    DATASETS,
    NamedTrainer,
    Say,
    add_common_options,
    demo_main,
    demo_run,
    int_list,
    limit,
    load_split,
    parameter_count,
    points,
    positive_int,
    seed_spread,
    verdict,
    with_channels,
)
from scratchnet.models import cifar_resnet
from scratchnet.viz.plots import pyplot
from scratchnet.viz.result import RunResult

QUICK = {"seeds": "0,1", "epochs": 6}  # the defaults cut to fit 1-2 minutes of class


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.demos.degradation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", default="digits", help=f"one of {DATASETS}")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--depths", default="20,56", help="shallow,deep (each 6n+2)")
    parser.add_argument(
        "--widths", default="8,16,32", help="channels of the three stages (paper: 16,32,64)"
    )
    parser.add_argument("--epochs", type=positive_int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--lr", type=float, default=0.1, help="SGD, momentum 0.9, weight decay 1e-4 (the paper's)"
    )
    parser.add_argument("--train-limit", type=int, default=None)
    add_common_options(parser, out="runs/degradation")
    return parser


def experiment(args: argparse.Namespace, say: Say) -> tuple[dict[str, Any], dict[str, Any]]:
    if args.quick:
        args.seeds, args.epochs = QUICK["seeds"], min(args.epochs, QUICK["epochs"])
    seeds = int_list(args.seeds)
    shallow, deep = int_list(args.depths)
    if not shallow < deep:
        raise ValueError(
            f"degradation: --depths is shallow,deep with shallow < deep, got {args.depths!r}"
        )
    widths = tuple(int_list(args.widths))
    train_set = with_channels(
        limit(load_split(args.dataset, "train", args.data_root), args.train_limit), 3
    )
    networks = {
        f"plain-{shallow}": (shallow, "none"),
        f"plain-{deep}": (deep, "none"),
        f"ResNet-{deep}": (deep, "A"),
    }
    plain_shallow, plain_deep, residual_deep = networks
    sizes = {
        name: parameter_count(cifar_resnet(d, train_set.num_classes, shortcut=s, widths=widths))
        for name, (d, s) in networks.items()
    }
    say(
        f"Training {', '.join(f'{n} ({sizes[n]:,} parameters)' for n in networks)} on {train_set}, "
        f"{args.epochs} epochs, seeds {seeds}."
    )
    say(
        f"Watch for: the deep plain net ({plain_deep}) ending with a HIGHER training error than "
        f"the shallow one ({plain_shallow}), and the residual net of the same depth "
        f"({residual_deep}) ending lower."
    )

    curves: dict[str, dict[int, list[float]]] = {name: {} for name in networks}
    seconds: dict[str, float] = dict.fromkeys(networks, 0.0)
    for seed in seeds:
        for name, (depth, shortcut) in networks.items():
            sn.manual_seed(seed)  # every network: same init stream, same batches in the same order
            model = cifar_resnet(depth, train_set.num_classes, shortcut=shortcut, widths=widths)
            optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
            loader = DataLoader(train_set, args.batch_size, shuffle=True, seed=seed)
            trainer = NamedTrainer(
                model,
                optimizer,
                device=args.device,
                progress=not args.no_progress,
                name=f"{name} seed {seed}",
            )
            start = time.perf_counter()
            history = trainer.fit(loader, None, args.epochs)
            seconds[name] += time.perf_counter() - start
            curves[name][seed] = [
                1 - a for a in history["train_accuracy"]
            ]  # training error, epoch by epoch
        say(
            f"seed {seed}: final training error "
            + ", ".join(f"{name} {curves[name][seed][-1]:.1%}" for name in networks)
        )

    final = {name: seed_spread([curves[name][s][-1] for s in seeds]) for name in networks}
    noise = max(
        final[name]["std"] for name in networks
    )  # the largest seed-to-seed spread of one net
    claims = {}
    for key, claim, worse, better in (
        (
            "degradation",
            f"{plain_deep} ends with a higher training error than {plain_shallow}",
            plain_deep,
            plain_shallow,
        ),
        (
            "residual_fixes_it",
            f"{residual_deep} ends with a lower training error than {plain_deep}",
            plain_deep,
            residual_deep,
        ),
        (
            "residual_as_good_as_shallow",
            f"{residual_deep} ends at or below {plain_shallow}",
            plain_shallow,
            residual_deep,
        ),
    ):
        effects = [curves[worse][s][-1] - curves[better][s][-1] for s in seeds]
        if key == "residual_as_good_as_shallow":
            effects = [e + 1e-12 for e in effects]  # a tie counts as "at or below"
        line, claims[key] = verdict(claim, effects, points, noise)
        say(line)
    figure = _figure(curves, final, seeds, args, widths)
    numbers = {
        "dataset": args.dataset,
        "widths": widths,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seeds": seeds,
        "parameters": sizes,
        "training_error": curves,
        "final_training_error": final,
        "noise": noise,
        "claims": claims,
        "seconds": seconds,
    }
    return numbers, {"degradation": figure}


def _figure(
    curves: dict[str, dict[int, list[float]]],
    final: dict[str, dict[str, Any]],
    seeds: list[int],
    args: argparse.Namespace,
    widths: tuple[int, ...],
) -> Any:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    colours = dict(zip(curves, ("tab:blue", "tab:red", "tab:green"), strict=True))
    styles = dict(zip(curves, ("--", "-", "-"), strict=True))
    epochs = np.arange(1, args.epochs + 1)
    for name, per_seed in curves.items():
        for seed in seeds:
            left.plot(
                epochs, per_seed[seed], styles[name], color=colours[name], linewidth=1, alpha=0.45
            )
        left.plot(
            epochs,
            np.mean([per_seed[s] for s in seeds], axis=0),
            styles[name],
            color=colours[name],
            linewidth=3.5,
            label=f"{name} (mean)",
        )
    left.set(
        xlabel="epoch",
        ylabel="training error",
        title=f"thin: each of {len(seeds)} seeds; thick: mean",
        ylim=(0, 1),
    )
    left.legend()
    for x, name in enumerate(curves):
        values = final[name]["per_seed"]
        jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
        right.scatter(x + np.asarray(jitter), values, s=80, color=colours[name], zorder=3)
        right.hlines(final[name]["mean"], x - 0.3, x + 0.3, color=colours[name], linewidth=3)
    right.set_xticks(range(len(curves)), list(curves))
    right.set(
        ylabel="final training error", title="last epoch, per seed", xlim=(-0.6, len(curves) - 0.4)
    )
    right.set_ylim(bottom=0)
    fig.suptitle(f"Degradation on {args.dataset} (stage widths {'/'.join(map(str, widths))})")
    return fig


def run(**options: Any) -> RunResult:
    """Run the demo with the command line's options as keywords, e.g. ``run(quick=True)``."""
    return demo_run(build_parser, experiment, options)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line; ``argv`` defaults to no arguments (never ``sys.argv``: notebook-safe)."""
    return demo_main(build_parser, experiment, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
