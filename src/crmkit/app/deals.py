"""Opportunity, catalogue, quote and contract use cases, and the quote-to-contract policy.

Each service belongs to one unit of work (``uow.opportunities``,
``uow.products``, ``uow.price_lists``, ``uow.quotes``, ``uow.contracts``).
Pipelines, the approval policy and contract defaults come from the CRM's
`SalesSettings`. When a quote is accepted, `draft_contract` (a policy run in
the same unit of work) drafts its contract, so the acceptance and the draft
commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from crmkit.app.customising import Customising
from crmkit.app.records import CONTRACTS, OPPORTUNITIES, PRICE_LISTS, PRODUCTS, QUOTES
from crmkit.app.services import _Service
from crmkit.kernel.errors import NotFound
from crmkit.kernel.events import DomainEvent
from crmkit.kernel.money import Money
from crmkit.ports.query import Eq, In, Range
from crmkit.sales.catalog import PriceList
from crmkit.sales.contract import Contract, ContractStatus
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pricing import Line, TaxRate
from crmkit.sales.product import Product
from crmkit.sales.quote import Quote, QuoteStatus
from crmkit.sales.quote_events import QuoteAccepted
from crmkit.sales.quote_policy import utc_day
from crmkit.sales.terms import BillingPeriod, RenewalMode, Term

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork


def _number(prefix: str, id: str) -> str:
    """A readable default number from an id: time-ordered ids end in their random part."""
    return f"{prefix}-{id.replace('-', '')[-10:].upper()}"


class Opportunities(Customising[Opportunity], _Service[Opportunity]):
    """Opportunity commands and queries of one unit of work."""

    _type = OPPORTUNITIES

    def open(
        self,
        name: str,
        *,
        amount: Money,
        close_date: date,
        account_id: str | None = None,
        contact_ids: Iterable[str] = (),
        pipeline_id: str | None = None,
        stage: str | None = None,
        owner_id: str | None = None,
        custom: Mapping[str, object] = {},
        idempotency_key: str | None = None,
    ) -> Opportunity:
        """Open an opportunity in a configured pipeline (the default one unless named)."""
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        if account_id is not None:
            self._uow.accounts.get(account_id)
        contacts = tuple(contact_ids)
        for contact_id in contacts:
            self._uow.contacts.get(contact_id)
        deal, event = Opportunity.open(
            self._uow.new_id(),
            name,
            self._uow.settings.pipeline(pipeline_id),
            self._uow.stamp(),
            amount=amount,
            close_date=close_date,
            stage=stage,
            account_id=account_id,
            contact_ids=contacts,
            owner_id=owner_id,
        )
        return self._created(deal, custom, event, idempotency_key=idempotency_key)

    def move(self, id: str, stage: str) -> Opportunity:
        """Move an open opportunity to another open stage."""
        deal = self.get(id)
        pipeline = self._uow.settings.pipeline(deal.pipeline_id)
        moved, event = deal.move(stage, pipeline, self._uow.stamp())
        return self._uow.save(OPPORTUNITIES, moved, event)

    def win(self, id: str) -> Opportunity:
        """Close an opportunity as won."""
        deal = self.get(id)
        won, event = deal.win(self._uow.settings.pipeline(deal.pipeline_id), self._uow.stamp())
        return self._uow.save(OPPORTUNITIES, won, event)

    def lose(self, id: str, reason: str, *, stage: str | None = None) -> Opportunity:
        """Close an opportunity as lost, saying why."""
        deal = self.get(id)
        pipeline = self._uow.settings.pipeline(deal.pipeline_id)
        lost, event = deal.lose(reason, pipeline, self._uow.stamp(), stage)
        return self._uow.save(OPPORTUNITIES, lost, event)

    def reopen(self, id: str, *, stage: str | None = None) -> Opportunity:
        """Reopen a won or lost opportunity."""
        deal = self.get(id)
        pipeline = self._uow.settings.pipeline(deal.pipeline_id)
        reopened, event = deal.reopen(pipeline, self._uow.stamp(), stage)
        return self._uow.save(OPPORTUNITIES, reopened, event)

    def update(
        self,
        id: str,
        *,
        name: str | None = None,
        amount: Money | None = None,
        close_date: date | None = None,
        probability: Decimal | None = None,
    ) -> Opportunity:
        """Change the name, amount, close date or probability."""
        changed, event = self.get(id).update(
            self._uow.stamp(),
            name=name,
            amount=amount,
            close_date=close_date,
            probability=probability,
        )
        return self._uow.save(OPPORTUNITIES, changed, event)

    def assign(self, id: str, owner_id: str | None) -> Opportunity:
        """Give an opportunity an owner, or none."""
        changed, event = self.get(id).assign(owner_id, self._uow.stamp())
        return self._uow.save(OPPORTUNITIES, changed, event)

    def set_lines(self, id: str, lines: Iterable[Line]) -> Opportunity:
        """Set the product lines; the amount becomes their total before tax."""
        changed, event = self.get(id).set_lines(lines, self._uow.stamp())
        return self._uow.save(OPPORTUNITIES, changed, event)


class Products(_Service[Product]):
    """Product commands and queries of one unit of work."""

    _type = PRODUCTS

    def create(
        self,
        sku: str,
        name: str,
        *,
        description: str = "",
        category: str | None = None,
        unit: str = "each",
        recurring: BillingPeriod | str | None = None,
        tax: TaxRate | None = None,
    ) -> Product:
        """Add a product; its SKU is unique (a second one raises `DuplicateRecord` at commit)."""
        product, event = Product.create(
            self._uow.new_id(),
            sku,
            name,
            self._uow.stamp(),
            description=description,
            category=category,
            unit=unit,
            recurring=recurring,
            tax=tax,
        )
        return self._uow.save(PRODUCTS, product, event)

    def by_sku(self, sku: str) -> Product:
        """The product with ``sku``; `NotFound` if none."""
        found = self.find(Eq("sku", sku), limit=1).items
        if not found:
            raise NotFound("product", sku)
        return found[0]

    def archive(self, id: str) -> Product:
        """Take a product out of sale; existing quotes keep their lines."""
        product, event = self.get(id).archive(self._uow.stamp())
        return self._uow.save(PRODUCTS, product, event)


class PriceLists(_Service[PriceList]):
    """Price list commands and queries of one unit of work."""

    _type = PRICE_LISTS

    def create(
        self,
        name: str,
        currency: str,
        *,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> PriceList:
        """Add an empty price list in ``currency``."""
        prices, event = PriceList.create(
            self._uow.new_id(),
            name,
            currency,
            self._uow.stamp(),
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return self._uow.save(PRICE_LISTS, prices, event)

    def set_price(self, id: str, product_id: str, price: Money) -> PriceList:
        """Set a product's unit price in this list."""
        self._uow.products.get(product_id)
        prices, event = self.get(id).set_price(product_id, price, self._uow.stamp())
        return self._uow.save(PRICE_LISTS, prices, event)

    def line(
        self,
        id: str,
        product_id: str,
        quantity: Decimal | int | str,
        discount: Decimal | int | str = Decimal(0),
    ) -> Line:
        """A priced quote line for a product from this list, checked against today's date."""
        today = utc_day(self._uow.stamp().at)
        return self.get(id).line(self._uow.products.get(product_id), quantity, discount, on=today)


