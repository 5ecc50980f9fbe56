"""Open pipeline and forecast: what the sales team expects to close, in one currency.

Both reports read the opportunities once, keep one running total per group,
and convert every amount into the reporting currency through an
`ExchangeRates` at the rates of one day (``on``):

* each opportunity's amount is converted and rounded half-even to the
  reporting currency's minor unit;
* its weighted amount is that converted amount × its probability, rounded the
  same way;
* groups and totals add up those rounded values, so the rows sum to the totals
  exactly.

A period is the one holding the opportunity's ``close_date`` (a calendar day,
so no zone applies), or, for the ``created`` dimension, the one holding
``created_at`` as a day in ``zone``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Final

import attrs

from crmkit.analytics._shared import each
from crmkit.analytics.currency import ReportingCurrency
from crmkit.analytics.periods import (
    Period,
    check_period,
    check_zone,
    period_label,
    period_start,
)
from crmkit.kernel.checks import to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.ports.rates import ExchangeRates
from crmkit.sales.opportunity import Opportunity, OpportunityStatus
from crmkit.sales.pipeline import ForecastCategory


class Dimension(StrEnum):
    """What `pipeline` can group open opportunities by."""

    STAGE = "stage"
    OWNER = "owner"
    PERIOD = "period"
    CREATED = "created"
    CUSTOM = "custom"
    """A custom field of the opportunity, named as ``custom.<name>`` in ``by``."""


_to_dimension = to_enum(Dimension, "by")


@attrs.frozen
class PipelineRow:
    """One group of open opportunities.

    Attributes:
        stage: The stage key, when grouped by stage (else None).
        owner: The owner's id, when grouped by owner (None also means unowned).
        period: The expected close period, when grouped by period.
        created: The period the opportunities were opened in, when grouped by it.
        count: How many open opportunities.
        amount: Their converted amounts, summed.
        weighted: Their converted amounts × probability, summed.
        custom: The custom field's value as text (`custom_label`), when grouped by one.
    """

    stage: str | None
    owner: str | None
    period: str | None
    created: str | None
    count: int
    amount: Money
    weighted: Money
    custom: str | None = None


@attrs.frozen
class PipelineReport:
    """Open opportunities grouped, in one reporting currency.

    Attributes:
        rows: One row per group, sorted by the grouping columns (None last).
        by: The dimensions grouped by, in order.
        period: The period length used for ``period`` and ``created``.
        currency: The reporting currency.
        on: The day whose exchange rates were used.
        count: How many open opportunities in all.
        amount: Their amounts, summed.
        weighted: Their weighted amounts, summed.
        custom_field: The custom field grouped by, if any.
    """

    rows: tuple[PipelineRow, ...]
    by: tuple[Dimension, ...]
    period: Period
    currency: str
    on: date
    count: int
    amount: Money
    weighted: Money
    custom_field: str | None = None

    @classmethod
    def of(
        cls,
        rows: tuple[PipelineRow, ...],
        by: tuple[Dimension, ...],
        period: Period,
        convert: ReportingCurrency,
        custom_field: str | None = None,
    ) -> PipelineReport:
        """The report of ``rows`` (already converted and sorted), with its totals."""
        return cls(
            rows,
            by,
            period,
            convert.currency,
            convert.on,
            sum(r.count for r in rows),
            sum((r.amount for r in rows), convert.zero()),
            sum((r.weighted for r in rows), convert.zero()),
            custom_field,
        )


def dimensions(by: object) -> tuple[tuple[Dimension, ...], str | None]:
    """The dimensions ``by`` names, and the custom field among them (``custom.<name>``)."""
    if isinstance(by, str):
        by = (by,)
    if not isinstance(by, Iterable):
        raise ValidationError("by", "must be a dimension name or several", by)
    dims: list[Dimension] = []
    custom: str | None = None
    for name in by:
        if isinstance(name, str) and name.startswith("custom."):
            if custom is not None:
                raise ValidationError("by", "must name at most one custom field", by)
            custom = name.removeprefix("custom.")
            dims.append(Dimension.CUSTOM)
        elif name == Dimension.CUSTOM:
            raise ValidationError("by", "must name the custom field: custom.<name>", name)
        else:
            dims.append(_to_dimension(name))
    if len(set(dims)) != len(dims):
        raise ValidationError("by", "must not repeat a dimension", by)
    return tuple(dims), custom


def custom_label(value: object) -> str | None:
    """A custom value as a group label: text as is, booleans ``true``/``false``, numbers
    and dates as written (decimals without trailing zeros); None for none.

    Raises `ValidationError` for values that do not group (money, instants, multiple choices).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, str | int) or (type(value) is date):
        return str(value)
    raise ValidationError("by", "custom fields of this type cannot be grouped by", value)


_Key = tuple[str | None, str | None, str | None, str | None, str | None]


def _sort_key(key: _Key) -> tuple[tuple[bool, str], ...]:
    return tuple((part is None, part or "") for part in key)


