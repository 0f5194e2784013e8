"""Every notebook in docs/notebooks runs top to bottom in a fresh Jupyter kernel, offline.

The harness globs the folder, so a new notebook (a lesson's, a demo's) is tested as soon as it is
added. A notebook may tag one code cell ``parameters`` (papermill's convention): the suite then
runs a cell with smaller settings right after it, so each demo's notebook runs in seconds while
its reader gets the 1-2 minute ``quick`` run. Committed notebooks carry no outputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
# Settings the suite runs the demo notebooks with: the smallest that still exercise every step.
SMOKE = {
    "demo_train": "dict(epochs=1, train_limit=96)",
    "demo_degradation": (
        "dict(depths='8,14', widths='4,4,4', epochs=2, train_limit=64, seeds='0,1')"
    ),
    "demo_aux_classifier": "dict(depth=6, width=4, epochs=1, train_limit=64, seeds='0,1')",
    "demo_se_excitation": "dict(widths='4,4,8', epochs=1, train_limit=64, seeds='0,1')",
    "demo_gradcam": "dict(size=16, samples=64, width=4, epochs=1, show=3, seeds='0,1')",
}


def test_there_are_notebooks_for_every_demo():
    names = {path.stem for path in NOTEBOOKS}
    assert set(SMOKE) <= names, f"missing: {sorted(set(SMOKE) - names)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_outputs_committed(path):
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' brings nbformat")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        i
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' brings nbformat")
    nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' brings nbclient")
    pytest.importorskip("ipykernel", reason="pip install -e '.[test]' brings ipykernel")
    notebook = nbformat.read(path, as_version=4)
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    if tagged and path.stem in SMOKE:
        smoke = nbformat.v4.new_code_cell(
            f"OPTIONS = {SMOKE[path.stem]}  # the test suite's smaller run"
        )
        notebook.cells.insert(tagged[0] + 1, smoke)
    # The kernel is a fresh process: it imports this checkout's scratchnet, draws without a display.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    images = sum(
        "image/png" in o.get("data", {})
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    if path.stem.startswith("demo_"):
        assert images >= 1, f"{path.name} showed no figure inline"
