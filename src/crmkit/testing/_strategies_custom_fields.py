"""Hypothesis strategies for custom field specs and their values, valid and invalid.

Field names are drawn without underscores, so that no two fields of a kind
give the same index field name (money's ``cf_x_minor`` against a field
``x_minor``).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from crmkit.extension._custom_values import text_limit
from crmkit.extension.custom_fields import (
    DECIMAL_PLACES,
    CustomFields,
    CustomValue,
    FieldSpec,
    FieldType,
)
from crmkit.kernel.money import Money

CUSTOM_KINDS: Final = ("lead", "contact")
"""The kinds that `custom_fields` declares fields for."""

CURRENCIES: Final = ("EUR", "JPY", "KWD", "USD")
"""Currencies of drawn money: 2, 0, 3 and 2 decimal places."""

_ZONES: Final = (UTC, ZoneInfo("Europe/Berlin"), timezone(timedelta(hours=-5, minutes=-30)))
_CHOICES: Final = ("red", "green", "blue", "Äpfel", "zz top", "a", "B")
_DECIMAL_BOUND: Final = 2**63 - 1


def field_names() -> st.SearchStrategy[str]:
    """Field names: a lower-case letter and up to three letters or digits."""
    return st.from_regex(r"[a-z][a-z0-9]{0,3}", fullmatch=True)


def _lines(max_size: int, multiline: bool) -> st.SearchStrategy[str]:
    extra = "\n\t" if multiline else ""
    chars = st.characters(
        codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs"), include_characters=extra
    )
    return st.text(chars, min_size=1, max_size=max_size).filter(
        lambda text: 0 < len(unicodedata.normalize("NFC", text.strip())) <= max_size
    )


def custom_values(spec: FieldSpec) -> st.SearchStrategy[object]:
    """Valid input values for ``spec`` (not always in normal form: ``validate`` normalises)."""
    kind = spec.type
    if kind is FieldType.TEXT:
        limit = spec.max_length if spec.max_length is not None else 40
        return _lines(min(limit, 40), spec.multiline)
    if kind is FieldType.INTEGER:
        return st.integers(-(2**63), 2**63 - 1)
    if kind is FieldType.DECIMAL:
        scaled = st.builds(
            lambda units, places: Decimal(units).scaleb(-places),
            st.integers(-_DECIMAL_BOUND, _DECIMAL_BOUND),
            st.integers(0, DECIMAL_PLACES),
        ).filter(lambda d: abs(d.scaleb(DECIMAL_PLACES)) <= _DECIMAL_BOUND)
        return st.one_of(scaled, scaled.map(str), st.integers(-(10**12), 10**12))
    if kind is FieldType.BOOLEAN:
        return st.booleans()
    if kind is FieldType.DATE:
        return st.dates()
    if kind is FieldType.DATETIME:
        return st.datetimes(
            min_value=datetime(1900, 1, 1),
            max_value=datetime(2200, 1, 1),
            timezones=st.sampled_from(_ZONES),
        )
    if kind is FieldType.MONEY:
        return st.builds(
            Money.from_minor, st.integers(-(10**15), 10**15), st.sampled_from(CURRENCIES)
        )
    if kind is FieldType.CHOICE:
        return st.sampled_from(spec.choices)
    return st.lists(st.sampled_from(spec.choices), max_size=5).map(tuple)


def invalid_custom_values(spec: FieldSpec) -> st.SearchStrategy[object]:
    """Values that break ``spec``'s rules (wrong type, out of range, not a choice ...)."""
    kind = spec.type
    common = st.sampled_from([1.5, object(), b"bytes"])
    if kind is FieldType.TEXT:
        limit = text_limit(spec.max_length, spec.multiline)
        return st.one_of(
            common,
            st.integers(),
            st.just("x" * (limit + 1)),
            st.sampled_from(["a\x00b", "\ud800", " \u3000 ", "", "x\x7f"]),
        )
    if kind is FieldType.INTEGER:
        return st.one_of(common, st.booleans(), st.just("1"), st.just(2**63), st.just(-(2**63) - 1))
    if kind is FieldType.DECIMAL:
        return st.one_of(
            common,
            st.booleans(),
            st.sampled_from(["1.0000001", "NaN", "abc", "1E+20", "-Infinity"]),
            st.just(Decimal("1e-7")),
            st.just(Decimal(2**63)),
        )
    if kind is FieldType.BOOLEAN:
        return st.one_of(common, st.sampled_from([0, 1, "true"]))
    if kind is FieldType.DATE:
        return st.one_of(common, st.just(datetime(2026, 1, 1, tzinfo=UTC)), st.just("2026-01-01"))
    if kind is FieldType.DATETIME:
        return st.one_of(common, st.just(datetime(2026, 1, 1)), st.just(date(2026, 1, 1)))
    if kind is FieldType.MONEY:
        return st.one_of(common, st.just(Decimal(1)), st.just({"amount": "1", "currency": "EUR"}))
    outside = st.text(max_size=5).filter(lambda text: text not in spec.choices)
    if kind is FieldType.CHOICE:
        return st.one_of(common, st.integers(), outside)
    return st.one_of(common, st.just("red"), outside.map(lambda text: (text,)))


