"""SQL injection: hostile strings are data, never SQL, on SQLite and PostgreSQL (issue 8).

Every payload of `PAYLOADS` goes into each string field that contacts, accounts,
leads, opportunities and activities accept through the services, and into every
kind of query filter (equality, membership, ranges, ordering, keyset cursors,
id lists, aggregates) through the services and at the storage port. The tests
check that values come back verbatim (after crmkit's documented cleaning, computed
with the same public functions), that a filter returns exactly the records holding
the value, that no table, index or row appears or disappears, and that the only
exceptions are crmkit's own: text the rules refuse and unknown field names raise
`ValidationError`, never a driver error.

One populated CRM per backend (built once, module scope) serves the read-only
tests; they compare a snapshot of the whole database before and after.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest

from crmkit import Crm, FakeClock, Principal, RecordRef, SequentialIds
from crmkit.app.records import ACCOUNTS, CONTACTS, LEADS
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.kernel.text import LINE_MAX, TEXT_MAX, clean_line, clean_text
from crmkit.parties.values import Address, Email, clean_tag
from crmkit.ports.aggregate import Aggregate, Measure, aggregate, run_aggregate
from crmkit.ports.query import (
    Condition,
    Eq,
    In,
    Keyset,
    Order,
    Query,
    Range,
    decode_cursor,
    encode_cursor,
    run_query,
)
from crmkit.ports.storage import (
    ChangeSet,
    Delete,
    Document,
    DocumentStore,
    EventRecord,
    IndexValue,
    OutboxMessage,
    Put,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal("u-admin", roles={"admin"})
TENANT = "default"  # Crm's default tenant

_LONG_QUOTE = "'" * LINE_MAX  # exactly at the single-line limit
_LONG_OR = ("x' OR '1'='1' -- " * 20)[:LINE_MAX]

PAYLOADS: tuple[str, ...] = (
    # quote breaking
    "'",
    '"',
    "''",
    "' OR '1'='1",
    "' OR 1=1 --",
    "' or 'a'='a",
    '" OR ""="',
    '" OR 1=1 --',
    "admin'--",
    "O'Brien",
    "') OR ('1'='1",
    "')) OR 1=1; --",
    ")); --",
    "x')) UNION SELECT 1,2,3,4 --",
    # stacked queries and schema attacks
    "'; DROP TABLE doc_contact; --",
    "'; DROP TABLE crm_events; --",
    '"; DELETE FROM doc_account; --',
    "1; UPDATE doc_lead SET body = '{}'; --",
    "'; TRUNCATE crm_outbox; --",
    "Robert'); DROP TABLE doc_contact;--",
    "'; INSERT INTO crm_multi VALUES ('default','contact','tags','x','y'); --",
    # comments
    "name' --",
    "name' #",
    "/* comment */ OR 1=1",
    "'/**/OR/**/1=1/**/--",
    "*/ OR 1=1 /*",
    # UNION SELECT
    "' UNION SELECT id, version, body, _index FROM doc_contact --",
    "' UNION ALL SELECT NULL, NULL, NULL, NULL --",
    "' UNION SELECT name, sql, 1, 1 FROM sqlite_master --",
    # SQLite specifics
    "' AND (SELECT count(*) FROM sqlite_master) > 0 --",
    "'; ATTACH DATABASE '/tmp/pwned.db' AS pwned; --",
    "'; PRAGMA writable_schema = 1; --",
    "' || (SELECT sqlite_version()) || '",
    "json_extract(body, '$.last_name')",
    "$.last_name",
    "$[0]",
    '{"$gt": ""}',
    # PostgreSQL specifics
    "'::text",
    "'::int --",
    "1'::regclass --",
    "'; SELECT pg_sleep(5); --",
    "' OR pg_sleep(5) IS NULL --",
    "$$",
    "$$; DROP TABLE doc_contact; $$",
    "$tag$ evil $tag$",
    "E'\\''",
    "E'\\x27 OR 1=1 --",
    "' || current_user || '",
    "'; COPY doc_contact TO '/tmp/leak.csv'; --",
    "%s",
    "%(name)s",
    "?",
    ":name",
    # backslash escapes (no NUL)
    "\\",
    "\\'",
    "\\\\'; --",
    "\\x27",
    "\\u0027",
    "\\0",
    # LIKE wildcards
    "%",
    "_",
    "%' OR name LIKE '%",
    "a_b%c",
    "[a-z]*",
    # unicode quote look-alikes and normalisation
    "＇ OR ＇1＇=＇1",
    "\u2018 OR \u20181\u2019=\u20191",
    "\u201c; DROP TABLE doc_contact; --\u201d",
    "ʼ OR 1=1 --",
    "Cafe\u0301' OR '1'='1",  # NFC composes it to Café
    "  ' OR '1'='1  ",  # surrounding white space is stripped
    "\u2028' OR 1=1",  # a line separator is text, not a control character
    "x\u200b'; --",  # zero-width space
    # long strings at the limits
    _LONG_QUOTE,
    _LONG_OR,
    "a" * (LINE_MAX - 12) + "' OR 1=1 --",
)
"""Hostile strings every text rule accepts; each must be stored and matched as plain data."""

REFUSED: tuple[str, ...] = (
    "a\x00b",
    "'; DROP TABLE doc_contact; --\x00",
    "x\x1b[31m' OR 1=1",
    "' OR 1=1\x7f",
    "a\x85b",
    "Robert'); DROP TABLE doc_contact;--\n",
    "' OR '1'='1\r",
    "\ud800' OR 1=1",
    "'" * (LINE_MAX + 1),
)
"""Strings crmkit's single-line text rules refuse: control characters, NUL, a lone
surrogate, one character beyond the limit."""

BAD_FIELDS: tuple[str, ...] = (
    "name; DROP TABLE x",
    "name; DROP TABLE doc_contact; --",
    'name" = "" OR ""="',
    "name) OR 1=1 --",
    "name' --",
    "id DESC; --",
    "(SELECT 1)",
    "t.name",
    "doc_contact.name",
    "NAME",
    "ｎａｍｅ",
    "name\x00",
    "body",
    "tenant",
    "version",
    "_index",
    "",
)
"""Field names that are no declared index field: every query and aggregate refuses them."""


def _line(value: str, max_len: int = LINE_MAX) -> str:
    return clean_line(value, "expected", max_len=max_len)


def _tag_source(p: str) -> str:
    return p[:50]  # tags are at most 50 characters


def _lead_first(p: str) -> str:
    """A first name from ``p``: up to 40 characters (long names are tested on their own)."""
    return p[:40]


def _as_tag(bad: str) -> str:
    return bad if len(bad) <= 50 else "'" * 51  # a tag one beyond its 50-character limit


def _renamed(p: str) -> str:
    return "v2 " + p[: LINE_MAX - 3]


def _local_ok(p: str) -> bool:
    try:
        Email(f"{p}@example.com")
    except ValidationError:
        return False
    return True


# --- the database, seen from outside crmkit -------------------------------------


Snapshot = dict[str, Any]


@attrs.frozen
class Backend:
    """A store's backend and how to look into its database directly."""

    name: str
    make: Callable[[], DocumentStore]
    snapshot: Callable[[], Snapshot]


