"""A strict cattrs converter and a strict JSON codec.

cattrs' preset converters are lenient: they turn ``1.5`` into ``1``, ``True``
into ``1`` and ``5`` into ``"5"``, and raise a bare ``TypeError`` on `Decimal`.
``json.loads`` accepts ``NaN`` and duplicate keys and raises ``RecursionError``
on deep nesting. The converter that `make_converter` returns is strict
instead: every value must already have its JSON type, `Decimal` travels as a
string, datetimes as ISO 8601 with an offset, and every failure becomes a
`ValidationError` that names the field path (``emails[0].address``).

>>> from crmkit.kernel.money import Money
>>> conv = make_converter()
>>> conv.unstructure(Money.of("12.50", "EUR"))
{'amount': '12.50', 'currency': 'EUR'}
>>> conv.structure({"amount": 12.5, "currency": "EUR"}, Money)
Traceback (most recent call last):
...
crmkit.kernel.errors.ValidationError: amount: must be a decimal string (got 12.5)
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Final, TypeVar, get_args, get_origin
from zoneinfo import ZoneInfo

import attrs
import cattrs

from crmkit.kernel.custom import (
    CustomValues,
    from_json as custom_from_json,
    to_json as custom_to_json,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import is_personal
from crmkit.kernel.money import Money
from crmkit.kernel.time import require_aware, zone

T = TypeVar("T")

MAX_JSON_BYTES: Final = 1_000_000
"""Longest JSON document `loads` accepts, in characters."""
MAX_JSON_DEPTH: Final = 64
"""Deepest nesting of arrays and objects that `loads` accepts."""

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def make_converter() -> cattrs.Converter:
    """A new strict converter for every crmkit value object, aggregate and event.

    Each call returns an independent converter; hosts may register hooks of
    their own on it without affecting others.
    """
    conv = cattrs.Converter()
    # cattrs consults class dispatch first, and it matches subclasses too (a StrEnum is a
    # str, an IntEnum an int): the str and int hooks hand enums on to the enum hook.
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(float, _refuse_float)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(date, _structure_date)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(ZoneInfo, lambda value, _: zone(value, ""))
    conv.register_unstructure_hook(ZoneInfo, lambda value: value.key)
    conv.register_structure_hook(CustomValues, lambda value, _: custom_from_json(value))
    conv.register_unstructure_hook(CustomValues, custom_to_json)
    conv.register_structure_hook(Money, _structure_money)
    conv.register_unstructure_hook(Money, _unstructure_money)
    conv.register_structure_hook_func(_is_enum, _structure_enum)
    conv.register_structure_hook_factory(_is_optional, _optional_factory)
    conv.register_structure_hook_factory(_is_sequence, _sequence_factory)
    conv.register_structure_hook_factory(_is_mapping, _mapping_factory)
    conv.register_structure_hook_factory(attrs.has, _attrs_factory)
    conv.register_unstructure_hook_factory(_is_sequence, _unstructure_sequence_factory)
    return conv


def structure(conv: cattrs.Converter, data: object, cls: type[T]) -> T:
    """Structure ``data`` as ``cls``; every failure is a `ValidationError` with a field path."""
    try:
        return conv.structure(data, cls)
    except ValidationError as exc:
        if not exc.field:
            raise exc.at("$") from None
        raise
    except Exception as exc:  # a hook a host registered raised something else
        raise ValidationError("$", f"cannot be read as {_name(cls)}: {exc}") from None


def dumps(value: object) -> str:
    """Compact JSON text for an unstructured value; refuses NaN and infinities."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError("$", f"cannot be written as JSON: {exc}") from None


