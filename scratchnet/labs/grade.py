"""Grade lab submissions in subprocesses they cannot steer, and write a gradebook.

``python -m scratchnet.labs grade SUBMISSIONS --out OUT`` grades every sub-folder of SUBMISSIONS
(one student's copy of a lab folder each) against the lab's **trusted** copy (the repository's
released ``lessons/``, or ``--labs``) and writes ``OUT/grades.csv`` and
``OUT/results/<student>.json`` in Gradescope's autograder schema. ``check DIR --json`` prints the
same JSON for one folder.

One submission, :func:`grade_submission`:

1. Read the trusted lab into memory: its tests, its ``POINTS`` and ``FORBIDDEN``, the handout's own
   files (:func:`load_lab`); then read the student's files named by the handout (and nothing else:
   no conftest.py, pytest.ini, sitecustomize, .pth, edited tests) into memory too. Every submission
   of a class is read before any of them runs, and results are written after all have run, so no
   submission can change another's files or the gradebook.
2. Refuse, before anything runs, a file that breaks an integrity rule of
   :mod:`scratchnet.labs.guard` (score 0, the line and rule named); note each use of a ``FORBIDDEN``
   op (0 for its task).
3. Copy those files into a fresh temporary folder and run :mod:`scratchnet.labs.harness` there with
   ``python -I -S``, a clean environment, a time limit, and a pipe only this process and the harness
   hold. Each result line must carry a nonce sent on the child's stdin; a check that never reports
   is a failure, and so is a run that never says "done".
4. Score by task: ``POINTS[task]`` times the share of that task's checks that passed; 0 for a task
   whose code called a disallowed op.

The threat model is in ``docs/labs-for-instructors.md``.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import scratchnet
from scratchnet.labs.guard import Finding, inspect_source
from scratchnet.labs.release import release_text

REPOSITORY = Path(scratchnet.__file__).resolve().parents[1]
RELEASED_LABS = REPOSITORY / "lessons"  # the student version, committed: the grader's trusted copy
MAX_FILE_BYTES = 1_000_000  # a lab file is a few kB; anything bigger is not a lab file
_TASK = re.compile(r"^Tasks? (\d+\.\d+)")
_STUB = re.compile(r'raise NotImplementedError\("TASK (\d+\.\d+)[^"]*: complete ([\w.]+)\(\) in ')


class GradingError(Exception):
    """A lab or a submission folder that cannot be graded at all
    (the instructor's mistake, not the student's).
    """


@dataclass
class Lab:
    """The trusted copy of one lab, read into memory."""

    name: str
    folder: Path
    tests: dict[str, str]  # test file name -> source
    student_files: list[str]  # the files the student writes (they hold the stubs)
    # other handout files (lab 9's make_dataset.py), from the trusted copy
    given_files: dict[str, bytes]
    points: dict[str, float]  # task -> points, in the order of the lab's POINTS
    forbidden: list[str]  # scratchnet's entry points the student's code may not call (labs 1-3)
    task_of_scope: dict[str, str]  # "Conv2dFunction.forward" -> "2.5"
    hidden: dict[str, str] = field(default_factory=dict)  # instructor-only tests, never released
    hidden_points: dict[str, float] = field(default_factory=dict)

    @property
    def max_score(self) -> float:
        return float(sum(self.points.values()) + sum(self.hidden_points.values()))


def load_lab(folder: str | Path, hidden_tests: str | Path | None = None) -> Lab:
    """Read a lab folder (released or the instructor's) and, optionally, its hidden tests.

    The student files are the ``.py`` files that hold stubs (or solution markers); a folder with
    neither (a student's finished copy, checked by its owner) makes every non-test ``.py`` a student
    file. ``hidden_tests`` is a folder of ``test_*.py`` files (its sub-folder named after the lab,
    if any).
    """
    folder = Path(folder).resolve()
    tests = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("test_*.py"))}
    if not tests:
        raise GradingError(f"{folder} holds no test_*.py: not a lab folder")
    sources = {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(folder.glob("*.py"))
        if p.name not in tests
    }
    task_of_scope: dict[str, str] = {}
    student = []
    for name, text in sources.items():
        released, _ = release_text(text, name)
        stubs = _STUB.findall(released)
        task_of_scope.update({scope: task for task, scope in stubs})
        if stubs:
            student.append(name)
    student = student or list(sources)
    given = {name: (folder / name).read_bytes() for name in sources if name not in student}
    points, forbidden = _settings(tests)
    lab = Lab(folder.name, folder, tests, student, given, points, forbidden, task_of_scope)
    if hidden_tests is not None:
        hidden_folder = Path(hidden_tests).resolve()
        if (hidden_folder / folder.name).is_dir():
            hidden_folder = hidden_folder / folder.name
        lab.hidden = {
            f"test_hidden_{p.name.removeprefix('test_')}": p.read_text(encoding="utf-8")
            for p in sorted(hidden_folder.glob("test_*.py"))
        }
        hidden_points, _ = _settings(lab.hidden)
        lab.hidden_points = {f"{task} (hidden)": points for task, points in hidden_points.items()}
    return lab


def _settings(tests: dict[str, str]) -> tuple[dict[str, float], list[str]]:
    """The ``POINTS`` and ``FORBIDDEN`` literals of a lab's test files (read, never imported)."""
    points: dict[str, float] = {}
    forbidden: list[str] = []
    for name, text in tests.items():
        for node in ast.parse(text, name).body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                if node.targets[0].id == "POINTS":
                    points.update(
                        {str(k): float(v) for k, v in ast.literal_eval(node.value).items()}
                    )
                elif node.targets[0].id == "FORBIDDEN":
                    forbidden.extend(ast.literal_eval(node.value))
    return points, forbidden


def find_lab(submission: Path, labs: list[Lab]) -> Lab | None:
    """The lab a submission folder is a copy of:
    same folder name, else the one whose student files it has.
    """
    by_name = [lab for lab in labs if lab.name == submission.name]
    if by_name:
        return by_name[0]
    present = {p.name for p in submission.glob("*.py")} if submission.is_dir() else set()
    matches = [lab for lab in labs if set(lab.student_files) & present]
    return matches[0] if len(matches) == 1 else None


@dataclass
class Check:
    """One test of the lab, as the harness reported it (or did not)."""

    nodeid: str
    title: str
    task: str  # "2.3", or "" for a check outside the points (lab 9's Setup)
    status: str = "FAIL"
    message: str = "no result: the run ended before this check reported"
    where: str = ""
    hidden: bool = False


@dataclass
class Result:
    """One submission graded: what the gradebook, the JSON and the text report are made of."""

    student: str
    lab: str
    # "ok", "does not import", "timeout", "crashed", "missing files", "refused", "no checks"
    status: str
    detail: str = ""
    checks: list[Check] = field(default_factory=list)
    # task -> (score, max, hidden)
    task_scores: dict[str, tuple[float, float, bool]] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)  # task -> messages
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    output: str = ""  # what the student's code printed (for -v)

    @property
    def score(self) -> float:
        return round(sum(score for score, _, _ in self.task_scores.values()), 2)

    @property
    def max_score(self) -> float:
        return round(sum(maximum for _, maximum, _ in self.task_scores.values()), 2)

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.max_score > 0 and self.score == self.max_score

    def gradescope(self) -> dict[str, Any]:
        """Gradescope's autograder ``results.json``: a top-level score and one test per task."""
        tests = []
        for task, (score, maximum, hidden) in self.task_scores.items():
            checks = [c for c in self.checks if c.task == task and c.hidden == hidden]
            tests.append(
                {
                    "name": f"Task {task}",
                    "score": score,
                    "max_score": maximum,
                    "output": "\n".join(
                        [
                            *self.violations.get(task.split(" ")[0], []),
                            *(_check_lines(c) for c in checks),
                        ]
                    ),
                    "visibility": "after_published" if hidden else "visible",
                }
            )
        overall = f"{self.lab}: {self.status}" + (f" - {self.detail}" if self.detail else "")
        return {
            "score": self.score,
            "output": "\n".join([overall, *self.notes]),
            "tests": tests,
            "execution_time": round(self.seconds, 2),
        }

    def render(self, show_hidden: bool = False) -> str:
        """The text ``check`` prints: tasks with their points, each check under its task."""
        lines = [f"{self.lab}  ({self.student})"]
        if self.status != "ok":
            lines.append(f"  {self.status.upper()}: {self.detail}")
        lines += [f"  NOTE  {note}" for note in self.notes]
        for task, (score, maximum, hidden) in self.task_scores.items():
            if hidden and not show_hidden:
                continue
            lines.append(f"Task {task}: {_number(score)}/{_number(maximum)} points")
            lines += [f"  NOT ALLOWED  {message}" for message in self.violations.get(task, [])]
            lines += [
                "  " + _check_lines(c).replace("\n", "\n  ")
                for c in self.checks
                if c.task == task and c.hidden == hidden
            ]
        for check in self.checks:
            if not check.task:
                lines.append("  " + _check_lines(check).replace("\n", "\n  ") + "  (no points)")
        total = f"Score: {_number(self.score)}/{_number(self.max_score)} points."
        lines.append(total + (" Well done!" if self.ok else ""))
        return "\n".join(lines)


def _check_lines(check: Check) -> str:
    text = f"{check.status:<5} {check.title}"
    if check.message:
        text += "\n      " + check.message.strip().replace("\n", "\n      ")
    if check.where and check.status in ("FAIL", "ERROR"):
        text += f"\n      at {check.where}"
    return text


def _number(value: float) -> str:
    return f"{value:g}"


def grade_submission(
    submission: str | Path,
    lab: Lab,
    student: str | None = None,
    timeout: float = 600,
    keyword: str | None = None,
) -> Result:
    """Grade one student's copy of ``lab`` in a fresh subprocess (see the module's docstring)."""
    submission = Path(submission)
    files, problem = read_submission(submission, lab)
    return grade_files(files, problem, lab, student or submission.name, timeout, keyword)


def read_submission(submission: Path, lab: Lab) -> tuple[dict[str, bytes], str]:
    """The student's files the handout names, read now;
    and what is wrong with the folder, if anything.
    """
    files: dict[str, bytes] = {}
    missing = []
    for name in lab.student_files:
        path = submission / name
        if not path.is_file() or path.is_symlink():  # a link could point into someone else's folder
            missing.append(name)
        elif path.stat().st_size > MAX_FILE_BYTES:
            return {}, f"{name} is larger than {MAX_FILE_BYTES} bytes"
        else:
            files[name] = path.read_bytes()
    return files, (f"missing {', '.join(missing)}" if missing else "")


def grade_files(
    files: dict[str, bytes],
    problem: str,
    lab: Lab,
    student: str,
    timeout: float = 600,
    keyword: str | None = None,
) -> Result:
    """Grade a submission already read into memory
    (``problem``: why it cannot run, if it cannot).
    """
    result = Result(student, lab.name, "ok")
    started = time.perf_counter()
    # filled from the harness's "collected" line; none: every task fails
    checks: dict[str, Check] = {}
    if problem:
        result.status, result.detail = "missing files", problem
    else:
        findings = _inspect(files, lab)
        refused = [f for f in findings if f.kind == "integrity"]
        if refused:
            result.status, result.detail = "refused", refused[0].message
            result.notes += [f.message for f in refused[1:]]
        else:
            for finding in findings:
                _record_violation(result, lab, finding)
            _run(files, lab, result, checks, timeout, keyword)
    result.checks = list(checks.values())
    _score(result, lab, keyword is not None)
    result.seconds = time.perf_counter() - started
    return result


def _inspect(files: dict[str, bytes], lab: Lab) -> list[Finding]:
    siblings = [Path(name).stem for name in (*lab.student_files, *lab.given_files)]
    findings = []
    for name, data in files.items():
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            return [Finding("integrity", 0, "", f"{name} is not UTF-8 text")]
        findings += inspect_source(source, name, lab.forbidden, siblings)
    return findings


def _record_violation(result: Result, lab: Lab, finding: Finding) -> None:
    """A disallowed op used in a task's function: that task scores 0; in a helper: every task."""
    if finding.scope == "" or finding.scope == "main":
        return  # an import (its uses are what count), or the demo the tests never run
    own = _task_of(finding.scope, lab)
    for task in [own] if own else list(lab.points):
        result.violations.setdefault(task, []).append(finding.message)


def _task_of(scope: str, lab: Lab) -> str:
    """The task of the student's function ``scope``
    ("Conv2dFunction.forward" -> "2.5"), or "" for a helper.
    """
    scope = scope.replace(".<locals>", "")
    while scope and scope not in lab.task_of_scope:
        scope = scope.rpartition(".")[0]
    return lab.task_of_scope.get(scope, "")


def _run(
    files: dict[str, bytes],
    lab: Lab,
    result: Result,
    checks: dict[str, Check],
    timeout: float,
    keyword: str | None,
) -> None:
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="scratchnet-grade-") as temp:
        work = Path(temp) / lab.name
        work.mkdir()
        for name, text in {**lab.tests, **lab.hidden}.items():
            (work / name).write_text(text, encoding="utf-8")
        for name, data in {**lab.given_files, **files}.items():
            (work / name).write_bytes(data)
        read_end, write_end = os.pipe()
        job = {
            "fd": write_end,
            "workdir": str(work),
            "keyword": keyword,
            "forbidden": lab.forbidden,
            "student_files": [str(work / name) for name in files],
        }
        launcher = (
            "import json, sys; sys.path[:0] = json.loads(sys.argv[2]); "
            "from scratchnet.labs.harness import main; main()"
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTHON", "PYTEST"))
        }
        env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", MPLBACKEND="Agg", HOME=temp)
        command = [
            sys.executable,
            "-I",
            "-S",
            "-c",
            launcher,
            json.dumps(job),
            json.dumps(_search_path()),
        ]
        with open(Path(temp) / "output.txt", "w+b") as output:
            child = subprocess.Popen(
                command,
                cwd=work,
                env=env,
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
                start_new_session=True,
            )
            os.close(write_end)
            lines: list[str] = []
            reader = threading.Thread(target=_read_lines, args=(read_end, lines), daemon=True)
            reader.start()
            child.stdin.write((nonce + "\n").encode())
            child.stdin.close()
            try:
                child.wait(timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                _kill(child)
                timed_out = True
            reader.join(5)
            output.seek(0)
            result.output = output.read()[-20_000:].decode("utf-8", "replace")
    done = _apply(lines, nonce, lab, result, checks)
    if timed_out:
        result.status, result.detail = "timeout", f"the checks did not finish within {timeout:g} s"
    elif done is None:
        result.status = "crashed"
        result.detail = (
            f"the run ended (exit status {child.returncode}) before reporting every check: "
            + _last_line(result.output)
        )
    elif done:
        result.status, result.detail = "does not import", " / ".join(done)
    elif not checks:
        result.status, result.detail = (
            "crashed",
            "no check was collected: " + _last_line(result.output),
        )
    if done is None or timed_out:
        for check in checks.values():
            if check.status == "FAIL" and check.message.startswith("no result"):
                check.message = f"no result: {result.detail}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _search_path() -> list[str]:
    """sys.path for the child: scratchnet's folder and the
    parent's installed packages, no .pth processing.
    """
    paths = [str(REPOSITORY)]
    paths += [
        p
        for p in sys.path
        if p
        and Path(p).is_dir()
        and (
            "site-packages" in p
            or "dist-packages" in p
            or Path(p).name.startswith("python3")
            or p.endswith(".zip")
        )
    ]
    return list(dict.fromkeys(paths))


def _read_lines(fd: int, lines: list[str]) -> None:
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as pipe:
        for line in pipe:
            lines.append(line)


def _kill(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, 9)
    except ProcessLookupError:
        pass
    child.wait()


def _apply(
    lines: list[str], nonce: str, lab: Lab, result: Result, checks: dict[str, Check]
) -> list[str] | None:
    """Fold the harness's lines (those with the nonce) into ``checks``;
    the "done" line's problems, or None.
    """
    done = None
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or not secrets.compare_digest(
            str(record.get("nonce", "")), nonce
        ):
            continue  # not the harness's: ignored
        kind = record.get("kind")
        if kind == "collected":
            for nodeid, title in record["checks"]:
                hidden = Path(nodeid.split("::")[0]).name.startswith("test_hidden_")
                match = _TASK.match(title)
                task = match.group(1) if match else ""
                checks[nodeid] = Check(
                    nodeid, title, f"{task} (hidden)" if task and hidden else task, hidden=hidden
                )
        elif kind == "outcome" and record["nodeid"] in checks:
            check = checks[record["nodeid"]]
            check.status, check.message, check.where = (
                record["status"],
                record["message"],
                record["where"],
            )
        elif kind == "violation":
            check = checks.get(record["nodeid"])
            task = _task_of(str(record.get("scope", "")), lab) or (
                check.task.split(" ")[0] if check else ""
            )
            for target in [task] if task else list(lab.points):
                messages = result.violations.setdefault(target, [])
                if record["message"] not in messages:
                    messages.append(record["message"])
        elif kind == "done":
            done = list(record.get("problems", []))
    return done


def _score(result: Result, lab: Lab, partial: bool) -> None:
    """Points per task: POINTS[task] x the share of its
    checks that passed; 0 where a disallowed op was used.
    """
    for points, hidden in ((lab.points, False), (lab.hidden_points, True)):
        for task, maximum in points.items():
            # a skip is no pass
            checks = [c for c in result.checks if c.task == task and c.hidden == hidden]
            if partial and not checks:
                continue  # not selected by -k
            share = sum(c.status == "PASS" for c in checks) / len(checks) if checks else 0.0
            if result.status != "ok" or task.split(" ")[0] in result.violations:
                share = 0.0
            result.task_scores[task] = (round(maximum * share, 2), maximum, hidden)


def grade_class(
    submissions: str | Path,
    out: str | Path,
    labs: list[Lab],
    timeout: float = 600,
    echo: Any = None,
) -> list[Result]:
    """Grade every sub-folder of ``submissions``; write ``out/grades.csv`` and
    ``out/results/<student>.json``.
    """
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise GradingError(f"grade: {submissions} is not a folder of submissions")
    students = sorted(p for p in submissions.iterdir() if not p.name.startswith("."))
    # Everything read before anything runs: no submission can change another's files.
    read = []
    for folder in students:
        lab = find_lab(folder, labs) if folder.is_dir() else None
        lab = lab or (labs[0] if len(labs) == 1 else None)
        if lab is None:
            read.append((folder.name, None, {}, "not a copy of a known lab"))
            continue
        files, problem = read_submission(folder, lab) if folder.is_dir() else ({}, "not a folder")
        read.append((folder.name, lab, files, problem))
    results = []
    for name, lab, files, problem in read:
        if lab is None:
            result = Result(name, "?", "missing files", problem)
        else:
            result = grade_files(files, problem, lab, name, timeout)
        results.append(result)
        if echo:
            echo(f"{name}: {_number(result.score)}/{_number(result.max_score)} ({result.status})")
    (out / "results").mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "lab", "score", "max_score", "status", "detail"])
        for result in results:
            writer.writerow(
                [
                    result.student,
                    result.lab,
                    _number(result.score),
                    _number(result.max_score),
                    result.status,
                    result.detail,
                ]
            )
    for result in results:
        path = out / "results" / f"{result.student}.json"
        path.write_text(json.dumps(result.gradescope(), indent=2) + "\n", encoding="utf-8")
    return results


def released_labs(
    source: str | Path | None = None, hidden_tests: str | Path | None = None
) -> list[Lab]:
    """Every lab under ``source`` (default: the repository's ``lessons/``), loaded."""
    source = Path(source) if source is not None else RELEASED_LABS
    if any(source.glob("test_*.py")):
        return [load_lab(source, hidden_tests)]
    folders = sorted(p for p in source.iterdir() if p.is_dir() and any(p.glob("test_*.py")))
    if not folders:
        raise GradingError(f"{source} holds no lab folder")
    return [load_lab(folder, hidden_tests) for folder in folders]