def _sqlite_backend(path: str) -> Backend:
    from crmkit.adapters.sqlite import SqliteStore

    def snapshot() -> Snapshot:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            objects = conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
            ).fetchall()
            counts = {
                name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                for type_, name, _, _ in objects
                if type_ == "table"
            }
            databases = conn.execute("PRAGMA database_list").fetchall()
        finally:
            conn.close()
        return {"objects": objects, "counts": counts, "databases": [d[1] for d in databases]}

    return Backend("sqlite", lambda: SqliteStore(path), snapshot)


def _count(conn: Any, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _postgres_backend(url: str, schema: str) -> Backend:
    import psycopg
    from psycopg.conninfo import make_conninfo

    from crmkit.adapters.postgres import PostgresStore

    conninfo = make_conninfo(url, options=f"-csearch_path={schema}")

    def snapshot() -> Snapshot:
        with psycopg.connect(url, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
                " ORDER BY table_name",
                (schema,),
            ).fetchall()
            indexes = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
                " ORDER BY indexname",
                (schema,),
            ).fetchall()
            # Schemas and tables elsewhere too (public ...): nothing may appear outside ours.
            schemas = conn.execute(
                "SELECT n.nspname, c.relname, c.relkind FROM pg_class AS c"
                " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
                " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
                " AND n.nspname NOT LIKE 'crmkit_test_%%' ORDER BY 1, 2"
            ).fetchall()
            schemas += conn.execute(
                "SELECT nspname, '', '' FROM pg_namespace WHERE nspname NOT LIKE 'crmkit_test_%%'"
                " ORDER BY nspname"
            ).fetchall()
            counts = {
                name: _count(conn, f'SELECT count(*) FROM "{schema}"."{name}"')
                for (name,) in tables
            }
        return {"objects": tables + indexes, "counts": counts, "databases": schemas}

    return Backend("postgres", lambda: PostgresStore(conninfo), snapshot)


