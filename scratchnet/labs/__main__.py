"""``python -m scratchnet.labs release SRC OUT`` and ``python -m scratchnet.labs check PATH``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from scratchnet.labs.check import check_lab, find_labs
from scratchnet.labs.release import ReleaseError, release


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.labs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    release_parser = commands.add_parser("release", help="write the student version of the labs")
    release_parser.add_argument("source", help="lessons/ (every lab) or one lab folder")
    release_parser.add_argument("destination", help="where the student version goes")
    release_parser.add_argument("--force", action="store_true", help="write into a folder that is not empty")

    check_parser = commands.add_parser("check", help="run a lab's checks and print feedback")
    check_parser.add_argument("path", help="a lab folder (or lessons/ for every lab)")
    check_parser.add_argument("-k", dest="keyword", help="only the checks matching this pytest -k expression")
    check_parser.add_argument("-v", "--verbose", action="store_true", help="also print pytest's own report")

    args = parser.parse_args(argv)
    if args.command == "release":
        try:
            holes = release(args.source, args.destination, force=args.force)
        except ReleaseError as error:
            print(error, file=sys.stderr)
            return 2
        for path, count in holes.items():
            if count:
                print(f"{path}: {count} solution region{'s' if count > 1 else ''} replaced by stubs")
        print(f"Student version written to {args.destination} ({sum(holes.values())} stubs).")
        return 0

    try:
        labs = find_labs(args.path)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    reports = []
    for lab in labs:
        report = check_lab(lab, args.keyword, traceback="auto" if args.verbose else "short")
        reports.append(report)
        if args.verbose:
            print(report.output)
        print(report.render(), end="\n\n" if len(labs) > 1 else "\n")
    if len(reports) > 1:
        print(f"Labs complete: {sum(r.ok for r in reports)}/{len(reports)}")
    return 0 if all(report.ok for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
