"""Field converters and validators of `crmkit.sales.quote.Quote` (named functions for mypy)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import AccountId, ContactId, OpportunityId, QuoteId, check_id
from crmkit.kernel.money import minor_units
from crmkit.kernel.text import clean_line, clean_text
from crmkit.sales.pricing import check_percent


def _quote_id(value: object) -> QuoteId:
    return QuoteId(check_id(value, "id"))


def _supersedes(value: object) -> QuoteId | None:
    return None if value is None else QuoteId(check_id(value, "supersedes"))


def _superseded_by(value: object) -> QuoteId | None:
    return None if value is None else QuoteId(check_id(value, "superseded_by"))


def _number(value: object) -> str:
    return clean_line(value, "number", max_len=40)


def _revision(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("revision", "must be a positive integer", value)


def _author(value: object) -> str:
    return check_id(value, "author_id")


def _account(value: object) -> AccountId:
    return AccountId(check_id(value, "account_id"))


def _contact(value: object) -> ContactId | None:
    return None if value is None else ContactId(check_id(value, "contact_id"))


def _opportunity(value: object) -> OpportunityId | None:
    return None if value is None else OpportunityId(check_id(value, "opportunity_id"))


def _approver(value: object) -> str | None:
    return None if value is None else check_id(value, "approver_id")


def _currency(value: object) -> str:
    minor_units(value)
    return str(value)


def _order_discount(value: object) -> Decimal:
    return check_percent(value, "order_discount")


def _day(instance: object, attribute: attrs.Attribute[date], value: date) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError("valid_until", "must be a date", value)


def _reason(value: object, field: str) -> str:
    return clean_text(value, field, max_len=2000, allow_empty=False)


def _rejection_reason(value: object) -> str | None:
    return None if value is None else _reason(value, "rejection_reason")


def _decline_reason(value: object) -> str | None:
    return None if value is None else _reason(value, "decline_reason")
