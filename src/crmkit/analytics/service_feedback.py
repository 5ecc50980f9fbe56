"""What customers say about service: complaint categories and CSAT.

Both metrics are pure functions over an iterable of `Complaint` or
`SatisfactionResponse` values, read in one pass with memory bounded by the
number of periods (and categories). Their reports (frozen attrs with ``rows``
and totals) go through `crmkit.analytics.report.to_json` and ``to_rows``.

**Periods.** A period is named by its first day
(`crmkit.analytics.periods.period_start`): the Monday of an ISO week, the
first of a month, quarter or year, in the ``zone`` the caller passes (UTC by
default).

**Rounding.** CSAT and the average score have four decimal places, rounded
half-even; over no answers they are ``None``, never an error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal

import attrs

from crmkit.analytics._shared import each, ratio, share
from crmkit.analytics.periods import Period, check_period, check_zone, period_start
from crmkit.kernel.checks import aware, of_type
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.service.case import ServiceCase
from crmkit.service.complaint import Complaint

__all__ = [
    "ComplaintCategoryReport", "ComplaintCategoryRow", "CsatReport", "CsatRow",
    "SatisfactionResponse", "complaint_categories", "csat", "satisfaction_responses",
]  # fmt: skip


# --- complaints ------------------------------------------------------------------------


@attrs.frozen
class ComplaintCategoryRow:
    """Complaints of one category received in one period.

    Attributes:
        period: First day of the period.
        category: The complaint category.
        count: Complaints received.
    """

    period: date
    category: str
    count: int


@attrs.frozen
class ComplaintCategoryReport:
    """Complaints received per category per period.

    Attributes:
        rows: One row per period and category with complaints, by period then category.
        total: Complaints in all.
    """

    rows: tuple[ComplaintCategoryRow, ...]
    total: int


def complaint_categories(
    complaints: Iterable[Complaint],
    period: Period | str = Period.MONTH,
    zone: tzinfo | str = UTC,
) -> ComplaintCategoryReport:
    """Count complaints per category and period of receipt (``created_at``)."""
    length, local = check_period(period), check_zone(zone)
    counts: Counter[tuple[date, str]] = Counter(
        (period_start(c.created_at, length, local), c.category)
        for _, c in each(complaints, "complaints", Complaint)
    )
    rows = tuple(ComplaintCategoryRow(p, cat, n) for (p, cat), n in sorted(counts.items()))
    return ComplaintCategoryReport(rows, sum(counts.values()))


# --- CSAT ------------------------------------------------------------------------------


def _case_id(value: object) -> str:
    return check_id(value, "case_id")


def _score(instance: SatisfactionResponse, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationError("score", "must be an integer from 1 to 5", value)


@attrs.frozen
class SatisfactionResponse:
    """One customer's answer to a satisfaction survey about a case.

    Attributes:
        case_id: The case rated.
        at: When the customer answered.
        score: 1 (very unhappy) to 5 (very happy).
    """

    case_id: str = attrs.field(converter=_case_id)
    at: datetime = attrs.field(validator=aware())
    score: int = attrs.field(validator=_score)


def satisfaction_responses(cases: Iterable[ServiceCase]) -> Iterator[SatisfactionResponse]:
    """The ratings that ``cases`` hold (`ServiceCase.csat`), as input for `csat`."""
    for _, case in each(cases, "cases", ServiceCase):
        if case.csat is not None and case.csat.at is not None:
            yield SatisfactionResponse(case.id, case.csat.at, case.csat.score)


@attrs.frozen
class CsatRow:
    """Satisfaction in one period.

    Attributes:
        period: First day of the period.
        responses: Answers received.
        satisfied: Answers scoring 4 or 5.
        csat: ``satisfied / responses``.
        average_score: Mean score.
    """

    period: date
    responses: int = attrs.field(validator=of_type(int))
    satisfied: int = attrs.field(validator=of_type(int))
    csat: Decimal = attrs.field(validator=of_type(Decimal))
    average_score: Decimal = attrs.field(validator=of_type(Decimal))


@attrs.frozen
class CsatReport:
    """Customer satisfaction per period and overall.

    Attributes:
        rows: One row per period with answers, oldest first.
        responses: Answers in all.
        satisfied: Answers scoring 4 or 5.
        csat: ``satisfied / responses``; None without answers.
        average_score: Mean score; None without answers.
    """

    rows: tuple[CsatRow, ...]
    responses: int
    satisfied: int
    csat: Decimal | None
    average_score: Decimal | None


def csat(
    responses: Iterable[SatisfactionResponse],
    period: Period | str = Period.MONTH,
    zone: tzinfo | str = UTC,
) -> CsatReport:
    """CSAT (share of scores 4–5) and average score per period of the answer."""
    length, local = check_period(period), check_zone(zone)
    groups: dict[date, list[int]] = {}  # period -> [responses, satisfied, score sum]
    for _, response in each(responses, "responses", SatisfactionResponse):
        tally = groups.setdefault(period_start(response.at, length, local), [0, 0, 0])
        tally[0] += 1
        tally[1] += response.score >= 4
        tally[2] += response.score
    rows = []
    for when, (count, happy, total) in sorted(groups.items()):
        rows.append(CsatRow(when, count, happy, share(happy, count), share(total, count)))
    count = sum(r.responses for r in rows)
    happy = sum(r.satisfied for r in rows)
    total = sum(t[2] for t in groups.values())
    return CsatReport(tuple(rows), count, happy, ratio(happy, count), ratio(total, count))
