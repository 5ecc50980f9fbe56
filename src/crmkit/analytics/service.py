"""Service metrics: SLA compliance, response times and backlog age.

Every metric is a pure function over an iterable of `ServiceCase` values and
returns a report (frozen attrs with ``rows`` and totals) that
`crmkit.analytics.report.to_json` and ``to_rows`` accept. The input is read in
one pass; memory grows with the number of groups, except for
`response_times`, whose percentiles need every measured time. Complaint
categories and CSAT are in `crmkit.analytics.service_feedback`.

**Rounding.** Ratios (compliance) and hours have four decimal places, rounded
half-even. A ratio over nothing is ``None``, never an error.

**Periods.** A period is named by its first day
(`crmkit.analytics.periods.period_start`): the Monday of an ISO week, the
first of a month, quarter or year, in the ``zone`` the caller passes (UTC by
default).

**Percentiles** use the nearest-rank method: the p-th percentile of ``n``
sorted values is the value at rank ``ceil(p * n / 100)`` (1-based). The median
is the 50th percentile, so for an even count it is the lower middle value,
always one of the measured times.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Final

import attrs

from crmkit.analytics._shared import each, ratio, share
from crmkit.analytics.periods import Period, check_period, check_zone, period_start
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import require_aware
from crmkit.service.calendar import BusinessCalendar
from crmkit.service.case import Priority, ServiceCase
from crmkit.service.sla import SlaMetric, SlaRun

__all__ = [
    "DEFAULT_BUCKETS", "BacklogReport", "BacklogRow", "ResponseTimeRow", "ResponseTimesReport",
    "SlaComplianceReport", "SlaComplianceRow", "backlog_age", "response_times", "sla_compliance",
]  # fmt: skip

DEFAULT_BUCKETS: Final = (1, 3, 7, 14, 30)
"""Backlog age bucket limits in days: under 1, 1–3, 3–7, 7–14, 14–30 and 30 or more."""

_MICRO: Final = timedelta(microseconds=1)
_PRIORITIES: Final = tuple(Priority)
_METRICS: Final = (SlaMetric.FIRST_RESPONSE, SlaMetric.RESOLUTION)


def _hours(span: timedelta) -> Decimal:
    return share(span // _MICRO, 3_600_000_000)


def _nearest_rank(ordered: list[timedelta], percent: int) -> timedelta:
    rank = -(-percent * len(ordered) // 100)  # ceil without floats
    return ordered[max(rank, 1) - 1]


def _sla_key(
    item: tuple[tuple[date | None, SlaMetric, Priority], list[int]],
) -> tuple[date, int, int]:
    (when, metric, priority), _ = item
    return (date.min if when is None else when, _METRICS.index(metric), _PRIORITIES.index(priority))


# --- SLA compliance ----------------------------------------------------------------------


@attrs.frozen
class SlaComplianceRow:
    """SLA outcomes of one metric and priority (in one period of creation, if grouped).

    Attributes:
        period: First day of the period the cases were created in; None when not grouped.
        metric: The SLA metric (first response or resolution).
        priority: The cases' priority.
        met: Runs met before their deadline.
        breached: Runs that breached (met late, or overdue).
        running: Runs neither met nor breached yet (paused ones included).
        compliance: ``met / (met + breached)``; None when nothing is decided.
    """

    period: date | None
    metric: SlaMetric
    priority: Priority
    met: int
    breached: int
    running: int
    compliance: Decimal | None


@attrs.frozen
class SlaComplianceReport:
    """SLA compliance per metric and priority, with totals over all rows.

    Attributes:
        rows: One row per period, metric and priority that has runs.
        met: Runs met in time, all rows.
        breached: Runs breached, all rows.
        running: Runs still running, all rows.
        compliance: ``met / (met + breached)`` over all rows; None when nothing is decided.
        without_sla: Cases that hold no SLA clock (left out of the rows).
    """

    rows: tuple[SlaComplianceRow, ...]
    met: int
    breached: int
    running: int
    compliance: Decimal | None
    without_sla: int


def _outcome(run: SlaRun, now: datetime | None) -> int:
    """0 met, 1 breached, 2 running: the rule of `SlaClock.status`, without a calendar."""
    stop = run.paused_since or run.met_at
    if run.breached_at is not None or (stop is not None and stop >= run.deadline):
        return 1
    if run.met_at is not None:
        return 0
    if stop is None and now is not None and now >= run.deadline:
        return 1
    return 2


def sla_compliance(
    cases: Iterable[ServiceCase],
    period: Period | str | None = None,
    zone: tzinfo | str = UTC,
    *,
    now: datetime | None = None,
) -> SlaComplianceReport:
    """Met, breached and running SLA runs per metric and priority, from each case's clock.

    A run is *breached* when its clock saw a breach or when it was met (or
    paused) at or after its deadline; *met* when met before the deadline;
    otherwise *running*. With ``now``, a running run whose deadline has passed
    counts as breached, as the scheduler's next tick would record. Only the
    first-response and resolution targets are counted (next-response runs
    restart with every reply). ``period`` groups by the case's creation.
    """
    length = None if period is None else check_period(period)
    local = check_zone(zone)
    if now is not None:
        require_aware(now, "now")
    counts: dict[tuple[date | None, SlaMetric, Priority], list[int]] = {}
    without = 0
    for _, case in each(cases, "cases", ServiceCase):
        clock = case.sla
        if clock is None:
            without += 1
            continue
        when = None if length is None else period_start(case.created_at, length, local)
        for run in clock.runs:
            if run.metric in _METRICS:
                tally = counts.setdefault((when, run.metric, case.priority), [0, 0, 0])
                tally[_outcome(run, now)] += 1
    rows = tuple(
        SlaComplianceRow(when, metric, priority, met, late, running, ratio(met, met + late))
        for (when, metric, priority), (met, late, running) in sorted(counts.items(), key=_sla_key)
    )
    met = sum(r.met for r in rows)
    late = sum(r.breached for r in rows)
    running = sum(r.running for r in rows)
    return SlaComplianceReport(rows, met, late, running, ratio(met, met + late), without)


# --- response times ----------------------------------------------------------------------


@attrs.frozen
class ResponseTimeRow:
    """Business-time statistics of one metric for one priority.

    Attributes:
        metric: First response or resolution.
        priority: The cases' priority.
        count: Cases measured.
        median_hours: Nearest-rank median, in business hours.
        p90_hours: Nearest-rank 90th percentile, in business hours.
    """

    metric: SlaMetric
    priority: Priority
    count: int
    median_hours: Decimal
    p90_hours: Decimal


@attrs.frozen
class ResponseTimesReport:
    """First-response and resolution times in business hours, per priority and overall.

    Attributes:
        rows: One row per metric and priority with at least one measured case.
        first_response_count: Cases with a first response.
        first_response_median_hours: Median over all of them; None without any.
        first_response_p90_hours: 90th percentile over all of them; None without any.
        resolution_count: Resolved cases.
        resolution_median_hours: Median over all of them; None without any.
        resolution_p90_hours: 90th percentile over all of them; None without any.
    """

    rows: tuple[ResponseTimeRow, ...]
    first_response_count: int
    first_response_median_hours: Decimal | None
    first_response_p90_hours: Decimal | None
    resolution_count: int
    resolution_median_hours: Decimal | None
    resolution_p90_hours: Decimal | None


def _stats(spans: list[timedelta]) -> tuple[int, Decimal | None, Decimal | None]:
    if not spans:
        return 0, None, None
    spans.sort()
    return len(spans), _hours(_nearest_rank(spans, 50)), _hours(_nearest_rank(spans, 90))


def response_times(cases: Iterable[ServiceCase], calendar: BusinessCalendar) -> ResponseTimesReport:
    """Median and 90th percentile of first-response and resolution times, in business hours.

    Each time is ``calendar.elapsed(created_at, end, pauses)``: business time
    from opening to the first response (or to the latest resolution), less the
    case's waits on the customer, as an SLA clock counts it. Cases without a
    first response (or not resolved now) are left out of that metric. Keeps
    every measured time in memory, since percentiles need them all.
    """
    if not isinstance(calendar, BusinessCalendar):
        raise ValidationError("calendar", "must be a BusinessCalendar", calendar)
    spans: dict[tuple[SlaMetric, Priority], list[timedelta]] = {}
    for _, case in each(cases, "cases", ServiceCase):
        pauses = case.pause_intervals
        for metric, end in (
            (SlaMetric.FIRST_RESPONSE, case.first_responded_at),
            (SlaMetric.RESOLUTION, case.resolved_at),
        ):
            if end is not None:
                took = calendar.elapsed(case.created_at, end, pauses)
                spans.setdefault((metric, case.priority), []).append(took)
    rows = []
    for metric in _METRICS:
        for priority in _PRIORITIES:
            count, median, p90 = _stats(spans.get((metric, priority), []))
            if median is not None and p90 is not None:
                rows.append(ResponseTimeRow(metric, priority, count, median, p90))
    first = _stats([s for (m, _), v in spans.items() if m is _METRICS[0] for s in v])
    resolution = _stats([s for (m, _), v in spans.items() if m is _METRICS[1] for s in v])
    return ResponseTimesReport(tuple(rows), *first, *resolution)


# --- backlog ----------------------------------------------------------------------------


@attrs.frozen
class BacklogRow:
    """Open cases of one priority in one age bucket.

    Attributes:
        bucket: The bucket's label, such as ``1-3d`` or ``30d+``.
        min_days: The bucket's lower limit in days (included).
        max_days: Its upper limit in days (excluded); None for the last bucket.
        priority: The cases' priority.
        count: Open cases of that age and priority.
    """

    bucket: str
    min_days: int
    max_days: int | None
    priority: Priority
    count: int


@attrs.frozen
class BacklogReport:
    """Open cases by age (time since opening) and priority.

    Attributes:
        rows: Every bucket × priority, zeros included, youngest bucket first.
        open: Open cases in all.
        now: The instant the ages were measured at.
    """

    rows: tuple[BacklogRow, ...]
    open: int
    now: datetime


def _buckets(value: object) -> tuple[int, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValidationError("buckets", "must be a tuple of day counts", value)
    limits = tuple(value)
    if (
        not limits
        or any(isinstance(b, bool) or not isinstance(b, int) or b <= 0 for b in limits)
        or list(limits) != sorted(set(limits))
    ):
        raise ValidationError("buckets", "must be positive whole days, strictly rising", value)
    return limits


def backlog_age(
    cases: Iterable[ServiceCase],
    now: datetime,
    buckets: Iterable[int] = DEFAULT_BUCKETS,
) -> BacklogReport:
    """Open cases (new, assigned, in progress, waiting) by age bucket and priority.

    Age is real time since ``created_at`` (not business time). With limits
    ``(1, 3)`` the buckets are ``[0, 1)``, ``[1, 3)`` and ``[3, ∞)`` days.
    """
    require_aware(now, "now")
    limits = _buckets(buckets)
    spans = [timedelta(days=b) for b in limits]
    counts: Counter[tuple[int, Priority]] = Counter()
    for _, case in each(cases, "cases", ServiceCase):
        if not case.is_open:
            continue
        age = now - case.created_at
        if age < timedelta(0):
            raise ValidationError("now", "must not be before an open case's created_at", now)
        index = next((i for i, span in enumerate(spans) if age < span), len(spans))
        counts[index, case.priority] += 1
    lows = (0, *limits)
    highs: tuple[int | None, ...] = (*limits, None)
    rows = tuple(
        BacklogRow(_label(low, high), low, high, priority, counts[index, priority])
        for index, (low, high) in enumerate(zip(lows, highs, strict=True))
        for priority in _PRIORITIES
    )
    return BacklogReport(rows, sum(counts.values()), now)


def _label(low: int, high: int | None) -> str:
    return f"{low}d+" if high is None else f"{low}-{high}d"
