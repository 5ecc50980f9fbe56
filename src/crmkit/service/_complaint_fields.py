"""Field converters of `crmkit.service.complaint.Complaint` (named functions for mypy)."""

from __future__ import annotations

from crmkit.kernel.checks import to_enum
from crmkit.kernel.ids import AccountId, ContactId, ContractId, ProductId, check_id
from crmkit.kernel.text import clean_line, clean_text, clean_token
from crmkit.parties.values import clean_tags
from crmkit.service.complaint_events import ComplaintSeverity, IntakeChannel


def _contact(value: object) -> ContactId | None:
    return None if value is None else ContactId(check_id(value, "contact_id"))


def _account(value: object) -> AccountId | None:
    return None if value is None else AccountId(check_id(value, "account_id"))


def _product(value: object) -> ProductId | None:
    return None if value is None else ProductId(check_id(value, "product_id"))


def _contract(value: object) -> ContractId | None:
    return None if value is None else ContractId(check_id(value, "contract_id"))


def _order_ref(value: object) -> str | None:
    return None if value is None else check_id(value, "order_ref")


def _owner(value: object) -> str | None:
    return None if value is None else check_id(value, "owner_id")


def _case(value: object) -> str | None:
    return None if value is None else check_id(value, "case_id")


def _channel(value: object) -> IntakeChannel:
    return to_enum(IntakeChannel, "channel")(value)


def _severity(value: object) -> ComplaintSeverity:
    return to_enum(ComplaintSeverity, "severity")(value)


def _subject(value: object) -> str:
    return clean_line(value, "subject", personal=True)


def _description(value: object) -> str:
    return clean_text(value, "description", personal=True, allow_empty=False)


def _category(value: object) -> str:
    return clean_token(value, "category")


def _tags(value: object) -> tuple[str, ...]:
    return clean_tags(value)


def _reason(value: object, field: str) -> str:
    return clean_text(value, field, max_len=2000, allow_empty=False, personal=True)


def _rejection_reason(value: object) -> str | None:
    return None if value is None else _reason(value, "rejection_reason")
