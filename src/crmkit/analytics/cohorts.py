"""Purchases over time: monthly cohort retention and churn-risk indicators.

**Cohort retention** groups customers by the month of their first purchase.
For each cohort and each month offset from its first month (0, 1, 2 ...), the
table counts the cohort's customers who bought in that month. Offset 0 is
the whole cohort; the offsets run up to the last month with any purchase in
the data, so recent cohorts have fewer cells. Months are calendar months in
the zone the caller passes (UTC by default): a purchase at 23:30 UTC on
31 January is a February purchase in Europe/Berlin.

Rates are ``retained / cohort size`` as `Decimal`, rounded half to even to
four places. The months a customer bought in must be kept until the end
(a customer's first purchase may come last), so memory grows with customers
× active months, never with the number of purchases.

**Churn risk** compares each customer's time since the last purchase with
their own typical gap between purchases, compares the purchases of the last
period with the period before, and adds open complaints; `churn_risk`
documents the rule. It keeps a few numbers per customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from zoneinfo import ZoneInfo

import attrs

from crmkit.analytics._shared import rounded, share
from crmkit.analytics.customers import Purchase, _checked, _positive_int
from crmkit.analytics.periods import check_zone
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import require_aware

_UTC = ZoneInfo("UTC")


@attrs.frozen
class CohortRow:
    """One cell of the retention table.

    Attributes:
        cohort: First day of the cohort's month (the month of its first purchases).
        size: Customers in the cohort.
        offset: Months after the cohort's month (0 is the cohort's own month).
        month: First day of the month the cell counts.
        retained: Cohort customers who bought in that month.
        rate: ``retained / size``, four places, half to even.
    """

    cohort: date
    size: int
    offset: int
    month: date
    retained: int
    rate: Decimal


@attrs.frozen
class CohortReport:
    """Retention of monthly cohorts.

    Attributes:
        zone: The time zone the months are taken in.
        rows: Cells by cohort, then offset.
        customers: Customers in all cohorts.
        last_month: First day of the last month with a purchase, or None without purchases.
    """

    zone: ZoneInfo
    rows: tuple[CohortRow, ...]
    customers: int
    last_month: date | None


def _month(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def cohort_retention(purchases: Iterable[Purchase], zone: ZoneInfo | str = _UTC) -> CohortReport:
    """The monthly cohort retention table of ``purchases``, months in ``zone``.

    ``zone`` is a `ZoneInfo` or an IANA key such as ``"Europe/Berlin"``.
    """
    checked = check_zone(zone)
    if not isinstance(checked, ZoneInfo):  # the report records it, so it must serialise
        raise ValidationError("zone", "must be a ZoneInfo or an IANA time zone name", checked)
    zone = checked
    months: dict[str, set[int]] = {}
    for _, purchase in _checked(purchases):
        local = purchase.at.astimezone(zone)
        months.setdefault(purchase.customer_id, set()).add(local.year * 12 + local.month - 1)
    cohorts: dict[int, list[set[int]]] = {}
    for active in months.values():
        cohorts.setdefault(min(active), []).append(active)
    last = max((max(active) for active in months.values()), default=None)
    rows: list[CohortRow] = []
    for start in sorted(cohorts):
        members = cohorts[start]
        assert last is not None
        for offset in range(last - start + 1):
            retained = sum(1 for active in members if start + offset in active)
            rate = share(retained, len(members))
            month = _month(start + offset)
            rows.append(CohortRow(_month(start), len(members), offset, month, retained, rate))
    return CohortReport(zone, tuple(rows), len(months), None if last is None else _month(last))


# --- churn risk ------------------------------------------------------------------


class ChurnRisk(StrEnum):
    """How likely a customer is to stop buying."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@attrs.frozen
class ChurnRow:
    """Churn-risk indicators of one customer.

    Attributes:
        customer_id: The customer.
        purchases: Purchases up to ``as_of``.
        last_purchase_at: The latest of them.
        days_since_last: Whole days from the last purchase to ``as_of``.
        typical_gap_days: Mean days between consecutive purchases
            (``(last - first) / (purchases - 1)`` in whole days, four places), or
            None with a single purchase.
        overdue_ratio: ``days_since_last / max(typical_gap_days, 1)``, four places, or None
            with a single purchase.
        recent_purchases: Purchases in the last period, ``(as_of - period, as_of]``.
        previous_purchases: Purchases in the period before it.
        open_complaints: Open complaints, from the caller's mapping (0 when absent).
        points: Risk points by the documented rule.
        risk: Low, medium or high.
        reasons: The indicators that added points, for example ``overdue``.
    """

    customer_id: str
    purchases: int
    last_purchase_at: datetime
    days_since_last: int
    typical_gap_days: Decimal | None
    overdue_ratio: Decimal | None
    recent_purchases: int
    previous_purchases: int
    open_complaints: int
    points: int
    risk: ChurnRisk
    reasons: tuple[str, ...]


