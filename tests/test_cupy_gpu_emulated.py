"""scratchnet's GPU code path, run on the CPU: no GPU and no CuPy needed.

tests/fake_cupy.py stands in for CuPy: its RawKernel compiles the CUDA C of
scratchnet/kernels/cupy_gpu.py with the host C++ compiler, and its arrays are as strict as CuPy's
(a NumPy array meeting a device array, or a NumPy function called on one, raises) and count every
read of device data by the host. With it, this file checks the GPU kernels against the NumPy
reference, then runs the op catalog, a ResNet-20 training step, the optimizers, the DataLoader and
dropout on "cuda", with the same check bodies as tests/test_gpu.py (tests/device_checks.py).

What this cannot check: races between GPU threads, atomics, CuPy itself and speed; tests/test_gpu.py
does that on a GPU.
"""

from __future__ import annotations

import re
import shutil
import sys

import device_checks as checks
import numpy as np
import pytest
from fake_cupy import FakeCupyArray, load_cupy_gpu, make_fake_cupy

import scratchnet as sn
from scratchnet import backend, rng

if shutil.which("g++") is None:
    pytest.skip("no host C++ compiler (g++) to emulate the CUDA kernels", allow_module_level=True)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return make_fake_cupy(tmp_path_factory.mktemp("cuda_on_the_host"))


@pytest.fixture(scope="module")
def kernels(fake):
    """scratchnet/kernels/cupy_gpu.py, loaded on the stand-in."""
    return load_cupy_gpu(fake)


@pytest.fixture
def emulated_gpu(fake, kernels, monkeypatch):
    """While the test runs, "cuda" means the stand-in: the GPU code path runs on the CPU."""
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(backend, "_cupy_module", fake)
    monkeypatch.setattr(backend, "_cupy_checked", True)
    monkeypatch.setitem(backend._loaded, backend.KERNEL_MODULES[("window", "cuda")][0], kernels)
    monkeypatch.setattr(rng, "_device_generator", None)
    monkeypatch.setattr(FakeCupyArray, "host_reads", 0)
    return fake


# --------------------------------------------------------------------------- the kernels


def test_signatures_and_docstrings_mirror_the_reference(kernels):
    checks.check_signatures(kernels)


def test_every_registered_kernel_exists(kernels):
    for (_, device), (_, names) in backend.KERNEL_MODULES.items():
        if device == "cuda":
            checks.check_registered_kernels(kernels, names)


def test_every_kernel_is_named_after_its_function(kernels):
    for name, source in kernels.SOURCES.items():
        assert re.search(rf'extern "C" __global__ void scratchnet_{name}\(', source), name


@pytest.mark.parametrize("dtype", checks.DTYPES)
@pytest.mark.parametrize(("x_shape", "geometry"), checks.WINDOWS)
def test_window_kernels_match_reference(emulated_gpu, kernels, x_shape, geometry, dtype):
    put, get = emulated_gpu.asarray, emulated_gpu.asnumpy
    checks.check_im2col(kernels, put, get, x_shape, geometry, dtype)
    checks.check_col2im(kernels, put, get, x_shape, geometry, dtype)
    checks.check_max_pool(kernels, put, get, x_shape, geometry, dtype)
    if geometry["dilation"] == 1:
        checks.check_avg_pool(kernels, put, get, x_shape, geometry, dtype)


@pytest.mark.parametrize("dtype", checks.DTYPES)
def test_reorders_and_norm_kernels_match_reference(emulated_gpu, kernels, dtype):
    put, get = emulated_gpu.asarray, emulated_gpu.asnumpy
    for shape in [(1, 1, 1, 1), (2, 3, 4, 5), (3, 2, 1, 7)]:
        checks.check_reorders(kernels, put, get, shape, dtype)
    for shape in [(4, 3, 10), (2, 5, 1), (1, 2, 33)]:
        checks.check_norm(kernels, put, get, shape, dtype)
    checks.check_max_pool_ties_and_nan(kernels, put, get)


def test_64_bit_indices(emulated_gpu, kernels, monkeypatch):
    """Above 2^30 elements the kernels index with ``long long``: the same results."""
    monkeypatch.setattr(kernels, "INDEX32_LIMIT", 0)
    put, get = emulated_gpu.asarray, emulated_gpu.asnumpy
    x_shape, geometry = checks.WINDOWS[1]
    checks.check_im2col(kernels, put, get, x_shape, geometry, np.float32)
    checks.check_col2im(kernels, put, get, x_shape, geometry, np.float32)
    checks.check_max_pool(kernels, put, get, x_shape, geometry, np.float32)
    checks.check_avg_pool(kernels, put, get, x_shape, geometry, np.float64)
    checks.check_reorders(kernels, put, get, (2, 3, 4, 5), np.float32)


