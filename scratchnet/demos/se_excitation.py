"""What Squeeze-and-Excitation blocks learn (Hu et al. 2018, Fig. 6; the lecture's "Attentions (2)").

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
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import scratchnet as sn
from scratchnet import optim
from scratchnet.data import DataLoader
from scratchnet.demos.common import DATASETS, limit, load_split, out_dir, with_channels, write_json
from scratchnet.function import no_grad
from scratchnet.models.resnet import ResNet
from scratchnet.models.senet import SEBasicBlock, SEBlock
from scratchnet.tensor import Tensor
from scratchnet.train import evaluate, fit
from scratchnet.viz.plots import finish, pyplot


def collect_excitations(model: Any, images: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Every SE block's excitations for ``images``: name -> (N, C), read from ``last_excitation``."""
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.demos.se_excitation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", default="digits", help=f"one of {DATASETS}")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--blocks", type=int, default=1, help="SE residual blocks per stage")
    parser.add_argument("--widths", default="16,32,64", help="channels of the three stages")
    parser.add_argument("--reduction", type=int, default=4, help="SE reduction ratio r")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/se_excitation")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out = out_dir(args.out)
    sn.manual_seed(args.seed)
    train_set = with_channels(limit(load_split(args.dataset, "train", args.data_root), args.train_limit), 3)
    test_set = with_channels(load_split(args.dataset, "test", args.data_root), 3)
    widths = tuple(int(w) for w in args.widths.split(","))
    model = ResNet(SEBasicBlock, [args.blocks] * len(widths), train_set.num_classes, widths=widths, cifar_stem=True,
                   shortcut="A", block_kwargs={"reduction": args.reduction})  # fmt: skip
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    loader = DataLoader(train_set, args.batch_size, shuffle=True)
    fit(model, loader, None, optimizer, args.epochs, progress=not args.no_progress)
    test = evaluate(model, DataLoader(test_set, 256))
    print(f"SE-ResNet test accuracy {test['accuracy']:.4f}")

    images, labels = test_set.get_batch(np.arange(len(test_set)))
    excitations = collect_excitations(model, images)
    spreads = {name: class_spread(s, labels) for name, s in excitations.items()}
    for name, spread in spreads.items():
        print(f"{name}: {excitations[name].shape[1]} channels, spread of the mean excitation over classes {spread:.3f}")

    names = list(excitations)
    shown = [names[0], names[-1]] if len(names) > 1 else names
    plt = pyplot()
    fig, axes = plt.subplots(1, len(shown), figsize=(6 * len(shown), 3.8), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, name in zip(axes[0], shown, strict=True):
        s = excitations[name]
        for k in range(train_set.num_classes):
            ax.plot(s[labels == k].mean(axis=0), color=colours(k % 10), linewidth=1, label=test_set.classes[k])
        ax.plot(s.mean(axis=0), color="black", linewidth=2, linestyle="--", label="all")
        stage = "early" if name == shown[0] else "late"
        ax.set(xlabel="channel", ylabel="mean excitation", ylim=(0, 1),
               title=f"{stage}: {name} (class spread {spreads[name]:.3f})")  # fmt: skip
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    finish(fig, out / "se_excitation.png")

    metrics = {"dataset": args.dataset, "epochs": args.epochs, "widths": widths, "reduction": args.reduction,
               "test_accuracy": test["accuracy"], "class_spread": spreads,
               "early_block": names[0], "late_block": names[-1],
               "late_more_class_specific": spreads[names[-1]] > spreads[names[0]]}  # fmt: skip
    write_json(out / "metrics.json", metrics)
    print(f"class-specific later (late spread {spreads[names[-1]]:.3f} > early {spreads[names[0]]:.3f}): "
          f"{metrics['late_more_class_specific']}; figure: {out / 'se_excitation.png'}")  # fmt: skip
    return metrics


if __name__ == "__main__":
    main()
