"""The benchmark suite measures what it claims: torch twins compute the same function, cases run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import scratchnet as sn

# benchmarks/ sits beside the package, not in it: reachable from the repository root only.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import run
from benchmarks.models import pair


@pytest.mark.parametrize("name", ["small_cnn", "resnet20"])
def test_torch_twin_computes_the_same_function(name):
    torch = pytest.importorskip("torch")
    mine, theirs, shape = pair(name, torch)
    mine.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((2, *shape[1:]), dtype=np.float32)
    with sn.no_grad():
        ours = mine(sn.tensor(x)).array
    with torch.no_grad():
        reference = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)


def test_op_cases_run_and_table_is_written(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8), dtype=np.float32)
    cases = run.op_pair(lambda t: sn.nn.functional.max_pool2d(t, 2), None, [x], torch=None)
    assert set(cases) == {
        ("fwd", "fast"),
        ("fwd+bwd", "fast"),
        ("fwd", "reference"),
        ("fwd+bwd", "reference"),
    }
    rows = run.measure("ops", "max_pool2d", "(2,3,8,8)", cases, rounds=1)
    assert [r["op"] for r in rows] == ["fwd", "fwd+bwd"]
    assert rows[1]["fast"] > 0 and rows[1]["fast/torch"] != rows[1]["fast/torch"]  # NaN: no torch
    run.measure_memory(rows, "ops", "max_pool2d", "(2,3,8,8)", cases, ("fwd+bwd",))
    assert "fast peak MiB" in rows[1] and "fast peak MiB" not in rows[0]
    markdown = run.to_markdown(rows, {"cpu": "test"})
    assert "| max_pool2d | fwd+bwd |" in markdown


def test_peak_memory_sees_an_allocation_of_freed_heap_memory():
    """After big arrays were freed, glibc keeps their pages; the growth of a call that reuses them
    must still show (malloc_trim hands them back before the measurement)."""
    import platform

    if platform.system() != "Linux":
        pytest.skip("peak memory is read from /proc (Linux only)")
    for _ in range(3):
        # allocate and free 8 MiB: glibc then keeps such blocks in its heap
        np.ones(8 * 2**20 // 8).sum()

    def allocate_8_mib():
        np.ones(8 * 2**20 // 8).sum()

    assert run.peak_rss_growth(allocate_8_mib) >= 7 * 2**20
