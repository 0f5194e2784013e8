"""The array backend: choosing NumPy or CuPy from the array,
devices, optional imports; core ops on the GPU."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import backend


class FakeCudaArray:
    """Stands in for a CuPy array: the backend recognises arrays by their type's module."""

    __module__ = "cupy._core.core"


def test_get_xp_and_device_of_numpy_arrays():
    a = np.zeros(3)
    assert (
        backend.get_xp(a) is np and backend.device_of(a) == "cpu" and not backend.is_cuda_array(a)
    )


def test_cuda_arrays_are_recognised_by_their_module():
    assert backend.is_cuda_array(FakeCudaArray()) and backend.device_of(FakeCudaArray()) == "cuda"


@pytest.mark.parametrize(
    ("name", "expected"), [(None, "cpu"), ("cpu", "cpu"), ("cuda", "cuda"), ("cuda:0", "cuda")]
)
def test_normalize_device(name, expected):
    assert backend.normalize_device(name) == expected


def test_to_device_cpu_is_a_no_op():
    a = np.ones(2)
    assert backend.to_device(a, "cpu") is a


def test_without_cupy_cuda_is_unavailable():
    if backend.import_cupy() is not None:
        pytest.skip("this machine has CuPy and a GPU")
    assert not sn.cuda.is_available() and sn.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="pip install cupy"):
        sn.cuda.synchronize()
    with pytest.raises(RuntimeError, match="pip install cupy"):
        backend.require_cupy("this test")


def test_reference_kernels_switch():
    before = backend.fast_kernels_enabled()
    with backend.reference_kernels():
        assert not backend.fast_kernels_enabled()
        assert backend.fast_kernels_for(np.zeros(2)) is None
    assert backend.fast_kernels_enabled() == before


def test_numba_imports_lazily():
    pytest.importorskip("numba", reason="numba is not installed")
    assert backend.import_numba() is not None


# ------------------------------------------------------------------- on a GPU (skipped without one)


def _on_gpu_and_cpu(fn, *arrays):
    """Run ``fn`` on CPU tensors and on their CUDA copies;
    return (cpu outputs, gpu outputs), grads included."""
    results = []
    for device in ("cpu", "cuda"):
        xs = [sn.tensor(a, requires_grad=True, device=device) for a in arrays]
        y = fn(*xs)
        y.backward(
            sn.tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape), dtype=y.dtype, device=device)
        )
        results.append([y.cpu().numpy(), *(x.grad.cpu().numpy() for x in xs)])
    return results


GPU_CASES = {
    "arithmetic": (lambda a, b: (a * b + a / (b.abs() + 1) - b**2).exp().log(), [(3, 4), (4,)]),
    "unary": (
        lambda a: a.tanh() + a.sigmoid() + a.relu() + a.clamp(-0.5, 0.5) + a.abs().sqrt(),
        [(2, 5)],
    ),
    "reductions": (
        lambda a: a.sum(0) + a.mean(0) + a.var(0) + a.amax(0) + a.max(0).values,
        [(4, 3)],
    ),
    "shapes": (
        lambda a: sn.cat([a.T.reshape(2, 6), a.flatten()[None, ::2]], 0)[:, [1, 1, 3]],
        [(3, 4)],
    ),
    "split-pad": (lambda a: sn.pad(a, (1, 1)).split(2, 1)[0] * 2, [(3, 4)]),
    "matmul": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "where": (lambda a, b: sn.where(a > 0, a, b), [(3, 4), (3, 4)]),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_core_ops_on_the_gpu_match_the_cpu(name):
    fn, shapes = GPU_CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape) + 0.05 for shape in shapes]
    cpu, gpu = _on_gpu_and_cpu(fn, *arrays)
    for ours, reference in zip(gpu, cpu, strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.gpu
def test_gpu_tensors_and_device_moves():
    x = sn.randn(2, 3, requires_grad=True)
    y = x.cuda()
    assert y.device == "cuda" and repr(y).endswith("device='cuda', grad_fn=<ToDeviceBackward>)")
    (y * 2.0).sum().backward()  # the gradient flows back across the copy
    assert x.grad.device == "cpu" and x.grad.tolist() == [[2.0] * 3] * 2
    z = sn.zeros(2, device="cuda") + 1.0
    assert z.device == "cuda" and z.dtype == np.float32 and z.cpu().tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="same device"):
        x + y
    with pytest.raises(TypeError, match="cpu"):
        y.numpy()
    assert sn.gradcheck(
        lambda a: (a.exp() * a).sum(0), [sn.randn(3, 2, device="cuda", requires_grad=True)]
    )
