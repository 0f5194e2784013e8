"""Course labs: write the student version of the labs, and check a student's work.

The labs live in ``lessons/`` at the top of the repository, one folder per lab: the handout
(``README.md``), the student's file with the instructor's solution between ``### BEGIN SOLUTION``
and ``### END SOLUTION`` markers, and the tests that check it. Two commands::

    python -m scratchnet.labs release lessons/ OUT/     # the student version: solutions become stubs
    python -m scratchnet.labs check OUT/lab02_im2col    # run a lab's checks, with readable feedback

``expect`` holds the assertions the labs' tests use, whose messages name what was expected.
Importing this package imports neither pytest nor any lab.
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
