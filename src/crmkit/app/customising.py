"""Custom values on the store: validated against the host's specs, indexed like built-ins.

The host passes its `CustomFields` to the CRM (``Crm(custom_fields=...)``).
Then every create command of a customisable kind takes ``custom={...}``, and
its service offers ``set_custom(id, {...})``; both validate the values through
the specs (defaults filled in, required fields enforced) and record a
`CustomValuesChanged` event. Indexed fields become index fields named
``cf_<name>`` of the kind, written with every save, so that queries, segments'
store queries and grouped aggregates filter, order and group by them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from crmkit.app.record_type import RecordType
from crmkit.extension.custom_fields import CustomFields
from crmkit.kernel.custom import CustomValues, with_custom
from crmkit.kernel.errors import ValidationError
from crmkit.ports.storage import IndexValue, KindSpec, StoreSchema

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

T = TypeVar("T")

CUSTOMISABLE = ("contact", "account", "lead", "opportunity", "case", "complaint", "activity")
"""The kinds whose records hold custom values."""


def check_custom_fields(value: object) -> CustomFields:
    """``value`` as the CRM's `CustomFields` (None: none); only customisable kinds."""
    fields = CustomFields(()) if value is None else value
    if not isinstance(fields, CustomFields):
        raise ValidationError("custom_fields", "must be CustomFields", type(value).__name__)
    for i, spec in enumerate(fields.specs):
        if spec.kind not in CUSTOMISABLE:
            raise ValidationError(
                f"custom_fields.specs[{i}].kind",
                f"must be one of {', '.join(CUSTOMISABLE)}",
                spec.kind,
            )
    return fields


def _profile_custom(record: Any) -> CustomValues:
    return record.profile.custom  # type: ignore[no-any-return]


MIRRORED: Mapping[str, tuple[str, Callable[[Any], CustomValues]]] = {
    "segment_profile": ("contact", _profile_custom),
}
"""Read models indexed by another kind's custom fields: kind to (that kind, its values).

Segment profiles carry their contact's custom values, so segments filter on them in the store.
"""


def _source(kind: str) -> str:
    return MIRRORED[kind][0] if kind in MIRRORED else kind


def extended(schema: StoreSchema, fields: CustomFields) -> StoreSchema:
    """``schema`` with the index fields of the indexed custom fields added to their kinds
    (and to the kinds that mirror them, see `MIRRORED`)."""
    return StoreSchema(
        tuple(
            KindSpec(spec.kind, (*spec.indexes, *fields.index_fields(_source(spec.kind))))
            for spec in schema.kinds
        )
    )


def custom_index(fields: CustomFields, kind: str, record: Any) -> dict[str, IndexValue]:
    """The ``cf_`` index values of ``record`` (none unless its kind has indexed fields)."""
    source = _source(kind)
    if not fields.index_fields(source):
        return {}
    values = MIRRORED[kind][1](record) if kind in MIRRORED else record.custom
    return fields.index_values(source, values)


def customised(uow: UnitOfWork, rtype: RecordType[T], record: T, values: object) -> tuple[T, Any]:
    """``record`` with ``values`` set (None removes one) and the event, or no event if unchanged.

    Values are validated with the CRM's specs: unknown and retired fields are
    refused, defaults fill absent fields, required ones must hold a value.
    Stored values of retired fields are kept as they are.
    """
    fields: CustomFields = uow.custom_fields
    if not isinstance(values, Mapping):
        raise ValidationError("custom", "must be a mapping of field names to values", values)
    current: CustomValues = record.custom  # type: ignore[attr-defined]
    kind = rtype.kind
    kept = {
        name: value
        for name, value in current.items()
        if name not in values and fields.spec(kind, name).retired
    }
    live = {name: value for name, value in current.items() if name not in kept}
    live.update(values)
    new = CustomValues({**fields.validate(kind, live), **kept})
    if new == current:
        return record, None
    return with_custom(record, kind, new, uow.stamp())  # type: ignore[type-var]


class Customising(Generic[T]):
    """Mixin of the services of customisable kinds: ``set_custom``."""

    _type: RecordType[T]
    _uow: UnitOfWork

    def set_custom(self, id: str, values: Mapping[str, object]) -> T:
        """Set custom values of record ``id``: given ones replace, a None removes one.

        Raises `ValidationError` naming ``custom.<name>`` and the kind for an
        unknown or retired field, a missing required one or a value that breaks
        its field's rule.
        """
        record = self._uow.get(self._type, id)
        changed, event = customised(self._uow, self._type, record, values)
        return record if event is None else self._uow.save(self._type, changed, event)

    def _created(self, record: T, custom: Mapping[str, object], *events: Any, **save: Any) -> T:
        """Save a new ``record`` with its creation ``events`` and its custom values."""
        changed, event = customised(self._uow, self._type, record, custom)
        more = () if event is None else (event,)
        return self._uow.save(self._type, changed, *events, *more, **save)


__all__ = [
    "CUSTOMISABLE",
    "MIRRORED",
    "Customising",
    "check_custom_fields",
    "custom_index",
    "customised",
    "extended",
]
