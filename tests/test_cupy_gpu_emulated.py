"""The GPU kernels of scratchnet/kernels/cupy_gpu.py, run on the CPU: no GPU, no CuPy needed.

``cupy_gpu.py`` is loaded with a stand-in for the ``cupy`` module. Its ``RawKernel`` compiles the
very same CUDA C source with the host C++ compiler, behind a few lines that define what CUDA gives a
kernel (``blockIdx``, ``threadIdx``, ``atomicAdd``), and "launches" it by running a tiny grid of
2 blocks x 3 threads one thread after the other. Every kernel walks its elements in a grid-stride
loop, so 6 threads cover any size, and the index arithmetic, bounds, padding, ceil mode and the
Python wrappers (argument types, buffers, layouts) are all checked against the NumPy reference.
``ElementwiseKernel`` and ``ReductionKernel`` run their (Python-compatible) expressions in NumPy.

What this cannot check: races between threads, real atomics, and CuPy itself; tests/test_gpu.py
does that on a GPU.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import kernel_parity as parity
import scratchnet

if shutil.which("g++") is None:
    pytest.skip("no host C++ compiler (g++) to emulate the CUDA kernels", allow_module_level=True)

KERNELS_FILE = Path(scratchnet.__file__).parent / "kernels" / "cupy_gpu.py"

# What the CUDA compiler provides to a kernel, for the host compiler.
CUDA_ON_THE_HOST = r"""
#include <cmath>
using std::isnan;
struct Dim3 { unsigned x, y, z; };
static Dim3 blockIdx, threadIdx, blockDim, gridDim;
extern "C" void emulator_set_thread(unsigned block, unsigned thread, unsigned blocks, unsigned threads) {
    blockIdx.x = block; threadIdx.x = thread; gridDim.x = blocks; blockDim.x = threads;
}
template <class T> T atomicAdd(T* address, T value) { T old = *address; *address = old + value; return old; }
#define __global__
"""
GRID = (2, 3)  # emulated blocks, threads per block
_CTYPES = {np.int32: ctypes.c_int32, np.int64: ctypes.c_int64, np.float32: ctypes.c_float, np.float64: ctypes.c_double}


class HostRawKernel:
    """Stands in for ``cupy.RawKernel``: the CUDA C source, compiled by g++ and run thread by thread."""

    def __init__(self, code: str, name: str, options: tuple[str, ...] = (), *, build_dir: Path) -> None:
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
            subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", str(library), str(cpp)], check=True)
        lib = ctypes.CDLL(str(library))
        return lib.emulator_set_thread, getattr(lib, self.name)

    def __call__(self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple) -> None:
        assert isinstance(grid, tuple) and isinstance(block, tuple) and grid[0] >= 1 and block[0] >= 1
        self.launches.append((grid, block))
        if self._function is None:
            self._function = self._compile()
        set_thread, kernel = self._function
        c_args = []
        for a in args:
            if isinstance(a, np.ndarray):
                c_args.append(ctypes.c_void_p(a.ctypes.data))
            elif type(a) in _CTYPES:
                c_args.append(_CTYPES[type(a)](a))
            else:  # CuPy would guess a C type for a Python number; the kernels must never rely on that
                raise TypeError(f"{self.name}: argument {a!r} of type {type(a).__name__} has no exact C type")
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
    shape = np.broadcast_shapes(*(a.shape for a in args))
    return {name: np.broadcast_to(a, shape) for (_, name), a in zip(params, args, strict=True)}


class HostElementwiseKernel:
    """Stands in for ``cupy.ElementwiseKernel``; the operation (``y = x * scale + shift``) runs in NumPy."""

    def __init__(self, in_params: str, out_params: str, operation: str, name: str = "kernel") -> None:
        self.inputs, self.output, self.operation = _names(in_params), _names(out_params)[0][1], operation

    def __call__(self, *args):
        env = _broadcast_inputs("ElementwiseKernel", self.inputs, args)
        dtype = next(iter(env.values())).dtype
        exec(self.operation, {}, env)
        return np.ascontiguousarray(env[self.output], dtype=dtype)


class HostReductionKernel:
    """Stands in for ``cupy.ReductionKernel`` with ``reduce_expr="a + b"``: map, sum over ``axis``, post-map."""

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name="reduce"):
        assert reduce_expr == "a + b" and identity == "0"
        self.inputs, self.output = _names(in_params), _names(out_params)[0][1]
        self.map_expr, self.post_map_expr = map_expr, post_map_expr

    def __call__(self, *args, axis):
        env = _broadcast_inputs("ReductionKernel", self.inputs, args)
        dtype = next(iter(env.values())).dtype
        result = {"a": eval(self.map_expr, {}, env).sum(axis=axis)}
        exec(self.post_map_expr, {}, result)
        return np.asarray(result[self.output], dtype=dtype)


@pytest.fixture(scope="module")
def gpu(tmp_path_factory):
    """scratchnet/kernels/cupy_gpu.py loaded on a NumPy-backed stand-in for ``cupy``."""
    build_dir = tmp_path_factory.mktemp("cuda_on_the_host")
    fake = types.ModuleType("cupy")
    fake.__getattr__ = lambda name: getattr(np, name)  # cupy.empty, cupy.int64 ... -> NumPy's
    fake.RawKernel = lambda code, name, options=(): HostRawKernel(code, name, options, build_dir=build_dir)
    fake.ElementwiseKernel = HostElementwiseKernel
    fake.ReductionKernel = HostReductionKernel
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = fake
    try:
        spec = importlib.util.spec_from_file_location("scratchnet_cupy_gpu_on_the_host", KERNELS_FILE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["cupy"]
        else:
            sys.modules["cupy"] = saved
    return module


def same(a):
    return a


def test_signatures_and_docstrings_mirror_the_reference(gpu):
    parity.check_signatures(gpu)


def test_every_kernel_is_named_after_its_function(gpu):
    for name, source in gpu.SOURCES.items():
        assert re.search(rf'extern "C" __global__ void scratchnet_{name}\(', source), name


@pytest.mark.parametrize("dtype", parity.DTYPES)
@pytest.mark.parametrize(("x_shape", "geometry"), parity.WINDOWS)
def test_window_kernels_match_reference(gpu, x_shape, geometry, dtype):
    parity.check_im2col(gpu, same, same, x_shape, geometry, dtype)
    parity.check_col2im(gpu, same, same, x_shape, geometry, dtype)
    parity.check_max_pool(gpu, same, same, x_shape, geometry, dtype)
    if geometry["dilation"] == 1:
        parity.check_avg_pool(gpu, same, same, x_shape, geometry, dtype)


@pytest.mark.parametrize("dtype", parity.DTYPES)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 4, 5), (3, 2, 1, 7)])
def test_reorders_match_reference(gpu, shape, dtype):
    parity.check_reorders(gpu, same, same, shape, dtype)


def test_max_pool_ties_and_nan(gpu):
    parity.check_max_pool_ties_and_nan(gpu, same, same)


@pytest.mark.parametrize("dtype", parity.DTYPES)
@pytest.mark.parametrize("shape", [(4, 3, 10), (2, 5, 1), (1, 2, 33)])
def test_norm_kernels_match_reference(gpu, shape, dtype):
    parity.check_norm(gpu, same, same, shape, dtype)


def test_64_bit_indices(gpu, monkeypatch):
    """Above 2^30 elements the kernels index with ``long long``: the same results."""
    monkeypatch.setattr(gpu, "INDEX32_LIMIT", 0)
    x_shape, geometry = parity.WINDOWS[1]
    parity.check_im2col(gpu, same, same, x_shape, geometry, np.float32)
    parity.check_col2im(gpu, same, same, x_shape, geometry, np.float32)
    parity.check_max_pool(gpu, same, same, x_shape, geometry, np.float32)
    parity.check_avg_pool(gpu, same, same, x_shape, geometry, np.float64)
    parity.check_reorders(gpu, same, same, (2, 3, 4, 5), np.float32)


def test_launch_configuration(gpu):
    """One thread per element in blocks of BLOCK; nothing is launched for an empty array."""
    kernel = gpu.compiled("nchw_to_rows", np.dtype(np.float32), False)
    kernel.launches.clear()
    gpu.nchw_to_rows(np.zeros((2, 3, 20, 20), np.float32))
    assert kernel.launches == [((-(-2400 // gpu.BLOCK),), (gpu.BLOCK,))]
    gpu.nchw_to_rows(np.zeros((0, 3, 20, 20), np.float32))
    assert len(kernel.launches) == 1


def test_only_float32_and_float64_are_compiled(gpu):
    with pytest.raises(NotImplementedError, match="float32 and float64"):
        gpu.im2col(np.zeros((1, 1, 3, 3), np.float16), 2)
