"""The rules of quotes: their states and lifecycle, the approval policy, and validity days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

import attrs

from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.time import require_aware
from crmkit.sales.pricing import check_percent

if TYPE_CHECKING:
    from crmkit.sales.quote import Quote


class QuoteStatus(StrEnum):
    """Where a quote is in its lifecycle."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PRESENTED = "presented"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


_S = QuoteStatus

QUOTE_LIFECYCLE = Lifecycle(
    "quote",
    QuoteStatus,
    _S.DRAFT,
    [
        Transition("submit", _S.DRAFT, _S.IN_REVIEW, guard="has lines"),
        Transition("approve", _S.IN_REVIEW, _S.APPROVED, guard="approver is not the author"),
        Transition("reject", _S.IN_REVIEW, _S.REJECTED, guard="reason"),
        Transition("present", _S.DRAFT, _S.PRESENTED, guard="no approval needed, still valid"),
        Transition("present", _S.APPROVED, _S.PRESENTED, guard="still valid"),
        Transition("accept", _S.PRESENTED, _S.ACCEPTED, guard="still valid"),
        Transition("decline", _S.PRESENTED, _S.DECLINED),
        Transition("expire", _S.PRESENTED, _S.EXPIRED, guard="valid_until has passed"),
        Transition(
            "supersede",
            (_S.DRAFT, _S.IN_REVIEW, _S.APPROVED, _S.REJECTED, _S.PRESENTED),
            _S.SUPERSEDED,
            guard="by a new revision",
        ),
    ],
    final=(_S.ACCEPTED, _S.DECLINED, _S.EXPIRED, _S.SUPERSEDED),
)
"""The quote's lifecycle; ``supersede`` is what `Quote.revise` does to the old revision."""


def _max_discount(value: object) -> Decimal:
    return check_percent(value, "max_discount")


def _percent_text(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


@attrs.frozen
class ApprovalPolicy:
    """When a quote needs approval before it may be presented.

    Attributes:
        max_discount: The largest discount, in percent, that needs no approval. A
            line discount, the order discount or the effective discount on the
            whole quote (``discount / subtotal``) above it needs approval.
    """

    max_discount: Decimal = attrs.field(converter=_max_discount)

    def reason(self, quote: Quote) -> str | None:
        """Why ``quote`` needs approval (``discount 25% > 20%``), or None if it does not."""
        figures = [line.discount for line in quote.lines]
        figures.append(quote.order_discount)
        result = quote.totals
        if result.subtotal.amount:
            figures.append(result.discount.amount * 100 / result.subtotal.amount)
        worst = max(figures)
        if worst > self.max_discount:
            return f"discount {_percent_text(worst)}% > {_percent_text(self.max_discount)}%"
        return None

    def needs_approval(self, quote: Quote) -> bool:
        """Whether any discount of ``quote`` exceeds the threshold."""
        return self.reason(quote) is not None


def utc_day(moment: datetime) -> date:
    """The calendar day of an aware datetime in UTC (validity is judged by it)."""
    return require_aware(moment, "at").astimezone(UTC).date()
