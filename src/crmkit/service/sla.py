"""SLA clocks: the running targets of one service case, on a business calendar.

A case matched by an `SlaPolicy` (see `crmkit.service.sla_policy`; this module
re-exports its names and those of `crmkit.service.sla_facts`) keeps an
`SlaClock`: one `SlaRun` per target. Each run has a *deadline* (``within`` of
business time after it started) and a *warning instant* (``warn_at`` of that
time), both computed with the policy's calendar when the run starts and again
only when it resumes from a pause.

The clock is a frozen value. Commands return a new clock: `SlaClock.start`,
`pause` (the case waits on the customer), `resume`, `met` (first response
made, case resolved) and `restart` (a customer reply restarts next response).
`evaluate`, which the host's scheduler calls on every tick for every open
case, returns the new clock and the facts that fell due: an `SlaWarning` once
the warning instant passes and an `SlaBreached` once the deadline passes
without the target being met. Each is raised once per run, and a breached run
stays breached, even when it is met later. While a run is paused its business
time does not grow and nothing falls due, but a warning or breach that was
already due when the pause began is still reported.

Facts are plain values, not domain events: the service case wraps them in its
own events (with the case id, version and actor), so they are stored and
published with the case.

The fast path of `evaluate` (nothing due) compares ``now`` with one
precomputed instant, `SlaClock.due_at`, and does no calendar arithmetic.

**Pauses move deadlines.** When a run resumes after a pause from ``p`` to
``r``, its deadline moves later by the business time between ``p`` and ``r``:
``deadline = calendar.add(deadline, calendar.elapsed(p, r))``, which equals
``calendar.add(started_at, within + all business time paused)`` for any
calendar whose ``add`` walks forward through business time. The warning
instant moves the same way. A pause that begins at or after the deadline (or
the warning instant) does not move it: that run was already overdue.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Final

import attrs

from crmkit.kernel.aggregate import Evolving
from crmkit.kernel.checks import aware, of_type, to_enum, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import require_aware
from crmkit.service.sla_facts import (
    SlaBreached,
    SlaFact,
    SlaPause,
    SlaState,
    SlaStatus,
    SlaWarning,
)
from crmkit.service.sla_policy import (
    Calendar,
    Priority,
    Severity,
    SlaMetric,
    SlaPolicies,
    SlaPolicy,
    SlaTarget,
    check_warn_at,
    check_within,
)

__all__ = [
    "Calendar",
    "Priority",
    "Severity",
    "SlaBreached",
    "SlaClock",
    "SlaFact",
    "SlaMetric",
    "SlaPause",
    "SlaPolicies",
    "SlaPolicy",
    "SlaRun",
    "SlaState",
    "SlaStatus",
    "SlaTarget",
    "SlaWarning",
]

_FRACTION: Final = Decimal("0.0001")
_MICROSECOND: Final = timedelta(microseconds=1)
_NO_FACTS: Final[tuple[SlaWarning | SlaBreached, ...]] = ()
_to_metric = to_enum(SlaMetric, "metric")


def _metric(value: object) -> SlaMetric:
    return _to_metric(value)


def _seconds(value: object) -> int:
    return check_within(value, "seconds")


@attrs.frozen
class SlaRun(Evolving):
    """One run of one target: started, maybe paused, then met or breached (or both).

    Attributes:
        metric: The target's metric.
        seconds: The target's span of business time, in whole seconds.
        started_at: When the run started.
        deadline: When it breaches unless met, after the pauses so far.
        warn_instant: When its warning falls due, after the pauses so far.
        paused_since: When the current pause began; None while running. A run
            met during a pause keeps it, since its business time stopped then.
        pauses: The finished pauses, oldest first.
        met_at: When the target was met; None while it is not.
        warned: Whether the warning was raised.
        breached_at: When the breach was seen; None while not breached.
    """

    metric: SlaMetric = attrs.field(converter=_metric)
    seconds: int = attrs.field(converter=_seconds)
    started_at: datetime = attrs.field(validator=aware())
    deadline: datetime = attrs.field(validator=aware())
    warn_instant: datetime = attrs.field(validator=aware())
    paused_since: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    pauses: tuple[SlaPause, ...] = attrs.field(default=(), validator=tuple_of(SlaPause))
    met_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    warned: bool = attrs.field(default=False, validator=of_type(bool))
    breached_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))

    @property
    def within(self) -> timedelta:
        """The target's span of business time."""
        return timedelta(seconds=self.seconds)

    @property
    def due_at(self) -> datetime | None:
        """The first instant at which `SlaClock.evaluate` has a fact to report, or None."""
        stop = self.paused_since or self.met_at
        if stop is None:
            if not self.warned:
                return self.warn_instant
            return self.deadline if self.breached_at is None else None
        if (not self.warned and stop >= self.warn_instant) or (
            self.breached_at is None and stop >= self.deadline
        ):
            return stop
        return None

    def elapsed(self, now: datetime, calendar: Calendar) -> timedelta:
        """Business time the run has used by ``now``, leaving out its pauses."""
        stop = self.paused_since or self.met_at
        end = now if stop is None else min(stop, now)
        return calendar.elapsed(self.started_at, end, _intervals(self.pauses))


