"""Opportunities: deals moving through the stages of a pipeline.

An opportunity is open, won or lost (`OpportunityStatus`); within ``open`` it
moves between the open stages of its `Pipeline`. Winning or losing puts it in
the pipeline's won stage or one of its lost stages; a closed opportunity can be
reopened, so no state is final.

Every command returns ``(new_opportunity, event)``. The events carry every
changed value, so ``Opportunity.replay(events)`` rebuilds the opportunity
without the pipeline.

Probability: each stage has a default; `Opportunity.update` can override it
while the opportunity is open, and every stage change (move, win, lose,
reopen) resets it to the new stage's default.

Stage history: each stage change closes the current `StageVisit` and opens a
new one, so the visits are contiguous from ``created_at`` and only the last is
open-ended (also while won or lost). `Opportunity.time_in_stage` sums them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, items, of_type, to_enum, tuple_of, version
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent, Stamp
from crmkit.kernel.ids import AccountId, ContactId, LeadId, OpportunityId, check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.money import Money
from crmkit.sales._opportunity_fields import (
    _account_id,
    _amount,
    _category,
    _check_amount,
    _check_pipeline,
    _check_stamp,
    _close_date,
    _contact_ids,
    _enter,
    _first_lost,
    _id,
    _lead_id,
    _lines,
    _lost_reason,
    _name,
    _open_stage,
    _owner_id,
    _pipeline_id,
    _probability,
    _reason,
    _stage,
    _won,
)
from crmkit.sales.opportunity_events import (
    OpportunityAssigned,
    OpportunityChanged,
    OpportunityEvent,
    OpportunityLinesSet,
    OpportunityLost,
    OpportunityMoved,
    OpportunityOpened,
    OpportunityRelinked,
    OpportunityReopened,
    OpportunityWon,
)
from crmkit.sales.pipeline import ForecastCategory, Pipeline, Stage, StageKind
from crmkit.sales.pricing import Line, totals


class OpportunityStatus(StrEnum):
    """Whether an opportunity is open, won or lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


_S = OpportunityStatus

OPPORTUNITY_LIFECYCLE: Final = Lifecycle(
    "opportunity",
    OpportunityStatus,
    _S.OPEN,
    [
        Transition("move", _S.OPEN, _S.OPEN, guard="to another open stage"),
        Transition("win", _S.OPEN, _S.WON),
        Transition("lose", _S.OPEN, _S.LOST, guard="with a reason"),
        Transition("reopen", (_S.WON, _S.LOST), _S.OPEN),
    ],
)
"""Open opportunities move between open stages and are won or lost; closed ones reopen."""


@attrs.frozen
class StageVisit:
    """A stretch of time an opportunity spent in one stage.

    Attributes:
        stage: The stage's key.
        entered_at: When the opportunity entered it.
        left_at: When it left, or None while it is still there.
    """

    stage: str = attrs.field(validator=of_type(str))
    entered_at: datetime = attrs.field(validator=aware())
    left_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))

    def duration(self, now: datetime) -> timedelta:
        """How long the visit lasted, or has lasted by ``now`` if it is still open."""
        return (now if self.left_at is None else self.left_at) - self.entered_at


_to_status = to_enum(OpportunityStatus, "status")


def _status(value: object) -> OpportunityStatus:
    return _to_status(value)


def _history(value: object) -> tuple[StageVisit, ...]:
    return items(value, "stage_history")


