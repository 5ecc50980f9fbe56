"""Properties of SLA clocks under random histories, on a 24×7 and a 9–17 weekday calendar."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.service.calendar import BusinessCalendar, Shift, WeeklyHours
from crmkit.service.sla import SlaBreached, SlaClock, SlaFact, SlaRun, SlaState, SlaWarning
from crmkit.service.sla_policy import Calendar, SlaMetric, SlaPolicy
from crmkit.testing._strategies_sla import sla_clocks, sla_policies

ALWAYS = BusinessCalendar.always()
OFFICE = BusinessCalendar("office", "Europe/Berlin", WeeklyHours.weekdays(Shift(time(9), time(17))))
START = datetime(2026, 3, 20, 15, 30, tzinfo=UTC)  # a Friday, a week before DST begins

# Steps: (operation, minutes after the previous step, which metric).
OPS = ("pause_or_resume", "met", "restart", "evaluate", "evaluate")
steps = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 36 * 60), st.integers(0, 2)),
    max_size=14,
)


def _elapsed(run: SlaRun, now: datetime, calendar: Calendar) -> timedelta:
    return run.elapsed(now, calendar)


def _check_facts(
    before: SlaClock, facts: tuple[SlaFact, ...], now: datetime, calendar: Calendar
) -> None:
    """Each fact was due: reached by the run's effective time (pauses and met stop it)."""
    for fact in facts:
        run = before.run(fact.metric)
        stop = run.paused_since or run.met_at
        effective = now if stop is None else min(stop, now)
        used = _elapsed(run, now, calendar)
        assert fact.at == now
        if isinstance(fact, SlaBreached):
            assert run.breached_at is None
            assert effective >= run.deadline == fact.deadline
            assert used >= run.within
        else:
            assert isinstance(fact, SlaWarning)
            assert not run.warned
            assert fact.elapsed_fraction >= before.warn_at or effective >= run.deadline
            assert used * 10_000 >= run.within * int(fact.elapsed_fraction * 10_000)


def _history(calendar: Calendar, policy: SlaPolicy, script: list[tuple[str, int, int]]) -> None:
    metrics = [target.metric for target in policy.targets]
    clock = SlaClock.start(policy, calendar, START)
    now = START
    run_no: dict[SlaMetric, int] = defaultdict(int)
    log: dict[tuple[SlaMetric, int], list[type]] = defaultdict(list)
    met_early: set[tuple[SlaMetric, int]] = set()
    for operation, minutes, pick in script:
        now += timedelta(minutes=minutes)
        metric = metrics[pick % len(metrics)]
        before = clock
        facts: tuple[SlaFact, ...] = ()
        if operation == "pause_or_resume" and clock.paused_since is None:
            clock = clock.pause(now)
            for old, new in zip(before.runs, clock.runs, strict=True):
                assert new.deadline == old.deadline  # pausing alone moves nothing
        elif operation == "pause_or_resume":
            clock = clock.resume(now, calendar)
            for old, new in zip(before.runs, clock.runs, strict=True):
                since = old.paused_since
                if old.met_at is None and since is not None and since < old.deadline:
                    # The deadline moves by exactly the business time paused.
                    paused = calendar.elapsed(since, now)
                    assert calendar.elapsed(old.deadline, new.deadline) == paused
                else:
                    assert new.deadline == old.deadline
        elif operation == "met":
            run = clock.run(metric)
            if run.met_at is not None:
                continue
            stop = run.paused_since or now
            if stop < run.deadline:
                met_early.add((metric, run_no[metric]))
            clock = clock.met(metric, now)
        elif operation == "restart":
            clock, facts = clock.restart(metric, now, calendar)
            _check_facts(before, facts, now, calendar)
            for fact in facts:
                log[fact.metric, run_no[fact.metric]].append(type(fact))
            run_no[metric] += 1
            fresh = clock.run(metric)
            assert (fresh.started_at, fresh.warned, fresh.breached_at) == (now, False, None)
            continue
        else:
            clock, facts = clock.evaluate(now, calendar)
            _check_facts(before, facts, now, calendar)
        for fact in facts:
            log[fact.metric, run_no[fact.metric]].append(type(fact))
        for old, new in zip(before.runs, clock.runs, strict=True):
            if old.breached_at is not None:  # a breach stays
                assert new.breached_at == old.breached_at
            if operation == "evaluate" and new.breached_at is None and new.met_at is None:
                # Before a breach, the business time used stays below the target.
                assert _elapsed(new, now, calendar) < new.within
            if new.paused_since is not None and new.met_at is None:
                later = now + timedelta(days=3)
                assert _elapsed(new, later, calendar) == _elapsed(new, now, calendar)
                states = {s.metric: s.state for s in clock.status(later, calendar)}
                assert states[new.metric] in (SlaState.PAUSED, SlaState.BREACHED)
    for key, kinds in log.items():
        assert kinds.count(SlaBreached) <= 1
        assert kinds.count(SlaWarning) <= 1
        if SlaBreached in kinds:
            assert SlaWarning in kinds
            assert kinds.index(SlaWarning) < kinds.index(SlaBreached)
            assert key not in met_early


@pytest.mark.parametrize("calendar", [ALWAYS, OFFICE], ids=["24x7", "office"])
@settings(max_examples=100, deadline=None)
@given(policy=sla_policies(), script=steps)
def test_random_histories_keep_the_sla_rules(
    calendar: Calendar, policy: SlaPolicy, script: list[tuple[str, int, int]]
) -> None:
    _history(calendar, policy, script)


@pytest.mark.parametrize("calendar", [ALWAYS, OFFICE], ids=["24x7", "office"])
@settings(max_examples=50, deadline=None)
@given(policy=sla_policies(), pauses=st.lists(st.integers(1, 48 * 60), max_size=4))
def test_deadline_is_within_plus_the_business_time_paused(
    calendar: Calendar, policy: SlaPolicy, pauses: list[int]
) -> None:
    clock = SlaClock.start(policy, calendar, START)
    now = START
    for minutes in pauses:
        clock = clock.pause(now).resume(now + timedelta(minutes=minutes), calendar)
        now += timedelta(minutes=minutes + 30)
    for run in clock.runs:
        intervals = [(p.start, p.end) for p in run.pauses if p.start < run.deadline]
        paused = sum((calendar.elapsed(a, b) for a, b in intervals), timedelta(0))
        assert run.deadline == calendar.add(run.started_at, run.within + paused)
        # Equivalently, the business time up to the deadline less the pauses is the target.
        if len(intervals) == len(run.pauses):
            assert calendar.elapsed(run.started_at, run.deadline, intervals) == run.within


@settings(max_examples=60, deadline=None)
@given(clock=sla_clocks(), minutes=st.integers(0, 10**5))
def test_fast_path_returns_the_same_clock_until_due(clock: SlaClock, minutes: int) -> None:
    last = max(
        [run.started_at for run in clock.runs]
        + [p.end for run in clock.runs for p in run.pauses]
        + [t for run in clock.runs for t in (run.met_at, run.paused_since) if t]
    )
    now = last + timedelta(minutes=minutes)
    again, facts = clock.evaluate(now, ALWAYS)
    if clock.due_at is None or now < clock.due_at:
        assert again is clock
        assert facts == ()
    else:
        assert facts
        assert again.due_at != clock.due_at
        # Evaluating the same instant again reports nothing new.
        assert again.evaluate(now, ALWAYS) == (again, ())
    assert Decimal(0) < clock.warn_at <= 1
