"""The ``postgres`` suite: crmkit's `PostgresStore` through a unit of work against raw psycopg.

It needs a server: ``CRMKIT_TEST_POSTGRES_URL`` (or ``--postgres-url`` on
``run.py``) names a database in which it creates and drops its own schemas.
Without one it prints a single row saying it skipped. The fairness rules are
the sqlite suite's: both sides start from the same domain objects, serialise
with the same converter and JSON function, write to identical tables (the
raw side's are copied from the ones crmkit created) and end up with the same
rows, which the suite checks.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from measure import Row, Side, compare
from samples import STAMP
from sqlite_suite import Pairs, build_pairs, compare_gets, crmkit_save, warm

from crmkit.app.crm import Crm
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.serialization import make_converter

URL_VARIABLE = "CRMKIT_TEST_POSTGRES_URL"
url: str | None = None  # --postgres-url sets it; else the environment variable is read


def _url() -> str | None:
    return url or os.environ.get(URL_VARIABLE) or None


def _in_schema(base: str, schema: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(base, options=f"-csearch_path={schema}")


def open_crm(base: str, schema: str) -> Crm:
    """crmkit on ``schema`` of the server, with ids from the generator the raw side uses."""
    from crmkit.adapters.postgres import PostgresStore

    store = PostgresStore(_in_schema(base, schema))
    return Crm(store, clock=FixedClock(STAMP.at), ids=SequentialIds("e"))


@contextmanager
def schemas(base: str) -> Iterator[Callable[[str], str]]:
    """A factory of fresh schema names (created by whoever uses them); all dropped after."""
    import raw_postgres

    made: list[str] = []

    def fresh(side: str) -> str:
        name = f"crmkit_bench_{side}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        return name

    admin = raw_postgres.connect(base)
    try:
        yield fresh
    finally:
        for name in made:
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.close()


def bulk_rows(base: str, pairs: Pairs, repeat: int) -> list[Row]:
    """Bulk save: one unit of work against one raw transaction (executemany, then COPY)."""
    import raw_postgres

    conv = make_converter()
    conv.unstructure(pairs[0][0])
    conv.unstructure(pairs[0][1])
    admin = raw_postgres.connect(base)
    latest: dict[str, str] = {}
    opened: list[Any] = []

    with schemas(base) as fresh:
        template = fresh("template")
        admin.execute(f'CREATE SCHEMA "{template}"')
        open_crm(base, template).close()

        def drop_previous(side: str) -> None:
            for old in opened:
                old.close()
            opened.clear()
            old_schema = latest.pop(side, None)
            if old_schema is not None:
                admin.execute(f'DROP SCHEMA "{old_schema}" CASCADE')

        def prepare_crmkit() -> Crm:
            drop_previous("crmkit")
            schema = latest["crmkit"] = fresh("crmkit")
            admin.execute(f'CREATE SCHEMA "{schema}"')
            crm = open_crm(base, schema)
            warm(crm, pairs)
            opened.append(crm)
            return crm

        def prepare_raw(side: str) -> Callable[[], Any]:
            def prepare() -> Any:
                drop_previous(side)
                schema = latest[side] = fresh(side)
                raw_postgres.copy_schema(admin, template, schema)
                conn = raw_postgres.connect(_in_schema(base, schema))
                opened.append(conn)
                return conn

            return prepare

        def executemany(conn: Any) -> None:
            raw_postgres.save(conn, conv, SequentialIds("e"), "default", pairs)

        def copy(conn: Any) -> None:
            raw_postgres.save(conn, conv, SequentialIds("e"), "default", pairs, copy=True)

        count = len(pairs)
        crmkit = Side("crmkit", lambda crm: crmkit_save(crm, pairs), count, prepare_crmkit)
        many = Side("raw psycopg executemany", executemany, count, prepare_raw("many"))
        copied = Side("raw psycopg COPY", copy, count, prepare_raw("copy"))
        name = f"postgres: bulk save {count:,} contacts, one unit of work"
        rows = compare(
            name, crmkit, [many, copied], repeat=repeat, warmup=0, targets={many.label: 1.5}
        )
        for conn in opened:
            conn.close()
        for side in ("many", "copy"):
            check_same_rows(admin, latest["crmkit"], latest[side], count)
        admin.close()
    return rows


def check_same_rows(admin: Any, ours: str, theirs: str, count: int) -> None:
    """Both schemas hold the same rows, table by table; crmkit wrote what it was given."""
    import raw_postgres

    mine = raw_postgres.table_digests(admin, ours)
    other = raw_postgres.table_digests(admin, theirs)
    counts = {table: n for table, (n, _) in mine.items()}
    if counts != {table: n for table, (n, _) in other.items()}:
        raise AssertionError(f"row counts differ: crmkit {mine} raw {other}")
    if counts["doc_contact"] != count or counts["crm_events"] != count:
        raise AssertionError(f"expected {count} contacts and events, found {counts}")
    differ = sorted(table for table in mine if mine[table] != other[table])
    if differ:
        raise AssertionError(f"tables hold different rows: {', '.join(differ)}")


def get_row(base: str, pairs: Pairs, gets: int, repeat: int) -> Row:
    """Get by id outside any transaction: crmkit returns the domain object, raw a dict."""
    import raw_postgres

    with schemas(base) as fresh:
        schema = fresh("get")
        admin = raw_postgres.connect(base)
        admin.execute(f'CREATE SCHEMA "{schema}"')
        admin.close()
        crm = open_crm(base, schema)
        crmkit_save(crm, pairs)
        conn = raw_postgres.connect(_in_schema(base, schema))
        try:
            return compare_gets(
                "postgres", crm, conn.execute, raw_postgres.GET_BODY, pairs, gets, repeat
            )
        finally:
            crm.close()
            conn.close()


def run(quick: bool) -> list[Row]:
    """Every row of the suite, or one row saying why it skipped."""
    base = _url()
    if base is None:
        return [Row(f"postgres: skipped, no server (set {URL_VARIABLE} or --postgres-url)", 0.0)]
    count, gets, repeat = (1_000, 300, 1) if quick else (100_000, 10_000, 3)
    pairs = build_pairs(count)
    return [*bulk_rows(base, pairs, repeat), get_row(base, pairs, gets, repeat * 2 + 1)]
