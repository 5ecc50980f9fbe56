"""What accounts and contacts share: status, owner, tags and archiving."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

import attrs

from crmkit.kernel.aggregate import Evolving
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.parties.events import PartyChanged, PartyMerged, PartyUnmerged
from crmkit.parties.values import clean_tags


class PartyStatus(StrEnum):
    """Whether a party is in use or archived."""

    ACTIVE = "active"
    ARCHIVED = "archived"


def party_lifecycle(name: str) -> Lifecycle[PartyStatus]:
    """The lifecycle of a party kind: active or archived; archived ones leave default queries."""
    return Lifecycle(
        name,
        PartyStatus,
        PartyStatus.ACTIVE,
        [
            Transition("archive", PartyStatus.ACTIVE, PartyStatus.ARCHIVED),
            Transition("restore", PartyStatus.ARCHIVED, PartyStatus.ACTIVE, guard="not merged"),
            Transition("merge", PartyStatus.ACTIVE, PartyStatus.ARCHIVED, guard="into a survivor"),
            Transition("unmerge", PartyStatus.ARCHIVED, PartyStatus.ACTIVE, guard="merged"),
        ],
    )


def optional_id(value: object, field: str = "id") -> str | None:
    """None, or a valid id; otherwise `ValidationError` naming ``field``."""
    return None if value is None else check_id(value, field)


def optional_owner(value: object) -> str | None:
    """Converter for the optional ``owner_id`` field (a user id)."""
    return optional_id(value, "owner_id")


class PartyCommands(Evolving):
    """Commands every party has. Subclasses name their event classes."""

    __slots__ = ()

    _changed: ClassVar[type[PartyChanged]]
    _archived: ClassVar[type[DomainEvent]]
    _restored: ClassVar[type[DomainEvent]]
    _merged: ClassVar[type[PartyMerged]]
    _unmerged: ClassVar[type[PartyUnmerged]]
    _lifecycle: ClassVar[Lifecycle[PartyStatus]]

    id: str
    version: int
    status: PartyStatus
    owner_id: str | None
    tags: tuple[str, ...]
    updated_at: datetime
    merged_into: str | None

    def _step(self, stamp: Stamp, **changes: Any) -> Self:
        return self._evolve(version=self.version + 1, updated_at=stamp.at, **changes)

    def _change(self, stamp: Stamp, **changes: Any) -> tuple[Self, PartyChanged]:
        """Apply validated field changes and report which fields changed."""
        if self.status is PartyStatus.ARCHIVED:
            raise self._lifecycle.refuse(self.status, "change", "restore it first")
        changed = tuple(sorted(k for k, v in changes.items() if getattr(self, k) != v))
        if not changed:
            raise ValidationError("changes", "change nothing")
        new = self._step(stamp, **{k: changes[k] for k in changed})
        return new, self._event(self._changed, new, stamp, fields=changed)

    def _update(self, stamp: Stamp, given: dict[str, Any]) -> tuple[Self, PartyChanged]:
        """Change the fields given as not None, validating them through the constructor."""
        present = {
            k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None
        }
        checked = attrs.evolve(self, **present)  # type: ignore[misc]
        return self._change(stamp, **{k: getattr(checked, k) for k in present})

    def _event(self, cls: type[Any], new: Self, stamp: Stamp, **data: Any) -> Any:
        return cls(
            aggregate_id=new.id,
            version=new.version,
            occurred_at=stamp.at,
            actor=stamp.actor,
            **data,
        )

    def tag(self, tags: tuple[str, ...] | list[str], stamp: Stamp) -> tuple[Self, PartyChanged]:
        """Add tags (case-folded; ones it has already are ignored)."""
        return self._change(stamp, tags=clean_tags((*self.tags, *clean_tags(tags))))

    def untag(self, tags: tuple[str, ...] | list[str], stamp: Stamp) -> tuple[Self, PartyChanged]:
        """Remove tags."""
        drop = set(clean_tags(tags))
        return self._change(stamp, tags=tuple(t for t in self.tags if t not in drop))

    def assign(self, owner_id: str | None, stamp: Stamp) -> tuple[Self, PartyChanged]:
        """Give the party an owner (a user id), or none."""
        return self._change(stamp, owner_id=optional_owner(owner_id))

    def archive(self, stamp: Stamp) -> tuple[Self, DomainEvent]:
        """Archive: the party leaves default queries but keeps its history."""
        new = self._step(stamp, status=self._lifecycle.target(self.status, "archive"))
        return new, self._event(self._archived, new, stamp)

    def restore(self, stamp: Stamp) -> tuple[Self, DomainEvent]:
        """Bring an archived party back (a merged one comes back only by undoing the merge)."""
        status = self._lifecycle.target(self.status, "restore")
        if self.merged_into is not None:
            raise self._lifecycle.refuse(self.status, "restore", "it was merged; undo the merge")
        new = self._step(stamp, status=status)
        return new, self._event(self._restored, new, stamp)

    def merge_into(self, survivor_id: str, stamp: Stamp) -> tuple[Self, PartyMerged]:
        """Retire this party as a duplicate of ``survivor_id``: it is archived and points there."""
        survivor_id = check_id(survivor_id, "survivor_id")
        if survivor_id == self.id:
            raise ValidationError("survivor_id", "must be another record", survivor_id)
        new = self._step(
            stamp, status=self._lifecycle.target(self.status, "merge"), merged_into=survivor_id
        )
        return new, self._event(self._merged, new, stamp, into=survivor_id)

    def unmerge(self, stamp: Stamp) -> tuple[Self, PartyUnmerged]:
        """Undo `merge_into`: the party is active again and stands on its own."""
        status = self._lifecycle.target(self.status, "unmerge")
        if self.merged_into is None:
            raise self._lifecycle.refuse(self.status, "unmerge", "it was not merged")
        new = self._step(stamp, status=status, merged_into=None)
        return new, self._event(self._unmerged, new, stamp, into=self.merged_into)
