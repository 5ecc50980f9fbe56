"""Service metrics: hand-computed SLA compliance, business-hour response times, backlog
age buckets, complaint categories and CSAT; empty and bad input; JSON of every report."""

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from crmkit.analytics.periods import Period, period_start
from crmkit.analytics.report import to_json, to_rows
from crmkit.analytics.service import (
    BacklogReport,
    ResponseTimesReport,
    SlaComplianceReport,
    backlog_age,
    response_times,
    sla_compliance,
)
from crmkit.analytics.service_feedback import (
    ComplaintCategoryReport,
    CsatReport,
    SatisfactionResponse,
    complaint_categories,
    csat,
    satisfaction_responses,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.service.calendar import ALWAYS, BusinessCalendar, Shift, WeeklyHours
from crmkit.service.case import Csat, Priority, ServiceCase
from crmkit.service.complaint import Complaint
from crmkit.service.sla import SlaClock
from crmkit.service.sla_policy import SlaMetric, SlaPolicy, SlaTarget

MON = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
OFFICE = BusinessCalendar("office", "UTC", WeeklyHours.weekdays(Shift(time(9), time(17))))
POLICY = SlaPolicy(
    "std",
    "Standard",
    (
        SlaTarget(SlaMetric.FIRST_RESPONSE, timedelta(hours=1)),
        SlaTarget(SlaMetric.RESOLUTION, timedelta(hours=8)),
    ),
    "always",
)
FR, RES = SlaMetric.FIRST_RESPONSE, SlaMetric.RESOLUTION
D = Decimal


def st(at: datetime) -> Stamp:
    return Stamp(at, "u-1")


def h(hours: float, base: datetime = MON) -> datetime:
    return base + timedelta(hours=hours)


def opened(case_id: str, at: datetime, priority: str = "high") -> ServiceCase:
    return ServiceCase.open(
        case_id, case_id.upper(), st(at), subject="s", description="",
        type="incident", priority=priority, severity="major", contact_id="c-1",
    )[0]  # fmt: skip


def started(case_id: str, at: datetime, priority: str = "high") -> ServiceCase:
    case = opened(case_id, at, priority)
    case = case.assign("u-2", st(at))[0]
    return case.start(st(at))[0]


# --- SLA compliance ------------------------------------------------------------------------


def sla_cases() -> list[ServiceCase]:
    """c1 high: both met; c2 high: both breached; c3 low: response met, resolution running;
    c4 normal: no SLA clock; c5 low (April): both running."""
    c1 = started("c1", MON).respond(st(h(0.5)))[0]
    clock = SlaClock.start(POLICY, ALWAYS, MON).met(FR, h(0.5))
    c1 = c1.resolve("done", st(h(5)))[0]
    c1 = c1.track_sla(clock.met(RES, h(5)), st(h(5)))[0]

    c2 = started("c2", MON).respond(st(h(2)))[0]
    # met at 11:00, after its 10:00 deadline: breached though never evaluated in time
    clock = SlaClock.start(POLICY, ALWAYS, MON).met(FR, h(2))
    clock, facts = clock.evaluate(h(9), ALWAYS)  # resolution deadline 17:00 passed
    c2 = c2.track_sla(clock, st(h(9)), facts)[0]

    c3 = started("c3", MON, "low").respond(st(h(1 / 6)))[0]
    c3 = c3.track_sla(SlaClock.start(POLICY, ALWAYS, MON).met(FR, h(1 / 6)), st(h(1 / 6)))[0]

    c4 = started("c4", MON, "normal")

    april = datetime(2026, 4, 1, 9, tzinfo=UTC)
    c5 = opened("c5", april, "low").track_sla(SlaClock.start(POLICY, ALWAYS, april), st(april))[0]
    return [c1, c2, c3, c4, c5]


def test_sla_compliance_by_metric_and_priority() -> None:
    report = sla_compliance(sla_cases())
    found = [
        (r.metric, r.priority, r.met, r.breached, r.running, r.compliance) for r in report.rows
    ]
    assert found == [
        (FR, Priority.LOW, 1, 0, 1, D("1")),  # c3 met, c5 running: 1 / 1
        (FR, Priority.HIGH, 1, 1, 0, D("0.5")),  # c1 met, c2 late: 1 / 2
        (RES, Priority.LOW, 0, 0, 2, None),  # c3 and c5 running: nothing decided
        (RES, Priority.HIGH, 1, 1, 0, D("0.5")),  # c1 met, c2 breached: 1 / 2
    ]  # fmt: skip
    assert all(r.period is None for r in report.rows)
    # totals: met 3, breached 2, running 3; compliance 3 / (3 + 2) = 0.6
    assert (report.met, report.breached, report.running) == (3, 2, 3)
    assert report.compliance == D("0.6000")
    assert report.without_sla == 1  # c4


def test_sla_compliance_by_month_with_now() -> None:
    now = datetime(2026, 4, 1, 12, tzinfo=UTC)
    report = sla_compliance(iter(sla_cases()), "month", now=now)
    found = [(r.period, r.metric, r.priority, r.met, r.breached, r.running) for r in report.rows]
    assert found == [
        (date(2026, 3, 1), FR, Priority.LOW, 1, 0, 0),
        (date(2026, 3, 1), FR, Priority.HIGH, 1, 1, 0),
        (date(2026, 3, 1), RES, Priority.LOW, 0, 1, 0),  # c3: deadline 17:00 Mar 2 < now
        (date(2026, 3, 1), RES, Priority.HIGH, 1, 1, 0),
        (date(2026, 4, 1), FR, Priority.LOW, 0, 1, 0),  # c5: deadline 10:00 < now 12:00
        (date(2026, 4, 1), RES, Priority.LOW, 0, 0, 1),  # c5: deadline 17:00 > now
    ]  # fmt: skip
    # 3 met, 4 breached: 3 / 7 = 0.428571... -> 0.4286
    assert report.compliance == D("0.4286")
    assert report.rows[4].compliance == D("0")


def test_sla_compliance_empty_and_bad_input() -> None:
    empty = sla_compliance([])
    assert (empty.rows, empty.met, empty.compliance, empty.without_sla) == ((), 0, None, 0)
    for bad, field in (
        (lambda: sla_compliance(None), "cases"),  # type: ignore[arg-type]
        (lambda: sla_compliance(["c1"]), "cases[0]"),  # type: ignore[list-item]
        (lambda: sla_compliance([], "fortnight"), "period"),
        (lambda: sla_compliance([], "month", "Mars/Olympus"), "zone"),
        (lambda: sla_compliance([], now=datetime(2026, 3, 2)), "now"),
    ):
        with pytest.raises(ValidationError) as info:
            bad()
        assert info.value.field == field


# --- response times ----------------------------------------------------------------------


def timed_cases() -> list[ServiceCase]:
    """On the 9-17 Mon-Fri calendar (Mon 2 March 2026):

    A high: Mon 16:00 -> response Tue 10:00 = 1h (Mon) + 1h (Tue) = 2h;
            waits Tue 11:00-15:00 (4h), resolved Wed 12:00 = 1 + 8 + 3 - 4 = 8h.
    B high: Fri 15:00 -> response Mon 09:30 = 2h + 0.5h = 2.5h; not resolved.
    C low:  Mon 09:00 -> response 09:15 = 0.25h; resolved 13:00 = 4h.
    D high: Sat 10:00 -> response Mon 11:00 = 2h; resolved Mon 15:30 = 6.5h.
    E normal: opened, never answered (left out).
    """
    a = started("a", h(7)).respond(st(h(25)))[0]
    a = a.wait_on_customer(st(h(26)))[0].customer_replied(st(h(30)))[0]
    a = a.resolve("done", st(h(51)))[0]
    b = started("b", h(102)).respond(st(h(168.5)))[0]
    c = started("c", MON, "low").respond(st(h(0.25)))[0].resolve("done", st(h(4)))[0]
    d = started("d", h(121)).respond(st(h(170)))[0].resolve("done", st(h(174.5)))[0]
    return [a, b, c, d, started("e", MON, "normal")]


def test_response_times_in_business_hours() -> None:
    report = response_times(timed_cases(), OFFICE)
    assert [(r.metric, r.priority, r.count, r.median_hours, r.p90_hours) for r in report.rows] == [
        # low: [0.25]
        (FR, Priority.LOW, 1, D("0.25"), D("0.25")),
        # high sorted [2, 2, 2.5]: median rank ceil(1.5) = 2 -> 2; p90 rank ceil(2.7) = 3 -> 2.5
        (FR, Priority.HIGH, 3, D("2"), D("2.5")),
        (RES, Priority.LOW, 1, D("4"), D("4")),
        # high sorted [6.5, 8]: median rank ceil(1.0) = 1 -> 6.5; p90 rank ceil(1.8) = 2 -> 8
        (RES, Priority.HIGH, 2, D("6.5"), D("8")),
    ]  # fmt: skip
    # all first responses [0.25, 2, 2, 2.5]: median rank 2 -> 2; p90 rank ceil(3.6) = 4 -> 2.5
    assert report.first_response_count == 4
    assert (report.first_response_median_hours, report.first_response_p90_hours) == (D(2), D("2.5"))
    # all resolutions [4, 6.5, 8]: median rank 2 -> 6.5; p90 rank ceil(2.7) = 3 -> 8
    assert report.resolution_count == 3
    assert (report.resolution_median_hours, report.resolution_p90_hours) == (D("6.5"), D(8))
    assert str(report.rows[0].median_hours) == "0.2500"  # four places


def test_response_times_round_hours_half_even() -> None:
    # 20 minutes = 0.33333... h -> 0.3333
    case = started("x", MON).respond(st(h(1 / 3)))[0]
    assert response_times([case], OFFICE).first_response_median_hours == D("0.3333")


def test_response_times_empty_and_bad_input() -> None:
    empty = response_times([], OFFICE)
    assert empty.rows == ()
    assert (empty.first_response_count, empty.first_response_median_hours) == (0, None)
    assert (empty.resolution_count, empty.resolution_p90_hours) == (0, None)
    with pytest.raises(ValidationError) as info:
        response_times([], "office")  # type: ignore[arg-type]
    assert info.value.field == "calendar"
    with pytest.raises(ValidationError) as info:
        response_times([opened("a", MON), None], OFFICE)  # type: ignore[list-item]
    assert info.value.field == "cases[1]"


# --- backlog --------------------------------------------------------------------------------

NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)


