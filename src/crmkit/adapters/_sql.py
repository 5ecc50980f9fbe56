"""SQL that the SQLite and PostgreSQL adapters share; nothing here is public API.

Both drivers offer ``conn.execute(sql, params)`` returning a cursor with
``fetchone``, ``fetchall`` and ``rowcount``, and differ in the placeholder
(``?`` or ``%s``). The helpers here are written with ``?`` and take the
adapter's placeholder as ``mark``: the keyset condition of a query, one
kind's statements, an aggregate's ``GROUP BY`` statement and its rows, the
checks that find the first clashing event or outbox message, reading the event
log, the attempt-checked outbox updates, and the outbox reads and
updates of an erasure. The caller holds the transaction and translates driver errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

from crmkit.adapters._common import encode
from crmkit.kernel.errors import (
    ConcurrencyConflict,
    DuplicateRecord,
    NotFound,
    SchemaError,
    ValidationError,
)
from crmkit.ports.aggregate import Aggregate, Group, MeasureOp
from crmkit.ports.erasure import ERASED_BODY
from crmkit.ports.query import Keyset, Query
from crmkit.ports.storage import (
    Document,
    EventRecord,
    IndexField,
    IndexType,
    KindSpec,
    OutboxEntry,
    OutboxMessage,
    OutboxStatus,
)

Shapes = dict[str, tuple[str, bool, bool]]
"""A kind's declared index fields: name -> (type, multi, unique), as ``crm_fields`` holds them."""

EVENT_COLUMNS: Final = (
    "id, stream_kind, stream_id, version, event_type, schema_version, occurred_at, body"
)
OUTBOX_INSERT: Final = (
    "INSERT INTO crm_outbox (tenant, id, key, channel, purpose, party_id, body, available_at,"
    " status, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)"
)
_CLAIMED: Final = " WHERE tenant = ? AND id = ? AND status = 'pending' AND attempts = ?"


def sql(text: str, mark: str) -> str:
    """``text`` with each ``?`` placeholder written as ``mark``."""
    return text if mark == "?" else text.replace("?", mark)


def quote(name: str) -> str:
    """Quote an identifier (names are validated tokens already; quoting costs nothing)."""
    return '"' + name.replace('"', '""') + '"'


def new_fields(spec: KindSpec, known: Shapes) -> list[IndexField]:
    """The kind's fields not declared before; `SchemaError` for one whose shape changed."""
    added = []
    for field in spec.indexes:
        shape = (str(field.type), field.multi, field.unique)
        old = known.get(field.name)
        if old is None:
            added.append(field)
        elif old != shape:
            raise SchemaError(
                f"index field {spec.kind}.{field.name} was declared as {old}, now as"
                f" {shape}: crmkit cannot migrate a changed field"
            )
    return added


class KindSql:
    """The statements over one kind's table ``table``, built once when the store opens.

    ``body`` is the expression that reads the body column back as text.
    """

    def __init__(self, spec: KindSpec, known: Shapes, table: str, mark: str, body: str) -> None:
        self.name = spec.kind
        self.table = table
        self.singles = tuple(field.name for field in spec.indexes if not field.multi)
        self.multis = tuple(field.name for field in spec.indexes if field.multi)
        self.uniques = tuple(field.name for field in spec.indexes if field.unique)
        self.bools = frozenset(f.name for f in spec.indexes if f.type is IndexType.BOOL)
        # Fields declared once and dropped since: a rewrite nulls them, as the
        # new document carries no value for them.
        stale = [name for name, (_, multi, _) in known.items() if not multi]
        stale = [name for name in stale if name not in self.singles]
        self.clears_multi = any(multi for _, multi, _ in known.values())
        cols = "".join(", " + quote(name) for name in self.singles)
        sets = "".join(f", {quote(name)} = ?" for name in self.singles)
        sets += "".join(f", {quote(name)} = NULL" for name in stale)
        marks = ", ".join("?" * (5 + len(self.singles)))
        where = " WHERE tenant = ? AND id = ?"
        self.get_sql = sql(f"SELECT version, {body}, _index FROM {table}{where}", mark)
        self.insert_sql = sql(
            f"INSERT INTO {table} (tenant, id, version, body, _index{cols}) VALUES ({marks})", mark
        )
        self.update_sql = sql(
            f"UPDATE {table} SET version = ?, body = ?, _index = ?{sets}{where} AND version = ?",
            mark,
        )
        self.delete_sql = sql(f"DELETE FROM {table}{where} AND version = ?", mark)
        self.exists_sql = sql(f"SELECT 1 FROM {table}{where}", mark)
        self.clear_sql = sql(
            f"UPDATE {table} SET "
            + ", ".join(f"{quote(name)} = NULL" for name in self.uniques)
            + where,
            mark,
        )

    def values(self, doc: Document) -> tuple[Any, ...]:
        """Version, body, index JSON and single-valued columns of ``doc``."""
        index = doc.index
        encoded = encode(index if type(index) is dict else dict(index)) if index else "{}"
        return (doc.version, doc.body, encoded, *[index.get(name) for name in self.singles])


