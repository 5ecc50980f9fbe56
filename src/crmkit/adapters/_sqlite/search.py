"""Full-text search on SQLite: an FTS5 index per searchable kind, kept in step at commit.

Layout, per kind with a search field (see `crmkit.ports.search`):

* ``srch_map_<kind>`` (``rid INTEGER PRIMARY KEY``, tenant, id, unique on
  (tenant, id)): a stable integer key per searchable document. The kind's
  own table has no ``INTEGER PRIMARY KEY``, and ``VACUUM`` may renumber the
  rowids of such a table, which would silently point an external-content
  index at the wrong rows; an alias of ``rid`` never moves.
* ``srch_fts_<kind>``: an FTS5 table keyed by ``rid`` over the document's
  `crmkit.ports.search.indexed` words, with the ``ascii`` tokenizer
  (words are already folded in Python and joined by spaces, so splitting
  on spaces is all it has to do, and it cannot disagree with the Python
  fallback), ``prefix='2 3'`` (short prefixes read one index entry instead
  of merging every word they start) and ``detail=none`` (no positions: the
  levels need none, and the index stays small).

`write` runs inside the commit's transaction, after the kind's rows: a
deleted or rewritten document's entry is removed, and a written one with a
non-empty search text is added again, so the index never disagrees with the
table. Documents written before the field existed are found once they are
written again (a store reindex job re-saves them).

`select` builds one statement per search: the FTS5 ``MATCH`` finds the
candidates (every term as a prefix, or as its prefix or one of its typo
`crmkit.ports.search.variants` when fuzzy), the map gives their tenant and id,
the kind's table (joined only when there are conditions) applies the access
scope, and each term's level is ``CASE WHEN rowid IN (exact matches) THEN 3 ...``,
whose subquery SQLite evaluates once per statement. `exact_select` runs
first: documents holding every term as a whole word score highest, so when
they fill the page, the (often far larger) prefix candidates are never read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from crmkit.adapters._common import KindWrites
from crmkit.adapters._sql import quote
from crmkit.ports.search import MIN_PREFIX, SearchQuery, indexed, variants
from crmkit.ports.storage import Document, KindSpec

__all__ = ["SearchTable", "create", "exact_select", "purge", "select", "write"]


class SearchTable:
    """The search index of one kind: its table names and statements."""

    def __init__(self, kind: str, field: str) -> None:
        self.field = field
        self.map = quote(f"srch_map_{kind}")
        self.fts_name = f"srch_fts_{kind}"
        self.fts = quote(self.fts_name)
        self.find_rid = f"SELECT rid FROM {self.map} WHERE tenant = ? AND id = ?"
        self.remove_fts = f"DELETE FROM {self.fts} WHERE rowid = ?"
        self.remove_map = f"DELETE FROM {self.map} WHERE rid = ?"
        self.last_rid = f"SELECT coalesce(max(rid), 0) FROM {self.map}"
        self.add_map = f"INSERT INTO {self.map} (rid, tenant, id) VALUES (?, ?, ?)"
        self.add_fts = f"INSERT INTO {self.fts} (rowid, words) VALUES (?, ?)"


def create(conn: sqlite3.Connection, spec: KindSpec) -> SearchTable | None:
    """Create the kind's search tables if missing; its `SearchTable`, or None without a field."""
    field = spec.search_field
    if field is None:
        return None
    table = SearchTable(spec.kind, field)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table.map} (rid INTEGER PRIMARY KEY,"
        " tenant TEXT NOT NULL, id TEXT NOT NULL, UNIQUE (tenant, id))"
    )
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {table.fts} USING fts5(words,"
        " tokenize='ascii', prefix='2 3', detail=none)"
    )
    return table


def write(conn: sqlite3.Connection, table: SearchTable, tenant: str, writes: KindWrites) -> None:
    """Bring the kind's search index in step with ``writes`` (inside the caller's transaction).

    Every statement touches one row and names its rowid: FTS5 flushes its
    pending terms into a new segment at each statement that needs a statement
    journal (an ``INSERT ... SELECT`` does), and a segment per document made
    later queries five times slower than a bulk-loaded index.
    """
    gone = [(tenant, id) for id, _ in writes.deletes]
    gone += [(tenant, doc.id) for doc, _ in writes.updates]
    if gone:
        rids = [row for key in gone for row in conn.execute(table.find_rid, key).fetchall()]
        conn.executemany(table.remove_fts, rids)
        conn.executemany(table.remove_map, rids)
    rows: list[tuple[str, str]] = []
    for doc in (*writes.inserts, *(doc for doc, _ in writes.updates)):
        text = _text(doc, table.field)
        if text:
            rows.append((doc.id, text))
    if rows:
        # New keys above the largest: the commit holds the write lock, so none can clash.
        first = conn.execute(table.last_rid).fetchone()[0] + 1
        conn.executemany(table.add_map, [(first + i, tenant, id) for i, (id, _) in enumerate(rows)])
        conn.executemany(table.add_fts, [(first + i, text) for i, (_, text) in enumerate(rows)])


