"""What every lesson shares: a report (text, tables, checks), number formatting, the command line.

A lesson builds a :class:`Report` step by step -- a paragraph, a table, a list of checks -- and hands
it to :func:`finish`, which prints it as readable text, or as JSON with ``--json``, and draws the
lesson's figure with ``--plot PATH``.

A *check* sets one computed number beside a figure from the lecture or a paper::

    report.check("VGG16 parameters", computed=138_357_544, reference=138e6, rel_tol=0.005,
                 source='lecture, VGGNet (3): "TOTAL params: 138M"')

It agrees when the two are within ``rel_tol`` of each other (0 means exactly equal); the tolerance is
the rounding of the printed reference, never a fudge. Where they disagree the lesson says why in
``why``: a counting convention, a rounding, or an error in the source. The computed side always
comes from a real scratchnet model or layer; only references are typed in.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import scratchnet
from scratchnet import nn

# ---------------------------------------------------------------------------- counting


def count_parameters(module: nn.Module) -> int:
    """Number of scalars in ``module.parameters()`` (each shared parameter once), as PyTorch counts."""
    return sum(p.numel() for p in module.parameters())


def count_weights(module: nn.Module) -> tuple[int, int]:
    """``(weights, biases)`` of every ``Conv2d`` and ``Linear`` inside ``module``.

    The lecture's convention "params (not counting biases)" is the first number. BatchNorm's scale
    and shift are neither, so they are left out here (``count_parameters`` includes them).
    """
    weights = biases = 0
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            weights += layer.weight.numel()
            biases += layer.bias.numel() if layer.bias is not None else 0
    return weights, biases


def record_outputs(
    model: nn.Module, x: scratchnet.Tensor, types: tuple[type, ...]
) -> list[tuple[str, nn.Module, scratchnet.Tensor]]:
    """Run ``model(x)`` without gradients and return ``(path, layer, output)`` for every call of a
    layer of one of ``types``, in the order they ran (``path`` is the name in ``model.state_dict()``).

    Forward hooks (PyTorch's ``register_forward_hook``) see each output; they are removed afterwards.
    """
    calls: list[tuple[str, nn.Module, scratchnet.Tensor]] = []
    handles = []

    def recorder(path: str) -> Callable[..., None]:
        return lambda layer, inputs, output: calls.append((path, layer, output))

    for path, layer in model.named_modules():
        if isinstance(layer, types):
            handles.append(layer.register_forward_hook(recorder(path)))
    try:
        with scratchnet.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return calls


# ---------------------------------------------------------------------------- formatting


def fmt_int(n: float) -> str:
    """``138357544 -> '138,357,544'`` (a dash for None)."""
    return "-" if n is None else f"{round(n):,}"


def fmt_si(n: float, digits: int = 1) -> str:
    """Decimal prefixes as the lecture writes them: ``3211264 -> '3.2M'``, ``1728 -> '1.7K'``."""
    if n is None:
        return "-"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f}{prefix}"
    return f"{n:.0f}" if float(n).is_integer() else f"{n:.{digits}f}"


def fmt_bytes(n: float) -> str:
    """Decimal units, as the lecture's "96MB" (1 MB = 10^6 bytes): ``60950432 -> '61.0 MB'``."""
    return f"{n / 1e9:,.2f} GB" if n >= 1e9 else f"{n / 1e6:,.1f} MB"


def fmt_shape(shape: Sequence[int]) -> str:
    """``(64, 224, 224) -> '224x224x64'``: the lecture writes height x width x channels."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(str(s) for s in shape)


def fmt_pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


# ---------------------------------------------------------------------------- the report


@dataclass
class Column:
    """One column of a table: the row key it shows, its header, how to format a value, alignment."""

    key: str
    header: str
    fmt: Callable[[Any], str] = str
    align: str = ">"  # numbers right-aligned, names left-aligned ("<")


@dataclass
class Table:
    key: str  # the table's name in --json output
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]] = field(default_factory=list)  # printed under a rule

    def render(self) -> str:
        cells = [[c.header for c in self.columns]]
        for row in [*self.rows, *self.totals]:
            cells.append([_cell(c, row.get(c.key)) for c in self.columns])
        widths = [max(len(line[i]) for line in cells) for i in range(len(self.columns))]

        def line(values: list[str]) -> str:
            parts = [f"{v:{c.align}{w}}" for v, c, w in zip(values, self.columns, widths, strict=True)]
            return "  " + "  ".join(parts).rstrip()

        rule = "  " + "  ".join("-" * w for w in widths)
        out = [self.title] if self.title else []
        out += [line(cells[0]), rule]
        out += [line(values) for values in cells[1 : 1 + len(self.rows)]]
        if self.totals:
            out.append(rule)
            out += [line(values) for values in cells[1 + len(self.rows) :]]
        return "\n".join(out)


def _cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else column.fmt(value)


@dataclass
class Check:
    """One computed number beside a reference figure, and whether they agree."""

    name: str
    computed: float
    reference: float | None
    source: str
    agrees: bool
    note: str = ""
    shown: str = ""  # the reference as the source prints it ("138M"), for the text report
    fmt: Callable[[Any], str] = field(default=lambda x: fmt_number(x), repr=False)  # how to print computed

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "computed": _plain(self.computed),
            "reference": _plain(self.reference),
            "source": self.source,
            "agrees": self.agrees,
            "note": self.note,
        }


class Report:
    """A lesson's output, built in reading order: paragraphs, tables and checks."""

    def __init__(self, name: str, title: str) -> None:
        self.name = name
        self.title = title
        self.blocks: list[Any] = []  # str (a paragraph), Table, or list[Check]
        self.checks: list[Check] = []
        self.data: dict[str, Any] = {}  # extra numbers for --json and the plot

    def say(self, *paragraphs: str) -> None:
        """Add paragraphs of explanation (plain words; printed with a blank line between)."""
        self.blocks.extend(paragraphs)

    def table(
        self,
        key: str,
        title: str,
        columns: list[Column],
        rows: list[dict[str, Any]],
        totals: Iterable[dict[str, Any]] = (),
    ) -> Table:
        table = Table(key, title, columns, rows, list(totals))
        self.blocks.append(table)
        return table

    def check(
        self,
        name: str,
        computed: float,
        reference: float | None,
        source: str,
        *,
        rel_tol: float = 0.0,
        shown: str = "",
        why: str = "",
        note: str = "",
        agrees: bool | None = None,
        quiet: bool = False,
        fmt: Callable[[Any], str] | None = None,
    ) -> Check:
        """Compare ``computed`` with ``reference`` and record the verdict.

        ``rel_tol`` is how much rounding the printed reference carries (0: it is exact). ``agrees``
        overrides the comparison for a statement that is not an equality ("more than half").
        ``why`` explains a disagreement and is kept only when they disagree; ``note`` is kept always.
        A ``quiet`` check goes to ``--json`` only (a table already shows it). ``fmt`` prints the
        computed value (default: thousands separators).
        """
        if agrees is None:
            if reference is None:
                agrees = False
            elif rel_tol == 0 or isinstance(computed, str):
                agrees = bool(computed == reference)
            else:
                agrees = math.isclose(computed, reference, rel_tol=rel_tol)
        text = " ".join(t for t in (note, "" if agrees else why) if t)
        check = Check(
            name, computed, reference, source, agrees, text, shown or _default_shown(reference), fmt or fmt_number
        )
        self.checks.append(check)
        if not quiet:
            self.show(check)  # consecutive checks print as one block
        return check

    def show(self, check: Check) -> None:
        """Print a check recorded with ``quiet=True`` after all (e.g. a table row that disagrees)."""
        if self.blocks and isinstance(self.blocks[-1], list):
            self.blocks[-1].append(check)
        else:
            self.blocks.append([check])

    # -- output

    def render(self) -> str:
        out = [self.title + "\n" + "=" * len(self.title)]
        for block in self.blocks:
            if isinstance(block, str):
                out.append(_wrap(block))
            elif isinstance(block, Table):
                out.append(block.render())
            else:
                out.append(_render_checks(block))
        shown = {id(c) for block in self.blocks if isinstance(block, list) for c in block}
        unexplained = [c for c in self.checks if not c.agrees and id(c) not in shown]
        if unexplained:  # a safety net: every disagreement is printed with its reason
            out.append(_render_checks(unexplained))
        agreed = sum(c.agrees for c in self.checks)
        out.append(
            f"In all, {agreed} of {len(self.checks)} checks agree with their reference (the tables' "
            "rows count one check per number); every disagreement is explained above."
        )
        return "\n\n".join(out)

    def as_dict(self) -> dict[str, Any]:
        tables = [b for b in self.blocks if isinstance(b, Table)]
        return {
            "lesson": self.name,
            "title": self.title,
            "rows": {t.key: [_plain_row(r) for r in [*t.rows, *t.totals]] for t in tables},
            "checks": [c.as_dict() for c in self.checks],
            "data": {k: _plain(v) for k, v in self.data.items()},
        }


def _render_checks(checks: list[Check]) -> str:
    """A small table: verdict, quantity, computed, reference, source; the note under its row."""
    cells = [(("agrees" if c.agrees else "DIFFERS"), c.name, c.fmt(c.computed), c.shown, c.source) for c in checks]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    lines = ["Checks (computed here vs the reference):"]
    for c, (verdict, name, computed, shown, source) in zip(checks, cells, strict=True):
        lines.append(
            f"  {verdict:<{widths[0]}}  {name:<{widths[1]}}  {computed:>{widths[2]}}  vs  "
            f"{shown:<{widths[3]}}  {source}".rstrip()
        )
        if c.note:
            lines.append(_wrap(c.note, indent=" " * (widths[0] + 4)))
    return "\n".join(lines)


def fmt_number(x: Any) -> str:
    """Integers with thousands separators, other numbers with 4 significant digits."""
    if isinstance(x, str):
        return x
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(fmt_number(v) for v in x) + "]"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)) or float(x).is_integer():
        return fmt_int(x)
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def _default_shown(reference: float | str | None) -> str:
    return "-" if reference is None else fmt_number(reference)


