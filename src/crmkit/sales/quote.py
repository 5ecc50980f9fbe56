"""Quotes: priced offers to a customer, with approval, revisions and expiry.

A quote is drafted, optionally reviewed (a discount above the
`ApprovalPolicy` threshold must be approved by someone other than its author),
presented to the customer, and then accepted, declined or expired. Submitting
a draft for review is always allowed, even when no approval is needed. A
rejected or outdated quote is revised: `Quote.revise` supersedes it and drafts
revision + 1 under the same number, so only one revision of a number is live.

Validity is judged by calendar day in UTC: a quote valid until 31 March can be
accepted until 23:59:59 UTC on that day and expires from 1 April (UTC).

>>> from datetime import UTC, date, datetime
>>> from crmkit.kernel.events import Stamp
>>> from crmkit.kernel.money import Money
>>> from crmkit.sales.pricing import Line
>>> seller = Stamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u-seller")
>>> line = Line(None, "Setup", Decimal(1), Money.of("500.00", "EUR"), Decimal(25))
>>> quote, _ = Quote.draft("q-1", "Q-00042", "a-1", "EUR", date(2026, 3, 31), seller, lines=[line])
>>> policy = ApprovalPolicy(max_discount=Decimal(20))
>>> quote.present(policy, seller)
Traceback (most recent call last):
...
crmkit.kernel.errors.InvalidTransition: quote ... 'present': needs approval: discount 25% > 20%
>>> quote, _ = quote.submit(seller)
>>> quote, _ = quote.approve("u-manager", seller)
>>> quote, _ = quote.present(policy, seller)
>>> quote.status, str(quote.totals.total)
(<QuoteStatus.PRESENTED: 'presented'>, '375.00 EUR')
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple, Self

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, items, of_type, tuple_of, version
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import AccountId, ContactId, OpportunityId, QuoteId, check_id
from crmkit.sales._quote_fields import (
    _account,
    _approver,
    _author,
    _contact,
    _currency,
    _day,
    _decline_reason,
    _number,
    _opportunity,
    _order_discount,
    _quote_id,
    _reason,
    _rejection_reason,
    _revision,
    _superseded_by,
    _supersedes,
)
from crmkit.sales._quote_render import render_quote
from crmkit.sales.pricing import Line, Totals, totals
from crmkit.sales.quote_events import (
    QuoteAccepted,
    QuoteApproved,
    QuoteDeclined,
    QuoteDrafted,
    QuoteEvent,
    QuoteExpired,
    QuoteLinesSet,
    QuotePresented,
    QuoteRejected,
    QuoteSubmitted,
    QuoteSuperseded,
)
from crmkit.sales.quote_policy import QUOTE_LIFECYCLE, ApprovalPolicy, QuoteStatus, utc_day

__all__ = [
    "QUOTE_LIFECYCLE",
    "ApprovalPolicy",
    "Quote",
    "QuoteStatus",
    "Revision",
    "utc_day",
]


@attrs.frozen
class Quote(Replayable):
    """One revision of a quote.

    Attributes:
        id: This revision's id.
        version: Grows by one with every change.
        number: The human quote number (``Q-00042``), shared by all revisions.
        revision: 1, 2, ...: which revision of the number this is.
        status: Where it is in `QUOTE_LIFECYCLE`.
        author_id: The principal who drafted this revision.
        account_id: The customer's account.
        currency: The currency of every price.
        valid_until: Last day (UTC) on which it can be accepted.
        created_at: When it was drafted.
        updated_at: When it last changed.
        contact_id: The contact it is addressed to, if any.
        opportunity_id: The opportunity it belongs to, if any.
        lines: Its priced lines.
        order_discount: Discount on the whole order, in percent.
        supersedes: The revision this one replaced, if any.
        superseded_by: The revision that replaced this one, if any.
        approver_id: Who approved it, once approved.
        rejection_reason: Why a reviewer rejected it.
        decline_reason: Why the customer declined it, if they said.
    """

    id: QuoteId = attrs.field(converter=_quote_id)
    version: int = attrs.field(validator=version)
    number: str = attrs.field(converter=_number)
    revision: int = attrs.field(validator=_revision)
    status: QuoteStatus = attrs.field(validator=of_type(QuoteStatus))
    author_id: str = attrs.field(converter=_author)
    account_id: AccountId = attrs.field(converter=_account)
    currency: str = attrs.field(converter=_currency)
    valid_until: date = attrs.field(validator=_day)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    contact_id: ContactId | None = attrs.field(default=None, converter=_contact)
    opportunity_id: OpportunityId | None = attrs.field(default=None, converter=_opportunity)
    lines: tuple[Line, ...] = attrs.field(default=(), validator=tuple_of(Line))
    order_discount: Decimal = attrs.field(default=Decimal(0), converter=_order_discount)
    supersedes: QuoteId | None = attrs.field(default=None, converter=_supersedes)
    superseded_by: QuoteId | None = attrs.field(default=None, converter=_superseded_by)
    approver_id: str | None = attrs.field(default=None, converter=_approver)
    rejection_reason: str | None = attrs.field(default=None, converter=_rejection_reason)
    decline_reason: str | None = attrs.field(default=None, converter=_decline_reason)

    @property
    def totals(self) -> Totals:
        """The quote's figures, computed from its lines (see `crmkit.sales.pricing`)."""
        return totals(self.lines, self.currency, order_discount=self.order_discount)

    @property
    def live(self) -> bool:
        """Whether this revision has not been superseded."""
        return self.status is not QuoteStatus.SUPERSEDED

    def is_expired(self, now: datetime) -> bool:
        """Whether ``now``'s UTC day is after ``valid_until``."""
        return utc_day(now) > self.valid_until

    def render(self) -> dict[str, object]:
        """A plain, JSON-ready document of the quote for host templates (see the docs)."""
        return render_quote(self)

    # --- creation and replay ---

    @classmethod
    def draft(
        cls,
        id: str,
        number: str,
        account_id: str,
        currency: str,
        valid_until: date,
        stamp: Stamp,
        *,
        contact_id: str | None = None,
        opportunity_id: str | None = None,
        lines: tuple[Line, ...] | list[Line] = (),
        order_discount: Decimal | int | str = Decimal(0),
    ) -> tuple[Quote, QuoteDrafted]:
        """A new quote, revision 1, in draft, authored by ``stamp.actor``."""
        return cls._drafted(
            id, number, 1, None, account_id, contact_id, opportunity_id, currency,
            lines, order_discount, valid_until, stamp,
        )  # fmt: skip

    @classmethod
    def _drafted(
        cls,
        id: str,
        number: str,
        revision: int,
        supersedes: str | None,
        account_id: str,
        contact_id: str | None,
        opportunity_id: str | None,
        currency: str,
        lines: object,
        order_discount: object,
        valid_until: date,
        stamp: Stamp,
    ) -> tuple[Quote, QuoteDrafted]:
        checked = cls(
            id, 1, number, revision, QuoteStatus.DRAFT, stamp.actor, account_id, currency,
            valid_until, stamp.at, stamp.at, contact_id=contact_id,
            opportunity_id=opportunity_id, lines=items(lines, "lines"),
            order_discount=order_discount, supersedes=supersedes,
        )  # fmt: skip
        checked.totals  # noqa: B018 -- checks the lines' currency before anything is recorded
        event = QuoteDrafted(
            aggregate_id=checked.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            number=checked.number,
            account_id=checked.account_id,
            contact_id=checked.contact_id,
            opportunity_id=checked.opportunity_id,
            revision=revision,
            supersedes=checked.supersedes,
            author_id=checked.author_id,
            currency=checked.currency,
            lines=checked.lines,
            order_discount=checked.order_discount,
            valid_until=checked.valid_until,
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The first state, from `QuoteDrafted`."""
        if not isinstance(event, QuoteDrafted):
            raise ValidationError("events[0]", "must be QuoteDrafted", event.event_type)
        return cls(
            event.aggregate_id, 1, event.number, event.revision, QuoteStatus.DRAFT,
            event.author_id, event.account_id, event.currency, event.valid_until,
            event.occurred_at, event.occurred_at, contact_id=event.contact_id,
            opportunity_id=event.opportunity_id, lines=event.lines,
            order_discount=event.order_discount, supersedes=event.supersedes,
        )  # fmt: skip

    def apply(self, event: DomainEvent) -> Self:
        """The state after one of this quote's events."""
        step: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at}
        if isinstance(event, QuoteLinesSet):
            step.update(
                lines=event.lines, order_discount=event.order_discount,
                valid_until=event.valid_until,
            )  # fmt: skip
        elif isinstance(event, QuoteApproved):
            step.update(status=QuoteStatus.APPROVED, approver_id=event.approver_id)
        elif isinstance(event, QuoteRejected):
            step.update(status=QuoteStatus.REJECTED, rejection_reason=event.reason)
        elif isinstance(event, QuoteDeclined):
            step.update(status=QuoteStatus.DECLINED, decline_reason=event.reason)
        elif isinstance(event, QuoteSuperseded):
            step.update(status=QuoteStatus.SUPERSEDED, superseded_by=event.by)
        else:
            target = _PLAIN.get(type(event))
            if target is None:
                raise ValidationError("event", "must be a quote event", event.event_type)
            step["status"] = target
        return self._evolve(**step)

    def _event(self, cls: type[QuoteEvent], stamp: Stamp, **data: Any) -> Any:
        return cls(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            number=self.number,
            account_id=self.account_id,
            contact_id=self.contact_id,
            opportunity_id=self.opportunity_id,
            **data,
        )

    def _do(self, cls: type[QuoteEvent], stamp: Stamp, **data: Any) -> tuple[Self, Any]:
        event = self._event(cls, stamp, **data)
        return self.apply(event), event

    # --- commands ---

    def edit(
        self,
        stamp: Stamp,
        *,
        lines: tuple[Line, ...] | list[Line] | None = None,
        order_discount: Decimal | int | str | None = None,
        valid_until: date | None = None,
    ) -> tuple[Quote, QuoteLinesSet]:
        """Change a draft's lines, order discount or validity (None leaves one as it is)."""
        if self.status is not QuoteStatus.DRAFT:
            raise QUOTE_LIFECYCLE.refuse(self.status, "edit", "only a draft can be edited")
        given: dict[str, Any] = {}
        if lines is not None:
            given["lines"] = items(lines, "lines")
        if order_discount is not None:
            given["order_discount"] = order_discount
        if valid_until is not None:
            given["valid_until"] = valid_until
        checked = attrs.evolve(self, **given)
        checked.totals  # noqa: B018 -- checks the lines' currency
        if all(getattr(checked, k) == getattr(self, k) for k in given):
            raise ValidationError("changes", "change nothing")
        return self._do(
            QuoteLinesSet, stamp, lines=checked.lines, order_discount=checked.order_discount,
            valid_until=checked.valid_until,
        )  # fmt: skip

    def submit(self, stamp: Stamp) -> tuple[Quote, QuoteSubmitted]:
        """Send a draft for review (allowed whether or not approval is needed)."""
        QUOTE_LIFECYCLE.target(self.status, "submit")
        if not self.lines:
            raise QUOTE_LIFECYCLE.refuse(self.status, "submit", "the quote has no lines")
        return self._do(QuoteSubmitted, stamp)

    def approve(self, approver_id: str, stamp: Stamp) -> tuple[Quote, QuoteApproved]:
        """Approve a quote in review; the author cannot approve their own quote."""
        QUOTE_LIFECYCLE.target(self.status, "approve")
        approver = check_id(approver_id, "approver_id")
        if approver == self.author_id:
            reason = "the author cannot approve their own quote"
            raise QUOTE_LIFECYCLE.refuse(self.status, "approve", reason)
        return self._do(QuoteApproved, stamp, approver_id=approver)

    def reject(self, reason: str, stamp: Stamp) -> tuple[Quote, QuoteRejected]:
        """Reject a quote in review, saying why; revise it to try again."""
        QUOTE_LIFECYCLE.target(self.status, "reject")
        return self._do(QuoteRejected, stamp, reason=_reason(reason, "reason"))

    def present(self, policy: ApprovalPolicy, stamp: Stamp) -> tuple[Quote, QuotePresented]:
        """Present the quote to the customer.

        From draft only when ``policy`` needs no approval (else `InvalidTransition`
        ``needs approval: discount 25% > 20%``); from approved always. Refused when
        it has no lines or its validity has passed.
        """
        QUOTE_LIFECYCLE.target(self.status, "present")
        if not isinstance(policy, ApprovalPolicy):
            raise ValidationError("policy", "must be an ApprovalPolicy", policy)
        if not self.lines:
            raise QUOTE_LIFECYCLE.refuse(self.status, "present", "the quote has no lines")
        if self.is_expired(stamp.at):
            reason = f"its validity ended on {self.valid_until.isoformat()}"
            raise QUOTE_LIFECYCLE.refuse(self.status, "present", reason)
        if self.status is QuoteStatus.DRAFT:
            why = policy.reason(self)
            if why is not None:
                raise QUOTE_LIFECYCLE.refuse(self.status, "present", f"needs approval: {why}")
        return self._do(QuotePresented, stamp)

    def accept(self, stamp: Stamp) -> tuple[Quote, QuoteAccepted]:
        """The customer accepts; refused once the validity has passed (expire it instead)."""
        QUOTE_LIFECYCLE.target(self.status, "accept")
        if self.is_expired(stamp.at):
            reason = f"its validity ended on {self.valid_until.isoformat()}; expire it instead"
            raise QUOTE_LIFECYCLE.refuse(self.status, "accept", reason)
        return self._do(
            QuoteAccepted, stamp, revision=self.revision, currency=self.currency,
            lines=self.lines, order_discount=self.order_discount, totals=self.totals,
        )  # fmt: skip

    def decline(self, stamp: Stamp, reason: str | None = None) -> tuple[Quote, QuoteDeclined]:
        """The customer declines, optionally saying why."""
        QUOTE_LIFECYCLE.target(self.status, "decline")
        text = None if reason is None else _reason(reason, "reason")
        return self._do(QuoteDeclined, stamp, reason=text)

    def expire(self, stamp: Stamp) -> tuple[Quote, QuoteExpired]:
        """Mark a presented quote expired; refused unless the stamp's UTC day is past validity."""
        QUOTE_LIFECYCLE.target(self.status, "expire")
        if not self.is_expired(stamp.at):
            reason = f"it is valid until {self.valid_until.isoformat()}"
            raise QUOTE_LIFECYCLE.refuse(self.status, "expire", reason)
        return self._do(QuoteExpired, stamp)

    def supersede(self, by: str, stamp: Stamp) -> tuple[Quote, QuoteSuperseded]:
        """Mark this revision replaced by revision ``by`` (`revise` does this for you)."""
        QUOTE_LIFECYCLE.target(self.status, "supersede")
        new_id = check_id(by, "by")
        if new_id == self.id:
            raise ValidationError("by", "must be another quote", by)
        return self._do(QuoteSuperseded, stamp, by=new_id)

    def revise(self, new_id: str, stamp: Stamp) -> Revision:
        """Supersede this revision and draft the next one, copying its terms.

        The new draft has the same number, parties, lines, order discount and
        validity, ``revision + 1``, ``supersedes`` this quote, and ``stamp.actor``
        as its author.
        """
        old, superseded = self.supersede(new_id, stamp)
        new, drafted = Quote._drafted(
            new_id, self.number, self.revision + 1, self.id, self.account_id, self.contact_id,
            self.opportunity_id, self.currency, self.lines, self.order_discount,
            self.valid_until, stamp,
        )  # fmt: skip
        return Revision(old, superseded, new, drafted)


_PLAIN: dict[type[DomainEvent], QuoteStatus] = {
    QuoteSubmitted: QuoteStatus.IN_REVIEW,
    QuotePresented: QuoteStatus.PRESENTED,
    QuoteAccepted: QuoteStatus.ACCEPTED,
    QuoteExpired: QuoteStatus.EXPIRED,
}


class Revision(NamedTuple):
    """What `Quote.revise` returns; unpacks as ``old, superseded, new, drafted``.

    Attributes:
        old: The previous revision, now superseded.
        superseded: Its `QuoteSuperseded` event.
        new: The new draft revision.
        drafted: Its `QuoteDrafted` event.
    """

    old: Quote
    superseded: QuoteSuperseded
    new: Quote
    drafted: QuoteDrafted
