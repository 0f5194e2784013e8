"""The course labs in ``lessons/`` and the ``scratchnet.labs`` tools.

Both directions, for every lab: the instructor's version passes all of its checks, and the released
student version fails them, each with a "not implemented yet: TASK ..." message. Then the tools
themselves: ``release_text`` on small sources, the feedback ``check`` gives for wrong answers, and
the command line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scratchnet.labs import ReleaseError, check_lab, find_labs, release, release_text
from scratchnet.labs.__main__ import main as labs_main

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
LABS = [lab.name for lab in find_labs(LESSONS)]


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The student version of every lab, written once for this module."""
    out = tmp_path_factory.mktemp("student") / "lessons"
    release(LESSONS, out)
    return out


def test_the_nine_labs_are_there():
    topics = ["autograd", "im2col", "pool_bn", "vgg", "inception", "resnet", "densenet", "senet", "medical"]
    assert LABS[:9] == [f"lab{i:02d}_{topic}" for i, topic in enumerate(topics, start=1)]
    for lab in LABS:
        assert (LESSONS / lab / "README.md").is_file(), f"{lab} has no handout"


SOLUTION_TOTALS: dict[str, int] = {}  # checks per lab, counted by the solution's run


@pytest.mark.parametrize("lab", LABS)
def test_solution_passes_every_check(lab):
    report = check_lab(LESSONS / lab)
    assert report.ok, report.render() + "\n\n" + report.output
    assert report.total >= 5
    SOLUTION_TOTALS[lab] = report.total
    handout = (LESSONS / lab / "README.md").read_text()
    claimed = re.findall(r"Score: (\d+)/(\d+) checks passed", handout)
    assert claimed == [(str(report.total), str(report.total))], f"{lab}/README.md's 'Score:' line is out of date"


@pytest.mark.parametrize("lab", LABS)
def test_released_stubs_fail_readably(lab, released, capsys):
    student = released / lab
    text = "".join(path.read_text() for path in student.glob("*.py"))
    assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text
    assert labs_main(["check", str(student)]) == 1  # python -m scratchnet.labs check <student's lab>
    out = capsys.readouterr().out
    assert "not implemented yet: TASK" in out and "ERROR  could not import" not in out, out
    passed, total = map(int, re.search(r"Score: (\d+)/(\d+) checks passed", out).groups())
    expected_total = SOLUTION_TOTALS.get(lab) or check_lab(LESSONS / lab, collect_only=True).total
    assert total == expected_total, "the student version has other checks than the instructor's"
    statuses = re.findall(r"^  (PASS|TODO|FAIL|ERROR|SKIP) ", out, re.MULTILINE)
    assert len(statuses) == total and statuses.count("PASS") == passed < total
    # A stub fails as "not implemented" (with the task's name), never as a crash or a wrong value.
    assert set(statuses) <= {"PASS", "TODO"}, out
    messages = re.findall(r"^  TODO  .*\n {8}(.*)$", out, re.MULTILINE)
    assert len(messages) == total - passed and all(m.startswith("not implemented yet: TASK") for m in messages), out


def test_release_keeps_hints_and_indentation():
    source = '''
# TASK 3.2  Max pooling, backward: the winner takes the gradient
class Pool:
    def backward(self, gy):
        """Docstring stays."""
        # HINT: add, never assign.
        ### BEGIN SOLUTION
        gx = gy * 2
        return gx
        ### END SOLUTION

    def other(self):
        if True:
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
        return 2
'''
    text, holes = release_text(source, "lab/pool.py")
    assert holes == 2
    assert "gx = gy * 2" not in text and "return 1" not in text
    assert "        # HINT: add, never assign.\n" in text and '"""Docstring stays."""' in text
    stub = (
        '        raise NotImplementedError("TASK 3.2 (Max pooling, backward): complete Pool.backward() in pool.py")\n'
    )
    assert stub in text
    assert (
        '            raise NotImplementedError("TASK 3.2 (Max pooling, backward): complete Pool.other() in pool.py")\n'
        in text
    )
    assert "        return 2\n" in text


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "never closed"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "without a"),
        ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n", "inside the region"),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n  ### END SOLUTION\n", "indented differently"),
        ("### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n", "inside a function"),
        ("class A:\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n", "inside a function"),
        ("def f():\n    x = (\n    ### BEGIN SOLUTION\n    1)\n    ### END SOLUTION\n", "does not compile"),
    ],
)
def test_release_refuses_bad_markers(source, problem):
    with pytest.raises(ReleaseError, match=problem):
        release_text(source, "lab/bad.py")


