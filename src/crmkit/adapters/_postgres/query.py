"""A `Query` (or an `Aggregate`) translated to one SELECT over its kind's table.

Every value travels as a parameter, in clause order; only validated field
names become SQL text. An ``In`` list travels as one array (``= ANY(%s)``).
Conditions on multi-valued fields are a correlated ``EXISTS`` on the
``crm_multi`` side table, answered by its primary key (tenant, kind, name,
value, id). Nulls sort last in either direction (``NULLS LAST``), text in
code point order (``COLLATE "C"`` columns), and ids break ties, so a keyset
(the last row's sort values and id) names the exact place to resume. An
aggregate shares the WHERE clause (`where_sql`) and adds ``GROUP BY`` (see
`crmkit.adapters._sql.aggregate_select`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from crmkit.adapters._postgres.kinds import Kind, multi_text
from crmkit.adapters._sql import aggregate_select, keyset_after, quote
from crmkit.ports.aggregate import Aggregate
from crmkit.ports.query import Condition, Eq, In, Query


def select(kind: Kind, tenant: str, query: Query) -> tuple[str, list[Any]]:
    """One SELECT for ``query``; every value is a bound parameter, in clause order."""
    params: list[Any] = []
    where = [where_sql(kind, tenant, query.where, params)]
    if query.after is not None:
        where.append(keyset_after(query, query.after, params, "%s"))
    order = []
    for key in query.order_by:
        direction = "DESC" if key.descending else "ASC"
        order.append(f"t.{quote(key.field)} {direction} NULLS LAST")
    order.append("t.id DESC" if query.id_descending else "t.id ASC")
    params.append(query.limit)
    text = (
        f"SELECT t.id, t.version, t.body::text, t._index FROM {kind.table} AS t"
        f" WHERE {' AND '.join(where)} ORDER BY {', '.join(order)} LIMIT %s"
    )
    return text, params


def group_select(kind: Kind, tenant: str, agg: Aggregate) -> tuple[str, list[Any]]:
    """One ``GROUP BY`` statement for a checked ``agg``, scoped and filtered as `select` is."""
    params: list[Any] = []
    where = where_sql(kind, tenant, agg.where, params)
    return aggregate_select(kind.table, where, agg, "postgres"), params


def where_sql(kind: Kind, tenant: str, conditions: Sequence[Condition], params: list[Any]) -> str:
    """The tenant scope and ``conditions`` over ``t``, ANDed; their values go to ``params``."""
    params.append(tenant)
    where = ["t.tenant = %s"]
    for cond in conditions:
        where.append(_condition(kind, tenant, cond, params))
    return " AND ".join(where)


def _condition(kind: Kind, tenant: str, cond: Condition, params: list[Any]) -> str:
    if cond.field in kind.multis:
        if isinstance(cond, Eq) and cond.value is None:
            params.extend((kind.name, cond.field))
            return (
                "NOT EXISTS (SELECT 1 FROM crm_multi AS m WHERE m.tenant = t.tenant"
                " AND m.kind = %s AND m.name = %s AND m.id = t.id)"
            )
        # check_query refuses a Range on a multi-valued field.
        values = (cond.value,) if isinstance(cond, Eq) else cast(In, cond).values
        if not values:
            return "FALSE"
        params.extend((tenant, kind.name, cond.field))
        if len(values) == 1:
            params.append(multi_text(values[0]))
            test = "= %s"
        else:
            params.append([multi_text(v) for v in values])
            test = "= ANY(%s::text[])"
        # Correlated, as on SQLite: one primary-key probe per candidate
        # document instead of collecting every matching id for each keyset page.
        return (
            "EXISTS (SELECT 1 FROM crm_multi AS m WHERE m.tenant = %s AND m.kind = %s"
            f" AND m.name = %s AND m.value {test} AND m.id = t.id)"
        )
    column = "t.id" if cond.field == "id" else "t." + quote(cond.field)
    if isinstance(cond, Eq):
        if cond.value is None:
            return f"{column} IS NULL"
        params.append(cond.value)
        return f"{column} = %s"
    if isinstance(cond, In):
        if not cond.values:
            return "FALSE"
        params.append(list(cond.values))
        return f"{column} = ANY(%s::{kind.array_type(cond.field)})"
    parts = []
    for op, bound in ((">", cond.gt), (">=", cond.gte), ("<", cond.lt), ("<=", cond.lte)):
        if bound is not None:
            params.append(bound)
            parts.append(f"{column} {op} %s")
    return " AND ".join(parts) if parts else f"{column} IS NOT NULL"
