"""``python -m scratchnet.labs release|check|grade``: hand out, check and grade the course labs.

release instructor/labs lessons --force    # the student version: solutions become stubs
check .                                     # from inside a lab folder: your score, task by task
grade SUBMISSIONS --out OUT                 # a class: OUT/grades.csv, OUT/results/<student>.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from scratchnet.labs.grade import (
    GradingError,
    find_lab,
    grade_class,
    grade_submission,
    load_lab,
    released_labs,
)
from scratchnet.labs.release import ReleaseError, release


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.labs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    release_parser = commands.add_parser("release", help="write the student version of the labs")
    release_parser.add_argument("source", help="instructor/labs (every lab) or one lab folder")
    release_parser.add_argument("destination", help="where the student version goes")
    release_parser.add_argument(
        "--force", action="store_true", help="write into a folder that is not empty"
    )

    check_parser = commands.add_parser("check", help="run a lab's checks and print your score")
    check_parser.add_argument(
        "path", nargs="?", default=".", help="a lab folder (default: .) or a folder of labs"
    )
    check_parser.add_argument(
        "-k", dest="keyword", help="only the checks matching this pytest -k expression"
    )
    check_parser.add_argument(
        "-v", "--verbose", action="store_true", help="also print what your code printed"
    )
    check_parser.add_argument(
        "--json", action="store_true", help="print the result in Gradescope's schema"
    )
    check_parser.add_argument(
        "--tests", help="take the lab's tests from this trusted lab folder, not from PATH"
    )
    check_parser.add_argument(
        "--hidden-tests", help="instructor-only tests to add (a folder of test_*.py)"
    )
    check_parser.add_argument(
        "--timeout", type=float, default=600, help="seconds before the run is stopped"
    )

    grade_parser = commands.add_parser(
        "grade", help="grade a folder of submissions into a gradebook"
    )
    grade_parser.add_argument(
        "submissions", help="one sub-folder per student, each a copy of the lab folder"
    )
    grade_parser.add_argument(
        "--out", required=True, help="where grades.csv and results/<student>.json go"
    )
    grade_parser.add_argument(
        "--labs", help="the trusted labs (default: the repository's released lessons/)"
    )
    grade_parser.add_argument(
        "--lab", help="grade every submission as this lab (a name such as lab02_im2col)"
    )
    grade_parser.add_argument(
        "--hidden-tests", help="instructor-only tests to add (a folder of test_*.py)"
    )
    grade_parser.add_argument("--timeout", type=float, default=600, help="seconds per submission")

    args = parser.parse_args(argv)
    if args.command != "release" and importlib.util.find_spec("pytest") is None:
        print(
            "checking a lab runs its tests with pytest, "
            'which is not installed: pip install -e ".[labs]"',
            file=sys.stderr,
        )
        return 2
    try:
        if args.command == "release":
            return _release(args)
        if args.command == "check":
            return _check(args)
        labs = released_labs(args.labs, args.hidden_tests)
        if args.lab:
            labs = [lab for lab in labs if lab.name == args.lab]
            if not labs:
                raise GradingError(f"grade: no lab named {args.lab}")
        results = grade_class(args.submissions, args.out, labs, args.timeout, echo=print)
    except (ReleaseError, GradingError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{len(results)} submissions graded: {Path(args.out) / 'grades.csv'}")
    return 0


def _release(args: argparse.Namespace) -> int:
    holes = release(args.source, args.destination, force=args.force)
    for path, count in holes.items():
        if count:
            print(f"{path}: {count} solution region{'s' if count > 1 else ''} replaced by stubs")
    print(f"Student version written to {args.destination} ({sum(holes.values())} stubs).")
    return 0


def _check(args: argparse.Namespace) -> int:
    path = Path(args.path).resolve()
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise FileNotFoundError(f"check: {path} is not a lab folder")
    folders = (
        [path]
        if any(path.glob("test_*.py"))
        else sorted(p for p in path.iterdir() if any(p.glob("test_*.py")))
    )
    if args.tests:
        folders = [path]
    if not folders:
        raise FileNotFoundError(
            f"check: no test_*.py in {path} or its sub-folders; is it a lab folder?"
        )
    results = []
    for folder in folders:
        lab = load_lab(args.tests or folder, args.hidden_tests)
        known = find_lab(folder, _released_labs())
        if known is not None:  # which function is which task, even once every stub is filled in
            lab.task_of_scope = {**known.task_of_scope, **lab.task_of_scope}
        result = grade_submission(
            folder, lab, student=str(folder), timeout=args.timeout, keyword=args.keyword
        )
        results.append(result)
        if args.json:
            print(json.dumps(result.gradescope(), indent=2))
            continue
        if args.verbose and result.output:
            print(result.output)
        print(result.render(), end="\n\n" if len(folders) > 1 else "\n")
        if args.keyword and not result.checks:
            print(f"No check matches -k {args.keyword!r}: nothing was run.")
    if len(results) > 1 and not args.json:
        print(f"Labs complete: {sum(r.ok for r in results)}/{len(results)}")
    if args.keyword and not any(r.checks for r in results):
        return 2
    return 0 if all(result.ok for result in results) else 1


def _released_labs() -> list:
    """The repository's released labs, or none when scratchnet runs without its repository."""
    try:
        return released_labs()
    except (GradingError, FileNotFoundError):
        return []


if __name__ == "__main__":
    sys.exit(main())
