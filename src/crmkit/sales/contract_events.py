"""Events of contracts: each carries every value that `Contract.apply` needs.

Every contract event names the contract's account and contact, so that it
shows on their timelines too. Summaries hold no personal data.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar
from zoneinfo import ZoneInfo

import attrs

from crmkit.kernel.events import DomainEvent
from crmkit.kernel.money import Money
from crmkit.sales.pricing import Line
from crmkit.sales.terms import Amendment, BillingPeriod, RenewalMode, Term


@attrs.frozen(kw_only=True)
class ContractEvent(DomainEvent):
    """Base class of every contract event.

    Attributes:
        account_id: The contract's account.
        contact_id: The contract's contact, if it has one.
    """

    event_type: ClassVar[str] = "contract_event"
    aggregate_kind: ClassVar[str] = "contract"

    account_id: str
    contact_id: str | None

    def subjects(self) -> tuple[str, ...]:
        """The contract, its account and its contact."""
        ids = (self.aggregate_id, self.account_id, self.contact_id)
        return tuple(i for i in ids if i is not None)


@attrs.frozen(kw_only=True)
class ContractOpened(ContractEvent):
    """Base class of the two events that create a contract; they carry all its terms.

    Attributes:
        number: The contract number shown to people.
        opportunity_id: The opportunity it came from, if any.
        quote_id: The accepted quote it came from, if any.
        amount: The amount billed per billing period.
        billing_period: How often it is billed.
        start_date: The first day of the term.
        term: How long it runs.
        end_date: The first day after the term (exclusive).
        notice_period: How long before the end date it comes up for renewal.
        renewal: Whether it renews automatically or manually.
        uplift: Percentage added to the amount on renewal.
        time_zone: The zone whose calendar dates the contract's days follow.
        lines: The priced lines agreed, for reference.
    """

    event_type: ClassVar[str] = "contract_opened"

    number: str
    opportunity_id: str | None
    quote_id: str | None
    amount: Money
    billing_period: BillingPeriod
    start_date: date
    term: Term
    end_date: date
    notice_period: Term
    renewal: RenewalMode
    uplift: Decimal
    time_zone: ZoneInfo
    lines: tuple[Line, ...] = ()


@attrs.frozen(kw_only=True)
class ContractDrafted(ContractOpened):
    """A contract was drafted (by hand or from an accepted quote)."""

    event_type: ClassVar[str] = "contract_drafted"

    def summary(self) -> str:
        """Timeline line."""
        return (
            f"contract {self.number} drafted: {self.amount} {self.billing_period} for {self.term}"
        )


@attrs.frozen(kw_only=True)
class ContractCreatedByRenewal(ContractOpened):
    """A contract was created, already active, as the renewal of an earlier one.

    Attributes:
        renews: The contract it renews.
    """

    event_type: ClassVar[str] = "contract_created_by_renewal"

    renews: str

    def summary(self) -> str:
        """Timeline line."""
        return f"contract {self.number} renewed from {self.start_date} at {self.amount}"

    def subjects(self) -> tuple[str, ...]:
        """The contract, its account and contact, and the contract it renews."""
        return (*super().subjects(), self.renews)


@attrs.frozen(kw_only=True)
class ContractSent(ContractEvent):
    """A drafted contract was sent out for signature."""

    event_type: ClassVar[str] = "contract_sent"

    def summary(self) -> str:
        """Timeline line."""
        return "contract sent for signature"


@attrs.frozen(kw_only=True)
class ContractSigned(ContractEvent):
    """The contract was signed and is active; ``occurred_at`` is the signing time."""

    event_type: ClassVar[str] = "contract_signed"

    def summary(self) -> str:
        """Timeline line."""
        return "contract signed"


@attrs.frozen(kw_only=True)
class ContractFlaggedForRenewal(ContractEvent):
    """The contract entered its notice window and is up for renewal.

    Attributes:
        end_date: The first day after its term.
    """

    event_type: ClassVar[str] = "contract_flagged_for_renewal"

    end_date: date

    def summary(self) -> str:
        """Timeline line."""
        return f"contract up for renewal (ends {self.end_date})"


@attrs.frozen(kw_only=True)
class ContractRenewed(ContractEvent):
    """The contract was renewed by a successor contract.

    Attributes:
        successor_id: The successor contract.
        successor_start: The successor's start date (this contract's end date).
        successor_amount: The successor's amount per billing period, after uplift.
    """

    event_type: ClassVar[str] = "contract_renewed"

    successor_id: str
    successor_start: date
    successor_amount: Money

    def summary(self) -> str:
        """Timeline line."""
        return f"contract renewed from {self.successor_start} at {self.successor_amount}"

    def subjects(self) -> tuple[str, ...]:
        """The contract, its account and contact, and its successor."""
        return (*super().subjects(), self.successor_id)


@attrs.frozen(kw_only=True)
class ContractExpired(ContractEvent):
    """The contract reached its end date without renewal.

    Attributes:
        end_date: The first day after its term.
    """

    event_type: ClassVar[str] = "contract_expired"

    end_date: date

    def summary(self) -> str:
        """Timeline line."""
        return f"contract expired on {self.end_date}"


@attrs.frozen(kw_only=True)
class ContractTerminated(ContractEvent):
    """The contract was terminated before its end.

    Attributes:
        reason: Why, in a line.
        effective_on: The first day it no longer applies.
    """

    event_type: ClassVar[str] = "contract_terminated"

    reason: str
    effective_on: date

    def summary(self) -> str:
        """Timeline line (the reason stays out: it is free text)."""
        return f"contract terminated from {self.effective_on}"


@attrs.frozen(kw_only=True)
class ContractAmended(ContractEvent):
    """The contract's terms were amended.

    Attributes:
        amendment: The agreed change.
    """

    event_type: ClassVar[str] = "contract_amended"

    amendment: Amendment

    def summary(self) -> str:
        """Timeline line."""
        return "contract amended: " + ", ".join(self.amendment.changes)


EVENTS: tuple[type[DomainEvent], ...] = (
    ContractDrafted,
    ContractCreatedByRenewal,
    ContractSent,
    ContractSigned,
    ContractFlaggedForRenewal,
    ContractRenewed,
    ContractExpired,
    ContractTerminated,
    ContractAmended,
)
"""Every event class of contracts."""
