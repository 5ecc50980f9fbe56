"""The file's layout: created on first open, extended when a schema adds to it.

The shared tables are created once and stamped with `SCHEMA_VERSION` in
``PRAGMA user_version`` (and crmkit's ``application_id``, so that another
program's file is refused). Each kind gets a table ``doc_<kind>`` with one
typed column and one index per single-valued field; ``crm_fields`` records every
field declared so far, so that a field whose type or shape changed is refused
instead of silently misread. Identifier quoting lives here too, as every table
and column name is made here.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from crmkit.adapters._sql import Shapes, new_fields, quote
from crmkit.adapters._sqlite import search
from crmkit.kernel.errors import SchemaError
from crmkit.ports.storage import IndexType, KindSpec, StoreSchema

SCHEMA_VERSION: Final = 1
"""The layout version this module writes; a file with a higher one raises `SchemaError`."""

_APPLICATION_ID: Final = 0x63726D6B  # "crmk" in the file header: refuse other apps' files


_BASE_DDL: Final = (
    "CREATE TABLE crm_fields (kind TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
    " multi INTEGER NOT NULL, is_unique INTEGER NOT NULL, PRIMARY KEY (kind, name))",
    # No declared type on value: no affinity, so 1 and '1' stay different values.
    "CREATE TABLE crm_multi (tenant TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,"
    " value NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant, kind, name, value, id))"
    " WITHOUT ROWID",
    "CREATE INDEX crm_multi_by_doc ON crm_multi (tenant, kind, id, name)",
    "CREATE TABLE crm_events (position INTEGER PRIMARY KEY AUTOINCREMENT,"
    " tenant TEXT NOT NULL, id TEXT NOT NULL, stream_kind TEXT NOT NULL,"
    " stream_id TEXT NOT NULL, version INTEGER NOT NULL, event_type TEXT NOT NULL,"
    " schema_version INTEGER NOT NULL, occurred_at INTEGER NOT NULL, body TEXT NOT NULL,"
    " UNIQUE (tenant, stream_id, version))",
    "CREATE INDEX crm_events_by_tenant ON crm_events (tenant, position)",
    "CREATE TABLE crm_outbox (tenant TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL,"
    " channel TEXT NOT NULL, purpose TEXT NOT NULL, party_id TEXT, body TEXT NOT NULL,"
    " available_at INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " lease_until INTEGER, last_error TEXT, receipt TEXT,"
    " PRIMARY KEY (tenant, id), UNIQUE (tenant, key))",
    "CREATE INDEX crm_outbox_due ON crm_outbox (tenant, status, available_at, id)",
)


def marks(count: int) -> str:
    """``count`` comma-separated ``?`` placeholders."""
    return ", ".join("?" * count)


def table_name(kind: str) -> str:
    """The quoted name of the table that holds the documents of ``kind``."""
    return quote("doc_" + kind)


def migrate(conn: sqlite3.Connection, schema: StoreSchema) -> dict[str, Shapes]:
    """Create or extend the layout inside the caller's transaction; the known fields."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    application = conn.execute("PRAGMA application_id").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the file has layout version {version}, this crmkit reads up to {SCHEMA_VERSION}:"
            " upgrade crmkit"
        )
    if application not in (0, _APPLICATION_ID):
        raise SchemaError("the file belongs to another application (PRAGMA application_id)")
    if version == 0:
        for ddl in _BASE_DDL:
            conn.execute(ddl)
        conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    known: dict[str, Shapes] = {}
    for kind, name, type_, multi, unique in conn.execute(
        "SELECT kind, name, type, multi, is_unique FROM crm_fields"
    ):
        known.setdefault(kind, {})[name] = (type_, bool(multi), bool(unique))
    for spec in schema.kinds:
        _migrate_kind(conn, spec, known.setdefault(spec.kind, {}))
        search.create(conn, spec)
    return known


def _migrate_kind(conn: sqlite3.Connection, spec: KindSpec, known: Shapes) -> None:
    table = table_name(spec.kind)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (tenant TEXT NOT NULL, id TEXT NOT NULL,"
        " version INTEGER NOT NULL, body TEXT NOT NULL, _index TEXT NOT NULL,"
        " PRIMARY KEY (tenant, id))"
    )
    for field in new_fields(spec, known):
        if field.search:
            # Searched through its FTS5 index (see _sqlite.search): a B-tree on the
            # whole text would cost every write and serve no query.
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {quote(field.name)} TEXT")
        elif not field.multi:
            column = quote(field.name)
            sql_type = "TEXT" if field.type is IndexType.TEXT else "INTEGER"
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
            if field.unique:
                conn.execute(
                    f"CREATE UNIQUE INDEX {quote(f'ux:{spec.kind}:{field.name}')}"
                    f" ON {table} (tenant, {column}) WHERE {column} IS NOT NULL"
                )
            else:
                name = quote(f"ix:{spec.kind}:{field.name}")
                # With the id last, "field = ? ORDER BY id" (every keyset page) reads the
                # index in order; without it SQLite, lacking statistics, walked the table.
                conn.execute(f"CREATE INDEX {name} ON {table} (tenant, {column}, id)")
        shape = (str(field.type), field.multi, field.unique)
        conn.execute(
            "INSERT INTO crm_fields VALUES (?, ?, ?, ?, ?)", (spec.kind, field.name, *shape)
        )
        known[field.name] = shape