@st.composite
def field_specs(draw: st.DrawFn, kind: str = "lead", name: str | None = None) -> FieldSpec:
    """A random valid spec of ``kind``, sometimes with a default, indexed or retired."""
    type_ = draw(st.sampled_from(list(FieldType)))
    choices: tuple[str, ...] = ()
    if type_ in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
        choices = tuple(draw(st.lists(st.sampled_from(_CHOICES), min_size=1, unique=True)))
    max_length = None
    multiline = False
    if type_ is FieldType.TEXT:
        max_length = draw(st.none() | st.integers(1, 60))
        multiline = draw(st.booleans())
    spec = FieldSpec(
        kind,
        name if name is not None else draw(field_names()),
        type_,
        required=draw(st.booleans()),
        choices=choices,
        indexed=draw(st.booleans()),
        retired=draw(st.integers(0, 4)) == 0,
        max_length=max_length,
        multiline=multiline,
    )
    if draw(st.integers(0, 3)) == 0:
        default = draw(custom_values(spec))
        if default != ():
            spec = FieldSpec(
                kind,
                spec.name,
                type_,
                required=spec.required,
                choices=choices,
                default=default,  # type: ignore[arg-type]
                indexed=spec.indexed,
                retired=spec.retired,
                max_length=max_length,
                multiline=multiline,
            )
    return spec


@st.composite
def custom_fields(draw: st.DrawFn, max_fields: int = 6) -> CustomFields:
    """Host declarations of up to ``max_fields`` fields for each of `CUSTOM_KINDS`."""
    specs: list[FieldSpec] = []
    for kind in CUSTOM_KINDS:
        names = draw(st.lists(field_names(), max_size=max_fields, unique=True))
        specs.extend(draw(field_specs(kind, name)) for name in names)
    return CustomFields(specs)


@st.composite
def record_values(draw: st.DrawFn, fields: CustomFields, kind: str) -> dict[str, object]:
    """Input values of ``kind`` that `CustomFields.validate` accepts: every live field
    that is required without a default gets a value, others sometimes do."""
    values: dict[str, object] = {}
    for spec in fields.for_kind(kind):
        if spec.retired:
            continue
        must = spec.required and spec.default is None
        if must or draw(st.booleans()):
            source = custom_values(spec)
            if must and spec.type is FieldType.MULTI_CHOICE:
                source = source.filter(bool)
            values[spec.name] = draw(source)
    return values


def normal_values(spec: FieldSpec) -> st.SearchStrategy[CustomValue]:
    """Valid values of ``spec`` in normal form (as `CustomFields.validate` returns them)."""
    return custom_values(spec).map(spec.normalise)
