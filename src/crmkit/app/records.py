"""How each aggregate is stored: its kind name and the index fields taken from it.

Domain classes know nothing about storage; this module maps them onto the
storage port. Index values are derived from the aggregate on every save, so
they can never disagree with the body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from crmkit.activities.activity import Activity
from crmkit.activities.timeline import TimelineEntry
from crmkit.analytics.periods import Period, period_label
from crmkit.app import search_text
from crmkit.app.audit_records import AUDIT_RECORD_TYPES
from crmkit.app.custom_records import CUSTOM_SPECS
from crmkit.app.import_records import IMPORT_RUNS
from crmkit.app.marketing_records import MARKETING_RECORD_TYPES
from crmkit.app.queue_records import QUEUE_RECORD_TYPES
from crmkit.app.record_type import INT, TEXT, RecordType as RecordType
from crmkit.interactions.preferences import ChannelPreferences
from crmkit.kernel.checks import of_type, version
from crmkit.kernel.money import Money
from crmkit.kernel.time import to_micros
from crmkit.parties.account import Account
from crmkit.parties.contact import Contact
from crmkit.parties.dedupe import Candidate, blocking_keys
from crmkit.parties.merge_record import MergeRecord
from crmkit.ports.storage import IndexField, StoreSchema
from crmkit.sales.catalog import PriceList
from crmkit.sales.contract import Contract
from crmkit.sales.lead import Lead
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.product import Product
from crmkit.sales.quote import Quote
from crmkit.service.case import ServiceCase
from crmkit.service.complaint import Complaint
from crmkit.service.knowledge import KnowledgeArticle


def _weighted_minor(deal: Opportunity) -> int:
    """The amount times the probability, rounded half-even to the minor unit (as reports do)."""
    return Money.rounded(deal.amount.amount * deal.probability, deal.amount.currency).to_minor()


def _contact_name(contact: Contact) -> str:
    return f"{contact.last_name} {contact.first_name}".strip().casefold()


CONTACTS: RecordType[Contact] = RecordType(
    "contact",
    Contact,
    (
        (IndexField("status", TEXT), lambda c: c.status.value),
        (IndexField("name", TEXT), _contact_name),
        (IndexField("email", TEXT), lambda c: c.emails[0].key if c.emails else None),
        (IndexField("owner_id", TEXT), lambda c: c.owner_id),
        (IndexField("updated_at", INT), lambda c: to_micros(c.updated_at)),
        (IndexField("tags", TEXT, multi=True), lambda c: c.tags),
        (IndexField("account_ids", TEXT, multi=True), lambda c: c.account_ids),
        (IndexField("merged_into", TEXT), lambda c: c.merged_into),
        (
            IndexField("dedupe_keys", TEXT, multi=True),
            lambda c: blocking_keys(Candidate.of_contact(c)),
        ),
    ),
    related=lambda c: c.account_ids,
    search=search_text.contact_text,
)
"""Contacts, indexed by status, name (last name first, case-folded), main email, owner,
last change, tags, accounts, the survivor a duplicate was merged into, and the
blocking keys of duplicate detection."""

ACCOUNTS: RecordType[Account] = RecordType(
    "account",
    Account,
    (
        (IndexField("status", TEXT), lambda a: a.status.value),
        (IndexField("name", TEXT), lambda a: a.name.casefold()),
        (IndexField("owner_id", TEXT), lambda a: a.owner_id),
        (IndexField("parent_id", TEXT), lambda a: a.parent_id),
        (IndexField("updated_at", INT), lambda a: to_micros(a.updated_at)),
        (IndexField("tags", TEXT, multi=True), lambda a: a.tags),
        (IndexField("merged_into", TEXT), lambda a: a.merged_into),
        (
            IndexField("dedupe_keys", TEXT, multi=True),
            lambda a: blocking_keys(Candidate.of_account(a)),
        ),
    ),
    search=search_text.account_text,
)
"""Accounts, indexed by status, case-folded name, owner, parent, last change, tags, the
survivor a duplicate was merged into, and the blocking keys of duplicate detection."""

ACTIVITIES: RecordType[Activity] = RecordType(
    "activity",
    Activity,
    (
        (IndexField("kind", TEXT), lambda a: a.kind.value),
        (IndexField("status", TEXT), lambda a: a.status.value),
        (IndexField("occurred_at", INT), lambda a: to_micros(a.occurred_at)),
        (IndexField("owner_id", TEXT), lambda a: a.owner_id),
        (IndexField("message_id", TEXT), lambda a: a.message_id),
        (IndexField("links", TEXT, multi=True), lambda a: tuple(ref.id for ref in a.links)),
        (IndexField("outcome", TEXT), lambda a: a.outcome),
        (
            IndexField("message_ids", TEXT, multi=True),
            lambda a: tuple(dict.fromkeys(i for i in (a.message_id, *a.references) if i)),
        ),
    ),
)
"""Activities, indexed by kind, status, time, owner, email Message-ID, linked records,
outcome (for example ``no_answer``) and every message id of an email's thread (its own
and its references: inbound threading finds earlier messages through them)."""

TIMELINE: RecordType[TimelineEntry] = RecordType(
    "timeline",
    TimelineEntry,
    (
        (IndexField("occurred_at", INT), lambda e: to_micros(e.occurred_at)),
        (IndexField("event_type", TEXT), lambda e: e.event_type),
        (IndexField("subjects", TEXT, multi=True), lambda e: e.subjects),
        (IndexField("source_kind", TEXT), lambda e: e.record.kind),
    ),
    idempotent=False,
    audited=False,
)
"""Timeline entries, indexed by time, event type, every record they concern and the kind
of the record that changed."""

MERGES: RecordType[MergeRecord] = RecordType(
    "merge",
    MergeRecord,
    (
        (IndexField("kind", TEXT), lambda m: m.kind),
        (IndexField("status", TEXT), lambda m: m.status.value),
        (IndexField("survivor_id", TEXT), lambda m: m.survivor_id),
        (IndexField("merged_at", INT), lambda m: to_micros(m.merged_at)),
        (IndexField("duplicate_ids", TEXT, multi=True), lambda m: m.duplicate_ids),
    ),
    idempotent=False,
)
"""Merges of duplicates, indexed by kind, status, survivor, time and duplicates."""


def _sla_due(case: ServiceCase) -> int | None:
    """When the case's SLA clock next has something due; None when closed or without one."""
    if case.sla is None or case.sla.due_at is None or not case.is_open:
        return None
    return to_micros(case.sla.due_at)