def _postgres_url() -> str:
    url = os.environ.get("CRMKIT_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CRMKIT_REQUIRE_POSTGRES") == "1":
            pytest.fail("CRMKIT_REQUIRE_POSTGRES=1 but CRMKIT_TEST_POSTGRES_URL is unset")
        pytest.skip("no PostgreSQL server: set CRMKIT_TEST_POSTGRES_URL (.ci/postgres.sh)")
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], Backend]]:
    """A factory of fresh, empty databases of one backend, dropped after the module."""
    made: list[str] = []
    if request.param == "sqlite":

        def fresh() -> Backend:
            return _sqlite_backend(str(tmp_path_factory.mktemp("inject") / "crm.db"))

        yield fresh
        return
    import psycopg

    url = _postgres_url()

    def fresh_pg() -> Backend:
        name = f"crmkit_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{name}"')
        made.append(name)
        return _postgres_backend(url, name)

    yield fresh_pg
    with psycopg.connect(url, autocommit=True) as admin:
        for name in made:
            admin.execute(f'DROP SCHEMA "{name}" CASCADE')


# --- one CRM full of payloads per backend -----------------------------------------


@attrs.define
class World:
    """A CRM whose records hold every payload, and what each one should hold."""

    backend: Backend
    crm: Crm
    seeds: dict[str, str]  # seed contact id -> its name key
    contacts: dict[str, str] = attrs.field(factory=dict)  # id -> payload
    accounts: dict[str, str] = attrs.field(factory=dict)
    leads: dict[str, str] = attrs.field(factory=dict)
    deals: dict[str, str] = attrs.field(factory=dict)
    notes: dict[str, str] = attrs.field(factory=dict)
    long_lead: str = ""
    seed_account: str = ""
    before_writes: Snapshot = attrs.field(factory=dict)
    after_writes: Snapshot = attrs.field(factory=dict)

    def contact_keys(self) -> dict[str, str]:
        """Every contact's expected ``name`` index value (last name, case-folded)."""
        keys = dict(self.seeds)
        keys.update({id: _line(p).casefold() for id, p in self.contacts.items()})
        return keys

    def contact_tags(self) -> dict[str, set[str]]:
        """Every contact's expected tags."""
        tags = {id: {"seed"} for id in self.seeds}
        tags.update({id: {clean_tag(_tag_source(p))} for id, p in self.contacts.items()})
        return tags


SEED_NAMES = ("Berg", "Okafor", "Nakamura", "Zeller")


@pytest.fixture(scope="module")
def world(backend_factory: Callable[[], Backend]) -> Iterator[World]:
    """Seed a few normal records, snapshot, then write every payload through the services."""
    backend = backend_factory()
    crm = Crm(backend.make(), clock=FakeClock(T0), ids=SequentialIds("r"))
    with crm.unit_of_work(ADMIN) as uow:
        seed_account = uow.accounts.create("Seed GmbH", tags=("seed",)).id
        seeds: dict[str, str] = {
            uow.contacts.create(
                name, first_name="Anna", tags=("seed",)
            ).id: f"{name} anna".casefold()
            for name in SEED_NAMES
        }
        uow.leads.capture(last_name="Seed", company="Seed GmbH", tags=("seed",))
    w = World(backend, crm, dict(seeds), seed_account=seed_account)
    w.before_writes = backend.snapshot()
    with crm.unit_of_work(ADMIN) as uow:
        for p in PAYLOADS:
            email = (Email(f"{p}@example.com"),) if _local_ok(p) else ()
            address = Address((p,), city=p, country="DE", region=p[:100])
            contact = uow.contacts.create(
                p, title=p, tags=(_tag_source(p),), emails=email, addresses=(address,)
            )
            w.contacts[contact.id] = p
            account = uow.accounts.create(p, website=p, industry=p, tags=(_tag_source(p),))
            w.accounts[account.id] = p
            lead = uow.leads.capture(
                first_name=_lead_first(p),
                last_name=p,
                company=p,
                title=p,
                website=p,
                region=p[:100],
                city=p,
                country="de",
                description=f"{p}\n{p}",
                tags=(_tag_source(p),),
                email=email[0] if email else None,
            )
            w.leads[lead.id] = p
            deal = uow.opportunities.open(
                p, amount=Money.of("10", "EUR"), close_date=date(2026, 5, 1)
            )
            w.deals[deal.id] = p
            note = uow.activities.log(
                "note", p, (RecordRef("contact", contact.id),), body=f"{p}\r\n{p}"
            )
            w.notes[note.id] = p
        w.long_lead = uow.leads.capture(
            company="long", description=("'; DROP TABLE doc_lead; -- " * 800)[:TEXT_MAX]
        ).id
    # Second unit of work: updates, links and reasons carry payloads too.
    with crm.unit_of_work(ADMIN) as uow:
        for i, (id, p) in enumerate(w.contacts.items()):
            uow.contacts.update(id, title=PAYLOADS[(i + 1) % len(PAYLOADS)])
            uow.contacts.link(id, seed_account, p[:80])
        for id, p in w.leads.items():
            uow.leads.disqualify(id, p)
        for id, p in w.deals.items():
            uow.opportunities.update(id, name=_renamed(p))
            uow.opportunities.lose(id, p)
    w.after_writes = backend.snapshot()
    yield w
    crm.close()