def test_backlog_age_buckets_and_priorities() -> None:
    cases = [
        opened("b1", NOW - timedelta(hours=2)),  # high, age 2h -> 0-1d
        opened("b2", NOW - timedelta(days=1)),  # high, exactly 1 day -> 1-3d (lower limit included)
        started("b3", NOW - timedelta(days=3), "normal").wait_on_customer(st(NOW))[0],  # 3-7d
        opened("b4", NOW - timedelta(days=10), "low"),  # 7-14d
        opened("b5", NOW - timedelta(days=45), "urgent"),  # 30d+
        started("b6", NOW - timedelta(days=5)).resolve("done", st(NOW))[0],  # resolved: left out
    ]
    report = backlog_age(cases, NOW)
    assert report.open == 5
    assert report.now == NOW
    assert len(report.rows) == 6 * 4  # every bucket x priority, zeros included
    found = {(r.bucket, r.priority): r.count for r in report.rows if r.count}
    assert found == {
        ("0-1d", Priority.HIGH): 1,
        ("1-3d", Priority.HIGH): 1,
        ("3-7d", Priority.NORMAL): 1,
        ("7-14d", Priority.LOW): 1,
        ("30d+", Priority.URGENT): 1,
    }
    assert [(r.bucket, r.min_days, r.max_days) for r in report.rows[::4]] == [
        ("0-1d", 0, 1), ("1-3d", 1, 3), ("3-7d", 3, 7), ("7-14d", 7, 14),
        ("14-30d", 14, 30), ("30d+", 30, None),
    ]  # fmt: skip
    custom = backlog_age(cases, NOW, buckets=[7])
    assert {(r.bucket, r.priority): r.count for r in custom.rows if r.count} == {
        ("0-7d", Priority.HIGH): 2,
        ("0-7d", Priority.NORMAL): 1,
        ("7d+", Priority.LOW): 1,
        ("7d+", Priority.URGENT): 1,
    }


