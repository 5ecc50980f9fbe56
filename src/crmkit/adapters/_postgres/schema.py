"""The database layout: created on first open, extended when a schema adds to it.

The shared tables live in the connection's current schema (``search_path``):
``crm_meta`` holds crmkit's mark and `SCHEMA_VERSION`, so that a newer layout
or another application's tables are refused; ``crm_fields`` records every index
field declared so far, so that a field whose type or shape changed is refused
instead of silently misread. Each kind gets a table ``doc_<kind>`` with one
typed column and one index per single-valued field. Every text column is
``COLLATE "C"`` (code point order, as Python sorts). A transaction-scoped
advisory lock makes concurrent first opens take turns.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, TypeAlias

import psycopg

from crmkit.adapters._sql import Shapes, new_fields, quote
from crmkit.kernel.errors import SchemaError
from crmkit.ports.storage import IndexType, KindSpec, StoreSchema

SCHEMA_VERSION: Final = 1
"""The layout version this module writes; a database with a higher one raises `SchemaError`."""

_APPLICATION: Final = "crmkit"
_MIGRATION_LOCK: Final = 0x63726D6B  # "crmk": concurrent opens migrate one at a time

Conn: TypeAlias = psycopg.Connection[tuple[Any, ...]]
"""A connection whose rows are tuples."""


TEXT: Final = 'TEXT COLLATE "C"'
SQL_TYPES: Final = {IndexType.TEXT: TEXT, IndexType.INT: "BIGINT", IndexType.BOOL: "BOOLEAN"}

_BASE_DDL: Final = (
    f"CREATE TABLE crm_meta (key {TEXT} PRIMARY KEY, value {TEXT} NOT NULL)",
    f"CREATE TABLE crm_fields (kind {TEXT} NOT NULL, name {TEXT} NOT NULL, type {TEXT} NOT NULL,"
    " multi BOOLEAN NOT NULL, is_unique BOOLEAN NOT NULL, PRIMARY KEY (kind, name))",
    # Values of every type as text (ints in decimal, bools as true/false): a
    # multi-valued field is only ever compared for equality.
    f"CREATE TABLE crm_multi (tenant {TEXT} NOT NULL, kind {TEXT} NOT NULL, name {TEXT} NOT NULL,"
    f" value {TEXT} NOT NULL, id {TEXT} NOT NULL, PRIMARY KEY (tenant, kind, name, value, id))",
    "CREATE INDEX crm_multi_by_doc ON crm_multi (tenant, kind, id, name)",
    f"CREATE TABLE crm_events (position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    f" tenant {TEXT} NOT NULL, id {TEXT} NOT NULL, stream_kind {TEXT} NOT NULL,"
    f" stream_id {TEXT} NOT NULL, version BIGINT NOT NULL, event_type {TEXT} NOT NULL,"
    " schema_version BIGINT NOT NULL, occurred_at BIGINT NOT NULL, body TEXT NOT NULL,"
    " UNIQUE (tenant, stream_id, version))",
    "CREATE INDEX crm_events_by_tenant ON crm_events (tenant, position)",
    f"CREATE TABLE crm_outbox (tenant {TEXT} NOT NULL, id {TEXT} NOT NULL, key {TEXT} NOT NULL,"
    f" channel {TEXT} NOT NULL, purpose {TEXT} NOT NULL, party_id {TEXT}, body TEXT NOT NULL,"
    f" available_at BIGINT NOT NULL, status {TEXT} NOT NULL, attempts BIGINT NOT NULL,"
    " lease_until BIGINT, last_error TEXT, receipt TEXT,"
    " PRIMARY KEY (tenant, id), UNIQUE (tenant, key))",
    "CREATE INDEX crm_outbox_due ON crm_outbox (tenant, available_at, id) WHERE status = 'pending'",
)


def ident(name: str) -> str:
    """``name`` quoted, shortened with a digest when PostgreSQL would truncate it (63 bytes)."""
    if len(name.encode()) > 63:
        name = name[:46] + "_" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return quote(name)


def table_name(kind: str) -> str:
    """The quoted name of the table that holds the documents of ``kind``."""
    return ident("doc_" + kind)


def migrate(conn: Conn, schema: StoreSchema) -> dict[str, Shapes]:
    """Create or extend the layout inside the caller's transaction; the known fields."""
    from crmkit.adapters._postgres import search  # it builds on this module's names

    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
    exists = conn.execute("SELECT to_regclass('crm_meta') IS NOT NULL").fetchone()
    if exists and exists[0]:
        meta: dict[str, str] = dict(conn.execute("SELECT key, value FROM crm_meta").fetchall())
        if meta.get("application") != _APPLICATION:
            raise SchemaError("the database schema belongs to another application (crm_meta)")
        version = int(str(meta.get("schema_version", 0)))
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"the database has layout version {version}, this crmkit reads up to"
                f" {SCHEMA_VERSION}: upgrade crmkit"
            )
    else:
        if conn.execute("SELECT to_regclass('crm_events') IS NOT NULL").fetchone() != (False,):
            raise SchemaError("the database schema holds crmkit tables but no crm_meta table")
        for ddl in _BASE_DDL:
            conn.execute(ddl)
        conn.execute(
            "INSERT INTO crm_meta VALUES ('application', %s), ('schema_version', %s)",
            (_APPLICATION, str(SCHEMA_VERSION)),
        )
    known: dict[str, Shapes] = {}
    for kind, name, type_, multi, unique in conn.execute(
        "SELECT kind, name, type, multi, is_unique FROM crm_fields"
    ).fetchall():
        known.setdefault(str(kind), {})[str(name)] = (str(type_), bool(multi), bool(unique))
    for spec in schema.kinds:
        _migrate_kind(conn, spec, known.setdefault(spec.kind, {}))
        search.create(conn, spec)
    return known


def _migrate_kind(conn: Conn, spec: KindSpec, known: Shapes) -> None:
    table = table_name(spec.kind)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (tenant {TEXT} NOT NULL, id {TEXT} NOT NULL,"
        " version BIGINT NOT NULL, body JSON NOT NULL, _index TEXT NOT NULL,"
        " PRIMARY KEY (tenant, id))"
    )
    for field in new_fields(spec, known):
        if not field.multi:
            column = quote(field.name)
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {SQL_TYPES[field.type]}")
            if field.unique:
                conn.execute(
                    f"CREATE UNIQUE INDEX {ident(f'ux:{spec.kind}:{field.name}')}"
                    f" ON {table} (tenant, {column}) WHERE {column} IS NOT NULL"
                )
            elif not field.search:  # searched through srch_<kind> (see _postgres.search)
                name = ident(f"ix:{spec.kind}:{field.name}")
                conn.execute(f"CREATE INDEX {name} ON {table} (tenant, {column})")
        shape = (str(field.type), field.multi, field.unique)
        conn.execute(
            "INSERT INTO crm_fields VALUES (%s, %s, %s, %s, %s)", (spec.kind, field.name, *shape)
        )
        known[field.name] = shape