def purge(conn: sqlite3.Connection, table: SearchTable) -> None:
    """Merge the index's segments, dropping the words of deleted entries (after an erasure).

    Costs a rewrite of the kind's whole index; erasures are rare.
    """
    conn.execute(f"INSERT INTO {table.fts} ({table.fts}) VALUES ('optimize')")


def _text(doc: Document, field: str) -> str:
    value = doc.index.get(field)
    return " ".join(indexed(value)) if isinstance(value, str) else ""


def _quoted(word: str) -> str:
    return '"' + word + '"'  # a folded word holds letters and digits only


def _expression(term: str, fuzzy: bool) -> str:
    """What a term matches in FTS5 syntax: its prefix (or the word), and its typos."""
    parts = [_quoted(term) + ("*" if len(term) >= MIN_PREFIX else "")]
    if fuzzy:
        parts += [_quoted(word) for word in sorted(variants(term))]
    return "(" + " OR ".join(parts) + ")"


def _level(table: SearchTable, term: str, fuzzy: bool, params: list[Any]) -> str:
    """The SQL of the level at which ``term`` meets candidate ``f.rowid``."""
    # One MATCH subquery per test; its parameter (the word, or the prefix) goes to params.
    member = f"f.rowid IN (SELECT rowid FROM {table.fts} WHERE {table.fts} MATCH ?)"
    prefix = len(term) >= MIN_PREFIX
    if not fuzzy:
        if not prefix:
            return "3"  # the candidate MATCH held the word itself
        params.append(_quoted(term))
        return f"(CASE WHEN {member} THEN 3 ELSE 2 END)"
    params.append(_quoted(term))
    if not prefix:
        return f"(CASE WHEN {member} THEN 3 ELSE 1 END)"
    params.append(_quoted(term) + "*")
    return f"(CASE WHEN {member} THEN 3 WHEN {member} THEN 2 ELSE 1 END)"


def _source(
    table: SearchTable,
    kind_table: str,
    where: str | None,
    where_params: Sequence[Any],
    tenant: str,
    params: list[Any],
) -> str:
    """FROM and WHERE over the candidates of a MATCH (whose parameter the caller adds first)."""
    # CROSS JOIN keeps this order: candidates from the FTS index first, then one
    # primary-key probe each. Left free, the planner walked every map row of the
    # tenant and probed the index per row (64 ms against 0.3 ms on 2,000 rows).
    text = f" FROM {table.fts} AS f CROSS JOIN {table.map} AS s ON s.rid = f.rowid"
    if where is None:
        params.append(tenant)
        return text + f" WHERE {table.fts} MATCH ? AND s.tenant = ?"
    params.extend(where_params)
    return (
        text + f" CROSS JOIN {kind_table} AS t ON t.tenant = s.tenant AND t.id = s.id"
        f" WHERE {table.fts} MATCH ? AND {where}"
    )


def exact_select(
    table: SearchTable,
    kind_table: str,
    where: str | None,
    where_params: Sequence[Any],
    tenant: str,
    query: SearchQuery,
    found: tuple[str, ...],
) -> tuple[str, list[Any]] | None:
    """The top tier alone: documents holding every term as a word, by id; None if not asked.

    Only documents with every term exact reach the top score (3 a term), so
    when this finds a full page it is the page, and the prefix candidates,
    often many more, are never read. None when the keyset is past that tier.
    """
    top = 3 * len(found)
    if query.after is not None and query.after.score != top:
        return None
    params: list[Any] = [" AND ".join(_quoted(term) for term in found)]
    text = "SELECT s.id" + _source(table, kind_table, where, where_params, tenant, params)
    if query.after is not None:
        text += " AND s.id > ?"
        params.append(query.after.id)
    params.append(query.limit)
    return text + " ORDER BY s.id LIMIT ?", params


def select(
    table: SearchTable,
    kind_table: str,
    where: str | None,
    where_params: Sequence[Any],
    tenant: str,
    query: SearchQuery,
    found: tuple[str, ...],
) -> tuple[str, list[Any]]:
    """One statement for a checked search; ``where`` (over ``t``) applies the conditions.

    ``where`` is None when the query has no conditions, and the kind's table
    is not joined at all; otherwise it must hold the tenant condition on ``t``.
    """
    params: list[Any] = []
    levels = " + ".join(_level(table, term, query.fuzzy, params) for term in found)
    params.append(" AND ".join(_expression(term, query.fuzzy) for term in found))
    source = _source(table, kind_table, where, where_params, tenant, params)
    text = f"SELECT id, score FROM (SELECT s.id AS id, {levels} AS score{source})"
    if query.after is not None:
        text += " WHERE score < ? OR (score = ? AND id > ?)"
        params += [query.after.score, query.after.score, query.after.id]
    params.append(query.limit)
    return text + " ORDER BY score DESC, id LIMIT ?", params
