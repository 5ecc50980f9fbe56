"""Marketing campaigns: planned, run, paused, completed or aborted, with their money.

A campaign has a budget, an expected revenue and an actual cost, all in the
currency it was planned with; ``actual_cost`` starts at zero and grows with
`Campaign.record_cost`. Costs and edits are accepted until the campaign is
completed or aborted.

>>> from datetime import UTC, datetime
>>> from crmkit.kernel.events import Stamp
>>> from crmkit.kernel.money import Money
>>> stamp = Stamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u-marketing")
>>> campaign, _ = Campaign.plan(
...     "cmp-1", "Spring webinar", CampaignType.EVENT, "u-anna", stamp,
...     currency="EUR", budget=Money.of("5000", "EUR"),
... )
>>> campaign, _ = campaign.activate(stamp)
>>> campaign, _ = campaign.record_cost(Money.of("1200.50", "EUR"), stamp)
>>> str(campaign.actual_cost), campaign.status
('1200.50 EUR', <CampaignStatus.ACTIVE: 'active'>)
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Self

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, of_type, to_enum, version
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import CampaignId, UserId, check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.money import Money, minor_units
from crmkit.kernel.text import clean_line, clean_text
from crmkit.marketing.campaign_events import (
    CampaignAborted,
    CampaignActivated,
    CampaignCompleted,
    CampaignCostRecorded,
    CampaignEvent,
    CampaignPaused,
    CampaignPlanned,
    CampaignResumed,
    CampaignUpdated,
)

__all__ = ["CAMPAIGN_LIFECYCLE", "Campaign", "CampaignStatus", "CampaignType"]


class CampaignType(StrEnum):
    """The channel a campaign runs on."""

    EMAIL = "email"
    WEB = "web"
    EVENT = "event"
    DIRECT_MAIL = "direct_mail"
    SOCIAL = "social"
    PAY_PER_CLICK = "pay_per_click"


class CampaignStatus(StrEnum):
    """Where a campaign is in `CAMPAIGN_LIFECYCLE`."""

    PLANNED = "planned"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"


_S = CampaignStatus

CAMPAIGN_LIFECYCLE: Lifecycle[CampaignStatus] = Lifecycle(
    "campaign",
    CampaignStatus,
    _S.PLANNED,
    [
        Transition("activate", _S.PLANNED, _S.ACTIVE),
        Transition("pause", _S.ACTIVE, _S.PAUSED),
        Transition("resume", _S.PAUSED, _S.ACTIVE),
        Transition("complete", (_S.ACTIVE, _S.PAUSED), _S.COMPLETED),
        Transition("abort", (_S.PLANNED, _S.ACTIVE, _S.PAUSED), _S.ABORTED, guard="reason"),
    ],
    final=(_S.COMPLETED, _S.ABORTED),
)
"""planned → active ⇄ paused → completed; anything not final can be aborted."""


def _campaign_id(value: object) -> CampaignId:
    return CampaignId(check_id(value, "id"))


def _parent_id(value: object) -> CampaignId | None:
    return None if value is None else CampaignId(check_id(value, "parent_id"))


def _owner_id(value: object) -> UserId:
    return UserId(check_id(value, "owner_id"))


def _name(value: object) -> str:
    return clean_line(value, "name")


_as_type = to_enum(CampaignType, "type")


def _to_type(value: object) -> CampaignType:
    return _as_type(value)


def _day(value: object, field: str) -> date | None:
    # A datetime is a date subclass; a campaign day must not carry a time.
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    raise ValidationError(field, "must be a date or None", value)


def _money(value: object, field: str, currency: str, *, optional: bool) -> Money | None:
    if value is None and optional:
        return None
    if not isinstance(value, Money):
        raise ValidationError(field, "must be Money" + (" or None" if optional else ""), value)
    if value.currency != currency:
        raise ValidationError(field, f"must be in {currency}", str(value))
    if value.amount < 0:
        raise ValidationError(field, "must not be negative", str(value))
    return value


def _dates(starts_on: object, ends_on: object) -> tuple[date | None, date | None]:
    start, end = _day(starts_on, "starts_on"), _day(ends_on, "ends_on")
    if start is not None and end is not None and end < start:
        raise ValidationError("ends_on", "must not be before starts_on", end.isoformat())
    return start, end


_EventClass = type[CampaignEvent]  # the class body below shadows `type` with a field


def _check_stamp(stamp: object) -> Stamp:
    if not isinstance(stamp, Stamp):
        raise ValidationError("stamp", "must be a Stamp", stamp)
    return stamp


@attrs.frozen
class Campaign(Replayable):
    """A marketing campaign.

    Attributes:
        id: The campaign's id.
        version: Grows by one with every change.
        name: Its name.
        type: The channel it runs on.
        owner_id: The user who owns it.
        created_at: When it was planned.
        updated_at: When it last changed.
        actual_cost: What it has cost so far (starts at zero); sets the currency.
        status: Where it is in `CAMPAIGN_LIFECYCLE`.
        parent_id: The campaign it belongs to, if any.
        starts_on: First day, if known.
        ends_on: Last day, if known (not before ``starts_on``).
        budget: What may be spent, if set (same currency).
        expected_revenue: What it should bring in, if set (same currency).
    """

    id: CampaignId = attrs.field(converter=_campaign_id)
    version: int = attrs.field(validator=version)
    name: str = attrs.field(converter=_name)
    type: CampaignType = attrs.field(converter=_to_type)
    owner_id: UserId = attrs.field(converter=_owner_id)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    actual_cost: Money = attrs.field(validator=of_type(Money))
    status: CampaignStatus = attrs.field(default=_S.PLANNED, validator=of_type(CampaignStatus))
    parent_id: CampaignId | None = attrs.field(default=None, converter=_parent_id)
    starts_on: date | None = attrs.field(default=None, validator=of_type(date, optional=True))
    ends_on: date | None = attrs.field(default=None, validator=of_type(date, optional=True))
    budget: Money | None = attrs.field(default=None, validator=of_type(Money, optional=True))
    expected_revenue: Money | None = attrs.field(
        default=None, validator=of_type(Money, optional=True)
    )

    @property
    def currency(self) -> str:
        """The currency of the campaign's money."""
        return self.actual_cost.currency

    @classmethod
    def plan(
        cls,
        id: str,
        name: str,
        type: CampaignType | str,
        owner_id: str,
        stamp: Stamp,
        *,
        currency: str,
        parent_id: str | None = None,
        starts_on: date | None = None,
        ends_on: date | None = None,
        budget: Money | None = None,
        expected_revenue: Money | None = None,
    ) -> tuple[Campaign, CampaignPlanned]:
        """A new campaign, planned; its money is all in ``currency``."""
        _check_stamp(stamp)
        minor_units(currency)  # raises ValidationError naming "currency" for an unknown code
        checked_id, parent = _campaign_id(id), _parent_id(parent_id)
        if parent == checked_id:
            raise ValidationError("parent_id", "must not be the campaign itself", parent)
        start, end = _dates(starts_on, ends_on)
        event = CampaignPlanned(
            aggregate_id=checked_id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            name=_name(name),
            type=_to_type(type).value,
            currency=currency,
            parent_id=parent,
            starts_on=start,
            ends_on=end,
            budget=_money(budget, "budget", currency, optional=True),
            expected_revenue=_money(expected_revenue, "expected_revenue", currency, optional=True),
            owner_id=_owner_id(owner_id),
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The first state, from `CampaignPlanned`."""
        if not isinstance(event, CampaignPlanned):
            raise ValidationError("events[0]", "must be CampaignPlanned", event.event_type)
        return cls(
            event.aggregate_id, 1, event.name, event.type, event.owner_id, event.occurred_at,
            event.occurred_at, Money.zero(event.currency), parent_id=event.parent_id,
            starts_on=event.starts_on, ends_on=event.ends_on, budget=event.budget,
            expected_revenue=event.expected_revenue,
        )  # fmt: skip

    def apply(self, event: DomainEvent) -> Self:
        """The state after one of this campaign's events."""
        step: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at}
        if isinstance(event, CampaignActivated | CampaignResumed):
            step["status"] = _S.ACTIVE
        elif isinstance(event, CampaignPaused):
            step["status"] = _S.PAUSED
        elif isinstance(event, CampaignCompleted):
            step["status"] = _S.COMPLETED
        elif isinstance(event, CampaignAborted):
            step["status"] = _S.ABORTED
        elif isinstance(event, CampaignCostRecorded):
            step["actual_cost"] = event.actual_cost
        elif isinstance(event, CampaignUpdated):
            step.update(name=event.name, starts_on=event.starts_on, ends_on=event.ends_on)
            step.update(budget=event.budget, expected_revenue=event.expected_revenue)
        else:
            raise ValidationError("event", "must be a campaign event", event.event_type)
        return self._evolve(**step)

    def _do(self, cls: _EventClass, stamp: Stamp, **data: Any) -> tuple[Self, Any]:
        _check_stamp(stamp)
        event = cls(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            **data,
        )
        return self.apply(event), event

    def _open(self, command: str) -> None:
        # Costs and edits are no lifecycle move; they are refused once the campaign is closed.
        if CAMPAIGN_LIFECYCLE.is_final(self.status):
            raise CAMPAIGN_LIFECYCLE.refuse(self.status, command, "the campaign is closed")

    def activate(self, stamp: Stamp) -> tuple[Campaign, CampaignActivated]:
        """Start a planned campaign."""
        CAMPAIGN_LIFECYCLE.target(self.status, "activate")
        return self._do(CampaignActivated, stamp)

    def pause(self, stamp: Stamp) -> tuple[Campaign, CampaignPaused]:
        """Pause an active campaign."""
        CAMPAIGN_LIFECYCLE.target(self.status, "pause")
        return self._do(CampaignPaused, stamp)

    def resume(self, stamp: Stamp) -> tuple[Campaign, CampaignResumed]:
        """Restart a paused campaign."""
        CAMPAIGN_LIFECYCLE.target(self.status, "resume")
        return self._do(CampaignResumed, stamp)

    def complete(self, stamp: Stamp) -> tuple[Campaign, CampaignCompleted]:
        """Close an active or paused campaign that ran its course."""
        CAMPAIGN_LIFECYCLE.target(self.status, "complete")
        return self._do(CampaignCompleted, stamp)

    def abort(self, reason: str, stamp: Stamp) -> tuple[Campaign, CampaignAborted]:
        """Stop a campaign that is not closed; ``reason`` must not be blank."""
        CAMPAIGN_LIFECYCLE.target(self.status, "abort")
        return self._do(
            CampaignAborted, stamp, reason=clean_text(reason, "reason", allow_empty=False)
        )

    def record_cost(self, amount: Money, stamp: Stamp) -> tuple[Campaign, CampaignCostRecorded]:
        """Add a positive ``amount`` (in the campaign's currency) to ``actual_cost``."""
        self._open("record_cost")
        cost = _money(amount, "amount", self.currency, optional=False)
        assert cost is not None  # not optional
        if cost.amount == 0:
            raise ValidationError("amount", "must be positive", str(cost))
        return self._do(
            CampaignCostRecorded, stamp, amount=cost, actual_cost=self.actual_cost + cost
        )

    def update(
        self,
        stamp: Stamp,
        *,
        name: str | None = None,
        starts_on: date | None = None,
        ends_on: date | None = None,
        budget: Money | None = None,
        expected_revenue: Money | None = None,
    ) -> tuple[Campaign, CampaignUpdated]:
        """Change the given fields (None leaves a field as it is); refused once closed."""
        self._open("update")
        new_name = self.name if name is None else _name(name)
        start, end = _dates(
            self.starts_on if starts_on is None else starts_on,
            self.ends_on if ends_on is None else ends_on,
        )
        new_budget = self.budget if budget is None else budget
        new_expected = self.expected_revenue if expected_revenue is None else expected_revenue
        after = (
            new_name,
            start,
            end,
            _money(new_budget, "budget", self.currency, optional=True),
            _money(new_expected, "expected_revenue", self.currency, optional=True),
        )
        if after == (self.name, self.starts_on, self.ends_on, self.budget, self.expected_revenue):
            raise ValidationError("changes", "change nothing")
        return self._do(
            CampaignUpdated, stamp, name=after[0], starts_on=after[1], ends_on=after[2],
            budget=after[3], expected_revenue=after[4],
        )  # fmt: skip
