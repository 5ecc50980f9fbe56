"""The ``custom`` values that hosts add to aggregates, and the event that changes them.

Every customisable aggregate (contacts, accounts, leads, opportunities,
complaints, service cases and activities) holds a `CustomValues` mapping. The
kernel knows nothing of the host's specs (`crmkit.extension.custom_fields`
validates against them); it only keeps the values, immutable and hashable, and
stores them in a self-describing JSON form, so that the converter and every
store read them back unchanged whatever the specs say today:

| value | JSON |
| --- | --- |
| text, choice | a string |
| integer | an integer |
| boolean | ``true`` or ``false`` |
| multiple choices | a list of strings |
| decimal | ``{"decimal": "12.50"}`` |
| date | ``{"date": "2024-02-29"}`` |
| datetime | ``{"datetime": "2024-02-29T09:30:00+00:00"}`` |
| money | ``{"amount": "12.50", "currency": "EUR"}`` |

>>> from decimal import Decimal
>>> values = CustomValues({"tier": "gold", "budget": Decimal("1200.50")})
>>> to_json(values)
{'budget': {'decimal': '1200.50'}, 'tier': 'gold'}
>>> from_json(to_json(values)) == values
True
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol, Self, TypeAlias, TypeVar

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent, Stamp
from crmkit.kernel.money import Money
from crmkit.kernel.time import require_aware

__all__ = [
    "CustomValue",
    "CustomValues",
    "CustomValuesChanged",
    "from_json",
    "to_json",
    "with_custom",
]

CustomValue: TypeAlias = str | int | Decimal | bool | date | datetime | Money | tuple[str, ...]
"""A custom field value (a multiple choice is a sorted tuple of choices)."""

_TAGS = ("decimal", "date", "datetime")


class CustomValues(Mapping[str, CustomValue]):
    """An immutable, hashable mapping of custom field names to values, kept in name order.

    >>> CustomValues({"b": 2, "a": 1})
    CustomValues({'a': 1, 'b': 2})
    >>> CustomValues({"a": 1.5})
    Traceback (most recent call last):
    ...
    crmkit.kernel.errors.ValidationError: custom.a: must be text, an integer, a decimal, ...
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, CustomValue] | None = None) -> None:
        if values is None or values == {}:  # the common case, kept cheap for every read
            self._values: dict[str, CustomValue] = {}
            return
        if not isinstance(values, Mapping):
            raise ValidationError("custom", "must be a mapping of field names to values", values)
        for name, value in values.items():
            if not isinstance(name, str):
                raise ValidationError("custom", "field names must be strings", name)
            _check(name, value)
        self._values = dict(sorted(values.items()))

    def __getitem__(self, name: str) -> CustomValue:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CustomValues):
            return self._values == other._values
        return NotImplemented

    def __repr__(self) -> str:
        return f"CustomValues({self._values!r})"


_EMPTY = CustomValues()


def _check(name: str, value: object) -> None:
    if isinstance(value, str | int | Decimal | date | Money):  # bool is an int; datetime a date
        if isinstance(value, datetime):
            require_aware(value, f"custom.{name}")
        return
    if isinstance(value, tuple) and all(isinstance(item, str) for item in value):
        return
    raise ValidationError(
        f"custom.{name}",
        "must be text, an integer, a decimal, a boolean, a date, an aware datetime, Money"
        " or a tuple of choices",
        value,
        personal=True,
    )


def to_json(values: CustomValues) -> dict[str, Any]:
    """The self-describing JSON form of ``values`` (see the module's table)."""
    result: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, bool | int | str):
            result[name] = value
        elif isinstance(value, Decimal):
            result[name] = {"decimal": str(value)}
        elif isinstance(value, datetime):
            result[name] = {"datetime": value.isoformat()}
        elif isinstance(value, date):
            result[name] = {"date": value.isoformat()}
        elif isinstance(value, Money):
            result[name] = {"amount": str(value.amount), "currency": value.currency}
        else:
            result[name] = list(value)
    return result


def from_json(data: object) -> CustomValues:
    """`CustomValues` read strictly from `to_json`'s form; `ValidationError` naming the field."""
    if data == {}:
        return _EMPTY
    if not isinstance(data, dict):
        raise ValidationError("custom", "must be an object", data)
    return CustomValues({name: _value(name, item) for name, item in data.items()})


def _value(name: str, item: object) -> CustomValue:
    field = f"custom.{name}"
    if isinstance(item, str | bool | int):
        return item
    if isinstance(item, list):
        if not all(isinstance(choice, str) for choice in item):
            raise ValidationError(field, "must be a list of strings", personal=True)
        return tuple(item)
    if isinstance(item, dict):
        if set(item) == {"amount", "currency"}:
            return Money(_decimal(field, item["amount"]), item["currency"])
        if len(item) == 1:
            ((tag, text),) = item.items()
            if tag in _TAGS and isinstance(text, str):
                return _tagged(field, tag, text)
    raise ValidationError(
        field, "must be a string, integer, boolean, list or tagged object", personal=True
    )


def _tagged(field: str, tag: str, text: str) -> CustomValue:
    if tag == "decimal":
        return _decimal(field, text)
    try:
        if tag == "date":
            if len(text) == 10:
                return date.fromisoformat(text)
        else:
            return require_aware(datetime.fromisoformat(text), field)
    except ValueError:
        pass
    raise ValidationError(field, f"must be an ISO 8601 {tag}", text)


def _decimal(field: str, text: object) -> Decimal:
    try:
        number = Decimal(text) if isinstance(text, str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValidationError(field, "must be a finite decimal string", text)
    return number


@attrs.frozen(kw_only=True)
class CustomValuesChanged(DomainEvent):
    """A record's custom values were set; the event holds all of them, as they now are.

    Attributes:
        kind: The record's kind, for example ``lead``.
        values: Every custom value of the record after the change.
    """

    event_type: ClassVar[str] = "custom_values_changed"
    kind: str
    values: CustomValues = attrs.field(metadata=PERSONAL, repr=False)

    def stream_kind(self) -> str:
        """The kind of the record that changed."""
        return self.kind

    def summary(self) -> str:
        """Timeline line (names the fields, never their values)."""
        return "custom fields set: " + (", ".join(self.values) or "none")


class _Customisable(Protocol):
    id: str
    version: int
    custom: CustomValues

    def _evolve(self, **changes: Any) -> Self: ...


R = TypeVar("R", bound=_Customisable)


def with_custom(
    record: R, kind: str, values: CustomValues, stamp: Stamp
) -> tuple[R, CustomValuesChanged]:
    """``record`` holding ``values`` (already validated against the host's specs), and the event.

    Records with an ``updated_at`` field have it moved to the stamp's time.
    """
    event = CustomValuesChanged(
        aggregate_id=record.id,
        version=record.version + 1,
        occurred_at=stamp.at,
        actor=stamp.actor,
        kind=kind,
        values=values,
    )
    return apply_custom(record, event), event


def apply_custom(record: R, event: CustomValuesChanged) -> R:
    """``record`` after ``event`` (replay uses it for every kind alike)."""
    if hasattr(record, "updated_at"):
        return record._evolve(
            custom=event.values, version=event.version, updated_at=event.occurred_at
        )
    return record._evolve(custom=event.values, version=event.version)