def keyset_after(query: Query, after: Keyset, params: list[Any], mark: str) -> str:
    """Rows after the keyset: the expanded OR of ANDs, a null sorting after every value."""
    branches: list[str] = []
    equal: list[str] = []  # the sort keys so far equal the cursor's
    equal_params: list[Any] = []
    for key, value in zip(query.order_by, after.values, strict=True):
        column = "t." + quote(key.field)
        if value is None:
            equal.append(f"{column} IS NULL")  # nothing sorts after a null but a null
            continue
        op = "<" if key.descending else ">"
        branches.append(" AND ".join([*equal, f"({column} {op} {mark} OR {column} IS NULL)"]))
        params.extend((*equal_params, value))
        equal.append(f"{column} = {mark}")
        equal_params.append(value)
    branches.append(" AND ".join([*equal, f"t.id {'<' if query.id_descending else '>'} {mark}"]))
    params.extend((*equal_params, after.id))
    return "(" + " OR ".join(f"({branch})" for branch in branches) + ")"


Dialect = Literal["sqlite", "postgres"]
"""The SQL dialect of an aggregate statement."""

_LOW_BITS: Final = 2**32


def aggregate_select(table: str, where: str, agg: Aggregate, dialect: Dialect) -> str:
    """One ``GROUP BY`` statement for ``agg`` (checked) over ``table`` AS ``t`` and ``where``.

    Column names come from the checked aggregate, so they are declared index
    fields; every value sits in ``where`` as a bound parameter. On SQLite a
    sum is split into the sums of each value's high and low 32 bits, which
    cannot overflow below 2**31 rows a group, so that `aggregate_groups` can
    add them up exactly (SQLite's own SUM raises past 64 bits; PostgreSQL's
    SUM of a bigint is an exact numeric).
    """
    keys = ["t." + quote(name) for name in agg.group_by]
    columns = list(keys)
    for measure in agg.measures:
        if measure.op is MeasureOp.COUNT:
            columns.append("COUNT(*)")
            continue
        column = "t." + quote(str(measure.field))
        if measure.op is MeasureOp.SUM and dialect == "sqlite":
            columns += [f"SUM({column} >> 32)", f"SUM({column} & {_LOW_BITS - 1})"]
        else:
            columns.append(f"{measure.op.upper()}({column})")
    text = f"SELECT {', '.join(columns)} FROM {table} AS t WHERE {where}"
    if keys:
        if dialect == "sqlite":  # nulls last, then binary order (SQLite's default collation)
            order = [f"{key} IS NULL, {key}" for key in keys]
        else:  # the text columns are COLLATE "C"
            order = [f"{key} ASC NULLS LAST" for key in keys]
        text += f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(order)}"
    return text


def aggregate_groups(
    rows: Sequence[Sequence[Any]], agg: Aggregate, bools: frozenset[str], dialect: Dialect
) -> list[Group]:
    """The `Group`s of the rows of `aggregate_select`; ``bools``: the kind's bool fields."""
    width = len(agg.group_by)
    groups = []
    for row in rows:
        key = tuple(
            value if value is None or name not in bools else bool(value)
            for name, value in zip(agg.group_by, row, strict=False)
        )
        values: list[int | None] = []
        at = width
        for measure in agg.measures:
            value = row[at]
            at += 1
            if measure.op is MeasureOp.SUM and dialect == "sqlite":
                low = row[at]
                at += 1
                value = None if value is None else value * _LOW_BITS + low
            values.append(None if value is None else int(value))  # numeric sums: Decimal
        groups.append(Group(key, tuple(values)))
    return groups


def event_rows(tenant: str, events: Sequence[EventRecord]) -> list[tuple[Any, ...]]:
    """The ``crm_events`` rows of ``events``, columns in `EVENT_COLUMNS` order after the tenant."""
    return [
        (
            tenant,
            e.id,
            e.stream_kind,
            e.stream_id,
            e.version,
            e.event_type,
            e.schema_version,
            e.occurred_at,
            e.body,
        )
        for e in events
    ]


def check_events(conn: Any, tenant: str, events: Sequence[EventRecord], mark: str) -> None:
    """Raise for the first event whose (stream, version) is stored or earlier in the batch."""
    text = sql("SELECT 1 FROM crm_events WHERE tenant = ? AND stream_id = ? AND version = ?", mark)
    seen: set[tuple[str, int]] = set()
    for event in events:
        key = (event.stream_id, event.version)
        if conn.execute(text, (tenant, *key)).fetchone() or key in seen:
            raise ConcurrencyConflict(event.stream_kind, event.stream_id, event.version - 1)
        seen.add(key)


