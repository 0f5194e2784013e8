"""scratchnet on an NVIDIA GPU (CuPy) against the CPU: ops, kernels, modules, a training step,
optimizers, data.

Tests taking the ``device`` fixture run on the CPU everywhere and on the GPU where CuPy sees one;
tests marked ``gpu`` need the GPU. ``pytest -m gpu`` runs just the GPU ones; without a GPU they are
skipped with the reason (tests/conftest.py). On the CPU the op catalog checks the fast kernels
against the reference path, so the catalog itself is exercised by every CI run. The check bodies
live in tests/device_checks.py; tests/test_cupy_gpu_emulated.py runs them on an emulated GPU.
"""

from __future__ import annotations

import device_checks as checks
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import backend, nn
from scratchnet.data import DataLoader, TensorDataset
from scratchnet.nn import functional as F

gpu = pytest.mark.gpu


def cupy():
    return backend.require_cupy("tests/test_gpu.py")


# --------------------------------------------------------------------------- the op catalog


@pytest.mark.parametrize("name", sorted(checks.CATALOG))
def test_op_catalog_matches_the_cpu_reference(name, device):
    checks.check_catalog(name, device)


@pytest.mark.parametrize("name", sorted(checks.CATALOG))
def test_op_catalog_gradcheck(name, device):
    checks.check_catalog_gradcheck(name, device)


@gpu
@pytest.mark.parametrize("name", checks.WINDOW_OPS)
def test_reference_path_runs_on_the_gpu(name):
    """The plain NumPy-style code (SCRATCHNET_KERNELS=reference) also runs on CuPy arrays."""
    checks.check_catalog(name, "cuda", reference_on_device=True)


# --------------------------------------------------------------------------- kernel parity


def test_the_backend_picks_batch_norms_kernels():
    """One place decides: Numba's siblings on the CPU (for images), CuPy's on the GPU."""
    numba_norm = pytest.importorskip(
        "scratchnet.kernels.numba_norm", reason="numba is not installed"
    )
    if backend.fast_kernels_enabled():
        assert backend.fast_kernels_for(np.zeros((2, 3, 4)), family="norm") is numba_norm
    with backend.reference_kernels():
        assert backend.fast_kernels_for(np.zeros((2, 3, 4)), family="norm") is None


def _kernels():
    from scratchnet.kernels import cupy_gpu

    return cupy_gpu, cupy().asarray, cupy().asnumpy


@gpu
def test_dispatch_picks_the_gpu_kernels():
    kernels, put, _ = _kernels()
    x = put(np.zeros(2))
    assert (
        backend.fast_kernels_for(x) is kernels
        and backend.fast_kernels_for(x, family="norm") is kernels
    )
    checks.check_signatures(kernels)
    for (_, device), (_, names) in backend.KERNEL_MODULES.items():
        if device == "cuda":
            checks.check_registered_kernels(kernels, names)
    with backend.reference_kernels():
        assert backend.fast_kernels_for(x) is None


@gpu
@pytest.mark.parametrize("dtype", checks.DTYPES)
@pytest.mark.parametrize(("x_shape", "geometry"), checks.WINDOWS)
def test_gpu_window_kernels_match_reference(x_shape, geometry, dtype):
    kernels, put, get = _kernels()
    checks.check_im2col(kernels, put, get, x_shape, geometry, dtype)
    checks.check_col2im(kernels, put, get, x_shape, geometry, dtype)
    checks.check_max_pool(kernels, put, get, x_shape, geometry, dtype)
    if geometry["dilation"] == 1:
        checks.check_avg_pool(kernels, put, get, x_shape, geometry, dtype)


@gpu
@pytest.mark.parametrize("dtype", checks.DTYPES)
def test_gpu_reorders_and_norm_kernels_match_reference(dtype):
    kernels, put, get = _kernels()
    for shape in [(1, 1, 1, 1), (2, 3, 4, 5), (3, 2, 1, 7)]:
        checks.check_reorders(kernels, put, get, shape, dtype)
    for shape in [(4, 3, 10), (2, 5, 1), (8, 16, 1000)]:
        checks.check_norm(kernels, put, get, shape, dtype)
    checks.check_max_pool_ties_and_nan(kernels, put, get)


