"""``check_lab``: run a lab's tests against the files in a folder and explain the result.

``check_lab("lessons/lab02_im2col")`` runs the lab's ``test_*.py`` with pytest, in this process
(the grading subprocess of :mod:`scratchnet.labs.harness` calls it), and collects one outcome per
check instead of pytest's report; rendered, it reads::

    lab02_im2col  (lessons/lab02_im2col)
      PASS  Task 2.1: conv_output_size for VGG's 3x3/1/1, GoogLeNet's 7x7/2 stem and a strided 3x3
      FAIL  Task 2.3: im2col has shape (C*KH*KW, N*OH*OW) and matches scratchnet's im2col [1-0]
            im2col(x of shape (2, 3, 6, 5), KH=3, KW=2, ...): expected shape (18, 32), got (32, 18)
            at test_lab02.py, line 56, in test_im2col_matches_reference
      TODO  Task 2.5: Conv2dFunction.forward matches scratchnet's convolution [1-0]
            not implemented yet: TASK 2.5 (The convolution's forward): complete Conv2dFunction...
      FAIL  Task 2.6: Conv2dFunction.backward passes gradcheck for x, w and b [1-1]
            conv2d backward (stride=1, padding=1): gradcheck: gradient of input 1 (w, shape
            (3, 2, 3, 3)) is wrong at index (1, 0, 0, 1): analytic 32.1412, numeric 16.0706 (...)
    Score: 1/4 checks passed.

A check's title is the first paragraph (the summary) of its test's docstring. The exit status is 0
only when every check passes. The lab folder goes on ``sys.path`` for the run
(the tests import the student's module by name) and everything imported from it is forgotten
afterwards, so one process can check several copies of a lab in turn (the instructor's and a
student's).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scratchnet.gradcheck import GradcheckError

PASSED, FAILED, TODO, ERROR, SKIPPED = "PASS", "FAIL", "TODO", "ERROR", "SKIP"


@dataclass
class Outcome:
    """The result of one check (one test)."""

    nodeid: str
    title: str
    status: str = PASSED  # PASS, FAIL (wrong result), TODO (not implemented), ERROR (crashed), SKIP
    message: str = ""
    where: str = ""  # "conv_im2col.py, line 42, in im2col": the student's line the error came from


@dataclass
class LabReport:
    """Every check of one lab, and what could not even be collected."""

    lab: Path
    outcomes: list[Outcome] = field(default_factory=list)
    # test files that failed to import, with the reason
    problems: list[str] = field(default_factory=list)
    output: str = ""  # pytest's own report, for --verbose

    @property
    def counted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != SKIPPED]

    @property
    def passed(self) -> int:
        return sum(o.status == PASSED for o in self.outcomes)

    @property
    def total(self) -> int:
        return len(self.counted)

    @property
    def ok(self) -> bool:
        """Every check passed (and there was at least one, and nothing failed to import)."""
        return not self.problems and self.total > 0 and self.passed == self.total

    def render(self) -> str:
        lines = [f"{self.lab.name}  ({self.lab})"]
        for problem in self.problems:
            lines.append("  ERROR  " + _indent_rest(problem, "         "))
        for outcome in self.outcomes:
            lines.append(f"  {outcome.status:<5} {outcome.title}")
            if outcome.message:
                lines.append("        " + _indent_rest(outcome.message, "        "))
            if outcome.where and outcome.status in (FAILED, ERROR):
                lines.append(f"        at {outcome.where}")
        if self.problems:
            lines.append(
                "Score: 0 - a test file could not be imported "
                "(see the ERROR above); fix that first."
            )
        else:
            lines.append(
                f"Score: {self.passed}/{self.total} checks passed."
                + (" Well done!" if self.ok else "")
            )
        return "\n".join(lines)


def _indent_rest(text: str, indent: str) -> str:
    return text.strip().replace("\n", "\n" + indent)


def find_labs(path: str | Path) -> list[Path]:
    """The lab folders under ``path``: ``path`` itself if
    it holds ``test_*.py``, else its sub-folders that do.

    A file inside a lab (the student's ``.py``) stands for its folder.
    """
    path = Path(path).resolve()
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise FileNotFoundError(f"check: {path} is not a lab folder")
    if any(path.glob("test_*.py")):
        return [path]
    labs = sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob("test_*.py")))
    if not labs:
        raise FileNotFoundError(
            f"check: no test_*.py in {path} or its sub-folders; is it a lab folder?"
        )
    return labs


def check_lab(
    lab: str | Path,
    keyword: str | None = None,
    collect_only: bool = False,
    traceback: str = "short",
    plugins: Sequence[Any] = (),
) -> LabReport:
    """Run the tests of one lab folder in this process and collect a :class:`LabReport`.

    Parameters
    ----------
    lab : path
        A lab folder (instructor's or released), holding the student's file and ``test_*.py``.
    keyword : str, optional
        Only the checks whose name matches this pytest ``-k`` expression.
    collect_only : bool
        List the checks without running them (every outcome stays "PASS"; see ``LabReport.total``).
    traceback : str
        pytest's ``--tb`` style for ``LabReport.output`` ("short", "long", "no", ...).
    plugins : sequence
        More pytest plugins (the grading subprocess's reporter).

    This runs the student's code in the calling process, trusting it: a student checking their own
    work is fine; grading goes through :func:`scratchnet.labs.grade.grade_submission`, which calls
    this in a fresh subprocess the submission cannot steer.
    """
    try:
        import pytest  # imported here: checking is the only part of scratchnet that needs pytest
    except ImportError as error:
        raise RuntimeError(
            "checking a lab runs its tests with pytest: pip install pytest"
        ) from error

    lab = Path(lab).resolve()
    collector = _Collector(lab)
    saved_path, saved_bytecode = list(sys.path), sys.dont_write_bytecode
    saved_addopts = os.environ.pop("PYTEST_ADDOPTS", None)  # a CI's options are not the lab's
    sys.dont_write_bytecode = True  # leave no __pycache__ in the student's folder
    buffer = io.StringIO()
    try:
        with tempfile.TemporaryDirectory() as config_dir:
            config = Path(config_dir) / "pytest.ini"
            # ignore any project's pytest settings
            config.write_text("[pytest]\n", encoding="utf-8")
            # This folder's tests only, with no other project's settings or conftest, and the folder
            # put on sys.path ("prepend") so that the tests can import the student's module by name.
            args = [
                str(lab),
                "-q",
                f"--tb={traceback}",
                "-p",
                "no:cacheprovider",
                "-c",
                str(config),
                "--rootdir",
                str(lab),
                "--confcutdir",
                str(lab),
                "--import-mode=prepend",
                "-o",
                "python_files=test_*.py",
            ]
            if keyword:
                args += ["-k", keyword]
            if collect_only:
                args.append("--collect-only")
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                pytest.main(args, plugins=[collector, *plugins])
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode
        if saved_addopts is not None:
            os.environ["PYTEST_ADDOPTS"] = saved_addopts
        _forget_modules_under(lab)
    return LabReport(lab, list(collector.outcomes.values()), collector.problems, buffer.getvalue())


def _forget_modules_under(folder: Path) -> None:
    """Drop from ``sys.modules`` every module loaded
    from ``folder`` (the student's file, the tests).
    """
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and folder in Path(file).resolve().parents:
            del sys.modules[name]


class _Collector:
    """A pytest plugin that records every test's outcome and, on failure, the exception itself."""

    def __init__(self, lab: Path) -> None:
        self.lab = lab
        self.outcomes: dict[str, Outcome] = {}
        self.problems: list[str] = []

    def pytest_collection_finish(self, session: Any) -> None:
        for item in session.items:  # the checks that will run (after -k has deselected the others)
            doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip()
            summary = " ".join(doc.split("\n\n")[0].split())  # a summary may wrap over lines
            title = summary or item.name.removeprefix("test_").replace("_", " ")
            params = getattr(getattr(item, "callspec", None), "id", None)
            self.outcomes[item.nodeid] = Outcome(
                item.nodeid, f"{title} [{params}]" if params else title
            )

    def pytest_runtest_logreport(self, report: Any) -> None:
        outcome = self.outcomes.get(report.nodeid)
        if outcome is None:
            return
        if report.skipped and report.when in ("setup", "call") and outcome.status == PASSED:
            outcome.status = SKIPPED
            reason = (
                report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            )
            outcome.message = reason.removeprefix("Skipped: ")
        elif report.failed and outcome.status in (PASSED, SKIPPED) and not outcome.message:
            # refined below
            outcome.status, outcome.message = (
                ERROR,
                _last_line(str(report.longrepr)),
            )

    def pytest_exception_interact(self, node: Any, call: Any, report: Any) -> None:
        error = call.excinfo.value
        if node.nodeid not in self.outcomes:  # a test file that failed to import
            self.problems.append(self._import_problem(node, call.excinfo))
            return
        outcome = self.outcomes[node.nodeid]
        if outcome.status in (FAILED, TODO) or (outcome.status == ERROR and outcome.where):
            return  # keep the first failure (setup before call before teardown)
        outcome.status, outcome.message = _classify(error)
        if call.when == "setup" and outcome.status == ERROR:
            outcome.message = f"while preparing the check: {outcome.message}"
        outcome.where = self._student_frame(call.excinfo)

    def _student_frame(self, excinfo: Any) -> str:
        """The deepest traceback line in the lab folder outside the tests (the student's code),
        else the deepest in a test file.
        """
        in_lab = [
            entry
            for entry in excinfo.traceback
            if self.lab in Path(str(entry.path)).resolve().parents
        ]
        student = [entry for entry in in_lab if not Path(str(entry.path)).name.startswith("test_")]
        chosen = (student or in_lab)[-1:] if in_lab else []
        if not chosen:
            return ""
        entry = chosen[0]
        return f"{Path(str(entry.path)).name}, line {entry.lineno + 1}, in {entry.name}"

    def _import_problem(self, node: Any, excinfo: Any) -> str:
        error = excinfo.value
        name = Path(str(getattr(node, "path", node.nodeid))).name
        cause = error.__cause__ or error.__context__ or error  # pytest wraps import errors
        if isinstance(cause, SyntaxError):
            file = Path(cause.filename or "?").name
            return f"{name}: a syntax error in {file}, line {cause.lineno}: {cause.msg}"
        where = self._student_frame(excinfo)
        detail = f"{type(cause).__name__}: {cause}".strip()
        if type(cause).__name__ in ("CollectError", "ImportPathMismatchError"):
            detail = _last_line(str(excinfo.getrepr(style="short")))
        return f"could not import {name}: {detail}" + (f" (at {where})" if where else "")


def _classify(error: BaseException) -> tuple[str, str]:
    """(status, message) for the exception a check raised."""
    if isinstance(error, NotImplementedError):
        return TODO, f"not implemented yet: {error}" if str(error) else "not implemented yet"
    if isinstance(error, GradcheckError):
        return FAILED, str(error)
    if isinstance(error, AssertionError):
        return FAILED, str(error).strip() or "a check failed (assertion without a message)"
    if type(error).__name__ == "Failed":  # pytest.fail("...") in a test
        return FAILED, str(error)
    return ERROR, f"{type(error).__name__}: {error}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text
