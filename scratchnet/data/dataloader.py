"""DataLoader: cut a dataset into shuffled mini-batches of Tensors, one epoch at a time.

Batches are assembled in NumPy with one fancy-indexing step per array (``dataset.get_batch``), so
a loader over an in-memory dataset costs almost nothing next to the network.

With ``device="cuda"`` each batch is copied to the GPU once, as it is yielded, so the training
loop's ``images.to("cuda")`` has nothing left to do.

Randomness is reproducible and resumable: the order of epoch ``e`` and the random augmentations
applied during it come from ``np.random.default_rng([seed, e])``. A training run resumed at epoch
``e`` from a checkpoint therefore sees exactly the batches it would have seen without the break.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from scratchnet.backend import normalize_device, require_cupy, to_device
from scratchnet.data.dataset import Dataset, collate
from scratchnet.rng import generator as global_generator
from scratchnet.tensor import Tensor


class DataLoader:
    """Iterate over ``dataset`` in mini-batches (PyTorch's ``DataLoader``, single process).

    Parameters
    ----------
    dataset : Dataset
        Map-style dataset; ``get_batch(indices)`` is used when it has one.
    batch_size : int
        Samples per batch.
    shuffle : bool
        Draw a new random order every epoch.
    drop_last : bool
        Skip the last batch if it is smaller than ``batch_size``.
    seed : int, optional
        Seed of the shuffling and augmentation; by default drawn from scratchnet's generator, so
        ``scratchnet.manual_seed`` makes the whole run reproducible.
    generator : numpy.random.Generator, optional
        Draw the seed from this generator instead.
    transform : callable, optional
        Applied to the input of every batch, an array of shape (N, C, H, W); scratchnet's
        transforms receive the epoch's generator as ``rng``.
    collate_fn : callable, optional
        Turns a list of samples into a tuple of arrays, for datasets without ``get_batch``.
    device : "cpu" or "cuda"
        Where the yielded tensors live: batches are assembled (and augmented) on the CPU, then
        copied to this device once.

    Yields
    ------
    tuple of Tensor
        ``(inputs, targets)`` for the usual (image, label) datasets.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, generator: np.random.Generator | None = None,
                 transform: Callable[..., np.ndarray] | None = None,
                 collate_fn: Callable[[list[Any]], tuple[np.ndarray, ...]] | None = None, *,
                 device: str = "cpu") -> None:  # fmt: skip
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.device = normalize_device(device)
        if self.device == "cuda":
            require_cupy("DataLoader(device='cuda')")  # fail here, not at the first batch
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        if seed is None:
            seed = int((generator or global_generator()).integers(2**63))
        self.seed = seed
        self.epoch = 0  # the epoch the next iteration will be (set_epoch changes it)
        self.transform, self.collate_fn = transform, collate_fn or collate

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (its order and augmentations)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        rng = np.random.default_rng([self.seed, self.epoch])  # this epoch's randomness, and only it
        self.epoch += 1
        n = len(self.dataset)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            indices = order[start : start + self.batch_size]
            if self.drop_last and len(indices) < self.batch_size:
                break
            arrays = self._fetch(indices)
            if self.transform is not None:
                arrays = (self._apply_transform(arrays[0], rng), *arrays[1:])
            yield tuple(Tensor(to_device(np.ascontiguousarray(a), self.device)) for a in arrays)

    def _fetch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(indices)
        return self.collate_fn([self.dataset[int(i)] for i in indices])

    def _apply_transform(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if _takes_rng(self.transform):
            return self.transform(x, rng=rng)
        return self.transform(x)

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])


def _takes_rng(function: Callable[..., Any]) -> bool:
    try:
        return "rng" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
