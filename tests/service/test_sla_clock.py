"""Worked examples of SLA clocks on a 9–17 weekday calendar and on 24×7."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.service.calendar import BusinessCalendar, Shift, WeeklyHours
from crmkit.service.sla import (
    SlaBreached,
    SlaClock,
    SlaMetric,
    SlaPolicy,
    SlaState,
    SlaTarget,
    SlaWarning,
)
from crmkit.service.sla_policy import Calendar
from crmkit.testing._strategies_sla import sla_clocks

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessCalendar("office", BERLIN, WeeklyHours.weekdays(Shift(time(9), time(17))))
ALWAYS = BusinessCalendar.always()
FIRST = SlaMetric.FIRST_RESPONSE
NEXT = SlaMetric.NEXT_RESPONSE
RESOLUTION = SlaMetric.RESOLUTION


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in November 2026 (the 27th is a Friday), Berlin time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)


def policy(*targets: tuple[SlaMetric, timedelta], warn_at: str = "0.8") -> SlaPolicy:
    return SlaPolicy(
        "standard",
        "Standard",
        tuple(SlaTarget(metric, within) for metric, within in targets),
        "office",
        warn_at=Decimal(warn_at),
    )


FOUR_HOURS = policy((FIRST, timedelta(hours=4)))


def test_four_hours_from_friday_four_pm_is_monday_noon() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16))
    run = clock.run(FIRST)
    assert run.deadline == berlin(30, 12)
    assert run.warn_instant == berlin(30, 11, 12)  # 80% of 4 hours = 3h12m of business time
    assert clock.due_at == berlin(30, 11, 12)
    assert clock.due_at is not None
    assert clock.due_at.tzinfo is UTC


def test_a_pause_of_one_business_hour_moves_the_deadline_to_one_pm() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16))
    clock = clock.pause(berlin(30, 9, 30)).resume(berlin(30, 10, 30), OFFICE)
    run = clock.run(FIRST)
    assert run.deadline == berlin(30, 13)
    assert run.warn_instant == berlin(30, 12, 12)
    assert [(p.start, p.end) for p in run.pauses] == [(berlin(30, 9, 30), berlin(30, 10, 30))]


def test_a_pause_over_the_weekend_moves_nothing() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16))
    clock = clock.pause(berlin(27, 17, 30)).resume(berlin(30, 8), OFFICE)
    assert clock.run(FIRST).deadline == berlin(30, 12)


def test_warning_then_breach_each_once() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16))
    assert clock.evaluate(berlin(30, 11), OFFICE) == (clock, ())
    clock, facts = clock.evaluate(berlin(30, 11, 30), OFFICE)
    assert facts == (SlaWarning(FIRST, berlin(30, 11, 30), Decimal("0.8750")),)
    assert clock.evaluate(berlin(30, 11, 45), OFFICE) == (clock, ())
    clock, facts = clock.evaluate(berlin(30, 12), OFFICE)
    assert facts == (SlaBreached(FIRST, berlin(30, 12), berlin(30, 12)),)
    assert clock.run(FIRST).breached_at == berlin(30, 12)
    assert clock.due_at is None
    assert clock.evaluate(berlin(30, 15), OFFICE) == (clock, ())


def test_a_late_first_tick_reports_the_warning_before_the_breach() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16))
    clock, facts = clock.evaluate(berlin(30, 14), OFFICE)
    assert [type(fact) for fact in facts] == [SlaWarning, SlaBreached]
    warning = facts[0]
    assert isinstance(warning, SlaWarning)
    assert warning.elapsed_fraction == Decimal("1.5")


def test_a_breached_target_stays_breached_when_met_later() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16))
    clock, _ = clock.evaluate(berlin(30, 12, 5), OFFICE)
    clock = clock.met(FIRST, berlin(30, 13))
    run = clock.run(FIRST)
    assert run.met_at == berlin(30, 13)
    assert run.breached_at == berlin(30, 12, 5)
    [status] = clock.status(berlin(30, 14), OFFICE)
    assert status.state is SlaState.BREACHED


def test_met_late_without_a_tick_is_still_a_breach() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16)).met(FIRST, berlin(30, 12, 30))
    clock, facts = clock.evaluate(berlin(30, 12, 31), OFFICE)
    assert [type(fact) for fact in facts] == [SlaWarning, SlaBreached]
    assert clock.due_at is None


def test_met_in_time_never_breaches() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16)).met(FIRST, berlin(30, 10))
    assert clock.due_at is None
    assert clock.evaluate(berlin(30, 16), OFFICE) == (clock, ())
    [status] = clock.status(berlin(30, 16), OFFICE)
    assert (status.state, status.remaining) == (SlaState.MET, timedelta(hours=2))


def test_nothing_falls_due_while_paused() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16)).pause(berlin(30, 9))
    assert clock.due_at is None
    assert clock.evaluate(berlin(30, 16), OFFICE) == (clock, ())
    [status] = clock.status(berlin(30, 16), OFFICE)
    assert (status.state, status.remaining) == (SlaState.PAUSED, timedelta(hours=3))


def test_a_breach_due_before_the_pause_is_reported_during_it() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16)).pause(berlin(30, 12, 30))
    clock, facts = clock.evaluate(berlin(30, 13), OFFICE)
    assert [type(fact) for fact in facts] == [SlaWarning, SlaBreached]
    # The pause began once the run was overdue: resuming does not move its deadline.
    assert clock.resume(berlin(30, 15), OFFICE).run(FIRST).deadline == berlin(30, 12)


def test_status_through_a_run() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16))
    times = (berlin(30, 9), berlin(30, 11), berlin(30, 11, 30), berlin(30, 12))
    states = [clock.status(at, OFFICE)[0] for at in times]
    assert [s.state for s in states] == [
        SlaState.OK,
        SlaState.OK,
        SlaState.AT_RISK,
        SlaState.BREACHED,
    ]
    assert [s.remaining for s in states] == [
        timedelta(hours=3),
        timedelta(hours=1),
        timedelta(minutes=30),
        timedelta(0),
    ]
    assert clock.status(berlin(30, 14), OFFICE)[0].remaining == -timedelta(hours=2)


def test_each_customer_reply_restarts_next_response() -> None:
    both = policy((NEXT, timedelta(hours=2)), (RESOLUTION, timedelta(hours=16)))
    clock = SlaClock.start(both, OFFICE, berlin(30, 9))
    clock, facts = clock.restart(NEXT, berlin(30, 10), OFFICE)
    assert facts == ()
    assert clock.run(NEXT).deadline == berlin(30, 12)
    assert clock.run(RESOLUTION).deadline == datetime(2026, 12, 1, 17, tzinfo=BERLIN)
    # The reply came after the old run's deadline: its breach is reported, not lost.
    clock, facts = clock.restart(NEXT, berlin(30, 12, 30), OFFICE)
    assert [type(fact) for fact in facts] == [SlaWarning, SlaBreached]
    fresh = clock.run(NEXT)
    assert (fresh.started_at, fresh.breached_at, fresh.warned) == (berlin(30, 12, 30), None, False)


def test_restart_while_paused_starts_paused() -> None:
    clock = SlaClock.start(policy((NEXT, timedelta(hours=2))), ALWAYS, berlin(30, 9))
    clock, _ = clock.pause(berlin(30, 10)).restart(NEXT, berlin(30, 11), ALWAYS)
    assert clock.run(NEXT).paused_since == berlin(30, 11)
    clock = clock.resume(berlin(30, 12), ALWAYS)
    assert clock.run(NEXT).deadline == berlin(30, 14)


def test_met_while_paused_freezes_the_run_at_the_pause() -> None:
    clock = SlaClock.start(FOUR_HOURS, ALWAYS, berlin(30, 9)).pause(berlin(30, 12))
    clock = clock.met(FIRST, berlin(30, 18)).resume(berlin(30, 19), ALWAYS)
    assert clock.evaluate(berlin(30, 20), ALWAYS) == (clock, ())
    assert clock.status(berlin(30, 20), ALWAYS)[0].state is SlaState.MET


@pytest.mark.parametrize(
    ("action", "field"),
    [
        (lambda c: c.resume(berlin(30, 10), ALWAYS), "at"),
        (lambda c: c.pause(berlin(30, 10)).pause(berlin(30, 11)), "at"),
        (lambda c: c.pause(berlin(30, 8)), "at"),
        (lambda c: c.met(FIRST, datetime(2026, 11, 30, 10)), "at"),
        (lambda c: c.met(RESOLUTION, berlin(30, 10)), "metric"),
        (lambda c: c.met(FIRST, berlin(30, 10)).met(FIRST, berlin(30, 11)), "metric"),
        (lambda c: c.pause(berlin(30, 11)).resume(berlin(30, 10), ALWAYS), "at"),
        (lambda c: c.evaluate(datetime(2026, 11, 30, 10), ALWAYS), "now"),
        (lambda c: c.evaluate("tomorrow", ALWAYS), "now"),
    ],
)
def test_bad_commands_raise_validation_errors(action: object, field: str) -> None:
    clock = SlaClock.start(FOUR_HOURS, ALWAYS, berlin(30, 9))
    with pytest.raises(ValidationError) as caught:
        action(clock)  # type: ignore[operator]
    assert caught.value.field == field


def test_the_clock_round_trips_through_the_converter_and_the_loaders() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16))
    clock = clock.pause(berlin(30, 9, 30)).resume(berlin(30, 10, 30), OFFICE)
    clock, _ = clock.evaluate(berlin(30, 12, 30), OFFICE)
    _round_trip(clock)


@settings(max_examples=40, deadline=None)
@given(clock=sla_clocks())
def test_any_clock_round_trips(clock: SlaClock) -> None:
    _round_trip(clock)


def test_structuring_recomputes_due_at() -> None:
    clock = SlaClock.start(FOUR_HOURS, OFFICE, berlin(27, 16))
    data = make_converter().unstructure(clock)
    data["due_at"] = None
    assert structure(make_converter(), data, SlaClock).due_at == clock.due_at


def _round_trip(clock: SlaClock) -> None:
    conv = make_converter()
    data = conv.unstructure(clock)
    assert structure(conv, data, SlaClock) == clock
    assert Loaders().load(SlaClock, json.loads(dumps(data))) == clock


class _Stopwatch:
    """A host's own 24×7 calendar: SLA code needs only the `Calendar` protocol."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def elapsed(
        self,
        start: datetime,
        end: datetime,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> timedelta:
        inside = (min(end, b) - max(start, a) for a, b in pauses)
        return end - start - sum((d for d in inside if d > timedelta(0)), timedelta(0))


def test_any_calendar_protocol_gives_the_same_clock_as_the_24x7_calendar() -> None:
    own: Calendar = _Stopwatch()
    results = []
    for calendar in (own, ALWAYS):
        clock = SlaClock.start(FOUR_HOURS, calendar, berlin(30, 9))
        clock = clock.pause(berlin(30, 10)).resume(berlin(30, 10, 45), calendar)
        clock, facts = clock.evaluate(berlin(30, 13, 30), calendar)
        results.append((clock.run(FIRST).deadline, facts, clock.status(berlin(30, 14), calendar)))
    assert results[0] == results[1]
    assert results[0][0] == berlin(30, 13, 45)
