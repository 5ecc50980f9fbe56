"""Field converters and checks of `Contract` (named functions: the mypy attrs plugin needs them)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from crmkit.kernel.checks import to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.ids import AccountId, ContactId, ContractId, OpportunityId, QuoteId, check_id
from crmkit.kernel.money import Money
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import zone
from crmkit.sales.terms import (
    BillingPeriod,
    RenewalMode,
    Term,
    check_date,
    check_term,
    check_uplift,
)


def contract_id(value: object) -> ContractId:
    return ContractId(check_id(value, "id"))


def number(value: object) -> str:
    return clean_line(value, "number", max_len=100)


def account_id(value: object) -> AccountId:
    return AccountId(check_id(value, "account_id"))


def contact_id(value: object) -> ContactId | None:
    return None if value is None else ContactId(check_id(value, "contact_id"))


def opportunity_id(value: object) -> OpportunityId | None:
    return None if value is None else OpportunityId(check_id(value, "opportunity_id"))


def quote_id(value: object) -> QuoteId | None:
    return None if value is None else QuoteId(check_id(value, "quote_id"))


def renewed_by(value: object) -> ContractId | None:
    return None if value is None else ContractId(check_id(value, "renewed_by"))


def renews(value: object) -> ContractId | None:
    return None if value is None else ContractId(check_id(value, "renews"))


def billing_period(value: object) -> BillingPeriod:
    return to_enum(BillingPeriod, "billing_period")(value)


def renewal(value: object) -> RenewalMode:
    return to_enum(RenewalMode, "renewal")(value)


def start_date(value: object) -> date:
    return check_date(value, "start_date")


def end_date(value: object) -> date:
    return check_date(value, "end_date")


def term(value: object) -> Term:
    return check_term(value, "term")


def notice(value: object) -> Term:
    return check_term(value, "notice_period")


def uplift(value: object) -> Decimal:
    return check_uplift(value)


def time_zone(value: object) -> ZoneInfo:
    return zone(value)


def terminated_on(value: object) -> date | None:
    return None if value is None else check_date(value, "terminated_on")


def reason(value: object) -> str | None:
    return None if value is None else clean_line(value, "termination_reason", max_len=500)


def check_money(amount: object, currency: str) -> Money:
    if not isinstance(amount, Money):
        raise ValidationError("amount", "must be Money", amount)
    if amount.currency != currency:
        raise ValidationError("amount", f"must be in the contract's currency {currency}", amount)
    if amount.amount < 0:
        raise ValidationError("amount", "must not be negative", str(amount))
    return amount


def check_notice(notice: Term, term: Term) -> None:
    if notice.total_months > term.total_months:
        raise ValidationError("notice_period", f"must not be longer than the term ({term})")


def check_stamp(stamp: object) -> Stamp:
    """``stamp`` if it is a `Stamp`, else `ValidationError`."""
    if not isinstance(stamp, Stamp):
        raise ValidationError("stamp", "must be a Stamp", stamp)
    return stamp


def check_lines(lines: tuple[Any, ...], currency: str) -> None:
    """Every priced line is in the contract's currency."""
    for index, line in enumerate(lines):
        if line.unit_price.currency != currency:
            field = f"lines[{index}].unit_price"
            raise ValidationError(field, f"must be in {currency}", str(line.unit_price))


def terms_of(contract: Any) -> dict[str, Any]:
    """The fields a creation event carries, taken from a validated contract."""
    return {
        "account_id": contract.account_id,
        "contact_id": contract.contact_id,
        "number": contract.number,
        "opportunity_id": contract.opportunity_id,
        "quote_id": contract.quote_id,
        "amount": contract.amount,
        "billing_period": contract.billing_period,
        "start_date": contract.start_date,
        "term": contract.term,
        "end_date": contract.end_date,
        "notice_period": contract.notice_period,
        "renewal": contract.renewal,
        "uplift": contract.uplift,
        "time_zone": contract.time_zone,
        "lines": contract.lines,
    }