def test_backlog_age_empty_and_bad_input() -> None:
    empty = backlog_age([], NOW)
    assert empty.open == 0
    assert len(empty.rows) == 24
    assert all(r.count == 0 for r in empty.rows)
    for buckets in ((3, 1), (), (0, 2), (1, 1), (1.5,), "7", (True,)):
        with pytest.raises(ValidationError) as info:
            backlog_age([], NOW, buckets)  # type: ignore[arg-type]
        assert info.value.field == "buckets"
    with pytest.raises(ValidationError) as info:
        backlog_age([], datetime(2026, 3, 31))
    assert info.value.field == "now"
    with pytest.raises(ValidationError) as info:
        backlog_age([opened("late", NOW + timedelta(hours=1))], NOW)
    assert info.value.field == "now"


# --- complaints --------------------------------------------------------------------------


def complaint(cid: str, at: datetime, category: str) -> Complaint:
    return Complaint.receive(
        cid, st(at), channel="email", subject="s", description="d",
        category=category, severity="major", contact_id="c-1",
    )[0]  # fmt: skip


def complaints() -> list[Complaint]:
    return [
        complaint("k1", datetime(2026, 1, 15, 10, tzinfo=UTC), "delivery"),
        complaint("k2", datetime(2026, 2, 10, 10, tzinfo=UTC), "billing"),
        # 23:30 UTC on 31 March is 01:30 on 1 April in Berlin (CEST, UTC+2)
        complaint("k3", datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "delivery"),
        complaint("k4", datetime(2026, 3, 1, 10, tzinfo=UTC), "delivery"),
    ]


