"""JSON-ready rule conditions and actions: a ``type`` discriminator plus fields, read strictly.

Each class is described by a spec: its ``type`` name and, per attribute, the
JSON member name and the wire kind. Reading refuses unknown types, unknown or
missing members and wrong JSON types with a `ValidationError` whose field is
the JSON path, for example ``rules[0].when.all[1].value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from crmkit.extension.rule_conditions import (
    MAX_NESTING,
    All,
    Any,
    Condition,
    Contains,
    Eq,
    Exists,
    Field,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    Ne,
    Not,
    check_path,
    check_scalar,
)
from crmkit.kernel.errors import ValidationError

Spec = tuple[str, tuple[tuple[str, str, str], ...]]
"""A class's ``type`` name and its members as (attribute, JSON name, wire kind)."""

_F: Final = ("field", "field", "field")
_V: Final = ("value", "value", "scalar")
_O: Final = ("value", "value", "ordered")

CONDITION_SPECS: Final[Mapping[type, Spec]] = {
    Eq: ("eq", (_F, _V)),
    Ne: ("ne", (_F, _V)),
    In: ("in", (_F, ("values", "values", "scalars"))),
    Gt: ("gt", (_F, _O)),
    Gte: ("gte", (_F, _O)),
    Lt: ("lt", (_F, _O)),
    Lte: ("lte", (_F, _O)),
    Exists: ("exists", (_F,)),
    Contains: ("contains", (_F, _V)),
    All: ("all", (("conditions", "all", "conditions"),)),
    Any: ("any", (("conditions", "any", "conditions"),)),
    Not: ("not", (("condition", "not", "condition"),)),
}
"""The wire form of every condition class."""


def at(path: str, name: str) -> str:
    """``name`` under JSON path ``path``."""
    return f"{path}.{name}" if path else name


def members(
    data: object, path: str, names: tuple[str, ...], optional: frozenset[str] = frozenset()
) -> dict[str, object]:
    """The members of JSON object ``data``; unknown or missing ones raise, naming their path."""
    if not isinstance(data, dict):
        raise ValidationError(path or "$", "must be an object", data)
    for key in data:
        if key not in names:
            raise ValidationError(at(path, str(key)), "is not a known field")
    for name in names:
        if name not in data and name not in optional:
            raise ValidationError(at(path, name), "is required")
    return data


def encode(obj: object, specs: Mapping[type, Spec]) -> dict[str, object]:
    """``obj`` (a condition or action) as JSON-ready data."""
    name, fields = specs[type(obj)]
    out: dict[str, object] = {"type": name}
    for attr, wire, kind in fields:
        out[wire] = _encode_value(kind, getattr(obj, attr))
    return out


def _encode_value(kind: str, value: object) -> object:
    if isinstance(value, Field):
        return value.path
    if kind == "condition":
        return encode(value, CONDITION_SPECS)
    if kind == "conditions":
        assert isinstance(value, tuple)
        return [encode(item, CONDITION_SPECS) for item in value]
    if isinstance(value, tuple):
        return list(value)
    return value


def decode(
    data: object, path: str, specs: Mapping[type, Spec], what: str, depth: int = 0
) -> object:
    """Read an object written by `encode`; every failure names its JSON path under ``path``."""
    if depth > MAX_NESTING:
        raise ValidationError(path, f"must nest at most {MAX_NESTING} conditions deep")
    if not isinstance(data, dict):
        raise ValidationError(path or "$", f"must be an object with a {what} type", data)
    name = data.get("type")
    found = [cls for cls, spec in specs.items() if spec[0] == name]
    if not found:
        raise ValidationError(at(path, "type"), f"is not a known {what} type", name)
    cls = found[0]
    fields = specs[cls][1]
    defaults = {f.name for f in attrs.fields(cls) if f.default is not attrs.NOTHING}
    optional = frozenset(wire for attr, wire, _ in fields if attr in defaults)
    raw = members(data, path, ("type", *(wire for _, wire, _ in fields)), optional)
    kwargs: dict[str, object] = {}
    for attr, wire, kind in fields:
        if wire in raw:
            kwargs[attr] = _decode_value(kind, raw[wire], at(path, wire), depth)
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        # Converters name the attribute; the caller wants the JSON member's path.
        wires = {attr: wire for attr, wire, _ in fields}
        head, sep, rest = exc.field.partition(".")
        head, bracket, index = head.partition("[")
        field = wires.get(head, head) + bracket + index + sep + rest
        raise ValidationError(at(path, field), exc.rule, exc.value) from None


def _decode_value(kind: str, value: object, path: str, depth: int) -> object:
    if kind == "field":
        return check_path(value, path)
    if kind == "scalar":
        return check_scalar(value, path)
    if kind == "ordered":
        if value is None or isinstance(value, bool):
            raise ValidationError(path, "must be a string or integer", value)
        return check_scalar(value, path)
    if kind == "condition?" and value is None:
        return None
    if kind in ("condition", "condition?"):
        return decode(value, path, CONDITION_SPECS, "condition", depth + 1)
    if kind == "str?" and value is None:
        return None
    if kind in ("str", "str?"):
        if not isinstance(value, str):
            raise ValidationError(path, "must be a string", value)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(path, "must be an integer", value)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValidationError(path, "must be true or false", value)
        return value
    if not isinstance(value, list):
        raise ValidationError(path, "must be a list", value)
    if kind == "conditions":
        return tuple(decode_condition(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
    if kind == "scalars":
        return tuple(check_scalar(v, f"{path}[{i}]") for i, v in enumerate(value))
    assert kind == "strs", kind
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ValidationError(f"{path}[{i}]", "must be a string", item)
    return tuple(value)


def decode_condition(data: object, path: str, depth: int = 0) -> Condition:
    """Read a condition written by `encode`."""
    # CONDITION_SPECS holds condition classes only.
    return decode(data, path, CONDITION_SPECS, "condition", depth)  # type: ignore[return-value]
