"""The values an SLA clock reports: facts (warnings, breaches), statuses and pauses.

`SlaWarning` and `SlaBreached` are plain frozen values, not domain events: the
service case wraps each in an event of its own, which carries the case id,
version, time and actor. `crmkit.service.sla` re-exports every name here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import attrs

from crmkit.kernel.checks import aware
from crmkit.service.sla_policy import SlaMetric


class SlaState(StrEnum):
    """Where one SLA target stands."""

    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    PAUSED = "paused"


@attrs.frozen
class SlaWarning:
    """Fact: a target's warning threshold passed before it was met.

    Attributes:
        metric: The target's metric.
        at: When the clock was evaluated and saw it.
        elapsed_fraction: Business time used, as a fraction of the target (four places).
    """

    metric: SlaMetric
    at: datetime
    elapsed_fraction: Decimal


@attrs.frozen
class SlaBreached:
    """Fact: a target's deadline passed before it was met.

    Attributes:
        metric: The target's metric.
        at: When the clock was evaluated and saw it.
        deadline: The deadline that passed.
    """

    metric: SlaMetric
    at: datetime
    deadline: datetime


SlaFact = SlaWarning | SlaBreached
"""What `SlaClock.evaluate` reports; the service case wraps each in a domain event."""


@attrs.frozen
class SlaPause:
    """A closed interval during which a run was paused.

    Attributes:
        start: When the pause began.
        end: When the run resumed.
    """

    start: datetime = attrs.field(validator=aware())
    end: datetime = attrs.field(validator=aware())


@attrs.frozen
class SlaStatus:
    """Where one target of a clock stands at some instant.

    Attributes:
        metric: The target's metric.
        state: ok, at risk (past the warning), breached, met or paused.
        deadline: The current deadline.
        remaining: Business time left before the deadline; negative once overdue.
    """

    metric: SlaMetric
    state: SlaState
    deadline: datetime
    remaining: timedelta