def _same_layout(before: Snapshot, after: Snapshot) -> None:
    assert after["objects"] == before["objects"], "a table or index was created or dropped"
    assert after["databases"] == before["databases"], "a database or schema was attached"
    for path in ("/tmp/pwned.db", "/tmp/leak.csv"):  # ATTACH and COPY targets of PAYLOADS
        assert not os.path.exists(path), f"{path} was written"


def _intact(world: World) -> None:
    """Every table, index and row count exactly as the payload writes left them."""
    now = world.backend.snapshot()
    _same_layout(world.after_writes, now)
    assert now == world.after_writes


# --- (a) every string field, stored and read back verbatim ------------------------


def test_payloads_are_many_and_varied() -> None:
    assert len(PAYLOADS) >= 50
    assert len(set(PAYLOADS)) == len(PAYLOADS)
    assert sum(_local_ok(p) for p in PAYLOADS) >= 10  # enough payloads reach the email index
    for p in PAYLOADS:
        assert "\x00" not in p
        assert _line(p)  # every one passes the text rules


def test_the_writes_only_added_rows(world: World) -> None:
    before, after = world.before_writes, world.after_writes
    _same_layout(before, after)
    for table, count in before["counts"].items():
        assert after["counts"][table] >= count, f"rows of {table} disappeared"
    n = len(PAYLOADS)
    assert after["counts"]["doc_contact"] == before["counts"]["doc_contact"] + n
    assert after["counts"]["doc_account"] == before["counts"]["doc_account"] + n
    assert after["counts"]["doc_lead"] == before["counts"]["doc_lead"] + n + 1
    assert after["counts"]["doc_opportunity"] == before["counts"]["doc_opportunity"] + n
    assert after["counts"]["doc_activity"] == before["counts"]["doc_activity"] + n


def test_every_field_reads_back_verbatim(world: World) -> None:
    with world.crm.unit_of_work(ADMIN) as uow:
        for i, (id, p) in enumerate(world.contacts.items()):
            c = uow.contacts.get(id)
            assert c.last_name == _line(p)
            assert c.first_name == ""
            assert c.title == _line(PAYLOADS[(i + 1) % len(PAYLOADS)])
            assert c.tags == (clean_tag(_tag_source(p)),)
            assert c.addresses[0].lines == (_line(p),)
            assert c.addresses[0].city == _line(p)
            assert c.addresses[0].region == _line(p[:100])
            assert [r.role for r in c.accounts] == [_line(p[:80])]
            if _local_ok(p):
                assert c.emails[0].address == f"{_line(p)}@example.com"
            else:
                assert c.emails == ()
        for id, p in world.accounts.items():
            a = uow.accounts.get(id)
            assert (a.name, a.website, a.industry) == (_line(p), _line(p), _line(p))
            assert a.tags == (clean_tag(_tag_source(p)),)
        for id, p in world.leads.items():
            lead = uow.leads.get(id)
            first = clean_line(_lead_first(p), "expected", allow_empty=True)
            assert lead.first_name == (first or None)
            for value in (lead.last_name, lead.company, lead.title):
                assert value == _line(p)
            assert (lead.website, lead.city) == (_line(p), _line(p))
            assert lead.region == _line(p[:100])
            assert lead.description == clean_text(f"{p}\n{p}", "expected")
            assert lead.disqualify_reason == _line(p)
            # A possible duplicate of an earlier payload lead is flagged with a tag.
            assert set(lead.tags) - {"possible-duplicate"} == {clean_tag(_tag_source(p))}
        assert uow.leads.get(world.long_lead).description == _line(
            ("'; DROP TABLE doc_lead; -- " * 800)[:TEXT_MAX], TEXT_MAX
        )
        for id, p in world.deals.items():
            deal = uow.opportunities.get(id)
            assert deal.name == _line(_renamed(p))
            assert deal.lost_reason == _line(p, 500)
        for id, p in world.notes.items():
            note = uow.activities.get(id)
            assert note.subject == _line(p)
            assert note.body == clean_text(f"{p}\r\n{p}", "expected")


# --- (b) every query filter, through the services ----------------------------------


def _ids(page: Any) -> set[str]:
    return {record.id for record in page}


