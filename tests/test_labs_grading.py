"""Grading that a submission cannot steer: cheats,
disallowed ops, a fake class end to end, the exports.

Lab 1 is the fast lab (about 2 s a submission), so every end-to-end check here grades lab 1 or a
few checks of lab 2 (``keyword``). The threat model these tests pin down is in
``docs/labs-for-instructors.md``.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.labs.grade as grading
from scratchnet import Function
from scratchnet.labs.__main__ import main as labs_main
from scratchnet.labs.grade import grade_files, load_lab
from scratchnet.labs.guard import inspect_source

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR = ROOT / "instructor" / "labs"
LESSONS = ROOT / "lessons"
LAB1, LAB2 = "lab01_autograd", "lab02_im2col"
SOLUTION1 = (INSTRUCTOR / LAB1 / "autograd_ops.py").read_text()
SOLUTION2 = (INSTRUCTOR / LAB2 / "conv_im2col.py").read_text()
STUBS1 = (LESSONS / LAB1 / "autograd_ops.py").read_text()


@pytest.fixture(scope="module")
def lab1():
    return load_lab(LESSONS / LAB1)


@pytest.fixture(scope="module")
def lab2():
    return load_lab(LESSONS / LAB2)


def replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_gradcheck_names_a_gradient_of_the_wrong_shape():
    class SumsTheRows(Function):  # a backward returning (D,) for an (N, D) input
        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            return 2 * gy.sum(axis=0)

    x = sn.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    with pytest.raises(
        sn.GradcheckError,
        match=r"SumsTheRows.backward returned a gradient of shape \(4,\) for input 0 "
        r"of shape \(3, 4\)",
    ):
        sn.gradcheck(lambda t: SumsTheRows()(t), [x])


# --- cheats: each one changes nothing
# ---------------------------------------------------------------

FAKE_SCORE = 'print("Score: 20/20 points. Well done!")\n'


def test_a_conftest_and_other_files_beside_the_handout_are_ignored(tmp_path, lab1):
    student = tmp_path / "chuck"
    shutil.copytree(LESSONS / LAB1, student)
    (student / "conftest.py").write_text(
        "import pytest\n@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n"
    )
    (student / "pytest.ini").write_text("[pytest]\naddopts = -p no:python\n")
    (student / "sitecustomize.py").write_text("import os; os._exit(0)\n")
    (student / "evil.pth").write_text("import os; os._exit(0)\n")
    (student / "test_lab01.py").write_text("def test_nothing():\n    '''Task 1.1: free points'''\n")
    result = grading.grade_submission(student, lab1)
    assert result.status == "ok" and result.score == 0, result.render()
    assert len(result.checks) == 13 and all(c.status == "TODO" for c in result.checks)


@pytest.mark.parametrize(
    ("cheat", "rule"),
    [
        (
            "import scratchnet.labs.check as c\nc._classify = lambda error: ('PASS', '')\n",
            "imports scratchnet.labs",
        ),
        ("import scratchnet as sn\nsn.labs.check.LabReport.ok = True\n", ".labs"),
        ("import os\n" + FAKE_SCORE + "os._exit(0)\n", "imports os"),
        ("import sys\nsys.modules['scratchnet.labs.check'] = None\n", "imports sys"),
        (
            "import numpy as np\nnp.testing.assert_allclose = print\n",
            "assigns np.testing.assert_allclose",
        ),
        ("from scratchnet.labs import expect\n", "scratchnet.labs"),
        ("X = getattr(__builtins__, 'exec')\n", "getattr"),
        ("def f():\n    return f.__globals__\n", "__globals__"),
        ("X = '{0.__class__}'.format(1)\n", "dunder name"),
        ("X = '{0.gi_frame}'.format(1)\n", "format string that looks up"),
        ("import pathlib\npathlib.Path('test_lab01.py').write_text('')\n", ".write_text"),
        (
            "import numpy as np\n"
            "np.savetxt('test_lab01.py', np.zeros(0), header='import x', comments='')\n",
            ".savetxt",
        ),
        ("def f(a):\n    return a._Collector\n", "private attribute ._Collector"),
    ],
)
def test_code_that_could_reach_the_grader_is_refused(cheat, rule, lab1):
    result = grade_files(
        {"autograd_ops.py": (SOLUTION1 + "\n" + cheat).encode()}, "", lab1, "chuck"
    )
    assert result.status == "refused" and result.score == 0, result.render()
    assert rule in result.detail + " ".join(result.notes), result.render()


def test_plain_format_strings_are_allowed():
    source = 'def main():\n    print("loss {:.3f} at {}".format(0.5, 3), "{!r}".format("x"))\n'
    assert inspect_source(source, "autograd_ops.py") == []


def test_a_skipped_check_counts_as_not_passed(lab1):
    task = next(iter(lab1.points))
    result = grading.Result("chuck", lab1.name, "ok")
    result.checks = [
        grading.Check(f"t{i}", f"t{i}", task, status)
        for i, status in enumerate(("PASS", "SKIP", "SKIP"))
    ]
    grading._score(result, lab1, partial=False)
    score, maximum, _ = result.task_scores[task]
    assert score == round(maximum / 3, 2)  # numpy.testing.SkipTest raised by the student is no pass


def test_the_channel_cannot_be_forged_even_past_the_gate(monkeypatch, lab1):
    """With the static gate switched off: a fake score line,
    forged result lines, os._exit(0): still 0."""
    monkeypatch.setattr(grading, "inspect_source", lambda *args, **kwargs: [])
    forged = {
        "nonce": "0" * 32,
        "kind": "outcome",
        "nodeid": "test_lab01.py::test_mul_backward",
        "status": "PASS",
    }
    cheat = (
        "import json, os\n" + FAKE_SCORE + f"line = json.dumps({forged!r}) + '\\n'\n"
        "for fd in range(3, 40):\n"
        "    try:\n        os.write(fd, line.encode())\n    except OSError:\n        pass\n"
        "print(line)\nos._exit(0)\n"
    )
    result = grade_files({"autograd_ops.py": (STUBS1 + cheat).encode()}, "", lab1, "chuck")
    assert result.status == "crashed" and result.score == 0, result.render()
    # it wrote its forged lines everywhere; nobody believed them
    assert '"status": "PASS"' in result.output


def test_a_run_that_never_ends_is_stopped_and_scored_0(lab1):
    started = time.perf_counter()
    result = grade_files(
        {"autograd_ops.py": (STUBS1 + "while True:\n    pass\n").encode()}, "", lab1, "t", timeout=4
    )
    assert result.status == "timeout" and result.score == 0 and "within 4 s" in result.detail
    assert time.perf_counter() - started < 60


# --- labs 1-3: scratchnet's own ops are not the student's -----------------------------------------

IM2COL_BODY = "    return col.reshape(C * KH * KW, N * OH * OW)\n"


@pytest.mark.parametrize(
    ("header", "body", "task", "named"),
    [
        (
            "from scratchnet.ops.im2col import im2col as _reference\n",
            "    return _reference(x, (KH, KW), stride, padding)\n",
            "2.3",
            "scratchnet.ops.im2col.im2col",
        ),
        (
            "import scratchnet as s\n",
            "    return s.ops.im2col.im2col(x, (KH, KW), stride, padding)\n",
            "2.3",
            "scratchnet.ops.im2col.im2col",
        ),
        (
            "from scratchnet import nn\n",
            "    nn.Conv2d\n" + IM2COL_BODY,
            "2.3",
            "scratchnet.nn.Conv2d",
        ),
        # Out of the static analysis' sight (a function kept in a dict):
        # the run-time guard refuses the call.
        (
            "from scratchnet.ops import im2col as _m\nTOOLS = {'im2col': _m}\n",
            "    return TOOLS['im2col'].im2col(x, (KH, KW), stride, padding)\n",
            "2.3",
            "calls scratchnet.ops.im2col",
        ),
    ],
)
def test_a_disallowed_op_scores_0_for_its_task(header, body, task, named, lab2):
    source = replaced(
        SOLUTION2,
        "from scratchnet import Function, Tensor\n",
        "from scratchnet import Function, Tensor\n" + header,
    )
    source = replaced(source, IM2COL_BODY, body)
    result = grade_files(
        {"conv_im2col.py": source.encode()}, "", lab2, "delegates", keyword="im2col or output_size"
    )
    assert result.status == "ok", result.render()
    assert result.task_scores[task][0] == 0, result.render()
    assert result.task_scores["2.1"][0] == 1, (
        "a task that calls nothing disallowed keeps its points"
    )
    output = {t["name"]: t["output"] for t in result.gradescope()["tests"]}[f"Task {task}"]
    assert named in output and ("not allowed" in output or "write it yourself" in output), output


def test_a_delegating_convolution_gets_0_where_it_delegates(lab2):
    """The issue's cheat: im2col, F.conv2d and Conv2dFunction
    borrowed from scratchnet (25/25 before)."""
    source = replaced(
        SOLUTION2,
        "from scratchnet import Function, Tensor\n",
        "from scratchnet import Function, Tensor\nfrom scratchnet.nn import functional as F\n"
        "from scratchnet.ops.conv import Conv2dFunction as _Conv\n",
    )
    source = replaced(
        source,
        IM2COL_BODY,
        "    import scratchnet.ops.im2col\n"
        "    return scratchnet.ops.im2col.im2col(x, (KH, KW), stride, padding)\n",
    )
    forward = "        return y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)  # (N, OC, OH, OW)\n"
    borrowed = "F.conv2d(Tensor(x), Tensor(w), Tensor(b), self.stride, self.padding).numpy()"
    source = replaced(source, forward, f"        return {borrowed}\n")
    backward = (
        "        gx = col2im(gcol, self.x_shape, KH, KW, self.stride, self.padding)"
        "  # (N, C, H, W)\n"
    )
    source = replaced(
        source, backward, "        gx = _Conv(self.stride, self.padding).backward(gy)[0]\n"
    )
    result = grade_files({"conv_im2col.py": source.encode()}, "", lab2, "delegates")
    assert [result.task_scores[t][0] for t in ("2.3", "2.5", "2.6")] == [0, 0, 0], result.render()
    assert result.task_scores["2.1"][0] == 1 and result.task_scores["2.2"][0] == 3, result.render()


def test_lab1_net_built_on_scratchnets_operators_is_refused_at_run_time(lab1):
    """`x @ w1` looks like NumPy to a reader of the source;
    at run time it is scratchnet's matmul."""
    source = replaced(
        SOLUTION1,
        "    hidden = relu(add_bias(matmul(x, w1), b1))  # (N, H)\n",
        "    hidden = relu(x @ w1 + b1)\n",
    )
    result = grade_files(
        {"autograd_ops.py": source.encode()}, "", lab1, "operators", keyword="two_layer"
    )
    assert result.task_scores["1.7"][0] == 0, result.render()
    assert "calls scratchnet.ops.linalg" in result.render(), result.render()


