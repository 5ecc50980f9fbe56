"""Hypothesis strategies for service cases: stamps, ratings, opened cases and case histories.

Every value is built through crmkit's public constructors and commands, so it
is valid exactly as crmkit would store it. A history is a case opened and then
driven by random commands (refused ones are skipped), with the events that
rebuild it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Final

from hypothesis import strategies as st

from crmkit.kernel.errors import CrmError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.service.calendar import BusinessCalendar
from crmkit.service.case import Csat, Priority, ServiceCase, Severity
from crmkit.service.sla import SlaClock
from crmkit.service.sla_policy import SlaMetric, SlaPolicy, SlaTarget

CASE_TYPES: Final = ("incident", "question", "complaint", "request")
"""Case types the strategies use."""
CASE_SKILLS: Final = ("billing", "german", "network", "printing")
"""Skills the strategies give cases (and routing tests give agents)."""

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_TEXTS: Final = ("Printer offline", "Rechnung fehlt – bitte prüfen", "ログインできません", "x")


@cache
def case_stamps() -> st.SearchStrategy[Stamp]:
    """Stamps between 2020 and 2030 with a fixed UTC offset."""
    return st.builds(
        lambda seconds, hours, actor: Stamp(
            (_EPOCH + timedelta(seconds=seconds)).astimezone(timezone(timedelta(hours=hours))),
            actor,
        ),
        st.integers(0, 10 * 366 * 86400),
        st.integers(-12, 14),
        st.sampled_from(("u-1", "u-2", "job-auto-close")),
    )


@cache
def csats() -> st.SearchStrategy[Csat]:
    """Ratings from 1 to 5, with or without a comment and a time."""
    return st.builds(
        Csat,
        st.integers(1, 5),
        st.none() | st.sampled_from(_TEXTS),
        st.none() | case_stamps().map(lambda stamp: stamp.at),
    )


@cache
def opened_cases() -> st.SearchStrategy[tuple[ServiceCase, DomainEvent]]:
    """New cases with their `CaseOpened` event: a contact, an account or both."""

    def open_case(
        stamp: Stamp,
        subject: str,
        case_type: str,
        priority: Priority,
        severity: Severity,
        parties: tuple[str | None, str | None],
        tier: str | None,
        complaint: str | None,
        queue: str | None,
        skills: list[str],
    ) -> tuple[ServiceCase, DomainEvent]:
        return ServiceCase.open(
            "case-1", "CS-0001", stamp, subject=subject, description=subject + "\n…",
            type=case_type, priority=priority, severity=severity, contact_id=parties[0],
            account_id=parties[1], customer_tier=tier, complaint_id=complaint, queue=queue,
            skills_needed=skills,
        )  # fmt: skip

    return st.builds(
        open_case,
        case_stamps(),
        st.sampled_from(_TEXTS),
        st.sampled_from(CASE_TYPES),
        st.sampled_from(Priority),
        st.sampled_from(Severity),
        st.sampled_from((("c-1", None), (None, "a-1"), ("c-1", "a-1"))),
        st.none() | st.sampled_from(("gold", "silver")),
        st.none() | st.just("cmp-1"),
        st.none() | st.sampled_from(("first_line", "billing")),
        st.lists(st.sampled_from(CASE_SKILLS), max_size=3),
    )


_ALWAYS: Final = BusinessCalendar.always()
_POLICY: Final = SlaPolicy(
    "standard",
    "Standard",
    (
        SlaTarget(SlaMetric.FIRST_RESPONSE, timedelta(hours=4)),
        SlaTarget(SlaMetric.RESOLUTION, timedelta(days=3)),
    ),
    _ALWAYS.name,
)


def _track_sla(case: ServiceCase, stamp: Stamp) -> tuple[ServiceCase, DomainEvent]:
    clock = case.sla or SlaClock.start(_POLICY, _ALWAYS, case.created_at)
    clock, facts = clock.evaluate(stamp.at, _ALWAYS)
    return case.track_sla(clock, stamp, facts)


_Step = Callable[[ServiceCase, Stamp], tuple[ServiceCase, DomainEvent]]
_STEPS: Final[tuple[_Step, ...]] = (
    lambda c, s: c.assign("u-7" if c.owner_id != "u-7" else "u-8", s, team="support"),
    lambda c, s: c.start(s),
    lambda c, s: c.respond(s),
    lambda c, s: c.wait_on_customer(s),
    lambda c, s: c.customer_replied(s),
    lambda c, s: c.resolve("Replaced the toner.", s),
    lambda c, s: c.reopen(s),
    lambda c, s: c.close(s, automatic=c.version % 2 == 0),
    lambda c, s: c.escalate(c.escalation_level + 1, s, "customer waiting too long"),
    lambda c, s: c.escalate(0, s, "calmed down", by_hand=True),
    lambda c, s: c.reprioritise(s, Priority.URGENT, Severity.CRITICAL),
    lambda c, s: c.reprioritise(s, Priority.LOW),
    lambda c, s: c.link_article("kb-1", s),
    lambda c, s: c.unlink_article("kb-1", s),
    lambda c, s: c.set_parent("case-0", s),
    lambda c, s: c.set_parent(None, s),
    lambda c, s: c.add_child(f"case-{c.version + 10}", s),
    lambda c, s: c.absorb(f"case-{c.version + 50}", s),
    lambda c, s: c.merge_into("case-99", s),
    lambda c, s: c.rate(Csat(4, "Quick, thanks"), s),
    _track_sla,
)


@cache
def case_histories() -> st.SearchStrategy[tuple[ServiceCase, tuple[DomainEvent, ...]]]:
    """A case after random commands (refused ones skipped), with all its events, oldest first."""

    def run(
        opened: tuple[ServiceCase, DomainEvent], steps: list[tuple[int, int]]
    ) -> tuple[ServiceCase, tuple[DomainEvent, ...]]:
        case, event = opened
        events = [event]
        now = case.created_at
        for index, minutes in steps:
            now += timedelta(minutes=minutes)
            try:
                case, event = _STEPS[index](case, Stamp(now, "u-7"))
            except CrmError:
                continue
            events.append(event)
        return case, tuple(events)

    steps = st.tuples(st.integers(0, len(_STEPS) - 1), st.integers(0, 3 * 24 * 60))
    return st.builds(run, opened_cases(), st.lists(steps, max_size=25))


@cache
def service_cases() -> st.SearchStrategy[ServiceCase]:
    """Cases in any state, reached through the real commands."""
    return case_histories().map(lambda history: history[0])
