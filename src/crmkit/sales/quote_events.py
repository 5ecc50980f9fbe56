"""Events of quotes.

Every quote event carries the quote's number and the ids of its account,
contact and opportunity, so that each appears on their timelines too.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

import attrs

from crmkit.kernel.events import DomainEvent
from crmkit.sales.pricing import Line, Totals


@attrs.frozen(kw_only=True)
class QuoteEvent(DomainEvent):
    """Base class of quote events.

    Attributes:
        number: The quote's number, shared by all its revisions.
        account_id: The customer's account.
        contact_id: The contact it is addressed to, if any.
        opportunity_id: The opportunity it belongs to, if any.
    """

    aggregate_kind: ClassVar[str] = "quote"
    number: str
    account_id: str
    contact_id: str | None = None
    opportunity_id: str | None = None

    def summary(self) -> str:
        """Timeline line."""
        verb = self.event_type.removeprefix("quote_").replace("_", " ")
        return f"quote {self.number} {verb}"

    def subjects(self) -> tuple[str, ...]:
        """The quote, its account, contact and opportunity."""
        related = (self.account_id, self.contact_id, self.opportunity_id)
        return (self.aggregate_id, *(i for i in related if i is not None))


@attrs.frozen(kw_only=True)
class QuoteDrafted(QuoteEvent):
    """A quote (or a new revision of one) was drafted.

    Attributes:
        revision: 1 for a new quote, one more for each revision.
        supersedes: The revision this one replaces, if any.
        author_id: The principal who drafted it.
        currency: The currency of all its prices.
        lines: Its priced lines.
        order_discount: Discount on the whole order, in percent.
        valid_until: Last day (UTC) on which it can be accepted.
    """

    event_type: ClassVar[str] = "quote_drafted"
    revision: int
    supersedes: str | None
    author_id: str
    currency: str
    lines: tuple[Line, ...]
    order_discount: Decimal
    valid_until: date

    def summary(self) -> str:
        """Timeline line."""
        return f"quote {self.number} revision {self.revision} drafted"


@attrs.frozen(kw_only=True)
class QuoteLinesSet(QuoteEvent):
    """A draft's lines, order discount or validity changed; carries all three after the change.

    Attributes:
        lines: The lines.
        order_discount: The order discount, in percent.
        valid_until: The last day of validity.
    """

    event_type: ClassVar[str] = "quote_lines_set"
    lines: tuple[Line, ...]
    order_discount: Decimal
    valid_until: date


@attrs.frozen(kw_only=True)
class QuoteSubmitted(QuoteEvent):
    """A draft was submitted for review."""

    event_type: ClassVar[str] = "quote_submitted"


@attrs.frozen(kw_only=True)
class QuoteApproved(QuoteEvent):
    """A reviewer approved the quote.

    Attributes:
        approver_id: Who approved it (never its author).
    """

    event_type: ClassVar[str] = "quote_approved"
    approver_id: str


@attrs.frozen(kw_only=True)
class QuoteRejected(QuoteEvent):
    """A reviewer rejected the quote; a revision may follow.

    Attributes:
        reason: Why.
    """

    event_type: ClassVar[str] = "quote_rejected"
    reason: str


@attrs.frozen(kw_only=True)
class QuotePresented(QuoteEvent):
    """The quote was presented (sent) to the customer."""

    event_type: ClassVar[str] = "quote_presented"


@attrs.frozen(kw_only=True)
class QuoteAccepted(QuoteEvent):
    """The customer accepted the quote; carries what a contract needs.

    Attributes:
        revision: The accepted revision.
        currency: The currency.
        lines: The accepted lines.
        order_discount: The order discount, in percent.
        totals: The accepted figures.
    """

    event_type: ClassVar[str] = "quote_accepted"
    revision: int
    currency: str
    lines: tuple[Line, ...]
    order_discount: Decimal
    totals: Totals

    def summary(self) -> str:
        """Timeline line."""
        return f"quote {self.number} accepted: {self.totals.total}"


@attrs.frozen(kw_only=True)
class QuoteDeclined(QuoteEvent):
    """The customer declined the quote.

    Attributes:
        reason: Why, if the customer said.
    """

    event_type: ClassVar[str] = "quote_declined"
    reason: str | None = None


@attrs.frozen(kw_only=True)
class QuoteExpired(QuoteEvent):
    """The quote's validity passed before the customer accepted it."""

    event_type: ClassVar[str] = "quote_expired"


@attrs.frozen(kw_only=True)
class QuoteSuperseded(QuoteEvent):
    """A newer revision replaced this quote.

    Attributes:
        by: Id of the new revision.
    """

    event_type: ClassVar[str] = "quote_superseded"
    by: str

    def summary(self) -> str:
        """Timeline line."""
        return f"quote {self.number} superseded by a new revision"


EVENTS: tuple[type[DomainEvent], ...] = (
    QuoteDrafted,
    QuoteLinesSet,
    QuoteSubmitted,
    QuoteApproved,
    QuoteRejected,
    QuotePresented,
    QuoteAccepted,
    QuoteDeclined,
    QuoteExpired,
    QuoteSuperseded,
)
