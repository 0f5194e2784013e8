"""Regenerate every demo figure in the docs and the numbers the docs quote, from one real run.

    python -m scratchnet.demos.make_docs_figures --out docs/figures/demos

runs each demo with its default options (several seeds; about 15 minutes in all on a 2-core laptop),
saves its figures as ``<out>/<figure>.png`` and writes ``<out>/numbers.json``: ``{demo: numbers}``,
the same numbers ``run()`` returns. The docs quote them with a marker the test suite checks
(``tests/test_docs.py``), e.g.

    <!-- number: degradation.final_training_error.plain-56.mean -->

followed by the number as printed (``73.8%``), so a page cannot drift from the run silently.
``--only degradation,gradcam`` reruns some demos and keeps the others' numbers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

DEMOS = ["degradation", "aux_classifier", "se_excitation", "gradcam", "train"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.demos.make_docs_figures", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", default="docs/figures/demos")
    parser.add_argument("--only", default=",".join(DEMOS), help=f"comma-separated, from {DEMOS}")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args([] if argv is None else argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    numbers_path = out / "numbers.json"
    numbers = json.loads(numbers_path.read_text()) if numbers_path.exists() else {}
    for name in args.only.split(","):
        if name not in DEMOS:
            raise SystemExit(f"unknown demo {name!r}; choose from {DEMOS}")
        demo = importlib.import_module(f"scratchnet.demos.{name}")
        start, cpu_start = time.perf_counter(), time.process_time()
        result = demo.run(no_progress=args.no_progress)
        result.numbers["wall_seconds"] = round(time.perf_counter() - start, 1)
        result.numbers["cpu_seconds"] = round(
            time.process_time() - cpu_start, 1
        )  # all of its threads
        result.save_figures(str(out))
        numbers[name] = result.numbers
        numbers_path.write_text(
            json.dumps(numbers, indent=1, sort_keys=True) + "\n"
        )  # after each demo
        print(
            f"{name}: {result.numbers['wall_seconds']} s ({result.numbers['cpu_seconds']} s of "
            f"CPU time), figures {list(result.figures)}",
            flush=True,
        )
    return numbers


if __name__ == "__main__":
    main(sys.argv[1:])