def test_service_filters_match_exactly_the_records_holding_the_payload(world: World) -> None:
    keys = world.contact_keys()
    tags = world.contact_tags()
    emails = {
        id: f"{_line(p)}@example.com".casefold() for id, p in world.contacts.items() if _local_ok(p)
    }
    with world.crm.unit_of_work(ADMIN) as uow:
        for p in PAYLOADS:
            key, tag = _line(p).casefold(), clean_tag(_tag_source(p))
            for value in (p, key):
                want = {id for id, k in keys.items() if k == value}
                assert _ids(uow.contacts.find(Eq("name", value), limit=1000)) == want
                assert set(uow.find_ids(CONTACTS, (Eq("name", value),))) == want
                ranged = Range("name", gte=value, lte=value)
                assert _ids(uow.contacts.find(ranged, limit=1000)) == want
                above = {id for id, k in keys.items() if k > value}
                assert _ids(uow.contacts.find(Range("name", gt=value), limit=1000)) == above
                below = {id for id, k in keys.items() if k < value}
                assert set(uow.find_ids(CONTACTS, (Range("name", lt=value),))) == below
                want = {id for id, e in emails.items() if e == value}
                assert _ids(uow.contacts.find(Eq("email", value), limit=1000)) == want
                want = {id for id, e in emails.items() if e in (value, f"{value}@example.com")}
                found = In("email", (value, f"{value}@example.com"))
                assert _ids(uow.contacts.find(found, limit=1000)) == want
            assert {id for id, k in keys.items() if k == key}, "the record itself must match"
            if _local_ok(p):
                assert _ids(uow.contacts.find(Eq("email", f"{_line(p)}@example.com".casefold())))
            other = clean_tag(_tag_source(PAYLOADS[-1 - PAYLOADS.index(p)]))
            for values in ((tag,), (p,), (tag, other, "no-such-tag"), (p, "%", "_", "' OR 1=1")):
                want = {id for id, held in tags.items() if held & set(values)}
                assert _ids(uow.contacts.find(In("tags", values), limit=1000)) == want
                assert set(uow.find_ids(CONTACTS, (In("tags", values),))) == want
            # The same through other kinds: account names and lead companies are case-folded.
            want = {id for id, q in world.accounts.items() if _line(q).casefold() == key}
            assert _ids(uow.accounts.find(Eq("name", key), limit=1000)) == want
            want = {id for id, q in world.leads.items() if _line(q).casefold() == key}
            assert _ids(uow.leads.find(Eq("company", key), limit=1000)) == want
            assert _ids(uow.leads.find(In("company", (key, p)), limit=1000)) >= want
            assert not _ids(uow.contacts.find(Eq("id", p), Eq("name", key)))
    _intact(world)  # reads wrote nothing


@pytest.mark.parametrize("descending", [False, True])
def test_order_and_cursors_over_payload_values(world: World, descending: bool) -> None:
    keys = world.contact_keys()
    expected = sorted(keys, key=lambda id: (keys[id], id), reverse=descending)
    seen: list[str] = []
    cursors: list[str] = []
    with world.crm.unit_of_work(ADMIN) as uow:
        cursor: str | None = None
        while True:
            page = uow.contacts.find(order_by=(Order("name", descending),), limit=7, cursor=cursor)
            seen.extend(c.id for c in page)
            cursor = page.next_cursor
            if cursor is None:
                break
            cursors.append(cursor)
        assert seen == expected
        # A cursor whose sort value and id are payloads resumes exactly after them.
        query = Query("contact", (Eq("status", "active"),), (Order("name", descending),), 8)
        for p in PAYLOADS:
            forged = encode_cursor(query, Document("contact", p, 1, "{}", {"name": p}))
            after = sort_key_after(keys, p, p, descending)
            page = uow.contacts.find(order_by=(Order("name", descending),), limit=7, cursor=forged)
            assert [c.id for c in page] == after[:7]
        # A payload is never a cursor: it is refused, not decoded into SQL.
        for p in PAYLOADS:
            with pytest.raises(ValidationError):
                uow.contacts.find(order_by=(Order("name", descending),), cursor=p)
        # Nor does a real cursor resume another query (its digest binds filter and order).
        with pytest.raises(ValidationError):
            uow.contacts.find(order_by=(Order("name", not descending),), cursor=cursors[0])
        with pytest.raises(ValidationError):
            uow.contacts.find(Eq("name", "' OR '1'='1"), cursor=cursors[0])
    _intact(world)


def sort_key_after(keys: dict[str, str], value: str, id: str, descending: bool) -> list[str]:
    """Ids after the row (value, id) in name order, ids breaking ties in the same direction."""
    rows = sorted(keys, key=lambda i: (keys[i], i), reverse=descending)
    if descending:
        return [i for i in rows if (keys[i], i) < (value, id)]
    return [i for i in rows if (keys[i], i) > (value, id)]


