"""A stand-in for CuPy that runs on the CPU, so the GPU code path can be tested without a GPU.

``make_fake_cupy(build_dir)`` returns a module that ``scratchnet`` takes for CuPy:

* its arrays (``FakeCupyArray``) are NumPy arrays whose type claims to come from ``cupy``, so
  ``get_xp`` hands ops this module and ``Tensor.device`` says ``"cuda"``;
* they are as strict as CuPy's where a CPU library would be lax: a NumPy array passed to a "CuPy"
  function or mixed into an operation with a device array raises TypeError, and so does a NumPy
  function (``np.pad(...)``) called on a device array instead of ``xp.pad``;
* every read of device data by the host (``.get()``, ``.item()``, ``float()``, ``bool()`` ...) is
  counted in ``FakeCupyArray.host_reads``: a test can assert that a training step has none;
* ``RawKernel`` compiles the CUDA C source of ``scratchnet/kernels/cupy_gpu.py`` with the host C++
  compiler (behind a few lines defining what CUDA gives a kernel: ``blockIdx``, ``threadIdx``,
  ``atomicAdd``) and runs a grid of 2 blocks x 3 threads, one thread after the other. The kernels
  walk their elements in grid-stride loops, so 6 threads cover any size. ``ElementwiseKernel`` and
  ``ReductionKernel`` run their (Python-compatible) one-line expressions in NumPy.

What it cannot show: races between threads, real atomics, CuPy's own behaviour, speed.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

import scratchnet

KERNELS_FILE = Path(scratchnet.__file__).parent / "kernels" / "cupy_gpu.py"

# What the CUDA compiler provides to a kernel, for the host compiler.
CUDA_ON_THE_HOST = r"""
#include <cmath>
using std::isnan;
struct Dim3 { unsigned x, y, z; };
static Dim3 blockIdx, threadIdx, blockDim, gridDim;
extern "C" void emulator_set_thread(unsigned block, unsigned thread, unsigned blocks,
                                    unsigned threads) {
    blockIdx.x = block; threadIdx.x = thread; gridDim.x = blocks; blockDim.x = threads;
}
template <class T> T atomicAdd(T* address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}
#define __global__
"""
GRID = (2, 3)  # emulated blocks, threads per block
_CTYPES = {
    np.int32: ctypes.c_int32,
    np.int64: ctypes.c_int64,
    np.float32: ctypes.c_float,
    np.float64: ctypes.c_double,
}


# --------------------------------------------------------------------------- device arrays


class FakeCupyArray(np.ndarray):
    """A NumPy array that scratchnet's backend takes for a CuPy array, with CuPy's strictness."""

    host_reads = 0  # reads of device data by the host, over all arrays

    def get(self) -> np.ndarray:
        FakeCupyArray.host_reads += 1
        return np.array(self.view(np.ndarray))

    def item(self, *args):
        FakeCupyArray.host_reads += 1
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        FakeCupyArray.host_reads += 1
        return self.view(np.ndarray).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    def __index__(self):
        return int(self.item())

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = [_unwrap(a, f"numpy.{ufunc.__name__}") for a in inputs]
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o, f"numpy.{ufunc.__name__}") for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if method == "at":
            return None
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(
            f"numpy.{func.__name__} called on a GPU array: use xp = get_xp(x) and "
            f"xp.{func.__name__}"
        )

    def __setitem__(self, index, value):
        super().__setitem__(index, _unwrap(value, "__setitem__"))


FakeCupyArray.__module__ = "cupy._core.core"  # what the backend looks at


def _unwrap(a: Any, where: str) -> Any:
    if isinstance(a, FakeCupyArray):
        return a.view(np.ndarray)
    if isinstance(a, np.ndarray):
        raise TypeError(f"{where}: a NumPy (CPU) array met a CuPy (GPU) array")
    if isinstance(a, list | tuple):
        return type(a)(_unwrap(b, where) for b in a)
    return a


def _wrap(result: Any) -> Any:
    if isinstance(result, np.ndarray):
        return result.view(FakeCupyArray)
    if isinstance(result, np.generic):  # CuPy returns 0-d arrays where NumPy returns scalars
        return np.asarray(result).view(FakeCupyArray)
    if isinstance(result, list | tuple) and any(isinstance(r, np.ndarray) for r in result):
        return type(result)(_wrap(r) for r in result)
    return result


def asarray(a: Any, dtype: Any = None) -> FakeCupyArray:
    """Host -> device (a copy), or a device array as it is (cast if ``dtype`` says so)."""
    if isinstance(a, FakeCupyArray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    return np.array(a, dtype=dtype).view(FakeCupyArray)


def asnumpy(a: Any) -> np.ndarray:
    return a.get() if isinstance(a, FakeCupyArray) else np.asarray(a)


def _cupy_function(name: str) -> Any:
    """NumPy's function ``name`` as a "CuPy" one: device arrays in and out, no NumPy arrays."""
    function = getattr(np, name)
    if isinstance(function, np.ufunc | type) or not callable(function):
        # ufuncs check their operands in __array_ufunc__; dtypes and constants stay as they are
        return function

    def on_device(*args, **kwargs):
        args = [_unwrap(a, f"cupy.{name}") for a in args]
        kwargs = {k: _unwrap(v, f"cupy.{name}") for k, v in kwargs.items()}
        return _wrap(function(*args, **kwargs))

    return on_device


# --------------------------------------------------------------------------- kernels


