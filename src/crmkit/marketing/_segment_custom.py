"""Segment criteria on a contact's custom values: `CustomIs` and `CustomBetween`.

`crmkit.marketing.segment` re-exports every public name here; import them from there.

A criterion names a custom field of contacts and holds values of its type.
Built alone, it only checks that the values are ones a custom field can hold;
`bind` then checks it against the host's `CustomFields` (unknown field, wrong
value type, a range on a field that does not order) and puts its values in the
field's normal form, so that Python and the store compare the same values.
`conditions` gives the storage conditions of a bound criterion on an indexed
field, in the encodings of `CustomFields.index_values`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Final, TypeAlias

import attrs

from crmkit.extension.custom_fields import CustomFields, FieldSpec, FieldType
from crmkit.kernel.custom import CustomValue, CustomValues, from_json, to_json
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.kernel.time import require_aware
from crmkit.ports.query import Condition, Eq, In, Range
from crmkit.ports.storage import IndexScalar

CUSTOM_KIND: Final = "contact"
"""The kind whose custom fields segment criteria read (profiles mirror contacts)."""

CustomScalar: TypeAlias = str | int | bool | Decimal | date | datetime | Money
"""One value a custom criterion compares with (never a tuple: name choices one by one)."""

RANGE_TYPES: Final = frozenset(
    {FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE, FieldType.DATETIME, FieldType.MONEY}
)
"""The field types `CustomBetween` accepts."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _field(value: object) -> str:
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise ValidationError("field", "must be a custom field name [a-z][a-z0-9_]{0,39}", value)
    return value


def _scalar(value: object, field: str) -> CustomScalar:
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError(field, "must be a finite decimal", value)
    if isinstance(value, datetime):
        return require_aware(value, field)
    if isinstance(value, str | int | Decimal | date | Money):  # bool is an int
        return value
    raise ValidationError(
        field,
        "must be text, an integer, a boolean, a Decimal, a date, an aware datetime or Money",
        value,
        personal=True,
    )