def lead_candidate(lead: Lead) -> Candidate:
    """The duplicate-detection view of a lead."""
    return Candidate(
        lead.id,
        "lead",
        lead.name,
        () if lead.email is None else (lead.email.key,),
        () if lead.phone is None else (lead.phone.number,),
        lead.company,
        created_at=lead.created_at,
        filled=lead.filled_fields(),
    )


LEADS: RecordType[Lead] = RecordType(
    "lead",
    Lead,
    (
        (IndexField("status", TEXT), lambda lead: lead.status.value),
        (IndexField("owner_id", TEXT), lambda lead: lead.owner_id),
        (IndexField("email", TEXT), lambda lead: None if lead.email is None else lead.email.key),
        (IndexField("contact_id", TEXT), lambda lead: lead.contact_id),
        (IndexField("company", TEXT), lambda lead: _folded(lead.company)),
        (IndexField("score", INT), lambda lead: lead.score),
        (IndexField("channel", TEXT), lambda lead: lead.source.channel),
        (IndexField("campaign_id", TEXT), lambda lead: lead.source.campaign_id),
        (IndexField("country", TEXT), lambda lead: lead.country),
        (IndexField("created_at", INT), lambda lead: to_micros(lead.created_at)),
        (IndexField("updated_at", INT), lambda lead: to_micros(lead.updated_at)),
        (IndexField("merged_into", TEXT), lambda lead: lead.merged_into),
        (IndexField("tags", TEXT, multi=True), lambda lead: lead.tags),
        (
            IndexField("dedupe_keys", TEXT, multi=True),
            lambda lead: blocking_keys(lead_candidate(lead)),
        ),
    ),
    search=search_text.lead_text,
)
"""Leads, indexed by status, owner, email, the contact it became, company, score, source,
country, times, the survivor a duplicate was merged into, tags and duplicate-detection keys."""

