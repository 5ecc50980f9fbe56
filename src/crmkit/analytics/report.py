"""What every report returns: typed rows that serialise to JSON and to plain rows.

A report is a frozen attrs class whose ``rows`` field holds frozen attrs row
objects, plus any totals it has as further fields. `to_json` writes it with
crmkit's strict converter (decimals as strings, instants in ISO 8601), and
`to_rows` flattens its rows into dictionaries for a table, a CSV writer or a
chart. Ratios and amounts are `Decimal`, never float.

"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter

Cell: TypeAlias = str | int | bool | Decimal | date | datetime | Money | None
"""One value in a report row."""

_CONVERTER = make_converter()


def _rows_of(report: object) -> tuple[Any, ...]:
    rows = getattr(report, "rows", None) if attrs.has(type(report)) else None
    if not isinstance(rows, tuple):
        raise ValidationError("report", "must be an attrs report with a tuple of rows", report)
    return rows


def to_rows(report: object) -> list[dict[str, Cell]]:
    """The report's rows as dictionaries, one key per row field, in field order."""
    out: list[dict[str, Cell]] = []
    for row in _rows_of(report):
        out.append({field.name: getattr(row, field.name) for field in attrs.fields(type(row))})
    return out


def to_json(report: object) -> str:
    """The whole report (rows and totals) as compact JSON."""
    _rows_of(report)
    return dumps(_CONVERTER.unstructure(report))
