"""The composition root: one object that wires a store, a clock and an id generator.

Nothing is wired at import time; `open` (or the `Crm` constructor) does it
when the host calls it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from types import TracebackType
from typing import TypeVar

import cattrs

from crmkit.activities.activity import EVENTS as ACTIVITY_EVENTS
from crmkit.activities.timeline import TimelineEntry
from crmkit.app.audiences import PROFILE_PROJECTIONS
from crmkit.app.audit_trail import AuditTrail
from crmkit.app.automation import Automation
from crmkit.app.campaigns import CREDIT_PROJECTIONS
from crmkit.app.customising import check_custom_fields, custom_index, extended
from crmkit.app.deals import draft_contract
from crmkit.app.exports import Exports
from crmkit.app.imports import Imports
from crmkit.app.notifier import Template
from crmkit.app.paging import Page
from crmkit.app.policies import Policies
from crmkit.app.privacy import Privacy
from crmkit.app.records import RECORD_TYPES, RecordType, schema
from crmkit.app.reindex import MigrationReport, ReindexReport, migrate_custom_fields, reindex
from crmkit.app.service_settings import ServiceSettings
from crmkit.app.settings import SalesSettings
from crmkit.app.unit_of_work import UnitOfWork
from crmkit.audit.entry import AuditKey
from crmkit.extension.custom_fields import CustomFields
from crmkit.extension.rules import Rule
from crmkit.kernel.clock import Clock, SystemClock
from crmkit.kernel.custom import CustomValuesChanged
from crmkit.kernel.errors import StorageError, ValidationError
from crmkit.kernel.events import DomainEvent, EventRegistry
from crmkit.kernel.ids import DEFAULT_TENANT, IdGenerator, Uuid7Ids, check_id
from crmkit.kernel.loading import Loaders
from crmkit.kernel.personal import PersonalDataErased
from crmkit.kernel.principal import Principal
from crmkit.kernel.serialization import make_converter, structure
from crmkit.marketing.audience_events import EVENTS as AUDIENCE_EVENTS
from crmkit.marketing.campaign_events import EVENTS as CAMPAIGN_EVENTS
from crmkit.marketing.member_events import EVENTS as MEMBER_EVENTS
from crmkit.parties.events import EVENTS as PARTY_EVENTS
from crmkit.parties.merge_record import EVENTS as MERGE_EVENTS
from crmkit.ports.access import AccessPolicy, AllowAll
from crmkit.ports.storage import DocumentStore, IndexValue, StoredEvent
from crmkit.sales.catalog_events import EVENTS as CATALOG_EVENTS
from crmkit.sales.contract_events import EVENTS as CONTRACT_EVENTS
from crmkit.sales.lead_events import EVENTS as LEAD_EVENTS
from crmkit.sales.opportunity_events import EVENTS as OPPORTUNITY_EVENTS
from crmkit.sales.quote_events import EVENTS as QUOTE_EVENTS, QuoteAccepted
from crmkit.service.case_events import EVENTS as CASE_EVENTS
from crmkit.service.complaint_events import EVENTS as COMPLAINT_EVENTS
from crmkit.service.knowledge_events import EVENTS as ARTICLE_EVENTS

T = TypeVar("T")

SERVICE_EVENTS = (*COMPLAINT_EVENTS, *CASE_EVENTS, *ARTICLE_EVENTS)
MARKETING_EVENTS = (*CAMPAIGN_EVENTS, *MEMBER_EVENTS, *AUDIENCE_EVENTS)
SALES_EVENTS = (
    *LEAD_EVENTS,
    *OPPORTUNITY_EVENTS,
    *CATALOG_EVENTS,
    *QUOTE_EVENTS,
    *CONTRACT_EVENTS,
)


def default_policies() -> Policies:
    """The policies a CRM runs unless the host gives its own: an accepted quote drafts its
    contract (`crmkit.app.deals.draft_contract`). Extend them with `Policies.including`."""
    return Policies([(QuoteAccepted, draft_contract)])


class Crm:
    """A CRM: open units of work, read timelines and events.

    Attributes:
        store: The document store.
        clock: The clock every timestamp comes from.
        ids: The id generator.
        tenant: The tenant every call is scoped to.
        converter: The strict converter: it writes records and events and reads events.
        loaders: The fast loaders that read back records crmkit wrote.
        event_types: The event classes this CRM knows.
        policies: The policies run inside units of work when events are raised.
        projections: Handlers that keep crmkit's read models (segment profiles, campaign
            credits) in step; they run before the policies, whatever the host passes.
        sales: How this host runs its sales process.
        service: How this host runs its service desk.
        audit_key: The key that signs audit payloads; with it, every unit of work writes
            the audit trail (`crmkit.app.audit_trail`). Without it, nothing is audited.
        audit_keys: Earlier keys, still needed to verify entries they signed.
        rules: Automation rules (`crmkit.extension.rules`), run inside every unit of
            work (`crmkit.app.automation`).
        templates: The message templates that the rules' notifications name.
        custom_fields: The host's custom fields (`crmkit.extension.custom_fields`); the
            indexed ones are index fields ``cf_<name>`` of their kinds.
        record_types: Every record type the store holds.
        schema: The storage schema the store was opened with, custom index fields included.
        access: Who may read and change what (`crmkit.ports.access`); everyone may do
            everything unless the host passes a policy such as
            `crmkit.security.defaults.default_policy`.
    """

    def __init__(
        self,
        store: DocumentStore,
        *,
        clock: Clock | None = None,
        ids: IdGenerator | None = None,
        tenant: str = DEFAULT_TENANT,
        policies: Policies | None = None,
        sales: SalesSettings | None = None,
        service: ServiceSettings | None = None,
        access: AccessPolicy | None = None,
        audit_key: AuditKey | None = None,
        audit_keys: Iterable[AuditKey] = (),
        rules: Iterable[Rule] = (),
        templates: Mapping[str, Template] = {},
        custom_fields: CustomFields | None = None,
    ) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.ids: IdGenerator = ids or Uuid7Ids(self.clock)
        self.tenant = check_id(tenant, "tenant")
        self.converter: cattrs.Converter = make_converter()
        self.loaders = Loaders()
        self.event_types = EventRegistry(
            (
                *PARTY_EVENTS,
                *ACTIVITY_EVENTS,
                *MERGE_EVENTS,
                *SALES_EVENTS,
                *SERVICE_EVENTS,
                *MARKETING_EVENTS,
                PersonalDataErased,
                CustomValuesChanged,
            )
        )
        self.policies = default_policies() if policies is None else policies
        # Read models the store's queries rely on: always kept, whatever the host's policies.
        self.projections = Policies((*PROFILE_PROJECTIONS, *CREDIT_PROJECTIONS))
        self.sales = SalesSettings() if sales is None else sales
        if not isinstance(self.sales, SalesSettings):
            raise ValidationError("sales", "must be SalesSettings", type(self.sales).__name__)
        self.access: AccessPolicy = AllowAll() if access is None else access
        if not callable(getattr(self.access, "scope", None)):
            raise ValidationError("access", "must be an AccessPolicy", type(self.access).__name__)
        if audit_key is not None and not isinstance(audit_key, AuditKey):
            raise ValidationError("audit_key", "must be an AuditKey", personal=True)
        self.audit_key = audit_key
        self.audit_keys: tuple[AuditKey, ...] = tuple(
            dict.fromkeys((*(() if audit_key is None else (audit_key,)), *audit_keys))
        )
        self.audit = AuditTrail(self)
        """The audit trail: seal it, verify it, read it."""
        self.automation = Automation(rules, templates)
        """The host's automation rules, run inside every unit of work."""
        self.imports = Imports(self)
        """CSV imports: streamed in batches, resumable, with a dry run."""
        self.exports = Exports(self)
        """CSV exports: every record of a kind, streamed, in the columns imports read."""
        self.privacy = Privacy(self)
        """Consent ledger, subject-access export, erasure and retention."""
        self.service = ServiceSettings() if service is None else service
        if not isinstance(self.service, ServiceSettings):
            raise ValidationError("service", "must be ServiceSettings", type(self.service).__name__)
        self.custom_fields = check_custom_fields(custom_fields)
        self.record_types = RECORD_TYPES
        self.schema = extended(schema(self.record_types), self.custom_fields)
        store.open(self.schema)

    def reindex(
        self,
        kinds: Iterable[str] | None = None,
        *,
        batch: int = 500,
        progress: Callable[[str, int], object] | None = None,
    ) -> ReindexReport:
        """Rewrite stored records' index values from their bodies (`crmkit.app.reindex`).

        Run it after an upgrade of crmkit that indexes more fields.
        """
        return reindex(self, kinds, batch=batch, progress=progress)

    def migrate_custom_fields(
        self, *, batch: int = 500, progress: Callable[[str, int], object] | None = None
    ) -> MigrationReport:
        """Move the store to this CRM's custom field specs, backfilling new index fields.

        Run it after changing the specs; see `crmkit.app.reindex.migrate_custom_fields`.
        """
        return migrate_custom_fields(self, batch=batch, progress=progress)

    def index(self, rtype: RecordType[T], record: T) -> dict[str, IndexValue]:
        """The index values a store keeps for ``record``, custom ones included."""
        values = rtype.index(record)
        values.update(custom_index(self.custom_fields, rtype.kind, record))
        return values

    def unit_of_work(self, principal: Principal) -> UnitOfWork:
        """A new unit of work for ``principal``; use it in a ``with`` block."""
        if not isinstance(principal, Principal):
            raise ValidationError("principal", "must be a Principal", principal)
        return UnitOfWork(self, principal)

    def timeline(
        self,
        record_id: str,
        principal: Principal,
        *,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[TimelineEntry]:
        """The 360-degree view of a record (a contact, an account ...), newest first.

        For an account it includes what happened to its contacts while they
        were linked to it; for a survivor of a merge, the history of the
        duplicates merged into it. Pages are keyset-paged: pass ``next_cursor`` back.
        Under an access policy the principal must be allowed to read the record,
        and entries about records it may not read are left out
        (`crmkit.app.timeline_view`).
        """
        from crmkit.app.timeline_view import timeline_page

        return timeline_page(self, record_id, principal, limit, cursor)

    def events(
        self, *, after: int = 0, limit: int = 1000, stream_id: str | None = None
    ) -> list[tuple[int, DomainEvent]]:
        """Stored events after position ``after`` as (position, event), oldest first."""
        for name, value, least in (("after", after, 0), ("limit", limit, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValidationError(name, f"must be an integer of at least {least}", value)
        if stream_id is not None:
            check_id(stream_id, "stream_id")
        return [
            (stored.position, self.decode_event(stored))
            for stored in self.store.read_events(
                self.tenant, after=after, limit=limit, stream_id=stream_id
            )
        ]

    def decode_event(self, stored: StoredEvent) -> DomainEvent:
        """The domain event a stored record holds, upcast to its current schema."""
        record = stored.record
        try:
            cls = self.event_types.lookup(record.event_type)
            data = self.event_types.upcast(
                record.event_type, record.schema_version, json.loads(record.body)
            )
            return structure(self.converter, data, cls)
        except (ValidationError, ValueError) as exc:
            raise StorageError(f"stored event {record.id!r} cannot be read: {exc}") from None

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Crm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


STORAGE_URL_VARIABLE = "CRMKIT_STORAGE_URL"
"""The environment variable `open` reads when it is given no URL."""

DEFAULT_STORAGE_URL = "sqlite:///crmkit.db"
"""The store `open` uses when neither a URL nor ``CRMKIT_STORAGE_URL`` names one."""

STORAGE_ENTRY_POINTS = "crmkit.storage"
"""The entry-point group of plugin adapters: each names a URL scheme and loads a factory
``(url: str) -> DocumentStore``."""

_BUILT_IN_SCHEMES = ("memory", "sqlite", "postgresql", "postgres")


def store_from_url(url: str) -> DocumentStore:
    """A new, unopened store for ``url``.

    * ``memory://``: an in-memory store that lives as long as the process;
    * ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``: a SQLite
      file (created if missing), the embedded default;
    * ``postgresql://user@host:port/db`` (or ``postgres://``): a PostgreSQL
      database, with ``pip install 'crmkit[postgres]'``;
    * any other scheme: the factory that an installed package registers under
      that name in the ``crmkit.storage`` entry-point group.

    Raises `ValidationError`, naming the known schemes, for any other URL.

    >>> type(store_from_url("memory://")).__name__
    'MemoryStore'
    """
    if not isinstance(url, str):
        raise ValidationError("url", "must be a string", url)
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if url == "memory://":
        from crmkit.adapters.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite" and url.startswith("sqlite:///"):
        from crmkit.adapters.sqlite import SqliteStore

        path = url.removeprefix("sqlite:///")
        if not path:
            raise ValidationError("url", "must name a file: sqlite:///path/to/crm.db", url)
        return SqliteStore(os.fspath(path))
    if scheme in ("postgresql", "postgres"):
        try:
            from crmkit.adapters.postgres import PostgresStore
        except ImportError as exc:
            raise StorageError(
                f"{url.partition('://')[0]}:// needs psycopg: pip install 'crmkit[postgres]'"
            ) from exc
        return PostgresStore(url)
    plugins = {point.name.lower(): point for point in entry_points(group=STORAGE_ENTRY_POINTS)}
    if scheme and scheme not in _BUILT_IN_SCHEMES and scheme in plugins:
        try:
            factory = plugins[scheme].load()
        except Exception as exc:
            raise StorageError(f"the storage plugin for {scheme}:// failed to load: {exc}") from exc
        store: DocumentStore = factory(url)
        return store
    known = ", ".join(f"{name}://" for name in sorted({*_BUILT_IN_SCHEMES, *plugins}))
    raise ValidationError("url", f"names no known store (known schemes: {known})", _redacted(url))


def _redacted(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.partition("@")
    if sep and at and ":" in userinfo and "/" not in userinfo:
        return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"
    return url


def open(
    url: str | None = None,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    tenant: str = DEFAULT_TENANT,
    policies: Policies | None = None,
    sales: SalesSettings | None = None,
    service: ServiceSettings | None = None,
    access: AccessPolicy | None = None,
    audit_key: AuditKey | None = None,
    audit_keys: Iterable[AuditKey] = (),
    rules: Iterable[Rule] = (),
    templates: Mapping[str, Template] = {},
    custom_fields: CustomFields | None = None,
) -> Crm:
    """Open a CRM on a store named by URL (see `store_from_url` for the schemes).

    Without a URL it reads ``CRMKIT_STORAGE_URL`` from the environment and
    falls back to ``sqlite:///crmkit.db``.

    >>> import crmkit
    >>> crm = crmkit.open("memory://")
    >>> crm.tenant
    'default'
    """
    if url is None:
        url = os.environ.get(STORAGE_URL_VARIABLE) or DEFAULT_STORAGE_URL
    return Crm(
        store_from_url(url),
        clock=clock,
        ids=ids,
        tenant=tenant,
        policies=policies,
        sales=sales,
        service=service,
        access=access,
        audit_key=audit_key,
        audit_keys=audit_keys,
        rules=rules,
        templates=templates,
        custom_fields=custom_fields,
    )