def pipeline(
    opportunities: Iterable[Opportunity],
    *,
    currency: str,
    rates: ExchangeRates,
    on: date,
    by: str | Iterable[str] = ("stage",),
    period: Period | str = Period.MONTH,
    zone: tzinfo | str = UTC,
) -> PipelineReport:
    """Open opportunities grouped ``by`` stage, owner, close period, created period and/or
    one custom field (``custom.<name>``, whose values are labelled by `custom_label`).

    Won and lost opportunities are left out. One pass; memory grows with the
    number of groups. Raises `ValidationError` naming the bad argument (or
    ``opportunities[i]``) and `RateMissing` when a currency has no rate.
    """
    dims, custom = dimensions(by)
    length = check_period(period)
    local = check_zone(zone)
    convert = ReportingCurrency(currency, rates, on)
    groups: dict[_Key, tuple[int, Money, Money]] = {}
    for _, opp in each(opportunities, "opportunities", Opportunity):
        if opp.status is not OpportunityStatus.OPEN:
            continue
        key = (
            opp.stage if Dimension.STAGE in dims else None,
            opp.owner_id if Dimension.OWNER in dims else None,
            period_label(opp.close_date, length) if Dimension.PERIOD in dims else None,
            period_label(period_start(opp.created_at, length, local), length)
            if Dimension.CREATED in dims
            else None,
            None if custom is None else custom_label(opp.custom.get(custom)),
        )
        amount = convert(opp.amount)
        count, total, weighted = groups.get(key, (0, convert.zero(), convert.zero()))
        groups[key] = (count + 1, total + amount, weighted + amount * opp.probability)
    rows = tuple(
        PipelineRow(*key[:4], count, total, weighted, key[4])
        for key, (count, total, weighted) in sorted(groups.items(), key=lambda g: _sort_key(g[0]))
    )
    return PipelineReport.of(rows, dims, length, convert, custom)


FORECAST_ORDER: Final = (
    ForecastCategory.CLOSED,
    ForecastCategory.COMMIT,
    ForecastCategory.BEST_CASE,
    ForecastCategory.PIPELINE,
)
"""The forecast categories a forecast shows, most certain first (``omitted`` is left out)."""


@attrs.frozen
class ForecastRow:
    """One forecast category in one close period.

    Attributes:
        period: The close period.
        category: The forecast category.
        count: How many opportunities.
        amount: Their converted amounts, summed.
        weighted: Their converted amounts × probability, summed.
    """

    period: str
    category: ForecastCategory
    count: int
    amount: Money
    weighted: Money


@attrs.frozen
class ForecastReport:
    """Opportunities by close period × forecast category, in one reporting currency.

    The category totals are not cumulative: a "commit forecast" in the
    Salesforce sense is ``closed + commit``.

    Attributes:
        rows: One row per period and category, by period, then `FORECAST_ORDER`.
        period: The period length.
        currency: The reporting currency.
        on: The day whose exchange rates were used.
        closed: Won amounts, summed.
        commit: Amounts in ``commit`` stages, summed.
        best_case: Amounts in ``best_case`` stages, summed.
        pipeline: Amounts in ``pipeline`` stages, summed.
    """

    rows: tuple[ForecastRow, ...]
    period: Period
    currency: str
    on: date
    closed: Money
    commit: Money
    best_case: Money
    pipeline: Money

    @classmethod
    def of(
        cls, rows: Iterable[ForecastRow], period: Period, convert: ReportingCurrency
    ) -> ForecastReport:
        """The report of ``rows`` (already converted), sorted by period then `FORECAST_ORDER`."""
        rank = {category: index for index, category in enumerate(FORECAST_ORDER)}
        ordered = tuple(sorted(rows, key=lambda r: (r.period, rank[r.category])))
        sums = {
            c: sum((r.amount for r in ordered if r.category is c), convert.zero()) for c in rank
        }
        return cls(
            ordered,
            period,
            convert.currency,
            convert.on,
            sums[ForecastCategory.CLOSED],
            sums[ForecastCategory.COMMIT],
            sums[ForecastCategory.BEST_CASE],
            sums[ForecastCategory.PIPELINE],
        )


def forecast(
    opportunities: Iterable[Opportunity],
    *,
    currency: str,
    rates: ExchangeRates,
    on: date,
    period: Period | str = Period.QUARTER,
) -> ForecastReport:
    """Open and won opportunities by close period and forecast category.

    Lost opportunities (and any in an ``omitted`` stage) are left out; a won
    opportunity counts in ``closed`` in the period of its ``close_date``. One
    pass; memory grows with periods × categories. Raises `ValidationError`
    naming the bad argument and `RateMissing` when a currency has no rate.
    """
    length = check_period(period)
    convert = ReportingCurrency(currency, rates, on)
    rank = {category: index for index, category in enumerate(FORECAST_ORDER)}
    groups: dict[tuple[str, ForecastCategory], tuple[int, Money, Money]] = {}
    for _, opp in each(opportunities, "opportunities", Opportunity):
        if opp.status is OpportunityStatus.LOST or opp.forecast_category not in rank:
            continue
        key = (period_label(opp.close_date, length), opp.forecast_category)
        amount = convert(opp.amount)
        count, total, weighted = groups.get(key, (0, convert.zero(), convert.zero()))
        groups[key] = (count + 1, total + amount, weighted + amount * opp.probability)
    rows = (
        ForecastRow(*key, count, total, weighted)
        for key, (count, total, weighted) in groups.items()
    )
    return ForecastReport.of(rows, length, convert)
