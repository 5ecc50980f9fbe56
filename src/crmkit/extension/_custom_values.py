"""Per-type rules of custom field values: normalising, JSON encoding and indexing.

Every helper raises `ValidationError` with a field path relative to the value
(``""`` for the value itself, ``"[2]"`` for an item, ``"amount"`` for part of
money); callers place it under ``custom.<name>`` and add the kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final, TypeAlias

from crmkit.kernel.checks import items
from crmkit.kernel.custom import CustomValue
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.kernel.numbers import decimal_of
from crmkit.kernel.text import LINE_MAX, TEXT_MAX, clean_line, clean_text
from crmkit.kernel.time import require_aware, to_micros
from crmkit.ports.storage import IndexValue

JsonValue: TypeAlias = str | int | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A value as `json` reads and writes it (never a float)."""

DECIMAL_PLACES: Final = 6
"""Most decimal places a custom decimal holds; its index is the value times 10**6, an int."""

_INT64: Final = 2**63
_QUANTUM: Final = Decimal(1).scaleb(-DECIMAL_PLACES)
_TOO_LARGE: Final = "must lie between -9223372036854.775808 and 9223372036854.775807"
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class FieldType(StrEnum):
    """The type of a custom field."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    MONEY = "money"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"


CHOICE_TYPES: Final = frozenset({FieldType.CHOICE, FieldType.MULTI_CHOICE})
"""The field types that take a list of choices."""


def text_limit(max_length: int | None, multiline: bool) -> int:
    """The effective length limit of a text field."""
    if max_length is not None:
        return max_length
    return TEXT_MAX if multiline else LINE_MAX


def normalise(
    type_: FieldType,
    value: object,
    *,
    choices: tuple[str, ...] = (),
    max_length: int | None = None,
    multiline: bool = False,
    personal: bool = True,
) -> CustomValue:
    """The value in its one normal form for ``type_``; `ValidationError` (field ``""``) else."""
    if type_ is FieldType.TEXT:
        clean = clean_text if multiline else clean_line
        limit = text_limit(max_length, multiline)
        return clean(value, "", max_len=limit, personal=personal, allow_empty=False)
    if type_ is FieldType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("", "must be an integer", value)
        if not -_INT64 <= value < _INT64:
            raise ValidationError("", "must fit a signed 64-bit integer", value)
        return value
    if type_ is FieldType.DECIMAL:
        return _decimal(value)
    if type_ is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValidationError("", "must be true or false", value)
        return value
    if type_ is FieldType.DATE:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValidationError("", "must be a date (not a datetime)", value)
        return value
    if type_ is FieldType.DATETIME:
        return _instant(value)
    if type_ is FieldType.MONEY:
        if not isinstance(value, Money):
            raise ValidationError("", "must be Money", value)
        return value
    if type_ is FieldType.CHOICE:
        return _choice(value, choices)
    picked = {_choice(item, choices, f"[{i}]") for i, item in enumerate(items(value, ""))}
    return tuple(sorted(picked))


def _decimal(value: object) -> Decimal:
    number = decimal_of(value, "")
    try:
        exact = number.quantize(_QUANTUM) == number
    except InvalidOperation:  # needs more digits than the context holds: far beyond the limit
        raise ValidationError("", _TOO_LARGE, value) from None
    if not exact:
        raise ValidationError("", f"must have at most {DECIMAL_PLACES} decimal places", value)
    if not -_INT64 <= number.scaleb(DECIMAL_PLACES) < _INT64:
        raise ValidationError("", _TOO_LARGE, value)
    return number


def _instant(value: object) -> datetime:
    instant = require_aware(value, "")
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        raise ValidationError("", "lies outside the years 1 to 9999 in UTC", value) from None


def _choice(value: object, choices: tuple[str, ...], field: str = "") -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationError(field, f"must be one of {', '.join(map(repr, choices))}", value)
    return value


def encode(type_: FieldType, value: CustomValue) -> JsonValue:
    """The JSON form of a normalised value."""
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetimes too: isoformat of UTC gives "+00:00"
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


_JSON_RULES: Final = {
    FieldType.TEXT: (str, "must be a string"),
    FieldType.INTEGER: (int, "must be an integer"),
    FieldType.DECIMAL: (str, "must be a decimal string"),
    FieldType.BOOLEAN: (bool, "must be true or false"),
    FieldType.DATE: (str, "must be an ISO 8601 date (YYYY-MM-DD)"),
    FieldType.DATETIME: (str, "must be an ISO 8601 string with an offset"),
    FieldType.CHOICE: (str, "must be a string"),
    FieldType.MULTI_CHOICE: (list, "must be a list"),
}


def decode(
    type_: FieldType,
    data: object,
    *,
    choices: tuple[str, ...] = (),
    max_length: int | None = None,
    multiline: bool = False,
) -> CustomValue:
    """A normalised value from its JSON form, refusing every other JSON type."""
    if type_ is FieldType.MONEY:
        return _decode_money(data)
    kind, rule = _JSON_RULES[type_]
    if type(data) is not kind:  # exact: a JSON true is no integer, 1 is no bool
        raise ValidationError("", rule, data, personal=type_ is FieldType.TEXT)
    value: object = data
    try:
        if type_ is FieldType.DATE:
            value = date.fromisoformat(str(data)) if _ISO_DATE.fullmatch(str(data)) else None
        elif type_ is FieldType.DATETIME:
            value = datetime.fromisoformat(str(data))
    except ValueError:
        value = None
    if value is None:
        raise ValidationError("", rule, data)
    return normalise(type_, value, choices=choices, max_length=max_length, multiline=multiline)


def _decode_money(data: object) -> Money:
    if not isinstance(data, dict) or set(data) != {"amount", "currency"}:
        raise ValidationError("", "must be an object with amount and currency", data)
    amount, currency = data["amount"], data["currency"]
    if not isinstance(amount, str):
        raise ValidationError("amount", "must be a decimal string", amount)
    if not isinstance(currency, str):
        raise ValidationError("currency", "must be an ISO 4217 code", currency)
    try:
        parsed = Decimal(amount)
    except InvalidOperation:
        raise ValidationError("amount", "must be a decimal string", amount) from None
    if not parsed.is_finite() or amount != amount.strip():
        raise ValidationError("amount", "must be a finite decimal string", amount)
    return Money(parsed, currency)


def index_names(name: str, type_: FieldType) -> tuple[str, ...]:
    """The index field names of custom field ``name``."""
    if type_ is FieldType.MONEY:
        return (f"cf_{name}_minor", f"cf_{name}_currency")
    return (f"cf_{name}",)


def index_of(name: str, type_: FieldType, value: CustomValue | None) -> Mapping[str, IndexValue]:
    """The index values of custom field ``name`` holding ``value`` (None: absent)."""
    if type_ is FieldType.MONEY:
        if not isinstance(value, Money):
            return dict.fromkeys(index_names(name, type_))
        return {f"cf_{name}_minor": value.to_minor(), f"cf_{name}_currency": value.currency}
    return {f"cf_{name}": _scalar(value)}


def _scalar(value: CustomValue | None) -> IndexValue:
    if isinstance(value, Decimal):
        return int(value.scaleb(DECIMAL_PLACES))
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Money):  # pragma: no cover - handled by index_of
        raise AssertionError
    return value