def _wrap(text: str, indent: str = "", width: int = 100) -> str:
    """Fill each line of ``text`` to ``width``; a line that starts with spaces keeps them, and its
    continuation lines are indented two more, so lists stay readable.
    """
    out = []
    for line in text.split("\n"):
        lead = indent + line[: len(line) - len(line.lstrip())]
        hang = lead + ("  " if line.startswith(" ") else "")
        out.append(textwrap.fill(line.strip(), width, initial_indent=lead, subsequent_indent=hang))
    return "\n".join(out)


def _plain(x: Any) -> Any:
    """NumPy scalars and tuples -> JSON-friendly Python values."""
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (tuple, list)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    return x


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items()}


# ---------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None, doc: str | None) -> argparse.Namespace:
    """The options every lesson takes: ``--json`` and ``--plot PATH``."""
    first_line = (doc or "").strip().splitlines()[0] if doc else None
    parser = argparse.ArgumentParser(description=first_line)
    parser.add_argument("--json", action="store_true", help="print rows and checks as JSON instead of text")
    parser.add_argument("--plot", metavar="PATH", help="also save the lesson's figure to PATH (PNG, SVG, PDF)")
    args = parser.parse_args(argv)
    scratchnet.manual_seed(0)  # every lesson is deterministic: same weights, same inputs, same output
    return args


def finish(report: Report, args: argparse.Namespace, plot: Callable[[Any, Report], None] | None = None) -> Report:
    """Print the report (text or JSON) and save the figure if ``--plot`` was given."""
    if args.plot:
        if plot is None:
            raise SystemExit(f"{report.name} has no figure")
        plt = pyplot()
        fig = plt.figure(figsize=(8, 5))
        plot(fig, report)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        plt.close(fig)
        report.data["plot"] = str(args.plot)
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(report.render())
        if args.plot:
            print(f"\nFigure saved to {args.plot}")
    return report


def pyplot() -> Any:
    """Matplotlib's pyplot on the file-only Agg backend, imported only when a figure is asked for."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
