"""attrs validators that raise crmkit's `ValidationError`, naming the field.

Aggregates check only types (an ``isinstance`` is cheap); the value objects
they hold validated their contents when they were built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import is_personal
from crmkit.kernel.time import require_aware

E = TypeVar("E", bound=Enum)

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _fail(attribute: attrs.Attribute[Any], rule: str, value: object) -> ValidationError:
    return ValidationError(attribute.name, rule, value, personal=is_personal(attribute))


def of_type(*types: type, optional: bool = False) -> Validator:
    """The value is one of ``types`` (or None when ``optional``); a bool is no int."""
    names = " or ".join(t.__name__ for t in types)
    rule = f"must be {names}" + (" or None" if optional else "")
    allow_bool = bool in types

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, types) or (isinstance(value, bool) and not allow_bool):
            raise _fail(attribute, rule, value)

    return check


def tuple_of(item: type) -> Validator:
    """The value is a tuple whose items are all instances of ``item``."""
    rule = f"must be a tuple of {item.__name__}"

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, tuple):
            raise _fail(attribute, rule, value)
        for index, element in enumerate(value):
            if not isinstance(element, item):
                raise ValidationError(
                    f"{attribute.name}[{index}]",
                    f"must be {item.__name__}",
                    element,
                    personal=is_personal(attribute),
                )

    return check


def items(value: object, field: str, *, personal: bool = False) -> tuple[Any, ...]:
    """The items of a list, tuple or other iterable (not text, not a mapping) as a tuple."""
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise ValidationError(field, "must be a list or tuple", value, personal=personal)
    return tuple(value)


def aware(optional: bool = False) -> Validator:
    """The value is a timezone-aware datetime (or None when ``optional``)."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, datetime):
            raise _fail(attribute, "must be a timezone-aware datetime", value)
        require_aware(value, attribute.name)

    return check


def version(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """The value is a positive int (an aggregate version)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(attribute, "must be a positive integer", value)


def to_enum(enum: type[E], field: str) -> Callable[[object], E]:
    """A converter to a member of ``enum`` that raises `ValidationError` naming ``field``."""
    choices = ", ".join(repr(member.value) for member in enum)

    def convert(value: object) -> E:
        try:
            return enum(value)
        except (ValueError, TypeError):
            raise ValidationError(field, f"must be one of {choices}", value) from None

    return convert