@attrs.frozen
class ChurnReport:
    """Churn-risk indicators of every customer with a purchase up to ``as_of``.

    Attributes:
        as_of: The instant the indicators are computed at.
        period_days: Length of the periods compared for falling frequency.
        rows: One row per customer, by customer id.
        low: Customers at low risk.
        medium: Customers at medium risk.
        high: Customers at high risk.
    """

    as_of: datetime
    period_days: int
    rows: tuple[ChurnRow, ...]
    low: int
    medium: int
    high: int


@attrs.define
class _History:
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    recent: int = 0
    previous: int = 0


def _complaints(value: object) -> Mapping[str, int]:
    if not isinstance(value, Mapping):
        raise ValidationError("open_complaints", "must be a mapping of customer id to count", value)
    for key, count in value.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValidationError(f"open_complaints[{key!r}]", "must be an int >= 0", count)
    return value


def _churn_points(
    days_since: int, gap: Fraction | None, history: _History, complaints: int, period: int
) -> tuple[int, tuple[str, ...]]:
    if gap is not None:
        overdue = Fraction(days_since) / max(gap, Fraction(1))
        late = 3 if overdue >= 3 else 1 if overdue >= Fraction(3, 2) else 0
    else:
        late = 3 if days_since > 2 * period else 1 if days_since > period else 0
    points = [("overdue", late)]
    points.append(("falling frequency", 1 if history.recent < history.previous else 0))
    points.append(("open complaints", min(complaints, 2)))
    return sum(p for _, p in points), tuple(name for name, p in points if p)


def churn_risk(
    purchases: Iterable[Purchase],
    as_of: datetime,
    *,
    period_days: int = 90,
    open_complaints: Mapping[str, int] | None = None,
) -> ChurnReport:
    """Churn-risk indicators per customer, from purchases up to ``as_of`` (later ones are ignored).

    The rule adds points:

    * **overdue**: with two or more purchases, 3 points when the days since the
      last purchase are at least 3 × the customer's typical gap, 1 point at
      1.5 × (the gap counts as at least one day); with a single purchase, 3
      points after more than 2 × ``period_days``, 1 point after more than
      ``period_days``;
    * **falling frequency**: 1 point when the last period (``period_days``
      up to ``as_of``) has fewer purchases than the period before it;
    * **open complaints**: 1 point per open complaint, at most 2.

    0 points is low risk, 1 or 2 medium, 3 or more high, so being long
    overdue alone is high risk. Customers who appear only in
    ``open_complaints`` have no purchases and are not reported.
    """
    as_of = require_aware(as_of, "as_of")
    period = _positive_int(period_days, "period_days")
    complaints = _complaints({} if open_complaints is None else open_complaints)
    recent_from, previous_from = as_of - timedelta(days=period), as_of - timedelta(days=2 * period)
    seen: dict[str, _History] = {}
    for _, purchase in _checked(purchases):
        at = purchase.at
        if at > as_of:
            continue
        h = seen.setdefault(purchase.customer_id, _History())
        h.count += 1
        h.first = at if h.first is None or at < h.first else h.first
        h.last = at if h.last is None or at > h.last else h.last
        if at > recent_from:
            h.recent += 1
        elif at > previous_from:
            h.previous += 1
    rows: list[ChurnRow] = []
    for customer in sorted(seen):
        h = seen[customer]
        assert h.first is not None
        assert h.last is not None
        days_since = (as_of - h.last).days
        gap = Fraction((h.last - h.first).days, h.count - 1) if h.count > 1 else None
        count = complaints.get(customer, 0)
        points, reasons = _churn_points(days_since, gap, h, count, period)
        risk = ChurnRisk.HIGH if points >= 3 else ChurnRisk.MEDIUM if points else ChurnRisk.LOW
        rows.append(
            ChurnRow(
                customer,
                h.count,
                h.last,
                days_since,
                None if gap is None else rounded(gap),
                None if gap is None else share(days_since, max(gap, Fraction(1))),
                h.recent,
                h.previous,
                count,
                points,
                risk,
                reasons,
            )
        )
    levels = [row.risk for row in rows]
    return ChurnReport(
        as_of,
        period,
        tuple(rows),
        levels.count(ChurnRisk.LOW),
        levels.count(ChurnRisk.MEDIUM),
        levels.count(ChurnRisk.HIGH),
    )
