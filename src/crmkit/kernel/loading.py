"""Fast loaders for records that crmkit itself wrote.

A record read back from a store was validated when it was built and written,
so reading it need not run every validator again (doing so tripled the cost
of a get here). `make_loader` builds, once per class, a function that turns
the stored JSON data straight into the frozen object, converting only what
JSON cannot hold (enums, datetimes, decimals, tuples, nested classes).

Untrusted input never takes this path: it goes through the strict converter
(`crmkit.kernel.serialization`). A store whose contents were altered behind
crmkit's back fails here with a `StorageError`, not with a wrong object.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, get_args, get_origin
from zoneinfo import ZoneInfo

import attrs

from crmkit.kernel.custom import CustomValues, from_json as custom_from_json
from crmkit.kernel.errors import StorageError
from crmkit.kernel.money import Money

T = TypeVar("T")
Load = Callable[[Any], Any]

_setattr = object.__setattr__
_ABSENT = object()
_SCALARS: dict[object, Load | None] = {
    str: None,
    int: None,
    bool: None,
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
    Decimal: Decimal,
    ZoneInfo: ZoneInfo,
}


class Loaders:
    """A cache of loaders, one per class; each `Crm` holds its own."""

    def __init__(self) -> None:
        self._cache: dict[object, Load | None] = {}

    def load(self, cls: type[T], data: Any) -> T:
        """Build a ``cls`` from stored JSON data; `StorageError` if the data does not fit."""
        loader = self.loader(cls)
        try:
            return loader(data) if loader is not None else data  # type: ignore[no-any-return]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StorageError(f"stored {cls.__name__} does not fit its class: {exc!r}") from None

    def loader(self, kind: object) -> Load | None:
        """The loader for a type, or None where the JSON value is already right."""
        if kind in self._cache:
            return self._cache[kind]
        built = self._build(kind)
        self._cache[kind] = built
        return built

    def _build(self, kind: Any) -> Load | None:
        supertype = getattr(kind, "__supertype__", None)  # a NewType
        if supertype is not None:
            return self.loader(supertype)
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind is Money:
            return _load_money
        if kind is CustomValues:
            return custom_from_json
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind._value2member_map_.__getitem__
        origin, args = get_origin(kind), get_args(kind)
        if origin in (typing.Union, types.UnionType):
            inner = [self.loader(arg) for arg in args if arg is not type(None)]
            if len(inner) != 1:
                raise TypeError(f"crmkit loads only optional unions, not {kind}")
            only = inner[0]
            if only is None:
                return None
            return lambda v: None if v is None else only(v)
        if origin in (tuple, frozenset, list):
            item = self.loader(args[0])
            make = origin
            if item is None:
                return make  # type: ignore[no-any-return]
            return lambda v: make(map(item, v))
        if origin in (dict, Mapping, typing.Mapping):
            value = self.loader(args[1])
            return dict if value is None else (lambda v: {k: value(x) for k, x in v.items()})
        if attrs.has(kind):
            return self._attrs_loader(kind)
        raise TypeError(f"crmkit cannot load {kind}")

    def _attrs_loader(self, cls: type[Any]) -> Load:
        hints = typing.get_type_hints(cls)
        self._cache[cls] = None  # placeholder; a class never contains itself here
        plan = []
        for field in attrs.fields(cls):
            default = field.default
            if not isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = _constant(default)
            plan.append((field.name, self.loader(hints[field.name]), default))
        new = object.__new__

        def load(data: dict[str, Any]) -> Any:
            obj = new(cls)
            for name, convert, default in plan:
                value = data.get(name, _ABSENT)
                if value is _ABSENT:  # a field added since the record was stored
                    if default is None:
                        raise KeyError(name)
                    value = default.factory()
                elif convert is not None and value is not None:
                    value = convert(value)
                _setattr(obj, name, value)
            return obj

        return load


def _constant(value: object) -> Any:
    """A factory of ``value`` (None for a field without a default: it must be stored)."""
    if value is attrs.NOTHING:
        return None
    return attrs.Factory(lambda: value)


def _load_money(data: dict[str, str]) -> Money:
    money = object.__new__(Money)
    _setattr(money, "amount", Decimal(data["amount"]))
    _setattr(money, "currency", data["currency"])
    return money