def test_aggregates_group_payload_keys_exactly(world: World) -> None:
    keys = world.contact_keys()
    with world.crm.unit_of_work(ADMIN) as uow:
        for pushdown in (True, False):
            groups = uow.aggregate(CONTACTS, (), ("name",), (Measure.count(),), pushdown=pushdown)
            assert {g.key[0]: g.values[0] for g in groups} == Counter(keys.values())
            account_groups = uow.aggregate(
                ACCOUNTS, (In("tags", tuple(clean_tag(_tag_source(p)) for p in PAYLOADS)),),
                ("name",), (Measure.count(),), pushdown=pushdown,
            )  # fmt: skip
            want = Counter(_line(p).casefold() for p in PAYLOADS)
            assert {g.key[0]: g.values[0] for g in account_groups} == want
            lead_groups = uow.aggregate(
                LEADS, (Eq("status", "disqualified"),), ("company", "email"),
                (Measure.count(), Measure.sum("score")), pushdown=pushdown,
            )  # fmt: skip
            pairs = Counter(
                (
                    _line(p).casefold(),
                    f"{_line(p)}@example.com".casefold() if _local_ok(p) else None,
                )
                for p in PAYLOADS
            )
            assert {g.key: g.values[0] for g in lead_groups} == pairs
        for p in PAYLOADS:
            key = _line(p).casefold()
            for value in (p, key):
                got = uow.aggregate(CONTACTS, (Eq("name", value),), ("name",), (Measure.count(),))
                n = sum(k == value for k in keys.values())
                assert got == ([] if n == 0 else [attrs.evolve(got[0], key=(value,), values=(n,))])
    _intact(world)


# --- (b) every query filter, at the storage port -----------------------------------


def _port_queries(p: str) -> list[Query | Aggregate]:
    tag = clean_tag(_tag_source(p))
    key = _line(p).casefold()
    name = (Order("name"),)
    return [
        Query("contact", (Eq("name", p),)),
        Query("contact", (Eq("name", key),)),
        Query("contact", (Eq("email", p),)),
        Query("contact", (In("name", (p, key, "berg anna")),)),
        Query("contact", (In("tags", (p, tag)),)),
        Query("contact", (Eq("tags", p),)),
        Query("contact", (Eq("id", p),)),
        Query("contact", (In("id", (p, "r-1")),)),
        Query("contact", (Range("name", gte=p),), name),
        Query("contact", (Range("name", gt=key, lt=p),), (Order("name", True),)),
        Query("contact", (Range("id", lte=p),)),
        Query("contact", (), name, 5, Keyset((p,), p)),
        Query("contact", (), (Order("name", True),), 5, Keyset((key,), p)),
        Query("contact", (), (Order("email"), Order("name")), 50, Keyset((p, p), p)),
        Query("contact", (In("tags", (p,) * 300),)),  # a long In list travels as JSON on SQLite
        Query("contact", (In("name", (key, *PAYLOADS, *PAYLOADS, *PAYLOADS, *PAYLOADS)),)),
        Aggregate("contact", (Range("name", gte=p),), ("name", "email")),
        Aggregate("contact", (In("tags", (tag, p)),), ("name",), (Measure.max("updated_at"),)),
    ]  # fmt: skip


def test_port_queries_agree_with_the_reference(world: World) -> None:
    store = world.crm.store
    spec = CONTACTS.spec()
    docs = store.query(TENANT, Query("contact", limit=10_000))
    assert len(docs) == len(world.contact_keys())
    for p in PAYLOADS:
        for q in _port_queries(p):
            if isinstance(q, Aggregate):
                assert aggregate(store, TENANT, q, spec) == run_aggregate(q, docs)
                continue
            got = [doc.id for doc in store.query(TENANT, q)]
            assert got == [doc.id for doc in run_query(q, docs)], q
        # The tenant is a bound value too: a payload tenant sees nothing.
        assert store.query(p, Query("contact", limit=10_000)) == []
        assert store.get(p, "contact", next(iter(world.contacts))) is None
        assert store.get(TENANT, "contact", p) is None
    _intact(world)


# --- names are whitelisted, refused values raise ValidationError -------------------


def test_unknown_field_names_are_refused(world: World) -> None:
    store = world.crm.store
    with world.crm.unit_of_work(ADMIN) as uow:
        for field in BAD_FIELDS:
            for cond in (Eq(field, "a"), In(field, ("a",)), Range(field, gte="a")):
                with pytest.raises(ValidationError):
                    uow.contacts.find(cond)
                with pytest.raises(ValidationError):
                    list(uow.find_ids(CONTACTS, (cond,)))
                with pytest.raises(ValidationError):
                    store.query(TENANT, Query("contact", (cond,)))
                with pytest.raises(ValidationError):
                    uow.aggregate(CONTACTS, (cond,), (), (Measure.count(),))
            with pytest.raises(ValidationError):
                uow.contacts.find(order_by=(Order(field),))
            with pytest.raises(ValidationError):
                store.query(TENANT, Query("contact", order_by=(Order(field, True),)))
            with pytest.raises(ValidationError):
                uow.aggregate(CONTACTS, (), (field,), (Measure.count(),))
            with pytest.raises(ValidationError):
                uow.aggregate(CONTACTS, (), (), (Measure.sum(field),))
            with pytest.raises(ValidationError):
                store.query(TENANT, Query(field or "x", ()))  # kind names are whitelisted too
        # "id" filters but never orders; a text field refuses an int and vice versa.
        for order in (Order("id"), Order("id DESC; --"), Order("tags")):
            with pytest.raises(ValidationError):
                uow.contacts.find(order_by=(order,))
        with pytest.raises(ValidationError):
            uow.contacts.find(Eq("name", 1))
        with pytest.raises(ValidationError):
            uow.contacts.find(Eq("updated_at", "1 OR 1=1"))
    _intact(world)


