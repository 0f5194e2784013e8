"""The scratch pool of the fast kernels (kernels/scratch.py): reuse, the byte cap, the switch, the
threads, and the rule that no array leaving a Function is ever a pool buffer.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.engine import Function
from scratchnet.kernels import scratch
from scratchnet.kernels.scratch import ScratchPool

MiB = 2**20


def shares_any(array: np.ndarray, buffers: list[np.ndarray]) -> bool:
    return any(np.may_share_memory(array, b) and np.shares_memory(array, b) for b in buffers)


# --------------------------------------------------------------------------- the pool alone


def test_a_returned_buffer_serves_the_next_request_of_any_dtype():
    pool = ScratchPool(4 * MiB)
    with pool.borrow(np, (100, 10), np.float32) as first:
        assert first.shape == (100, 10) and first.dtype == np.float32
        first[...] = 1
    with pool.borrow(np, 500, np.float64) as second:  # the same 4000 bytes, as float64
        assert second.shape == (500,) and second.dtype == np.float64
        assert np.shares_memory(first, second)
    assert len(pool.buffers()) == 1


def test_nested_requests_get_distinct_buffers():
    pool = ScratchPool(4 * MiB)
    with pool.borrow(np, 1000, np.float32):
        pass  # one idle buffer now, which the first nested request takes
    with pool.borrow(np, 1000, np.float32) as a, pool.borrow(np, 1000, np.float32) as b:
        assert not np.shares_memory(a, b)
        assert len(pool.buffers()) == 2
        with pool.borrow(np, 10, np.float32) as c:  # a third, still distinct
            assert not shares_any(c, [a, b])


def test_the_byte_cap_holds():
    pool = ScratchPool(MiB)
    with pool.borrow(np, 2 * MiB, np.uint8) as big:  # above the cap: served, not kept
        assert big.nbytes == 2 * MiB
        assert len(pool.buffers()) == 1
    assert pool.buffers() == [] and pool.idle_bytes() == 0
    with pool.borrow(np, MiB // 2, np.uint8) as half:
        pass
    with pool.borrow(np, MiB // 2, np.uint8) as again, pool.borrow(np, 3 * MiB // 4, np.uint8):
        assert np.shares_memory(again, half)  # the idle buffer is taken first
    # The inner 3/4 MiB came back first, then the outer 1/2 MiB: 1.25 MiB idle is over the cap,
    # so the least recently used (the 3/4 MiB) is dropped.
    assert pool.idle_bytes() <= MiB
    (kept,) = pool.buffers()
    assert np.shares_memory(kept, half)


def test_one_buffer_per_size_class():
    pool = ScratchPool(64 * MiB)
    with pool.borrow(np, MiB, np.uint8) as one:
        pass
    with pool.borrow(np, 3 * MiB // 2, np.uint8) as larger:  # replaces the 1 MiB idle buffer
        assert not np.shares_memory(one, larger)
    (kept,) = pool.buffers()
    with pool.borrow(np, MiB, np.uint8) as again:  # served by the larger one
        assert np.shares_memory(again, kept)
    with pool.borrow(np, 1000, np.uint8) as small:  # 1.5 MiB is too large to lend for 1000 bytes
        assert not np.shares_memory(small, kept)
    assert len(pool.buffers()) == 2


def test_a_buffer_comes_back_when_the_block_raises():
    pool = ScratchPool(MiB)
    with pytest.raises(RuntimeError, match="the block fails"), pool.borrow(np, 100, np.float32):
        raise RuntimeError("the block fails")
    assert pool.idle_bytes() > 0 and len(pool.buffers()) == 1


def test_the_setting_sets_the_cap_and_zero_disables(monkeypatch):
    monkeypatch.setenv(scratch.SCRATCH_SETTING, "3")
    assert ScratchPool.from_env().cap_bytes == 3 * MiB
    monkeypatch.delenv(scratch.SCRATCH_SETTING)
    assert ScratchPool.from_env().cap_bytes == scratch.DEFAULT_SCRATCH_MB * MiB
    monkeypatch.setenv(scratch.SCRATCH_SETTING, "0")
    off = ScratchPool.from_env()
    with off.borrow(np, (4, 5), np.float32) as a:
        assert a.shape == (4, 5) and off.buffers() == []
    assert off.buffers() == [] and off.idle_bytes() == 0
    for bad in ("-1", "lots"):
        monkeypatch.setenv(scratch.SCRATCH_SETTING, bad)
        with pytest.raises(ValueError, match=scratch.SCRATCH_SETTING):
            ScratchPool.from_env()


def test_other_devices_allocate_their_own_way():
    class DeviceModule:  # stands in for CuPy, whose memory pool already reuses device memory
        calls = 0

        @staticmethod
        def empty(shape, dtype):
            DeviceModule.calls += 1
            return np.empty(shape, dtype)

    pool = ScratchPool(MiB)
    with pool.borrow(DeviceModule, (3, 4), np.float32) as a:
        assert a.shape == (3, 4)
    assert DeviceModule.calls == 1 and pool.buffers() == []


# --------------------------------------------------------------------------- the pool in the conv


@pytest.fixture
def fast_conv(monkeypatch):
    """The fast kernels' pool, turned on (it is off by default) and empty."""
    pytest.importorskip("numba", reason="the scratch pool serves the Numba kernels")
    monkeypatch.setattr(scratch.POOL, "cap_bytes", 32 * MiB)
    scratch.POOL.clear()
    yield
    scratch.POOL.clear()


