"""Sales performance over closed deals, and stage-to-stage conversion.

* `win_rate`: won / (won + lost), overall or per owner.
* `deal_size`: won amounts and their average, in one reporting currency.
* `sales_cycle`: days from ``created_at`` to the close (the moment the
  opportunity entered its won or lost stage), mean and median.
* `stage_conversion`: for each stage of a pipeline, how many opportunities
  entered it, how many went further, and how long a visit lasted.

Ratios are rounded half-even to 4 places and days to 2 (see
`crmkit.analytics.sales_common`); over nothing they are None.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from statistics import median

import attrs

from crmkit.analytics._shared import each, ratio
from crmkit.analytics.currency import ReportingCurrency
from crmkit.analytics.sales_common import days, mean_median, round_days
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.ports.rates import ExchangeRates
from crmkit.sales.opportunity import Opportunity, OpportunityStatus
from crmkit.sales.pipeline import Pipeline, StageKind

_CLOSED = (OpportunityStatus.WON, OpportunityStatus.LOST)


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, "must be True or False", value)
    return value


def _owner_sort(owner: str | None) -> tuple[bool, str]:
    return (owner is None, owner or "")


@attrs.frozen
class WinRateRow:
    """Closed deals of one owner (or of everyone).

    Attributes:
        owner: The owner's id when grouped by owner (None: unowned, or not grouped).
        won: How many were won.
        lost: How many were lost.
        win_rate: ``won / (won + lost)``, 4 places.
    """

    owner: str | None
    won: int
    lost: int
    win_rate: Decimal | None


@attrs.frozen
class WinRateReport:
    """Win rate over closed opportunities.

    Attributes:
        rows: One row per owner (by owner id, unowned last), or one row overall.
        by_owner: Whether rows are per owner.
        won: How many were won in all.
        lost: How many were lost in all.
        win_rate: The overall win rate, or None without closed deals.
    """

    rows: tuple[WinRateRow, ...]
    by_owner: bool
    won: int
    lost: int
    win_rate: Decimal | None


def win_rate(opportunities: Iterable[Opportunity], *, by_owner: bool = False) -> WinRateReport:
    """Won / (won + lost) over closed opportunities; open ones are left out. One pass."""
    per_owner = _flag(by_owner, "by_owner")
    counts: dict[str | None, tuple[int, int]] = {}
    for _, opp in each(opportunities, "opportunities", Opportunity):
        if opp.status not in _CLOSED:
            continue
        key = opp.owner_id if per_owner else None
        won, lost = counts.get(key, (0, 0))
        is_won = opp.status is OpportunityStatus.WON
        counts[key] = (won + is_won, lost + (not is_won))
    rows = tuple(
        WinRateRow(owner, won, lost, ratio(won, won + lost))
        for owner, (won, lost) in sorted(counts.items(), key=lambda c: _owner_sort(c[0]))
    )
    won = sum(r.won for r in rows)
    lost = sum(r.lost for r in rows)
    return WinRateReport(rows, per_owner, won, lost, ratio(won, won + lost))


@attrs.frozen
class DealSizeRow:
    """Won deals of one owner (or of everyone).

    Attributes:
        owner: The owner's id when grouped by owner (None: unowned, or not grouped).
        won: How many deals were won.
        amount: Their converted amounts, summed.
        average: ``amount / won``, rounded half-even to the minor unit.
    """

    owner: str | None
    won: int
    amount: Money
    average: Money


@attrs.frozen
class DealSizeReport:
    """Average won deal size in one reporting currency.

    Attributes:
        rows: One row per owner (by owner id, unowned last), or one row overall.
        by_owner: Whether rows are per owner.
        currency: The reporting currency.
        on: The day whose exchange rates were used.
        won: How many deals were won in all.
        amount: Their amounts, summed.
        average: The overall average, or None without won deals.
    """

    rows: tuple[DealSizeRow, ...]
    by_owner: bool
    currency: str
    on: date
    won: int
    amount: Money
    average: Money | None


def _average(amount: Money, count: int) -> Money:
    return Money.rounded(amount.amount / count, amount.currency)


def deal_size(
    opportunities: Iterable[Opportunity],
    *,
    currency: str,
    rates: ExchangeRates,
    on: date,
    by_owner: bool = False,
) -> DealSizeReport:
    """Won amounts and their average, each amount converted (and rounded) first. One pass."""
    per_owner = _flag(by_owner, "by_owner")
    convert = ReportingCurrency(currency, rates, on)
    sums: dict[str | None, tuple[int, Money]] = {}
    for _, opp in each(opportunities, "opportunities", Opportunity):
        if opp.status is not OpportunityStatus.WON:
            continue
        key = opp.owner_id if per_owner else None
        count, amount = sums.get(key, (0, convert.zero()))
        sums[key] = (count + 1, amount + convert(opp.amount))
    rows = tuple(
        DealSizeRow(owner, count, amount, _average(amount, count))
        for owner, (count, amount) in sorted(sums.items(), key=lambda s: _owner_sort(s[0]))
    )
    won = sum(r.won for r in rows)
    amount = sum((r.amount for r in rows), convert.zero())
    average = _average(amount, won) if won else None
    return DealSizeReport(rows, per_owner, convert.currency, convert.on, won, amount, average)


def _stats(values: list[Decimal]) -> tuple[Decimal, Decimal]:
    """Mean and median of a non-empty list of day counts, 2 places."""
    return round_days(sum(values, Decimal(0)) / len(values)), round_days(median(values))


@attrs.frozen
class SalesCycleRow:
    """Sales-cycle length of one owner's closed deals (or everyone's).

    Attributes:
        owner: The owner's id when grouped by owner (None: unowned, or not grouped).
        count: How many deals were measured.
        mean_days: Mean days from opening to close, 2 places.
        median_days: Median days from opening to close, 2 places.
    """

    owner: str | None
    count: int
    mean_days: Decimal
    median_days: Decimal


@attrs.frozen
class SalesCycleReport:
    """Days from opening to close.

    Attributes:
        rows: One row per owner (by owner id, unowned last), or one row overall.
        by_owner: Whether rows are per owner.
        won_only: Whether only won deals were measured (else won and lost).
        count: How many deals were measured in all.
        mean_days: Overall mean, or None without deals.
        median_days: Overall median, or None without deals.
    """

    rows: tuple[SalesCycleRow, ...]
    by_owner: bool
    won_only: bool
    count: int
    mean_days: Decimal | None
    median_days: Decimal | None


def sales_cycle(
    opportunities: Iterable[Opportunity], *, by_owner: bool = False, won_only: bool = False
) -> SalesCycleReport:
    """Days from ``created_at`` to the close of closed (or only won) opportunities.

    The close is when the opportunity entered its current won or lost stage
    (a reopened and closed-again deal counts up to its last close). Medians
    need every value: memory grows with the number of closed deals.
    """
    per_owner = _flag(by_owner, "by_owner")
    only_won = _flag(won_only, "won_only")
    wanted = (OpportunityStatus.WON,) if only_won else _CLOSED
    spans: dict[str | None, list[Decimal]] = {}
    everything: list[Decimal] = []
    for _, opp in each(opportunities, "opportunities", Opportunity):
        if opp.status not in wanted:
            continue
        span = days(opp.stage_history[-1].entered_at - opp.created_at)
        spans.setdefault(opp.owner_id if per_owner else None, []).append(span)
        everything.append(span)
    rows: list[SalesCycleRow] = []
    for owner, values in sorted(spans.items(), key=lambda s: _owner_sort(s[0])):
        rows.append(SalesCycleRow(owner, len(values), *_stats(values)))
    mean, middle = mean_median(everything)
    return SalesCycleReport(tuple(rows), per_owner, only_won, len(everything), mean, middle)


@attrs.frozen
class StageRow:
    """How opportunities fared in one stage.

    Attributes:
        stage: The stage key.
        kind: Open, won or lost.
        entered: How many opportunities entered it (each counted once).
        advanced: How many of those later entered a stage further along that is
            open or won (always 0 for won and lost stages).
        conversion: ``advanced / entered``, 4 places; None for won and lost stages.
        visits: How many completed visits (ones the opportunity left) were timed.
        mean_days: Mean days of a completed visit, 2 places.
        median_days: Median days of a completed visit, 2 places.
    """

    stage: str
    kind: StageKind
    entered: int
    advanced: int
    conversion: Decimal | None
    visits: int
    mean_days: Decimal | None
    median_days: Decimal | None


@attrs.frozen
class StageConversionReport:
    """Stage-to-stage conversion through one pipeline.

    Attributes:
        rows: One row per stage of the pipeline, in pipeline order.
        pipeline_id: The pipeline.
        skipped: Opportunities of other pipelines, left out.
    """

    rows: tuple[StageRow, ...]
    pipeline_id: str
    skipped: int


def _advanced(opp: Opportunity, rank: dict[str, int], kinds: dict[str, StageKind]) -> set[str]:
    """The stages ``opp`` entered and later went beyond (to a further open or won stage)."""
    out: set[str] = set()
    furthest = -1
    for visit in reversed(opp.stage_history):
        position = rank.get(visit.stage)
        if position is None:  # a stage the pipeline no longer has
            continue
        if position < furthest:
            out.add(visit.stage)
        if kinds[visit.stage] is not StageKind.LOST:
            furthest = max(furthest, position)
    return out


def stage_conversion(
    opportunities: Iterable[Opportunity], pipeline: Pipeline
) -> StageConversionReport:
    """For each stage of ``pipeline``: entered, advanced, conversion and time per visit.

    Only completed visits are timed, so the report needs no clock; stages a
    pipeline no longer has are ignored. Medians need every visit's length:
    memory grows with the number of completed visits.
    """
    if not isinstance(pipeline, Pipeline):
        raise ValidationError("pipeline", "must be a Pipeline", pipeline)
    rank = {stage.key: index for index, stage in enumerate(pipeline.stages)}
    kinds = {stage.key: stage.kind for stage in pipeline.stages}
    entered = dict.fromkeys(rank, 0)
    advanced = dict.fromkeys(rank, 0)
    spans: dict[str, list[Decimal]] = {key: [] for key in rank}
    skipped = 0
    for _, opp in each(opportunities, "opportunities", Opportunity):
        if opp.pipeline_id != pipeline.id:
            skipped += 1
            continue
        for key in {visit.stage for visit in opp.stage_history if visit.stage in rank}:
            entered[key] += 1
        for key in _advanced(opp, rank, kinds):
            advanced[key] += 1
        for visit in opp.stage_history:
            if visit.left_at is not None and visit.stage in rank:
                spans[visit.stage].append(days(visit.left_at - visit.entered_at))
    rows = []
    for stage in pipeline.stages:
        mean, middle = mean_median(spans[stage.key])
        conversion = ratio(advanced[stage.key], entered[stage.key]) if stage.is_open else None
        rows.append(
            StageRow(
                stage.key,
                stage.kind,
                entered[stage.key],
                advanced[stage.key],
                conversion,
                len(spans[stage.key]),
                mean,
                middle,
            )
        )
    return StageConversionReport(tuple(rows), pipeline.id, skipped)
