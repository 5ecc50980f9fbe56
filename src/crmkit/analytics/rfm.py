"""RFM scores and customer lifetime value, from `Purchase` values.

**RFM** rates each customer on recency (days since the last purchase),
frequency (number of purchases) and monetary value (their sum) with scores 1
to 5, and names a segment from the R score and the FM score.

Scores are rank-based quintiles by the mid-rank percentile: with ``n``
customers, a value that ``below`` customers beat and ``ties`` customers share
(itself included) has percentile ``p = (below + ties / 2) / n`` and score
``min(5, floor(5 × p) + 1)``. So:

* **ties** get one score, placed at the middle of the ranks they share;
* five distinct values score 1, 2, 3, 4, 5; **fewer than five customers**
  spread symmetrically (one customer scores 3; two score 2 and 4; four
  score 1, 2, 4, 5), and all-equal values score 3;
* higher frequency and monetary value score higher; for recency, fewer days
  score higher.

FM is the mean of F and M rounded half up, ``(F + M + 1) // 2``. The segment
is the first rule of `RFM_SEGMENTS` (or the caller's table) whose R and FM
ranges hold the scores.

**Lifetime value**: historical is the sum of a customer's purchases; the
predicted value is average order value × purchases per year × expected
lifetime in years × margin, where purchases per year is
``purchases × 365 / max(tenure_days, min_tenure_days)`` and tenure runs from
the first purchase to ``as_of``. It is computed exactly and rounded once.

Both metrics need every customer's totals at the end (quantiles compare
customers), so they keep one small record per customer, never the purchases.
Purchases after ``as_of`` are ignored; purchases in another currency than
``currency`` raise `ValidationError` (convert them first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import Final

import attrs

from crmkit.analytics._shared import iterate, rounded
from crmkit.analytics.customers import (
    Purchase,
    _checked,
    _currency,
    _positive_int,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money, minor_units
from crmkit.kernel.numbers import decimal_of
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import require_aware


def _name(value: object) -> str:
    return clean_line(value, "name", max_len=20)


def _score(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationError(attribute.name, "must be an int from 1 to 5", value)


@attrs.frozen
class RfmSegment:
    """A rule of the segment table: scores in both ranges get ``name``.

    Attributes:
        name: The segment's name, also usable as a profile's ``rfm_class`` (at most 20 characters).
        r_min: Lowest R score, 1 to 5.
        r_max: Highest R score.
        fm_min: Lowest FM score, 1 to 5.
        fm_max: Highest FM score.
    """

    name: str = attrs.field(converter=_name)
    r_min: int = attrs.field(validator=_score)
    r_max: int = attrs.field(validator=_score)
    fm_min: int = attrs.field(validator=_score)
    fm_max: int = attrs.field(validator=_score)

    def holds(self, r: int, fm: int) -> bool:
        """Whether the R and FM scores fall in this rule's ranges."""
        return self.r_min <= r <= self.r_max and self.fm_min <= fm <= self.fm_max


RFM_SEGMENTS: Final[tuple[RfmSegment, ...]] = (
    RfmSegment("champions", 4, 5, 4, 5),
    RfmSegment("loyal", 3, 5, 3, 5),
    RfmSegment("potential loyalist", 4, 5, 2, 2),
    RfmSegment("new", 5, 5, 1, 1),
    RfmSegment("promising", 4, 4, 1, 1),
    RfmSegment("needs attention", 3, 3, 2, 2),
    RfmSegment("about to sleep", 3, 3, 1, 1),
    RfmSegment("can't lose", 1, 2, 5, 5),
    RfmSegment("at risk", 1, 2, 3, 4),
    RfmSegment("hibernating", 2, 2, 1, 2),
    RfmSegment("lost", 1, 1, 1, 2),
)
"""The default R × FM segment grid (11 segments); the first matching rule wins.

| R / FM | 1 | 2 | 3 | 4 | 5 |
|---|---|---|---|---|---|
| 5 | new | potential loyalist | loyal | champions | champions |
| 4 | promising | potential loyalist | loyal | champions | champions |
| 3 | about to sleep | needs attention | loyal | loyal | loyal |
| 2 | hibernating | hibernating | at risk | at risk | can't lose |
| 1 | lost | lost | at risk | at risk | can't lose |
"""