def read_events(
    conn: Any, tenant: str, after: int, limit: int, stream_id: str | None, mark: str
) -> list[tuple[Any, ...]]:
    """Rows (position, then `EVENT_COLUMNS`) of up to ``limit`` events after ``after``."""
    text = f"SELECT position, {EVENT_COLUMNS} FROM crm_events WHERE tenant = ? AND position > ?"
    params: tuple[Any, ...] = (tenant, after, limit)
    if stream_id is not None:
        text += " AND stream_id = ?"
        params = (tenant, after, stream_id, limit)
    rows: list[tuple[Any, ...]] = conn.execute(
        sql(text + " ORDER BY position LIMIT ?", mark), params
    ).fetchall()
    return rows


def outbox_rows(tenant: str, outbox: Sequence[OutboxMessage]) -> list[tuple[Any, ...]]:
    """The values `OUTBOX_INSERT` takes for each message of ``outbox``."""
    return [
        (tenant, m.id, m.key, m.channel, m.purpose, m.party_id, m.body, m.available_at)
        for m in outbox
    ]


def check_outbox(conn: Any, tenant: str, outbox: Sequence[OutboxMessage], mark: str) -> None:
    """Raise for the first message whose key, then id, is stored or earlier in the batch."""
    taken: dict[str, set[str]] = {"key": set(), "id": set()}
    for message in outbox:
        for field, value in (("key", message.key), ("id", message.id)):
            text = sql(f"SELECT 1 FROM crm_outbox WHERE tenant = ? AND {field} = ?", mark)
            if conn.execute(text, (tenant, value)).fetchone() or value in taken[field]:
                raise DuplicateRecord("outbox", field)
            taken[field].add(value)


def update_claimed(
    conn: Any, tenant: str, id: str, attempt: int, update: str, values: tuple[Any, ...], mark: str
) -> None:
    """Run ``update`` on the message if it is still claimed at ``attempt``; else raise."""
    if conn.execute(sql(update + _CLAIMED, mark), (*values, tenant, id, attempt)).rowcount == 1:
        return
    exists = conn.execute(
        sql("SELECT 1 FROM crm_outbox WHERE tenant = ? AND id = ?", mark), (tenant, id)
    ).fetchone()
    if exists is None:
        raise NotFound("outbox", id)
    raise ConcurrencyConflict("outbox", id, attempt)


def complete(conn: Any, tenant: str, id: str, attempt: int, receipt: str, mark: str) -> None:
    """Mark a message claimed at ``attempt`` delivered."""
    update = "UPDATE crm_outbox SET status = 'delivered', lease_until = NULL, receipt = ?"
    update_claimed(conn, tenant, id, attempt, update, (receipt,), mark)


def fail(
    conn: Any, tenant: str, id: str, attempt: int, error: str, retry_at: int | None, mark: str
) -> None:
    """Record a failed delivery: retry at ``retry_at``, or dead when it is None."""
    if retry_at is None:
        update = "UPDATE crm_outbox SET status = 'dead', lease_until = NULL, last_error = ?"
        update_claimed(conn, tenant, id, attempt, update, (error,), mark)
    else:
        update = "UPDATE crm_outbox SET available_at = ?, lease_until = NULL, last_error = ?"
        update_claimed(conn, tenant, id, attempt, update, (retry_at, error), mark)


# --- erasure ------------------------------------------------------------------

_OUTBOX_OF: Final = (
    "SELECT id, key, channel, purpose, party_id, body, available_at, status, attempts,"
    " lease_until, last_error, receipt FROM crm_outbox WHERE tenant = ? AND party_id = ?"
    " ORDER BY id"
)


def outbox_of(conn: Any, tenant: str, party_id: str, mark: str) -> list[OutboxEntry]:
    """Every message of ``party_id`` in the tenant's outbox, any status, by id.

    No index covers ``party_id``: this scans the tenant's outbox, which suits
    the rare subject-access export and erasure it serves.
    """
    rows = conn.execute(sql(_OUTBOX_OF, mark), (tenant, party_id)).fetchall()
    return [OutboxEntry(OutboxMessage(*row[:7]), OutboxStatus(row[7]), *row[8:]) for row in rows]


def blank_outbox(conn: Any, tenant: str, party_id: str, mark: str) -> None:
    """Give every message of ``party_id`` the body `ERASED_BODY`, whatever its status."""
    conn.execute(
        sql("UPDATE crm_outbox SET body = ? WHERE tenant = ? AND party_id = ?", mark),
        (ERASED_BODY, tenant, party_id),
    )


def refuse_unknown(bodies: Mapping[str, str], found: Iterable[str]) -> None:
    """Raise `ValidationError` naming ``events`` for the first id of ``bodies`` not ``found``."""
    stored = set(found)
    for id in bodies:
        if id not in stored:
            raise ValidationError("events", "names no stored event", id)