OPPORTUNITIES: RecordType[Opportunity] = RecordType(
    "opportunity",
    Opportunity,
    (
        (IndexField("status", TEXT), lambda o: o.status.value),
        (IndexField("pipeline_id", TEXT), lambda o: o.pipeline_id),
        (IndexField("stage", TEXT), lambda o: o.stage),
        (IndexField("forecast_category", TEXT), lambda o: o.forecast_category.value),
        (IndexField("owner_id", TEXT), lambda o: o.owner_id),
        (IndexField("account_id", TEXT), lambda o: o.account_id),
        (IndexField("lead_id", TEXT), lambda o: o.lead_id),
        (IndexField("currency", TEXT), lambda o: o.amount.currency),
        (IndexField("amount_minor", INT), lambda o: o.amount.to_minor()),
        (IndexField("weighted_minor", INT), _weighted_minor),
        (IndexField("close_date", TEXT), lambda o: o.close_date.isoformat()),
        (IndexField("close_month", TEXT), lambda o: period_label(o.close_date, Period.MONTH)),
        (IndexField("close_quarter", TEXT), lambda o: period_label(o.close_date, Period.QUARTER)),
        (IndexField("updated_at", INT), lambda o: to_micros(o.updated_at)),
        (IndexField("contact_ids", TEXT, multi=True), lambda o: o.contact_ids),
    ),
    related=lambda o: (*((o.account_id,) if o.account_id else ()), *o.contact_ids),
    search=search_text.opportunity_text,
)
"""Opportunities, indexed by status, pipeline, stage, forecast category, owner, account,
lead, currency, amount and weighted amount in minor units, close date with its month
and quarter (``2026-03``, ``2026-Q1``), last change and contacts."""

PRODUCTS: RecordType[Product] = RecordType(
    "product",
    Product,
    (
        (IndexField("sku", TEXT, unique=True), lambda p: p.sku),
        (IndexField("status", TEXT), lambda p: p.status.value),
        (IndexField("category", TEXT), lambda p: p.category),
        (IndexField("name", TEXT), lambda p: p.name.casefold()),
    ),
)
"""Products, indexed by their unique SKU, status, category and case-folded name."""

PRICE_LISTS: RecordType[PriceList] = RecordType(
    "price_list",
    PriceList,
    (
        (IndexField("currency", TEXT), lambda p: p.currency),
        (IndexField("name", TEXT), lambda p: p.name.casefold()),
    ),
)
"""Price lists, indexed by currency and case-folded name."""

QUOTES: RecordType[Quote] = RecordType(
    "quote",
    Quote,
    (
        (IndexField("number", TEXT), lambda q: q.number),
        (IndexField("status", TEXT), lambda q: q.status.value),
        (IndexField("account_id", TEXT), lambda q: q.account_id),
        (IndexField("opportunity_id", TEXT), lambda q: q.opportunity_id),
        (IndexField("contact_id", TEXT), lambda q: q.contact_id),
        (IndexField("author_id", TEXT), lambda q: q.author_id),
        (IndexField("valid_until", TEXT), lambda q: q.valid_until.isoformat()),
        (IndexField("updated_at", INT), lambda q: to_micros(q.updated_at)),
    ),
    related=lambda q: tuple(
        id for id in (q.account_id, q.contact_id, q.opportunity_id) if id is not None
    ),
)
"""Quotes (each revision its own record), indexed by number, status, account,
opportunity, contact, author, validity and last change."""

CONTRACTS: RecordType[Contract] = RecordType(
    "contract",
    Contract,
    (
        (IndexField("number", TEXT), lambda c: c.number),
        (IndexField("status", TEXT), lambda c: c.status.value),
        (IndexField("account_id", TEXT), lambda c: c.account_id),
        (IndexField("quote_id", TEXT, unique=True), lambda c: c.quote_id),
        (IndexField("contact_id", TEXT), lambda c: c.contact_id),
        (IndexField("end_date", TEXT), lambda c: c.end_date.isoformat()),
        (IndexField("notice_from", TEXT), lambda c: c.notice_from.isoformat()),
        (IndexField("updated_at", INT), lambda c: to_micros(c.updated_at)),
    ),
    related=lambda c: tuple(id for id in (c.account_id, c.contact_id) if id is not None),
)
"""Contracts, indexed by number, status, account, the quote they came from (one contract
per quote), the signing contact, end date, the start of the notice window and last change."""