def loads(text: object, *, max_chars: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON text strictly.

    Refuses non-strings, text longer than ``max_chars``, nesting deeper than
    ``max_depth``, ``NaN`` and ``Infinity``, and duplicate object keys.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("$", "must be UTF-8") from None
    if not isinstance(text, str):
        raise ValidationError("$", "must be JSON text", type(text).__name__)
    if len(text) > max_chars:
        raise ValidationError("$", f"must be at most {max_chars} characters of JSON")
    depth = 0
    for char in _STRINGS.sub("", text):
        if char in "[{":
            depth += 1
            if depth > max_depth:
                raise ValidationError("$", f"must nest at most {max_depth} levels deep")
        elif char in "]}":
            depth -= 1
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except ValidationError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ValidationError("$", f"must be valid JSON: {exc}") from None


def _refuse_constant(name: str) -> object:
    raise ValidationError("$", f"must not contain {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValidationError(key or "$", "is given twice in one JSON object")
            seen.add(key)
    return result


def _name(cls: object) -> str:
    return getattr(cls, "__name__", None) or str(cls)


# --- scalars ---------------------------------------------------------------


def _structure_str(value: object, cls: type) -> object:
    if _is_enum(cls):
        return _structure_enum(value, cls)
    if not isinstance(value, str):
        raise ValidationError("", "must be a string", value)
    return value


def _structure_int(value: object, cls: type) -> object:
    if _is_enum(cls):
        return _structure_enum(value, cls)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("", "must be an integer", value)
    return value


def _structure_bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("", "must be true or false", value)
    return value


def _refuse_float(value: object, _: object) -> float:
    raise ValidationError("", "floats are not accepted; use a decimal string", value)


def _structure_decimal(value: object, _: object) -> Decimal:
    if not isinstance(value, str):
        raise ValidationError("", "must be a decimal string", value)
    try:
        result = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValidationError("", "must be a decimal string", value) from None
    if not result.is_finite():
        raise ValidationError("", "must be a finite decimal", value)
    return result


def _structure_datetime(value: object, _: object) -> datetime:
    if not isinstance(value, str):
        raise ValidationError("", "must be an ISO 8601 string with an offset", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("", "must be an ISO 8601 string with an offset", value) from None
    return require_aware(parsed, "")


def _unstructure_datetime(value: datetime) -> str:
    return value.isoformat()


def _structure_date(value: object, _: object) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise ValidationError("", "must be an ISO 8601 date (YYYY-MM-DD)", value)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError("", "must be an ISO 8601 date (YYYY-MM-DD)", value) from None


def _structure_money(value: object, _: object) -> Money:
    if not isinstance(value, Mapping) or set(value) != {"amount", "currency"}:
        raise ValidationError("", "must be an object with amount and currency", value)
    try:
        amount = _structure_decimal(value["amount"], Decimal)
    except ValidationError as exc:
        raise exc.at("amount") from None
    return Money(amount, value["currency"])


def _unstructure_money(value: Money) -> dict[str, str]:
    return {"amount": str(value.amount), "currency": value.currency}


def _is_enum(cls: object) -> bool:
    return isinstance(cls, type) and issubclass(cls, Enum)


def _structure_enum(value: object, cls: type[Enum]) -> Enum:
    try:
        return cls(value)
    except (ValueError, TypeError):
        choices = ", ".join(repr(member.value) for member in cls)
        raise ValidationError("", f"must be one of {choices}", value) from None


# --- containers ------------------------------------------------------------


def _is_optional(cls: object) -> bool:
    args = get_args(cls)
    return (
        get_origin(cls) in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args
    )


def _optional_factory(cls: Any, conv: cattrs.Converter) -> Callable[[object, object], object]:
    inner = next(arg for arg in get_args(cls) if arg is not type(None))
    hook = conv.get_structure_hook(inner)

    def structure_optional(value: object, _: object) -> object:
        return None if value is None else hook(value, inner)

    return structure_optional


def _is_sequence(cls: object) -> bool:
    return get_origin(cls) in (tuple, list, frozenset, set)


def _sequence_factory(cls: Any, conv: cattrs.Converter) -> Callable[[object, object], object]:
    origin = get_origin(cls)
    args = get_args(cls)
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        raise TypeError(f"crmkit converts only homogeneous tuples, not {cls}")
    item = args[0]
    hook = conv.get_structure_hook(item)

    def structure_sequence(value: object, _: object) -> object:
        if not isinstance(value, list):
            raise ValidationError("", "must be a list", value)
        items = []
        for index, element in enumerate(value):
            try:
                items.append(hook(element, item))
            except ValidationError as exc:
                raise exc.at(f"[{index}]") from None
        return origin(items)

    return structure_sequence


def _unstructure_sequence_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any], object]:
    args = get_args(cls)
    hook = conv.get_unstructure_hook(args[0]) if args else conv.unstructure
    ordered = get_origin(cls) in (frozenset, set)

    def unstructure_sequence(value: Any) -> list[object]:
        items = [hook(element) for element in value]
        return sorted(items) if ordered else items  # sets are written in a stable order

    return unstructure_sequence


def _is_mapping(cls: object) -> bool:
    return get_origin(cls) in (dict, Mapping, typing.Mapping)


def _mapping_factory(cls: Any, conv: cattrs.Converter) -> Callable[[object, object], object]:
    key_type, value_type = get_args(cls)
    key_hook = conv.get_structure_hook(key_type)
    value_hook = conv.get_structure_hook(value_type)

    def structure_mapping(value: object, _: object) -> object:
        if not isinstance(value, dict):
            raise ValidationError("", "must be an object", value)
        result = {}
        for key, element in value.items():
            try:
                result[key_hook(key, key_type)] = value_hook(element, value_type)
            except ValidationError as exc:
                raise exc.at(str(key)) from None
        return result

    return structure_mapping


def _attrs_factory(cls: Any, conv: cattrs.Converter) -> Callable[[object, object], object]:
    hints = typing.get_type_hints(cls)
    fields = [
        (f.name, f.alias or f.name, hints[f.name], f.default is attrs.NOTHING, is_personal(f))
        for f in attrs.fields(cls)
        if f.init
    ]
    names = {name for name, *_ in fields}
    hooks = {name: conv.get_structure_hook(kind) for name, _, kind, *_ in fields}

    def structure_attrs(value: object, _: object) -> object:
        if not isinstance(value, dict):
            raise ValidationError("", f"must be an object ({cls.__name__})", value)
        kwargs = {}
        for name, alias, kind, required, personal in fields:
            if name not in value:
                if required:
                    raise ValidationError(name, "is required")
                continue
            try:
                kwargs[alias] = hooks[name](value[name], kind)
            except ValidationError as exc:
                error = exc.at(name)
                if personal and not error.personal:
                    error = ValidationError(error.field, error.rule, personal=True)
                raise error from None
        if len(value) > len(kwargs):
            extra = sorted(str(key) for key in value if key not in names)
            if extra:
                raise ValidationError(extra[0], f"is not a field of {cls.__name__}")
        try:
            return cls(**kwargs)
        except ValidationError:
            raise
        except (TypeError, ValueError) as exc:
            raise ValidationError("", f"is not a valid {cls.__name__}: {exc}") from None

    return structure_attrs
