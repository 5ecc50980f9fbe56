"""Events of marketing campaigns (`crmkit.marketing.campaign`).

Each event carries every value the campaign's ``apply`` needs, so the stored
events rebuild the campaign. Campaign names are not personal data, so
summaries may name them; abort reasons are free text and stay out of them.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

import attrs

from crmkit.kernel.events import DomainEvent
from crmkit.kernel.money import Money

__all__ = [
    "EVENTS",
    "CampaignAborted",
    "CampaignActivated",
    "CampaignCompleted",
    "CampaignCostRecorded",
    "CampaignEvent",
    "CampaignPaused",
    "CampaignPlanned",
    "CampaignResumed",
    "CampaignUpdated",
]


@attrs.frozen(kw_only=True)
class CampaignEvent(DomainEvent):
    """Base class of campaign events."""

    aggregate_kind: ClassVar[str] = "campaign"

    def summary(self) -> str:
        """Timeline line."""
        return "campaign " + self.event_type.removeprefix("campaign_").replace("_", " ")


@attrs.frozen(kw_only=True)
class CampaignPlanned(CampaignEvent):
    """A campaign was planned.

    Attributes:
        name: Its name.
        type: Its `crmkit.marketing.campaign.CampaignType` value.
        currency: The currency of its budget, costs and revenue.
        parent_id: The parent campaign, if any.
        starts_on: First day, if known.
        ends_on: Last day, if known.
        budget: What may be spent, if set.
        expected_revenue: What it should bring in, if set.
        owner_id: The user who owns it.
    """

    event_type: ClassVar[str] = "campaign_planned"
    name: str
    type: str
    currency: str
    parent_id: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    budget: Money | None = None
    expected_revenue: Money | None = None
    owner_id: str

    def summary(self) -> str:
        """Timeline line."""
        return f"campaign planned: {self.name}"

    def subjects(self) -> tuple[str, ...]:
        """The campaign and its parent."""
        return (
            (self.aggregate_id,) if self.parent_id is None else (self.aggregate_id, self.parent_id)
        )


@attrs.frozen(kw_only=True)
class CampaignActivated(CampaignEvent):
    """A planned campaign went live."""

    event_type: ClassVar[str] = "campaign_activated"


@attrs.frozen(kw_only=True)
class CampaignPaused(CampaignEvent):
    """An active campaign was paused."""

    event_type: ClassVar[str] = "campaign_paused"


@attrs.frozen(kw_only=True)
class CampaignResumed(CampaignEvent):
    """A paused campaign went live again."""

    event_type: ClassVar[str] = "campaign_resumed"


@attrs.frozen(kw_only=True)
class CampaignCompleted(CampaignEvent):
    """A campaign ran its course."""

    event_type: ClassVar[str] = "campaign_completed"


@attrs.frozen(kw_only=True)
class CampaignAborted(CampaignEvent):
    """A campaign was stopped before completion.

    Attributes:
        reason: Why (free text; not shown in the summary).
    """

    event_type: ClassVar[str] = "campaign_aborted"
    reason: str


@attrs.frozen(kw_only=True)
class CampaignCostRecorded(CampaignEvent):
    """A cost was booked against a campaign.

    Attributes:
        amount: The cost booked.
        actual_cost: The campaign's total cost after it.
    """

    event_type: ClassVar[str] = "campaign_cost_recorded"
    amount: Money
    actual_cost: Money

    def summary(self) -> str:
        """Timeline line."""
        return f"campaign cost recorded: {self.amount}"


@attrs.frozen(kw_only=True)
class CampaignUpdated(CampaignEvent):
    """A campaign's name, dates, budget or expected revenue changed; carries all of them after.

    Attributes:
        name: The name.
        starts_on: The first day, if known.
        ends_on: The last day, if known.
        budget: The budget, if set.
        expected_revenue: The expected revenue, if set.
    """

    event_type: ClassVar[str] = "campaign_updated"
    name: str
    starts_on: date | None = None
    ends_on: date | None = None
    budget: Money | None = None
    expected_revenue: Money | None = None


EVENTS: tuple[type[DomainEvent], ...] = (
    CampaignPlanned,
    CampaignActivated,
    CampaignPaused,
    CampaignResumed,
    CampaignCompleted,
    CampaignAborted,
    CampaignCostRecorded,
    CampaignUpdated,
)
