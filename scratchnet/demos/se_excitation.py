"""What Squeeze-and-Excitation blocks learn (Hu et al. 2018, Fig. 6; slide "Attentions (2)").

Each SE block computes one excitation per channel, s_c in (0, 1), from the whole image and scales
channel c by it. The paper (and the lecture) observe that in early layers the excitations are
about the same whatever the class (they emphasise general, class-agnostic features) while in
later layers they differ from class to class (class-specific features).

    python -m scratchnet.demos.se_excitation --out runs/se

trains a small CIFAR-style SE-ResNet (``scratchnet.models.SEBasicBlock``, one block per stage by
default) on the bundled digits, runs the test images through it, and averages every SE block's
excitation per class. ``se_excitation.png`` shows, for the earliest and the latest block, the mean
excitation of each class per channel; ``metrics.json`` gives each block's *class spread*: how far
apart the classes' mean excitations are (their standard deviation over classes, averaged over
channels; 0 = class-agnostic).

The claim is checked against noise and a baseline: the run is repeated for several seeds
(``--seeds 0,1,2,3,4``), and each seed's *untrained* network (same architecture, initial weights)
gives the spread that chance alone produces. The verdict says in how many seeds the late block is
more class-specific than the early one, and than the untrained net's late block. Defaults: 5 seeds,
8 epochs (3 seeds took 25 s of CPU time, one thread); ``--quick``: 2 seeds, 4 epochs.
"""

from __future__ import annotations

import argparse
import sys
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
    positive_int,
    seed_spread,
    verdict,
    with_channels,
)
from scratchnet.function import no_grad
from scratchnet.models.resnet import ResNet
from scratchnet.models.senet import SEBasicBlock, SEBlock
from scratchnet.tensor import Tensor
from scratchnet.train import evaluate
from scratchnet.viz.plots import pyplot
from scratchnet.viz.result import RunResult

QUICK = {"seeds": "0,1", "epochs": 4}  # well under a minute


