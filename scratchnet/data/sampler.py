"""Samplers: which sample indices a ``DataLoader`` visits, and in what order
(``torch.utils.data.sampler``).

A sampler is an iterable of dataset indices (Python ints) with a length. ``DataLoader(sampler=s)``
cuts what ``s`` yields into batches of ``batch_size``; ``DataLoader(batch_sampler=b)`` takes whole
batches (lists of indices) from ``b``. The five of PyTorch that course code uses:

* ``SequentialSampler(dataset)``: 0, 1, ..., N-1 (what ``shuffle=False`` does);
* ``RandomSampler(dataset)``: a new permutation every pass (what ``shuffle=True`` does), or with
  ``replacement=True`` ``num_samples`` draws with replacement;
* ``SubsetRandomSampler(indices)``: the given indices in a new random order every pass, the usual
  way to split one dataset into training and validation loaders;
* ``WeightedRandomSampler(weights, num_samples)``: index i with probability weights[i] / sum
  (oversampling rare classes of an imbalanced dataset);
* ``BatchSampler(sampler, batch_size, drop_last)``: groups another sampler's indices into batches.

Randomness, as in PyTorch: each pass draws from ``generator`` if one is given (a
``scratchnet.Generator`` or NumPy generator), else from scratchnet's global generator, so
``scratchnet.manual_seed(s)`` fixes the whole run. (A ``DataLoader`` without a sampler draws its
order from its own ``seed`` and the epoch number instead, which makes a resumed run see the same
batches; a custom sampler's state is its generator's.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from scratchnet.rng import numpy_generator


class Sampler:
    """Base class: subclasses define ``__iter__`` (dataset indices) and ``__len__``."""

    def __init__(self, data_source: Any = None) -> None:
        # PyTorch's signature; the argument is unused
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """The indices 0, 1, ..., len(data_source) - 1, in order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices every pass; with ``replacement``, ``num_samples`` draws.

    Parameters
    ----------
    data_source : dataset (anything with ``len``)
    replacement : bool
        Draw each index independently (indices may repeat), instead of a permutation.
    num_samples : int, optional
        How many indices a pass yields; default ``len(data_source)``. Without replacement a larger
        number yields several permutations one after the other, as PyTorch does.
    generator : scratchnet.Generator or numpy.random.Generator, optional
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Any = None,
    ) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={replacement!r}"
            )
        self.data_source, self.replacement, self._num_samples = (
            data_source,
            replacement,
            num_samples,
        )
        self.generator = generator
        _check_count("RandomSampler", "num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        rng, n = numpy_generator(self.generator), len(self.data_source)
        if self.replacement:
            return iter(rng.integers(n, size=self.num_samples).tolist())
        # num_samples > n: whole permutations, then a part
        rounds = math.ceil(self.num_samples / n) if n else 0
        order = (
            np.concatenate([rng.permutation(n) for _ in range(rounds)]) if rounds else np.arange(0)
        )
        return iter(order[: self.num_samples].tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices``, in a new random order every
    pass (a train/validation split of one dataset).
    """

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices, self.generator = indices, generator

    def __iter__(self) -> Iterator[int]:
        order = numpy_generator(self.generator).permutation(len(self.indices))
        return (int(self.indices[i]) for i in order)

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability ``weights[i] / sum(weights)``.

    Parameters
    ----------
    weights : sequence of float, shape (N,)
        One non-negative weight per sample (they need not sum to 1).
    num_samples : int
    replacement : bool
        True (the default): draws are independent. False: no index is drawn twice (at most N
        samples; once the non-zero weights are used up, zero-weight indices follow, as in PyTorch).
    generator : scratchnet.Generator or numpy.random.Generator, optional
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Any = None,
    ) -> None:
        _check_count("WeightedRandomSampler", "num_samples", num_samples)
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement!r}"
            )
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(
                "WeightedRandomSampler: weights should be "
                f"a 1-D sequence, got shape {weights.shape}"
            )
        if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
            raise RuntimeError(
                "WeightedRandomSampler: invalid distribution: the weights must be finite, "
                "non-negative and not all zero (got min "
                f"{weights.min() if weights.size else 'none'}, sum {weights.sum()})"
            )
        if not replacement and num_samples > len(weights):
            raise RuntimeError(
                f"WeightedRandomSampler: cannot draw {num_samples} "
                f"samples without replacement from {len(weights)}"
            )
        self.weights, self.num_samples, self.replacement, self.generator = (
            weights,
            num_samples,
            replacement,
            generator,
        )

    def __iter__(self) -> Iterator[int]:
        rng, weights = numpy_generator(self.generator), self.weights
        if self.replacement:
            return iter(
                rng.choice(len(weights), size=self.num_samples, p=weights / weights.sum()).tolist()
            )
        # Without replacement: the samples of non-zero weight, in weighted order; past those, as
        # torch's multinomial does, the zero-weight ones (in random order).
        positive, zero = np.flatnonzero(weights), np.flatnonzero(weights == 0)
        first = rng.choice(
            positive, size=len(positive), replace=False, p=weights[positive] / weights.sum()
        )
        return iter(np.concatenate([first, rng.permutation(zero)])[: self.num_samples].tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``
    (the last may be smaller unless ``drop_last``).
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        _check_count("BatchSampler", "batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(
                f"drop_last should be a boolean value, but got drop_last={drop_last!r}"
            )
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _check_count(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(
            f"{owner}: {name} should be a positive integer value, but got {name}={value!r}"
        )


__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]