def test_the_solutions_break_no_rule():
    for path in sorted(INSTRUCTOR.glob("*/*.py")):
        if not path.name.startswith("test_"):
            lab = load_lab(LESSONS / path.parent.name)
            siblings = [Path(n).stem for n in (*lab.student_files, *lab.given_files)]
            assert inspect_source(path.read_text(), path.name, lab.forbidden, siblings) == [], path


# --- a fake class, end to end ---------------------------------------------------------------------

WRONG1 = [
    ("return gy * self.mask", "gy[self.mask == 0] = 0\n        return gy"),
    ("gw = self.x.T @ gy", "gw = 2 * self.x.T @ gy"),
    ("        x[index] = old\n", ""),
]


def write_class(folder: Path) -> dict[str, str]:
    """Seven folders: 2 correct, 2 wrong, 1 not importing,
    1 cheater (sorted before a handout), 1 empty."""
    wrong = SOLUTION1
    for old, new in WRONG1:
        wrong = replaced(wrong, old, new)
    variant = replaced(
        SOLUTION1,
        "        return gy * self.b, gy * self.a",
        "        return self.b * gy, self.a * gy",
    )
    sources = {
        "alice": SOLUTION1,
        "bob": variant,
        "carol": wrong,
        "dave": STUBS1,
        "erin": "def broken(:\n",
        "chuck": "import os\n" + FAKE_SCORE + "os._exit(0)\n" + STUBS1,
    }
    for student, source in sources.items():
        shutil.copytree(LESSONS / LAB1, folder / student)
        (folder / student / "autograd_ops.py").write_text(source)
    (folder / "chuck" / "conftest.py").write_text("import os\nos._exit(0)\n")
    (folder / "frank").mkdir()
    return sources