def test_complaint_categories_per_month_and_quarter() -> None:
    monthly = complaint_categories(complaints())
    assert [(r.period, r.category, r.count) for r in monthly.rows] == [
        (date(2026, 1, 1), "delivery", 1),
        (date(2026, 2, 1), "billing", 1),
        (date(2026, 3, 1), "delivery", 2),  # k3 and k4, in UTC
    ]
    assert monthly.total == 4
    berlin = complaint_categories(complaints(), Period.QUARTER, "Europe/Berlin")
    assert [(r.period, r.category, r.count) for r in berlin.rows] == [
        (date(2026, 1, 1), "billing", 1),
        (date(2026, 1, 1), "delivery", 2),  # k1, k4
        (date(2026, 4, 1), "delivery", 1),  # k3: already Q2 in Berlin
    ]


def test_complaint_categories_empty_and_bad_input() -> None:
    assert complaint_categories([]) == ComplaintCategoryReport((), 0)
    with pytest.raises(ValidationError) as info:
        complaint_categories([complaints()[0], "k2"])  # type: ignore[list-item]
    assert info.value.field == "complaints[1]"
    with pytest.raises(ValidationError) as info:
        complaint_categories([], zone=5)  # type: ignore[arg-type]
    assert info.value.field == "zone"


# --- CSAT ----------------------------------------------------------------------------------


def answer(day: int, score: int, month: int = 3) -> SatisfactionResponse:
    return SatisfactionResponse("c-1", datetime(2026, month, day, 12, tzinfo=UTC), score)