def _values(value: object) -> tuple[CustomScalar, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise ValidationError("values", "must be a list or tuple", value)
    if not value:
        raise ValidationError("values", "must name at least one value", value)
    return tuple(_scalar(item, f"values[{i}]") for i, item in enumerate(value))


def _bound(name: str, value: object) -> CustomScalar | None:
    if value is None:
        return None
    if isinstance(value, bool | str):
        raise ValidationError(
            name, "must be an integer, a Decimal, a date, a datetime or Money", value
        )
    return _scalar(value, name)


def _gte(value: object) -> CustomScalar | None:
    return _bound("gte", value)


def _lt(value: object) -> CustomScalar | None:
    return _bound("lt", value)


def _family(value: object) -> str:
    """The class of values that compare with each other (numbers, dates, instants, a currency)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | Decimal):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, Money):
        return f"money:{value.currency}"
    return type(value).__name__


@attrs.frozen
class CustomIs:
    """The contact's custom field ``field`` holds one of ``values``.

    Text and choices match exactly (case-sensitively); a ``multi_choice`` field
    matches when it holds any of ``values``; money matches amount and currency.
    A contact without a value never matches.

    Attributes:
        field: The name of a custom field of contacts.
        values: The values to match, of the field's type.
    """

    field: str = attrs.field(converter=_field)
    values: tuple[CustomScalar, ...] = attrs.field(converter=_values)


@attrs.frozen
class CustomBetween:
    """The contact's custom field ``field`` lies in ``[gte, lt)``.

    For integer, decimal, date, datetime and money fields; money compares only
    within ``gte``'s and ``lt``'s currency (another currency never matches). A
    contact without a value never matches.

    Attributes:
        field: The name of a custom field of contacts.
        gte: Inclusive lower bound, or None.
        lt: Exclusive upper bound, or None.
    """

    field: str = attrs.field(converter=_field)
    gte: CustomScalar | None = attrs.field(default=None, converter=_gte)
    lt: CustomScalar | None = attrs.field(default=None, converter=_lt)

    def __attrs_post_init__(self) -> None:
        if self.gte is None and self.lt is None:
            raise ValidationError("gte", "or lt must be given")
        both = self.gte is not None and self.lt is not None
        if both and _family(self.gte) != _family(self.lt):
            raise ValidationError("lt", "must be of the type (and currency) of gte", self.lt)


CustomCriterion: TypeAlias = CustomIs | CustomBetween
"""A criterion on custom values."""


def _same(a: CustomValue, b: CustomScalar) -> bool:
    return _family(a) == _family(b) and a == b


def _within(value: CustomValue, bound: CustomScalar | None, lower: bool) -> bool:
    if bound is None:
        return True
    if _family(value) != _family(bound) or _family(value) in ("bool", "str", "tuple"):
        return False
    return bool(value >= bound) if lower else bool(value < bound)  # type: ignore[operator]


def custom_matches(criterion: CustomCriterion, custom: CustomValues) -> bool:
    """Whether a contact holding ``custom`` satisfies ``criterion``."""
    value = custom.get(criterion.field)
    if value is None:
        return False
    if isinstance(criterion, CustomIs):
        held = value if isinstance(value, tuple) else (value,)
        return any(_same(item, wanted) for item in held for wanted in criterion.values)
    return _within(value, criterion.gte, True) and _within(value, criterion.lt, False)


def _normal(spec: FieldSpec, value: CustomScalar, path: str) -> CustomScalar:
    if spec.type is FieldType.MULTI_CHOICE:  # a criterion names the choices one by one
        if not isinstance(value, str) or value not in spec.choices:
            allowed = ", ".join(map(repr, spec.choices))
            raise ValidationError(path, f"must be one of {allowed}", value)
        return value
    try:
        normal = spec.normalise(value)
    except ValidationError as exc:
        raise exc.at(path) from None
    assert not isinstance(normal, tuple)  # only multi_choice gives a tuple
    return normal


def bind(criterion: CustomCriterion, fields: CustomFields) -> CustomCriterion:
    """``criterion`` checked against the contact fields of ``fields``, values in normal form.

    Raises `ValidationError` naming ``custom.<name>`` for an unknown field, a
    value its field refuses, or a range on a field that does not order.
    """
    spec = fields.spec(CUSTOM_KIND, criterion.field)
    where = spec.field
    if isinstance(criterion, CustomIs):
        values = tuple(
            _normal(spec, value, f"{where}[{i}]") for i, value in enumerate(criterion.values)
        )
        return CustomIs(criterion.field, tuple(dict.fromkeys(values)))
    if spec.type not in RANGE_TYPES:
        raise ValidationError(
            where, f"is a {spec.type} field: ranges need integer, decimal, date, datetime or money"
        )
    gte = None if criterion.gte is None else _normal(spec, criterion.gte, f"{where}.gte")
    lt = None if criterion.lt is None else _normal(spec, criterion.lt, f"{where}.lt")
    return CustomBetween(criterion.field, gte, lt)


def _index(fields: CustomFields, spec: FieldSpec, value: CustomScalar) -> tuple[IndexScalar, ...]:
    """The index scalars of one value (money: minor units, then the currency)."""
    multi = spec.type is FieldType.MULTI_CHOICE
    given: CustomValue = (str(value),) if multi else value  # bound: a choice is a str
    found = fields.index_values(CUSTOM_KIND, {spec.name: given})
    out = tuple(found[index.name] for index in spec.index_fields())
    if multi:  # a multi-valued index holds one entry per choice: this choice's
        out = out[0]  # type: ignore[assignment]
    assert all(isinstance(item, str | int) for item in out)  # one value: scalars, no None
    return out  # type: ignore[return-value]


def conditions(criterion: CustomCriterion, fields: CustomFields) -> tuple[Condition, ...] | None:
    """The storage conditions of a `bind`-checked criterion, or None if it stays in Python.

    None for a field not indexed (or retired), and for money membership across
    currencies (a pair of index fields cannot say "this amount in that currency").
    """
    spec = fields.spec(CUSTOM_KIND, criterion.field)
    if not spec.indexed or spec.retired:
        return None
    names = [index.name for index in spec.index_fields()]
    if isinstance(criterion, CustomIs):
        encoded = [_index(fields, spec, value) for value in criterion.values]
        first = In(names[0], tuple(e[0] for e in encoded))
        if spec.type is not FieldType.MONEY:
            return (first,)
        currencies = {e[1] for e in encoded}
        return (Eq(names[1], currencies.pop()), first) if len(currencies) == 1 else None
    gte = None if criterion.gte is None else _index(fields, spec, criterion.gte)
    lt = None if criterion.lt is None else _index(fields, spec, criterion.lt)
    bounds = Range(names[0], gte=None if gte is None else gte[0], lt=None if lt is None else lt[0])
    if spec.type is not FieldType.MONEY:
        return (bounds,)
    either = gte if gte is not None else lt
    assert either is not None  # a range has a bound
    return (Eq(names[1], either[1]), bounds)


def value_to_json(value: CustomScalar) -> object:
    """``value`` in the self-describing JSON form of `crmkit.kernel.custom.to_json`."""
    return to_json(CustomValues({"v": value}))["v"]


def value_from_json(data: object, path: str) -> CustomScalar:
    """A value read back from `value_to_json`'s form; `ValidationError` naming ``path``."""
    try:
        value = from_json({"v": data})["v"]
    except ValidationError as exc:
        raise ValidationError(path, exc.rule, exc.value, personal=exc.personal) from None
    if isinstance(value, tuple):
        raise ValidationError(path, "must be one value, not a list", data)
    return value
