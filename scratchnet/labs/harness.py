"""The grading subprocess: run one submission's checks and send each result down a pipe.

Started by :mod:`scratchnet.labs.grade` as ``python -I -S -c ...`` in a fresh temporary folder that
holds only the handout's files (the student's own, and the lab's tests from the grader's trusted
copy). ``-I -S`` ignores ``PYTHON*`` variables, the user's site folder, ``sitecustomize``/
``usercustomize`` and ``.pth`` files; the parent passes ``sys.path`` explicitly. pytest runs with
its plugin autoloading off, an empty ini file of the grader's and no conftest outside the folder
(and none inside: the parent never copies one).

Before the student's module is imported this process reads a one-time nonce from stdin (never from
the command line or the environment, which the student's code could read) and installs the runtime
guard of the lab's ``FORBIDDEN`` ops. Each finished check is then written as one JSON line carrying
the nonce to the pipe the parent created; after the last one, a ``done`` line. The parent believes
nothing else: not stdout (a fake "Score: 25/25"), not the exit status (``os._exit(0)``), not a check
that never reported (a crash, a timeout, an early exit): those count as failed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    """Entry point of the grading subprocess: ``argv[1]`` is the JSON job the parent wrote."""
    job = json.loads(sys.argv[1])
    nonce = sys.stdin.readline().strip()  # the parent's secret: read before any student code exists
    sys.stdin = open(os.devnull)
    channel = os.fdopen(job["fd"], "w", buffering=1, encoding="utf-8")

    def send(kind: str, **fields: Any) -> None:
        channel.write(json.dumps({"nonce": nonce, "kind": kind, **fields}) + "\n")
        channel.flush()

    from scratchnet.labs.check import check_lab
    from scratchnet.labs.guard import install_runtime_guard

    current: dict[str, str] = {"nodeid": ""}
    install_runtime_guard(
        job["forbidden"],
        job["student_files"],
        lambda message, scope: send(
            "violation", nodeid=current["nodeid"], scope=scope, message=message
        ),
    )
    reporter = _Reporter(send, current)
    report = check_lab(Path(job["workdir"]), job.get("keyword"), plugins=[reporter])
    print(report.output)  # pytest's own report, for check -v
    send("done", problems=report.problems)
    channel.close()


import pytest  # noqa: E402 (this module runs only in the grading subprocess, which needs pytest anyway)

from scratchnet.labs.check import _Collector  # noqa: E402


class _Reporter:
    """A pytest plugin: which check is running
    (for the guard), and each finished check's outcome.
    """

    def __init__(self, send: Any, current: dict[str, str]) -> None:
        self.send, self.current = send, current
        self.collector: Any = None
        self.failed = False

    @pytest.hookimpl(trylast=True)  # after the collector has given every check its title
    def pytest_collection_finish(self, session: Any) -> None:
        self.collector = next(
            p for p in session.config.pluginmanager.get_plugins() if isinstance(p, _Collector)
        )
        self.send(
            "collected", checks=[[o.nodeid, o.title] for o in self.collector.outcomes.values()]
        )

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.current["nodeid"] = nodeid
        self.failed = False

    def pytest_runtest_logreport(self, report: Any) -> None:
        # pytest's own verdict, kept apart from the collector's
        self.failed = self.failed or report.failed

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        outcome = self.collector.outcomes.get(nodeid)
        if outcome is not None:
            status = outcome.status
            if self.failed and status in ("PASS", "SKIP"):
                status = "FAIL"
            self.send(
                "outcome",
                nodeid=nodeid,
                title=outcome.title,
                status=status,
                message=outcome.message,
                where=outcome.where,
            )
        self.current["nodeid"] = ""


if __name__ == "__main__":
    main()
