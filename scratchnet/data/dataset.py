"""Datasets: anything with ``len(ds)`` and ``ds[i] -> (input, target)`` (PyTorch's map-style API).

``TensorDataset`` holds whole arrays in memory and can hand out a batch with one fancy-indexing
step (``get_batch``), which is what makes ``DataLoader`` fast in NumPy: no Python loop over
samples. ``ImageDataset`` adds what an image collection needs: class names, the task type, and
the conversion of stored ``uint8`` pixels to float32 in [0, 1], batch by batch, so a large
dataset can stay compact in memory.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnet.backend import to_device
from scratchnet.rng import numpy_generator
from scratchnet.tensor import Tensor


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__(i) -> tuple``."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays (PyTorch's ``TensorDataset``).

    Parameters
    ----------
    *arrays : array or Tensor, each of shape (N, ...)
        For example images (N, C, H, W) and labels (N,).
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(_as_numpy(a) for a in arrays)
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1:
            raise ValueError(
                f"TensorDataset: arrays of different lengths {[len(a) for a in self.arrays]}"
            )

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        """Sample ``index`` as Tensors, one per array
        (``x, y = ds[i]``), as PyTorch's ``TensorDataset``.

        ``DataLoader`` does not come through here: it takes whole batches with ``get_batch``.
        """
        # a batch of one: the same conversion as a loader's
        batch = self.get_batch(np.array([index]))
        return tuple(Tensor(a[0, ...]) for a in batch)  # [0, ...]: an array even for a scalar label

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """All arrays at the given row indices (one fancy-index per array)."""
        return tuple(a[indices] for a in self.arrays)


class ImageDataset(TensorDataset):
    """Images (N, C, H, W) and their labels, with the names of the classes.

    Images may be stored as ``uint8`` (0-255, the way files ship them): each batch is converted to
    float32 in [0, 1] when it is taken, like torchvision's ``ToTensor``.

    Attributes
    ----------
    images : ndarray, shape (N, C, H, W)
    labels : ndarray, shape (N,) int64 class indices, or (N, L) float32 0/1 for multi-label tasks
    classes : list of str
        Name of each class (or of each label, for a multi-label task).
    task : str
        ``"multi-class"``, ``"binary-class"``, ``"multi-label"`` or ``"ordinal-regression"``.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: Sequence[str],
        task: str = "multi-class",
        name: str = "",
    ) -> None:
        if images.ndim != 4:
            raise ValueError(
                f"{name or 'ImageDataset'}: images must be (N, C, H, W), got shape {images.shape}"
            )
        super().__init__(images, labels)
        self.classes, self.task, self.name = list(classes), task, name

    @property
    def images(self) -> np.ndarray:
        return self.arrays[0]

    @property
    def labels(self) -> np.ndarray:
        return self.arrays[1]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = self.images[indices]
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255  # pixels 0..255 -> [0, 1]
        return images, self.labels[indices]

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.images.shape[1:])
        name = self.name or "images"
        return (
            f"{type(self).__name__}({name}: {len(self)} images {shape}, {self.num_classes} classes)"
        )


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (PyTorch's ``Subset``)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(self.indices[indices])
        return collate([self.dataset[int(i)] for i in self.indices[indices]])


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], seed: int = 0, generator: Any = None
) -> list[Subset]:
    """Split into non-overlapping subsets of the given lengths, in a seeded random order.

    ``lengths`` may be fractions summing to 1, as PyTorch accepts: each subset gets
    ``floor(fraction * len(dataset))`` samples and the remainder goes one by one to the first
    subsets. ``generator`` (a ``scratchnet.Generator``, as ``torch.Generator``) draws the order
    instead of ``seed``.
    """
    n = len(dataset)
    if (
        lengths
        and all(0 <= x <= 1 for x in lengths)
        and math.isclose(sum(lengths), 1)
        and sum(lengths) != n
    ):
        sizes = [math.floor(n * fraction) for fraction in lengths]
        for i in range(n - sum(sizes)):  # PyTorch's round-robin of the remainder
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths {list(lengths)} do not add up to {n} (or, as fractions, to 1)"
        )
    rng = np.random.default_rng(seed) if generator is None else numpy_generator(generator)
    order = rng.permutation(len(dataset))
    bounds = np.cumsum([0, *lengths])
    return [Subset(dataset, order[a:b]) for a, b in itertools.pairwise(bounds)]


def collate(samples: Sequence[Any]) -> tuple[np.ndarray, ...]:
    """Stack a list of samples (each a tuple of arrays or numbers) into a tuple of batch arrays."""
    if not isinstance(samples[0], tuple | list):
        return (np.stack([np.asarray(s) for s in samples]),)
    return tuple(np.stack([np.asarray(s[i]) for s in samples]) for i in range(len(samples[0])))


def _as_numpy(a: Any) -> np.ndarray:
    if isinstance(a, Tensor):
        a = a.array
    return np.asarray(to_device(a, "cpu"))
