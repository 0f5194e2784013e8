"""Run several corpus programs in one process: ``python run_corpus.py {torch,scratchnet} plan.json``.

One process per library for the whole corpus, so PyTorch (2.5 s of CPU to import, 4.4 s with
torchvision) and scratchnet are imported once, not once per program. ``plan.json`` lists, per
program: the script, its arguments, the folder it runs in, and the ``COMPAT_INIT``/``COMPAT_OUT``
paths. Each program runs as ``__main__`` in a fresh namespace (``runpy``), in its own folder; a
program that fails writes its traceback to ``error.txt`` there and the next one runs.
With ``scratchnet``, every ``import torch...`` is answered by scratchnet (see ``run_with_scratchnet``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
import traceback

from run_with_scratchnet import ScratchnetAsTorch, check_no_real_torch


def main() -> None:
    library, plan_path = sys.argv[1:]
    if library == "scratchnet":
        sys.meta_path.insert(0, ScratchnetAsTorch())
    with open(plan_path) as file:
        plan = json.load(file)
    for entry in plan:
        os.chdir(entry["folder"])
        os.environ.update(COMPAT_INIT=entry["init"], COMPAT_OUT=entry["out"])
        sys.argv = [entry["script"], *entry["args"]]
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output):
                runpy.run_path(entry["script"], run_name="__main__")
        except BaseException:  # a program's SystemExit too: report it, run the next one
            with open(os.path.join(entry["folder"], "error.txt"), "w") as file:
                file.write(output.getvalue()[-2000:] + traceback.format_exc())
    if library == "scratchnet":
        check_no_real_torch()


if __name__ == "__main__":
    main()
