"""The raw ``sqlite3`` peer: the same rows as crmkit's unit of work, written by hand.

For ``uow.save(CONTACTS, contact, created)`` crmkit's `SqliteStore` writes, in
one ``BEGIN IMMEDIATE`` transaction:

* a ``doc_contact`` row: body, ``_index`` JSON and the single-valued index columns;
* ``crm_multi`` rows for the multi-valued index fields (tags, account ids and
  the duplicate-detection keys, derived with crmkit's own `blocking_keys`);
* a ``crm_events`` row for the event;
* a ``doc_timeline`` row for the event's timeline entry, and its ``crm_multi``
  rows (the entry's subjects);
* a ``doc_segment_profile`` row: the contact's segment profile, a read model
  that segments query (body, ``_index`` JSON, its typed columns and an
  ``active`` flag), with ``crm_multi`` rows for its tags, account tags and
  granted consents;
* the contact's full-text search entry: a key in ``srch_map_contact`` and its
  folded words in the FTS5 table ``srch_fts_contact`` (the words come from
  crmkit's own `contact_text` and `indexed`, as the index columns come from its
  own `blocking_keys`).

`save` writes exactly those rows with ``executemany``, serialising with the
same converter and the same JSON function (the profile is a plain dict, built
by hand as an application keeping such a read model would: `profile_rows`),
taking ids from the same kind of generator in the same order. `copy_schema`
gives its file crmkit's tables, indexes and pragmas verbatim, and
`table_digests` lets the suite check that both files end up holding the same
rows.
"""

from __future__ import annotations

import hashlib
import sqlite3
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import cattrs

from crmkit.app.search_text import contact_text
from crmkit.kernel.serialization import dumps
from crmkit.kernel.time import to_micros
from crmkit.parties.contact import Contact
from crmkit.parties.dedupe import Candidate, blocking_keys
from crmkit.parties.events import ContactCreated
from crmkit.ports.search import indexed

