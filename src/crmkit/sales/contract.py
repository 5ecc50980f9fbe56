"""Contracts: a recurring amount billed over a term, signed, renewed, expired or terminated.

A contract bills a fixed ``amount`` every ``billing_period`` from its
``start_date`` for its ``term``; its ``end_date`` (start plus term) is
exclusive. ``notice_period`` before the end date it comes up for renewal. At
the end date an automatic contract renews (a successor starts at the end date
with the same term and the amount raised by ``uplift`` percent); a manual one
expires unless someone renewed it before.

Terms are calendar dates. The clock gives instants, so the contract turns an
instant into today's date in its ``time_zone`` (UTC unless given): a contract
in ``Asia/Tokyo`` reaches its end date nine hours before one in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, items, of_type, tuple_of, version
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import AccountId, ContactId, ContractId, OpportunityId, QuoteId, check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.money import Money
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import require_aware
from crmkit.sales import _contract_fields as _f
from crmkit.sales.contract_events import (
    ContractAmended,
    ContractCreatedByRenewal,
    ContractDrafted,
    ContractEvent,
    ContractExpired,
    ContractFlaggedForRenewal,
    ContractOpened,
    ContractRenewed,
    ContractSent,
    ContractSigned,
    ContractTerminated,
)
from crmkit.sales.pricing import Line
from crmkit.sales.terms import (
    Amendment,
    Bill,
    BillingPeriod,
    RenewalMode,
    Term,
    billing_schedule,
    bills,
    check_date,
    check_term,
    uplifted,
)

E = TypeVar("E", bound=ContractEvent)


class ContractStatus(StrEnum):
    """Where a contract is in its lifecycle."""

    DRAFT = "draft"
    AWAITING_SIGNATURE = "awaiting_signature"
    ACTIVE = "active"
    UP_FOR_RENEWAL = "up_for_renewal"
    RENEWED = "renewed"
    EXPIRED = "expired"
    TERMINATED = "terminated"


_S = ContractStatus
CONTRACT_LIFECYCLE: Final = Lifecycle(
    "contract",
    ContractStatus,
    _S.DRAFT,
    [
        Transition("send", _S.DRAFT, _S.AWAITING_SIGNATURE),
        Transition("sign", _S.AWAITING_SIGNATURE, _S.ACTIVE),
        Transition(
            "flag_for_renewal", _S.ACTIVE, _S.UP_FOR_RENEWAL, guard="inside the notice period"
        ),
        Transition("renew", _S.UP_FOR_RENEWAL, _S.RENEWED),
        Transition("expire", (_S.ACTIVE, _S.UP_FOR_RENEWAL), _S.EXPIRED, guard="at the end date"),
        Transition(
            "terminate",
            (_S.DRAFT, _S.AWAITING_SIGNATURE, _S.ACTIVE, _S.UP_FOR_RENEWAL),
            _S.TERMINATED,
        ),
        Transition("amend", _S.DRAFT, _S.DRAFT),
        Transition("amend", _S.ACTIVE, _S.ACTIVE),
    ],
    final=(_S.RENEWED, _S.EXPIRED, _S.TERMINATED),
)
"""Draft, awaiting signature, active, up for renewal, then renewed, expired or terminated."""

_COMMANDS: Final[dict[type[DomainEvent], str]] = {
    ContractSent: "send",
    ContractSigned: "sign",
    ContractFlaggedForRenewal: "flag_for_renewal",
    ContractRenewed: "renew",
    ContractExpired: "expire",
    ContractTerminated: "terminate",
    ContractAmended: "amend",
}


@attrs.frozen
class Renewal:
    """What renewing a contract gives: the renewed contract and its active successor.

    Attributes:
        contract: The renewed contract (final).
        event: Its `ContractRenewed` event.
        successor: The new contract, active from the old one's end date.
        successor_event: The successor's creation event.
    """

    contract: Contract
    event: ContractRenewed
    successor: Contract
    successor_event: ContractCreatedByRenewal


@attrs.frozen
class Contract(Replayable):
    """An agreement to bill an amount every billing period over a term.

    Attributes:
        id: The contract's id.
        version: Grows by one with every change.
        number: The contract number shown to people.
        status: Where it is in `CONTRACT_LIFECYCLE`.
        account_id: The customer account.
        contact_id: The contact who signs, if known.
        opportunity_id: The opportunity it came from, if any.
        quote_id: The accepted quote it was drafted from (None when drafted by hand).
        currency: ISO 4217 code of its amounts.
        amount: The amount billed every billing period.
        billing_period: How often it is billed (in advance).
        start_date: The first day of the term.
        term: How long it runs.
        end_date: The first day after the term (start plus term, exclusive).
        notice_period: How long before the end date it comes up for renewal.
        renewal: Whether it renews by itself at the end date.
        uplift: Percentage added to the amount on renewal (rounded to the minor unit).
        time_zone: The zone that turns the clock's instants into the contract's dates.
        created_at: When it was created.
        updated_at: When it last changed.
        signed_at: When it was signed (None until then, and for renewals).
        terminated_on: The first day a termination takes effect.
        termination_reason: Why it was terminated.
        renewed_by: The successor contract that renewed it.
        renews: The predecessor contract it renews.
        amendments: Agreed changes of its terms, oldest first.
        lines: The priced lines agreed (products, quantities, prices), for reference:
            ``amount`` is what is billed each period.
    """

    id: ContractId = attrs.field(converter=_f.contract_id)
    version: int = attrs.field(validator=version)
    number: str = attrs.field(converter=_f.number)
    status: ContractStatus = attrs.field(validator=of_type(ContractStatus))
    account_id: AccountId = attrs.field(converter=_f.account_id)
    contact_id: ContactId | None = attrs.field(converter=_f.contact_id)
    opportunity_id: OpportunityId | None = attrs.field(converter=_f.opportunity_id)
    quote_id: QuoteId | None = attrs.field(converter=_f.quote_id)
    currency: str = attrs.field(validator=of_type(str))
    amount: Money = attrs.field(validator=of_type(Money))
    billing_period: BillingPeriod = attrs.field(converter=_f.billing_period)
    start_date: date = attrs.field(converter=_f.start_date)
    term: Term = attrs.field(converter=_f.term)
    end_date: date = attrs.field(converter=_f.end_date)
    notice_period: Term = attrs.field(converter=_f.notice)
    renewal: RenewalMode = attrs.field(converter=_f.renewal)
    uplift: Decimal = attrs.field(converter=_f.uplift)
    time_zone: ZoneInfo = attrs.field(converter=_f.time_zone)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    signed_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    terminated_on: date | None = attrs.field(default=None, converter=_f.terminated_on)
    termination_reason: str | None = attrs.field(default=None, converter=_f.reason)
    renewed_by: ContractId | None = attrs.field(default=None, converter=_f.renewed_by)
    renews: ContractId | None = attrs.field(default=None, converter=_f.renews)
    amendments: tuple[Amendment, ...] = attrs.field(default=(), validator=tuple_of(Amendment))
    lines: tuple[Line, ...] = attrs.field(default=(), validator=tuple_of(Line))

    def __attrs_post_init__(self) -> None:
        _f.check_money(self.amount, self.currency)
        billing_schedule(self.start_date, self.term, self.billing_period)  # whole periods
        if self.end_date != self.term.end(self.start_date):
            raise ValidationError("end_date", "must be start_date plus term", self.end_date)
        _f.check_notice(self.notice_period, self.term)
        _f.check_lines(self.lines, self.currency)

    @classmethod
    def draft(
        cls,
        id: str,
        number: str,
        stamp: Stamp,
        *,
        account_id: str,
        start_date: date,
        term: Term,
        billing_period: BillingPeriod | str,
        amount: Money,
        contact_id: str | None = None,
        opportunity_id: str | None = None,
        quote_id: str | None = None,
        notice_period: Term = Term(months=1),  # noqa: B008 (a frozen value)
        renewal: RenewalMode | str = RenewalMode.MANUAL,
        uplift: Decimal | int | str = Decimal(0),
        time_zone: ZoneInfo | str = "UTC",
        lines: Iterable[Line] = (),
    ) -> tuple[Contract, ContractDrafted]:
        """A new draft contract at version 1, and the event that records it."""
        _f.check_stamp(stamp)
        if not isinstance(amount, Money):
            raise ValidationError("amount", "must be Money", amount)
        term = check_term(term)
        start = check_date(start_date, "start_date")
        checked = cls(
            id, 1, number, ContractStatus.DRAFT, account_id, contact_id, opportunity_id,
            quote_id, amount.currency, amount, billing_period, start, term, term.end(start),
            notice_period, renewal, uplift, time_zone, stamp.at, stamp.at,
            lines=items(lines, "lines"),
        )  # fmt: skip
        event = ContractDrafted(
            aggregate_id=checked.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            **_f.terms_of(checked),
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Contract:
        """The first state, from `ContractDrafted` or `ContractCreatedByRenewal`."""
        if not isinstance(event, ContractOpened):
            raise ValidationError("events", "must start with a contract's creation event", event)
        renews = event.renews if isinstance(event, ContractCreatedByRenewal) else None
        status = ContractStatus.DRAFT if renews is None else ContractStatus.ACTIVE
        return cls(
            event.aggregate_id, event.version, event.number, status, event.account_id,
            event.contact_id, event.opportunity_id, event.quote_id, event.amount.currency,
            event.amount, event.billing_period, event.start_date, event.term, event.end_date,
            event.notice_period, event.renewal, event.uplift, event.time_zone,
            event.occurred_at, event.occurred_at, renews=renews, lines=event.lines,
        )  # fmt: skip

    def apply(self, event: DomainEvent) -> Contract:
        """The state after ``event``, one of this contract's own events."""
        command = _COMMANDS.get(type(event))
        if command is None:
            raise ValidationError("event", "must be an event of a contract", event)
        changes: dict[str, Any] = {
            "status": CONTRACT_LIFECYCLE.target(self.status, command),
            "version": event.version,
            "updated_at": event.occurred_at,
        }
        if isinstance(event, ContractSigned):
            changes["signed_at"] = event.occurred_at
        elif isinstance(event, ContractRenewed):
            changes["renewed_by"] = ContractId(event.successor_id)
        elif isinstance(event, ContractTerminated):
            changes["terminated_on"] = event.effective_on
            changes["termination_reason"] = event.reason
        elif isinstance(event, ContractAmended):
            amendment = event.amendment
            changes["amendments"] = (*self.amendments, amendment)
            changes.update({name: getattr(amendment, name) for name in amendment.changes})
        return self._evolve(**changes)

    def _do(self, command: str, cls: type[E], stamp: Stamp, **data: Any) -> tuple[Contract, E]:
        CONTRACT_LIFECYCLE.target(self.status, command)  # refuse before building anything
        _f.check_stamp(stamp)
        event = cls(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=require_aware(stamp.at, "stamp.at"),
            actor=stamp.actor,
            account_id=self.account_id,
            contact_id=self.contact_id,
            **data,
        )
        return self.apply(event), event

    def today(self, at: datetime) -> date:
        """The contract's date at instant ``at``: its calendar day in `time_zone`."""
        return require_aware(at, "at").astimezone(self.time_zone).date()

    @property
    def notice_from(self) -> date:
        """The first day of the notice window: `end_date` minus `notice_period`.

        Never before `start_date`: month ends do not subtract back exactly (a month
        from January 30 ends on February 28, and a month before that is January 28).
        """
        return max(self.start_date, self.notice_period.before(self.end_date))

    def due(self, at: datetime) -> tuple[str, ...]:
        """The commands the clock makes due at instant ``at``, to run in this order.

        An active contract inside its notice window is due ``flag_for_renewal``;
        from its end date on, an automatic one is then due ``renew`` and a
        manual one ``expire``. Other states have nothing due.
        """
        today = self.today(at)
        automatic = self.renewal is RenewalMode.AUTOMATIC
        at_end = today >= self.end_date
        if self.status is ContractStatus.ACTIVE:
            if at_end and not automatic:
                return ("expire",)
            if today >= self.notice_from:
                return ("flag_for_renewal", "renew") if at_end else ("flag_for_renewal",)
        elif self.status is ContractStatus.UP_FOR_RENEWAL and at_end:
            return ("renew",) if automatic else ("expire",)
        return ()

    def send(self, stamp: Stamp) -> tuple[Contract, ContractSent]:
        """Send the draft out for signature."""
        return self._do("send", ContractSent, stamp)

    def sign(self, stamp: Stamp) -> tuple[Contract, ContractSigned]:
        """Record the signature; the contract becomes active (``signed_at`` is the stamp's time)."""
        return self._do("sign", ContractSigned, stamp)

    def flag_for_renewal(self, stamp: Stamp) -> tuple[Contract, ContractFlaggedForRenewal]:
        """Mark the contract up for renewal; refused before its notice window opens."""
        command = "flag_for_renewal"
        CONTRACT_LIFECYCLE.target(self.status, command)
        if self.today(_f.check_stamp(stamp).at) < self.notice_from:
            raise CONTRACT_LIFECYCLE.refuse(
                self.status, command, f"the notice period starts on {self.notice_from}"
            )
        return self._do(command, ContractFlaggedForRenewal, stamp, end_date=self.end_date)

    def expire(self, stamp: Stamp) -> tuple[Contract, ContractExpired]:
        """End the contract at its end date without renewal; refused before the end date."""
        CONTRACT_LIFECYCLE.target(self.status, "expire")
        if self.today(_f.check_stamp(stamp).at) < self.end_date:
            raise CONTRACT_LIFECYCLE.refuse(self.status, "expire", f"it ends on {self.end_date}")
        return self._do("expire", ContractExpired, stamp, end_date=self.end_date)

    def terminate(
        self, reason: str, effective_on: date, stamp: Stamp
    ) -> tuple[Contract, ContractTerminated]:
        """Terminate the contract from ``effective_on`` (at the latest its end date)."""
        CONTRACT_LIFECYCLE.target(self.status, "terminate")
        why = clean_line(reason, "reason", max_len=500)
        effective = check_date(effective_on, "effective_on")
        if effective > self.end_date:
            raise ValidationError(
                "effective_on", f"must be on or before the end date {self.end_date}", effective
            )
        return self._do("terminate", ContractTerminated, stamp, reason=why, effective_on=effective)

    def amend(
        self,
        description: str,
        stamp: Stamp,
        *,
        amount: Money | None = None,
        notice_period: Term | None = None,
        renewal: RenewalMode | str | None = None,
        uplift: Decimal | int | str | None = None,
    ) -> tuple[Contract, ContractAmended]:
        """Change terms by agreement (None leaves a term); only what differs is recorded."""
        CONTRACT_LIFECYCLE.target(self.status, "amend")
        _f.check_stamp(stamp)
        given = Amendment(stamp.at, description, amount, notice_period, renewal, uplift)
        if given.amount is not None:
            _f.check_money(given.amount, self.currency)
        if given.notice_period is not None:
            _f.check_notice(given.notice_period, self.term)
        changed = {
            k: getattr(given, k) for k in given.changes if getattr(self, k) != getattr(given, k)
        }
        if not changed:
            raise ValidationError("changes", "must change at least one term")
        amendment = Amendment(stamp.at, given.description, **changed)
        return self._do("amend", ContractAmended, stamp, amendment=amendment)

    def renew(self, successor_id: str, stamp: Stamp, *, number: str | None = None) -> Renewal:
        """Renew: a successor contract starts, active, at this one's end date.

        The successor keeps the term, billing period, notice period, renewal
        mode, uplift, time zone and parties; its amount is this one's raised by
        `uplift` percent. It keeps this contract's number unless given another.
        A renewal is not signed again: its ``signed_at`` is None and ``renews``
        names the signed predecessor.
        """
        CONTRACT_LIFECYCLE.target(self.status, "renew")
        successor_id = check_id(successor_id, "successor_id")
        if successor_id == self.id:
            raise ValidationError(
                "successor_id", "must differ from the contract's id", successor_id
            )
        _f.check_stamp(stamp)
        terms = _f.terms_of(self)
        terms.update(
            number=self.number if number is None else _f.number(number),
            quote_id=None,
            amount=uplifted(self.amount, self.uplift),
            start_date=self.end_date,
            end_date=self.term.end(self.end_date),
        )
        successor_event = ContractCreatedByRenewal(
            aggregate_id=successor_id,
            version=1,
            occurred_at=require_aware(stamp.at, "stamp.at"),
            actor=stamp.actor,
            renews=self.id,
            **terms,
        )
        successor = Contract.created(successor_event)
        contract, event = self._do(
            "renew",
            ContractRenewed,
            stamp,
            successor_id=successor.id,
            successor_start=successor.start_date,
            successor_amount=successor.amount,
        )
        return Renewal(contract, event, successor, successor_event)

    def bills(self) -> tuple[Bill, ...]:
        """The contract's bills at its current amount.

        A terminated contract keeps only the bills dated before its termination takes effect.
        """
        schedule = bills(self.start_date, self.term, self.billing_period, self.amount)
        if self.terminated_on is None:
            return schedule
        return tuple(bill for bill in schedule if bill.date < self.terminated_on)
