"""Train a network from the command line and keep everything it produced.

    python -m scratchnet.demos.train --dataset digits --out runs/digits

trains the default small CNN on the bundled digits (offline, well under a minute on a laptop) and
writes to the ``--out`` folder:

* ``metrics.json``: test accuracy and loss (and top-5, AUC), epochs, training seconds, the history;
* ``curves.png`` (loss and accuracy per epoch), ``confusion_matrix.png``, ``filters.png`` (the
  first layer's kernels) and ``feature_maps.png`` (the first layer's output for one test image);
* ``checkpoint.npz``: the final model, optimizer and scheduler
  (``scratchnet.train.load_checkpoint``).

Other choices: ``--model resnet20`` (any constructor in ``scratchnet.models``), ``--dataset``
``synthetic``, ``mnist``, ``fashion-mnist``, ``cifar10`` or a MedMNIST name such as ``pathmnist``
(these read the files from ``--data-root``; see ``scratchnet.data``), ``--device cuda``.

This demo trains one network with one seed (``--seed``): it is a tool, not a claim to check against
noise. ``run(**options)`` is the same for a notebook (figures open, nothing written unless ``out``
is given); ``--quick`` trains 4 epochs.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

import scratchnet as sn
from scratchnet import models, optim
from scratchnet.data import DataLoader
from scratchnet.data.transforms import RandomCrop
from scratchnet.demos.common import (
    DATASETS,
    SLIDE_RC,
    NamedTrainer,
    Say,
    add_common_options,
    demo_main,
    demo_run,
    first_conv,
    limit,
    load_split,
    out_dir,
    positive_int,
    small_cnn,
    with_channels,
)
from scratchnet.optim.lr_scheduler import CosineAnnealingLR
from scratchnet.train import evaluate, save_checkpoint
from scratchnet.viz import plot_confusion_matrix, plot_feature_maps, plot_filters, plot_history
from scratchnet.viz.result import RunResult


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.demos.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--model", default="small_cnn", help="small_cnn, or a scratchnet.models constructor"
    )
    parser.add_argument("--dataset", default="digits", help=f"one of {DATASETS}")
    parser.add_argument(
        "--data-root", default=None, help="folder with the downloaded dataset files"
    )
    parser.add_argument("--epochs", type=positive_int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--lr", type=float, default=0.05, help="SGD learning rate (cosine decay to 0)"
    )
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    parser.add_argument(
        "--augment", action="store_true", help="random crops (padding 1/8 of the size)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="4 epochs")
    parser.add_argument(
        "--train-limit", type=int, default=None, help="use only this many training images"
    )
    add_common_options(parser, out="runs/train", seeds=None)
    return parser


def build_model(name: str, in_channels: int, num_classes: int) -> Any:
    """``small_cnn`` or a constructor of ``scratchnet.models`` (called with ``num_classes``)."""
    if name == "small_cnn":
        return small_cnn(in_channels, num_classes)
    constructor = getattr(models, name, None)
    if constructor is None or not callable(constructor):
        raise SystemExit(
            f"unknown model {name!r}: use small_cnn or a constructor from scratchnet.models"
        )
    return constructor(num_classes=num_classes)


def experiment(args: argparse.Namespace, say: Say) -> tuple[dict[str, Any], dict[str, Any]]:
    if args.quick:
        args.epochs = min(args.epochs, 4)
    sn.manual_seed(args.seed)
    train_set = limit(load_split(args.dataset, "train", args.data_root), args.train_limit)
    val_set, test_set = (
        load_split(args.dataset, "val", args.data_root),
        load_split(args.dataset, "test", args.data_root),
    )
    num_classes = train_set.num_classes

    model = build_model(args.model, train_set.images.shape[1], num_classes)
    in_channels = first_conv(model).in_channels
    train_set, val_set, test_set = (
        with_channels(d, in_channels) for d in (train_set, val_set, test_set)
    )
    size = train_set.images.shape[-1]
    augment = RandomCrop(size, padding=max(1, size // 8)) if args.augment else None
    train_loader = DataLoader(train_set, args.batch_size, shuffle=True, transform=augment)
    val_loader, test_loader = DataLoader(val_set, 256), DataLoader(test_set, 256)

    if args.optimizer == "sgd":
        optimizer = optim.SGD(
            model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4, nesterov=True
        )
    else:
        optimizer = optim.AdamW(model.parameters(), lr=args.lr)
    scheduler = CosineAnnealingLR(optimizer, T_max=args.epochs)
    n_params = sum(p.numel() for p in model.parameters())
    say(
        f"Training {args.model} ({n_params:,} parameters) on {train_set} for {args.epochs} epochs "
        f"(validation: {len(val_set)} images held out from training; the test set is used once, "
        "at the end)."
    )
    say(
        "Watch for: training and validation loss falling together; a validation loss that turns "
        "up while the training loss keeps falling is overfitting."
    )

    start, cpu_start = time.perf_counter(), time.process_time()
    trainer = NamedTrainer(
        model,
        optimizer,
        scheduler=scheduler,
        device=args.device,
        progress=not args.no_progress,
        name=args.model,
    )
    history = trainer.fit(
        train_loader, val_loader, args.epochs, callbacks=[lambda row: say(_summary(row))]
    )
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start  # CPU time of this process (all its threads)
    test = evaluate(model, test_loader, device=args.device)
    say(f"test accuracy {test['accuracy']:.4f}, test loss {test['loss']:.4f}")
    say(f"training took {seconds:.1f} s ({cpu_seconds:.1f} s of CPU time)")

    numbers = {
        "dataset": args.dataset,
        "model": args.model,
        "parameters": n_params,
        "epochs": len(history),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "device": args.device,
        "seed": args.seed,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "test_top5_accuracy": test["top5_accuracy"],
        "test_auc": test["auc"],
        "history": history.to_dict(),
    }
    if args.out is not None:
        save_checkpoint(
            out_dir(args.out) / "checkpoint.npz",
            model,
            optimizer,
            scheduler,
            epoch=len(history),
            history=history,
        )
        say(f"checkpoint.npz in {args.out}")
    slide = SLIDE_RC["figure.figsize"]
    figures = {
        "curves": plot_history(history, title=f"{args.model} on {args.dataset}", figsize=slide)
    }
    if "confusion_matrix" in test:
        figures["confusion_matrix"] = plot_confusion_matrix(
            test["confusion_matrix"],
            test_set.classes,
            title=f"test set, accuracy {test['accuracy']:.3f}",
            figsize=slide,
        )
    model.to("cpu")
    conv = first_conv(model)
    figures["filters"] = plot_filters(conv.weight)
    figures["feature_maps"] = plot_feature_maps(
        model,
        conv,
        test_set.get_batch(np.array([0]))[0][0],
        figsize=slide,
        title="the first conv layer's output for one test image",
    )
    return numbers, figures


def run(**options: Any) -> RunResult:
    """Run the demo with the command line's options as keywords, e.g. ``run(epochs=3)``."""
    return demo_run(build_parser, experiment, options)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line; ``argv`` defaults to no arguments (never ``sys.argv``: notebook-safe)."""
    return demo_main(build_parser, experiment, argv)


def _summary(row: dict[str, Any]) -> str:
    text = (
        f"epoch {row['epoch']}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.3f}"
    )
    if "val_loss" in row:
        text += f" | val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.3f}"
    return text + f" | {row['images_per_second']:.0f} images/s"


if __name__ == "__main__":
    main(sys.argv[1:])
