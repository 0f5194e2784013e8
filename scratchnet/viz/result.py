"""What a lesson's or a demo's ``run(**options)`` returns, for a notebook or a script.

Every lesson (``scratchnet.lessons.<name>``) and every demo (``scratchnet.demos.<name>``) has,
beside its command line, a function ``run(**options)`` whose keyword options are the command line's
options (``--epochs 3`` is ``run(epochs=3)``). It returns a :class:`RunResult`:

* ``numbers``: a JSON-serialisable dict of what was computed (per-seed values, effects, spreads,
  the lesson's checks), the same content ``--json`` prints;
* ``figures``: open matplotlib ``Figure`` objects, by name; a notebook shows them inline;
* ``text``: exactly what the command line prints.

In a notebook cell, ``result = scratchnet.demos.degradation.run(quick=True)`` shows the text and the
figures; ``result.numbers["..."]`` reads a value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunResult:
    """What a lesson or demo run gives: ``numbers`` (JSON-safe), ``figures`` (open), ``text``."""

    numbers: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    def to_json(self, indent: int | None = 2) -> str:
        """``numbers`` as JSON text (raises ``TypeError`` if a value is not JSON-serialisable)."""
        return json.dumps(self.numbers, indent=indent)

    def save_figures(self, folder: str) -> list[str]:
        """Write every figure as ``folder/<name>.png`` and return the paths."""
        from pathlib import Path

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, figure in self.figures.items():
            path = out / f"{name}.png"
            figure.savefig(path)
            paths.append(str(path))
        return paths

    def __repr__(self) -> str:
        names = ", ".join(self.figures) or "none"
        return f"RunResult({len(self.numbers)} numbers, figures: {names})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's pretty printer: a notebook cell ending in ``run(...)`` shows what the CLI
        # prints; the figures, being open matplotlib figures, are shown inline by the notebook
        # backend.
        printer.text(self.text if not cycle else "RunResult(...)")