@attrs.frozen
class Opportunity(Replayable):
    """A deal: an expected amount, moving through the stages of a pipeline.

    Attributes:
        id: The opportunity's id.
        version: Grows by one with every change.
        name: A short name, for example ``ACME - 50 licences``.
        created_at: When it was opened.
        updated_at: When it last changed.
        status: Open, won or lost.
        pipeline_id: The pipeline whose stages it moves through.
        stage: The key of its current stage.
        probability: Win probability (the stage's default unless overridden), 0 to 1.
        forecast_category: The current stage's forecast category.
        amount: The expected amount; its currency is fixed when the opportunity opens.
        close_date: The expected (or, once closed, actual) close date.
        account_id: The customer account, if any.
        contact_ids: The contacts involved.
        lead_id: The lead it came from, if any.
        owner_id: The user who owns it, if any.
        lost_reason: Why it was lost, while it is lost.
        stage_history: Every stage visit, oldest first; only the last is open-ended.
        lines: Product lines; when set, ``amount`` is their total.
        custom: The host's custom field values (`crmkit.extension.custom_fields`).
    """

    id: OpportunityId = attrs.field(converter=_id)
    version: int = attrs.field(validator=version)
    name: str = attrs.field(converter=_name)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    status: OpportunityStatus = attrs.field(converter=_status)
    pipeline_id: str = attrs.field(converter=_pipeline_id)
    stage: str = attrs.field(converter=_stage)
    probability: Decimal = attrs.field(converter=_probability)
    forecast_category: ForecastCategory = attrs.field(converter=_category)
    amount: Money = attrs.field(validator=_amount)
    close_date: date = attrs.field(converter=_close_date)
    account_id: AccountId | None = attrs.field(default=None, converter=_account_id)
    contact_ids: tuple[ContactId, ...] = attrs.field(default=(), converter=_contact_ids)
    lead_id: LeadId | None = attrs.field(default=None, converter=_lead_id)
    owner_id: str | None = attrs.field(default=None, converter=_owner_id)
    lost_reason: str | None = attrs.field(default=None, converter=_lost_reason)
    stage_history: tuple[StageVisit, ...] = attrs.field(
        default=(), converter=_history, validator=tuple_of(StageVisit)
    )
    lines: tuple[Line, ...] = attrs.field(default=(), converter=_lines, validator=tuple_of(Line))
    custom: CustomValues = attrs.field(
        factory=CustomValues, validator=of_type(CustomValues), metadata=PERSONAL, repr=False
    )

    # --- creation ------------------------------------------------------------

    @classmethod
    def open(
        cls,
        id: str,
        name: str,
        pipeline: Pipeline,
        stamp: Stamp,
        *,
        amount: Money,
        close_date: date,
        stage: str | None = None,
        account_id: str | None = None,
        contact_ids: Iterable[str] = (),
        lead_id: str | None = None,
        owner_id: str | None = None,
        probability: Decimal | None = None,
    ) -> tuple[Opportunity, OpportunityOpened]:
        """A new opportunity at version 1 in ``stage`` (by default the first open stage).

        ``probability`` overrides the stage's default.
        """
        _check_pipeline(pipeline)
        _check_stamp(stamp)
        start = pipeline.open_stages[0] if stage is None else _open_stage(pipeline, stage)
        opp = cls(
            id,
            1,
            name,
            stamp.at,
            stamp.at,
            OpportunityStatus.OPEN,
            pipeline.id,
            start.key,
            start.probability if probability is None else probability,
            start.forecast_category,
            amount,
            close_date,
            account_id=account_id,
            contact_ids=contact_ids,
            lead_id=lead_id,
            owner_id=owner_id,
            stage_history=(StageVisit(start.key, stamp.at),),
        )
        event = OpportunityOpened(
            aggregate_id=opp.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            account_id=opp.account_id,
            contact_ids=opp.contact_ids,
            name=opp.name,
            pipeline_id=opp.pipeline_id,
            stage=opp.stage,
            probability=opp.probability,
            forecast_category=opp.forecast_category,
            amount=opp.amount,
            close_date=opp.close_date,
            lead_id=opp.lead_id,
            owner_id=opp.owner_id,
        )
        return opp, event

    @classmethod
    def created(cls, event: DomainEvent) -> Opportunity:
        """The first state, from an `OpportunityOpened` event."""
        if not isinstance(event, OpportunityOpened):
            raise ValidationError("events", "must start with OpportunityOpened", event.event_type)
        return cls(
            event.aggregate_id,
            event.version,
            event.name,
            event.occurred_at,
            event.occurred_at,
            OpportunityStatus.OPEN,
            event.pipeline_id,
            event.stage,
            event.probability,
            event.forecast_category,
            event.amount,
            event.close_date,
            account_id=event.account_id,
            contact_ids=event.contact_ids,
            lead_id=event.lead_id,
            owner_id=event.owner_id,
            stage_history=(StageVisit(event.stage, event.occurred_at),),
        )

    # --- stage changes ---------------------------------------------------------

    def move(
        self, stage: str, pipeline: Pipeline, stamp: Stamp
    ) -> tuple[Opportunity, OpportunityMoved]:
        """Move an open opportunity to another open stage (`win` and `lose` close it)."""
        OPPORTUNITY_LIFECYCLE.target(self.status, "move")
        target = _enter(pipeline, self, stamp, stage, StageKind.OPEN)
        if target.key == self.stage:
            raise ValidationError("stage", "must differ from the current stage", stage)
        event = OpportunityMoved(**self._entering(target, stamp), from_stage=self.stage)
        return self.apply(event), event

    def win(self, pipeline: Pipeline, stamp: Stamp) -> tuple[Opportunity, OpportunityWon]:
        """Close as won: enter the pipeline's won stage (probability 1)."""
        OPPORTUNITY_LIFECYCLE.target(self.status, "win")
        target = _enter(pipeline, self, stamp, None, StageKind.WON, _won)
        event = OpportunityWon(**self._entering(target, stamp))
        return self.apply(event), event

    def lose(
        self, reason: str, pipeline: Pipeline, stamp: Stamp, stage: str | None = None
    ) -> tuple[Opportunity, OpportunityLost]:
        """Close as lost, with a reason, in ``stage`` (by default the first lost stage)."""
        OPPORTUNITY_LIFECYCLE.target(self.status, "lose")
        why = _reason(reason)
        target = _enter(pipeline, self, stamp, stage, StageKind.LOST, _first_lost)
        event = OpportunityLost(**self._entering(target, stamp), reason=why)
        return self.apply(event), event

    def reopen(
        self, pipeline: Pipeline, stamp: Stamp, stage: str | None = None
    ) -> tuple[Opportunity, OpportunityReopened]:
        """Reopen a won or lost opportunity in ``stage``, by default the last open stage visited."""
        OPPORTUNITY_LIFECYCLE.target(self.status, "reopen")
        target = _enter(pipeline, self, stamp, stage, StageKind.OPEN, self._last_open)
        event = OpportunityReopened(**self._entering(target, stamp))
        return self.apply(event), event

    # --- other changes ---------------------------------------------------------

    def update(
        self,
        stamp: Stamp,
        *,
        name: str | None = None,
        amount: Money | None = None,
        close_date: date | None = None,
        probability: Decimal | None = None,
    ) -> tuple[Opportunity, OpportunityChanged]:
        """Change the given fields (None leaves a field as it is).

        The amount keeps the currency the opportunity opened with, and cannot be
        changed while the opportunity has lines (it is their total). The
        probability can be overridden only while the opportunity is open.
        """
        new: dict[str, Any] = {
            "name": self.name if name is None else _name(name),
            "amount": self.amount if amount is None else _check_amount(amount),
            "close_date": self.close_date if close_date is None else _close_date(close_date),
            "probability": self.probability if probability is None else _probability(probability),
        }
        if new["amount"].currency != self.amount.currency:
            raise ValidationError(
                "amount", f"must stay in {self.amount.currency}", new["amount"].currency
            )
        changed = tuple(sorted(k for k, v in new.items() if getattr(self, k) != v))
        if "amount" in changed and self.lines:
            raise ValidationError("amount", "is the total of the lines: use set_lines")
        if not changed:
            raise ValidationError("changes", "change nothing")
        if "probability" in changed and self.status is not OpportunityStatus.OPEN:
            raise OPPORTUNITY_LIFECYCLE.refuse(
                self.status, "update", "a closed opportunity's probability is its stage's"
            )
        event = OpportunityChanged(**self._base(stamp), fields=changed, **new)
        return self.apply(event), event

    def assign(self, owner_id: str | None, stamp: Stamp) -> tuple[Opportunity, OpportunityAssigned]:
        """Give the opportunity an owner (a user id), or none."""
        owner = _owner_id(owner_id)
        if owner == self.owner_id:
            raise ValidationError("owner_id", "is the current owner", owner)
        event = OpportunityAssigned(**self._base(stamp), owner_id=owner)
        return self.apply(event), event

    def relink_account(
        self, account_id: str | None, stamp: Stamp
    ) -> tuple[Opportunity, OpportunityRelinked]:
        """Point the opportunity at another account (a duplicate merge, or its undo)."""
        new = _account_id(account_id)
        if new == self.account_id:
            raise ValidationError("account_id", "is the current account", new)
        replaced = () if self.account_id is None else (self.account_id,)
        event = OpportunityRelinked(**self._base(stamp, account_id=new), replaced=tuple(replaced))
        return self.apply(event), event

    def relink_contact(
        self, old: str, new: str, stamp: Stamp
    ) -> tuple[Opportunity, OpportunityRelinked]:
        """Replace contact ``old`` by ``new`` in place (a duplicate merge, or its undo).

        If ``new`` is already a contact, ``old`` is just dropped.
        """
        if old not in self.contact_ids:
            raise ValidationError("contact_ids", "must hold the contact to replace", old)
        target = ContactId(check_id(new, "contact_ids"))
        if target == old:
            raise ValidationError("contact_ids", "must replace a contact by another", new)
        swapped = (target if c == old else c for c in self.contact_ids)
        contacts = tuple(dict.fromkeys(swapped))
        event = OpportunityRelinked(**self._base(stamp, contact_ids=contacts), replaced=(old,))
        return self.apply(event), event

    def set_lines(
        self, lines: Iterable[Line], stamp: Stamp
    ) -> tuple[Opportunity, OpportunityLinesSet]:
        """Set the product lines; the amount becomes their total.

        The total is net of line discounts and excludes tax (inclusive tax is
        taken out too), in the opportunity's currency. No lines leave the amount
        at zero.
        """
        rows = _lines(lines)
        tuple_of(Line)(self, attrs.fields(Opportunity).lines, rows)
        figures = totals(rows, self.amount.currency)
        amount = figures.total - figures.tax
        event = OpportunityLinesSet(**self._base(stamp), lines=rows, amount=amount)
        return self.apply(event), event

    # --- queries ---------------------------------------------------------------

    @property
    def weighted_amount(self) -> Money:
        """Amount × probability, rounded half to even to the currency's minor unit."""
        return self.amount * self.probability

    def time_in_stage(self, now: datetime) -> dict[str, timedelta]:
        """Total time spent in each stage visited, by stage key, the current one up to ``now``."""
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise ValidationError("now", "must be a timezone-aware datetime", now)
        if now < self.stage_history[-1].entered_at:
            raise ValidationError("now", "must not be before the current stage was entered", now)
        spent: dict[str, timedelta] = {}
        for visit in self.stage_history:
            spent[visit.stage] = spent.get(visit.stage, timedelta()) + visit.duration(now)
        return spent

    # --- events ----------------------------------------------------------------

    def apply(self, event: DomainEvent) -> Opportunity:
        """The state after ``event``, one of this opportunity's own events."""
        step: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at}
        if isinstance(event, OpportunityEvent):
            step["account_id"] = event.account_id
            step["contact_ids"] = event.contact_ids
        match event:
            case OpportunityMoved() | OpportunityWon() | OpportunityLost() | OpportunityReopened():
                status = _STATUS_AFTER[type(event)]
                closed = (*self.stage_history[:-1], _left(self.stage_history[-1], event))
                return self._evolve(
                    **step,
                    status=status,
                    stage=event.stage,
                    probability=event.probability,
                    forecast_category=event.forecast_category,
                    lost_reason=event.reason if isinstance(event, OpportunityLost) else None,
                    stage_history=(*closed, StageVisit(event.stage, event.occurred_at)),
                )
            case OpportunityChanged():
                return self._evolve(
                    **step,
                    name=event.name,
                    amount=event.amount,
                    close_date=event.close_date,
                    probability=event.probability,
                )
            case OpportunityAssigned():
                return self._evolve(**step, owner_id=event.owner_id)
            case OpportunityRelinked():
                return self._evolve(**step)
            case OpportunityLinesSet():
                return self._evolve(**step, lines=event.lines, amount=event.amount)
        raise ValidationError("event", "must be an event of an existing opportunity", event)

    # --- helpers ---------------------------------------------------------------

    def _last_open(self, pipeline: Pipeline) -> Stage:
        """The last open stage visited that the pipeline still has, else its first open stage."""
        keys = {stage.key for stage in pipeline.open_stages}
        for visit in reversed(self.stage_history):
            if visit.stage in keys:
                return pipeline.stage(visit.stage)
        return pipeline.open_stages[0]

    def _base(self, stamp: Stamp, **links: Any) -> dict[str, Any]:
        _check_stamp(stamp)
        base: dict[str, Any] = {
            "aggregate_id": self.id,
            "version": self.version + 1,
            "occurred_at": stamp.at,
            "actor": stamp.actor,
            "account_id": self.account_id,
            "contact_ids": self.contact_ids,
        }
        base.update(links)
        return base

    def _entering(self, stage: Stage, stamp: Stamp) -> dict[str, Any]:
        return {
            **self._base(stamp),
            "stage": stage.key,
            "probability": stage.probability,
            "forecast_category": stage.forecast_category,
        }


_STATUS_AFTER: Final[dict[type[DomainEvent], OpportunityStatus]] = {
    OpportunityMoved: OpportunityStatus.OPEN,
    OpportunityWon: OpportunityStatus.WON,
    OpportunityLost: OpportunityStatus.LOST,
    OpportunityReopened: OpportunityStatus.OPEN,
}


def _left(visit: StageVisit, event: DomainEvent) -> StageVisit:
    return StageVisit(visit.stage, visit.entered_at, event.occurred_at)