def test_release_refuses_a_destination_inside_the_source(tmp_path):
    (tmp_path / "lab").mkdir()
    with pytest.raises(ReleaseError, match="must not be inside"):
        release(tmp_path, tmp_path / "out")


def lab_copy(tmp_path: Path, lab: str) -> Path:
    copy = tmp_path / lab
    shutil.copytree(LESSONS / lab, copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    return copy


def broken_lab02(tmp_path: Path, name: str, *replacements: tuple[str, str]) -> Path:
    lab = lab_copy(tmp_path / name, "lab02_im2col")
    source = (lab / "conv_im2col.py").read_text()
    for old, new in replacements:
        assert old in source
        source = source.replace(old, new, 1)
    (lab / "conv_im2col.py").write_text(source)
    return lab


def test_check_explains_wrong_answers(tmp_path):
    transposed = ("return col.reshape(C * KH * KW, N * OH * OW)", "return col.reshape(C * KH * KW, N * OH * OW).T")
    report = check_lab(broken_lab02(tmp_path, "shape", transposed), keyword="im2col_matches_reference")
    text = report.render()
    assert not report.ok
    assert "expected shape (18, 32), got (32, 18)" in text  # the shape, expected vs actual
    assert f"Score: 0/{report.total} checks passed." in text

    wrong_gradient = ("return gx, gw, gb", "return gx, 2 * gw, gb")
    off_by_one = ("for ow in range(OW):", "for ow in range(OW + 1):")  # conv2d_loops indexes past the end
    report = check_lab(broken_lab02(tmp_path, "values", wrong_gradient, off_by_one), keyword="gradcheck or loops")
    text = report.render()
    assert "FAIL  Task 2.6" in text
    assert "gradcheck: gradient of input 1 (w, shape (3, 2, 3, 3)) is wrong at index" in text  # the worst element
    assert "ERROR Task 2.2" in text and "Error: " in text and "at conv_im2col.py, line" in text  # where it crashed


def test_check_reports_a_file_that_does_not_import(tmp_path):
    lab = lab_copy(tmp_path, "lab01_autograd")
    (lab / "autograd_ops.py").write_text("def broken(:\n")
    report = check_lab(lab)
    assert not report.ok and report.problems
    assert "syntax error in autograd_ops.py, line 1" in report.render()


def test_check_leaves_no_trace(released):
    lab = released / "lab01_autograd"
    path_before, modules_before = list(sys.path), set(sys.modules)
    check_lab(lab)
    assert sys.path == path_before
    assert not [name for name in set(sys.modules) - modules_before if name in ("autograd_ops", "test_lab01")]
    assert not (lab / "__pycache__").exists() and not (lab / ".pytest_cache").exists()


def test_command_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert labs_main(["release", str(LESSONS / "lab01_autograd"), str(out)]) == 0
    assert "solution regions replaced by stubs" in capsys.readouterr().out
    assert labs_main(["check", str(out)]) == 1
    assert "not implemented yet: TASK 1.1" in capsys.readouterr().out
    assert labs_main(["check", str(LESSONS / "lab01_autograd"), "-k", "test_mul"]) == 0
    assert "Score: 2/2 checks passed." in capsys.readouterr().out
    assert labs_main(["release", str(LESSONS / "lab01_autograd"), str(out)]) == 2  # not empty: needs --force
    assert labs_main(["check", str(tmp_path / "nowhere")]) == 2


def test_python_dash_m_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "scratchnet.labs", "check", str(LESSONS / "lab01_autograd"), "-k",
                             "numerical"], capture_output=True, text=True, cwd=tmp_path, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Score: 2/2 checks passed." in result.stdout


def test_project_suite_does_not_collect_the_labs():
    """The labs' tests run through `check` (with the lab folder on sys.path), not in the project's collection."""
    assert re.search(r'^testpaths = \["tests"\]$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert not (LESSONS / "__init__.py").exists() and not (LESSONS / "conftest.py").exists()