def _table(segments: object) -> tuple[RfmSegment, ...]:
    table: list[RfmSegment] = []
    for index, rule in enumerate(iterate(segments, "segments")):
        if not isinstance(rule, RfmSegment):
            raise ValidationError(f"segments[{index}]", "must be an RfmSegment", rule)
        table.append(rule)
    for r in range(1, 6):
        for fm in range(1, 6):
            if not any(rule.holds(r, fm) for rule in table):
                raise ValidationError("segments", f"must cover R={r}, FM={fm}", None)
    return tuple(table)


def quintiles(values: Mapping[str, int | Decimal]) -> dict[str, int]:
    """Scores 1 to 5 by the mid-rank percentile (see the module); higher values score higher.

    >>> quintiles({"a": 1, "b": 2, "c": 2, "d": 9})
    {'a': 1, 'b': 3, 'c': 3, 'd': 5}
    """
    if not isinstance(values, Mapping):
        raise ValidationError("values", "must be a mapping of key to int or Decimal", values)
    n = len(values)
    counts: dict[int | Decimal, int] = {}
    for key, value in values.items():
        finite = isinstance(value, int) or (isinstance(value, Decimal) and value.is_finite())
        if isinstance(value, bool) or not finite:
            raise ValidationError(f"values[{key!r}]", "must be an int or a Decimal", value)
        counts[value] = counts.get(value, 0) + 1
    score: dict[int | Decimal, int] = {}
    below = 0
    for value in sorted(counts):
        ties = counts[value]
        score[value] = min(5, floor(5 * Fraction(2 * below + ties, 2 * n)) + 1)
        below += ties
    return {key: score[value] for key, value in values.items()}


@attrs.define
class _Totals:
    count: int
    first: datetime
    last: datetime
    amount: Money


def _totals(purchases: Iterable[Purchase], as_of: datetime, currency: str) -> dict[str, _Totals]:
    seen: dict[str, _Totals] = {}
    for _, p in _checked(purchases, currency):
        if p.at > as_of:
            continue
        t = seen.get(p.customer_id)
        if t is None:
            seen[p.customer_id] = _Totals(1, p.at, p.at, p.amount)
        else:
            t.count += 1
            t.first, t.last = min(t.first, p.at), max(t.last, p.at)
            t.amount = t.amount + p.amount
    return seen


@attrs.frozen
class RfmRow:
    """One customer's RFM values, scores and segment.

    Attributes:
        customer_id: The customer.
        recency_days: Whole days from the last purchase to ``as_of``.
        frequency: Number of purchases.
        monetary: Sum of the purchases.
        last_purchase_at: The latest purchase.
        r: Recency score, 1 to 5 (5 = most recent).
        f: Frequency score, 1 to 5.
        m: Monetary score, 1 to 5.
        fm: ``(f + m + 1) // 2``.
        code: The scores as text, for example ``"545"``.
        segment: The segment's name, for example ``champions``.
    """

    customer_id: str
    recency_days: int
    frequency: int
    monetary: Money
    last_purchase_at: datetime
    r: int
    f: int
    m: int
    fm: int
    code: str
    segment: str


@attrs.frozen
class RfmReport:
    """RFM of every customer with a purchase up to ``as_of``.

    Attributes:
        as_of: The instant recency is measured to.
        currency: The currency of every amount.
        rows: One row per customer, by customer id.
        customers: Number of customers.
        total: Sum of all their purchases.
        segments: Customers per segment name (segments with none are absent).
    """

    as_of: datetime
    currency: str
    rows: tuple[RfmRow, ...]
    customers: int
    total: Money
    segments: dict[str, int]

    def classes(self) -> dict[str, str]:
        """Customer id to segment name, for example to set profiles' ``rfm_class``."""
        return {row.customer_id: row.segment for row in self.rows}


def rfm(
    purchases: Iterable[Purchase],
    as_of: datetime,
    currency: str,
    *,
    segments: Iterable[RfmSegment] = RFM_SEGMENTS,
) -> RfmReport:
    """Recency, frequency and monetary scores and segments (rules in the module docstring).

    ``segments`` replaces the default table; it must cover all 25 R × FM cells.
    """
    as_of = require_aware(as_of, "as_of")
    currency = _currency(currency)
    table = _table(segments)
    seen = _totals(purchases, as_of, currency)
    r = quintiles({c: -(as_of - t.last).days for c, t in seen.items()})
    f = quintiles({c: t.count for c, t in seen.items()})
    m = quintiles({c: t.amount.amount for c, t in seen.items()})
    rows: list[RfmRow] = []
    counts: dict[str, int] = {}
    total = Money.zero(currency)
    for c in sorted(seen):
        t = seen[c]
        fm = (f[c] + m[c] + 1) // 2
        name = next(rule.name for rule in table if rule.holds(r[c], fm))
        counts[name] = counts.get(name, 0) + 1
        total = total + t.amount
        code = f"{r[c]}{f[c]}{m[c]}"
        recency = (as_of - t.last).days
        rows.append(RfmRow(c, recency, t.count, t.amount, t.last, r[c], f[c], m[c], fm, code, name))
    return RfmReport(as_of, currency, tuple(rows), len(rows), total, dict(sorted(counts.items())))


