"""Full-text search on PostgreSQL: a ``tsvector`` table with a GIN index, kept in step at commit.

Layout, per kind with a search field (see `crmkit.ports.search`):
``srch_<kind>`` (tenant, id, ``words tsvector``), primary key (tenant, id),
and a GIN index on ``words``. The vector is built with
``array_to_tsvector`` from the words `crmkit.ports.search.indexed` folds in
Python, and the queries are ``tsquery`` values written lexeme by lexeme
(``'muller' & ('ann':* | 'anm' | ...)``), so neither side goes through a
text search parser or dictionary: nothing is stemmed or split differently
than in the Python fallback, and the hits are exactly `run_search`'s.

Ranking is the level sum of the port, not ``ts_rank``: ``ts_rank`` weighs
words by frequency inside the document only and would not agree with the
other stores. Typos are the port's one-edit `crmkit.ports.search.variants`
ORed into the query, looked up in the GIN index like any lexeme, rather than
``pg_trgm`` similarity, whose thresholds match neither edit distance nor the
other stores (and it needs an extension that not every server has).

`write` runs inside the commit's transaction: a deleted or rewritten
document's row goes, and a written one with words comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmkit.adapters._common import KindWrites
from crmkit.adapters._postgres.schema import TEXT, Conn, ident
from crmkit.ports.search import MIN_PREFIX, SearchQuery, indexed, variants
from crmkit.ports.storage import KindSpec

__all__ = ["SearchTable", "create", "exact_select", "select", "write"]


class SearchTable:
    """The search table of one kind and its statements."""

    def __init__(self, kind: str, field: str) -> None:
        self.field = field
        self.kind = kind
        self.table = ident(f"srch_{kind}")
        self.remove = f"DELETE FROM {self.table} WHERE tenant = %s AND id = %s"
        self.add = (
            f"INSERT INTO {self.table} (tenant, id, words)"
            " VALUES (%s, %s, array_to_tsvector(%s::text[]))"
        )


def create(conn: Conn, spec: KindSpec) -> None:
    """Create the kind's search table and index if missing (inside the caller's transaction)."""
    if spec.search_field is None:
        return
    table = ident(f"srch_{spec.kind}")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (tenant {TEXT} NOT NULL, id {TEXT} NOT NULL,"
        " words tsvector NOT NULL, PRIMARY KEY (tenant, id))"
    )
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {ident(f'ix:srch_{spec.kind}:words')}"
        f" ON {table} USING gin (words)"
    )


def write(conn: Conn, table: SearchTable, tenant: str, writes: KindWrites) -> None:
    """Bring the kind's search table in step with ``writes``, rows in id order."""
    gone = sorted({doc.id for doc, _ in writes.updates} | {id for id, _ in writes.deletes})
    cursor = conn.cursor()
    if gone:
        cursor.executemany(table.remove, [(tenant, id) for id in gone])
    rows = []
    for doc in sorted((*writes.inserts, *(doc for doc, _ in writes.updates)), key=_id):
        value = doc.index.get(table.field)
        words = list(indexed(value)) if isinstance(value, str) else []
        if words:
            rows.append((tenant, doc.id, words))
    if rows:
        cursor.executemany(table.add, rows)


def _id(doc: Any) -> str:
    return str(doc.id)


def _lexeme(word: str) -> str:
    return "'" + word + "'"  # a folded word holds letters and digits only


def _expression(term: str, fuzzy: bool) -> str:
    parts = [_lexeme(term) + (":*" if len(term) >= MIN_PREFIX else "")]
    if fuzzy:
        parts += [_lexeme(word) for word in sorted(variants(term))]
    return "(" + " | ".join(parts) + ")"


def _level(term: str, fuzzy: bool, params: list[Any]) -> str:
    prefix = len(term) >= MIN_PREFIX
    if not fuzzy:
        if not prefix:
            return "3"
        params.append(_lexeme(term))
        return "(CASE WHEN s.words @@ %s::tsquery THEN 3 ELSE 2 END)"
    params.append(_lexeme(term))
    if not prefix:
        return "(CASE WHEN s.words @@ %s::tsquery THEN 3 ELSE 1 END)"
    params.append(_lexeme(term) + ":*")
    return "(CASE WHEN s.words @@ %s::tsquery THEN 3 WHEN s.words @@ %s::tsquery THEN 2 ELSE 1 END)"


def _source(
    table: SearchTable, kind_table: str, where: str | None, where_params: Sequence[Any],
    tenant: str, params: list[Any],
) -> str:  # fmt: skip
    """FROM and WHERE over the rows matching a tsquery (whose parameter the caller adds first)."""
    if where is None:
        params.append(tenant)
        return f" FROM {table.table} AS s WHERE s.words @@ %s::tsquery AND s.tenant = %s"
    params.extend(where_params)
    return (
        f" FROM {table.table} AS s JOIN {kind_table} AS t ON t.tenant = s.tenant AND t.id = s.id"
        f" WHERE s.words @@ %s::tsquery AND {where}"
    )


def exact_select(
    table: SearchTable, kind_table: str, where: str | None, where_params: Sequence[Any],
    tenant: str, query: SearchQuery, found: tuple[str, ...],
) -> tuple[str, list[Any]] | None:  # fmt: skip
    """The top tier alone (every term a whole word), by id; None when the keyset is past it."""
    top = 3 * len(found)
    if query.after is not None and query.after.score != top:
        return None
    params: list[Any] = [" & ".join(_lexeme(term) for term in found)]
    text = "SELECT s.id" + _source(table, kind_table, where, where_params, tenant, params)
    if query.after is not None:
        text += " AND s.id > %s"
        params.append(query.after.id)
    params.append(query.limit)
    return text + " ORDER BY s.id LIMIT %s", params


def select(
    table: SearchTable, kind_table: str, where: str | None, where_params: Sequence[Any],
    tenant: str, query: SearchQuery, found: tuple[str, ...],
) -> tuple[str, list[Any]]:  # fmt: skip
    """One statement for a checked search; ``where`` (over ``t``) applies the conditions."""
    params: list[Any] = []
    levels = " + ".join(_level(term, query.fuzzy, params) for term in found)
    params.append(" & ".join(_expression(term, query.fuzzy) for term in found))
    source = _source(table, kind_table, where, where_params, tenant, params)
    text = f"SELECT id, score FROM (SELECT s.id AS id, {levels} AS score{source}) AS hits"
    if query.after is not None:
        text += " WHERE score < %s OR (score = %s AND id > %s)"
        params += [query.after.score, query.after.score, query.after.id]
    params.append(query.limit)
    return text + " ORDER BY score DESC, id LIMIT %s", params