def collect_excitations(
    model: Any, images: np.ndarray, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Every SE block's excitations for ``images``: name -> (N, C), from ``last_excitation``."""
    blocks = [(name, m) for name, m in model.named_modules() if isinstance(m, SEBlock)]
    collected: dict[str, list[np.ndarray]] = {name: [] for name, _ in blocks}
    model.eval()
    with no_grad():
        for start in range(0, len(images), batch_size):
            model(Tensor(np.ascontiguousarray(images[start : start + batch_size])))
            for name, block in blocks:
                collected[name].append(np.asarray(block.last_excitation))
    return {name: np.concatenate(parts) for name, parts in collected.items()}


def class_spread(excitation: np.ndarray, labels: np.ndarray) -> float:
    """How much the mean excitation differs between classes: for every channel, the standard
    deviation over classes of the class's mean excitation, averaged over channels.

    0 means every class gets the same excitation (class-agnostic); the excitation is in (0, 1),
    so values near 0.1 or more mean clearly different channels are emphasised for each class.
    """
    means = np.stack([excitation[labels == k].mean(axis=0) for k in np.unique(labels)])  # (K, C)
    return float(means.astype(np.float64).std(axis=0).mean())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.demos.se_excitation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", default="digits", help=f"one of {DATASETS}")
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--blocks", type=positive_int, default=1, help="SE residual blocks per stage"
    )
    parser.add_argument("--widths", default="16,32,64", help="channels of the three stages")
    parser.add_argument("--reduction", type=positive_int, default=4, help="SE reduction ratio r")
    parser.add_argument("--epochs", type=positive_int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--train-limit", type=int, default=None)
    add_common_options(parser, out="runs/se_excitation", seeds="0,1,2,3,4")  # cheap: 5 seeds
    return parser


def experiment(args: argparse.Namespace, say: Say) -> tuple[dict[str, Any], dict[str, Any]]:
    if args.quick:
        args.seeds, args.epochs = QUICK["seeds"], min(args.epochs, QUICK["epochs"])
    seeds = int_list(args.seeds)
    train_set = with_channels(
        limit(load_split(args.dataset, "train", args.data_root), args.train_limit), 3
    )
    test_set = with_channels(load_split(args.dataset, "test", args.data_root), 3)
    widths = tuple(int_list(args.widths))
    images, labels = test_set.get_batch(np.arange(len(test_set)))

    def build() -> ResNet:
        return ResNet(
            SEBasicBlock,
            [args.blocks] * len(widths),
            train_set.num_classes,
            widths=widths,
            cifar_stem=True,
            shortcut="A",
            block_kwargs={"reduction": args.reduction},
        )

    say(
        f"Training an SE-ResNet ({len(widths)} stages of {args.blocks} SE block(s), widths "
        f"{widths}, {parameter_count(build()):,} parameters) on {train_set}, {args.epochs} "
        f"epochs, seeds {seeds}."
    )
    say(
        "Watch for: in the EARLY block every class gets about the same excitation per channel "
        "(lines on top of each other); in the LATE block the classes' lines come apart "
        "(class-specific channels)."
    )
    spreads: dict[int, dict[str, float]] = {}
    untrained: dict[int, dict[str, float]] = {}
    accuracy: dict[int, float] = {}
    shown: dict[str, np.ndarray] = {}
    for seed in seeds:
        sn.manual_seed(seed)
        model = build()
        untrained[seed] = {
            n: class_spread(e, labels) for n, e in collect_excitations(model, images).items()
        }
        optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
        loader = DataLoader(train_set, args.batch_size, shuffle=True, seed=seed)
        trainer = NamedTrainer(
            model,
            optimizer,
            device=args.device,
            progress=not args.no_progress,
            name=f"SE-ResNet seed {seed}",
        )
        trainer.fit(loader, None, args.epochs)
        accuracy[seed] = float(
            evaluate(model, DataLoader(test_set, 256), device=args.device)["accuracy"]
        )
        model.to("cpu")
        excitations = collect_excitations(model, images)
        spreads[seed] = {name: class_spread(e, labels) for name, e in excitations.items()}
        if not shown:
            shown = excitations  # the first seed's excitations are drawn
        names = list(spreads[seed])
        say(
            f"seed {seed}: test accuracy {accuracy[seed]:.1%}; class spread early ({names[0]}) "
            f"{spreads[seed][names[0]]:.3f}, late ({names[-1]}) {spreads[seed][names[-1]]:.3f}; "
            f"untrained net: {untrained[seed][names[0]]:.3f} / {untrained[seed][names[-1]]:.3f}"
        )

    names = list(shown)
    early, late = names[0], names[-1]
    claims = {}
    fmt = "{:+.3f}".format
    noise = max(seed_spread([spreads[s][n] for s in seeds])["std"] for n in (early, late))
    line, claims["late_more_class_specific_than_early"] = verdict(
        "the late block's excitations differ more between classes than the early block's",
        [spreads[s][late] - spreads[s][early] for s in seeds],
        fmt,
        noise,
    )
    say(line)
    line, claims["late_more_class_specific_than_untrained"] = verdict(
        "training makes the late block class-specific (trained vs untrained spread)",
        [spreads[s][late] - untrained[s][late] for s in seeds],
        fmt,
        noise,
    )
    say(line)
    numbers = {
        "dataset": args.dataset,
        "epochs": args.epochs,
        "widths": widths,
        "reduction": args.reduction,
        "seeds": seeds,
        "test_accuracy": seed_spread(list(accuracy.values())),
        "early_block": early,
        "late_block": late,
        "class_spread": {n: seed_spread([spreads[s][n] for s in seeds]) for n in names},
        "untrained_class_spread": {n: seed_spread([untrained[s][n] for s in seeds]) for n in names},
        "claims": claims,
    }
    figure = _figure(shown, labels, test_set.classes, spreads, untrained, seeds)
    return numbers, {"se_excitation": figure}


def _figure(
    excitations: dict[str, np.ndarray],
    labels: np.ndarray,
    classes: list[str],
    spreads: dict[int, dict[str, float]],
    untrained: dict[int, dict[str, float]],
    seeds: list[int],
) -> Any:
    names = list(excitations)
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.6, 1.1]})
    colours = plt.get_cmap("tab10")
    for ax, name, stage in ((axes[0], names[0], "early"), (axes[1], names[-1], "late")):
        s = excitations[name]
        for k in range(len(classes)):
            ax.plot(
                s[labels == k].mean(axis=0), color=colours(k % 10), linewidth=1.5, label=classes[k]
            )
        ax.plot(s.mean(axis=0), color="black", linewidth=3, linestyle="--", label="all")
        ax.set(xlabel="channel", ylim=(0, 1), title=f"{stage}: {name}\n(seed {seeds[0]})")
    axes[0].set_ylabel("mean excitation of a class")
    fig.legend(
        *axes[1].get_legend_handles_labels(), loc="outside lower center", ncol=11, title="class"
    )
    ax = axes[2]
    x = np.arange(len(names))
    for i, seed in enumerate(seeds):
        ax.plot(
            x,
            [spreads[seed][n] for n in names],
            marker="o",
            color="tab:purple",
            alpha=0.8,
            label="trained (each seed)" if i == 0 else None,
        )
        ax.plot(
            x,
            [untrained[seed][n] for n in names],
            marker="s",
            linestyle=":",
            color="grey",
            label="untrained (each seed)" if i == 0 else None,
        )
    ax.set_xticks(x, [f"{i + 1}" for i in x])
    ax.set(xlabel="SE block (1 = earliest)", ylabel="class spread", title="spread, per seed")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    fig.suptitle("Squeeze-and-excitation: class-agnostic early, class-specific late")
    return fig


def run(**options: Any) -> RunResult:
    """Run the demo with the command line's options as keywords, e.g. ``run(quick=True)``."""
    return demo_run(build_parser, experiment, options)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line; ``argv`` defaults to no arguments (never ``sys.argv``: notebook-safe)."""
    return demo_main(build_parser, experiment, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
