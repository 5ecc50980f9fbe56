"""What full-text search finds each searchable record by, and the title a hit shows.

Each ``*_text`` function returns the folded words of a record
(`crmkit.ports.search.normalized`) that go in its kind's ``search_text``
index field: names, email addresses (split at ``@`` and ``.``, so ``berg``
finds ``anna.berg@example.com``), company names, and phone numbers as digit
runs. A phone ``+4930123456`` is indexed as ``4930123456`` and, because the
country code may be one to three digits, as the national forms ``0930123456``,
``030123456`` and ``00123456``: a caller who types ``030 1234`` finds it too.
Only values held by the record itself are used: a contact's account names
would need a read per write, and would go stale when the account is renamed.

The ``*_title`` functions give the line a search hit shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from crmkit.parties.account import Account
from crmkit.parties.contact import Contact
from crmkit.parties.values import Email, Phone
from crmkit.ports.search import normalized
from crmkit.sales.lead import Lead
from crmkit.sales.opportunity import Opportunity
from crmkit.service.case import ServiceCase


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def phone_words(phone: Phone) -> list[str]:
    """The digit runs a phone number is found by: international, and national per code length."""
    digits = _digits(phone.number)
    words = [digits]
    for cut in (1, 2, 3):  # country codes are one to three digits long
        if len(digits) > cut + 3:
            words.append("0" + digits[cut:])
    return words


def _emails(emails: Iterable[Email]) -> list[str]:
    return [email.address for email in emails]


def _phones(phones: Iterable[Phone]) -> list[str]:
    return [word for phone in phones for word in phone_words(phone)]


def _join(parts: Iterable[str | None]) -> str:
    return normalized(" ".join(part for part in parts if part))


def contact_text(contact: Contact) -> str:
    """A contact's first and last name, email addresses and phone numbers."""
    return _join(
        (contact.first_name, contact.last_name, *_emails(contact.emails), *_phones(contact.phones))
    )


def account_text(account: Account) -> str:
    """An account's name, website, email addresses and phone numbers."""
    return _join(
        (account.name, account.website, *_emails(account.emails), *_phones(account.phones))
    )


def lead_text(lead: Lead) -> str:
    """A lead's name, email address, phone number and company."""
    return _join(
        (
            lead.first_name,
            lead.last_name,
            None if lead.email is None else lead.email.address,
            *([] if lead.phone is None else phone_words(lead.phone)),
            lead.company,
        )
    )


def opportunity_text(deal: Opportunity) -> str:
    """An opportunity's name."""
    return normalized(deal.name)


def case_text(case: ServiceCase) -> str:
    """A service case's number (also as one run of digits) and subject."""
    return _join((case.number, _digits(case.number), case.subject))


def contact_title(contact: Contact) -> str:
    """First and last name."""
    return " ".join(n for n in (contact.first_name, contact.last_name) if n)


def account_title(account: Account) -> str:
    """The account's name."""
    return account.name


def lead_title(lead: Lead) -> str:
    """Name and company, or whichever the lead has, or its email address."""
    parts = [part for part in (lead.name, lead.company) if part]
    if parts:
        return " · ".join(parts)
    return "" if lead.email is None else lead.email.address


def opportunity_title(deal: Opportunity) -> str:
    """The opportunity's name."""
    return deal.name


def case_title(case: ServiceCase) -> str:
    """Number and subject."""
    return f"{case.number} {case.subject}"


TITLES: Final[dict[str, Callable[[Any], str]]] = {
    "contact": contact_title,
    "account": account_title,
    "lead": lead_title,
    "opportunity": opportunity_title,
    "case": case_title,
}
"""The title function of each searchable kind."""