class HostRawKernel:
    """Stands in for ``cupy.RawKernel``: the CUDA C, compiled by g++, run thread by thread."""

    def __init__(
        self, code: str, name: str, options: tuple[str, ...] = (), *, build_dir: Path
    ) -> None:
        self.code, self.name, self.build_dir = code, name, build_dir
        self.launches: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        self._function = None

    def _compile(self):
        source = CUDA_ON_THE_HOST + self.code
        digest = hashlib.sha1(source.encode()).hexdigest()[:16]
        library = self.build_dir / f"{self.name}_{digest}.so"
        if not library.exists():
            cpp = library.with_suffix(".cpp")
            cpp.write_text(source)
            subprocess.run(
                ["g++", "-O1", "-shared", "-fPIC", "-o", str(library), str(cpp)], check=True
            )
        lib = ctypes.CDLL(str(library))
        return lib.emulator_set_thread, getattr(lib, self.name)

    def __call__(self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple) -> None:
        assert (
            isinstance(grid, tuple) and isinstance(block, tuple) and grid[0] >= 1 and block[0] >= 1
        )
        self.launches.append((grid, block))
        if self._function is None:
            self._function = self._compile()
        set_thread, kernel = self._function
        c_args = []
        for a in args:
            if isinstance(a, FakeCupyArray):
                c_args.append(ctypes.c_void_p(a.ctypes.data))
            elif isinstance(a, np.ndarray):
                raise TypeError(f"{self.name}: a NumPy (CPU) array passed to a GPU kernel")
            elif type(a) in _CTYPES:
                c_args.append(_CTYPES[type(a)](a))
            else:  # CuPy would guess a C type for a Python number; kernels must never rely on it
                raise TypeError(
                    f"{self.name}: argument {a!r} of type {type(a).__name__} has no exact C type"
                )
        for b in range(GRID[0]):
            for t in range(GRID[1]):
                set_thread(b, t, *GRID)
                kernel(*c_args)


def _names(params: str) -> list[tuple[str, str]]:
    return [tuple(p.split()) for p in params.split(",")]


def _broadcast_inputs(kind: str, params: list[tuple[str, str]], args: tuple) -> dict:
    dtypes = {a.dtype for (t, _), a in zip(params, args, strict=True) if t == "T"}
    if len(dtypes) != 1:  # CuPy refuses arguments of one type parameter T with different dtypes
        raise TypeError(f"{kind}: arguments typed T have different dtypes {dtypes}")
    arrays = [_unwrap(a, kind) for a in args]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    return {name: np.broadcast_to(a, shape) for (_, name), a in zip(params, arrays, strict=True)}


class HostElementwiseKernel:
    """Stands in for ``cupy.ElementwiseKernel``; the operation (``y = x * s + t``) runs in NumPy."""

    def __init__(
        self, in_params: str, out_params: str, operation: str, name: str = "kernel"
    ) -> None:
        self.inputs, self.output, self.operation = (
            _names(in_params),
            _names(out_params)[0][1],
            operation,
        )

    def __call__(self, *args):
        env = _broadcast_inputs("ElementwiseKernel", self.inputs, args)
        dtype = next(iter(env.values())).dtype
        exec(self.operation, {}, env)
        return _wrap(np.ascontiguousarray(env[self.output], dtype=dtype))


class HostReductionKernel:
    """Stands in for ``cupy.ReductionKernel`` with ``reduce_expr="a + b"``.

    Map, sum over ``axis``, post-map.
    """

    def __init__(
        self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name="reduce"
    ):
        assert reduce_expr == "a + b" and identity == "0"
        self.inputs, self.output = _names(in_params), _names(out_params)[0][1]
        self.map_expr, self.post_map_expr = map_expr, post_map_expr

    def __call__(self, *args, axis):
        env = _broadcast_inputs("ReductionKernel", self.inputs, args)
        dtype = next(iter(env.values())).dtype
        result = {"a": eval(self.map_expr, {}, env).sum(axis=axis)}
        exec(self.post_map_expr, {}, result)
        return _wrap(np.asarray(result[self.output], dtype=dtype))


# --------------------------------------------------------------------------- the module


class _RandomState:
    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def random_sample(self, size, dtype=float):
        return _wrap(self._rng.random(size, dtype=dtype))


class _MemoryPool:
    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass


def make_fake_cupy(build_dir: Path) -> types.ModuleType:
    """A module that scratchnet takes for CuPy (see the module docstring)."""
    fake = types.ModuleType("cupy")
    fake.__version__ = "0.0-fake"
    fake.__getattr__ = (
        _cupy_function  # cupy.empty, cupy.pad, cupy.int64 ... -> NumPy's, made strict
    )
    fake.ndarray = FakeCupyArray
    fake.asarray, fake.asnumpy = asarray, asnumpy
    fake.RawKernel = lambda code, name, options=(): HostRawKernel(
        code, name, options, build_dir=build_dir
    )
    fake.ElementwiseKernel = HostElementwiseKernel
    fake.ReductionKernel = HostReductionKernel
    fake.random = types.SimpleNamespace(RandomState=_RandomState, seed=lambda seed: None)
    pool = _MemoryPool()
    fake.get_default_memory_pool = lambda: pool
    device = types.SimpleNamespace(synchronize=lambda: None)
    fake.cuda = types.SimpleNamespace(
        Device=lambda *a: device,
        runtime=types.SimpleNamespace(
            getDeviceCount=lambda: 1, getDeviceProperties=lambda i: {"name": b"fake"}
        ),
    )
    return fake


def load_cupy_gpu(fake: types.ModuleType) -> types.ModuleType:
    """scratchnet/kernels/cupy_gpu.py, loaded on ``fake`` as its ``cupy`` (a separate copy)."""
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = fake
    try:
        spec = importlib.util.spec_from_file_location(
            "scratchnet_cupy_gpu_on_the_host", KERNELS_FILE
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["cupy"]
        else:
            sys.modules["cupy"] = saved
    return module
