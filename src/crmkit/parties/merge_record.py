"""The audit record of a merge of duplicates, which also makes the merge undoable.

A merge changes several records: the survivor takes what it lacked, each
duplicate is retired and points at the survivor, and activities,
opportunities and account roles move from the duplicates to the survivor.
A `MergeRecord` keeps all of it: who merged and when, the survivor as it was
before, the fields it took and every link that moved. Undoing a merge
replays that record backwards, and is refused once the survivor has changed
again, so that no later work is silently lost.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Self

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, of_type, tuple_of, version
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent, Stamp
from crmkit.kernel.ids import check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.text import clean_token


class MergeStatus(StrEnum):
    """Whether a merge stands or was undone."""

    DONE = "done"
    UNDONE = "undone"


MERGE_LIFECYCLE = Lifecycle(
    "merge",
    MergeStatus,
    MergeStatus.DONE,
    [Transition("undo", MergeStatus.DONE, MergeStatus.UNDONE, guard="survivor unchanged since")],
    final=[MergeStatus.UNDONE],
)
"""A merge is done when recorded and can be undone once."""


def _token(value: object) -> str:
    return clean_token(value, "kind")


def _id(value: object) -> str:
    return check_id(value, "id")


@attrs.frozen
class Relink:
    """A record whose link moved from a duplicate to the survivor.

    Attributes:
        kind: The moved record's kind, for example ``activity`` or ``opportunity``.
        id: The moved record's id.
        old_id: The duplicate it pointed at.
        new_id: The survivor it points at now.
    """

    kind: str = attrs.field(converter=_token)
    id: str = attrs.field(converter=_id)
    old_id: str = attrs.field(converter=_id)
    new_id: str = attrs.field(converter=_id)


@attrs.frozen
class MergeRecord(Replayable):
    """One merge of duplicates into a survivor.

    Attributes:
        id: The merge's id.
        version: Grows by one with every change.
        kind: The merged records' kind: ``contact``, ``account`` or ``lead``.
        survivor_id: The record that was kept.
        duplicate_ids: The records merged into it.
        survivor_version: The survivor's version right after the merge.
        survivor_before: The survivor as stored before the merge (JSON; personal data).
        fields: The survivor's fields that the merge changed.
        relinks: Every link that moved to the survivor.
        merged_at: When the merge happened.
        merged_by: Who merged.
        status: Done or undone.
        undone_at: When it was undone.
        undone_by: Who undid it.
    """

    id: str = attrs.field(converter=_id)
    version: int = attrs.field(validator=version)
    kind: str = attrs.field(converter=_token)
    survivor_id: str = attrs.field(converter=_id)
    duplicate_ids: tuple[str, ...] = attrs.field(validator=tuple_of(str))
    survivor_version: int = attrs.field(validator=of_type(int))
    survivor_before: str = attrs.field(validator=of_type(str), metadata=PERSONAL, repr=False)
    fields: tuple[str, ...] = attrs.field(validator=tuple_of(str))
    relinks: tuple[Relink, ...] = attrs.field(validator=tuple_of(Relink))
    merged_at: datetime = attrs.field(validator=aware())
    merged_by: str = attrs.field(validator=of_type(str))
    status: MergeStatus = attrs.field(default=MergeStatus.DONE, validator=of_type(MergeStatus))
    undone_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    undone_by: str | None = attrs.field(default=None, validator=of_type(str, optional=True))

    @classmethod
    def record(
        cls,
        id: str,
        stamp: Stamp,
        *,
        kind: str,
        survivor_id: str,
        duplicate_ids: tuple[str, ...],
        survivor_version: int,
        survivor_before: str,
        fields: tuple[str, ...],
        relinks: tuple[Relink, ...],
    ) -> tuple[MergeRecord, MergeRecorded]:
        """Record a merge that has just been made."""
        if not duplicate_ids:
            raise ValidationError("duplicate_ids", "must name at least one duplicate")
        event = MergeRecorded(
            aggregate_id=_id(id),
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            kind=kind,
            survivor_id=survivor_id,
            duplicate_ids=tuple(_id(d) for d in duplicate_ids),
            survivor_version=survivor_version,
            survivor_before=survivor_before,
            fields=fields,
            relinks=relinks,
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The record from its `MergeRecorded` event."""
        if not isinstance(event, MergeRecorded):
            raise ValidationError("events", "must start with merge_recorded", event.event_type)
        return cls(
            event.aggregate_id,
            event.version,
            event.kind,
            event.survivor_id,
            event.duplicate_ids,
            event.survivor_version,
            event.survivor_before,
            event.fields,
            event.relinks,
            event.occurred_at,
            event.actor,
        )

    def apply(self, event: DomainEvent) -> Self:
        """The record after `MergeUndone`."""
        if not isinstance(event, MergeUndone):
            raise ValidationError("events", "must be merge_undone", event.event_type)
        return self._evolve(
            version=event.version,
            status=MergeStatus.UNDONE,
            undone_at=event.occurred_at,
            undone_by=event.actor,
        )

    def undo(self, survivor_version: int, stamp: Stamp) -> tuple[MergeRecord, MergeUndone]:
        """Mark the merge undone; refused when the survivor has changed since the merge."""
        MERGE_LIFECYCLE.target(self.status, "undo")
        if survivor_version != self.survivor_version:
            raise MERGE_LIFECYCLE.refuse(
                self.status,
                "undo",
                f"the survivor changed since the merge (version {self.survivor_version}"
                f" then, {survivor_version} now)",
            )
        event = MergeUndone(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            survivor_id=self.survivor_id,
            duplicate_ids=self.duplicate_ids,
        )
        return self.apply(event), event


@attrs.frozen(kw_only=True)
class MergeRecorded(DomainEvent):
    """Duplicates were merged into a survivor.

    Attributes:
        kind: The merged records' kind.
        survivor_id: The record kept.
        duplicate_ids: The records merged into it.
        survivor_version: The survivor's version right after the merge.
        survivor_before: The survivor before the merge (JSON; personal data).
        fields: The survivor's fields the merge changed.
        relinks: The links that moved.
    """

    event_type: ClassVar[str] = "merge_recorded"
    aggregate_kind: ClassVar[str] = "merge"
    kind: str
    survivor_id: str
    duplicate_ids: tuple[str, ...]
    survivor_version: int
    survivor_before: str = attrs.field(metadata=PERSONAL, repr=False)
    fields: tuple[str, ...]
    relinks: tuple[Relink, ...]

    def summary(self) -> str:
        """Timeline line."""
        return f"merged {len(self.duplicate_ids)} duplicate {self.kind}(s) into {self.survivor_id}"

    def subjects(self) -> tuple[str, ...]:
        """The merge, the survivor and every duplicate."""
        return (self.aggregate_id, self.survivor_id, *self.duplicate_ids)


@attrs.frozen(kw_only=True)
class MergeUndone(DomainEvent):
    """A merge was undone: the duplicates stand on their own again.

    Attributes:
        survivor_id: The record that had been kept.
        duplicate_ids: The records split off again.
    """

    event_type: ClassVar[str] = "merge_undone"
    aggregate_kind: ClassVar[str] = "merge"
    survivor_id: str
    duplicate_ids: tuple[str, ...]

    def summary(self) -> str:
        """Timeline line."""
        return f"merge into {self.survivor_id} undone"

    def subjects(self) -> tuple[str, ...]:
        """The merge, the survivor and every duplicate."""
        return (self.aggregate_id, self.survivor_id, *self.duplicate_ids)


EVENTS: tuple[type[DomainEvent], ...] = (MergeRecorded, MergeUndone)
"""The events of merge records."""
