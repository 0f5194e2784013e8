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


def test_rows_carry_ratio_ranges_and_page_faults_and_runs_merge_into_ranges():
    calls = {"fast": 0, "torch": 0}

    def fast():
        calls["fast"] += 1

    def torch_like():
        calls["torch"] += 1
        np.ones(2**20)  # 8 MiB of fresh pages: page faults on every call

    cases = {("train step", "fast"): fast, ("train step", "torch"): torch_like}
    runs = [run.measure("train", "resnet20", "64x3x32x32", cases, rounds=3) for _ in range(2)]
    # One warm-up, then per round a warm call and a timed one: the fair clock.
    assert calls == {"fast": 2 * (1 + 3 * 2), "torch": 2 * (1 + 3 * 2)}
    row = runs[0][0]
    low, high = row["fast/torch range"]
    assert low <= row["fast/torch"] <= high
    assert row["fast faults"] >= 0 and row["torch faults"] >= 0
    runs[0][0]["fast/torch"], runs[1][0]["fast/torch"] = 0.5, 2.0
    merged = run.merge_runs(runs)
    assert merged[0]["fast/torch range"] == (0.5, 2.0) and merged[0]["fast/torch"] == 1.25
    assert merged[0]["runs"] == 2


def test_epoch_estimate_and_step_memory_tables():
    row = {"section": "train", "name": "resnet20", "shape": "64x3x32x32", "op": "train step"}
    row |= {path: float("nan") for path in run.PATHS} | {k: float("nan") for k in run.RATIOS}
    row |= {"fast": 0.384, "torch": 0.192, "fast/torch": 2.0, "fast/torch range": (1.8, 2.2)}
    row |= {"fast step MiB": 150.0, "torch step MiB": 100.0}
    assert run.epoch_minutes(0.384) == pytest.approx(50_000 / 64 * 0.384 / 60)  # 5.0 minutes
    markdown = run.to_markdown([row], {"cpu": "test", "runs": 1})
    assert "scratchnet 5.0 min, torch 2.5 min (2.00x, range 1.80-2.20)" in markdown
    assert "| resnet20 64x3x32x32 | 150 | 100 | 1.50x |" in markdown


def test_step_memory_child_reports_its_own_peak_growth():
    """The fresh-process measurement runs (small CNN: seconds), sees the step's arrays, and not
    the parent's: ru_maxrss would carry the 512 MiB resident here over into the child."""
    from benchmarks import memory

    parent_resident = np.ones(2**26)  # 512 MiB, written: resident in this process
    peak = memory.peak_step_memory("scratchnet", "small_cnn", steps=1, threads=1)
    assert 1 < peak < 150  # MiB: a 64-image step allocates about 30
    del parent_resident


def test_the_timed_forward_backward_makes_no_tensor_of_its_own(monkeypatch):
    """The upstream gradient is made once, outside the timed call, as torch's is: building it
    inside (``sn.tensor(gy)``, a copy) timed an 8 MB copy per call on scratchnet's side only."""
    x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    cases = run.op_pair(sn.nn.functional.relu, None, [x], None, reference=False)
    made = []
    real_tensor = run.sn.tensor
    monkeypatch.setattr(run.sn, "tensor", lambda *a, **k: made.append(a) or real_tensor(*a, **k))
    cases[("fwd+bwd", "fast")]()
    assert made == []
