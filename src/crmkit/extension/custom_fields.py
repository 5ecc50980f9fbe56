"""Custom fields: typed values the host adds to an aggregate without a fork.

The host declares a `FieldSpec` for each custom field of each kind (``lead``,
``contact`` ...) and collects them in one `CustomFields`. Every aggregate's
``custom`` mapping then goes through it:

* `CustomFields.validate` normalises what the host hands in (text NFC and
  trimmed, datetimes in UTC, multiple choices sorted) and refuses what breaks a
  rule with a `ValidationError` naming ``custom.<name>`` and the kind. Text
  values may hold personal data: their errors never show the value.
* `CustomFields.to_json` / `CustomFields.from_json` are the strict JSON codec
  of stored values (decimals as strings, money as ``{"amount", "currency"}``,
  instants as ISO 8601 in UTC, dates as ISO 8601).
* `CustomFields.index_fields` / `CustomFields.index_values` make an
  ``indexed`` field an index field of the kind's storage, named ``cf_<name>``,
  so queries filter, order and group by it like a built-in field.

Index encodings (chosen so that the store's order equals Python's):

| type | index fields |
| --- | --- |
| text, choice | ``cf_<name>`` text |
| integer | ``cf_<name>`` int |
| decimal | ``cf_<name>`` int: the value times 10**6 (`DECIMAL_PLACES`) |
| boolean | ``cf_<name>`` bool |
| date | ``cf_<name>`` text, ISO ``YYYY-MM-DD`` (sorts as dates do) |
| datetime | ``cf_<name>`` int, UTC microseconds |
| money | ``cf_<name>_minor`` int and ``cf_<name>_currency`` text |
| multi_choice | ``cf_<name>`` multi-valued text |

A decimal is therefore held to at most six decimal places and to what fits a
64-bit integer after scaling, whether or not it is indexed today, so that
indexing it later never fails. Changing the specs is a migration: see
`crmkit.extension.custom_migration.plan_migration`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import attrs

from crmkit.extension._custom_values import (
    CHOICE_TYPES,
    DECIMAL_PLACES,
    FieldType,
    JsonValue,
    decode,
    encode,
    index_names,
    index_of,
    normalise,
)
from crmkit.kernel.checks import items, of_type, to_enum
from crmkit.kernel.custom import CustomValue
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import TEXT_MAX, clean_line, clean_token
from crmkit.ports.storage import IndexField, IndexType, IndexValue

__all__ = [
    "DECIMAL_PLACES",
    "CustomFields",
    "CustomValue",
    "FieldSpec",
    "FieldType",
    "JsonValue",
]

MAX_CHOICES: Final = 1000
"""Most choices a choice field declares."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_INDEX_TYPES: Final = {
    FieldType.TEXT: IndexType.TEXT,
    FieldType.INTEGER: IndexType.INT,
    FieldType.DECIMAL: IndexType.INT,
    FieldType.BOOLEAN: IndexType.BOOL,
    FieldType.DATE: IndexType.TEXT,
    FieldType.DATETIME: IndexType.INT,
    FieldType.CHOICE: IndexType.TEXT,
    FieldType.MULTI_CHOICE: IndexType.TEXT,
}

_to_type = to_enum(FieldType, "type")


def _kind(value: object) -> str:
    return clean_token(value, "kind")


def _name(value: object) -> str:
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise ValidationError("name", "must match [a-z][a-z0-9_]{0,39}", value)
    return value


def _type(value: object) -> FieldType:
    return _to_type(value)


def _choices(value: object) -> tuple[str, ...]:
    found = items(value, "choices")
    cleaned = tuple(clean_line(c, f"choices[{i}]") for i, c in enumerate(found))
    for i, choice in enumerate(cleaned):
        if choice in cleaned[:i]:
            raise ValidationError(f"choices[{i}]", "is listed twice", choice)
    return cleaned


