"""Helpers shared by the tests: one definition each, imported as ``from helpers import ...``.

pytest puts ``tests/`` on ``sys.path`` (the folder has no ``__init__.py``), so every test file and
the shared check modules (``device_checks.py``) import from here. Fixtures live in ``conftest.py``.
"""

from __future__ import annotations

import numpy as np

import scratchnet as sn
from scratchnet import backend


def count_params(module) -> int:
    """Number of parameters of a module (scratchnet's or PyTorch's):
    what a lesson's table prints."""
    return sum(p.numel() for p in module.parameters())


def params_without_grad(module) -> list[str]:
    """Names of the parameters that a backward pass left without a gradient."""
    return [name for name, p in module.named_parameters() if p.grad is None]


def as_numpy(value) -> np.ndarray:
    """A NumPy array from a scratchnet or PyTorch tensor, or anything ``np.asarray`` takes."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(value)


def assert_close(actual, expected, rtol: float = 1e-4, err_msg: str = "") -> None:
    """Same shape, and equal within ``rtol`` relative to each element and to the largest magnitude
    of ``expected`` (a sum of many terms cancels: its small elements carry the big ones' error)."""
    actual, expected = as_numpy(actual), as_numpy(expected)
    assert actual.shape == expected.shape, f"{err_msg}: shape {actual.shape} != {expected.shape}"
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-30)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=err_msg)


def assert_same(actual, expected, dtype, rtol: float | None = None) -> None:
    """A fast kernel's result against its reference: same dtype and shape, and equal to rounding
    (1e-5 in float32, 1e-12 in float64, unless ``rtol`` says otherwise)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    tolerance = rtol or (1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def random_array(shape, dtype=np.float64, seed: int = 0) -> np.ndarray:
    """Standard-normal values of one shape and dtype, the same for the same seed."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def random_tensors(shapes, dtype=np.float64, seed: int = 0) -> list[sn.Tensor]:
    """One standard-normal leaf tensor
    (``requires_grad=True``) per shape, from one seeded stream."""
    rng = np.random.default_rng(seed)
    return [
        sn.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True) for shape in shapes
    ]


def on_reference_kernels(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the fast kernels switched off: the NumPy reference in ops/."""
    with backend.reference_kernels():
        return fn(*args, **kwargs)


def value_and_grad(lib, fn, values, dtype=np.float64):
    """``fn(x)`` and d fn / dx as NumPy, for x built from ``values`` by ``lib`` (``scratchnet`` or
    ``torch``: the same call runs on both, so a test compares the two libraries line by line)."""
    x = lib.tensor(np.asarray(values, dtype=dtype), requires_grad=True)
    out = fn(x)
    out.backward()
    return out, x.grad.numpy()


def randomize_(tv_model, torch, redraw_weights: bool = True):
    """Random biases and BatchNorm parameters and statistics (torchvision leaves them 0 and 1).

    With ``redraw_weights`` the conv and linear weights are redrawn He-scaled, so the outputs stay
    O(1); without it they keep torchvision's init (redrawing VGG's 133M weights costs seconds).
    """
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in tv_model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            is_bn_scale = name.endswith("weight") and t.ndim == 1  # BN's gamma
            if name.endswith("running_var") or is_bn_scale:
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif t.ndim == 1:  # biases, BN beta, running means
                t.copy_(0.1 * torch.randn(t.shape, generator=gen))
            elif redraw_weights:
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / t[0].numel()) ** 0.5)
    return tv_model
