"""``uow.work_queue``: a rep's queue for today, read from the store, and its marks.

`WorkQueue.today` reads only the rep's records, each with a pushed-down query
(keyset pages of `BATCH`, nothing decoded that the queue does not use):

1. the calls and tasks the rep owns (``owner_id``, ``kind``): the planned ones
   due before the end of today (in the rep's ``zone``), overdue ones included,
   are reasons, and the logged calls with an outcome teach the connect rates
   (through `crmkit.interactions.history.call_history`); each counts for the
   first contact (else lead) it links;
2. the rep's open leads (``owner_id``, ``status``): a converted lead's contact,
   or the lead itself;
3. the rep's active contacts (``owner_id``): their zones and accounts;
4. open cases on those contacts and the contacts of steps 1 and 2
   (``contact_id``, ``status``), for SLA risk at ``now``;
5. their contracts that are active or up for renewal with a notice period
   starting within `RENEWAL_LOOKAHEAD` (``contact_id``, ``status``,
   ``notice_from``);
6. for the subjects with a reason: their calls from step 1, learned with
   `crmkit.interactions.best_time.learn` into the connect rate of the current
   hour; their channel preferences (contact hours, do-not-call) and the rep's
   marks on them (by id).

Activities are read by owner rather than by linked record: a query on the
multi-valued ``links`` index cannot use an index on SQLite (the adapter
drives it from the table), while the owner index is selective. So the rates
learn from the rep's own calls; calls colleagues logged are not counted.

Memory is bounded by the rep's book (their contacts, leads, due tasks and
logged calls), never by the store. Scoring and order are
`crmkit.interactions.work_queue.rank`. With ``windows=True`` the best window
to call is computed for the returned items (only): a full
`crmkit.interactions.best_time.windows` search each, about 10 to 20 ms an
item with a rep's whole model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import attrs

from crmkit.activities.activity import Activity, ActivityKind
from crmkit.app.queue_records import QUEUE_MARKS, QueueMarkRecord, mark_id
from crmkit.app.records import ACTIVITIES, CASES, CONTACTS, CONTRACTS, LEADS, PREFERENCES
from crmkit.interactions.best_time import ContactHistory, learn
from crmkit.interactions.history import call_history
from crmkit.interactions.preferences import ChannelPreferences
from crmkit.interactions.work_queue import (
    DEFAULT_LIMIT,
    RENEWAL_LOOKAHEAD,
    Candidate,
    Mark,
    MarkState,
    QueueWeights,
    Reason,
    SlotRates,
    SubjectKind,
    WorkItem,
    item_key,
    next_window,
    parse_key,
    rank,
    renewal_reason,
    sla_reason,
    task_reason,
    timing,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.time import require_aware, zone as as_zone
from crmkit.ports.query import Condition, Eq, In, Range
from crmkit.sales.contract import ContractStatus
from crmkit.sales.lead import LeadStatus
from crmkit.service.case import CaseStatus

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

BATCH = 500
"""Ids per ``In`` query and records per page."""

_UTC = ZoneInfo("UTC")
_END = datetime.max.replace(tzinfo=UTC)
_OPEN_LEADS = tuple(
    s.value
    for s in (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.NURTURING, LeadStatus.QUALIFIED)
)
_OPEN_CASES = tuple(
    s.value
    for s in CaseStatus
    if s not in (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.MERGED)
)
_RENEWING = (ContractStatus.ACTIVE.value, ContractStatus.UP_FOR_RENEWAL.value)
_DUE_KINDS = (ActivityKind.CALL.value, ActivityKind.TASK.value)

Subject = tuple[SubjectKind, str]


@attrs.define
class _Book:
    """What the queue gathered about each subject of one rep."""

    reasons: dict[Subject, list[Reason]] = attrs.field(factory=lambda: defaultdict(list))
    scores: dict[Subject, int] = attrs.field(factory=dict)
    zones: dict[str, tuple[ZoneInfo, str | None]] = attrs.field(factory=dict)
    calls: dict[Subject, list[Activity]] = attrs.field(factory=lambda: defaultdict(list))


def _chunks(ids: Iterable[str]) -> Iterator[tuple[str, ...]]:
    chunk: list[str] = []
    for id in ids:
        chunk.append(id)
        if len(chunk) == BATCH:
            yield tuple(chunk)
            chunk = []
    if chunk:
        yield tuple(chunk)


def _subject(activity: Activity) -> Subject | None:
    for kind in (SubjectKind.CONTACT, SubjectKind.LEAD):
        for ref in activity.links:
            if ref.kind == kind.value:
                return kind, ref.id
    return None


class WorkQueue:
    """A rep's work queue of one unit of work: `today`, `snooze`, `done`."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def _now(self, now: datetime | None) -> datetime:
        return self._uow.stamp().at if now is None else require_aware(now, "now")

    def today(
        self,
        rep_id: str,
        *,
        now: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        weights: QueueWeights | None = None,
        zone: ZoneInfo | str = "UTC",
        windows: bool = False,
    ) -> tuple[WorkItem, ...]:
        """The rep's best ``limit`` items at ``now`` (default: the injected clock), best first.

        "Today" ends at the next midnight in ``zone``, the rep's zone. Items
        the rep snoozed or marked done are hidden as the module
        `crmkit.interactions.work_queue` says. ``windows=True`` fills each
        returned item's `WorkItem.next_window` (10 to 20 ms an item).
        """
        rep = check_id(rep_id, "rep_id")
        at = self._now(now)
        tz = as_zone(zone, "zone")
        if weights is not None and not isinstance(weights, QueueWeights):
            raise ValidationError("weights", "must be QueueWeights or None", weights)
        if not isinstance(windows, bool):
            raise ValidationError("windows", "must be bool", windows)
        local = at.astimezone(tz).date() + timedelta(days=1)
        until = datetime.combine(local, time(), tz)
        book = self._gather(rep, at, until, None)
        subjects = [s for s, reasons in book.reasons.items() if reasons]
        model = SlotRates(learn(self._histories(subjects, book)))
        prefs = self._preferences(s for kind, s in subjects if kind is SubjectKind.CONTACT)
        marks = self._marks(rep, subjects)

        def place(subject: Subject) -> tuple[ZoneInfo, str | None]:
            if subject[0] is SubjectKind.CONTACT:
                return book.zones.get(subject[1], (_UTC, None))
            return _UTC, None

        def candidates() -> Iterator[Candidate]:
            for subject in subjects:
                tz, account = place(subject)
                own = prefs.get(subject[1]) if subject[0] is SubjectKind.CONTACT else None
                yield Candidate(
                    subject[0],
                    subject[1],
                    tuple(book.reasons[subject]),
                    book.scores.get(subject),
                    timing(model, subject[1], tz, at, own, account_id=account),
                )

        ranked = rank(candidates(), rep_id=rep, now=at, weights=weights, marks=marks, limit=limit)
        if not windows:
            return ranked
        return tuple(
            attrs.evolve(
                item,
                next_window=next_window(
                    model.model,
                    item.subject_id,
                    place((item.subject_kind, item.subject_id))[0],
                    at,
                    prefs.get(item.subject_id) if item.contact_id else None,
                    account_id=place((item.subject_kind, item.subject_id))[1],
                ),
            )
            for item in ranked
        )

    def snooze(self, item_key: str, until: datetime) -> Mark:
        """Hide the item until ``until`` (after the clock's now); it comes back then."""
        rep, _, _ = parse_key(item_key)
        at = self._now(None)
        end = require_aware(until, "until")
        if end <= at:
            raise ValidationError("until", "must be after now", until)
        return self._mark(rep, item_key, MarkState.SNOOZED, end, (), at)

    def done(self, item_key: str) -> Mark:
        """Hide the item for good, unless a reason it does not have now appears later."""
        rep, kind, subject = parse_key(item_key)
        at = self._now(None)
        book = self._gather(rep, at, None, (kind, subject))
        keys = tuple(sorted({reason.key for reason in book.reasons.get((kind, subject), ())}))
        return self._mark(rep, item_key, MarkState.DONE, None, keys, at)

    def marks(self, rep_id: str) -> Iterator[Mark]:
        """Every mark the rep has set, in no promised order."""
        where = (Eq("rep_id", check_id(rep_id, "rep_id")),)
        for record in self._uow.find_all(QUEUE_MARKS, where, keep=False):
            yield record.mark()

    def _mark(
        self,
        rep: str,
        key: str,
        state: MarkState,
        until: datetime | None,
        reasons: tuple[str, ...],
        at: datetime,
    ) -> Mark:
        id = mark_id(key)
        old = self._uow.get_or_none(QUEUE_MARKS, id)
        version = 1 if old is None else old.version + 1
        record = QueueMarkRecord(id, version, rep, key, state, until, reasons, at)
        self._uow.save(QUEUE_MARKS, record)
        return record.mark()

    # --- reading the rep's book ------------------------------------------------------------

    def _gather(
        self, rep: str, at: datetime, until: datetime | None, only: Subject | None
    ) -> _Book:
        """The reasons of the rep's subjects: only one when ``only`` is given.

        Calls and tasks count when due before ``until``; None counts every
        planned one (a done mark remembers them all, so none comes back as new).
        """
        uow, book = self._uow, _Book()
        end = _END if until is None else until
        # One pass over the rep's activities (the owner index) gives the calls and tasks
        # due and the logged calls the connect rates learn from.
        mine = (Eq("owner_id", rep), In("kind", _DUE_KINDS))
        for activity in uow.find_all(ACTIVITIES, mine, batch=BATCH, keep=False):
            subject = _subject(activity)
            if subject is None or only not in (None, subject):
                continue
            reason = task_reason(activity, at, end)
            if reason is not None:
                book.reasons[subject].append(reason)
            elif only is None and activity.kind is ActivityKind.CALL and activity.outcome:
                book.calls[subject].append(activity)
        leads: tuple[Condition, ...] = (Eq("owner_id", rep), In("status", _OPEN_LEADS))
        if only is not None:
            leads += (Eq("id" if only[0] is SubjectKind.LEAD else "contact_id", only[1]),)
        for lead in uow.find_all(LEADS, leads, batch=BATCH, keep=False):
            subject = (
                (SubjectKind.CONTACT, lead.contact_id)
                if lead.contact_id is not None
                else (SubjectKind.LEAD, lead.id)
            )
            if only not in (None, subject):
                continue
            book.reasons[subject].append(Reason("open_lead", lead.id))
            if lead.score is not None:
                book.scores[subject] = max(lead.score, book.scores.get(subject, 0))
        if only is None:
            owned = (Eq("owner_id", rep), Eq("status", "active"))
            for contact in uow.find_all(CONTACTS, owned, batch=BATCH, keep=False):
                self._place(book, contact.id, contact.time_zone, contact.account_ids)
                book.reasons.setdefault((SubjectKind.CONTACT, contact.id), [])
        people = sorted(s for kind, s in book.reasons if kind is SubjectKind.CONTACT)
        if only is not None and only[0] is SubjectKind.CONTACT:
            people = [only[1]]
        self._cases_and_contracts(book, people, at)
        if only is None:
            missing = [s for s in people if s not in book.zones]
            for chunk in _chunks(missing):
                for contact in uow.find_all(CONTACTS, (In("id", chunk),), keep=False):
                    self._place(book, contact.id, contact.time_zone, contact.account_ids)
        return book

    def _place(
        self, book: _Book, id: str, time_zone: str | None, accounts: tuple[str, ...]
    ) -> None:
        tz = _UTC if time_zone is None else ZoneInfo(time_zone)
        book.zones[id] = (tz, accounts[0] if accounts else None)

    def _cases_and_contracts(self, book: _Book, people: list[str], at: datetime) -> None:
        uow = self._uow
        # Contract dates are in each contract's zone: a day of margin covers every zone.
        horizon = (at + RENEWAL_LOOKAHEAD + timedelta(days=1)).date().isoformat()
        for chunk in _chunks(people):
            cases = (In("contact_id", chunk), In("status", _OPEN_CASES))
            for case in uow.find_all(CASES, cases, batch=BATCH, keep=False):
                reason = sla_reason(case, at)
                if reason is not None and case.contact_id is not None:
                    book.reasons[(SubjectKind.CONTACT, case.contact_id)].append(reason)
            contracts = (
                In("contact_id", chunk),
                In("status", _RENEWING),
                Range("notice_from", lte=horizon),
            )
            for contract in uow.find_all(CONTRACTS, contracts, batch=BATCH, keep=False):
                reason = renewal_reason(contract, at)
                if reason is not None and contract.contact_id is not None:
                    book.reasons[(SubjectKind.CONTACT, contract.contact_id)].append(reason)

    def _histories(self, subjects: list[Subject], book: _Book) -> Iterator[ContactHistory]:
        """Each subject's history of the calls the rep logged, in its zone."""
        for kind, id in subjects:
            tz, account = (
                book.zones.get(id, (_UTC, None)) if kind is SubjectKind.CONTACT else (_UTC, None)
            )
            calls = book.calls.pop((kind, id), ())
            yield call_history(calls, id, tz, account, kind=kind.value)

    def _preferences(self, contacts: Iterable[str]) -> dict[str, ChannelPreferences]:
        found: dict[str, ChannelPreferences] = {}
        for chunk in _chunks(contacts):
            for record in self._uow.find_all(PREFERENCES, (In("id", chunk),), keep=False):
                found[record.id] = record.preferences
        return found

    def _marks(self, rep: str, subjects: list[Subject]) -> list[Mark]:
        keys = [mark_id(item_key(rep, kind, id)) for kind, id in subjects]
        found: list[Mark] = []
        for chunk in _chunks(keys):
            for record in self._uow.find_all(QUEUE_MARKS, (In("id", chunk),), keep=False):
                found.append(record.mark())
        return found