def _refused_writes(bad: str, contact: str) -> list[Callable[[Any], object]]:
    """Service calls that put the refused text ``bad`` into one string field each."""
    about = (RecordRef("contact", contact),)
    eur = Money.of("1", "EUR")
    return [
        lambda uow: uow.contacts.create(bad),
        lambda uow: uow.contacts.create("Berg", first_name=bad),
        lambda uow: uow.contacts.create("Berg", title=bad),
        lambda uow: uow.contacts.create("Berg", tags=(_as_tag(bad),)),
        lambda uow: uow.contacts.update(contact, title=bad),
        lambda uow: uow.accounts.create(bad),
        lambda uow: uow.accounts.create("ACME", industry=bad),
        lambda uow: uow.leads.capture(company=bad),
        lambda uow: uow.leads.capture(company="ACME", city=bad),
        lambda uow: uow.opportunities.open(bad, amount=eur, close_date=date(2026, 5, 1)),
        lambda uow: uow.activities.log("note", bad, about),
    ]


def test_refused_text_raises_validation_error_and_writes_nothing(world: World) -> None:
    crm = world.crm
    contact = next(iter(world.contacts))
    for bad in REFUSED:
        attempts = _refused_writes(bad, contact)
        for attempt in attempts:
            with pytest.raises(ValidationError), crm.unit_of_work(ADMIN) as uow:
                attempt(uow)
    with pytest.raises(ValidationError), crm.unit_of_work(ADMIN) as uow:
        uow.leads.capture(company="ACME", description="'" * (TEXT_MAX + 1))
    with pytest.raises(ValidationError), crm.unit_of_work(ADMIN) as uow:
        uow.leads.capture(company="ACME", description="'; DROP TABLE doc_lead; --\x00")
    # A filter value no record can hold matches nothing or is refused: never a driver error.
    keys = world.contact_keys()
    with crm.unit_of_work(ADMIN) as uow:
        for bad in REFUSED:
            checks: tuple[tuple[Condition, set[str]], ...] = (
                (Eq("name", bad), set()),
                (In("tags", (bad, "seed")), set(world.seeds)),
                (Range("name", gte=bad), {id for id, k in keys.items() if k >= bad}),
            )
            for cond, want in checks:
                try:
                    found = _ids(uow.contacts.find(cond, limit=1000))
                except ValidationError:
                    continue
                assert found == want, (bad, cond)
    _intact(world)


# --- documents with payload ids, index values, tenants, events and outbox ------------


@pytest.fixture
def fresh(backend_factory: Callable[[], Backend]) -> Iterator[tuple[Backend, DocumentStore]]:
    """An empty store of the module's backend, opened with crmkit's schema."""
    backend = backend_factory()
    crm = Crm(backend.make(), clock=FakeClock(T0), ids=SequentialIds("r"))
    yield backend, crm.store
    crm.close()


def _doc(p: str, i: int) -> Document:
    body = json.dumps({"p": p, "quote": "'\"", "i": i}, ensure_ascii=False)
    index: dict[str, IndexValue] = {
        "name": p,
        "email": p,
        "status": p,
        "updated_at": i,
        "tags": (p, "seed", p[::-1]),
    }
    return Document("contact", p, 1, body, index)


def _tags_of(doc: Document) -> tuple[IndexValue, ...]:
    tags = doc.index["tags"]
    assert isinstance(tags, tuple)
    return tags