INSERT_CONTACT = (
    'INSERT INTO "doc_contact" (tenant, id, version, body, _index,'
    ' "status", "name", "email", "owner_id", "updated_at", "merged_into", "search_text")'
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The contact search index: a stable key per contact, and its folded words (FTS5).
LAST_SEARCH_KEY = 'SELECT coalesce(max(rid), 0) FROM "srch_map_contact"'
INSERT_SEARCH_KEY = 'INSERT INTO "srch_map_contact" (rid, tenant, id) VALUES (?, ?, ?)'
INSERT_SEARCH_WORDS = 'INSERT INTO "srch_fts_contact" (rowid, words) VALUES (?, ?)'
INSERT_TIMELINE = (
    'INSERT INTO "doc_timeline" (tenant, id, version, body, _index, "occurred_at", "event_type",'
    ' "source_kind") VALUES (?, ?, ?, ?, ?, ?, ?, ?)'
)
INSERT_PROFILE = (
    'INSERT INTO "doc_segment_profile" (tenant, id, version, body, _index, "active", "country",'
    ' "region", "city", "account_industry", "last_activity_at", "last_purchase_at",'
    ' "total_spend_minor", "total_spend_currency", "rfm_class")'
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_MULTI = "INSERT INTO crm_multi VALUES (?, ?, ?, ?, ?)"
INSERT_EVENT = (
    "INSERT INTO crm_events (tenant, id, stream_kind, stream_id, version, event_type,"
    " schema_version, occurred_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
GET_BODY = 'SELECT body FROM "doc_contact" WHERE tenant = ? AND id = ?'


def connect(path: str) -> sqlite3.Connection:
    """A connection set up as `SqliteStore` sets up its own."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def copy_schema(template: str, path: str) -> sqlite3.Connection:
    """Create ``path`` with the tables, indexes, pragmas and field catalogue of ``template``."""
    source = sqlite3.connect(template)
    try:
        rows = source.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " ORDER BY type = 'index', rowid"
        ).fetchall()
        # A virtual table (the FTS5 search index) creates its shadow tables itself.
        virtual = [name + "_" for name, sql in rows if sql.startswith("CREATE VIRTUAL TABLE")]
        statements = [sql for name, sql in rows if not name.startswith(tuple(virtual))]
        fields = source.execute("SELECT * FROM crm_fields").fetchall()
        pragmas = {
            name: source.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("user_version", "application_id", "journal_mode", "page_size")
        }
    finally:
        source.close()
    conn = connect(path)
    conn.execute(f"PRAGMA page_size = {int(pragmas['page_size'])}")
    conn.execute(f"PRAGMA journal_mode = {pragmas['journal_mode']}")
    conn.execute("BEGIN IMMEDIATE")
    for sql in statements:
        conn.execute(sql)
    conn.executemany("INSERT INTO crm_fields VALUES (?, ?, ?, ?, ?)", fields)
    conn.execute(f"PRAGMA application_id = {int(pragmas['application_id'])}")
    conn.execute(f"PRAGMA user_version = {int(pragmas['user_version'])}")
    conn.execute("COMMIT")
    return conn


class Rows(NamedTuple):
    """The rows of one bulk save, table by table, in insertion order."""

    docs: list[tuple[Any, ...]]
    multi: list[tuple[Any, ...]]
    entries: list[tuple[Any, ...]]
    entry_multi: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]
    profiles: list[tuple[Any, ...]]
    profile_multi: list[tuple[Any, ...]]
    search: list[tuple[str, str]]


# The order in which the application lists consents in a profile.
CHANNELS = ("email", "sms", "phone", "post", "messaging")
PURPOSES = ("marketing", "sales", "service", "research")


def _fold(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text.casefold())


def profile_rows(tenant: str, contact: Contact) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The segment profile row of a new contact and its side-table rows, built by hand.

    The profile is the contact's first address, its tags and the consent in
    force per channel and purpose (the latest record wins). A new contact has
    no activity, purchase, RFM class or audience record yet, and the sample
    contacts are linked to no account, so those facts are empty.
    """
    if contact.accounts:
        raise ValueError("a linked contact's profile needs its account's tags: not written here")
    cid = contact.id
    address = contact.addresses[0] if contact.addresses else None
    latest: dict[str, Any] = {}
    for record in contact.consent:
        key = f"{record.channel.value}:{record.purpose.value}"
        if key not in latest or record.at >= latest[key].at:
            latest[key] = record
    consent = {
        key: "granted" if latest[key].granted else "withdrawn"
        for key in (f"{c}:{p}" for c in CHANNELS for p in PURPOSES)
        if key in latest
    }
    country = None if address is None else address.country
    region = None if address is None else address.region
    city = None if address is None else address.city
    tags = list(contact.tags)
    active = contact.status.value == "active" and contact.merged_into is None
    body = {
        "id": cid,
        "version": 1,
        "profile": {
            "contact_id": cid,
            "country": country,
            "region": region,
            "city": city,
            "latitude": None,
            "longitude": None,
            "tags": tags,
            "account_tags": [],
            "account_industry": None,
            "last_activity_at": None,
            "last_purchase_at": None,
            "total_spend": None,
            "rfm_class": None,
            "consent": consent,
            "custom": {},
        },
        "active": active,
    }
    granted = sorted(key for key, status in consent.items() if status == "granted")
    flag = "yes" if active else "no"
    index = {
        "active": flag,
        "country": country,
        "region": _fold(region),
        "city": _fold(city),
        "tags": tags,
        "account_tags": [],
        "account_industry": None,
        "last_activity_at": None,
        "last_purchase_at": None,
        "total_spend_minor": None,
        "total_spend_currency": None,
        "rfm_class": None,
        "consent_granted": granted,
    }
    row = (
        tenant,
        cid,
        1,
        dumps(body),
        dumps(index),
        flag,
        country,
        index["region"],
        index["city"],
        None,
        None,
        None,
        None,
        None,
        None,
    )
    multi = [(tenant, "segment_profile", "tags", tag, cid) for tag in tags]
    multi.extend((tenant, "segment_profile", "consent_granted", key, cid) for key in granted)
    return row, multi


def build_rows(
    conv: cattrs.Converter,
    new_id: Callable[[], str],
    tenant: str,
    pairs: Sequence[tuple[Contact, ContactCreated]],
) -> Rows:
    """The rows crmkit writes for new contacts, their events, timeline entries and profiles."""
    docs: list[tuple[Any, ...]] = []
    multi: list[tuple[Any, ...]] = []
    entries: list[tuple[Any, ...]] = []
    entry_multi: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    profiles: list[tuple[Any, ...]] = []
    profile_multi: list[tuple[Any, ...]] = []
    search: list[tuple[str, str]] = []
    for contact, event in pairs:
        cid = contact.id
        status = contact.status.value
        name = f"{contact.last_name} {contact.first_name}".strip().casefold()
        email = contact.emails[0].key if contact.emails else None
        updated = to_micros(contact.updated_at)
        tags, accounts = contact.tags, contact.account_ids
        keys = blocking_keys(Candidate.of_contact(contact))  # the same keys crmkit derives
        index = {
            "status": status,
            "name": name,
            "email": email,
            "owner_id": contact.owner_id,
            "updated_at": updated,
            "tags": tags,
            "account_ids": accounts,
            "merged_into": contact.merged_into,
            "dedupe_keys": keys,
            "search_text": contact_text(contact) or None,  # the same text crmkit searches
        }
        if index["search_text"]:
            search.append((cid, " ".join(indexed(index["search_text"]))))
        body = dumps(conv.unstructure(contact))
        docs.append(
            (
                tenant,
                cid,
                contact.version,
                body,
                dumps(index),
                status,
                name,
                email,
                contact.owner_id,
                updated,
                contact.merged_into,
                index["search_text"],
            )
        )
        multi.extend((tenant, "contact", "tags", tag, cid) for tag in tags)
        multi.extend((tenant, "contact", "account_ids", account, cid) for account in accounts)
        multi.extend((tenant, "contact", "dedupe_keys", key, cid) for key in keys)

        occurred = to_micros(event.occurred_at)
        events.append(
            (
                tenant,
                new_id(),
                event.aggregate_kind,
                cid,
                event.version,
                event.event_type,
                event.schema_version,
                occurred,
                dumps(conv.unstructure(event)),
            )
        )
        entry_id = new_id()
        subjects = list(dict.fromkeys((*event.subjects(), *accounts)))
        entry = {
            "id": entry_id,
            "occurred_at": event.occurred_at.isoformat(),
            "subjects": subjects,
            "event_type": event.event_type,
            "record": {"kind": event.aggregate_kind, "id": cid},
            "summary": event.summary(),
            "actor": event.actor,
        }
        entry_index = {
            "occurred_at": occurred,
            "event_type": event.event_type,
            "subjects": subjects,
            "source_kind": event.aggregate_kind,
        }
        entries.append(
            (
                tenant,
                entry_id,
                1,
                dumps(entry),
                dumps(entry_index),
                occurred,
                event.event_type,
                event.aggregate_kind,
            )
        )
        entry_multi.extend((tenant, "timeline", "subjects", s, entry_id) for s in subjects)
        profile, its_multi = profile_rows(tenant, contact)
        profiles.append(profile)
        profile_multi.extend(its_multi)
    return Rows(docs, multi, entries, entry_multi, events, profiles, profile_multi, search)


def save(
    conn: sqlite3.Connection,
    conv: cattrs.Converter,
    new_id: Callable[[], str],
    tenant: str,
    pairs: Sequence[tuple[Contact, ContactCreated]],
) -> None:
    """Write new contacts, their events, timeline entries, profiles and search entries
    in one transaction."""
    rows = build_rows(conv, new_id, tenant, pairs)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(INSERT_CONTACT, rows.docs)
        conn.executemany(INSERT_MULTI, rows.multi)
        conn.executemany(INSERT_TIMELINE, rows.entries)
        conn.executemany(INSERT_MULTI, rows.entry_multi)
        conn.executemany(INSERT_PROFILE, rows.profiles)
        conn.executemany(INSERT_MULTI, rows.profile_multi)
        conn.executemany(INSERT_EVENT, rows.events)
        first = conn.execute(LAST_SEARCH_KEY).fetchone()[0] + 1
        keys = [(first + i, tenant, cid) for i, (cid, _) in enumerate(rows.search)]
        conn.executemany(INSERT_SEARCH_KEY, keys)
        words = [(first + i, text) for i, (_, text) in enumerate(rows.search)]
        conn.executemany(INSERT_SEARCH_WORDS, words)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def table_digests(path: str) -> dict[str, tuple[int, str]]:
    """Row count and a digest of the sorted rows of every table in the file at ``path``."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        result = {}
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            width = len(conn.execute(f"SELECT * FROM {quoted} LIMIT 0").description)
            order = ", ".join(str(i) for i in range(1, width + 1))
            digest = hashlib.sha256()
            count = 0
            for row in conn.execute(f"SELECT * FROM {quoted} ORDER BY {order}"):
                digest.update(repr(row).encode())
                count += 1
            result[table] = (count, digest.hexdigest())
        return result
    finally:
        conn.close()
