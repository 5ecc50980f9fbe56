"""The unit of work: state, events, timeline entries and outbox, committed together.

A unit of work buffers every write. Leaving its ``with`` block normally
commits them all in one `ChangeSet`; leaving it with an exception discards
them, and the store stays exactly as it was. Aggregates it loads are kept in
an identity map, and each is saved with the version it was read at, so a
concurrent change raises `ConcurrencyConflict` instead of being overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from crmkit.app.change_set import IDEMPOTENCY_KEY, change_set
from crmkit.app.guard import Guard
from crmkit.app.paging import Page, decode, find_page
from crmkit.app.policies import MAX_DEPTH, PolicyLoop
from crmkit.app.records import RecordType
from crmkit.extension.custom_fields import CustomFields
from crmkit.kernel.errors import CrmError, NotFound, StorageError, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.principal import Principal
from crmkit.kernel.serialization import dumps
from crmkit.kernel.text import clean_line, clean_token
from crmkit.kernel.time import require_aware, to_micros
from crmkit.ports.aggregate import Aggregate, Group, Measure, aggregate, run_aggregate
from crmkit.ports.notify import Message
from crmkit.ports.query import Condition, Eq, Order
from crmkit.ports.storage import Document, OutboxMessage

if TYPE_CHECKING:
    from crmkit.app.crm import Crm

T = TypeVar("T")


class UnitOfWork:
    """One atomic piece of work by one principal. Use it as a context manager.

    Attributes:
        principal: Who acts; recorded on every event.
    """

    def __init__(self, crm: Crm, principal: Principal) -> None:
        from crmkit.app.audiences import Audiences
        from crmkit.app.campaigns import Campaigns, Members
        from crmkit.app.deals import Contracts, Opportunities, PriceLists, Products, Quotes
        from crmkit.app.inbound import Inbox
        from crmkit.app.journeys import Journeys
        from crmkit.app.leads import Leads
        from crmkit.app.merging import Duplicates
        from crmkit.app.notifier import Notifier
        from crmkit.app.reports import Reports
        from crmkit.app.segments import Segments
        from crmkit.app.service_desk import Articles, Cases, Complaints
        from crmkit.app.services import Accounts, Activities, Contacts
        from crmkit.app.work_queue import WorkQueue

        self._crm = crm
        self.principal = principal
        self._loaded: dict[tuple[str, str], int] = {}  # version as read; 0 for new records
        self._cache: dict[tuple[str, str], Any] = {}
        self._read: dict[tuple[str, str], Any] = {}
        self._dirty: dict[tuple[str, str], tuple[RecordType[Any], Any]] = {}
        self._keys: dict[tuple[str, str], str] = {}  # idempotency keys of records seen
        self._outbox: list[OutboxMessage] = []
        self._events: list[tuple[DomainEvent, tuple[str, ...]]] = []  # with timeline subjects
        self._done = False
        self._depth = 0  # how deep policies are nested right now
        self._guard = Guard(crm.access, principal)
        self.contacts = Contacts(self)
        """Contacts: create, change, link to accounts, consent, find."""
        self.accounts = Accounts(self)
        """Accounts: create, change, find."""
        self.activities = Activities(self)
        """Activities: log, plan, complete, find."""
        self.inbound = Inbox(self)
        """Inbound emails, calls, chats and social messages: thread or route, create, log."""
        self.settings = crm.sales
        """The CRM's sales settings: pipelines, criteria, policies and defaults."""
        self.leads = Leads(self)
        """Leads: capture, work, qualify, score, convert."""
        self.opportunities = Opportunities(self)
        """Opportunities: open, move through the pipeline, win, lose, reopen."""
        self.products = Products(self)
        """Products of the catalogue."""
        self.price_lists = PriceLists(self)
        """Price lists per currency, and priced lines from them."""
        self.quotes = Quotes(self)
        """Quotes: draft, approve, present, accept, revise, expire."""
        self.contracts = Contracts(self)
        """Contracts: draft, sign, renew, terminate, amend, and what the clock makes due."""
        self.service = crm.service
        """The CRM's service settings: SLA policies, calendars, queues, windows."""
        self.complaints = Complaints(self)
        """Complaints: receive and acknowledge, investigate, escalate into a case, resolve."""
        self.cases = Cases(self)
        """Service cases and their SLA clocks; `Cases.tick` evaluates the clocks."""
        self.articles = Articles(self)
        """Knowledge articles: draft, publish, archive, search."""
        self.duplicates = Duplicates(self)
        """Duplicates: find them, merge them into a survivor, undo a merge."""
        self.notifications = Notifier(self)
        """Notifications: render, check consent and queue messages in the outbox."""
        self.audiences = Audiences(self)
        """Marketing facts and preferences per contact: unsubscribes, suppression, bounces."""
        self.campaigns = Campaigns(self)
        """Campaigns: plan, run, target, send, and their results."""
        self.members = Members(self)
        """Campaign members: responses (as leads), opt-outs, bounces."""
        self.segments = Segments(self)
        """Segments evaluated on the store: pushed down where possible, checked in Python after."""
        self.journeys = Journeys(self)
        """Journeys: triggered sends planned per contact and queued in the outbox."""
        self.reports = Reports(self)
        """Reports over the store: pipeline, forecast, win rate, RFM, SLA, campaigns."""
        from crmkit.app.search import Search

        self.search = Search(crm, self._guard)
        """Search contacts, accounts, leads, opportunities and cases by name, email, phone."""
        self.work_queue = WorkQueue(self)
        """A rep's work queue for today: ranked calls and follow-ups, snooze and done."""
        from crmkit.app.best_times import BestTimes

        self.best_times = BestTimes(self)
        """Best time to call: connect rates learned from the stored calls, windows per contact."""

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    # --- building blocks for the services ---------------------------------

    def stamp(self) -> Stamp:
        """Now, by the injected clock, and the acting principal."""
        return Stamp(self._crm.clock.now(), self.principal.id)

    def dump(self, obj: object) -> str:
        """``obj`` as the JSON text a store keeps (for snapshots such as a merge's undo data)."""
        return dumps(self._crm.converter.unstructure(obj))

    def load(self, rtype: RecordType[T], text: str) -> T:
        """The record a `dump` of ``rtype`` gave; `StorageError` if it does not fit."""
        try:
            data = json.loads(text)
        except ValueError:
            raise StorageError(f"a {rtype.kind} snapshot is not JSON") from None
        return self._crm.loaders.load(rtype.cls, data)

    def new_id(self) -> str:
        """A new id from the injected generator."""
        return self._crm.ids()

    def _check_open(self) -> None:
        if self._done:
            raise CrmError("this unit of work has already been committed or rolled back")

    def get(self, rtype: RecordType[T], id: str) -> T:
        """The aggregate with ``id``, as this unit of work sees it; `NotFound` if none."""
        self._check_open()
        if not isinstance(id, str):
            raise ValidationError("id", "must be a string", id)
        key = (rtype.kind, id)
        if key in self._cache:
            obj: T = self._cache[key]
        else:
            doc = self._crm.store.get(self._crm.tenant, rtype.kind, id)
            if doc is None:
                raise NotFound(rtype.kind, id)
            obj = self._adopt(rtype, doc)
        self._guard.read(rtype, obj)
        return obj

    def view(self, rtype: RecordType[Any], id: str) -> dict[str, Any]:
        """The record as JSON-ready data, without the fields hidden from the principal.

        For principals who may see a record but not all of it (a service agent
        and a deal's amount); `PermissionDenied` when the record is out of scope.
        """
        self._check_open()
        if not isinstance(id, str):
            raise ValidationError("id", "must be a string", id)
        key = (rtype.kind, id)
        if key in self._cache:
            obj = self._cache[key]
        else:
            doc = self._crm.store.get(self._crm.tenant, rtype.kind, id)
            if doc is None:
                raise NotFound(rtype.kind, id)
            obj = self._adopt(rtype, doc)
        self._guard.see(rtype, obj)
        return self._masked(rtype, obj)

    def views(
        self, rtype: RecordType[Any], where: tuple[Condition, ...] = (), *, batch: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Every record in scope matching ``where``, as `view` gives them, ``batch`` at a time."""
        scoped = self._guard.narrow_view(rtype.kind, where)
        for page in self._pages(rtype.kind, scoped, batch):
            for doc in page:
                cached = self._cache.get((rtype.kind, doc.id))
                obj = cached if cached is not None else decode(self._crm.loaders, rtype, doc)
                yield self._masked(rtype, obj)

    def _masked(self, rtype: RecordType[Any], obj: Any) -> dict[str, Any]:
        data: dict[str, Any] = self._crm.converter.unstructure(obj)
        if self._guard.checking:
            for name in self._guard.policy.hidden_fields(self.principal, rtype.kind):
                data.pop(name, None)
        return data

    @property
    def custom_fields(self) -> CustomFields:
        """The host's custom fields, which custom values are validated against."""
        return self._crm.custom_fields

    @property
    def converter(self) -> Any:
        """The CRM's strict converter (records and events to JSON-ready data)."""
        return self._crm.converter

    @contextmanager
    def acting_as(self, principal: Principal) -> Iterator[None]:
        """Within it, changes are stamped with ``principal`` (rules act as themselves)."""
        kept = self.principal
        self.principal = principal
        try:
            yield
        finally:
            self.principal = kept

    def trusted(self) -> AbstractContextManager[None]:
        """A block whose reads and writes the access policy does not check.

        For lookups a command needs beyond what its principal may see, such as
        duplicate detection across every owner's records. Policies and
        projections run trusted on their own.
        """
        return self._guard.trusted()

    def get_or_none(self, rtype: RecordType[T], id: str) -> T | None:
        """The aggregate with ``id``, or None when there is none."""
        try:
            return self.get(rtype, id)
        except NotFound:
            return None

    def _adopt(self, rtype: RecordType[T], doc: Document) -> T:
        """The record in ``doc``, entered in the identity map (an earlier copy there wins)."""
        key = (rtype.kind, doc.id)
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        obj = decode(self._crm.loaders, rtype, doc)
        self._loaded[key] = doc.version
        self._cache[key] = obj
        self._read[key] = obj  # as stored: the audit trail diffs against it
        idempotency_key = doc.index.get(IDEMPOTENCY_KEY)
        if isinstance(idempotency_key, str):
            self._keys[key] = idempotency_key
        return obj

    def by_idempotency_key(self, rtype: RecordType[T], idempotency_key: str) -> T | None:
        """The record an earlier create with ``idempotency_key`` made, or None."""
        self._check_open()
        # Compare the key as `save` stores it, or a retry with " k " would miss "k".
        idempotency_key = clean_line(idempotency_key, IDEMPOTENCY_KEY, max_len=200)
        for key, value in self._keys.items():
            if value == idempotency_key and key[0] == rtype.kind:
                return self._cache[key]  # type: ignore[no-any-return]
        page = self.find(rtype, (Eq(IDEMPOTENCY_KEY, idempotency_key),), limit=1)
        return page.items[0] if page.items else None

    def find(
        self,
        rtype: RecordType[T],
        where: tuple[Condition, ...] = (),
        order_by: tuple[Order, ...] = (),
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[T]:
        """Committed records matching ``where`` (uncommitted changes of this unit are not seen)."""
        self._check_open()
        scoped = self._guard.narrow(rtype, where)
        if scoped is None:
            return Page((), None)
        return find_page(
            lambda query: self._crm.store.query(self._crm.tenant, query),
            lambda doc: self._adopt(rtype, doc),
            rtype.kind,
            scoped,
            order_by,
            limit,
            cursor,
        )

    def staged(self, rtype: RecordType[T]) -> list[T]:
        """The records of ``rtype`` this unit of work created or changed, not yet committed."""
        return [obj for (kind, _), (_, obj) in self._dirty.items() if kind == rtype.kind]

    def find_all(
        self,
        rtype: RecordType[T],
        where: tuple[Condition, ...] = (),
        *,
        batch: int = 500,
        keep: bool = True,
    ) -> Iterator[T]:
        """Every committed record matching ``where``, read ``batch`` at a time (for jobs).

        ``keep=False`` reads without entering the records in this unit of work's
        identity map, so memory stays bounded by ``batch`` however many match:
        use it to read records that this unit of work will not change.
        """
        scoped = self._guard.narrow(rtype, where)
        for page in self._pages(rtype.kind, scoped, batch):
            for doc in page:
                if keep:
                    yield self._adopt(rtype, doc)
                else:
                    cached = self._cache.get((rtype.kind, doc.id))
                    yield cached if cached is not None else decode(self._crm.loaders, rtype, doc)

    def find_ids(
        self, rtype: RecordType[Any], where: tuple[Condition, ...] = (), *, batch: int = 500
    ) -> Iterator[str]:
        """The ids of the committed records matching ``where``, in id order, none decoded."""
        scoped = self._guard.narrow_view(rtype.kind, where)
        for page in self._pages(rtype.kind, scoped, batch):
            for doc in page:
                yield doc.id

    def _pages(
        self, kind: str, where: tuple[Condition, ...] | None, batch: int
    ) -> Iterator[list[Document]]:
        self._check_open()
        if where is None:  # nothing in scope
            return
        cursor: str | None = None
        while True:
            page = find_page(
                lambda query: self._crm.store.query(self._crm.tenant, query),
                lambda doc: doc,
                kind,
                where,
                (),
                batch,
                cursor,
            )
            yield list(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return

    def aggregate(
        self,
        rtype: RecordType[Any],
        where: tuple[Condition, ...],
        group_by: tuple[str, ...],
        measures: tuple[Measure, ...],
        *,
        pushdown: bool = True,
    ) -> list[Group]:
        """Grouped counts and sums over committed records (`crmkit.ports.aggregate`).

        The store computes them when it can (one ``GROUP BY`` on SQL stores);
        ``pushdown=False`` computes the same groups here, a page at a time.
        """
        self._check_open()
        self._guard.sums(rtype, measures)
        scoped = self._guard.narrow_view(rtype.kind, where)
        spec = Aggregate(rtype.kind, () if scoped is None else scoped, group_by, measures)
        if scoped is None:  # nothing in scope: the Python fallback over no documents
            return run_aggregate(spec, ())
        crm = self._crm
        kind = crm.schema.kind(rtype.kind)
        return aggregate(crm.store, crm.tenant, spec, kind, pushdown=pushdown)

    def save(
        self,
        rtype: RecordType[T],
        obj: T,
        *events: DomainEvent,
        idempotency_key: str | None = None,
    ) -> T:
        """Stage ``obj`` (new or changed) and the events that changed it.

        ``idempotency_key`` (for a new record) is stored in a unique index, so a
        retried create finds the first result instead of making a duplicate.
        """
        self._check_open()
        key = (rtype.kind, obj.id)  # type: ignore[attr-defined]
        self._guard.write(rtype, self._cache.get(key) if self._loaded.get(key, 0) else None, obj)
        if idempotency_key is not None:
            self._keys[key] = clean_line(idempotency_key, IDEMPOTENCY_KEY, max_len=200)
        self._loaded.setdefault(key, 0)
        self._cache[key] = obj
        self._dirty[key] = (rtype, obj)
        related = rtype.related(obj)  # as of this change, not as of commit
        for event in events:
            self._events.append((event, tuple(dict.fromkeys((*event.subjects(), *related)))))
        for event in events:
            self._react(event)
        return obj

    def _react(self, event: DomainEvent) -> None:
        """Run the CRM's projections, policies and rules for ``event`` now, in this unit of work.

        Only policies and rules count towards `MAX_DEPTH`: projections keep
        crmkit's read models and never start a chain of their own.
        """
        projections = self._crm.projections.for_event(event)
        handlers = self._crm.policies.for_event(event)
        if self._crm.automation.reacts_to(event):
            handlers = (*handlers, self._crm.automation.react)
        if not handlers and not projections:
            return
        if handlers and self._depth >= MAX_DEPTH:
            raise PolicyLoop(
                f"policies triggered one another {MAX_DEPTH} deep, stopping at"
                f" {event.event_type}: check them for a loop"
            )
        self._depth += 1 if handlers else 0
        try:
            with self._guard.trusted():  # they act for the CRM, not for the principal
                for handler in (*projections, *handlers):
                    handler(event, self)
        finally:
            self._depth -= 1 if handlers else 0

    def queue(self, message: Message, *, not_before: datetime | None = None) -> None:
        """Stage ``message`` in the outbox: it is sent after, and only if, this unit commits.

        ``not_before`` delays it. Its idempotency key must be new to the tenant,
        or the commit raises `DuplicateRecord`.
        """
        self._check_open()
        if not isinstance(message, Message):
            raise ValidationError("message", "must be a Message", message)
        at = (
            self._crm.clock.now() if not_before is None else require_aware(not_before, "not_before")
        )
        self._outbox.append(
            OutboxMessage(
                self.new_id(),
                clean_line(message.key, "key", max_len=200),
                clean_token(message.channel, "channel"),
                clean_token(message.purpose, "purpose"),
                message.party_id,
                dumps(self._crm.converter.unstructure(message)),
                to_micros(at),
            )
        )

    # --- commit -----------------------------------------------------------

    def commit(self) -> None:
        """Write everything staged, atomically. A unit of work commits once."""
        self._check_open()
        self._done = True
        if not self._dirty and not self._events and not self._outbox:
            return
        self._crm.store.commit(
            self._crm.tenant,
            change_set(
                self._crm, self.principal, self._dirty, self._loaded, self._keys, self._read,
                self._events, self._outbox,
            ),
        )  # fmt: skip

    def rollback(self) -> None:
        """Discard everything staged."""
        self._done = True
        self._dirty.clear()
        self._events.clear()
        self._outbox.clear()
