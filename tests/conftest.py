"""Shared fixtures: the optional PyTorch oracle, the device fixture and GPU marker, hypothesis
settings. Shared helper functions (count_params, assert_close, ...) live in helpers.py."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import scratchnet

settings.register_profile(
    "scratchnet",
    deadline=None,  # first calls compile Numba kernels; timing belongs in benchmarks, not tests
    max_examples=int(os.environ.get("SCRATCHNET_HYPOTHESIS_EXAMPLES", "25")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples every run, so CI is reproducible
)
settings.load_profile("scratchnet")


@pytest.fixture
def torch():
    """PyTorch as an oracle; the test is skipped (with the reason) where it cannot be imported."""
    return pytest.importorskip(
        "torch", reason="PyTorch is not installed: cross-checks against torch skipped"
    )


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test on the CPU and, where CuPy sees a GPU,
    on the GPU (``pytest -m gpu`` runs only those)."""
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    scratchnet.manual_seed(0)
    np.random.seed(0)


def pytest_collection_modifyitems(config, items):
    if scratchnet.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU with CuPy on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