COMPLAINTS: RecordType[Complaint] = RecordType(
    "complaint",
    Complaint,
    (
        (IndexField("status", TEXT), lambda c: c.status.value),
        (IndexField("category", TEXT), lambda c: c.category),
        (IndexField("severity", TEXT), lambda c: c.severity.value),
        (IndexField("channel", TEXT), lambda c: c.channel.value),
        (IndexField("contact_id", TEXT), lambda c: c.contact_id),
        (IndexField("account_id", TEXT), lambda c: c.account_id),
        (IndexField("owner_id", TEXT), lambda c: c.owner_id),
        (IndexField("case_id", TEXT), lambda c: c.case_id),
        (IndexField("created_at", INT), lambda c: to_micros(c.created_at)),
    ),
    related=lambda c: tuple(i for i in (c.contact_id, c.account_id) if i is not None),
)
"""Complaints, indexed by status, category, severity, channel, customer, owner, the case
they were escalated into and time received."""

CASES: RecordType[ServiceCase] = RecordType(
    "case",
    ServiceCase,
    (
        (IndexField("number", TEXT), lambda c: c.number),
        (IndexField("status", TEXT), lambda c: c.status.value),
        (IndexField("priority", TEXT), lambda c: c.priority.value),
        (IndexField("type", TEXT), lambda c: c.type),
        (IndexField("queue", TEXT), lambda c: c.queue),
        (IndexField("team", TEXT), lambda c: c.team),
        (IndexField("owner_id", TEXT), lambda c: c.owner_id),
        (IndexField("contact_id", TEXT), lambda c: c.contact_id),
        (IndexField("account_id", TEXT), lambda c: c.account_id),
        (IndexField("complaint_id", TEXT), lambda c: c.complaint_id),
        (IndexField("parent_id", TEXT), lambda c: c.parent_id),
        (IndexField("sla_due_at", INT), _sla_due),
        (IndexField("resolved_at", INT), lambda c: _micros(c.resolved_at)),
        (IndexField("created_at", INT), lambda c: to_micros(c.created_at)),
    ),
    related=lambda c: tuple(i for i in (c.contact_id, c.account_id) if i is not None),
    search=search_text.case_text,
)
"""Service cases, indexed by number, status, priority, type, queue, team, owner, customer,
complaint, parent, when the SLA clock next needs a look (`sla_due_at`), when resolved and
when opened."""

ARTICLES: RecordType[KnowledgeArticle] = RecordType(
    "article",
    KnowledgeArticle,
    (
        (IndexField("status", TEXT), lambda a: a.status.value),
        (IndexField("updated_at", INT), lambda a: to_micros(a.updated_at)),
        (IndexField("keywords", TEXT, multi=True), lambda a: a.keywords),
        (IndexField("tags", TEXT, multi=True), lambda a: a.tags),
    ),
)
"""Knowledge articles, indexed by status, last change, search keywords and tags."""


def _micros(at: datetime | None) -> int | None:
    return None if at is None else to_micros(at)


def _folded(text: str | None) -> str | None:
    return None if text is None else text.casefold()


@attrs.frozen
class PreferencesRecord:
    """A contact's channel preferences (its id is the contact's id).

    Attributes:
        id: The contact's id.
        version: Grows by one with every change.
        preferences: How the contact likes to be reached.
    """

    id: str = attrs.field(validator=of_type(str))
    version: int = attrs.field(validator=version)
    preferences: ChannelPreferences = attrs.field(validator=of_type(ChannelPreferences))


PREFERENCES: RecordType[PreferencesRecord] = RecordType(
    "channel_preferences",
    PreferencesRecord,
    (
        (IndexField("do_not_call", TEXT), lambda r: "yes" if r.preferences.do_not_call else "no"),
        (IndexField("do_not_email", TEXT), lambda r: "yes" if r.preferences.do_not_email else "no"),
    ),
    idempotent=False,
)
"""Channel preferences, one record per contact (same id), indexed by the do-not flags."""

RECORD_TYPES: tuple[RecordType[Any], ...] = (
    CONTACTS,
    ACCOUNTS,
    ACTIVITIES,
    TIMELINE,
    MERGES,
    LEADS,
    OPPORTUNITIES,
    PRODUCTS,
    PRICE_LISTS,
    QUOTES,
    CONTRACTS,
    COMPLAINTS,
    CASES,
    ARTICLES,
    PREFERENCES,
    IMPORT_RUNS,
    CUSTOM_SPECS,
    *MARKETING_RECORD_TYPES,
    *AUDIT_RECORD_TYPES,
    *QUEUE_RECORD_TYPES,
)
"""Every record type crmkit stores."""


def schema(types: tuple[RecordType[Any], ...] = RECORD_TYPES) -> StoreSchema:
    """The storage schema for ``types``."""
    return StoreSchema(tuple(t.spec() for t in types))