class Quotes(_Service[Quote]):
    """Quote commands and queries of one unit of work."""

    _type = QUOTES

    def draft(
        self,
        account_id: str,
        currency: str,
        *,
        lines: Iterable[Line] = (),
        order_discount: Decimal | int | str = Decimal(0),
        valid_until: date | None = None,
        contact_id: str | None = None,
        opportunity_id: str | None = None,
        number: str | None = None,
        idempotency_key: str | None = None,
    ) -> Quote:
        """Draft a quote for an account, valid for the configured number of days by default."""
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        self._uow.accounts.get(account_id)
        if contact_id is not None:
            self._uow.contacts.get(contact_id)
        if opportunity_id is not None:
            self._uow.opportunities.get(opportunity_id)
        stamp = self._uow.stamp()
        id = self._uow.new_id()
        days = self._uow.settings.quote_validity_days
        quote, event = Quote.draft(
            id,
            number or _number("Q", id),
            account_id,
            currency,
            valid_until or utc_day(stamp.at) + timedelta(days=days),
            stamp,
            contact_id=contact_id,
            opportunity_id=opportunity_id,
            lines=tuple(lines),
            order_discount=order_discount,
        )
        return self._uow.save(QUOTES, quote, event, idempotency_key=idempotency_key)

    def edit(
        self,
        id: str,
        *,
        lines: Iterable[Line] | None = None,
        order_discount: Decimal | int | str | None = None,
        valid_until: date | None = None,
    ) -> Quote:
        """Change a draft's lines, order discount or validity."""
        quote, event = self.get(id).edit(
            self._uow.stamp(),
            lines=None if lines is None else tuple(lines),
            order_discount=order_discount,
            valid_until=valid_until,
        )
        return self._uow.save(QUOTES, quote, event)

    def submit(self, id: str) -> Quote:
        """Send a draft for approval."""
        quote, event = self.get(id).submit(self._uow.stamp())
        return self._uow.save(QUOTES, quote, event)

    def approve(self, id: str) -> Quote:
        """Approve a quote in review, as the acting principal (who must not be its author)."""
        quote, event = self.get(id).approve(self._uow.principal.id, self._uow.stamp())
        return self._uow.save(QUOTES, quote, event)

    def reject(self, id: str, reason: str) -> Quote:
        """Reject a quote in review, saying why."""
        quote, event = self.get(id).reject(reason, self._uow.stamp())
        return self._uow.save(QUOTES, quote, event)

    def present(self, id: str) -> Quote:
        """Present a quote to the customer (a large discount needs approval first)."""
        policy = self._uow.settings.approval
        quote, event = self.get(id).present(policy, self._uow.stamp())
        return self._uow.save(QUOTES, quote, event)

    def accept(self, id: str) -> Quote:
        """Record the customer's acceptance; by default the contract is drafted with it."""
        quote, event = self.get(id).accept(self._uow.stamp())
        return self._uow.save(QUOTES, quote, event)

    def decline(self, id: str, reason: str | None = None) -> Quote:
        """Record that the customer declined."""
        quote, event = self.get(id).decline(self._uow.stamp(), reason)
        return self._uow.save(QUOTES, quote, event)

    def revise(self, id: str) -> Quote:
        """Supersede a quote with a new draft revision; returns the new revision."""
        revision = self.get(id).revise(self._uow.new_id(), self._uow.stamp())
        self._uow.save(QUOTES, revision.old, revision.superseded)
        return self._uow.save(QUOTES, revision.new, revision.drafted)

    def expire_due(self) -> tuple[Quote, ...]:
        """Expire every presented quote whose validity has passed (a job the host schedules)."""
        stamp = self._uow.stamp()
        yesterday = (utc_day(stamp.at) - timedelta(days=1)).isoformat()
        expired = []
        where = (Eq("status", QuoteStatus.PRESENTED.value), Range("valid_until", lte=yesterday))
        for quote in list(self._uow.find_all(QUOTES, where)):
            quote, event = self.get(quote.id).expire(stamp)
            expired.append(self._uow.save(QUOTES, quote, event))
        return tuple(expired)


