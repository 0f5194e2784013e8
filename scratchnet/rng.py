"""The random number generators behind ``randn``, ``rand``, weight initialisation and dropout.

One NumPy ``Generator`` for the whole library; ``manual_seed(seed)`` resets it, so a seeded script
gives the same numbers every run, as ``torch.manual_seed``. Tensors created with ``randn(...,
device="cuda")`` and initial weights are drawn from it on the CPU and then copied, so they are the
same numbers on every device.

Dropout draws a fresh mask at every step, on the device of its input: there a second generator
(CuPy's, made on first use) draws it, so no mask is copied from the CPU at each step. Its seed is
derived from the seed given to ``manual_seed`` (or ``scratchnet.cuda.manual_seed``): GPU runs are
reproducible too, but their masks differ from the CPU's.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from scratchnet.backend import Array, cupy_in_use

_generator = np.random.default_rng(0)
_device_seed = 0
_device_generator: Any = None  # a cupy.random.RandomState, made on first use


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random number scratchnet draws, on the CPU and the GPU; returns the new generator.

    ``seed`` is taken as ``int(seed)``, as ``torch.manual_seed`` does, in PyTorch's range
    [-2**63, 2**64); a negative seed wraps around to the same 64 bits. Anything else (``None``,
    ``"abc"``) is refused: ``None`` would otherwise seed from the clock, and the run would not
    repeat.
    """
    global _generator
    try:
        seed = int(seed)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"manual_seed: the seed must be an integer, got {type(seed).__name__} {seed!r:.40}"
        ) from None
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"manual_seed: the seed must be in [-2**63, 2**64), got {seed}")
    seed %= 2**64  # NumPy takes no negative seeds: -1 becomes 2**64 - 1, the same 64 bits
    _generator = np.random.default_rng(seed)
    manual_seed_device(seed)
    return _generator


def manual_seed_device(seed: int) -> None:
    """Seed the GPU generator only (``scratchnet.cuda.manual_seed``); never imports CuPy."""
    global _device_seed, _device_generator
    _device_seed, _device_generator = seed, None
    cupy = cupy_in_use()  # only if the program already uses the GPU
    if cupy is not None:
        # CuPy's own global generator too, for code that calls cupy.random directly
        cupy.random.seed(seed)


def generator() -> np.random.Generator:
    """The library's current generator (changes when ``manual_seed`` is called)."""
    return _generator


def random(shape: tuple[int, ...], xp: ModuleType) -> Array:
    """Uniform float32 samples in [0, 1) of ``shape``,
    drawn on the device of the array module ``xp``.
    """
    if xp is np:
        return _generator.random(shape, dtype=np.float32)
    global _device_generator
    if _device_generator is None:
        # A seed of its own (not the CPU generator's next draw), so that using the GPU does not
        # change the numbers the CPU generator gives afterwards.
        seed = int(np.random.SeedSequence([_device_seed, 1]).generate_state(1)[0])
        _device_generator = xp.random.RandomState(seed)
    return _device_generator.random_sample(shape, dtype=np.float32)


class Generator:
    """A random generator of its own (``torch.Generator``),
    for ``random_split``, ``DataLoader``, ``randperm``.

    ``Generator().manual_seed(42)`` seeds it and returns it, as in PyTorch. Its numbers are NumPy's
    (``self.numpy``), so they differ from PyTorch's for the same seed.
    """

    default_seed = 67280421310721  # PyTorch's seed of a fresh Generator

    def __init__(self, device: Any = "cpu") -> None:
        self.device = str(device)
        self.manual_seed(self.default_seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.numpy = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def integers(self, *args: Any, **kwargs: Any) -> Any:
        """Random integers (``numpy.random.Generator.integers``):
        the DataLoader draws its seed so.
        """
        return self.numpy.integers(*args, **kwargs)

    def permutation(self, n: int) -> np.ndarray:
        return self.numpy.permutation(n)


def numpy_generator(generator_: Generator | np.random.Generator | None) -> np.random.Generator:
    """The NumPy generator behind ``generator_``: its own, or the library's when None."""
    if generator_ is None:
        return _generator
    return generator_.numpy if isinstance(generator_, Generator) else generator_