def test_csat_per_month() -> None:
    report = csat([answer(2, 5), answer(9, 4), answer(20, 2), answer(1, 3, 4), answer(2, 5, 4)])
    assert [(r.period, r.responses, r.satisfied, r.csat, r.average_score) for r in report.rows] == [
        # March: 5, 4, 2 -> 2 / 3 = 0.6667 satisfied; (5 + 4 + 2) / 3 = 3.6667
        (date(2026, 3, 1), 3, 2, D("0.6667"), D("3.6667")),
        # April: 3, 5 -> 1 / 2 = 0.5; 8 / 2 = 4
        (date(2026, 4, 1), 2, 1, D("0.5"), D("4")),
    ]  # fmt: skip
    # overall: 3 of 5 satisfied = 0.6; 19 / 5 = 3.8
    assert (report.responses, report.satisfied, report.csat, report.average_score) == (
        5, 3, D("0.6"), D("3.8"),
    )  # fmt: skip
    weekly = csat([answer(2, 5), answer(5, 1)], "week")  # Mon 2 and Thu 5 March: one week
    assert [(r.period, r.responses, r.csat) for r in weekly.rows] == [
        (date(2026, 3, 2), 2, D("0.5"))
    ]


def test_csat_from_rated_cases() -> None:
    rated = started("r", MON).resolve("done", st(h(1)))[0].rate(Csat(4), st(h(2)))[0]
    responses = list(satisfaction_responses([rated, started("u", MON)]))
    assert responses == [SatisfactionResponse("r", h(2), 4)]
    assert csat(responses).csat == D(1)


def test_csat_empty_and_bad_input() -> None:
    assert csat([]) == CsatReport((), 0, 0, None, None)
    for make, field in (
        (lambda: SatisfactionResponse("c-1", MON, 6), "score"),
        (lambda: SatisfactionResponse("c-1", MON, True), "score"),
        (lambda: SatisfactionResponse("c-1", datetime(2026, 3, 2), 5), "at"),
        (lambda: SatisfactionResponse("", MON, 5), "case_id"),
        (lambda: csat([answer(2, 5), 5]), "responses[1]"),  # type: ignore[list-item]
        (lambda: csat([], "day"), "period"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValidationError) as info:
            make()
        assert info.value.field == field


def test_period_start() -> None:
    thursday = datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert period_start(thursday, "week") == date(2026, 3, 2)
    assert period_start(thursday, Period.QUARTER) == date(2026, 1, 1)
    assert period_start(thursday, "year") == date(2026, 1, 1)
    with pytest.raises(ValidationError) as info:
        period_start(datetime(2026, 3, 5), "week")
    assert info.value.field == "at"


# --- JSON --------------------------------------------------------------------------------


def test_every_report_serialises() -> None:
    sla = sla_compliance(sla_cases(), "month")
    assert isinstance(sla, SlaComplianceReport)
    data = json.loads(to_json(sla))
    assert data["rows"][0] == {
        "period": "2026-03-01", "metric": "first_response", "priority": "low",
        "met": 1, "breached": 0, "running": 0, "compliance": "1.0000",
    }  # fmt: skip
    assert data["compliance"] == "0.6000"
    times = response_times(timed_cases(), OFFICE)
    assert isinstance(times, ResponseTimesReport)
    assert json.loads(to_json(times))["resolution_median_hours"] == "6.5000"
    backlog = backlog_age([opened("b1", NOW)], NOW)
    assert isinstance(backlog, BacklogReport)
    data = json.loads(to_json(backlog))
    assert data["rows"][-1] == {
        "bucket": "30d+", "min_days": 30, "max_days": None, "priority": "urgent", "count": 0,
    }  # fmt: skip
    assert data["open"] == 1
    assert json.loads(to_json(complaint_categories(complaints())))["rows"][0] == {
        "period": "2026-01-01", "category": "delivery", "count": 1,
    }  # fmt: skip
    report = csat([answer(2, 5)])
    assert json.loads(to_json(report)) == {
        "rows": [{"period": "2026-03-01", "responses": 1, "satisfied": 1,
                  "csat": "1.0000", "average_score": "5.0000"}],
        "responses": 1, "satisfied": 1, "csat": "1.0000", "average_score": "5.0000",
    }  # fmt: skip
    assert to_rows(report)[0]["average_score"] == D(5)
