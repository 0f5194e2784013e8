"""``release``: write the student version of the labs, with every solution replaced by a stub.

The instructor's solution lives in the lab's own file, between two marker lines (the convention of
nbgrader, the Jupyter grading tool)::

    def im2col(x, KH, KW, stride=1, padding=0):
        \"\"\"...\"\"\"
        # HINT: one strided slice per kernel offset (i, j) fills a whole row block of col.
        ### BEGIN SOLUTION
        ...the instructor's code...
        ### END SOLUTION

The student version keeps everything outside the markers (docstrings, ``# HINT`` lines, the code
around the hole) and puts one line where the solution was, indented like the markers::

        raise NotImplementedError("TASK 2.3 (im2col ...): complete im2col() in conv_im2col.py")

The message names the task: the nearest ``# TASK <number> <title>`` comment above the hole, the
function the hole is in, and the file. A hole must sit inside a function, so that the student file
still imports and every other check can run; ``release`` refuses a hole at module level, unbalanced
markers, and a released file that does not compile.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"

# Never copied: caches, compiled files, and what a lab's own .gitignore lists (generated data).
SKIPPED_NAMES = ("__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", "*.pyc")

_TASK = re.compile(r"^\s*#\s*(TASK\s+\d+(?:\.\d+)*)\b[\s:.\-]*(.*?)[\s=\-]*$")
_DEF = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+(\w+)")


class ReleaseError(ValueError):
    """A lab file whose markers cannot be turned into a student version; the message says where."""


def release_text(source: str, filename: str = "<lab file>") -> tuple[str, int]:
    """The student version of one file's text, and the number of holes made.

    Parameters
    ----------
    source : str
        The instructor's file, with ``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions.
    filename : str
        Named in the stubs' messages and in errors.

    Returns
    -------
    (str, int)
        The text with each region replaced by ``raise NotImplementedError("...")``, and the count.
    """
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    holes = 0
    begin_line = None  # index of the open BEGIN marker, while inside a region
    for number, line in enumerate(lines):
        marker = line.strip()
        if marker.startswith(BEGIN):
            if begin_line is not None:
                raise ReleaseError(
                    f"{filename}:{number + 1}: {BEGIN} inside "
                    f"the region opened at line {begin_line + 1}"
                )
            begin_line = number
        elif marker.startswith(END):
            if begin_line is None:
                raise ReleaseError(f"{filename}:{number + 1}: {END} without a {BEGIN} above it")
            indent = _indent(lines[begin_line])
            if _indent(line) != indent:
                raise ReleaseError(
                    f"{filename}:{number + 1}: {END} is indented differently from its {BEGIN} at "
                    f"line {begin_line + 1}"
                )
            message = (
                _stub_message(lines, begin_line, filename).replace("\\", "\\\\").replace('"', '\\"')
            )
            out.append(f'{indent}raise NotImplementedError("{message}")\n')
            holes += 1
            begin_line = None
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise ReleaseError(f"{filename}:{begin_line + 1}: {BEGIN} is never closed by {END}")
    text = "".join(out)
    try:
        compile(text, filename, "exec")
    except SyntaxError as error:
        raise ReleaseError(f"{filename}: the student version does not compile: {error}") from error
    return text, holes


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _stub_message(lines: list[str], begin: int, filename: str) -> str:
    """What the stub says: the task above the hole, the function around it, the file."""
    scope = _enclosing_scope(lines, begin)
    if not scope:
        raise ReleaseError(
            f"{filename}:{begin + 1}: a solution region must be inside a function (a hole at "
            "module level would stop the student file from importing at all)"
        )
    task = next((m for m in (_TASK.match(line) for line in reversed(lines[:begin])) if m), None)
    where = f"complete {scope}() in {Path(filename).name}"
    if task is None:
        return where
    label, title = task.group(1), task.group(2)
    if not title:
        # a bare "# TASK 2.5" inside a method: the title is on the banner with the same label
        titled = (
            m
            for m in (_TASK.match(line) for line in lines)
            if m and m.group(1) == label and m.group(2)
        )
        title = next((m.group(2) for m in titled), "")
    title = re.split(r":| \(", title)[0].strip()  # "Mul: the product rule" -> "Mul"
    return f"{label} ({title}): {where}" if title else f"{label}: {where}"


def _enclosing_scope(lines: list[str], begin: int) -> str:
    """Dotted name of the def (and class) around line ``begin``, e.g.
    ``MaxPool2dFunction.backward``.
    """
    names: list[str] = []
    width = len(_indent(lines[begin]))
    for line in reversed(lines[:begin]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < width:
            if not names and match.group(2) != "def":
                return ""  # directly in a class body, not in a method
            names.append(match.group(3))
            width = len(match.group(1))
            if width == 0:
                break
    return ".".join(reversed(names))


def release(source: str | Path, destination: str | Path, force: bool = False) -> dict[Path, int]:
    """Write the student version of the lab tree ``source`` into ``destination``.

    Every ``.py`` file goes through :func:`release_text`; every other file is copied as it is.
    Caches and the patterns in a ``.gitignore`` found in the tree (generated data) are left out.

    Parameters
    ----------
    source : path
        ``lessons/`` (all labs) or one lab folder.
    destination : path
        Created if missing. It must not lie inside ``source``.
    force : bool
        Write into a destination that already holds files.

    Returns
    -------
    dict
        Number of holes per released ``.py`` file (destination paths), files without holes included.
    """
    source, destination = Path(source).resolve(), Path(destination).resolve()
    if not source.is_dir():
        raise ReleaseError(f"release: {source} is not a folder")
    if destination == source or source in destination.parents:
        raise ReleaseError(
            f"release: the destination {destination} must not be inside the source {source}"
        )
    if destination.exists() and any(destination.iterdir()) and not force:
        raise ReleaseError(
            f"release: {destination} is not empty; pass --force to write into it anyway"
        )
    holes: dict[Path, int] = {}
    for path, ignored in _walk(source, ()):
        if _ignored(path.name, ignored, path.is_dir()):
            continue
        target = destination / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.suffix == ".py":
            text, count = release_text(
                path.read_text(encoding="utf-8"), str(path.relative_to(source.parent))
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            holes[target] = count
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return holes


def _walk(folder: Path, ignored: tuple[str, ...]):
    """(path, patterns that apply to it) for everything under ``folder``, sorted, parents first."""
    gitignore = folder / ".gitignore"
    if gitignore.is_file():
        lines = gitignore.read_text(encoding="utf-8").splitlines()
        ignored = ignored + tuple(
            line.strip() for line in lines if line.strip() and not line.startswith("#")
        )
    for path in sorted(folder.iterdir()):
        yield path, ignored
        if path.is_dir() and not _ignored(path.name, ignored, True):
            yield from _walk(path, ignored)


def _ignored(name: str, patterns: tuple[str, ...], is_dir: bool) -> bool:
    for pattern in (*SKIPPED_NAMES, *patterns):
        if pattern.endswith("/"):  # "data/" matches folders only
            if is_dir and fnmatch.fnmatch(name, pattern.rstrip("/")):
                return True
        elif fnmatch.fnmatch(name, pattern.lstrip("/")):
            return True
    return False