def test_port_commit_stores_payload_ids_and_values_verbatim(
    fresh: tuple[Backend, DocumentStore],
) -> None:
    backend, store = fresh
    before = backend.snapshot()
    docs = [_doc(p, i) for i, p in enumerate(PAYLOADS)]
    events = tuple(
        EventRecord(p, "contact", p, 1, p, 1, i, json.dumps({"p": p}))
        for i, p in enumerate(PAYLOADS)
    )
    outbox = tuple(
        OutboxMessage(f"m{i}", p, p, p, p, json.dumps([p]), 0) for i, p in enumerate(PAYLOADS)
    )
    store.commit(TENANT, ChangeSet(tuple(Put(d, 0) for d in docs), events, outbox))
    other = PAYLOADS[3]  # "' OR '1'='1" as a tenant
    store.commit(other, ChangeSet((Put(_doc("x", 0), 0),)))
    after = backend.snapshot()
    _same_layout(before, after)
    assert after["counts"]["doc_contact"] == before["counts"]["doc_contact"] + len(PAYLOADS) + 1
    assert after["counts"]["crm_events"] == before["counts"]["crm_events"] + len(PAYLOADS)
    assert after["counts"]["crm_outbox"] == before["counts"]["crm_outbox"] + len(PAYLOADS)

    for doc in docs:
        got = store.get(TENANT, "contact", doc.id)
        assert got is not None
        assert (got.body, dict(got.index)) == (doc.body, doc.index)
        assert [d.id for d in store.query(TENANT, Query("contact", (Eq("name", doc.id),)))] == [
            doc.id
        ]
        tagged = store.query(TENANT, Query("contact", (In("tags", (doc.id,)),), limit=10_000))
        assert {d.id for d in tagged} == {d.id for d in docs if doc.id in _tags_of(d)}
        (stored,) = store.read_events(TENANT, stream_id=doc.id)
        assert stored.record == next(e for e in events if e.stream_id == doc.id)
    everything = store.query(TENANT, Query("contact", limit=10_000))
    assert {d.id for d in everything} == set(PAYLOADS)  # the other tenant's row stays apart
    assert [d.id for d in store.query(other, Query("contact"))] == ["x"]
    claimed = store.claim_outbox(TENANT, now=1, limit=1000, lease=10)
    assert {e.message for e in claimed} == set(outbox)
    for p in PAYLOADS[:5]:
        q = Query("contact", (Range("name", gte=p),), (Order("name"),), 10, Keyset((p,), p))
        assert [d.id for d in store.query(TENANT, q)] == [d.id for d in run_query(q, everything)]

    # Deleting by payload id removes exactly those rows.
    gone = PAYLOADS[::2]
    store.commit(TENANT, ChangeSet(tuple(Delete("contact", p, 1) for p in gone)))
    left = {d.id for d in store.query(TENANT, Query("contact", limit=10_000))}
    assert left == set(PAYLOADS) - set(gone)
    final = backend.snapshot()
    _same_layout(before, final)
    assert final["counts"]["doc_contact"] == after["counts"]["doc_contact"] - len(gone)


def test_port_values_no_store_can_hold_are_refused(fresh: tuple[Backend, DocumentStore]) -> None:
    backend, store = fresh
    before = backend.snapshot()
    for bad in ("\ud800' OR 1=1", "x\udfff"):
        with pytest.raises(ValidationError):
            store.commit(TENANT, ChangeSet((Put(_doc(bad, 0), 0),)))
        with pytest.raises(ValidationError):
            store.query(TENANT, Query("contact", (Eq("name", bad),)))
    for bad in ("a\x00b", "'; DROP TABLE doc_contact; --\x00"):
        # SQLite can hold NUL; PostgreSQL cannot: refused there, never a driver error.
        try:
            store.commit(TENANT, ChangeSet((Put(_doc(bad, 0), 0),)))
        except ValidationError:
            assert backend.name == "postgres"
        else:
            got = store.get(TENANT, "contact", bad)
            assert got is not None
            assert got.index["name"] == bad
    after = backend.snapshot()
    _same_layout(before, after)


def test_decoded_cursors_never_carry_sql(world: World) -> None:
    query = Query("contact", (), (Order("name"),), 3)
    for p in PAYLOADS:
        cursor = encode_cursor(query, Document("contact", p, 1, "{}", {"name": p}))
        assert decode_cursor(query, cursor) == Keyset((p,), p)
        with pytest.raises(ValidationError):
            decode_cursor(attrs.evolve(query, where=(Eq("name", p),)), cursor)


@pytest.mark.parametrize("kind", ["contact", "lead"])
def test_long_first_and_last_names_are_accepted(kind: str) -> None:
    from crmkit.adapters.memory import MemoryStore

    crm = Crm(MemoryStore(), clock=FakeClock(T0), ids=SequentialIds("r"))
    first, last = _LONG_OR, _LONG_QUOTE  # each exactly LINE_MAX characters
    with crm.unit_of_work(ADMIN) as uow:
        if kind == "contact":
            record: Any = uow.contacts.create(last, first_name=first)
        else:
            record = uow.leads.capture(first_name=first, last_name=last)
    with crm.unit_of_work(ADMIN) as uow:
        got = uow.contacts.get(record.id) if kind == "contact" else uow.leads.get(record.id)
        assert (got.first_name, got.last_name) == (_line(first), _line(last))
