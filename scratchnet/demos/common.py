"""What the demos share: dataset selection by name, the default small CNN, writing results, and the
harness that gives every demo both a command line (``main(argv)``) and a function
(``run(**options)``).

A demo module defines ``parse_args``-style ``build_parser()`` and ``experiment(args, say)``; the
experiment prints through ``say`` (so the same lines reach the terminal and ``RunResult.text``),
draws its figures in the slide style and returns ``(numbers, figures)``. ``demo_main`` and
``demo_run`` below turn that into the CLI and the notebook function.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scratchnet import nn
from scratchnet.data import (
    ImageDataset,
    cifar10,
    digits,
    fashion_mnist,
    medmnist,
    mnist,
    synthetic_lesions,
)
from scratchnet.data.datasets import MEDMNIST_INFO
from scratchnet.train import Trainer
from scratchnet.viz.result import RunResult

DATASETS = ["digits", "synthetic", "mnist", "fashion-mnist", "cifar10", *sorted(MEDMNIST_INFO)]


def small_cnn(
    in_channels: int = 1, num_classes: int = 10, width: int = 32, dropout: float = 0.1
) -> nn.Sequential:
    """The demos' default network: three 3x3 conv-BN-ReLU layers, two 2x2 max-pools, global average
    pooling and a linear classifier (about 30k parameters at width 32).

    Shapes: (N, in_channels, H, W) -> (N, width, H/2, W/2) -> (N, 2 width, H/4, W/4) -> (N,
    num_classes).
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(2 * width, num_classes),
    )


def load_split(
    name: str,
    split: str,
    root: str | None = None,
    synthetic_size: int = 32,
    synthetic_samples: int = 1500,
) -> ImageDataset:
    """One split ("train", "val" or "test") of a dataset named as on the command line.

    Datasets without a validation split (MNIST, CIFAR-10) use the last 10% of the training set;
    the synthetic set is generated with a different seed per split.
    """
    try:
        return _load_split(name, split, root, synthetic_size, synthetic_samples)
    except FileNotFoundError as error:  # a missing download: one line saying where to get it
        message = str(error).splitlines()[0].rstrip(".")
        raise DatasetNotFound(f"{message} (a demo's option: --data-root DIR).") from None


class DatasetNotFound(FileNotFoundError):
    """A dataset that is not bundled and not downloaded; the message says where to get it."""


