"""Plain-text tables of typed reports, for the command line and the demo.

`table` lays out `crmkit.analytics.report.to_rows` as aligned columns:
numbers and money right-aligned, text left-aligned, a missing value as
``–``; columns that are empty in every row (for example ``owner`` in a
pipeline grouped by stage) are left out. `totals` is the one line under it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import attrs

from crmkit.analytics.report import Cell, to_rows
from crmkit.kernel.money import Money

__all__ = ["MISSING", "cell_text", "report_text", "table", "totals"]

MISSING = "–"
"""How a missing value (None) is shown."""


def cell_text(value: object) -> str:
    """One value as table text: money as ``1500.00 EUR``, instants to the minute."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {cell_text(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, tuple):
        return ", ".join(cell_text(v) for v in value) or MISSING
    return str(value)


def _right(value: object) -> bool:
    return isinstance(value, Money | Decimal | int) and not isinstance(value, bool)


def table(rows: Sequence[Mapping[str, Cell]], columns: Sequence[str] | None = None) -> str:
    """``rows`` as an aligned text table with a header; ``(no rows)`` when there are none.

    ``columns`` picks and orders the columns; by default every column with a
    value in at least one row, in row order.
    """
    if not rows:
        return "(no rows)"
    if columns is None:
        columns = [name for name in rows[0] if any(row.get(name) is not None for row in rows)]
    texts = [[cell_text(row.get(name)) for name in columns] for row in rows]
    right = [any(_right(row.get(name)) for row in rows) for name in columns]
    heads = [name.replace("_", " ") for name in columns]
    widths = [max(len(heads[i]), *(len(line[i]) for line in texts)) for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        parts = (
            cell.rjust(width) if flush else cell.ljust(width)
            for cell, width, flush in zip(cells, widths, right, strict=True)
        )
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(heads), rule, *(line(cells) for cells in texts)])


# Report fields that describe how it was made rather than what it counts.
_SETTINGS = frozenset(
    {"rows", "by", "period", "currency", "on", "as_of", "model", "now", "custom_field"}
)


def totals(report: object) -> str:
    """The report's totals (its fields other than rows and settings) as one line."""
    kind: Any = type(report)
    if not attrs.has(kind):
        return ""
    parts = [
        f"{field.name.replace('_', ' ')} {cell_text(getattr(report, field.name))}"
        for field in attrs.fields(kind)
        if field.name not in _SETTINGS
    ]
    return "total: " + "; ".join(parts) if parts else ""


def report_text(report: object, columns: Sequence[str] | None = None) -> str:
    """A report as its table followed by its totals line."""
    lines = [table(to_rows(report), columns)]
    summary = totals(report)
    if summary:
        lines.append(summary)
    return "\n".join(lines)