class Contracts(_Service[Contract]):
    """Contract commands and queries of one unit of work."""

    _type = CONTRACTS

    def draft(
        self,
        account_id: str,
        *,
        amount: Money,
        start_date: date,
        term: Term,
        billing_period: BillingPeriod | str = BillingPeriod.MONTHLY,
        notice_period: Term | None = None,
        renewal: RenewalMode | str = RenewalMode.MANUAL,
        uplift: Decimal | int | str = Decimal(0),
        contact_id: str | None = None,
        opportunity_id: str | None = None,
        quote_id: str | None = None,
        number: str | None = None,
        idempotency_key: str | None = None,
    ) -> Contract:
        """Draft a contract by hand (an accepted quote drafts its own)."""
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        self._uow.accounts.get(account_id)
        id = self._uow.new_id()
        contract, event = Contract.draft(
            id,
            number or _number("C", id),
            self._uow.stamp(),
            account_id=account_id,
            start_date=start_date,
            term=term,
            billing_period=billing_period,
            amount=amount,
            contact_id=contact_id,
            opportunity_id=opportunity_id,
            quote_id=quote_id,
            notice_period=notice_period or self._uow.settings.contracts.notice_period,
            renewal=renewal,
            uplift=uplift,
        )
        return self._uow.save(CONTRACTS, contract, event, idempotency_key=idempotency_key)

    def send(self, id: str) -> Contract:
        """Send a draft out for signature."""
        contract, event = self.get(id).send(self._uow.stamp())
        return self._uow.save(CONTRACTS, contract, event)

    def sign(self, id: str) -> Contract:
        """Record the signature: the contract is active."""
        contract, event = self.get(id).sign(self._uow.stamp())
        return self._uow.save(CONTRACTS, contract, event)

    def terminate(self, id: str, reason: str, effective_on: date) -> Contract:
        """Terminate a contract from ``effective_on``."""
        contract, event = self.get(id).terminate(reason, effective_on, self._uow.stamp())
        return self._uow.save(CONTRACTS, contract, event)

    def amend(
        self,
        id: str,
        description: str,
        *,
        amount: Money | None = None,
        notice_period: Term | None = None,
        renewal: RenewalMode | str | None = None,
        uplift: Decimal | int | str | None = None,
    ) -> Contract:
        """Change a contract's terms by agreement."""
        contract, event = self.get(id).amend(
            description,
            self._uow.stamp(),
            amount=amount,
            notice_period=notice_period,
            renewal=renewal,
            uplift=uplift,
        )
        return self._uow.save(CONTRACTS, contract, event)

    def renew(self, id: str) -> Contract:
        """Renew a contract that is up for renewal; returns the successor, active."""
        renewal = self.get(id).renew(self._uow.new_id(), self._uow.stamp())
        self._uow.save(CONTRACTS, renewal.contract, renewal.event)
        return self._uow.save(CONTRACTS, renewal.successor, renewal.successor_event)

    def run_due(self) -> tuple[Contract, ...]:
        """Do what the clock makes due: flag for renewal, renew automatically, or expire.

        A job the host schedules (daily is enough); running it twice does nothing more.
        Returns every contract it changed, successors included.
        """
        stamp = self._uow.stamp()
        horizon = (utc_day(stamp.at) + timedelta(days=1)).isoformat()  # time zones run ahead
        live = (ContractStatus.ACTIVE.value, ContractStatus.UP_FOR_RENEWAL.value)
        changed: list[Contract] = []
        where = (In("status", live), Range("notice_from", lte=horizon))
        for found in list(self._uow.find_all(CONTRACTS, where)):
            contract = self.get(found.id)
            for command in contract.due(stamp.at):
                if command == "renew":
                    changed.append(self.renew(contract.id))
                    contract = self.get(contract.id)
                else:
                    contract, event = getattr(contract, command)(stamp)
                    self._uow.save(CONTRACTS, contract, event)
                changed.append(contract)
        return tuple(changed)


def draft_contract(event: DomainEvent, uow: UnitOfWork) -> None:
    """Policy: an accepted quote drafts its contract, with the configured default terms.

    The contract bills the quote's total before tax each period, from the day
    of acceptance (UTC). A quote drafts at most one contract: the contract's
    ``quote_id`` is a unique index.
    """
    if not isinstance(event, QuoteAccepted) or not uow.settings.draft_contracts:
        return
    defaults = uow.settings.contracts
    figures = event.totals
    uow.contracts.draft(
        event.account_id,
        amount=figures.total - figures.exclusive_tax,
        start_date=utc_day(event.occurred_at),
        term=defaults.term,
        billing_period=defaults.billing_period,
        notice_period=defaults.notice_period,
        renewal=defaults.renewal,
        uplift=defaults.uplift,
        contact_id=event.contact_id,
        opportunity_id=event.opportunity_id,
        quote_id=event.aggregate_id,
        number=event.number.replace("Q-", "C-", 1),
    )
