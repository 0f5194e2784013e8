"""Course labs: write the student version of the labs, and check a student's work.

The labs' instructor versions live in ``instructor/labs/`` at the top of the repository, one folder
per lab: the handout (``README.md``), the student's file with the instructor's solution between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` markers, and the tests that check it (with the
task's ``POINTS``). ``lessons/`` holds their release. Three commands::

    python -m scratchnet.labs release instructor/labs lessons --force  # solutions become stubs
    python -m scratchnet.labs check .                  # in a lab folder: the score, task by task
    python -m scratchnet.labs grade SUBMISSIONS --out OUT              # a class: a gradebook

``grade`` (module :mod:`scratchnet.labs.grade`) runs each submission in a subprocess it cannot
steer (:mod:`scratchnet.labs.harness`, :mod:`scratchnet.labs.guard`); ``check_lab`` runs a lab's
tests in the calling process, trusting the code. ``expect`` holds the assertions the labs' tests
use, whose messages name what was expected. Importing this package imports neither pytest nor any
lab.
"""

from scratchnet.labs.check import LabReport, Outcome, check_lab, find_labs
from scratchnet.labs.expect import expect_close, expect_equal, expect_gradcheck, expect_shape
from scratchnet.labs.release import ReleaseError, release, release_text

__all__ = [
    "LabReport",
    "Outcome",
    "ReleaseError",
    "check_lab",
    "expect_close",
    "expect_equal",
    "expect_gradcheck",
    "expect_shape",
    "find_labs",
    "release",
    "release_text",
]