def test_launch_configuration(fake, kernels):
    """One thread per element in blocks of BLOCK; nothing is launched for an empty array."""
    kernel = kernels.compiled("nchw_to_rows", np.dtype(np.float32), False)
    kernel.launches.clear()
    kernels.nchw_to_rows(fake.zeros((2, 3, 20, 20), np.float32))
    assert kernel.launches == [((-(-2400 // kernels.BLOCK),), (kernels.BLOCK,))]
    kernels.nchw_to_rows(fake.zeros((0, 3, 20, 20), np.float32))
    assert len(kernel.launches) == 1


def test_only_float32_and_float64_are_compiled(fake, kernels):
    with pytest.raises(NotImplementedError, match="float32 and float64"):
        kernels.im2col(fake.zeros((1, 1, 3, 3), np.float16), 2)


def test_the_stand_in_is_as_strict_as_cupy(fake):
    """So that the tests below catch a CPU array or a NumPy call slipping into the GPU path."""
    device_array = fake.zeros(3)
    with pytest.raises(TypeError, match="NumPy"):
        device_array + np.ones(3)
    with pytest.raises(TypeError, match=r"numpy\.pad called on a GPU array"):
        np.pad(device_array, 1)
    with pytest.raises(TypeError, match="NumPy"):
        fake.concatenate([device_array, np.ones(3)])
    assert isinstance(device_array + 1.0, FakeCupyArray) and isinstance(
        device_array.sum(), FakeCupyArray
    )


# ----------------------------------------------------------------- everything else, on "cuda"


def test_dispatch_picks_the_gpu_kernels(emulated_gpu, kernels):
    x = emulated_gpu.zeros(2)
    assert (
        backend.fast_kernels_for(x) is kernels
        and backend.fast_kernels_for(x, family="norm") is kernels
    )
    assert sn.cuda.is_available() and sn.zeros(2, device="cuda").device == "cuda"


def test_a_kernel_module_that_fails_to_import_leaves_the_reference_path(emulated_gpu, monkeypatch):
    names = backend.KERNEL_MODULES[("window", "cuda")][1]
    monkeypatch.setitem(
        backend.KERNEL_MODULES, ("window", "cuda"), ("scratchnet.kernels.no_such_module", names)
    )
    monkeypatch.setattr(backend, "_loaded", {})
    with pytest.warns(RuntimeWarning, match="no_such_module could not be imported"):
        assert backend.fast_kernels_for(emulated_gpu.zeros(2)) is None
    checks.check_catalog("conv", "cuda")  # conv2d still runs, on the reference code


@pytest.mark.parametrize("name", sorted(checks.CATALOG))
def test_op_catalog(emulated_gpu, name):
    checks.check_catalog(name, "cuda")
    checks.check_catalog_gradcheck(name, "cuda")


@pytest.mark.parametrize("name", checks.WINDOW_OPS)
def test_reference_path_on_the_gpu(emulated_gpu, name):
    checks.check_catalog(name, "cuda", reference_on_device=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_step_matches_the_cpu(emulated_gpu, dtype):
    checks.check_training_step("cuda", dtype)


def test_training_step_reads_nothing_back_but_the_label_check(emulated_gpu):
    """Forward, backward and the optimizer step queue GPU work without waiting for it: the one read
    of device data is cross_entropy's check that the labels are valid class indices."""
    net = checks.model().to("cuda")
    optimizer = sn.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x, t = sn.randn(4, 3, 32, 32, device="cuda"), sn.tensor(np.array([1, 2, 3, 4]), device="cuda")
    for _ in range(2):
        FakeCupyArray.host_reads = 0
        loss = sn.nn.functional.cross_entropy(net(x), t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert FakeCupyArray.host_reads == 1


def test_module_to(emulated_gpu):
    checks.check_module_to("cuda")


@pytest.mark.parametrize("name", sorted(checks.OPTIMIZERS))
def test_optimizers(emulated_gpu, name):
    checks.check_optimizer(name, "cuda")


def test_data_loader(emulated_gpu):
    checks.check_data_loader("cuda")


def test_dropout(emulated_gpu):
    checks.check_dropout("cuda")


def test_devices_do_not_mix(emulated_gpu):
    checks.check_devices_do_not_mix("cuda")
