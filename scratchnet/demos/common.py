"""What the demos share: dataset selection by name, the default small CNN, and writing results."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from scratchnet import nn
from scratchnet.data import ImageDataset, cifar10, digits, fashion_mnist, medmnist, mnist, synthetic_lesions
from scratchnet.data.datasets import MEDMNIST_INFO

DATASETS = ["digits", "synthetic", "mnist", "fashion-mnist", "cifar10", *sorted(MEDMNIST_INFO)]


def small_cnn(in_channels: int = 1, num_classes: int = 10, width: int = 32, dropout: float = 0.1) -> nn.Sequential:
    """The demos' default network: three 3x3 conv-BN-ReLU layers, two 2x2 max-pools, global average
    pooling and a linear classifier (about 30k parameters at width 32).

    Shapes: (N, in_channels, H, W) -> (N, width, H/2, W/2) -> (N, 2 width, H/4, W/4) -> (N, num_classes).
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
        nn.Linear(2 * width, num_classes),
    )  # fmt: skip


def load_split(name: str, split: str, root: str | None = None, synthetic_size: int = 32,
               synthetic_samples: int = 1500) -> ImageDataset:  # fmt: skip
    """One split ("train", "val" or "test") of a dataset named as on the command line.

    Datasets without a validation split (MNIST, CIFAR-10) use the last 10% of the training set;
    the synthetic set is generated with a different seed per split.
    """
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
    return ImageDataset(full.images[part], full.labels[part], full.classes, full.task, f"{full.name}-{split}")


def limit(dataset: ImageDataset, count: int | None) -> ImageDataset:
    """The first ``count`` images of ``dataset`` (all of them for None)."""
    if count is None or count >= len(dataset):
        return dataset
    subset = ImageDataset(dataset.images[:count], dataset.labels[:count], dataset.classes, dataset.task, dataset.name)
    if hasattr(dataset, "masks"):
        subset.masks = dataset.masks[:count]
    return subset


def with_channels(dataset: ImageDataset, channels: int) -> ImageDataset:
    """Grey images repeated to ``channels`` channels (for models built for RGB input)."""
    if dataset.images.shape[1] == channels:
        return dataset
    if dataset.images.shape[1] != 1:
        raise ValueError(f"cannot turn {dataset.images.shape[1]}-channel images into {channels} channels")
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

    def plain(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"cannot write {type(value).__name__} to JSON")

    Path(path).write_text(json.dumps(data, indent=2, default=plain) + "\n")