def _intervals(pauses: Iterable[SlaPause]) -> tuple[tuple[datetime, datetime], ...]:
    return tuple((pause.start, pause.end) for pause in pauses)


def _policy_id(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("policy_id", "must be a string id", value)
    return value


def _calendar_name(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("calendar_name", "must be a string", value)
    return value


def _warn_at(value: object) -> Decimal:
    return check_warn_at(value)


def _due_at(runs: tuple[SlaRun, ...]) -> datetime | None:
    due = [instant for run in runs if (instant := run.due_at) is not None]
    # In UTC, so that comparing with a UTC ``now`` skips the time zone lookups (7× faster).
    return min(due).astimezone(UTC) if due else None


@attrs.frozen
class SlaClock(Evolving):
    """The SLA runs of one service case under one policy.

    Attributes:
        policy_id: The policy the runs come from.
        calendar_name: The business calendar they count on.
        warn_at: The policy's warning threshold, a fraction of each target.
        runs: One run per target of the policy.
        paused_since: When the clock was paused; None while it runs.
        due_at: When `evaluate` next has something to report, in UTC; derived
            from the runs (a value given to the constructor is replaced).
    """

    policy_id: str = attrs.field(converter=_policy_id)
    calendar_name: str = attrs.field(converter=_calendar_name)
    warn_at: Decimal = attrs.field(converter=_warn_at)
    runs: tuple[SlaRun, ...] = attrs.field(validator=tuple_of(SlaRun))
    paused_since: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    due_at: datetime | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "due_at", _due_at(self.runs))

    @classmethod
    def start(cls, policy: SlaPolicy, calendar: Calendar, at: datetime) -> SlaClock:
        """A clock whose runs, one per target of ``policy``, all start at ``at``.

        ``calendar`` is the one the policy names (``policy.calendar_name``); the
        host looks it up, and passes the same one to every later call.
        """
        if not isinstance(policy, SlaPolicy):
            raise ValidationError("policy", "must be an SlaPolicy", policy)
        require_aware(at, "at")
        runs = tuple(
            _new_run(t.metric, t.seconds, at, calendar, policy.warn_at) for t in policy.targets
        )
        return cls(policy.id, policy.calendar_name, policy.warn_at, runs)

    def run(self, metric: SlaMetric) -> SlaRun:
        """The run of ``metric``; `ValidationError` naming ``metric`` if the policy has none."""
        for run in self.runs:
            if run.metric == metric:
                return run
        raise ValidationError("metric", "has no target in this SLA clock", metric)

    def pause(self, at: datetime) -> SlaClock:
        """The clock paused at ``at`` (the case waits on the customer); runs met stay met."""
        require_aware(at, "at")
        if self.paused_since is not None:
            raise ValidationError("at", "cannot pause: the SLA clock is already paused")
        runs = tuple(
            run._evolve(paused_since=_not_before(at, run))
            if run.met_at is None and run.paused_since is None
            else run
            for run in self.runs
        )
        return self._evolve(runs=runs, paused_since=at, due_at=_due_at(runs))

    def resume(self, at: datetime, calendar: Calendar) -> SlaClock:
        """The clock running again from ``at``; each paused run's deadline moves later."""
        require_aware(at, "at")
        since = self.paused_since
        if since is None:
            raise ValidationError("at", "cannot resume: the SLA clock is not paused")
        if at < since:
            raise ValidationError("at", "must not be before the pause began", at)
        runs = tuple(
            _resumed(run, at, calendar) if run.met_at is None and run.paused_since else run
            for run in self.runs
        )
        return self._evolve(runs=runs, paused_since=None, due_at=_due_at(runs))

    def met(self, metric: SlaMetric, at: datetime) -> SlaClock:
        """The clock with ``metric``'s target met at ``at``; a breach already due stays due."""
        require_aware(at, "at")
        run = self.run(metric)
        if run.met_at is not None:
            raise ValidationError("metric", "is already met", run.metric)
        return self._replace(run, run._evolve(met_at=_not_before(at, run)))

    def restart(
        self, metric: SlaMetric, at: datetime, calendar: Calendar
    ) -> tuple[SlaClock, tuple[SlaFact, ...]]:
        """A fresh run of ``metric`` from ``at`` (a customer reply restarts next response).

        The ending run is evaluated at ``at`` first, so a warning or breach it
        owed is returned, not lost. A run restarted while the clock is paused
        starts paused.
        """
        require_aware(at, "at")
        old = self.run(metric)
        _not_before(at, old)
        clock, facts = self.evaluate(at, calendar)
        paused = None if self.paused_since is None else at
        run = _new_run(old.metric, old.seconds, at, calendar, self.warn_at, paused)
        return clock._replace(clock.run(metric), run), facts

    def evaluate(self, now: datetime, calendar: Calendar) -> tuple[SlaClock, tuple[SlaFact, ...]]:
        """The clock at ``now`` and the warnings and breaches that fell due.

        Cheap when nothing is due (one comparison with `due_at`), so a host
        may call it for every open case on every tick.
        """
        due = self.due_at
        if due is None:
            return self, _NO_FACTS
        try:
            if now < due:
                return self, _NO_FACTS
        except TypeError:
            raise ValidationError("now", "must be a timezone-aware datetime", now) from None
        require_aware(now, "now")
        facts: list[SlaFact] = []
        runs = tuple(_evaluated(run, now, calendar, facts) for run in self.runs)
        if not facts:
            return self, _NO_FACTS
        return self._evolve(runs=runs, due_at=_due_at(runs)), tuple(facts)

    def status(self, now: datetime, calendar: Calendar) -> tuple[SlaStatus, ...]:
        """Where each target stands at ``now``, with the business time remaining."""
        require_aware(now, "now")
        return tuple(_status(run, now, calendar) for run in self.runs)

    def _replace(self, old: SlaRun, new: SlaRun) -> SlaClock:
        runs = tuple(new if run is old else run for run in self.runs)
        return self._evolve(runs=runs, due_at=_due_at(runs))


def _new_run(
    metric: SlaMetric,
    seconds: int,
    at: datetime,
    calendar: Calendar,
    warn_at: Decimal,
    paused_since: datetime | None = None,
) -> SlaRun:
    warn_micros = int(seconds * 1_000_000 * warn_at)  # exact: warn_at has four places at most
    return SlaRun(
        metric,
        seconds,
        at,
        calendar.add(at, timedelta(seconds=seconds)),
        calendar.add(at, timedelta(microseconds=warn_micros)),
        paused_since=paused_since,
    )


def _not_before(at: datetime, run: SlaRun) -> datetime:
    latest = run.pauses[-1].end if run.pauses else run.started_at
    if at < latest:
        raise ValidationError("at", f"must not be before {latest.isoformat()}", at)
    return at


def _resumed(run: SlaRun, at: datetime, calendar: Calendar) -> SlaRun:
    start = run.paused_since
    assert start is not None  # the caller resumes paused runs only
    paused = calendar.elapsed(start, at)
    deadline, warn_instant = run.deadline, run.warn_instant
    # A pause that began once the run was overdue does not rescue it.
    if paused and start < deadline:
        deadline = calendar.add(deadline, paused)
    if paused and start < warn_instant:
        warn_instant = calendar.add(warn_instant, paused)
    return run._evolve(
        paused_since=None,
        pauses=(*run.pauses, SlaPause(start, at)),
        deadline=deadline,
        warn_instant=warn_instant,
    )


def _evaluated(run: SlaRun, now: datetime, calendar: Calendar, facts: list[SlaFact]) -> SlaRun:
    stop = run.paused_since or run.met_at
    effective = now if stop is None else min(stop, now)
    warned = run.warned
    breached = run.breached_at is None and effective >= run.deadline
    if not warned and (breached or effective >= run.warn_instant):
        used = run.elapsed(now, calendar) // _MICROSECOND
        fraction = (Decimal(used) / (run.seconds * 1_000_000)).quantize(_FRACTION, ROUND_DOWN)
        facts.append(SlaWarning(run.metric, now, fraction))
        warned = True
    if breached:
        facts.append(SlaBreached(run.metric, now, run.deadline))
    if warned == run.warned and not breached:
        return run
    return run._evolve(warned=warned, breached_at=now if breached else run.breached_at)


def _status(run: SlaRun, now: datetime, calendar: Calendar) -> SlaStatus:
    stop = run.paused_since or run.met_at
    effective = now if stop is None else min(stop, now)
    if run.breached_at is not None or effective >= run.deadline:
        state = SlaState.BREACHED
    elif run.met_at is not None:
        state = SlaState.MET
    elif run.paused_since is not None:
        state = SlaState.PAUSED
    elif effective >= run.warn_instant:
        state = SlaState.AT_RISK
    else:
        state = SlaState.OK
    remaining = run.within - run.elapsed(now, calendar)
    if state is SlaState.BREACHED and remaining > timedelta(0):
        # Overdue on the calendar's clock even where elapsed rounds short.
        remaining = timedelta(0)
    return SlaStatus(run.metric, state, run.deadline, remaining)
