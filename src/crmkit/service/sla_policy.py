"""SLA policies: which response and resolution targets apply to which cases.

An `SlaPolicy` is data that a host configures and stores. It names its targets
(first response, next response, resolution, each *within* a span of business
time), the business calendar they run on, the fraction of a target after which
a warning is due, and the cases it applies to: priorities, case types and
customer tiers, where an empty criterion matches anything.

`SlaPolicies.match` picks the most specific policy that matches a case: the one
with the most non-empty criteria; on a tie, the one given first.

>>> from datetime import timedelta
>>> standard = SlaPolicy(
...     "standard", "Standard", (SlaTarget(SlaMetric.RESOLUTION, timedelta(days=3)),),
...     "office",
... )
>>> urgent_gold = SlaPolicy(
...     "urgent_gold", "Urgent gold",
...     (SlaTarget(SlaMetric.FIRST_RESPONSE, timedelta(hours=1)),), "always",
...     priorities=(Priority.URGENT,), tiers=("gold",),
... )
>>> policies = SlaPolicies((standard, urgent_gold))
>>> policies.match(Priority.URGENT, "incident", "gold").id
'urgent_gold'
>>> policies.match(Priority.URGENT, "incident", "silver").id
'standard'
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final, Protocol

import attrs

from crmkit.kernel.checks import items, to_enum, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.numbers import decimal_of
from crmkit.kernel.text import clean_line, clean_token

_SECOND: Final = timedelta(seconds=1)
_MAX_WITHIN: Final = 366 * 24 * 3600


class Priority(StrEnum):
    """How soon a case needs attention."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Severity(StrEnum):
    """How badly a problem hurts the customer."""

    MINOR = "minor"
    MODERATE = "moderate"
    MAJOR = "major"
    CRITICAL = "critical"


