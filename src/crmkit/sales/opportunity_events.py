"""Events of opportunities.

Every event carries each value that `Opportunity.apply` needs, so the events
alone rebuild an opportunity (``Opportunity.replay(events) == opportunity``),
without the pipeline. Every event also carries the opportunity's account and
contacts at the time, so that their timelines show it (`OpportunityEvent.subjects`).
Summaries hold no personal data.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

import attrs

from crmkit.kernel.events import DomainEvent
from crmkit.kernel.money import Money
from crmkit.sales.pipeline import ForecastCategory
from crmkit.sales.pricing import Line


@attrs.frozen(kw_only=True)
class OpportunityEvent(DomainEvent):
    """Base class of the opportunity events.

    Attributes:
        account_id: The opportunity's account after the change, if any.
        contact_ids: The opportunity's contacts after the change.
    """

    aggregate_kind: ClassVar[str] = "opportunity"
    account_id: str | None = None
    contact_ids: tuple[str, ...] = ()

    def subjects(self) -> tuple[str, ...]:
        """The opportunity, its account and its contacts."""
        account = () if self.account_id is None else (self.account_id,)
        return (self.aggregate_id, *account, *self.contact_ids)


@attrs.frozen(kw_only=True)
class OpportunityOpened(OpportunityEvent):
    """An opportunity was opened.

    Attributes:
        name: The opportunity's name.
        pipeline_id: Its pipeline.
        stage: The open stage it starts in.
        probability: Its win probability.
        forecast_category: The stage's forecast category.
        amount: The expected amount.
        close_date: The expected close date.
        lead_id: The lead it came from, if any.
        owner_id: Its owner, if any.
    """

    event_type: ClassVar[str] = "opportunity_opened"
    name: str
    pipeline_id: str
    stage: str
    probability: Decimal
    forecast_category: ForecastCategory
    amount: Money
    close_date: date
    lead_id: str | None = None
    owner_id: str | None = None

    def summary(self) -> str:
        """Timeline line."""
        return f"opportunity {self.name} opened in {self.stage} ({self.amount})"

    def subjects(self) -> tuple[str, ...]:
        """The opportunity, its account, its contacts and the lead it came from."""
        lead = () if self.lead_id is None else (self.lead_id,)
        return (*super().subjects(), *lead)


@attrs.frozen(kw_only=True)
class _StageEntered(OpportunityEvent):
    """An event that puts the opportunity into a stage.

    Attributes:
        stage: The stage entered.
        probability: The win probability there.
        forecast_category: The stage's forecast category.
    """

    stage: str
    probability: Decimal
    forecast_category: ForecastCategory


@attrs.frozen(kw_only=True)
class OpportunityMoved(_StageEntered):
    """An open opportunity moved to another open stage.

    Attributes:
        from_stage: The stage it left.
    """

    event_type: ClassVar[str] = "opportunity_moved"
    from_stage: str

    def summary(self) -> str:
        """Timeline line."""
        return f"moved from {self.from_stage} to {self.stage}"


@attrs.frozen(kw_only=True)
class OpportunityWon(_StageEntered):
    """An opportunity was won (it entered the pipeline's won stage)."""

    event_type: ClassVar[str] = "opportunity_won"

    def summary(self) -> str:
        """Timeline line."""
        return "opportunity won"


@attrs.frozen(kw_only=True)
class OpportunityLost(_StageEntered):
    """An opportunity was lost (it entered a lost stage).

    Attributes:
        reason: Why it was lost.
    """

    event_type: ClassVar[str] = "opportunity_lost"
    reason: str

    def summary(self) -> str:
        """Timeline line."""
        return f"opportunity lost: {self.reason}"


@attrs.frozen(kw_only=True)
class OpportunityReopened(_StageEntered):
    """A won or lost opportunity was reopened in an open stage."""

    event_type: ClassVar[str] = "opportunity_reopened"

    def summary(self) -> str:
        """Timeline line."""
        return f"opportunity reopened in {self.stage}"


@attrs.frozen(kw_only=True)
class OpportunityChanged(OpportunityEvent):
    """Fields of an opportunity changed; the event holds all four values after the change.

    Attributes:
        fields: Names of the fields that changed, sorted.
        name: The name.
        amount: The amount.
        close_date: The expected close date.
        probability: The win probability.
    """

    event_type: ClassVar[str] = "opportunity_changed"
    fields: tuple[str, ...]
    name: str
    amount: Money
    close_date: date
    probability: Decimal

    def summary(self) -> str:
        """Timeline line."""
        return "changed " + ", ".join(self.fields)


@attrs.frozen(kw_only=True)
class OpportunityAssigned(OpportunityEvent):
    """An opportunity got a new owner (or none).

    Attributes:
        owner_id: The new owner, or None.
    """

    event_type: ClassVar[str] = "opportunity_assigned"
    owner_id: str | None

    def summary(self) -> str:
        """Timeline line."""
        return "unassigned" if self.owner_id is None else f"assigned to {self.owner_id}"


@attrs.frozen(kw_only=True)
class OpportunityRelinked(OpportunityEvent):
    """The opportunity's account or a contact was replaced (duplicate merge or its undo).

    ``account_id`` and ``contact_ids`` hold the links after the change.

    Attributes:
        replaced: The ids that were replaced; their timelines show the change too.
    """

    event_type: ClassVar[str] = "opportunity_relinked"
    replaced: tuple[str, ...]

    def summary(self) -> str:
        """Timeline line."""
        return "relinked from " + ", ".join(self.replaced)

    def subjects(self) -> tuple[str, ...]:
        """The opportunity, its account and contacts, and the records it was relinked from."""
        return (*super().subjects(), *self.replaced)


@attrs.frozen(kw_only=True)
class OpportunityLinesSet(OpportunityEvent):
    """The opportunity's product lines were set; the amount is their total.

    Attributes:
        lines: The lines.
        amount: Their total, net of discounts and excluding tax.
    """

    event_type: ClassVar[str] = "opportunity_lines_set"
    lines: tuple[Line, ...]
    amount: Money

    def summary(self) -> str:
        """Timeline line."""
        return f"{len(self.lines)} product lines set ({self.amount})"


EVENTS: tuple[type[DomainEvent], ...] = (
    OpportunityOpened,
    OpportunityMoved,
    OpportunityWon,
    OpportunityLost,
    OpportunityReopened,
    OpportunityChanged,
    OpportunityAssigned,
    OpportunityRelinked,
    OpportunityLinesSet,
)
"""Every event class of opportunities."""
