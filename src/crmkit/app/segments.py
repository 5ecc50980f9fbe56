"""Segments on the store: pushed down as a query where possible, the rest checked in Python.

``uow.segments.members(segment)`` streams the ids of the contacts in a
segment. A dynamic segment's criteria are split by
`crmkit.marketing.segment.plan`: the pushable part runs as a storage query
over the segment profiles (`crmkit.app.marketing_records.PROFILES`), and the
residual (radius, inactivity, ``any``, ``not``) is checked on each profile
fetched. Custom criteria are checked against the CRM's custom fields of
contacts, and pushed down when their field is indexed. ``pushdown=False``
reads every profile and checks the whole criterion in Python instead; both
give the same contacts, in id order, a batch at a time.
Only active contacts that were not merged away belong to a segment. Segments
read committed profiles: changes staged in the same unit of work are not seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from crmkit.app.marketing_records import PROFILES
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import require_aware
from crmkit.marketing.segment import (
    Criterion,
    Segment,
    SegmentKind,
    bind_custom,
    matches,
    plan,
)
from crmkit.ports.query import Condition, Eq

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

__all__ = ["Segments"]

_ACTIVE = Eq("active", "yes")


class Segments:
    """Evaluate segments on the store (``uow.segments``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def members(
        self,
        segment: Segment,
        *,
        as_of: datetime | None = None,
        pushdown: bool = True,
        batch: int = 500,
    ) -> Iterator[str]:
        """Stream the ids of the segment's contacts at ``as_of`` (default now), in id order.

        Memory stays bounded by ``batch`` profiles. A static segment yields the
        contacts of its snapshot that are still active.
        """
        if not isinstance(segment, Segment):
            raise ValidationError("segment", "must be a Segment", type(segment).__name__)
        at = self._uow.stamp().at if as_of is None else require_aware(as_of, "as_of")
        if segment.kind is SegmentKind.STATIC:
            return self._snapshot_members(segment.members)
        fields = self._uow.custom_fields
        if not pushdown:
            return self._checked((_ACTIVE,), bind_custom(segment.criteria, fields), at, batch)
        chosen = plan(segment.criteria, at, custom_fields=fields)
        return self._checked((*chosen.conditions, _ACTIVE), chosen.residual, at, batch)

    def _checked(
        self,
        where: tuple[Condition, ...],
        criterion: Criterion | None,
        at: datetime,
        batch: int,
    ) -> Iterator[str]:
        if criterion is None:  # everything was pushed down: no profile needs reading
            yield from self._uow.find_ids(PROFILES, where, batch=batch)
            return
        for record in self._uow.find_all(PROFILES, where, batch=batch, keep=False):
            if matches(criterion, record.profile, at):
                yield record.id

    def _snapshot_members(self, members: tuple[str, ...]) -> Iterator[str]:
        for contact_id in sorted(members):
            record = self._uow.get_or_none(PROFILES, contact_id)
            if record is not None and record.active:
                yield contact_id

    def count(self, segment: Segment, *, as_of: datetime | None = None) -> int:
        """How many contacts the segment holds at ``as_of``."""
        return sum(1 for _ in self.members(segment, as_of=as_of))

    def snapshot(self, segment: Segment, *, as_of: datetime | None = None) -> Segment:
        """A static copy of ``segment`` holding the contacts it has at ``as_of``.

        Keep it (`Segment.to_dict`) to send to the same list later, whoever joins since.
        """
        if not isinstance(segment, Segment):
            raise ValidationError("segment", "must be a Segment", type(segment).__name__)
        members = tuple(self.members(segment, as_of=as_of))
        return Segment(segment.id, segment.name, segment.criteria, SegmentKind.STATIC, members)