@gpu
def test_gpu_kernels_with_64_bit_indices(monkeypatch):
    kernels, put, get = _kernels()
    monkeypatch.setattr(kernels, "INDEX32_LIMIT", 0)
    x_shape, geometry = checks.WINDOWS[1]
    checks.check_im2col(kernels, put, get, x_shape, geometry, np.float32)
    checks.check_col2im(kernels, put, get, x_shape, geometry, np.float32)
    checks.check_max_pool(kernels, put, get, x_shape, geometry, np.float64)
    checks.check_avg_pool(kernels, put, get, x_shape, geometry, np.float32)
    checks.check_reorders(kernels, put, get, (2, 3, 4, 5), np.float32)


@gpu
def test_a_resnet_sized_layer_matches_the_cpu():
    """One float32 layer at a realistic size: im2col + cuBLAS + col2im against the CPU's conv2d."""
    rng = np.random.default_rng(0)
    x, w = (
        rng.standard_normal((8, 64, 28, 28), dtype=np.float32),
        rng.standard_normal((64, 64, 3, 3), dtype=np.float32),
    )
    g = rng.standard_normal((8, 64, 14, 14), dtype=np.float32)
    results = []
    for device in ("cpu", "cuda"):
        tx, tw = (
            sn.tensor(x, device=device, requires_grad=True),
            sn.tensor(w, device=device, requires_grad=True),
        )
        y = F.conv2d(tx, tw, stride=2, padding=1)
        y.backward(sn.tensor(g, device=device))
        results.append([checks.host(y), checks.host(tx.grad), checks.host(tw.grad)])
    for ours, theirs in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4 * np.abs(theirs).max())


# --------------------------------------------------------- modules, training, optimizers, data


@gpu
def test_module_to_moves_parameters_buffers_and_gradients():
    checks.check_module_to("cuda")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_resnet20_training_step_matches_the_cpu_reference(dtype, device):
    checks.check_training_step(device, dtype)


@pytest.mark.parametrize("name", sorted(checks.OPTIMIZERS))
def test_optimizers_on_the_device(name, device):
    checks.check_optimizer(name, device)


def test_data_loader_yields_batches_on_the_device(device):
    checks.check_data_loader(device)


def test_dropout_draws_its_mask_on_the_device(device):
    checks.check_dropout(device)


# ------------------------------------------------------------------ scratchnet.cuda and errors


@gpu
def test_cuda_helpers():
    assert sn.cuda.is_available() and sn.cuda.device_count() >= 1
    assert isinstance(sn.cuda.get_device_name(), str) and sn.cuda.get_device_name()
    sn.cuda.reset_peak_memory_stats()
    start = sn.cuda.memory_allocated()
    x = sn.zeros(16, 2**20, device="cuda")  # 64 MiB
    assert sn.cuda.memory_allocated() >= start + 64 * 2**20
    del x
    sn.cuda.synchronize()
    assert sn.cuda.memory_allocated() < start + 64 * 2**20
    assert sn.cuda.max_memory_allocated() >= start + 64 * 2**20
    assert sn.cuda.memory_reserved() >= sn.cuda.memory_allocated()
    sn.cuda.reset_peak_memory_stats()
    assert sn.cuda.max_memory_allocated() < start + 64 * 2**20
    sn.cuda.manual_seed(1)
    a = checks.host(F.dropout(sn.ones(1000, device="cuda"), 0.5))
    sn.cuda.manual_seed(1)
    np.testing.assert_array_equal(checks.host(F.dropout(sn.ones(1000, device="cuda"), 0.5)), a)


@gpu
def test_cpu_and_cuda_tensors_do_not_mix():
    checks.check_devices_do_not_mix("cuda")
    with pytest.raises(TypeError, match="cpu"):
        sn.zeros(2, device="cuda").numpy()


def test_asking_for_cuda_without_a_gpu_says_what_to_install():
    if sn.cuda.is_available():
        pytest.skip("this machine has CuPy and a GPU")
    makers = [
        lambda: sn.zeros(2, device="cuda"),
        lambda: sn.randn(2).cuda(),
        lambda: nn.Linear(2, 2).to("cuda"),
        lambda: DataLoader(TensorDataset(np.zeros((2, 1))), device="cuda"),
    ]
    for make in makers:
        with pytest.raises(
            RuntimeError, match=r"needs a CUDA GPU and CuPy: .*cupy-cuda12x.*cupy-cuda13x"
        ):
            make()