def _load_split(
    name: str, split: str, root: str | None, synthetic_size: int, synthetic_samples: int
) -> ImageDataset:
    name = name.lower()
    if name == "digits":
        return digits(split)
    if name == "synthetic":
        seeds = {"train": 0, "val": 1, "test": 2}
        n = synthetic_samples if split == "train" else max(200, synthetic_samples // 5)
        return synthetic_lesions(n, size=synthetic_size, seed=seeds[split])
    if name.removeprefix("medmnist:") in MEDMNIST_INFO:
        return medmnist(name.removeprefix("medmnist:"), split, root=root)
    readers = {"mnist": mnist, "fashion-mnist": fashion_mnist, "cifar10": cifar10}
    if name not in readers:
        raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")
    if split == "test":
        return readers[name]("test", root=root)
    full = readers[name]("train", root=root)
    cut = len(full) - math.ceil(0.1 * len(full))
    part = slice(0, cut) if split == "train" else slice(cut, None)
    return ImageDataset(
        full.images[part], full.labels[part], full.classes, full.task, f"{full.name}-{split}"
    )


def limit(dataset: ImageDataset, count: int | None) -> ImageDataset:
    """The first ``count`` images of ``dataset`` (all of them for None)."""
    if count is None or count >= len(dataset):
        return dataset
    subset = ImageDataset(
        dataset.images[:count], dataset.labels[:count], dataset.classes, dataset.task, dataset.name
    )
    if hasattr(dataset, "masks"):
        subset.masks = dataset.masks[:count]
    return subset


def with_channels(dataset: ImageDataset, channels: int) -> ImageDataset:
    """Grey images repeated to ``channels`` channels (for models built for RGB input)."""
    if dataset.images.shape[1] == channels:
        return dataset
    if dataset.images.shape[1] != 1:
        raise ValueError(
            f"cannot turn {dataset.images.shape[1]}-channel images into {channels} channels"
        )
    images = np.repeat(dataset.images, channels, axis=1)  # (N, channels, H, W)
    return ImageDataset(images, dataset.labels, dataset.classes, dataset.task, dataset.name)


def first_conv(model: Any) -> Any:
    """The model's first ``Conv2d`` (its filters are the ones worth looking at)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module
    raise ValueError("the model has no Conv2d layer")


def out_dir(path: str | os.PathLike) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, turning NumPy values into plain numbers and lists."""
    Path(path).write_text(json.dumps(data, indent=2, default=_plain) + "\n")


# --------------------------------------------------------------------------- the demo harness


class NamedTrainer(Trainer):
    """A ``Trainer`` whose progress bar names its network ("plain-56 seed 1: epoch 3/8")."""

    def __init__(self, *args: Any, name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = name

    def train_epoch(self, loader: Any, description: str = "train") -> dict[str, float]:
        return super().train_epoch(
            loader, f"{self.name}: {description}" if self.name else description
        )


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def int_list(value: str | int | Sequence[int]) -> list[int]:
    """``"0,1,2"`` (the command line), ``3`` or ``[0, 1, 2]`` (a notebook) as a list of ints."""
    if isinstance(value, str):
        return [int(v) for v in value.split(",") if v.strip()]
    if isinstance(value, int | np.integer):
        return [int(value)]
    return [int(v) for v in value]


def add_common_options(
    parser: argparse.ArgumentParser, out: str, seeds: str | None = "0,1,2"
) -> None:
    """Every demo's options: seeds (where it measures an effect), quick, device, out, progress."""
    if seeds is not None:
        parser.add_argument(
            "--seeds",
            default=seeds,
            help=f"comma-separated seeds, one full run each (default {seeds})",
        )
        parser.add_argument(
            "--quick",
            action="store_true",
            help="2 seeds, fewer epochs: a version for class (at most 1-2 minutes)",
        )
    parser.add_argument(
        "--device", default="cpu", help="cpu or cuda (training runs there; analysis on the CPU)"
    )
    parser.add_argument("--out", default=out, help="folder for the figures and metrics.json")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def positive_int(value: str) -> int:
    """An argparse type: an int >= 1 (``--epochs 0`` would train nothing and plot nothing)."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


class Say:
    """What a demo says: printed as it goes (for the terminal) and kept (for ``RunResult.text``)."""

    def __init__(self, echo: bool = True) -> None:
        self.lines: list[str] = []
        self.echo = echo

    def __call__(self, text: str = "") -> None:
        self.lines.append(text)
        if self.echo:
            print(text, flush=True)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")


Experiment = Callable[[argparse.Namespace, Say], tuple[dict[str, Any], dict[str, Any]]]


def demo_run(
    build_parser: Callable[[], argparse.ArgumentParser],
    experiment: Experiment,
    options: dict[str, Any],
    echo: bool = True,
) -> RunResult:
    """The notebook function: ``options`` are the command line's, as keywords (``train_limit=64``).

    Figures stay open in the result (a notebook shows them inline); nothing is written to disk
    unless ``out`` is given.
    """
    parser = build_parser()
    args = parser.parse_args(
        []
    )  # the defaults, whatever sys.argv holds (a Jupyter kernel's own arguments)
    known = vars(args)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(
            f"{parser.prog}: unknown option(s) {unknown}; the options are {sorted(known)}"
        )
    known.update(options)
    if "out" not in options:
        args.out = None
    if "epochs" in known and int(args.epochs) < 1:
        raise ValueError(f"{parser.prog}: epochs must be at least 1, got {args.epochs}")
    say = Say(echo)
    with slide_style():
        numbers, figures = experiment(args, say)
    result = RunResult(
        numbers=json.loads(json.dumps(numbers, default=_plain)), figures=figures, text=say.text
    )
    if args.out is not None:
        save(result, args.out, say)
        result.text = say.text
    return result


def demo_main(
    build_parser: Callable[[], argparse.ArgumentParser],
    experiment: Experiment,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """The command line: parses ``argv`` (never ``sys.argv``: ``__main__`` passes it), runs,
    writes figures and ``metrics.json`` to ``--out``, closes the figures and returns the numbers.

    A missing dataset ends the run with one line saying where to get it, not a traceback.
    """
    parser = build_parser()
    args = parser.parse_args([] if argv is None else argv)
    say = Say(echo=True)
    try:
        with slide_style():
            numbers, figures = experiment(args, say)
    except DatasetNotFound as error:
        raise SystemExit(f"{parser.prog}: {error}") from None
    result = RunResult(
        numbers=json.loads(json.dumps(numbers, default=_plain)), figures=figures, text=say.text
    )
    save(result, args.out, say)
    plt = _pyplot()
    for figure in figures.values():
        plt.close(figure)
    return result.numbers


def save(result: RunResult, out: str | os.PathLike, say: Say) -> None:
    folder = out_dir(out)
    for name, figure in result.figures.items():
        figure.savefig(folder / f"{name}.png")  # the slide's 1280x720 pixels (dpi 100, no cropping)
    write_json(folder / "metrics.json", result.numbers)
    say(f"figures ({', '.join(f'{n}.png' for n in result.figures)}) and metrics.json in {folder}")


# --------------------------------------------------------------------------- effects against noise


def seed_spread(values: Sequence[float]) -> dict[str, Any]:
    """Per-seed values with their mean, standard deviation (ddof=1; 0 for one seed), min and max."""
    v = np.asarray(values, dtype=np.float64)
    return {
        "per_seed": v.tolist(),
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "min": float(v.min()),
        "max": float(v.max()),
    }


def verdict(
    claim: str,
    effects: Sequence[float],
    fmt: Callable[[float], str],
    noise: float | None = None,
    noise_name: str = "seed-to-seed spread",
) -> tuple[str, dict[str, Any]]:
    """Check a claim seed by seed. ``effects`` holds one signed effect per seed, positive when the
    claim holds in that seed. Returns the printed line and its numbers.

    The line puts the effect (mean over seeds and its range) beside the run-to-run noise, and says
    in how many seeds the claim held: "holds in every seed", "holds in 2 of 4 seeds only", "does not
    hold".
    """
    e = seed_spread(effects)
    held = sum(x > 0 for x in e["per_seed"])
    n = len(e["per_seed"])
    status = f"holds in {held} of {n} seeds only"
    if held in (0, n):
        status = "holds in every seed" if held == n else "does not hold"
    line = (
        f"{claim}: {status} (effect {fmt(e['mean'])}, per seed {fmt(e['min'])} to {fmt(e['max'])}"
    )
    if noise is not None:
        line += f"; {noise_name} {fmt(noise).lstrip('+')}"
    line += f"; {n} seed{'s' if n != 1 else ''})"
    e.update({"claim": claim, "held_in": held, "seeds": n, "holds_in_every_seed": held == n})
    if noise is not None:
        e["noise"] = noise
    return line, e


def points(x: float) -> str:
    """A difference of two rates in percentage points, signed."""
    return f"{100 * x:+.1f} points"


# --------------------------------------------------------------------------- the slide style


SLIDE_RC = {
    "figure.figsize": (12.8, 7.2),  # 1280 x 720 pixels at 100 dpi: a 16:9 slide
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
    # points; 14 pt at 100 dpi is 19.4 px, above the ~18 px readable from the back row
    "font.size": 14,
    "axes.titlesize": 16,
    "axes.labelsize": 15,
    "xtick.labelsize": 13.5,  # 18.75 px: the smallest text on the slide
    "ytick.labelsize": 13.5,
    "legend.fontsize": 13.5,
    "legend.title_fontsize": 13.5,
    "figure.titlesize": 18,
    "lines.linewidth": 2.5,
    "lines.markersize": 7,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
SMALLEST_TEXT_PX = 18.0  # what the tests hold every figure's text to


@contextlib.contextmanager
def slide_style() -> Iterator[None]:
    """Draw figures for a 1280x720 slide with text of at least ~18 px (the demos' default)."""
    plt = _pyplot()
    with plt.rc_context(SLIDE_RC):
        yield


def _pyplot() -> Any:
    from scratchnet.viz.plots import pyplot

    return pyplot()


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
