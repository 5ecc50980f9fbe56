"""The raw psycopg peers: the same rows as crmkit's unit of work, written by hand.

For ``uow.save(CONTACTS, contact, created)`` crmkit's `PostgresStore` writes,
in one transaction, the rows `raw_sqlite.build_rows` describes (a document,
its side-table values, an event, a timeline entry and its subjects, the
contact's segment profile with its side-table values, and its full-text search
row). `save`
writes exactly those rows with psycopg's ``executemany`` (pipelined), or
with ``COPY … FROM STDIN``, the fastest way into PostgreSQL.
`copy_schema` gives a fresh schema crmkit's tables and indexes verbatim
(``LIKE … INCLUDING ALL``) and its catalogue rows, and `table_digests` lets
the suite check that both schemas end up holding the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import cattrs
import psycopg
from psycopg import sql
from raw_sqlite import build_rows

from crmkit.parties.contact import Contact
from crmkit.parties.events import ContactCreated

Conn = psycopg.Connection[tuple[Any, ...]]

_CONTACT_COLUMNS = (
    "tenant, id, version, body, _index, status, name, email, owner_id, updated_at, merged_into,"
    " search_text"
)
_TIMELINE_COLUMNS = "tenant, id, version, body, _index, occurred_at, event_type, source_kind"
_PROFILE_COLUMNS = (
    "tenant, id, version, body, _index, active, country, region, city, account_industry,"
    " last_activity_at, last_purchase_at, total_spend_minor, total_spend_currency, rfm_class"
)
_EVENT_COLUMNS = (
    "tenant, id, stream_kind, stream_id, version, event_type, schema_version, occurred_at, body"
)
_TABLES = (
    ("doc_contact", _CONTACT_COLUMNS, "docs"),
    ("crm_multi", "tenant, kind, name, value, id", "multi"),
    ("doc_timeline", _TIMELINE_COLUMNS, "entries"),
    ("crm_multi", "tenant, kind, name, value, id", "entry_multi"),
    ("doc_segment_profile", _PROFILE_COLUMNS, "profiles"),
    ("crm_multi", "tenant, kind, name, value, id", "profile_multi"),
    ("crm_events", _EVENT_COLUMNS, "events"),
)
GET_BODY = "SELECT body::text FROM doc_contact WHERE tenant = %s AND id = %s"
_INSERT_SEARCH = (
    "INSERT INTO srch_contact (tenant, id, words) VALUES (%s, %s, array_to_tsvector(%s::text[]))"
)


def connect(conninfo: str) -> Conn:
    """An autocommit connection, as `PostgresStore` opens its own."""
    return psycopg.connect(conninfo, autocommit=True)


def copy_schema(conn: Conn, template: str, target: str) -> None:
    """Create schema ``target`` with the tables, indexes and catalogue rows of ``template``."""
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
            (template,),
        )
    ]
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target)))
        for table in tables:
            conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                    sql.Identifier(target, table), sql.Identifier(template, table)
                )
            )
        for table in ("crm_meta", "crm_fields"):
            conn.execute(
                sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                    sql.Identifier(target, table), sql.Identifier(template, table)
                )
            )


def _insert(table: str, columns: str) -> str:
    marks = ", ".join(["%s"] * len(columns.split(",")))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"


def _executemany(cursor: psycopg.Cursor[Any], table: str, columns: str, rows: list[Any]) -> None:
    cursor.executemany(_insert(table, columns), rows)


def _copy(cursor: psycopg.Cursor[Any], table: str, columns: str, rows: list[Any]) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as stream:
        for row in rows:
            stream.write_row(row)


def save(
    conn: Conn,
    conv: cattrs.Converter,
    new_id: Callable[[], str],
    tenant: str,
    pairs: Sequence[tuple[Contact, ContactCreated]],
    *,
    copy: bool = False,
) -> None:
    """Write new contacts, their events, timeline entries and profiles in one transaction.

    The rows go with ``executemany``, or with ``COPY … FROM STDIN`` if ``copy``.
    """
    rows = build_rows(conv, new_id, tenant, pairs)
    send = _copy if copy else _executemany
    with conn.transaction():
        cursor = conn.cursor()
        for table, columns, field in _TABLES:
            send(cursor, table, columns, getattr(rows, field))
        # The contact's search entry: its folded words as a tsvector (words are letters
        # and digits, so quoting each one gives the tsvector's text form for COPY).
        if copy:
            text = [
                (tenant, cid, " ".join(f"'{w}'" for w in words.split(" ")))
                for cid, words in rows.search
            ]
            _copy(cursor, "srch_contact", "tenant, id, words", text)
        else:
            search = [(tenant, cid, words.split(" ")) for cid, words in rows.search]
            cursor.executemany(_INSERT_SEARCH, search)


def table_digests(conn: Conn, schema: str) -> dict[str, tuple[int, str]]:
    """Row count and a digest of the sorted rows of every table in ``schema``."""
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        )
    ]
    result = {}
    for table in tables:
        # Positions come from a sequence, so they differ between schemas: leave them out.
        columns = [
            name
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s"
                " AND table_name = %s AND column_name <> 'position' ORDER BY ordinal_position",
                (schema, table),
            )
        ]
        listed = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
        query = sql.SQL("SELECT {}::text FROM {} ORDER BY 1").format(
            sql.SQL("ROW({})").format(listed), sql.Identifier(schema, table)
        )
        digest = hashlib.sha256()
        count = 0
        for (text,) in conn.execute(query):
            digest.update(text.encode())
            count += 1
        result[table] = (count, digest.hexdigest())
    return result
