"""``render_table(columns, rows)``: rows of values -> an aligned text table, within a line width.

The one table renderer behind ``summary(...).table()``, ``receptive_field(...).table()`` and the
lessons' tables. A table is a list of :class:`Column` (which row key it shows, its header, how a
value is written, left or right aligned) and a list of rows (dicts). Two looks:

* ``frame=False`` (the lessons): a rule of dashes under each header, and totals under a rule::

      Layer     Params
      -----  ---------
      conv1      1,792
      -----  ---------
      total  1,792

* ``frame=True`` (``summary``, ``receptive_field``): rules across the whole table, above and under
  the header and at the end, as torchinfo prints.

Widths are terminal columns, not characters (a Hangul syllable takes two), so the lecture's Korean
labels line up too. With ``width``, columns that do not fit go to a second part that repeats the
first column.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Column", "display_width", "render_table"]


@dataclass
class Column:
    """One column of a table: the row key it shows, its header, how to format a value, alignment."""

    key: str
    header: str
    fmt: Callable[[Any], str] = str
    align: str = ">"  # numbers right-aligned, names left-aligned ("<")

    def cell(self, row: dict[str, Any]) -> str:
        """The text of this column in ``row``: empty for a missing value, a string as it is."""
        value = row.get(self.key)
        if value is None:
            return ""
        return value if isinstance(value, str) else self.fmt(value)


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: a wide (W) or fullwidth (F) character takes two."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def pad(text: str, width: int, align: str) -> str:
    """``text`` padded to ``width`` terminal columns (f-string padding counts characters)."""
    room = " " * max(0, width - display_width(text))
    return room + text if align == ">" else text + room


def render_table(
    columns: Sequence[Column],
    rows: Sequence[dict[str, Any]],
    totals: Sequence[dict[str, Any]] = (),
    *,
    indent: str = "  ",
    frame: bool = False,
    rule: str = "-",
    width: int | None = None,
) -> str:
    """The rows (and ``totals``, under a rule) as aligned text; see the module docstring.

    ``indent`` starts every line; ``rule`` is the character of the rules; ``width`` (terminal
    columns) splits a table that is too wide into parts, each repeating the first column.
    """
    cells = [[c.header for c in columns]]
    cells += [[c.cell(row) for c in columns] for row in [*rows, *totals]]
    widths = [max(display_width(line[i]) for line in cells) for i in range(len(columns))]
    parts: list[list[int]] = [[0]]  # column indices of each part; the first column is in every part
    for i in range(1, len(columns)):
        used = len(indent) + sum(widths[j] + 2 for j in parts[-1]) - 2
        if width is not None and used + 2 + widths[i] > width and len(parts[-1]) > 1:
            parts.append([0])
        parts[-1].append(i)

    out = []
    for n, part in enumerate(parts):
        if n:
            out.append(f"{indent}(continued, part {n + 1} of {len(parts)})")

        def line(values: list[str], part: list[int] = part) -> str:
            text = "  ".join(pad(values[i], widths[i], columns[i].align) for i in part)
            return indent + text.rstrip()

        if frame:
            full_rule = indent + rule * (sum(widths[i] for i in part) + 2 * (len(part) - 1))
            head_rule = foot_rule = full_rule
        else:
            head_rule = foot_rule = indent + "  ".join(rule * widths[i] for i in part)
        body = [line(values) for values in cells[1 : 1 + len(rows)]]
        out += [full_rule] if frame else []
        out += [line(cells[0]), head_rule, *body]
        if totals:
            out += [foot_rule] + [line(values) for values in cells[1 + len(rows) :]]
        if frame:
            out.append(full_rule)
    return "\n".join(out)
