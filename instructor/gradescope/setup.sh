#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (Ubuntu, as root).
# The autograder zip holds: setup.sh, run_autograder, and scratchnet/ (a copy of this repository at the
# commit the course uses, with its lessons/ and, for hidden tests, instructor/hidden/).
set -euo pipefail
apt-get update -q && apt-get install -y -q python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q -e "/autograder/source/scratchnet[labs]"