def conv_step(x, w, b, gy):
    xt, wt, bt = (sn.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, padding=1)
    y.backward(sn.tensor(gy))
    return y.array, xt.grad.array, wt.grad.array, bt.grad.array


def test_the_conv_reuses_its_buffers_on_the_second_call(fast_conv):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    gy = rng.standard_normal((4, 16, 12, 12)).astype(np.float32)
    first = conv_step(x, w, b, gy)
    owned = {b.ctypes.data for b in scratch.POOL.buffers()}
    assert len(owned) >= 2  # the column and rows buffers (and the weight-gradient chunk)
    second = conv_step(x, w, b, gy)
    assert {b.ctypes.data for b in scratch.POOL.buffers()} == owned  # no new buffer
    for got, want in zip(second, first, strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_pool_is_off_by_default_and_then_keeps_nothing(monkeypatch):
    pytest.importorskip("numba", reason="the scratch pool serves the Numba kernels")
    monkeypatch.delenv(scratch.SCRATCH_SETTING, raising=False)
    assert scratch.DEFAULT_SCRATCH_MB == 0 and ScratchPool.from_env().cap_bytes == 0
    monkeypatch.setattr(scratch.POOL, "cap_bytes", 0)
    scratch.POOL.clear()
    rng = np.random.default_rng(0)
    x, gy = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 4, 6, 6))
    conv_step(x, rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), gy)
    assert scratch.POOL.buffers() == []


def test_two_threads_get_the_serial_results(fast_conv, monkeypatch):
    from scratchnet.kernels import numba_cpu

    monkeypatch.setattr(numba_cpu, "COLUMN_BUFFER_BYTES", 8 * 1024)  # several chunks per call
    rng = np.random.default_rng(1)
    cases = []
    for _ in range(2):
        x = rng.standard_normal((6, 4, 10, 10)).astype(np.float32)
        w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
        b = rng.standard_normal(8).astype(np.float32)
        gy = rng.standard_normal((6, 8, 10, 10)).astype(np.float32)
        cases.append((x, w, b, gy))
    serial = [conv_step(*case) for case in cases]
    errors: list[str] = []
    start = threading.Barrier(2)

    def work(i: int) -> None:
        start.wait()
        for _ in range(30):
            for got, want in zip(conv_step(*cases[i]), serial[i], strict=True):
                if not np.array_equal(got, want):
                    errors.append(f"thread {i}: a result differs from the serial one")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def arrays_in(value) -> list[np.ndarray]:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, list | tuple):
        return [a for item in value for a in arrays_in(item)]
    return []


@pytest.mark.parametrize("winograd", ["off", "on"])
def test_no_array_leaving_a_function_is_a_pool_buffer(fast_conv, monkeypatch, winograd):
    """Over whole training steps of a ResNet, every output, returned gradient and saved array of
    every Function is checked against the pool's buffers (Winograd on and off)."""
    monkeypatch.setenv("SCRATCHNET_WINOGRAD", winograd)
    leaving: list[tuple[str, np.ndarray]] = []

    def record(cls, method):
        original = cls.__dict__[method]

        def recorded(self, *args):
            result = original(self, *args)
            name = f"{type(self).__name__}.{method}"
            leaving.extend((f"{name} result", a) for a in arrays_in(result))
            for key, value in vars(self).items():  # what it saved for backward
                leaving.extend((f"{name} saved {key}", a) for a in arrays_in(value))
            return result

        monkeypatch.setattr(cls, method, recorded)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for cls in set(subclasses(Function)):
        for method in ("forward", "backward"):
            if method in cls.__dict__:
                record(cls, method)
    model = sn.models.resnet20()
    optimizer = sn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(2)
    x = sn.tensor(rng.standard_normal((2, 3, 16, 16)).astype(np.float32))
    target = sn.tensor(rng.integers(0, 10, 2))
    for _ in range(2):  # the second step runs on buffers the first one left in the pool
        optimizer.zero_grad()
        F.cross_entropy(model(x), target).backward()
        optimizer.step()
    buffers = scratch.POOL.buffers()
    assert buffers, "the convolutions borrowed nothing: the check below would be empty"
    assert any("Conv2dFunction" in name for name, _ in leaving)
    offenders = {name for name, a in leaving if shares_any(a, buffers)}
    grads = [p.grad.array for p in model.parameters()]
    assert not offenders and not any(shares_any(g, buffers) for g in grads)
