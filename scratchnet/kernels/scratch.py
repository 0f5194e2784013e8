"""A small, bounded pool of scratch buffers for the temporaries of the fast kernels: OFF by default.

Why it exists: a fresh large NumPy array can be fresh memory, and every 4 KiB page of fresh
memory costs a page fault when first written (a trip into the kernel, ~0.25 us, plus zeroing the
page). An allocator that hands every large block back to the kernel at ``free`` (a fixed mmap
threshold, musl, some others) makes each call's column matrix new zero pages again; the pool keeps
such buffers between calls instead.

Why it is off (measured, docs/performance.md "Issue 19, the scratch pool"): with glibc's default
malloc the temporaries do not fault in the steady state. glibc raises its mmap threshold to the
largest block freed so far (up to 32 MiB), so after the first step every column buffer comes from
the heap, and a freed one is handed to the next array that fits - glibc's free lists already are
a scratch pool, shared with the outputs. The faults that remain (2,531 per ResNet-20 step in a
plain training loop, 6,082 in the benchmark's) are outputs, activations and gradients, written
on heap pages that glibc trimmed off the top of the heap when the previous step freed them. A
pool must never hold those, and holding the temporaries takes their memory away from the outputs
that reused it: with a 32 MiB cap, faults per step went 6,082 -> 5,570-8,643 on ResNet-20,
4,272 -> 5,765 on the small CNN, 8,845 -> 12,769 on VGG-11-BN, and every peak grew (ResNet-20
121 -> 127 MiB). Where the allocator does not recycle (glibc with ``MALLOC_MMAP_THRESHOLD_=131072``)
it pays: ResNet-20 83,171 -> 59,072 faults per step. ``SCRATCHNET_SCRATCH_MB=32`` turns it on.

What it serves: ONLY temporaries that die inside one forward or one backward call - the column
matrix and the rows buffer of the chunked im2col convolution, its weight-gradient chunk, the
transformed tiles and products of Winograd. Never an array that leaves the call (an output, a
returned gradient, anything a Function saves for backward): the next call would overwrite it, a
silent wrong result. ``borrow`` makes the lifetime visible in the code: the buffer is the
``with`` block's and goes back to the pool when the block ends.

The rules, in order:

* ``borrow(xp, shape, dtype)`` lends the smallest idle buffer that holds the request and is at
  most ``FIT_RATIO`` times its size (a view of it with the requested shape and dtype), or
  allocates a new one, which replaces the idle buffers it can stand in for. A lent buffer is out
  of the pool until it is returned, so nested requests get distinct memory, and so do threads.
* On return the buffer is kept, then the least recently used idle buffers are dropped until the
  idle ones hold at most ``cap_bytes``. A request above the cap is served and dropped on return.
* The cap is ``SCRATCHNET_SCRATCH_MB`` MiB (default ``DEFAULT_SCRATCH_MB``); ``0`` turns the
  pool off (every request is a fresh array, the behaviour without it).
* NumPy only: CuPy's own memory pool already keeps freed device memory for reuse (that is how
  CuPy allocates), so a CuPy request is a plain ``xp.empty``.

One lock guards the lists (DataLoader threads may run convolutions while the main thread does);
the buffers themselves are used outside it, each by the one caller that holds it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from scratchnet.backend import Array

SCRATCH_SETTING = "SCRATCHNET_SCRATCH_MB"
# Off: with glibc's malloc the pool was measured to add faults and peak memory (see above). 32 MiB
# is the cap to choose when turning it on: an 8 MiB column chunk (numba_cpu.COLUMN_BUFFER_BYTES)
# with its rows, and a VGG 512-channel layer's 9 MiB weight-gradient chunk, with room to spare.
DEFAULT_SCRATCH_MB = 0
_GRAIN = 64 * 2**10  # sizes are rounded up to 64 KiB, so near-equal requests share a buffer
FIT_RATIO = 4  # the most an idle buffer may exceed a request and still serve it


class ScratchPool:
    """Idle byte buffers kept for reuse, at most ``cap_bytes`` of them; see the module docstring.

    Parameters
    ----------
    cap_bytes : int
        The most bytes the idle buffers may hold between calls; 0 keeps none (no pool).
    """

    def __init__(self, cap_bytes: int) -> None:
        if cap_bytes < 0:
            raise ValueError(f"ScratchPool: cap_bytes must be >= 0, got {cap_bytes}")
        self.cap_bytes = cap_bytes
        self._idle: list[np.ndarray] = []  # flat uint8 buffers, least recently used first
        self._lent: dict[int, np.ndarray] = {}  # id -> buffer, while a caller holds it
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> ScratchPool:
        """A pool with the cap of ``SCRATCHNET_SCRATCH_MB`` (MiB, default 0: off)."""
        text = os.environ.get(SCRATCH_SETTING, "").strip() or str(DEFAULT_SCRATCH_MB)
        try:
            megabytes = float(text)
        except ValueError:
            megabytes = -1.0
        if megabytes < 0:
            raise ValueError(f"{SCRATCH_SETTING}={text!r}: expected a number of MiB >= 0")
        return cls(int(megabytes * 2**20))

    @contextmanager
    def borrow(self, xp: Any, shape: tuple[int, ...] | int, dtype: Any) -> Iterator[Array]:
        """A scratch array of ``shape`` and ``dtype`` for the ``with`` block only.

        Its contents are undefined (like ``xp.empty``). It must not outlive the block: never
        return it, save it on a Function, or hand out a view of it.
        """
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        dtype = np.dtype(dtype)
        if xp is not np or self.cap_bytes == 0:  # CuPy pools device memory itself; 0: off
            yield xp.empty(shape, dtype=dtype)
            return
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        buffer = self._take(nbytes)
        try:
            yield buffer[:nbytes].view(dtype).reshape(shape)
        finally:
            self._give_back(buffer)

    def buffers(self) -> list[np.ndarray]:
        """Every buffer the pool owns now, idle or lent (for tests: np.shares_memory)."""
        with self._lock:
            return [*self._idle, *self._lent.values()]

    def idle_bytes(self) -> int:
        """Bytes held by the idle buffers (at most ``cap_bytes``)."""
        with self._lock:
            return sum(buffer.nbytes for buffer in self._idle)

    def clear(self) -> None:
        """Drop the idle buffers (the lent ones come back, and are kept, as usual)."""
        with self._lock:
            self._idle.clear()

    def _take(self, nbytes: int) -> np.ndarray:
        with self._lock:
            fits = [b for b in self._idle if _fits(nbytes, b.nbytes)]
            if fits:
                buffer = min(fits, key=lambda b: b.nbytes)  # the smallest that fits
                self._idle = [b for b in self._idle if b is not buffer]
                self._lent[id(buffer)] = buffer
                return buffer
        # A new buffer, allocated outside the lock: other threads need not wait for it.
        buffer = np.empty(-(-max(nbytes, 1) // _GRAIN) * _GRAIN, dtype=np.uint8)
        with self._lock:
            self._lent[id(buffer)] = buffer
            # It can serve whatever the idle buffers it fits served: drop those, so the pool
            # keeps one buffer per size class, not one per layer shape.
            self._idle = [b for b in self._idle if not _fits(b.nbytes, buffer.nbytes)]
        return buffer

    def _give_back(self, buffer: np.ndarray) -> None:
        with self._lock:
            del self._lent[id(buffer)]
            if buffer.nbytes > self.cap_bytes:  # above the cap: served once, not kept
                return
            self._idle.append(buffer)  # the most recently used, last
            while sum(b.nbytes for b in self._idle) > self.cap_bytes:
                self._idle.pop(0)  # evict the least recently used


def _fits(nbytes: int, buffer_nbytes: int) -> bool:
    """Whether a buffer serves a request: it holds it and is at most ``FIT_RATIO`` times larger
    (a small request must not take the large buffer that the next large one needs).
    """
    return nbytes <= buffer_nbytes <= FIT_RATIO * max(nbytes, _GRAIN)


# The pool of the fast kernels, made once from the environment.
POOL = ScratchPool.from_env()


def borrow(xp: Any, shape: tuple[int, ...] | int, dtype: Any) -> Any:
    """``POOL.borrow``: a scratch array for one ``with`` block (see ``ScratchPool.borrow``)."""
    return POOL.borrow(xp, shape, dtype)
