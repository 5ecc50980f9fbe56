"""JSON-ready data for segment criteria: a ``type`` discriminator plus the fields, read strictly.

Each criterion is an object ``{"type": "<name>", <field>: <value>, ...}``:
tuples travel as lists, `Decimal` as a decimal string, `Money` as
``{"amount": "<decimal>", "currency": "<ISO 4217>"}``, nested criteria as objects.
The values of custom criteria take the self-describing form of
`crmkit.kernel.custom.to_json` (``{"decimal": "1.5"}``, ``{"date": "2026-03-02"}`` ...).
Reading refuses unknown types, unknown or missing fields and wrong JSON types
with a `ValidationError` whose field is the path, for example ``criteria.criteria[1].type``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.marketing._segment_criteria import (
    CRITERIA,
    AccountTag,
    ActiveWithin,
    All,
    Any,
    Consented,
    Criterion,
    HasTags,
    InactiveFor,
    InCity,
    InCountry,
    Industry,
    InRegion,
    Not,
    PurchasedWithin,
    RfmClass,
    SpendAtLeast,
    WithinRadius,
)
from crmkit.marketing._segment_custom import (
    CustomBetween,
    CustomIs,
    value_from_json,
    value_to_json,
)

MAX_DEPTH: Final = 32
"""The deepest nesting of combinators that `decode` reads."""

TYPE_NAMES: Final[dict[type, str]] = {
    InCountry: "in_country",
    InRegion: "in_region",
    InCity: "in_city",
    WithinRadius: "within_radius",
    HasTags: "has_tags",
    AccountTag: "account_tag",
    Industry: "industry",
    ActiveWithin: "active_within",
    InactiveFor: "inactive_for",
    PurchasedWithin: "purchased_within",
    SpendAtLeast: "spend_at_least",
    RfmClass: "rfm_class",
    Consented: "consented",
    CustomIs: "custom_is",
    CustomBetween: "custom_between",
    All: "all",
    Any: "any",
    Not: "not",
}
"""The stable ``type`` discriminator of every criterion class."""

_BY_NAME: Final = {name: cls for cls, name in TYPE_NAMES.items()}
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
assert set(TYPE_NAMES) == set(CRITERIA)  # a new criterion needs a name here


def _kind(field: attrs.Attribute[object]) -> str:
    # Annotations are strings here (postponed evaluation): they name the wire form.
    return str(field.type)


def encode(criterion: Criterion) -> dict[str, object]:
    """``criterion`` as JSON-ready data."""
    out: dict[str, object] = {"type": TYPE_NAMES[type(criterion)]}
    for field in attrs.fields(type(criterion)):
        out[field.name] = _encode_value(_kind(field), getattr(criterion, field.name))
    return out


def _encode_value(kind: str, value: object) -> object:
    if kind == "Criterion":
        return encode(value)  # type: ignore[arg-type]
    if kind == "tuple[Criterion, ...]":
        return [encode(item) for item in value]  # type: ignore[attr-defined]
    if kind == "tuple[str, ...]":
        return list(value)  # type: ignore[call-overload]
    if kind == "Decimal":
        return str(value)
    if kind == "tuple[CustomScalar, ...]":
        return [value_to_json(item) for item in value]  # type: ignore[attr-defined]
    if kind == "CustomScalar | None":
        return None if value is None else value_to_json(value)  # type: ignore[arg-type]
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    return value


def fields_of(
    data: object, path: str, names: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> dict[str, object]:
    """The members of JSON object ``data``; unknown or missing ones raise, naming ``path``."""
    if not isinstance(data, dict):
        raise ValidationError(path or "$", "must be an object", data)
    for key in data:
        if key not in names:
            raise ValidationError(_at(path, str(key)), "is not a known field")
    for name in sorted(names - set(data) - set(optional)):
        raise ValidationError(_at(path, name), "is required")
    return dict(data)


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def decode(data: object, path: str, depth: int = 0) -> Criterion:
    """Read a criterion from `encode` data; every failure names its path under ``path``."""
    if depth > MAX_DEPTH:
        raise ValidationError(path, f"must nest at most {MAX_DEPTH} criteria deep")
    if not isinstance(data, dict):
        raise ValidationError(path, "must be an object with a type", data)
    name = data.get("type")
    cls = _BY_NAME.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValidationError(_at(path, "type"), "is not a known criterion type", name)
    fields = attrs.fields(cls)
    optional = {f.name for f in fields if f.default is not attrs.NOTHING}
    raw = fields_of(data, path, {"type"} | {f.name for f in fields}, optional)
    kwargs: dict[str, object] = {}
    for field in fields:
        if field.name in raw:
            where = _at(path, field.name)
            kwargs[field.name] = _decode_value(_kind(field), raw[field.name], where, depth)
    try:
        return cls(**kwargs)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise exc.at(path) from None


def _decode_value(kind: str, value: object, path: str, depth: int) -> object:
    if kind == "Criterion":
        return decode(value, path, depth + 1)
    if kind == "CustomScalar | None":
        return None if value is None else value_from_json(value, path)
    if kind.startswith("tuple["):
        if not isinstance(value, list):
            raise ValidationError(path, "must be a list", value)
        if kind == "tuple[CustomScalar, ...]":
            return tuple(value_from_json(v, f"{path}[{i}]") for i, v in enumerate(value))
        if kind == "tuple[Criterion, ...]":
            return tuple(decode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ValidationError(f"{path}[{i}]", "must be a string", item)
        return tuple(value)
    if kind == "Decimal":
        return _decimal(value, path)
    if kind == "Money":
        parts = fields_of(value, path, {"amount", "currency"})
        try:
            return Money(_decimal(parts["amount"], _at(path, "amount")), parts["currency"])  # type: ignore[arg-type]
        except ValidationError as exc:
            raise exc if exc.field.startswith(path) else exc.at(path) from None
    wanted = {"bool": bool, "int": int, "str": str}[kind]
    if type(value) is not wanted:
        raise ValidationError(path, f"must be a JSON {kind}", value)
    return value


def _decimal(value: object, path: str) -> Decimal:
    if not isinstance(value, str) or _DECIMAL.fullmatch(value) is None:
        raise ValidationError(path, "must be a decimal string", value)
    return Decimal(value)
