"""What every lesson shares: a report (text, tables, checks), number formatting, the command line.

A lesson builds a :class:`Report` step by step -- a paragraph, a table, a list of checks, two or
three exercises -- and hands it to :func:`finish`, which prints it as readable text (no line wider
than 100 terminal columns), or as JSON with ``--json``, and draws the lesson's figure with
``--plot PATH``. Every lesson also has ``run(**options)``, which returns a
:class:`scratchnet.viz.RunResult` (numbers, open figures, text) for a notebook.

A *check* sets one computed number beside a figure from the lecture or a paper::

    report.check("VGG16 parameters", 138_357_544, "138M", 'lecture, VGGNet (3): "TOTAL params:
    138M"')

and gives one of three verdicts (:func:`verdict`):

* **exact**: the computed value equals the reference;
* **within rounding**: rounded the way the source prints the figure (to the nearest unit of its last
  digit, or down where the source truncates; the rule is named), it equals the printed figure:
  138,357,544 to the nearest million is 138M;
* **differs**: no such rounding gives the figure; the relative gap is printed, and the lesson says
  why
  in ``why``: a counting convention, a slip in the source, or an open question.

No tolerance is ever wider than the printed rounding. The computed side always comes from a real
scratchnet model or layer; only references are typed in.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from scratchnet import nn
from scratchnet.analysis import Column, record_calls, render_table, summary
from scratchnet.analysis.text_table import display_width
from scratchnet.function import no_grad
from scratchnet.rng import manual_seed
from scratchnet.tensor import Tensor
from scratchnet.viz.result import RunResult

WIDTH = 100  # no printed line is wider than this many terminal columns

# ---------------------------------------------------------------------------- counting


def count_parameters(module: nn.Module) -> int:
    """Number of scalars in ``module.parameters()``, each shared parameter once (as PyTorch)."""
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
    model: nn.Module, x: Tensor, types: tuple[type, ...]
) -> list[tuple[str, nn.Module, Tensor]]:
    """Run ``model(x)`` without gradients; ``(path, layer, output)`` of every call of a layer of
    one of ``types``, in the order they ran (``path`` is the name in ``model.state_dict()``).

    The calls are recorded by ``scratchnet.analysis.record_calls`` (forward hooks, as PyTorch's
    ``register_forward_hook``), which ``summary`` and ``receptive_field`` use too.
    """
    with record_calls(model, types) as calls, no_grad():
        model(x)
    return [(call.name, call.module, call.output) for call in calls]


SMALL, FULL = (
    32,
    224,
)  # 224 = 7 x 32: in the ImageNet CNNs every feature map at 224 is 7 x 7 times that at 32


def cost_at_224(model: nn.Module) -> list[dict[str, Any]]:
    """Multiply-adds and output values of every leaf layer for a 224x224 image, counted at 32x32.

    At 32x32 the maps of VGG, GoogLeNet, ResNet, DenseNet and SE-ResNet are 16, 8, 4, 2, 1 pixels
    wide where at 224x224 they are 112, 56, 28, 14, 7: each exactly 7 times wider (every stride-2
    layer halves an even size exactly, GoogLeNet's pools round up). So a conv's multiply-adds and a
    layer's (N, C, H, W) output are 7 x 7 = 49 times bigger at 224. Layers whose output does not
    depend on the image size are not scaled: the FC layers, the adaptive (global) pools and what
    follows them (an SE block's excitation). This does not hold for networks with unpadded convs
    (the Inception-v4 family); the lessons that use it check it against a real 224x224 pass.
    """
    return scaled_to_224(summary(model, (3, SMALL, SMALL)))


def scaled_to_224(s: Any) -> list[dict[str, Any]]:
    """The leaf rows of a 32x32 ``summary()``, scaled to 224x224 as :func:`cost_at_224` explains."""
    scale = (FULL // SMALL) ** 2
    rows = []
    for r in s.rows:
        if not r.is_leaf:
            continue
        spatial = len(r.output_shape) == 4 and r.type != "AdaptiveAvgPool2d"
        rows.append(
            {
                "name": r.name,
                "type": r.type,
                "macs": r.macs * (scale if r.type == "Conv2d" else 1),
                "activations": r.activations * (scale if spatial else 1),
            }
        )
    return rows


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
class Table:
    key: str  # the table's name in --json output
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]] = field(default_factory=list)  # printed under a rule

    def render(self, width: int = WIDTH) -> str:
        """The title, then the table (``render_table``): columns that do not fit in ``width`` go
        to a second part that repeats the first.
        """
        table = render_table(self.columns, self.rows, self.totals, width=width)
        return "\n".join([wrap(self.title), table] if self.title else [table])


# ---------------------------------------------------------------------------- printed figures

# A printed figure: digits, then an optional decimal prefix, then an optional unit ("B" or "%").
_PRINTED = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([KMGT]?)(B?|%)\s*$")
_PREFIX = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
RULES = ("nearest", "floor")  # how a source turns a number into the figure it prints


@dataclass(frozen=True)
class Printed:
    """A figure as its source prints it: ``"15.18M"`` is 15.18 in units of 10^6, 2 decimals.

    ``rule`` says how the source rounds: ``"nearest"`` (half away from zero) or ``"floor"`` (the
    source truncates). A computed value reproduces the figure when, divided by ``unit`` and rounded
    to ``decimals`` by that rule, it equals ``digits``.
    """

    text: str
    digits: Decimal  # the printed number, without its unit: Decimal("15.18")
    decimals: int
    unit: float  # 1e6 for "M", 1024 for "K" where the source counts K = 1024, 0.01 for "%"
    rule: str = "nearest"

    @property
    def value(self) -> float:
        """The figure as a plain number: ``"15.18M" -> 15_180_000.0``."""
        return float(self.digits) * self.unit

    def describe(self) -> str:
        """The rounding rule in words: ``'nearest 0.01M'``, ``'floor 1K (K = 1024)'``."""
        step = (
            f"{Decimal(1).scaleb(-self.decimals)}" if self.decimals > 0 else f"{10**-self.decimals}"
        )
        suffix = _PRINTED.match(self.text)
        unit = (suffix.group(2) + suffix.group(3)) if suffix else ""
        kilo = " (K = 1024)" if unit.startswith("K") and self.unit == 1024 else ""
        return f"{self.rule} {step}{unit}{kilo}"


def printed(
    reference: str | tuple[float, int] | tuple[float, int, float] | Printed,
    *,
    rule: str = "nearest",
    kilo: int = 1000,
    significant: int | None = None,
) -> Printed:
    """A printed reference as a :class:`Printed`, from text or ``(value, decimals[, unit])``.

    ``printed("138M")`` is 138 to the nearest 10^6; ``printed("2.7K", kilo=1024)`` is 2.7 in units
    of 1024 to one decimal; ``printed((7.6, 1))`` is 7.6 to one decimal; ``printed("0.26%")`` is
    0.0026 to the nearest 0.0001. ``rule="floor"`` where the source truncates instead of rounding.
    ``significant=2`` where the source rounds to significant figures: ``"800K"`` is then 800K to the
    nearest 10K (its zeros are not digits the source vouches for).
    """
    if isinstance(reference, Printed):
        return reference
    if rule not in RULES:
        raise ValueError(f"printed(): rule must be one of {RULES}, got {rule!r}")
    if isinstance(reference, tuple):
        value, decimals, *unit = reference
        text = f"{value:.{decimals}f}"
        return Printed(text, Decimal(text), decimals, unit[0] if unit else 1.0, rule)
    match = _PRINTED.match(reference)
    if match is None:
        raise ValueError(
            f"printed(): {reference!r} is not a printed figure such as '138M', '2.7K' or '0.26%'"
        )
    number, prefix, suffix = match.groups()
    number = number.replace(",", "")
    decimals = len(number.split(".")[1]) if "." in number else 0
    unit = kilo if prefix == "K" else _PREFIX[prefix]
    if suffix == "%":
        unit = unit / 100
    if significant is not None:
        decimals = significant - 1 - Decimal(number).adjusted()
    return Printed(reference.strip(), Decimal(number), decimals, unit, rule)


def round_as_printed(computed: float, reference: Printed) -> Decimal:
    """``computed`` in the reference's unit, rounded to its decimals by its rule (exact decimals).

    >>> round_as_printed(15_237_608, printed("15.18M"))
    Decimal('15.24')
    """
    # str() of a float is its shortest repr: 7.55 stays 7.55, not 7.5499999999999998...
    exact = Decimal(str(computed)) if isinstance(computed, float) else Decimal(int(computed))
    scaled = exact / Decimal(str(reference.unit))
    step = Decimal(1).scaleb(
        -reference.decimals
    )  # 1E+1 for "800K" to 2 significant figures: nearest 10K
    return scaled.quantize(
        step, rounding=ROUND_FLOOR if reference.rule == "floor" else ROUND_HALF_UP
    )


EXACT, WITHIN_ROUNDING, DIFFERS = "exact", "within rounding", "differs"


def verdict(
    computed: Any, reference: Any, *, rule: str = "nearest", kilo: int = 1000
) -> tuple[str, float | None]:
    """``(verdict, relative gap)`` of a computed value against a reference.

    A number (int or float) as reference must be matched exactly; a printed figure (a string such as
    ``"138M"``, a ``(value, decimals[, unit])`` tuple or a :class:`Printed`) is matched "within
    rounding" when ``round_as_printed`` reproduces it. The gap is ``computed / reference - 1`` (None
    for text). Other values (layer names, shapes) are compared for equality.

    >>> verdict(366_750, printed("364K"))[0], verdict(7.570, printed("7.6"))[0]
    ('differs', 'within rounding')
    """
    if isinstance(reference, (str, tuple)) and not isinstance(computed, str):
        reference = printed(reference, rule=rule, kilo=kilo)
    if isinstance(reference, Printed):
        gap = computed / reference.value - 1 if reference.value else None
        if computed == reference.value:
            return EXACT, 0.0
        return (
            WITHIN_ROUNDING
            if round_as_printed(computed, reference) == reference.digits
            else DIFFERS
        ), gap
    numeric = (int, float, np.number)
    if (
        isinstance(reference, numeric)
        and isinstance(computed, numeric)
        and not isinstance(reference, bool)
    ):
        gap = computed / reference - 1 if reference else None
        return (EXACT if computed == reference else DIFFERS), gap
    return (EXACT if computed == reference else DIFFERS), None


@dataclass
class Check:
    """A computed number beside a reference figure; the verdict: exact, within rounding, differs."""

    name: str
    computed: Any
    reference: Any
    source: str
    verdict: str
    note: str = ""
    shown: str = ""  # the reference as the source prints it ("138M"), for the text report
    fmt: Callable[[Any], str] = field(
        default=lambda x: fmt_number(x), repr=False
    )  # how to print computed
    rule: str = ""  # the rounding rule that reproduces the printed figure ("nearest 1M"), if any
    gap: float | None = None  # computed / reference - 1

    @property
    def agrees(self) -> bool:
        """True iff the verdict is not "differs"."""
        return self.verdict != DIFFERS

    def label(self) -> str:
        """The verdict as the text report prints it: ``exact``, ``within rounding``, ``DIFFERS``."""
        return "DIFFERS" if self.verdict == DIFFERS else self.verdict

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "computed": _plain(self.computed),
            "reference": _plain(
                self.reference.value if isinstance(self.reference, Printed) else self.reference
            ),
            "shown": self.shown,
            "source": self.source,
            "verdict": self.verdict,
            "agrees": self.agrees,
            "rule": self.rule,
            "gap": self.gap,
            "note": self.note,
        }


class Report:
    """A lesson's output, built in reading order: paragraphs, tables, checks and exercises."""

    def __init__(self, name: str, title: str) -> None:
        self.name = name
        self.title = title
        self.blocks: list[Any] = []  # str (a paragraph), Table, or list[Check]
        self.checks: list[Check] = []
        self.exercises: list[dict[str, Any]] = []
        self.data: dict[str, Any] = {}  # extra numbers for --json and the plot
        self.result: Any = None  # the RunResult, set by finish()

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

    def exercise(self, question: str, answer: Any) -> None:
        """An exercise for the end: the question is printed, the answer is in ``--json`` only."""
        self.exercises.append({"question": question, "answer": _plain(answer)})

    def check(
        self,
        name: str,
        computed: Any,
        reference: Any,
        source: str,
        *,
        shown: str = "",
        rule: str = "nearest",
        kilo: int = 1000,
        significant: int | None = None,
        why: str = "",
        note: str = "",
        agrees: bool | None = None,
        quiet: bool = False,
        fmt: Callable[[Any], str] | None = None,
    ) -> Check:
        """Compare ``computed`` with ``reference`` and record the verdict (see :func:`verdict`).

        ``reference`` is a number (matched exactly) or the figure as the source prints it
        (``"138M"``, ``(7.6, 1)``): the computed value, rounded the same way, must reproduce it
        (``rule`` "nearest" or "floor"; ``kilo`` 1000 or 1024 for "K"; ``significant`` figures where
        the source rounds so). ``agrees`` gives the verdict of a statement that is not an equality
        ("more than half"): exact when it holds. ``why`` explains a disagreement and is kept only
        then; ``note`` is kept always. A ``quiet`` check goes to ``--json`` only (a table already
        shows it). ``fmt`` prints the computed value (default: thousands separators).
        """
        rule_text, gap = "", None
        if agrees is not None:
            result = EXACT if agrees else DIFFERS
        elif reference is None:
            result = DIFFERS
        else:
            if isinstance(reference, (str, tuple)) and not isinstance(computed, str):
                reference = printed(reference, rule=rule, kilo=kilo, significant=significant)
            result, gap = verdict(computed, reference)
            if isinstance(reference, Printed):
                shown = shown or reference.text
                rule_text = reference.describe() if result == WITHIN_ROUNDING else ""
        text = " ".join(t for t in (note, "" if result != DIFFERS else why) if t)
        check = Check(
            name,
            computed,
            reference,
            source,
            result,
            text,
            shown or _default_shown(reference),
            fmt or fmt_number,
            rule_text,
            gap,
        )
        self.checks.append(check)
        if not quiet:
            self.show(check)  # consecutive checks print as one block
        return check

    def check_rounded(
        self, name: str, computed: Any, shown: str, source: str, **options: Any
    ) -> Check:
        """A check of a figure whose source rounds to nearest in most places and truncates in some.

        Rounding to nearest is tried first; where only truncation (floor) reproduces the figure, the
        verdict is "within rounding" with the rule floor, and a note says that the source truncates
        here.
        """
        check = self.check(name, computed, shown, source, quiet=True, **options)
        kilo = options.get("kilo", 1000)
        if (
            not check.agrees
            and verdict(computed, printed(shown, rule="floor", kilo=kilo))[0] != DIFFERS
        ):
            self.checks.remove(check)
            check = self.check(name, computed, shown, source, quiet=True, rule="floor", **options)
            check.note = "The source truncates this figure where it rounds others to nearest."
        return check

    def show(self, check: Check) -> None:
        """Print a check recorded with ``quiet=True`` after all (e.g. a disagreeing table row)."""
        if self.blocks and isinstance(self.blocks[-1], list):
            self.blocks[-1].append(check)
        else:
            self.blocks.append([check])

    # -- output

    def render(self) -> str:
        out = [self.title + "\n" + "=" * display_width(self.title)]
        for block in self.blocks:
            if isinstance(block, str):
                out.append(wrap(block))
            elif isinstance(block, Table):
                out.append(block.render())
            else:
                out.append(_render_checks(block))
        shown = {id(c) for block in self.blocks if isinstance(block, list) for c in block}
        unexplained = [c for c in self.checks if not c.agrees and id(c) not in shown]
        if unexplained:  # a safety net: every disagreement is printed with its reason
            out.append(_render_checks(unexplained))
        counts = {
            v: sum(c.verdict == v for c in self.checks) for v in (EXACT, WITHIN_ROUNDING, DIFFERS)
        }
        out.append(
            wrap(
                f"In all, {len(self.checks)} check{'' if len(self.checks) == 1 else 's'} (a table "
                f"counts one per number): {counts[EXACT]} exact, {counts[WITHIN_ROUNDING]} within "
                f"rounding, {counts[DIFFERS]} differ, each explained above."
            )
        )
        if self.exercises:
            lines = ['Exercises (answers: run with --json, under "exercises"):']
            lines += [
                wrap(f"{i}. {e['question']}", "  ", "     ")
                for i, e in enumerate(self.exercises, 1)
            ]
            out.append("\n".join(lines))
        return fit("\n\n".join(out))

    def as_dict(self) -> dict[str, Any]:
        tables = [b for b in self.blocks if isinstance(b, Table)]
        return {
            "lesson": self.name,
            "title": self.title,
            "rows": {t.key: [_plain_row(r) for r in [*t.rows, *t.totals]] for t in tables},
            "checks": [c.as_dict() for c in self.checks],
            "verdicts": {
                v: sum(c.verdict == v for c in self.checks)
                for v in (EXACT, WITHIN_ROUNDING, DIFFERS)
            },
            "exercises": self.exercises,
            "data": {k: _plain(v) for k, v in self.data.items()},
        }


def _render_checks(checks: list[Check]) -> str:
    """One entry per check: verdict, computed vs reference (rule or gap); source, note under it."""
    width = max(len(c.label()) for c in checks)
    lines = ["Checks (computed here vs the reference):"]
    for c in checks:
        if c.verdict == WITHIN_ROUNDING:
            detail = f" ({c.rule})"
        elif c.verdict == DIFFERS and c.gap is not None:
            detail = f" (off by {100 * c.gap:+.{_gap_digits(c.gap)}f}%)"
        else:
            detail = ""
        hang = " " * (width + 4)
        head = f"{c.name}: {c.fmt(c.computed)} vs {c.shown}{detail}"
        lines.append(wrap(head, f"  {c.label():<{width}}  ", hang))
        lines.append(wrap(f"source: {c.source}", hang, hang + "  "))
        if c.note:
            lines.append(wrap(c.note, hang, hang))
    return "\n".join(lines)


def _gap_digits(gap: float) -> int:
    """Enough decimals to show a small relative gap as non-zero (0.04%, not 0.0%)."""
    return (
        1 if abs(gap) >= 0.001 or gap == 0 else min(6, 1 - math.floor(math.log10(abs(100 * gap))))
    )


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


# ---------------------------------------------------------------------------- terminal width


def wrap(text: str, indent: str = "", hang: str | None = None, width: int = WIDTH) -> str:
    """Fill each line of ``text`` to ``width`` terminal columns (by display width, not characters).

    A line that starts with spaces keeps them and its continuation lines are indented two more, so
    lists stay readable; ``indent`` goes before every line, ``hang`` (default: ``indent``) before
    the continuation lines of a paragraph. A word wider than the line is cut.
    """
    out = []
    for line in text.split("\n"):
        if line.startswith(" ") and display_width(indent + line) <= width:
            out.append(
                indent + line
            )  # a preformatted line that fits keeps its spacing (aligned columns)
            continue
        lead = indent + line[: len(line) - len(line.lstrip())]
        cont = (hang if hang is not None else indent) + line[: len(line) - len(line.lstrip())]
        cont += "  " if line.startswith(" ") else ""
        out.extend(_fill(line.split(), lead, cont, width))
    return "\n".join(out)


def _fill(words: list[str], lead: str, cont: str, width: int) -> list[str]:
    """Greedy line filling by display width."""
    lines, current, used = [], lead, display_width(lead)
    fresh = True  # nothing but the indent on the current line yet
    for word in words:
        w = display_width(word)
        if not fresh and used + 1 + w > width:
            lines.append(current)
            current, used, fresh = cont, display_width(cont), True
        while used + w > width and w > 1:  # a word wider than the line: cut it
            room = width - used
            piece, piece_w = "", 0
            for ch in word:
                if piece_w + display_width(ch) > room:
                    break
                piece, piece_w = piece + ch, piece_w + display_width(ch)
            if not piece:
                break
            lines.append(current + ("" if fresh else " ") + piece)
            word, w = word[len(piece) :], w - piece_w
            current, used, fresh = cont, display_width(cont), True
        current += ("" if fresh else " ") + word
        used += (0 if fresh else 1) + w
        fresh = False
    lines.append(current.rstrip() if words else lead.rstrip())
    return lines


def fit(text: str, width: int = WIDTH) -> str:
    """Every line of ``text`` within ``width`` columns: wider lines are wrapped, hanging by 4."""
    out = []
    for line in text.split("\n"):
        if display_width(line) <= width:
            out.append(line)
        else:
            lead = line[: len(line) - len(line.lstrip())]
            out.extend(_fill(line.split(), lead, lead + "    ", width))
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


def lesson_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every lesson takes: ``--json`` and ``--plot PATH``."""
    first_line = (doc or "").strip().splitlines()[0] if doc else None
    parser = argparse.ArgumentParser(description=first_line)
    parser.add_argument(
        "--json", action="store_true", help="print rows and checks as JSON instead of text"
    )
    parser.add_argument(
        "--plot", metavar="PATH", help="also save the lesson's figure to PATH (PNG, SVG, PDF)"
    )
    return parser


def parse_args(argv: Sequence[str] | None, doc: str | None) -> argparse.Namespace:
    """Parse ``argv`` (None: no arguments; ``main()`` in a notebook never reads ``sys.argv``)."""
    args = lesson_parser(doc).parse_args([] if argv is None else list(argv))
    args.capture = bool(_CAPTURE)  # run(): keep the figure open and print nothing
    manual_seed(0)  # every lesson is deterministic: same weights, same inputs, same output
    return args


_CAPTURE: list[bool] = []  # non-empty while run_lesson() is running a lesson's main()


def run_lesson(
    main: Callable[[Sequence[str]], Report], doc: str | None, options: dict[str, Any]
) -> RunResult:
    """A lesson's ``run(**options)``: ``main`` with the options as arguments; its RunResult.

    ``run(plot="vgg.png")`` is ``--plot vgg.png``, ``run(json=True)`` is ``--json``. Nothing is
    printed: ``text`` holds what the command line would print, and ``figures`` the lesson's open
    figure.
    """
    known = {a.dest for a in lesson_parser(doc)._actions if a.dest != "help"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"run() got unknown option(s) {unknown}; this lesson takes {sorted(known)}")
    argv: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (None, False):
            argv += [flag, str(value)]
    _CAPTURE.append(True)
    try:
        report = main(argv)
    finally:
        _CAPTURE.pop()
    return report.result


def finish(
    report: Report, args: argparse.Namespace, plot: Callable[[Any, Report], None] | None = None
) -> Report:
    """Print the report (text or JSON), save the figure for ``--plot``; ``report.result`` keeps all.

    Under ``run()`` nothing is printed and the figure is kept (in ``report.result.figures``); on the
    command line the figure is drawn only for ``--plot PATH`` and saved there.
    """
    capture = getattr(args, "capture", False)
    figures = {}
    if plot is None and args.plot:
        raise SystemExit(f"{report.name} has no figure")
    if plot is not None and (args.plot or capture):
        # A Figure of its own, not one of pyplot's: no backend is chosen, nothing pops up, and a
        # notebook shows it where the result's figure is displayed (not a second time at the end of
        # the cell).
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 5))
        plot(fig, report)
        fig.tight_layout()
        if args.plot:
            fig.savefig(args.plot, dpi=120)
            report.data["plot"] = str(args.plot)
        if capture:
            figures[report.name] = fig
    if args.json:
        text = json.dumps(report.as_dict(), indent=1)
    else:
        text = report.render() + (f"\n\nFigure saved to {args.plot}" if args.plot else "")
    if not capture:
        sys.stdout.write(text + "\n")
    report.result = RunResult(numbers=report.as_dict(), figures=figures, text=text)
    return report


def pyplot() -> Any:
    """Matplotlib's pyplot on the file-only Agg backend, imported when a figure is asked for."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