# --- lifetime value ----------------------------------------------------------------


@attrs.frozen
class ValueRow:
    """One customer's historical and predicted lifetime value.

    Attributes:
        customer_id: The customer.
        purchases: Number of purchases.
        first_purchase_at: The first purchase.
        tenure_days: Whole days from the first purchase to ``as_of``.
        historical: Sum of the purchases.
        average_order: ``historical / purchases``, rounded half to even.
        purchases_per_year: ``purchases × 365 / max(tenure_days, min_tenure_days)``, four places.
        predicted: Average order × purchases per year × lifetime years × margin, rounded once.
    """

    customer_id: str
    purchases: int
    first_purchase_at: datetime
    tenure_days: int
    historical: Money
    average_order: Money
    purchases_per_year: Decimal
    predicted: Money


@attrs.frozen
class ValueReport:
    """Lifetime value of every customer with a purchase up to ``as_of``.

    Attributes:
        as_of: The instant tenure is measured to.
        currency: The currency of every amount.
        lifetime_years: Expected customer lifetime used for the prediction.
        margin: Share of revenue kept as margin (1 means revenue).
        min_tenure_days: Shortest tenure the yearly rate is taken over.
        rows: One row per customer, by customer id.
        historical: Sum of the historical values.
        predicted: Sum of the predicted values (of the rounded row values).
    """

    as_of: datetime
    currency: str
    lifetime_years: Decimal
    margin: Decimal
    min_tenure_days: int
    rows: tuple[ValueRow, ...]
    historical: Money
    predicted: Money


def _non_negative(value: object, field: str, upper: Decimal | None = None) -> Decimal:
    result = decimal_of(value, field)
    if result < 0 or (upper is not None and result > upper):
        limit = "" if upper is None else f" and at most {upper}"
        raise ValidationError(field, f"must be at least 0{limit}", value)
    return result


def lifetime_value(
    purchases: Iterable[Purchase],
    as_of: datetime,
    currency: str,
    *,
    lifetime_years: Decimal | int = 3,
    margin: Decimal | int = 1,
    min_tenure_days: int = 365,
) -> ValueReport:
    """Historical and predicted customer lifetime value (formula in the module docstring).

    Defaults: 3 expected lifetime years, margin 1 (revenue, not profit), and a
    tenure of at least 365 days, so that a customer who bought last week is
    not extrapolated to 52 purchases a year.
    """
    as_of = require_aware(as_of, "as_of")
    currency = _currency(currency)
    years = _non_negative(lifetime_years, "lifetime_years")
    keep = _non_negative(margin, "margin", Decimal(1))
    floor_days = _positive_int(min_tenure_days, "min_tenure_days")
    seen = _totals(purchases, as_of, currency)
    rows: list[ValueRow] = []
    historical, predicted = Money.zero(currency), Money.zero(currency)
    for c in sorted(seen):
        t = seen[c]
        tenure = (as_of - t.first).days
        per_year = Fraction(t.count * 365, max(tenure, floor_days))
        average = Fraction(t.amount.amount) / t.count
        exact = average * per_year * Fraction(years) * Fraction(keep)
        row = ValueRow(
            c,
            t.count,
            t.first,
            tenure,
            t.amount,
            _money(average, currency),
            rounded(per_year),
            _money(exact, currency),
        )
        rows.append(row)
        historical, predicted = historical + row.historical, predicted + row.predicted
    return ValueReport(as_of, currency, years, keep, floor_days, tuple(rows), historical, predicted)


def _money(value: Fraction, currency: str) -> Money:
    # Round the exact fraction once, half to even, to the currency's minor unit.
    return Money.from_minor(round(value * 10 ** minor_units(currency)), currency)
