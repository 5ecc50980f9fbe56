"""Hypothesis strategies for SLA policies and clocks.

Clocks are drawn by starting a policy on the 24×7 calendar and then applying
a short random history of pauses, resumes, met targets and evaluations at
increasing times, so that they hold pauses, warnings and breaches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Final

from hypothesis import strategies as st

from crmkit.service.calendar import BusinessCalendar
from crmkit.service.sla import SlaClock
from crmkit.service.sla_policy import Priority, SlaMetric, SlaPolicies, SlaPolicy, SlaTarget

CASE_TYPES: Final = ("incident", "question", "request")
"""The case types that `sla_policies` draws criteria from."""

TIERS: Final = ("gold", "silver", "bronze")
"""The customer tiers that `sla_policies` draws criteria from."""

_EPOCH: Final = datetime(2026, 1, 1, tzinfo=UTC)


@cache
def sla_targets() -> st.SearchStrategy[SlaTarget]:
    """Targets of a minute to 30 days, in whole minutes."""
    minutes = st.integers(1, 30 * 24 * 60).map(lambda m: timedelta(minutes=m))
    return st.builds(SlaTarget, st.sampled_from(list(SlaMetric)), minutes)


@cache
def warn_fractions() -> st.SearchStrategy[Decimal]:
    """Warning thresholds from 0.05 to 1 in steps of 0.05."""
    return st.integers(1, 20).map(lambda n: Decimal(n * 5) / 100)


@cache
def sla_policies(policy_id: str | None = None) -> st.SearchStrategy[SlaPolicy]:
    """Policies with one to three targets and random (often empty) criteria."""
    targets = st.lists(sla_targets(), min_size=1, max_size=3, unique_by=lambda t: t.metric)
    return st.builds(
        SlaPolicy,
        st.just(policy_id) if policy_id else st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True),
        st.sampled_from(("Standard", "Premium", "Urgent gold")),
        targets.map(tuple),
        st.sampled_from(("always", "office")),
        warn_at=warn_fractions(),
        priorities=st.lists(st.sampled_from(list(Priority)), max_size=2, unique=True).map(tuple),
        case_types=st.lists(st.sampled_from(CASE_TYPES), max_size=2, unique=True).map(tuple),
        tiers=st.lists(st.sampled_from(TIERS), max_size=2, unique=True).map(tuple),
    )


@cache
def sla_policy_sets(max_size: int = 6) -> st.SearchStrategy[SlaPolicies]:
    """Sets of policies with unique ids ``p0``, ``p1`` ... (order matters for ties)."""

    @st.composite
    def build(draw: st.DrawFn) -> SlaPolicies:
        size = draw(st.integers(0, max_size))
        return SlaPolicies(tuple(draw(sla_policies(f"p{index}")) for index in range(size)))

    return build()


@cache
def sla_clocks() -> st.SearchStrategy[SlaClock]:
    """Clocks on the 24×7 calendar after a short history of pauses, met targets and ticks."""
    calendar = BusinessCalendar.always()

    @st.composite
    def build(draw: st.DrawFn) -> SlaClock:
        policy = draw(sla_policies())
        at = _EPOCH + timedelta(minutes=draw(st.integers(0, 10**6)))
        clock = SlaClock.start(policy, calendar, at)
        for step in draw(st.lists(st.integers(0, 3), max_size=6)):
            at += timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
            if step == 0:
                clock = (
                    clock.pause(at) if clock.paused_since is None else clock.resume(at, calendar)
                )
            elif step == 1:
                open_runs = [run.metric for run in clock.runs if run.met_at is None]
                if open_runs:
                    clock = clock.met(draw(st.sampled_from(open_runs)), at)
            else:
                clock, _ = clock.evaluate(at, calendar)
        return clock

    return build()
