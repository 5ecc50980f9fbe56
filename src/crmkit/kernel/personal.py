"""Erasing personal data from records and events, whatever their class.

Fields that hold personal data are declared with ``metadata=PERSONAL``.
`redacted` gives a copy of any attrs record or event with each such field
blanked by its type: None where the field may be None, an empty tuple or dict
for collections, `ERASED` for required text; nested attrs values are redacted
field by field. `PersonalDataErased` is the event that records an erasure on
a record's own stream: `crmkit.kernel.aggregate.Replayable.replay` applies
it by redacting the state, so replaying a stream whose events were redacted
still gives the current, erased state.
"""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from functools import cache
from typing import Any, ClassVar, Final, TypeVar, get_args, get_origin

import attrs

from crmkit.kernel.custom import CustomValues
from crmkit.kernel.events import DomainEvent, is_personal

__all__ = ["ERASED", "PersonalDataErased", "personal_fields", "redacted"]

T = TypeVar("T")

ERASED: Final = "erased"
"""What required text holds once its personal value is erased."""


@attrs.frozen(kw_only=True)
class PersonalDataErased(DomainEvent):
    """A record's personal data was erased (it names no personal value).

    Attributes:
        kind: The record's kind, for example ``contact``.
        reason: Why, for example ``subject request`` or ``retention``.
    """

    event_type: ClassVar[str] = "personal_data_erased"
    kind: str
    reason: str

    def summary(self) -> str:
        """Timeline line."""
        return f"personal data erased ({self.reason})"

    def stream_kind(self) -> str:
        """The kind of the record erased."""
        return self.kind


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def personal_fields(cls: type) -> tuple[str, ...]:
    """The names of the fields of attrs class ``cls`` marked personal."""
    return tuple(f.name for f in attrs.fields(cls) if is_personal(f))


def _blank(kind: Any, value: Any) -> Any:
    origin = get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if type(None) in get_args(kind):
            return None
        kind = next(arg for arg in get_args(kind) if arg is not type(None))
        origin = get_origin(kind)
    if origin is tuple or kind is tuple:
        return ()
    if origin is dict or kind is dict:
        return {}
    if isinstance(value, CustomValues):
        return CustomValues()
    if kind is str or isinstance(value, str):
        return ERASED
    if attrs.has(type(value)):
        return _redact_all(value)
    if isinstance(value, datetime | date):
        return value  # a required instant: when something happened, not who it was
    return value


def _redact_all(obj: Any) -> Any:
    """Every field of a personal value object blanked (its parts are all about the person)."""
    cls: type = type(obj)
    hints = _hints(cls)
    changes = {f.name: _blank(hints[f.name], getattr(obj, f.name)) for f in attrs.fields(cls)}
    return _copy(obj, changes)


def _copy(obj: T, changes: dict[str, Any]) -> T:
    """A copy of frozen ``obj`` with ``changes``, without running its validators or converters."""
    cls: Any = type(obj)
    new: T = object.__new__(cls)
    for field in attrs.fields(cls):
        name = field.name
        object.__setattr__(new, name, changes.get(name, getattr(obj, name)))
    return new


def redacted(obj: T) -> T:
    """A copy of attrs instance ``obj`` with every personal field blanked (see module docs).

    Fields that are not personal keep their values, and nested attrs values
    are searched for personal fields of their own.
    """
    cls = type(obj)
    if not attrs.has(cls):
        return obj
    hints = _hints(cls)
    changes: dict[str, Any] = {}
    for field in attrs.fields(cls):
        value = getattr(obj, field.name)
        if is_personal(field):
            changes[field.name] = _blank(hints[field.name], value)
        elif attrs.has(type(value)):
            changes[field.name] = redacted(value)
        elif isinstance(value, tuple) and any(attrs.has(type(item)) for item in value):
            changes[field.name] = tuple(redacted(item) for item in value)
    return _copy(obj, changes)
