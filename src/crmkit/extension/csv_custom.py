"""Custom fields in CSV files: ``custom.<name>`` cells read as typed values and written back.

A cell holds a value in the text form of its field's type; `custom_cells`
writes that form and `custom_values` reads it, so export then import gives
equal values:

| type | cell |
| --- | --- |
| text, choice | the text |
| integer, decimal | ``42``, ``1200.50`` (a point before the decimals) |
| boolean | ``true`` or ``false`` (``yes``, ``no``, ``1`` and ``0`` are read too) |
| date | ``2026-03-02`` |
| datetime | ``2026-03-02T14:30:00+00:00`` (an offset is required) |
| money | ``12000.00 EUR`` |
| multi_choice | choices separated by ``;`` |

>>> from crmkit.extension.custom_fields import CustomFields, FieldSpec
>>> fields = CustomFields([FieldSpec("contact", "tier", "choice", choices=("a", "b")),
...                        FieldSpec("contact", "vip", "boolean")])
>>> custom_values(fields, "contact", 2, {"tier": "a", "vip": "yes"})
{'tier': 'a', 'vip': True}
>>> custom_values(fields, "contact", 2, {"tier": "c"})[0].rule
"contact field must be one of 'a', 'b'"
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from crmkit.extension._csv_cells import join_list, split_list
from crmkit.extension.csv_format import RowError
from crmkit.extension.custom_fields import CustomFields, FieldSpec, FieldType
from crmkit.kernel.custom import CustomValue
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money

__all__ = ["custom_cells", "custom_values"]

_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})


def custom_values(
    fields: CustomFields, kind: str, row: int, cells: Mapping[str, str]
) -> dict[str, CustomValue] | list[RowError]:
    """The custom values of one row of ``kind``, validated (defaults filled in), or its errors.

    Each error names the row, the column ``custom.<name>`` and the rule; the
    cell is shown unless the field is text (which may hold personal data).
    """
    given: dict[str, object] = {}
    errors: list[RowError] = []
    for name, cell in cells.items():
        column = f"custom.{name}"
        try:
            spec = fields.spec(kind, name)
            given[name] = _parse(spec, cell.strip())
        except ValidationError as exc:
            shown = None if exc.personal else cell
            errors.append(RowError(row, column, shown, exc.rule))
    if errors:
        return errors
    try:
        return fields.validate(kind, given)
    except ValidationError as exc:
        name = exc.field.removeprefix("custom.").split("[")[0]
        shown = None if exc.personal else cells.get(name)
        return [RowError(row, f"custom.{name}", shown, exc.rule)]


def _parse(spec: FieldSpec, text: str) -> object:
    """The typed input of a cell; the spec's own rules are checked by `validate` after."""
    kind = spec.type
    try:
        if kind is FieldType.INTEGER:
            return int(text)
        if kind is FieldType.DECIMAL:
            return Decimal(text)
        if kind is FieldType.BOOLEAN:
            folded = text.casefold()
            if folded in _TRUE or folded in _FALSE:
                return folded in _TRUE
            raise ValueError
        if kind is FieldType.DATE:
            return date.fromisoformat(text) if len(text) == 10 else _no_date()
        if kind is FieldType.DATETIME:
            return datetime.fromisoformat(text)
        if kind is FieldType.MONEY:
            amount, _, currency = text.rpartition(" ")
            return Money.of(amount.strip(), currency)
    except (ValueError, ArithmeticError):
        raise ValidationError(spec.field, f"{spec.kind} field must be {_FORMS[kind]}") from None
    if kind is FieldType.MULTI_CHOICE:
        return split_list(text)
    return text


def _no_date() -> date:
    raise ValueError


_FORMS: Final = {
    FieldType.INTEGER: "a whole number",
    FieldType.DECIMAL: "a decimal number such as 1200.50",
    FieldType.BOOLEAN: "true or false",
    FieldType.DATE: "an ISO date, YYYY-MM-DD",
    FieldType.DATETIME: "an ISO date and time",
    FieldType.MONEY: "an amount and a currency, such as 12.50 EUR",
}


def custom_cells(values: Mapping[str, CustomValue]) -> dict[str, str]:
    """The cells of a record's custom values, by field name (`custom_values` reads them)."""
    cells: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            cells[name] = "true" if value else "false"
        elif isinstance(value, Money):
            cells[name] = f"{value.amount} {value.currency}"
        elif isinstance(value, tuple):
            cells[name] = join_list(value)
        elif isinstance(value, date):  # datetimes too
            cells[name] = value.isoformat()
        else:
            cells[name] = str(value)
    return cells
