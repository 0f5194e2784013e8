"""The course labs: instructor/labs (solutions) and
lessons/ (the released handouts), and the lab tools.

Both directions, for every lab, graded as a class would be (a subprocess per submission): the
reference solution gets full marks, and the released stubs score 0 with a "not implemented yet: TASK
..." message per check. For every lab, typical wrong solutions lose marks in the task they break,
with a message pointing at the bug. Then ``release_text`` on small sources, and the command line.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from scratchnet.labs import ReleaseError, release, release_text
from scratchnet.labs.__main__ import main as labs_main
from scratchnet.labs.check import check_lab
from scratchnet.labs.grade import Lab, grade_files, grade_submission, load_lab

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR = ROOT / "instructor" / "labs"
LESSONS = ROOT / "lessons"
LABS = sorted(p.name for p in INSTRUCTOR.iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def trusted() -> dict[str, Lab]:
    """Every released lab, as the grader reads it."""
    return {name: load_lab(LESSONS / name) for name in LABS}


def test_the_nine_labs_are_there():
    topics = [
        "autograd",
        "im2col",
        "pool_bn",
        "vgg",
        "inception",
        "resnet",
        "densenet",
        "senet",
        "medical",
    ]
    assert LABS == [f"lab{i:02d}_{topic}" for i, topic in enumerate(topics, start=1)]
    for lab in LABS:
        assert (INSTRUCTOR / lab / "README.md").is_file(), f"{lab} has no handout"


def test_lessons_hold_the_released_handouts_only(tmp_path):
    """lessons/ is exactly `release instructor/labs`: stubs, no solution, no marker text."""
    out = tmp_path / "lessons"
    release(INSTRUCTOR, out)
    released = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(LESSONS): p.read_bytes()
        for p in LESSONS.glob("lab*/**/*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and "data" not in p.relative_to(LESSONS).parts[1:]
    }
    assert sorted(released) == sorted(committed), (
        "lessons/ is out of date: python -m scratchnet.labs release ..."
    )
    assert "BEGIN SOLUTION" not in (LESSONS / "README.md").read_text()
    for path, data in released.items():
        assert committed[path] == data, (
            f"lessons/{path} differs from the release of instructor/labs/{path}"
        )
        assert b"BEGIN SOLUTION" not in data and b"END SOLUTION" not in data, f"lessons/{path}"


def test_every_lab_has_points_and_shows_them(trusted):
    for name, lab in trusted.items():
        tasks = sorted(
            {t for t in lab.task_of_scope.values()}, key=lambda t: [int(p) for p in t.split(".")]
        )
        assert set(tasks) <= set(lab.points), f"{name}: a task without points"
        handout = (LESSONS / name / "README.md").read_text()
        for task, points in lab.points.items():
            assert f"| {task} | {points:g} |" in handout, (
                f"{name}/README.md does not show task {task}'s points"
            )
        assert "check lessons/" not in handout and "python -m scratchnet.labs check ." in handout


@pytest.mark.parametrize("lab", LABS)
def test_solution_gets_full_marks(lab, trusted):
    result = grade_submission(INSTRUCTOR / lab, trusted[lab], student="instructor")
    assert result.status == "ok", result.render() + "\n" + result.output
    assert result.score == result.max_score == trusted[lab].max_score > 0, result.render()
    assert all(c.status == "PASS" for c in result.checks), result.render()
    assert {c.task for c in result.checks if c.task} == set(trusted[lab].points), (
        "a task without checks"
    )


@pytest.mark.parametrize("lab", LABS)
def test_released_stubs_fail_readably(lab, trusted):
    result = grade_submission(LESSONS / lab, trusted[lab], student="handout")
    assert result.status == "ok" and result.score == 0 and result.checks, result.render()
    scored = [c for c in result.checks if c.task]
    assert all(
        c.status == "TODO" and c.message.startswith("not implemented yet: TASK") for c in scored
    ), result.render()
    assert "Traceback" not in result.render()


# Typical wrong solutions, three or more per lab: (old, new) edits of the reference solution, the
# task each one breaks and words of the message that must point at it. Bugs of one lab sit in
# different tasks, so one graded run checks all of them; ``keyword`` skips a lab's slow end-to-end
# checks.
WRONG: dict[str, tuple[str | None, list[tuple[tuple[str, str], str, str]]]] = {
    "lab01_autograd": (
        None,
        [
            (
                ("return gy * self.mask", "gy[self.mask == 0] = 0\n        return gy"),
                "1.3",
                "must not be changed in place",
            ),
            (
                ("gw = self.x.T @ gy", "gw = 2 * self.x.T @ gy"),
                "1.5",
                "gradcheck: gradient of input 1",
            ),
            (("        x[index] = old\n", ""), "1.6", "put every element back"),
        ],
    ),
    "lab02_im2col": (
        None,
        [
            (("+= window", "= window"), "2.4", "col2im(im2col(ones"),
            # The same transpose bug in forward and backward:
            # gradcheck alone would pass the backward.
            (
                ("y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)", "y.reshape(N, OC, OH, OW)"),
                "2.5",
                "conv2d(x, w, b",
            ),
            (
                ("g = gy.transpose(1, 0, 2, 3).reshape(OC, -1)", "g = gy.reshape(OC, -1)"),
                "2.6",
                "scratchnet's gradients",
            ),
        ],
    ),
    "lab03_pool_bn": (
        None,
        [
            (
                (
                    "+= gy * (self.winner == i * K + j)",
                    "+= gy * (self.ties[:, :, i * K + j] == self.top) / self.count",
                ),
                "3.2",
                "with tied maxima",
            ),
            (("1 / np.sqrt(var + self.eps)", "1 / np.sqrt(var)"), "3.3", "constant channel"),
            (
                (
                    "gx = scale / n * (n * gy - sum_gy - self.x_hat * sum_gy_x_hat)",
                    "gx = gy * scale",
                ),
                "3.4",
                "dL/dx for L = sum(batch_norm(x))",
            ),
        ],
    ),
    "lab04_vgg": (
        None,
        [
            (
                ("return layers * (kernel - 1) + 1", "return layers * kernel"),
                "4.1",
                "stack_receptive_field",
            ),
            (
                (
                    "layers += [nn.Conv2d(in_channels, int(entry), 3, padding=1), nn.ReLU()]",
                    "layers += [nn.Conv2d(in_channels, int(entry), 3, padding=1)]",
                ),
                "4.3",
                "features",
            ),
            (("3 * 3 * C * c))", "C * c))"), "4.5", "vgg_table"),
        ],
    ),
    "lab05_inception": (
        "not train",
        [
            (
                (
                    "return in_channels * (ch1x1 + 9 * ch3x3 + 25 * ch5x5)",
                    "return in_channels * (ch1x1 + ch3x3 + ch5x5)",
                ),
                "5.3",
                "naive",
            ),
            (
                (
                    "self.conv = ConvReLU(in_channels, 128, 1)\n"
                    "        self.fc1 = nn.Linear(128 * 4 * 4, hidden)",
                    "self.conv = ConvReLU(in_channels, 64, 1)\n"
                    "        self.fc1 = nn.Linear(64 * 4 * 4, hidden)",
                ),
                "5.4",
                "128",
            ),
            (
                ("loss = loss + aux_weight * F.cross_entropy", "loss = loss + F.cross_entropy"),
                "5.5",
                "googlenet_loss",
            ),
        ],
    ),
    "lab06_resnet": (
        "bottleneck or make_net or train_settings",
        [
            (
                (
                    "return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))",
                    "return out",
                ),
                "6.2",
                "the final ReLU (after the sum) is missing",
            ),
            (
                ("2 if i == 0 else 1, residual", "1, residual"),
                "6.3",
                "output shapes of the BasicBlocks",
            ),
            (
                ("momentum=0.9, weight_decay=1e-4)\n    rng", "momentum=0.9)\n    rng"),
                "6.4",
                "weight_decay=0.0001",
            ),
        ],
    ),
    "lab07_densenet": (
        None,
        [
            (
                ("out = self.conv1(F.relu(self.norm1(x)))", "out = self.conv1(self.norm1(x))"),
                "7.1",
                "DenseLayer",
            ),
            (
                ("return cat(features, dim=1)", "return cat(features[1:], dim=1)"),
                "7.2",
                "DenseBlock",
            ),
            (("after = int(out * compression) if", "after = out if"), "7.4", "densenet_channels"),
        ],
    ),
    "lab08_senet": (
        "not train",
        [
            (
                (
                    "s = F.sigmoid(self.fc2(F.relu(self.fc1(z))))",
                    "s = F.relu(self.fc2(F.relu(self.fc1(z))))",
                ),
                "8.1",
                "SEBlock",
            ),
            (
                (
                    "return channels * hidden + hidden + hidden * channels + channels",
                    "return 2 * channels * hidden",
                ),
                "8.2",
                "se_params",
            ),
            (
                ('identity = self.se(x) if self.design == "identity" else x', "identity = x"),
                "8.3",
                "identity",
            ),
        ],
    ),
    "lab09_medical": (
        "not end_to_end",
        [
            (
                (
                    "((images.astype(np.float32) / 255 - mean) / std)",
                    "((images.astype(np.float32) - mean) / std)",
                ),
                "9.1",
                "normalised images",
            ),
            (
                (
                    "(len(labels) / (num_classes * np.maximum(counts, 1)))",
                    "(np.maximum(counts, 1) / len(labels))",
                ),
                "9.3",
                "class_weights",
            ),
            (("+ 0.5 * (pos == neg)).mean()", ").mean()"), "9.5", "AUC"),
        ],
    ),
}
# what a wrong solution needs besides its bug (lab 3's split of tied gradients saves the window)
EXTRA_EDITS = {
    "lab03_pool_bn": [
        (
            "self.winner = windows.argmax(axis=2)  # (N, C, OH, OW): k = i*K + j",
            "self.winner = windows.argmax(axis=2)\n"
            "        self.ties, self.top = windows, windows.max(axis=2)\n"
            "        self.count = (windows == self.top[:, :, None]).sum(axis=2)",
        )
    ],
}


def edited(lab: str, edits: list[tuple[str, str]]) -> dict[str, bytes]:
    """The reference solution of ``lab`` with ``edits`` applied (each must apply exactly once)."""
    trusted = load_lab(LESSONS / lab)
    files = {name: (INSTRUCTOR / lab / name).read_text() for name in trusted.student_files}
    for old, new in edits:
        hits = [name for name, text in files.items() if text.count(old) == 1]
        assert len(hits) == 1, f"{lab}: the edit {old!r} does not apply exactly once"
        files[hits[0]] = files[hits[0]].replace(old, new)
    return {name: text.encode() for name, text in files.items()}


@pytest.mark.parametrize("lab", LABS)
def test_wrong_solutions_lose_marks_with_a_pointer(lab, trusted):
    keyword, cases = WRONG[lab]
    assert len(cases) >= 3
    files = edited(lab, [edit for edit, _, _ in cases] + EXTRA_EDITS.get(lab, []))
    result = grade_files(files, "", trusted[lab], "wrong", keyword=keyword)
    report = result.gradescope()
    outputs = {test["name"]: test["output"] for test in report["tests"]}
    assert result.status == "ok", result.render()
    for (old, _), task, pointer in cases:
        score, maximum, _ = result.task_scores[task]
        assert score < maximum, (
            f"{lab}: the bug {old!r} kept full marks for task {task}\n{result.render()}"
        )
        assert pointer in outputs[f"Task {task}"], (
            f"{lab} task {task}: no pointer {pointer!r}\n{result.render()}"
        )
    untouched = {t for t in result.task_scores} - {task for _, task, _ in cases}
    assert (
        any(result.task_scores[t][0] == result.task_scores[t][1] for t in untouched)
        or not untouched
    )


def test_a_correct_backward_keeps_its_marks_under_a_wrong_forward(trusted):
    """Lab 2: the better student gets the better grade
    (the backward is compared with the reference)."""
    files = edited(
        "lab02_im2col",
        [("y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)", "y.reshape(N, OC, OH, OW)")],
    )
    result = grade_files(
        files, "", trusted["lab02_im2col"], "wrong forward", keyword="forward or backward"
    )
    assert result.task_scores["2.5"][0] == 0 and result.task_scores["2.6"][0] < 4, result.render()
    both = edited(
        "lab02_im2col",
        [edit for edit, task, _ in WRONG["lab02_im2col"][1] if task in ("2.5", "2.6")],
    )
    mirrored = grade_files(
        both, "", trusted["lab02_im2col"], "both wrong", keyword="forward or backward"
    )
    assert (
        mirrored.task_scores["2.6"][0] < result.task_scores["2.6"][0]
        or mirrored.task_scores["2.6"][0] == 0
    )


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
    task = "TASK 3.2 (Max pooling, backward)"
    stub = f'        raise NotImplementedError("{task}: complete Pool.backward() in pool.py")\n'
    assert stub in text
    assert (
        '            raise NotImplementedError("TASK 3.2 (Max pooling, backward): complete '
        'Pool.other() in pool.py")\n' in text
    )
    assert "        return 2\n" in text


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "never closed"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "without a"),
        (
            "def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n",
            "inside the region",
        ),
        (
            "def f():\n    ### BEGIN SOLUTION\n    return 1\n  ### END SOLUTION\n",
            "indented differently",
        ),
        ("### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n", "inside a function"),
        (
            "class A:\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n",
            "inside a function",
        ),
        (
            "def f():\n    x = (\n    ### BEGIN SOLUTION\n    1)\n    ### END SOLUTION\n",
            "does not compile",
        ),
    ],
)
def test_release_refuses_bad_markers(source, problem):
    with pytest.raises(ReleaseError, match=problem):
        release_text(source, "lab/bad.py")


def test_release_refuses_a_destination_inside_the_source(tmp_path):
    (tmp_path / "lab").mkdir()
    with pytest.raises(ReleaseError, match="must not be inside"):
        release(tmp_path, tmp_path / "out")


def test_check_from_inside_a_lab_folder(tmp_path, capsys, monkeypatch):
    """`check .` from a student's copy of the handout:
    a score in points, a message per task, no traceback."""
    student = tmp_path / "lab01_autograd"
    shutil.copytree(LESSONS / "lab01_autograd", student)
    monkeypatch.chdir(student)
    assert labs_main(["check", "."]) == 1
    out = capsys.readouterr().out
    assert (
        "not implemented yet: TASK 1.1" in out
        and "Score: 0/20 points." in out
        and "Traceback" not in out
    )
    shutil.copy(INSTRUCTOR / "lab01_autograd" / "autograd_ops.py", student)
    assert labs_main(["check", "-k", "test_mul"]) == 0
    out = capsys.readouterr().out
    assert "Task 1.1: 2/2 points" in out and "Score: 2/2 points. Well done!" in out
    assert labs_main(["check", "-k", "no_such_check"]) == 2  # not "Score: 0/0"
    assert "No check matches -k 'no_such_check'" in capsys.readouterr().out
    assert labs_main(["check", str(tmp_path / "nowhere")]) == 2


def test_a_checks_title_is_its_whole_summary_even_when_wrapped(tmp_path):
    """A summary wrapped over two lines is shown whole; the paragraph after the blank line is not
    part of the title; a test without a docstring is named by its name."""
    (tmp_path / "test_titles.py").write_text(
        "def test_wrapped():\n"
        '    """Task 9.9: a summary that goes on\n'
        '    over a second line\n\n    Details, not in the title."""\n'
        "def test_no_docstring():\n"
        "    pass\n"
    )
    titles = [outcome.title for outcome in check_lab(tmp_path).outcomes]
    assert titles == ["Task 9.9: a summary that goes on over a second line", "no docstring"]


def test_check_reports_a_file_that_does_not_import(tmp_path, trusted):
    result = grade_files(
        {"autograd_ops.py": b"def broken(:\n"}, "", trusted["lab01_autograd"], "syntax"
    )
    assert result.status == "does not import" and result.score == 0
    assert "syntax error in autograd_ops.py, line 1" in result.detail


def test_command_line_release(tmp_path, capsys):
    out = tmp_path / "out"
    assert labs_main(["release", str(INSTRUCTOR / "lab01_autograd"), str(out)]) == 0
    assert "solution regions replaced by stubs" in capsys.readouterr().out
    # not empty: needs --force
    assert labs_main(["release", str(INSTRUCTOR / "lab01_autograd"), str(out)]) == 2


def test_project_suite_does_not_collect_the_labs():
    """The labs' tests run through `check`
    (with the lab folder on sys.path), not in the project's collection."""
    assert re.search(
        r'^testpaths = \["tests"\]$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE
    )
    for folder in (LESSONS, INSTRUCTOR, INSTRUCTOR.parent):
        assert not (folder / "__init__.py").exists() and not (folder / "conftest.py").exists()