def _max_length(instance: FieldSpec, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= TEXT_MAX:
        raise ValidationError("max_length", f"must be an integer from 1 to {TEXT_MAX}", value)


_BOOL = of_type(bool)


@attrs.frozen
class FieldSpec:
    """The declaration of one custom field of one kind.

    Attributes:
        kind: The storage kind it extends, for example ``lead``.
        name: Its name, ``[a-z][a-z0-9_]{0,39}``; values live under ``custom.<name>``.
        type: Its `FieldType`.
        required: Whether every validated record must hold a value (or get the default).
        choices: The allowed values of a ``choice`` or ``multi_choice`` field, in display order.
        default: The value given when a record holds none, valid for the type; or None.
        indexed: Whether queries may filter, order and group by it.
        retired: Whether it is withdrawn: stored values stay readable, but it is no
            longer accepted, required or indexed.
        max_length: Longest text of a ``text`` field (default 200, or 20000 if multiline).
        multiline: Whether a ``text`` field may hold line breaks.

    >>> FieldSpec("lead", "budget", FieldType.DECIMAL, indexed=True).type
    <FieldType.DECIMAL: 'decimal'>
    >>> FieldSpec("lead", "tier", "choice")
    Traceback (most recent call last):
    ...
    crmkit.kernel.errors.ValidationError: choices: must not be empty for a choice field
    """

    kind: str = attrs.field(converter=_kind)
    name: str = attrs.field(converter=_name)
    type: FieldType = attrs.field(converter=_type)
    required: bool = attrs.field(default=False, validator=_BOOL)
    choices: tuple[str, ...] = attrs.field(default=(), converter=_choices)
    default: CustomValue | None = None
    indexed: bool = attrs.field(default=False, validator=_BOOL)
    retired: bool = attrs.field(default=False, validator=_BOOL)
    max_length: int | None = attrs.field(default=None, validator=_max_length)
    multiline: bool = attrs.field(default=False, validator=_BOOL)

    def __attrs_post_init__(self) -> None:
        if self.type in CHOICE_TYPES:
            if not self.choices:
                raise ValidationError("choices", f"must not be empty for a {self.type} field")
            if len(self.choices) > MAX_CHOICES:
                raise ValidationError("choices", f"must hold at most {MAX_CHOICES} choices")
        elif self.choices:
            raise ValidationError("choices", "are only for choice and multi_choice fields")
        if self.type is not FieldType.TEXT:
            if self.max_length is not None:
                raise ValidationError("max_length", "is only for text fields", self.max_length)
            if self.multiline:
                raise ValidationError("multiline", "is only for text fields", self.multiline)
        if self.default is not None:
            try:
                value = self.normalise(self.default, personal=False)
            except ValidationError as exc:
                raise exc.at("default") from None
            if value == ():
                raise ValidationError("default", "must hold at least one choice")
            object.__setattr__(self, "default", value)

    @property
    def field(self) -> str:
        """The path of its values in error messages: ``custom.<name>``."""
        return f"custom.{self.name}"

    def normalise(self, value: object, *, personal: bool = True) -> CustomValue:
        """``value`` in normal form for this field; `ValidationError` (field ``""``) else."""
        return normalise(
            self.type,
            value,
            choices=self.choices,
            max_length=self.max_length,
            multiline=self.multiline,
            personal=personal,
        )

    def index_fields(self) -> tuple[IndexField, ...]:
        """Its index fields, whether or not it is indexed today."""
        if self.type is FieldType.MONEY:
            minor, currency = index_names(self.name, self.type)
            return (IndexField(minor, IndexType.INT), IndexField(currency, IndexType.TEXT))
        multi = self.type is FieldType.MULTI_CHOICE
        (name,) = index_names(self.name, self.type)
        return (IndexField(name, _INDEX_TYPES[self.type], multi=multi),)


def _spec(value: object, index: int) -> FieldSpec:
    if isinstance(value, FieldSpec):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError(f"specs[{index}]", "must be a FieldSpec or a mapping", value)
    names = {field.name for field in attrs.fields(FieldSpec)}
    for key in value:
        if key not in names:
            raise ValidationError(f"specs[{index}].{key}", "is not an attribute of FieldSpec")
    for name in ("kind", "name", "type"):
        if name not in value:
            raise ValidationError(f"specs[{index}].{name}", "is required")
    try:
        return FieldSpec(**value)
    except ValidationError as exc:
        raise exc.at(f"specs[{index}]") from None


def _specs(value: object) -> tuple[FieldSpec, ...]:
    return tuple(_spec(spec, i) for i, spec in enumerate(items(value, "specs")))


@attrs.frozen
class CustomFields:
    """The host's custom fields of every kind.

    Attributes:
        specs: One `FieldSpec` per (kind, name); a mapping of `FieldSpec`'s
            attributes is accepted too, and its errors name ``specs[i].<attribute>``.

    >>> fields = CustomFields([{"kind": "lead", "name": "score", "type": "integer"}])
    >>> fields.validate("lead", {"score": 7})
    {'score': 7}
    >>> CustomFields([{"kind": "lead", "name": "Score", "type": "integer"}])
    Traceback (most recent call last):
    ...
    crmkit.kernel.errors.ValidationError: specs[0].name: must match ... (got 'Score')
    """

    specs: tuple[FieldSpec, ...] = attrs.field(converter=_specs)
    _by_kind: Mapping[str, Mapping[str, FieldSpec]] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        by_kind: dict[str, dict[str, FieldSpec]] = {}
        taken: dict[tuple[str, str], str] = {}
        for i, spec in enumerate(self.specs):
            fields = by_kind.setdefault(spec.kind, {})
            if spec.name in fields:
                raise ValidationError(
                    f"specs[{i}].name", f"is declared twice for kind {spec.kind}", spec.name
                )
            fields[spec.name] = spec
            for index in spec.index_fields():  # money's cf_x_minor could clash with x_minor
                other = taken.setdefault((spec.kind, index.name), spec.name)
                if other != spec.name:
                    raise ValidationError(
                        f"specs[{i}].name",
                        f"gives index field {index.name}, as {other} does in kind {spec.kind}",
                        spec.name,
                    )
        object.__setattr__(self, "_by_kind", by_kind)

    def kinds(self) -> tuple[str, ...]:
        """The kinds that have custom fields, in declaration order."""
        return tuple(self._by_kind)

    def for_kind(self, kind: str) -> tuple[FieldSpec, ...]:
        """Every spec of ``kind`` (retired ones too), in declaration order; () for none."""
        return tuple(self._fields(kind).values())

    def spec(self, kind: str, name: str) -> FieldSpec:
        """The spec of field ``name`` of ``kind``; `ValidationError` naming it if none."""
        spec = self._fields(kind).get(name) if isinstance(name, str) else None
        if spec is None:
            raise ValidationError(f"custom.{name}", f"is not a custom field of {kind}")
        return spec

    def _fields(self, kind: str) -> Mapping[str, FieldSpec]:
        if not isinstance(kind, str):
            raise ValidationError("kind", "must be a kind name", kind)
        return self._by_kind.get(kind, {})

    def _items(self, kind: str, values: object) -> list[tuple[FieldSpec, object]]:
        """The known (spec, value) pairs of ``values``, None values left out."""
        if not isinstance(values, Mapping):
            raise ValidationError("custom", f"{kind} custom values must be a mapping", values)
        found = []
        for key, value in values.items():
            spec = self.spec(kind, key)
            if value is not None:
                found.append((spec, value))
        return found

    def validate(self, kind: str, values: Mapping[str, object]) -> dict[str, CustomValue]:
        """The host's ``values`` for a record of ``kind``, normalised, with defaults applied.

        A None value (or a multiple choice of none) counts as absent. Refuses
        unknown and retired fields, missing required ones and values that break
        their field's rules.
        """
        given: dict[str, CustomValue] = {}
        for spec, value in self._items(kind, values):
            if spec.retired:
                raise ValidationError(spec.field, f"{kind} field is retired")
            given[spec.name] = _checked(kind, spec, value)
        result: dict[str, CustomValue] = {}
        for spec in self._fields(kind).values():
            value = given.get(spec.name, spec.default)
            if spec.retired:
                continue
            if value is None or value == ():  # no choice made is no value
                if spec.required:
                    raise ValidationError(spec.field, f"{kind} field is required")
                continue
            result[spec.name] = value
        return result

    def _stored(self, kind: str, values: object) -> dict[str, CustomValue]:
        """Stored values: type-checked and normalised, retired fields kept, no defaults."""
        return {spec.name: _checked(kind, spec, value) for spec, value in self._items(kind, values)}

    def to_json(self, kind: str, values: Mapping[str, CustomValue]) -> dict[str, JsonValue]:
        """The JSON form of a record's custom values (as `validate` or `from_json` gave them)."""
        stored = self._stored(kind, values)
        return {name: encode(self.spec(kind, name).type, v) for name, v in stored.items()}

    def from_json(self, kind: str, data: object) -> dict[str, CustomValue]:
        """Custom values read back from their JSON form, strictly.

        Retired fields are read too (their stored values stay); defaults and
        required fields are `validate`'s business, not the reader's.
        """
        if not isinstance(data, dict):
            raise ValidationError("custom", f"{kind} custom values must be a JSON object", data)
        result: dict[str, CustomValue] = {}
        for key, item in data.items():
            spec = self.spec(kind, key)
            if item is None:
                continue
            try:
                result[spec.name] = decode(
                    spec.type,
                    item,
                    choices=spec.choices,
                    max_length=spec.max_length,
                    multiline=spec.multiline,
                )
            except ValidationError as exc:
                raise _in_kind(exc.at(spec.field), kind) from None
        return result

    def index_fields(self, kind: str) -> tuple[IndexField, ...]:
        """The index fields of the indexed, live custom fields of ``kind``."""
        return tuple(
            index
            for spec in self._fields(kind).values()
            if spec.indexed and not spec.retired
            for index in spec.index_fields()
        )

    def index_values(self, kind: str, values: Mapping[str, CustomValue]) -> dict[str, IndexValue]:
        """The values of `index_fields` for a record's custom values (None where absent)."""
        stored = self._stored(kind, values)
        result: dict[str, IndexValue] = {}
        for spec in self._fields(kind).values():
            if spec.indexed and not spec.retired:
                result.update(index_of(spec.name, spec.type, stored.get(spec.name)))
        return result


def _checked(kind: str, spec: FieldSpec, value: object) -> CustomValue:
    try:
        return spec.normalise(value)
    except ValidationError as exc:
        raise _in_kind(exc.at(spec.field), kind) from None


def _in_kind(exc: ValidationError, kind: str) -> ValidationError:
    return ValidationError(exc.field, f"{kind} field {exc.rule}", exc.value, personal=exc.personal)