def test_a_fake_class_gets_the_right_grades(tmp_path, capsys):
    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    write_class(submissions)
    started = time.perf_counter()
    assert (
        labs_main(
            [
                "grade",
                str(submissions),
                "--out",
                str(out),
                "--lab",
                LAB1,
                "--hidden-tests",
                str(ROOT / "instructor" / "hidden"),
            ]
        )
        == 0
    )
    seconds = time.perf_counter() - started
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    grades = {
        name: (float(row["score"]), float(row["max_score"]), row["status"])
        for name, row in rows.items()
    }
    # carol, visible: 1.3 half (in-place ReLU), 1.5 nothing (gw doubled), 1.6 two of three checks
    # (x not restored), 1.7 half (the net's gradcheck meets the doubled gw); hidden: 1.6 passes, 1.7
    # fails again.
    assert grades == {
        "alice": (24, 24, "ok"),
        "bob": (24, 24, "ok"),
        "carol": (2 + 2 + 1.5 + 2 + 0 + 2.67 + 2 + 2 + 0, 24, "ok"),
        "chuck": (0, 24, "refused"),
        "dave": (0, 24, "ok"),
        "erin": (0, 24, "does not import"),
        "frank": (0, 24, "missing files"),
    }, grades
    assert (
        "imports os" in rows["chuck"]["detail"]
        and "missing autograd_ops.py" in rows["frank"]["detail"]
    )
    for student in rows:
        report = json.loads((out / "results" / f"{student}.json").read_text())
        assert report["score"] == grades[student][0]
        for test in report["tests"]:
            assert set(test) == {"name", "score", "max_score", "output", "visibility"}
            assert test["visibility"] == (
                "after_published" if "(hidden)" in test["name"] else "visible"
            )
    carol = json.loads((out / "results" / "carol.json").read_text())
    by_name = {t["name"]: t for t in carol["tests"]}
    assert "must not be changed in place" in by_name["Task 1.3"]["output"]
    assert "put every element back" in by_name["Task 1.6"]["output"]
    print(f"fake class of 7 graded in {seconds:.1f} s")
    assert "7 submissions graded" in capsys.readouterr().out


def test_check_json_is_the_gradescope_result(tmp_path, capsys):
    student = tmp_path / LAB1
    shutil.copytree(LESSONS / LAB1, student)
    shutil.copy(INSTRUCTOR / LAB1 / "autograd_ops.py", student)
    assert labs_main(["check", str(student), "--json", "--tests", str(LESSONS / LAB1)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["score"] == 20 and len(report["tests"]) == 7
    assert {t["name"] for t in report["tests"]} == {f"Task 1.{i}" for i in range(1, 8)}


def test_course_templates_call_the_grader():
    gradescope = ROOT / "instructor" / "gradescope"
    run = (gradescope / "run_autograder").read_text()
    assert "/autograder/submission" in run and "/autograder/results/results.json" in run
    assert "scratchnet.labs" in run and "check" in run and "--json" in run
    assert "pip install" in (gradescope / "setup.sh").read_text()
    workflow = (ROOT / "instructor" / "classroom" / "classroom.yml").read_text()
    assert "python -m scratchnet.labs check" in workflow
    assert not (LESSONS / "conftest.py").exists()
