"""Finding and merging duplicate contacts, accounts and leads, and undoing a merge.

A merge happens in one unit of work: the survivor takes what it lacked from
the duplicates (`crmkit.parties.merge`), each duplicate is retired pointing
at the survivor, activities, opportunities and account roles move to the
survivor, and a `MergeRecord` keeps who merged, when, and everything that
moved. `Duplicates.undo` plays that record backwards.

The survivor is the record the caller names, or else the one
`crmkit.parties.dedupe.choose_survivor` picks: the most filled fields, then
the oldest, then the smallest id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from crmkit.activities.activity import RecordRef
from crmkit.app.records import (
    ACCOUNTS,
    ACTIVITIES,
    CONTACTS,
    LEADS,
    MERGES,
    OPPORTUNITIES,
    RecordType,
    lead_candidate,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.parties.dedupe import (
    Candidate,
    DedupeConfig,
    DedupeResult,
    Match,
    blocking_keys,
    check,
    choose_survivor,
    find_duplicates,
)
from crmkit.parties.merge import absorb, revert
from crmkit.parties.merge_record import MergeRecord, Relink
from crmkit.parties.party import PartyStatus
from crmkit.ports.query import Condition, Eq, In
from crmkit.sales.lead import Lead
from crmkit.sales.lead_edits import UPDATABLE
from crmkit.sales.lead_events import LeadChanged

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

Progress = Callable[[int], None]
"""Called with the number of records read so far."""

_BATCH = 500


class Duplicates:
    """Duplicate detection and merges of one unit of work (``uow.duplicates``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def _type(self, kind: str) -> RecordType[Any]:
        types: dict[str, RecordType[Any]] = {
            "contact": CONTACTS,
            "account": ACCOUNTS,
            "lead": LEADS,
        }
        if kind not in types:
            raise ValidationError("kind", "must be contact, account or lead", kind)
        return types[kind]

    def _candidate(self, kind: str, record: Any) -> Candidate:
        if kind == "account":
            return Candidate.of_account(record)
        if kind == "lead":
            return lead_candidate(record)
        return Candidate.of_contact(record)

    def _live(self, kind: str) -> tuple[Condition, ...]:
        """The condition that leaves out merged (and, for parties, archived) records."""
        if kind == "lead":
            return ()  # merged leads are left out by `_active`
        return (Eq("status", PartyStatus.ACTIVE.value),)

    @staticmethod
    def _active(record: Any) -> bool:
        return record.merged_into is None

    @staticmethod
    def _listed(kind: str, record: Any) -> bool:
        """Whether a record counts in duplicate checks: archived parties do not."""
        return kind == "lead" or record.status is PartyStatus.ACTIVE

    def scan(
        self,
        kind: str,
        *,
        config: DedupeConfig | None = None,
        progress: Progress | None = None,
    ) -> DedupeResult:
        """Every likely duplicate among the active records of ``kind``, read in pages."""
        rtype = self._type(kind)
        read = 0

        def candidates() -> Iterator[Candidate]:
            nonlocal read
            for record in self._uow.find_all(rtype, self._live(kind)):
                read += 1
                if not self._active(record):
                    continue
                if progress is not None and read % _BATCH == 0:
                    progress(read)
                yield self._candidate(kind, record)

        result = find_duplicates(candidates(), config or DedupeConfig())
        if progress is not None:
            progress(read)
        return result

    def matches(
        self, kind: str, candidate: Candidate, *, config: DedupeConfig | None = None
    ) -> tuple[Match, ...]:
        """Stored active records of ``kind`` that ``candidate`` likely duplicates, best first.

        Only records sharing a blocking key are compared, found through the
        ``dedupe_keys`` index, so the check costs a query, not a scan.
        """
        rtype = self._type(kind)
        keys = blocking_keys(candidate)
        if not keys:
            return ()
        found = self._uow.find(rtype, (In("dedupe_keys", keys), *self._live(kind)), limit=200)
        # Records this unit staged are not in the store yet, but are duplicates all the same
        # (a CSV file that holds one person twice).
        wanted = set(keys)
        staged = [
            r
            for r in self._uow.staged(rtype)
            if wanted.intersection(blocking_keys(self._candidate(kind, r)))
        ]
        records = {r.id: r for r in (*found.items, *staged)}
        existing = [
            self._candidate(kind, r)
            for r in records.values()
            if r.id != candidate.id and self._active(r) and self._listed(kind, r)
        ]
        return check(candidate, existing, config or DedupeConfig())

    def merge(
        self, kind: str, ids: Sequence[str], *, survivor_id: str | None = None
    ) -> MergeRecord:
        """Merge the records ``ids`` into one survivor; returns the audit record."""
        rtype = self._type(kind)
        unique = list(dict.fromkeys(ids))
        if len(unique) < 2:
            raise ValidationError("ids", "must name at least two records")
        records = {id: self._uow.get(rtype, id) for id in unique}
        if survivor_id is None:
            survivor_id = choose_survivor([self._candidate(kind, r) for r in records.values()]).id
        elif survivor_id not in records:
            raise ValidationError("survivor_id", "must be one of ids", survivor_id)
        stamp = self._uow.stamp()
        survivor = records.pop(survivor_id)
        duplicates = list(records.values())
        before = self._uow.dump(survivor)
        merged, changed = (
            absorb_leads(survivor, duplicates, stamp)
            if kind == "lead"
            else absorb(survivor, duplicates, stamp)
        )
        for duplicate in duplicates:
            retired, event = duplicate.merge_into(survivor.id, stamp)
            self._uow.save(rtype, retired, event)
        old_ids = [d.id for d in duplicates]
        relinks = [*self._move_activities(kind, old_ids, survivor.id)]
        if kind == "account":
            relinks += self._move_roles(old_ids, survivor.id)
        if kind in ("account", "contact"):
            relinks += self._move_opportunities(kind, old_ids, survivor.id)
        if changed is not None:
            self._uow.save(rtype, merged, changed)
        record, recorded = MergeRecord.record(
            self._uow.new_id(),
            stamp,
            kind=kind,
            survivor_id=survivor.id,
            duplicate_ids=tuple(d.id for d in duplicates),
            survivor_version=merged.version,
            survivor_before=before,
            fields=() if changed is None else changed.fields,
            relinks=tuple(relinks),
        )
        return self._uow.save(MERGES, record, recorded)

    def _move_activities(self, kind: str, old_ids: list[str], new_id: str) -> Iterator[Relink]:
        for old_id in old_ids:
            for activity in list(self._uow.find_all(ACTIVITIES, (Eq("links", old_id),))):
                activity = self._uow.get(ACTIVITIES, activity.id)  # this unit's latest copy
                moved, event = activity.relink(old_id, RecordRef(kind, new_id), self._uow.stamp())
                self._uow.save(ACTIVITIES, moved, event)
                yield Relink("activity", activity.id, old_id, new_id)

    def _move_roles(self, old_ids: list[str], new_id: str) -> Iterator[Relink]:
        for old_id in old_ids:
            for contact in list(self._uow.find_all(CONTACTS, (Eq("account_ids", old_id),))):
                contact = self._uow.get(CONTACTS, contact.id)
                moved, event = contact.move_role(old_id, new_id, self._uow.stamp())
                self._uow.save(CONTACTS, moved, event)
                yield Relink("contact", contact.id, old_id, new_id)

    def _move_opportunities(self, kind: str, old_ids: list[str], new_id: str) -> Iterator[Relink]:
        field = "account_id" if kind == "account" else "contact_ids"
        stamp = self._uow.stamp()
        for old_id in old_ids:
            for deal in list(self._uow.find_all(OPPORTUNITIES, (Eq(field, old_id),))):
                deal = self._uow.get(OPPORTUNITIES, deal.id)
                moved, event = (
                    deal.relink_account(new_id, stamp)
                    if kind == "account"
                    else deal.relink_contact(old_id, new_id, stamp)
                )
                self._uow.save(OPPORTUNITIES, moved, event)
                yield Relink("opportunity", deal.id, old_id, new_id)

    def undo(self, merge_id: str) -> MergeRecord:
        """Undo a merge, if its survivor has not changed since; returns the updated record."""
        record = self._uow.get(MERGES, merge_id)
        rtype = self._type(record.kind)
        survivor = self._uow.get(rtype, record.survivor_id)
        stamp = self._uow.stamp()
        undone, event = record.undo(survivor.version, stamp)
        for relink in reversed(record.relinks):
            self._move_back(record.kind, relink)
        if record.fields:
            before = self._uow.load(rtype, record.survivor_before)
            restored, changed = (
                revert_lead(survivor, before, record.fields, stamp)
                if record.kind == "lead"
                else revert(survivor, before, record.fields, stamp)
            )
            self._uow.save(rtype, restored, changed)
        for duplicate_id in record.duplicate_ids:
            back, unmerged = self._uow.get(rtype, duplicate_id).unmerge(stamp)
            self._uow.save(rtype, back, unmerged)
        return self._uow.save(MERGES, undone, event)

    def _move_back(self, kind: str, relink: Relink) -> None:
        stamp = self._uow.stamp()
        if relink.kind == "activity":
            activity = self._uow.get(ACTIVITIES, relink.id)
            moved, event = activity.relink(relink.new_id, RecordRef(kind, relink.old_id), stamp)
            self._uow.save(ACTIVITIES, moved, event)
        elif relink.kind == "contact":
            contact = self._uow.get(CONTACTS, relink.id)
            back, linked = contact.move_role(relink.new_id, relink.old_id, stamp)
            self._uow.save(CONTACTS, back, linked)
        elif relink.kind == "opportunity":
            deal = self._uow.get(OPPORTUNITIES, relink.id)
            deal_back, relinked = (
                deal.relink_account(relink.old_id, stamp)
                if kind == "account"
                else deal.relink_contact(relink.new_id, relink.old_id, stamp)
            )
            self._uow.save(OPPORTUNITIES, deal_back, relinked)


def absorb_leads(
    survivor: Lead, duplicates: Sequence[Lead], stamp: Stamp
) -> tuple[Lead, LeadChanged | None]:
    """The surviving lead with the contact details it lacked taken from the duplicates."""
    changes: dict[str, Any] = {}
    for duplicate in duplicates:
        for name in UPDATABLE:
            if getattr(survivor, name) is None and name not in changes:
                value = getattr(duplicate, name)
                if value is not None:
                    changes[name] = value
    if not changes:
        return survivor, None
    return survivor.update(stamp, **changes)


def revert_lead(
    survivor: Lead, before: Lead, fields: Sequence[str], stamp: Stamp
) -> tuple[Lead, LeadChanged]:
    """Undo `absorb_leads`: ``fields`` go back to their values in ``before`` (empty: cleared)."""
    values = {name: getattr(before, name) for name in fields}
    return survivor.update(stamp, **{k: "" if v is None else v for k, v in values.items()})
