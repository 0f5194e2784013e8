"""Grad-CAM on "lesion" images: does the network look at the lesion, or at the brightest thing?

    python -m scratchnet.demos.gradcam --out runs/gradcam

generates synthetic tissue-like images in which the class is the shape of a bright lesion (none,
round, elongated, ring). Every image also has a bright "vessel" and, by default, two "scanner
labels": small rectangles at full brightness (1.0, at least as bright as any lesion pixel) placed
at random away from the lesion, in every class alike, so they say nothing about the class. The
demo trains the demos' small CNN once per seed, computes Grad-CAM maps (``scratchnet.viz.grad_cam``)
at its last convolutional layer for the test images and scores them with the pointing game: how
often the hottest pixel of the map falls inside the lesion.

A score means something only next to what needs no network at all, so the same score is computed
for three baselines: the brightest pixel of each image (ties broken at random), the image centre,
and a random pixel (its expected score: the lesion's share of the image). The verdict says whether
the network beats the best of them in every seed. Without the scanner labels (``--distractors 0``)
the lesion is the brightest thing in the image and the brightest-pixel baseline scores about 99%:
that run shows why a baseline is needed.

It saves ``gradcam.png`` (images with the lesion outlined, heat maps with a colour scale, the scores
beside the baselines) and ``metrics.json``. Defaults: 3 seeds, 12 epochs (85 s of CPU time, one
thread); ``--quick``: 2 seeds, 6 epochs. On a real medical dataset (``--dataset pathmnist`` etc.,
from downloaded files) the maps are drawn the same way; there are no lesion masks to score them
against.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

import scratchnet as sn
from scratchnet import optim
from scratchnet.data import DataLoader, ImageDataset
from scratchnet.data.transforms import RandomHorizontalFlip
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
    small_cnn,
    verdict,
)
from scratchnet.optim.lr_scheduler import CosineAnnealingLR
from scratchnet.train import evaluate
from scratchnet.viz import grad_cam, pointing_game
from scratchnet.viz.plots import pyplot
from scratchnet.viz.result import RunResult

QUICK = {"seeds": "0,1", "epochs": 6}  # the defaults cut to fit 1-2 minutes of class


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.demos.gradcam", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", default="synthetic", help=f"one of {DATASETS}")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--size", type=int, default=32, help="image size of the synthetic set")
    parser.add_argument(
        "--samples", type=int, default=1500, help="training images of the synthetic set"
    )
    parser.add_argument(
        "--distractors",
        type=int,
        default=2,
        help="bright scanner labels per image (0: none; the lesion is the brightest)",
    )
    parser.add_argument(
        "--width", type=positive_int, default=16, help="channels of the first conv layers"
    )
    parser.add_argument("--epochs", type=positive_int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--show", type=positive_int, default=5, help="images in the figure")
    add_common_options(parser, out="runs/gradcam")
    return parser


def add_scanner_labels(dataset: ImageDataset, count: int, seed: int) -> ImageDataset:
    """``count`` bright rectangles per image (value 1.0, the brightest an image can be), placed at
    random where they do not touch the lesion mask (dilated by one pixel); every class gets them.
    """
    if count == 0 or not hasattr(dataset, "masks"):
        return dataset
    rng = np.random.default_rng(seed)
    images = dataset.images.copy()  # (N, C, H, W)
    size = images.shape[-1]
    h, w = max(2, size // 10), max(3, size // 5)  # a label: wider than tall, about 3x6 px at 32 px
    for i, mask in enumerate(dataset.masks):
        blocked = mask.copy()
        blocked[1:] |= mask[:-1]
        blocked[:-1] |= mask[1:]
        blocked[:, 1:] |= blocked[:, :-1].copy()
        blocked[:, :-1] |= blocked[:, 1:].copy()
        for _ in range(count):
            for _attempt in range(50):
                top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
                if not blocked[top : top + h, left : left + w].any():
                    images[i, :, top : top + h, left : left + w] = 1.0
                    blocked[top : top + h, left : left + w] = True
                    break
    labelled = ImageDataset(
        images, dataset.labels, dataset.classes, dataset.task, dataset.name + "+labels"
    )
    labelled.masks = dataset.masks
    return labelled


def baseline_scores(images: np.ndarray, masks: np.ndarray, seed: int = 0) -> dict[str, float]:
    """The pointing-game score of maps that need no network (images (N, C, H, W), masks (N, H, W)).

    * brightest pixel: the image's maximum (over the channels' mean), ties broken at random;
    * image centre: the pixel at (H // 2, W // 2);
    * random pixel: the expected score of a uniformly random pixel, the lesion's share of the image.
    """
    rng = np.random.default_rng(seed)
    brightness = images.mean(axis=1)  # (N, H, W)
    brightest = np.zeros(brightness.shape)
    for i, image in enumerate(brightness):
        ties = np.flatnonzero(image >= image.max())
        brightest[i].flat[rng.choice(ties)] = 1.0
    centre = np.zeros(brightness.shape)
    centre[:, brightness.shape[1] // 2, brightness.shape[2] // 2] = 1.0
    lesion = masks[masks.any(axis=(1, 2))]
    return {
        "brightest pixel": pointing_game(brightest, masks),
        "image centre": pointing_game(centre, masks),
        "random pixel": float(lesion.mean()) if len(lesion) else float("nan"),
    }


def experiment(args: argparse.Namespace, say: Say) -> tuple[dict[str, Any], dict[str, Any]]:
    if args.quick:
        args.seeds, args.epochs = QUICK["seeds"], min(args.epochs, QUICK["epochs"])
    seeds = int_list(args.seeds)

    def split(name: str, seed: int, distractors: int = args.distractors) -> Any:
        data = load_split(
            args.dataset,
            name,
            args.data_root,
            synthetic_size=args.size,
            synthetic_samples=args.samples,
        )
        return add_scanner_labels(data, distractors, seed)

    train_set, test_set = split("train", 10), limit(split("test", 12), 400)
    channels = train_set.images.shape[1]
    say(
        "Training the demos' small CNN "
        f"({parameter_count(small_cnn(channels, train_set.num_classes, args.width)):,} "
        f"parameters) on {train_set}, {args.epochs} epochs, seeds {seeds}."
    )
    say(
        "Watch for: does the heat map sit on the lesion (green outline) or on the equally bright "
        "scanner labels? And does the network's pointing score beat the brightest pixel, the "
        "centre and a random pixel?"
    )
    images, labels = test_set.get_batch(np.arange(len(test_set)))
    masks = getattr(test_set, "masks", None)
    baselines = baseline_scores(images, masks) if masks is not None else {}
    scores: dict[int, float] = {}
    accuracy: dict[int, float] = {}
    for seed in seeds:
        sn.manual_seed(seed)
        model = small_cnn(channels, train_set.num_classes, width=args.width)
        optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
        loader = DataLoader(
            train_set, args.batch_size, shuffle=True, seed=seed, transform=RandomHorizontalFlip()
        )
        scheduler = CosineAnnealingLR(
            optimizer, T_max=args.epochs
        )  # a calm end: steady BN statistics
        trainer = NamedTrainer(
            model,
            optimizer,
            scheduler=scheduler,
            device=args.device,
            progress=not args.no_progress,
            name=f"small CNN seed {seed}",
        )
        trainer.fit(loader, None, args.epochs)
        test = evaluate(model, DataLoader(test_set, 256), device=args.device)
        accuracy[seed] = float(test["accuracy"])
        model.to("cpu")
        layer = model[
            9
        ]  # the ReLU after the last conv layer: (N, 2 width, H/2, W/2), still spatial
        cams = np.concatenate(
            [grad_cam(model, layer, images[i : i + 100]) for i in range(0, len(images), 100)]
        )
        if seed == seeds[0]:
            shown_cams, predictions = cams, test["scores"].argmax(axis=1)
        if masks is not None:
            scores[seed] = pointing_game(cams, masks)
            say(
                f"seed {seed}: test accuracy {accuracy[seed]:.1%}; pointing game: the hottest "
                f"pixel is inside the lesion for {scores[seed]:.1%} of the lesion images"
            )
        else:
            say(
                f"seed {seed}: test accuracy {accuracy[seed]:.1%} (no lesion masks to score the "
                "maps against)"
            )

    numbers: dict[str, Any] = {
        "dataset": args.dataset,
        "epochs": args.epochs,
        "distractors": args.distractors,
        "seeds": seeds,
        "test_accuracy": seed_spread(list(accuracy.values())),
    }
    if masks is not None:
        say("baselines (no network): " + ", ".join(f"{k} {v:.1%}" for k, v in baselines.items()))
        if (
            args.distractors > 0
        ):  # the same test images without the labels: the lesion is the brightest thing
            plain = limit(split("test", 12, distractors=0), 400)
            unlabelled = baseline_scores(plain.get_batch(np.arange(len(plain)))[0], plain.masks)[
                "brightest pixel"
            ]
            numbers["brightest_pixel_without_labels"] = unlabelled
            say(
                "(without the scanner labels the brightest pixel alone would score "
                f"{unlabelled:.1%}: a pointing score means nothing without that baseline)"
            )
        best_name = max(baselines, key=baselines.get)
        line, claim = verdict(
            f"the network's maps point at the lesion more often than the {best_name} does",
            [scores[s] - baselines[best_name] for s in seeds],
            points,
        )
        say(line)
        numbers.update(
            {
                "images_scored": int(masks.any(axis=(1, 2)).sum()),
                "pointing_game": seed_spread(list(scores.values())),
                "baselines": baselines,
                "best_baseline": best_name,
                "claims": {"beats_every_baseline": claim},
            }
        )
    figure = _figure(
        images, labels, masks, shown_cams, predictions, test_set.classes, scores, baselines, args
    )
    return numbers, {"gradcam": figure}


def _figure(
    images: np.ndarray,
    labels: np.ndarray,
    masks: np.ndarray | None,
    cams: np.ndarray,
    predictions: np.ndarray,
    classes: list[str],
    scores: dict[int, float],
    baselines: dict[str, float],
    args: argparse.Namespace,
) -> Any:
    plt = pyplot()
    # The images shown: lesion images first (the ones the score is about), then a healthy one.
    lesion = np.flatnonzero(masks.any(axis=(1, 2))) if masks is not None else np.arange(len(images))
    healthy = np.setdiff1d(np.arange(len(images)), lesion)
    show = np.concatenate([lesion[: max(1, args.show - 1)], healthy[:1]])[: args.show]
    short = [
        name.replace(" lesion", "") for name in classes
    ]  # "elongated", not "elongated lesion": fits
    fig = plt.figure()
    grid = fig.add_gridspec(
        2, len(show) + 2, width_ratios=[1] * len(show) + [0.1, 1.7 if scores else 0.01]
    )
    heat = None
    for column, i in enumerate(show):
        picture = images[i].transpose(1, 2, 0) if images.shape[1] == 3 else images[i, 0]
        for row in (0, 1):
            ax = fig.add_subplot(grid[row, column])
            ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
            if masks is not None and masks[i].any():
                ax.contour(masks[i], levels=[0.5], colors="lime", linewidths=2)
            if row == 1:
                heat = ax.imshow(cams[i], cmap="jet", alpha=0.5, vmin=0, vmax=1)
                y, x = np.unravel_index(np.argmax(cams[i]), cams[i].shape)
                ax.plot(x, y, "wx", markersize=14, markeredgewidth=3)
                ax.set_title(f"-> {short[predictions[i]]}")
            else:
                ax.set_title(short[labels[i]])
            ax.axis("off")
    fig.colorbar(heat, cax=fig.add_subplot(grid[1, len(show)]), label="Grad-CAM")
    if scores:
        ax = fig.add_subplot(grid[:, -1])
        names = ["network", *baselines]
        means = [np.mean(list(scores.values())), *baselines.values()]
        ax.barh(range(len(names)), means, color=["tab:red"] + ["tab:grey"] * len(baselines))
        ax.scatter(
            list(scores.values()),
            [0] * len(scores),
            color="black",
            zorder=3,
            s=60,
            label=f"each of {len(scores)} seeds",
        )
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set(xlim=(0, 1), xlabel="pointing game score", title="hottest pixel in the lesion")
        ax.legend(loc="lower right")
    fig.suptitle(
        "Grad-CAM at the last conv layer\ntop: true class, lesion in green; bottom: prediction, "
        "x = hottest pixel"
    )
    return fig


def run(**options: Any) -> RunResult:
    """Run the demo with the command line's options as keywords, e.g. ``run(quick=True)``."""
    return demo_run(build_parser, experiment, options)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line; ``argv`` defaults to no arguments (never ``sys.argv``: notebook-safe)."""
    return demo_main(build_parser, experiment, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
