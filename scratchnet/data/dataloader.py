"""DataLoader: cut a dataset into shuffled mini-batches of Tensors, one epoch at a time.

Batches are assembled in NumPy with one fancy-indexing step per array (``dataset.get_batch``), so
a loader over an in-memory dataset costs almost nothing next to the network.

With ``device="cuda"`` each batch is copied to the GPU once, as it is yielded, so the training
loop's ``images.to("cuda")`` has nothing left to do.

Workers. ``num_workers=N`` fetches batches in N worker processes (forked, so the dataset is not
copied or pickled), N * ``prefetch_factor`` batches ahead, and yields them in order: the batches
are exactly those of ``num_workers=0`` (the order is drawn in the main process, and ``transform``
runs there too, with the epoch's generator). What runs in the workers is the dataset's own
``__getitem__``/``get_batch`` and ``collate_fn``: where PyTorch code does its per-sample work.
Processes, as PyTorch's workers are (a ``worker_init_fn`` and module-level state per worker), and
because only processes run a Python ``__getitem__`` (which holds the GIL) on two cores at once.
Measured on the course machine (2 shared cores, load average 11-12), an epoch of 512 samples of a
``__getitem__`` doing Python work took 2285 ms in the main process, 2415 ms with 2 processes and
2690 ms with 2 threads: with both cores busy, no worker helps (docs/from-pytorch.md has the table).
For an in-memory ``TensorDataset`` keep ``num_workers=0``. Where ``fork`` is unavailable (Windows,
macOS's default) threads are used; ``multiprocessing_context="thread"`` asks for them.

Randomness is reproducible and resumable: the order of epoch ``e`` and the random augmentations
applied during it come from ``np.random.default_rng([seed, e])``. A training run resumed at epoch
``e`` from a checkpoint therefore sees exactly the batches it would have seen without the break.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import math
import multiprocessing
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from scratchnet.backend import normalize_device, require_cupy, to_device
from scratchnet.data.dataset import Dataset, collate
from scratchnet.data.sampler import BatchSampler, RandomSampler, SequentialSampler
from scratchnet.rng import numpy_generator
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
    generator : scratchnet.Generator or numpy.random.Generator, optional
        Draw the seed from this generator instead (``torch.Generator().manual_seed(0)`` in PyTorch
        code).
    transform : callable, optional
        Applied to the input of every batch, an array of shape (N, C, H, W); scratchnet's
        transforms receive the epoch's generator as ``rng``.
    collate_fn : callable, optional
        Turns a list of samples into a tuple of arrays, for datasets without ``get_batch``.
    device : "cpu" or "cuda"
        Where the yielded tensors live: batches are assembled (and augmented) on the CPU, then
        copied to this device once.
    num_workers : int
        Worker processes that fetch batches (0: in the main process). Same batches, same order.
    pin_memory : bool
        Accepted, no effect: page-locked host memory only speeds up CPU-to-GPU copies in PyTorch;
        here batches are copied with ``device=`` (or ``.to(device)``) either way.
    persistent_workers : bool
        Keep the workers between epochs instead of starting them for every epoch.
    prefetch_factor : int
        Batches each worker fetches ahead (PyTorch's default 2).
    worker_init_fn : callable, optional
        Called as ``worker_init_fn(worker_id)`` in each worker when it starts.
    timeout : float
        Seconds to wait for a batch from a worker (0: no limit).
    sampler : Sampler or iterable of int, optional
        The indices to visit, in order (``SubsetRandomSampler``, ``WeightedRandomSampler``, ...);
        they are cut into batches of ``batch_size``. Not with ``shuffle``.
    batch_sampler : iterable of lists of int, optional
        Whole batches of indices (``BatchSampler``); not with ``batch_size``, ``shuffle``,
        ``sampler`` or ``drop_last``.

    Yields
    ------
    tuple of Tensor
        ``(inputs, targets)`` for the usual (image, label) datasets.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
        transform: Callable[..., np.ndarray] | None = None,
        collate_fn: Callable[[list[Any]], tuple[np.ndarray, ...]] | None = None,
        *,
        device: str = "cpu",
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        prefetch_factor: int | None = None,
        worker_init_fn: Callable[[int], None] | None = None,
        timeout: float = 0,
        sampler: Any = None,
        batch_sampler: Any = None,
        multiprocessing_context: Any = None,
    ) -> None:
        if batch_sampler is not None and (
            batch_size != 1 or shuffle or sampler is not None or drop_last
        ):
            raise ValueError(  # PyTorch's rule: the batch sampler decides all of these
                "DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                "sampler, and drop_last"
            )
        if sampler is not None and shuffle:
            raise ValueError(
                "DataLoader: sampler option is mutually exclusive "
                "with shuffle (the sampler sets the order)"
            )
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be >= 0, got {num_workers}")
        if num_workers == 0 and (persistent_workers or prefetch_factor is not None):
            raise ValueError(  # PyTorch's rule: these options describe workers
                "DataLoader: persistent_workers and prefetch_factor need num_workers > 0"
            )
        self.num_workers, self.pin_memory, self.persistent_workers = (
            num_workers,
            pin_memory,
            persistent_workers,
        )
        self.prefetch_factor, self.worker_init_fn, self.timeout = (
            prefetch_factor or 2,
            worker_init_fn,
            timeout,
        )
        self.multiprocessing_context = multiprocessing_context
        self._pool: concurrent.futures.Executor | None = None
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.device = normalize_device(device)
        if self.device == "cuda":
            require_cupy("DataLoader(device='cuda')")  # fail here, not at the first batch
        self.dataset, self.batch_size, self.shuffle, self.drop_last = (
            dataset,
            batch_size,
            shuffle,
            drop_last,
        )
        if seed is None:
            seed = int(numpy_generator(generator).integers(2**63))
        self.seed = seed
        self.epoch = 0  # the epoch the next iteration will be (set_epoch changes it)
        self.transform, self.collate_fn = transform, collate_fn or collate
        # Without a sampler the order comes from (seed, epoch), below;
        # these describe it, as PyTorch's do.
        self.custom_order = sampler is not None or batch_sampler is not None
        if sampler is None:
            sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        self.batch_sampler = batch_sampler or BatchSampler(sampler, batch_size, drop_last)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        if self.custom_order:
            return len(self.batch_sampler)
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (its order and augmentations)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        rng = np.random.default_rng([self.seed, self.epoch])  # this epoch's randomness, and only it
        self.epoch += 1
        if self.custom_order:  # the (batch) sampler's batches, drawn here in the main process
            batches = [np.asarray(batch, dtype=np.int64) for batch in self.batch_sampler]
        else:
            n = len(self.dataset)
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            batches = [
                order[start : start + self.batch_size] for start in range(0, n, self.batch_size)
            ]
            if self.drop_last and batches and len(batches[-1]) < self.batch_size:
                batches.pop()
        fetched = self._fetch_in_workers(batches) if self.num_workers else map(self._fetch, batches)
        for arrays in fetched:
            if self.transform is not None:
                arrays = (self._apply_transform(arrays[0], rng), *arrays[1:])
            yield tuple(Tensor(to_device(np.ascontiguousarray(a), self.device)) for a in arrays)

    def _fetch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        return fetch_batch(self.dataset, self.collate_fn, indices)

    def _fetch_in_workers(self, batches: list[np.ndarray]) -> Iterator[tuple[np.ndarray, ...]]:
        """Fetch the batches in the workers, ``num_workers * prefetch_factor`` ahead, in order."""
        pool = self._pool or self._start_workers()
        # A worker process serves the loader it was forked with; worker threads call it directly.
        task = (
            self._fetch
            if isinstance(pool, concurrent.futures.ThreadPoolExecutor)
            else _fetch_in_worker
        )
        pending: deque[concurrent.futures.Future[Any]] = deque()
        ahead = self.num_workers * self.prefetch_factor
        try:
            for indices in batches:
                pending.append(pool.submit(task, indices))
                if len(pending) >= ahead:
                    yield pending.popleft().result(timeout=self.timeout or None)
            while pending:
                yield pending.popleft().result(timeout=self.timeout or None)
        finally:
            for future in pending:  # the loop was left early: drop what is still queued
                future.cancel()
            if not self.persistent_workers:
                # this epoch's own pool (not kept in self._pool): stop it now
                pool.shutdown(wait=True, cancel_futures=True)

    def _start_workers(self) -> concurrent.futures.Executor:
        context = self.multiprocessing_context
        if context is None and "fork" in multiprocessing.get_all_start_methods():
            context = "fork"
        if context in ("fork", "forkserver", "spawn"):
            context = multiprocessing.get_context(context)
        if context is None or context == "thread":
            # no fork on this platform: threads share the dataset
            pool: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(
                self.num_workers, initializer=_start_worker, initargs=(self, _Counter())
            )
        else:
            with warnings.catch_warnings():
                # fork in a process with threads: our workers run NumPy only
                warnings.simplefilter("ignore", DeprecationWarning)
                pool = concurrent.futures.ProcessPoolExecutor(
                    self.num_workers,
                    mp_context=context,
                    initializer=_start_worker,
                    initargs=(self, context.Value("i", 0)),
                )
        if self.persistent_workers:
            self._pool = pool
        return pool

    def shutdown_workers(self) -> None:
        """Stop the worker processes
        (done at the end of each epoch unless ``persistent_workers``).
        """
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __getstate__(self) -> dict[str, Any]:  # a worker receives the loader without the pool
        return {**self.__dict__, "_pool": None}

    def __del__(self) -> None:
        pool = self.__dict__.get("_pool")
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _apply_transform(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if _takes_rng(self.transform):
            return self.transform(x, rng=rng)
        return self.transform(x)

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])


def fetch_batch(
    dataset: Dataset, collate_fn: Callable[..., Any], indices: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The samples at ``indices`` as batch arrays:
    ``get_batch`` if the dataset has one, else collated.
    """
    if hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    return collate_fn([dataset[int(i)] for i in indices])


# The loader a worker serves (a worker process holds one; worker threads share the main process's).
_worker_loader: DataLoader | None = None


class _Counter:
    """A thread-safe counter with ``multiprocessing.Value``'s
    interface, for numbering worker threads.
    """

    def __init__(self) -> None:
        self.value, self._lock = 0, threading.Lock()

    def get_lock(self) -> Any:
        return self._lock


def _start_worker(loader: DataLoader, counter: Any) -> None:
    global _worker_loader  # one per worker process
    with counter.get_lock():
        worker_id = counter.value
        counter.value += 1
    _worker_loader = loader
    if loader.worker_init_fn is not None:
        loader.worker_init_fn(worker_id)


def _fetch_in_worker(indices: np.ndarray) -> tuple[np.ndarray, ...]:
    return _worker_loader._fetch(indices)


def _takes_rng(function: Callable[..., Any]) -> bool:
    try:
        return "rng" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
