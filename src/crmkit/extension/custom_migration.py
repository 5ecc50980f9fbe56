"""What a store must do when the host changes its custom field specs.

Stored records keep their custom values through every change, so some changes
are refused: a field is never removed (retire it), never changes type (retire
it and add a new one), never loses a choice and never gets a shorter text
limit, because values already stored would no longer read back. Everything
else is planned: new fields, fields to index (the store backfills their index
from stored values), index fields to drop, retired and revived fields.
"""

from __future__ import annotations

import attrs

from crmkit.extension._custom_values import FieldType, text_limit
from crmkit.extension.custom_fields import CustomFields, FieldSpec
from crmkit.kernel.custom import CustomValue, CustomValues, from_json, to_json
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.serialization import dumps, loads
from crmkit.ports.storage import IndexField


@attrs.frozen
class Migration:
    """The plan for moving a store from one `CustomFields` to another.

    Each tuple holds the new specs of the fields concerned.

    Attributes:
        added: Fields that are new; stored records hold no value for them (a
            default is given when a record is next validated).
        made_indexed: Live fields to index now (newly indexed, or revived and
            indexed): the store adds their index fields and backfills them from
            the stored values with `CustomFields.index_values`.
        unindexed: Fields whose index fields the store may drop (no longer
            indexed, or retired).
        retired: Fields retired now; their stored values stay but are no longer
            accepted, required or indexed.
        revived: Retired fields made live again.
        newly_required: Fields that became required without a default: stored
            records lacking them fail `CustomFields.validate` until given a value.
    """

    added: tuple[FieldSpec, ...] = ()
    made_indexed: tuple[FieldSpec, ...] = ()
    unindexed: tuple[FieldSpec, ...] = ()
    retired: tuple[FieldSpec, ...] = ()
    revived: tuple[FieldSpec, ...] = ()
    newly_required: tuple[FieldSpec, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether the change needs nothing from the store or the records."""
        return not any(attrs.astuple(self, recurse=False))

    def backfill(self, kind: str) -> tuple[FieldSpec, ...]:
        """Fields of ``kind`` whose index the store must fill from stored records."""
        return tuple(spec for spec in self.made_indexed if spec.kind == kind)

    def dropped_index_fields(self, kind: str) -> tuple[IndexField, ...]:
        """Index fields of ``kind`` that no longer exist."""
        return tuple(
            index for spec in self.unindexed if spec.kind == kind for index in spec.index_fields()
        )


def plan_migration(old: CustomFields, new: CustomFields) -> Migration:
    """The `Migration` from ``old`` to ``new``; `ValidationError` naming the field if refused.

    >>> old = CustomFields([FieldSpec("lead", "tier", "choice", choices=("a", "b"))])
    >>> new = CustomFields([FieldSpec("lead", "tier", "choice", choices=("a", "b"), indexed=True)])
    >>> [spec.name for spec in plan_migration(old, new).made_indexed]
    ['tier']
    >>> plan_migration(new, CustomFields([FieldSpec("lead", "tier", "text")]))
    Traceback (most recent call last):
    ...
    crmkit.kernel.errors.ValidationError: custom.tier: lead field cannot change type ...
    """
    for label, fields in (("old", old), ("new", new)):
        if not isinstance(fields, CustomFields):
            raise ValidationError(label, "must be CustomFields", fields)
    added: list[FieldSpec] = []
    made_indexed: list[FieldSpec] = []
    unindexed: list[FieldSpec] = []
    retired: list[FieldSpec] = []
    revived: list[FieldSpec] = []
    newly_required: list[FieldSpec] = []
    for before in old.specs:
        names = {spec.name for spec in new.for_kind(before.kind)}
        if before.name not in names:
            raise ValidationError(
                before.field,
                f"{before.kind} field cannot be removed: stored values keep it; retire it instead",
            )
    for after in new.specs:
        known = {spec.name: spec for spec in old.for_kind(after.kind)}
        if after.name not in known:
            added.append(after)
            continue
        before = known[after.name]
        _check_compatible(before, after)
        live_before = not before.retired
        live_after = not after.retired
        if live_before and not live_after:
            retired.append(after)
        if live_after and not live_before:
            revived.append(after)
        indexed_before = before.indexed and live_before
        indexed_after = after.indexed and live_after
        if indexed_after and not indexed_before:
            made_indexed.append(after)
        if indexed_before and not indexed_after:
            unindexed.append(before)
        required_before = before.required and live_before and before.default is None
        if live_after and after.required and after.default is None and not required_before:
            newly_required.append(after)
    return Migration(
        tuple(added),
        tuple(made_indexed),
        tuple(unindexed),
        tuple(retired),
        tuple(revived),
        tuple(newly_required),
    )


def _check_compatible(before: FieldSpec, after: FieldSpec) -> None:
    """Refuse a change after which values stored under ``before`` would not read back."""
    field, kind = before.field, before.kind
    if before.type is not after.type:
        raise ValidationError(
            field,
            f"{kind} field cannot change type from {before.type} to {after.type}:"
            " retire it and add a new field",
        )
    dropped = [choice for choice in before.choices if choice not in after.choices]
    if dropped:
        raise ValidationError(
            field, f"{kind} field cannot drop a choice that stored values may hold", dropped[0]
        )
    if before.type is FieldType.TEXT:
        if before.multiline and not after.multiline:
            raise ValidationError(field, f"{kind} field cannot stop being multiline")
        limit = text_limit(before.max_length, before.multiline)
        if text_limit(after.max_length, after.multiline) < limit:
            raise ValidationError(
                field, f"{kind} field cannot shorten max_length below {limit}", after.max_length
            )


def dump_specs(fields: CustomFields) -> str:
    """``fields`` as JSON text, so that a store can keep the specs it was migrated to.

    >>> fields = CustomFields([FieldSpec("lead", "tier", "choice", choices=("a", "b"))])
    >>> load_specs(dump_specs(fields)) == fields
    True
    """
    if not isinstance(fields, CustomFields):
        raise ValidationError("fields", "must be CustomFields", fields)
    specs = []
    for spec in fields.specs:
        data = attrs.asdict(spec, recurse=False)
        data["type"] = str(spec.type)
        data["choices"] = list(spec.choices)
        data["default"] = None if spec.default is None else _json_of(spec.default)
        specs.append(data)
    return dumps(specs)


def load_specs(text: str) -> CustomFields:
    """The `CustomFields` that `dump_specs` wrote; `ValidationError` naming the part if not."""
    data = loads(text)
    if not isinstance(data, list):
        raise ValidationError("specs", "must be a JSON list", personal=True)
    specs = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValidationError(f"specs[{i}]", "must be a JSON object", personal=True)
        default = item.get("default")
        if default is not None:
            item = {**item, "default": from_json({"default": default})["default"]}
        specs.append(item)
    return CustomFields(specs)


def _json_of(value: CustomValue) -> object:
    return to_json(CustomValues({"default": value}))["default"]