class SlaMetric(StrEnum):
    """What an SLA target measures."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class Calendar(Protocol):
    """The two operations of a business calendar that SLA clocks need.

    `crmkit.service.calendar.BusinessCalendar` implements it; so can a host's own.
    """

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of business time after ``start`` has passed."""
        ...

    def elapsed(
        self,
        start: datetime,
        end: datetime,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> timedelta:
        """Business time from ``start`` to ``end``, leaving out the ``pauses``."""
        ...


def check_within(value: object, field: str = "within") -> int:
    """A target's span as whole seconds: a positive `timedelta` (or int seconds), up to a year.

    >>> check_within(timedelta(hours=4))
    14400
    """
    if isinstance(value, timedelta):
        if value % _SECOND:
            raise ValidationError(field, "must be whole seconds", value)
        seconds = value // _SECOND
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        raise ValidationError(field, "must be a timedelta", value)
    if not 0 < seconds <= _MAX_WITHIN:
        raise ValidationError(field, "must be positive and at most 366 days", value)
    return seconds


def check_warn_at(value: object, field: str = "warn_at") -> Decimal:
    """A warning threshold: a fraction above 0 and at most 1 (``Decimal("0.8")`` is 80%).

    >>> check_warn_at("0.75")
    Decimal('0.75')
    """
    result = decimal_of(value, field)
    if not 0 < result <= 1:
        raise ValidationError(field, "must be a fraction above 0 and at most 1", value)
    if result != result.quantize(Decimal("0.0001")):
        raise ValidationError(field, "must have at most four decimal places", value)
    return result


_to_metric = to_enum(SlaMetric, "metric")
_to_priority = to_enum(Priority, "priorities")
_to_asked_priority = to_enum(Priority, "priority")


def _metric(value: object) -> SlaMetric:
    return _to_metric(value)


def _within(value: object) -> int:
    return check_within(value)


@attrs.frozen
class SlaTarget:
    """One target of a policy: ``metric`` must be met within a span of business time.

    Build it with a `timedelta`: ``SlaTarget(SlaMetric.RESOLUTION, timedelta(hours=8))``.
    It is stored as whole seconds, because JSON has no duration type.

    Attributes:
        metric: What the target measures.
        seconds: The span of business time, in whole seconds (the constructor's ``within``).
    """

    metric: SlaMetric = attrs.field(converter=_metric)
    seconds: int = attrs.field(alias="within", converter=_within)

    @property
    def within(self) -> timedelta:
        """The span of business time in which the metric must be met."""
        return timedelta(seconds=self.seconds)


def _policy_id(value: object) -> str:
    return check_id(value, "id")


def _name(value: object) -> str:
    return clean_line(value, "name")


def _calendar_name(value: object) -> str:
    return clean_token(value, "calendar_name")


def _targets(value: object) -> tuple[SlaTarget, ...]:
    return items(value, "targets")


def _check_targets(instance: SlaPolicy, attribute: attrs.Attribute[object], value: object) -> None:
    tuple_of(SlaTarget)(instance, attribute, value)
    seen: set[SlaMetric] = set()
    for index, target in enumerate(instance.targets):
        if target.metric in seen:
            raise ValidationError(f"targets[{index}].metric", "must be unique", target.metric)
        seen.add(target.metric)
    if not seen:
        raise ValidationError("targets", "must hold at least one target")


def _warn_at(value: object) -> Decimal:
    return check_warn_at(value)


def _priorities(value: object) -> tuple[Priority, ...]:
    return tuple(dict.fromkeys(_to_priority(p) for p in items(value, "priorities")))


def _case_types(value: object) -> tuple[str, ...]:
    return tuple(dict.fromkeys(clean_token(v, "case_types") for v in items(value, "case_types")))


def _tiers(value: object) -> tuple[str, ...]:
    return tuple(dict.fromkeys(clean_token(v, "tiers") for v in items(value, "tiers")))


@attrs.frozen
class SlaPolicy:
    """Targets for the cases that match some criteria, on one business calendar.

    Attributes:
        id: The policy's id, which SLA clocks refer to.
        name: Display name.
        targets: At most one target per metric.
        calendar_name: The business calendar the targets count on (a machine name).
        warn_at: Fraction of a target after which a warning is due (default 0.8).
        priorities: Case priorities the policy applies to; empty for any.
        case_types: Case types (machine names) it applies to; empty for any.
        tiers: Customer tiers (machine names) it applies to; empty for any.
    """

    id: str = attrs.field(converter=_policy_id)
    name: str = attrs.field(converter=_name)
    targets: tuple[SlaTarget, ...] = attrs.field(converter=_targets, validator=_check_targets)
    calendar_name: str = attrs.field(converter=_calendar_name)
    warn_at: Decimal = attrs.field(default=Decimal("0.8"), converter=_warn_at, kw_only=True)
    priorities: tuple[Priority, ...] = attrs.field(default=(), converter=_priorities, kw_only=True)
    case_types: tuple[str, ...] = attrs.field(default=(), converter=_case_types, kw_only=True)
    tiers: tuple[str, ...] = attrs.field(default=(), converter=_tiers, kw_only=True)

    @property
    def specificity(self) -> int:
        """How many of the three criteria are set (0 to 3); more specific policies win."""
        return bool(self.priorities) + bool(self.case_types) + bool(self.tiers)

    def applies_to(self, priority: Priority, case_type: str | None, tier: str | None) -> bool:
        """Whether a case with this priority, type and customer tier matches every criterion."""
        return (
            (not self.priorities or priority in self.priorities)
            and (not self.case_types or case_type in self.case_types)
            and (not self.tiers or tier in self.tiers)
        )

    def target(self, metric: SlaMetric) -> SlaTarget | None:
        """The target for ``metric``, or None when the policy sets none."""
        for target in self.targets:
            if target.metric is metric:
                return target
        return None


def _policies(value: object) -> tuple[SlaPolicy, ...]:
    return items(value, "policies")


def _check_policies(
    instance: SlaPolicies, attribute: attrs.Attribute[tuple[SlaPolicy, ...]], value: object
) -> None:
    tuple_of(SlaPolicy)(instance, attribute, value)
    seen: set[str] = set()
    for index, policy in enumerate(instance.policies):
        if policy.id in seen:
            raise ValidationError(f"policies[{index}].id", "must be unique", policy.id)
        seen.add(policy.id)


@attrs.frozen
class SlaPolicies:
    """A host's SLA policies, in order of preference among equally specific ones.

    Attributes:
        policies: The policies; ids are unique.
    """

    policies: tuple[SlaPolicy, ...] = attrs.field(
        default=(), converter=_policies, validator=_check_policies
    )

    def match(
        self, priority: Priority | str, case_type: str | None = None, tier: str | None = None
    ) -> SlaPolicy | None:
        """The most specific policy that applies to the case, or None when none does.

        Specificity is the number of non-empty criteria; ties go to the policy given first.
        """
        asked = _to_asked_priority(priority)
        best: SlaPolicy | None = None
        for policy in self.policies:
            if policy.applies_to(asked, case_type, tier) and (
                best is None or policy.specificity > best.specificity
            ):
                best = policy
        return best

    def get(self, policy_id: str) -> SlaPolicy:
        """The policy with this id; `ValidationError` naming ``policy_id`` if there is none."""
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        raise ValidationError("policy_id", "must be the id of a configured SLA policy", policy_id)
