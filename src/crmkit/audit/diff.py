"""Field-level differences between two states of an aggregate.

`field_diff` compares two states of one attrs aggregate field by field and
returns one `Change` per changed top-level field, with both values as
JSON-ready data (what a crmkit converter's ``unstructure`` gives, with enums as
their plain values). A nested value object (an address, a money amount, a
tuple of emails) is compared and recorded as a whole. ``version`` and
``updated_at`` are skipped: every change moves them, and the audit entry
records the version itself.

Each change says whether its field holds personal data: the field is marked
with ``metadata=PERSONAL``, or its type holds an attrs class with a
personal-marked field somewhere inside. Personal values belong in the audit
payload only, never in the hash-chained envelope (see `crmkit.audit.chain`).
"""

from __future__ import annotations

import functools
import json
import typing
from typing import Any, Final, TypeAlias

import attrs
import cattrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import is_personal
from crmkit.kernel.serialization import dumps, make_converter

Json: TypeAlias = "str | int | bool | list[Json] | dict[str, Json] | None"
"""A JSON-ready value: what `json.loads` returns, without floats."""

SKIPPED: Final = frozenset({"version", "updated_at"})
"""Fields that `field_diff` never reports: they change with every command."""


@attrs.frozen
class Change:
    """One changed top-level field of an aggregate.

    Attributes:
        field: The field's name.
        before: Its JSON-ready value before the change (None when the record was created).
        after: Its JSON-ready value after the change.
        personal: Whether the field holds personal data.
    """

    field: str
    before: Json
    after: Json
    personal: bool = False

    def to_json(self) -> dict[str, Json]:
        """The change as a JSON object (the form it takes in an audit payload)."""
        return {
            "field": self.field,
            "before": self.before,
            "after": self.after,
            "personal": self.personal,
        }


def field_diff(
    before: object | None, after: object, *, converter: cattrs.Converter | None = None
) -> tuple[Change, ...]:
    """The changed top-level fields from ``before`` to ``after``, in field order.

    ``before`` is None when ``after`` was just created: then every field is
    reported, with ``before=None``. Otherwise both must be instances of the
    same attrs class. Values are compared as JSON-ready data, so a change that
    shows when stored (``Decimal("1.0")`` to ``Decimal("1.00")``) is a change.
    ``converter`` defaults to a fresh `make_converter`; pass the application's
    own if it registered hooks for custom types.

    Raises:
        ValidationError: ``after`` is not an attrs instance, or ``before`` is
            not None and not of the same class.
    """
    cls = type(after)
    if not attrs.has(cls):
        raise ValidationError("after", "must be an attrs record", cls.__name__)
    if before is not None and type(before) is not cls:
        raise ValidationError("before", f"must be None or a {cls.__name__}", type(before).__name__)
    conv = make_converter() if converter is None else converter
    new = _plain(conv, after)
    old = None if before is None else _plain(conv, before)
    personal = _personal_fields(cls)
    changes = []
    for field in attrs.fields(cls):
        name = field.name
        if name in SKIPPED or name not in new:
            continue
        value = new[name]
        if old is None:
            changes.append(Change(name, None, value, name in personal))
        elif old.get(name) != value:
            changes.append(Change(name, old.get(name), value, name in personal))
    return tuple(changes)


def _plain(conv: cattrs.Converter, record: object) -> dict[str, Json]:
    # A JSON round trip turns enum members and other str/int subclasses into plain
    # values, so that stored payloads and in-memory changes compare equal.
    data = json.loads(dumps(conv.unstructure(record)))
    if not isinstance(data, dict):
        raise ValidationError("after", "must unstructure to a JSON object", type(record).__name__)
    return data


@functools.cache
def _personal_fields(cls: type) -> frozenset[str]:
    hints = typing.get_type_hints(cls)
    return frozenset(
        f.name
        for f in attrs.fields(cls)
        if is_personal(f) or _holds_personal(hints.get(f.name), frozenset({cls}))
    )


def _holds_personal(kind: Any, seen: frozenset[type]) -> bool:
    # A field not marked itself may still hold a value object with personal parts
    # (an optional tuple of records whose ``name`` is personal): look inside.
    if isinstance(kind, type) and attrs.has(kind):
        if kind in seen:
            return False
        hints = typing.get_type_hints(kind)
        inner = seen | {kind}
        return any(
            is_personal(f) or _holds_personal(hints.get(f.name), inner) for f in attrs.fields(kind)
        )
    return any(_holds_personal(arg, seen) for arg in typing.get_args(kind))
