"""The cells of each record kind, as `crmkit.extension.csv_format.row_of` writes them.

Private to `crmkit.extension.csv_format`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs

from crmkit.activities.activity import Activity
from crmkit.parties.account import Account
from crmkit.parties.contact import Contact
from crmkit.parties.values import Address
from crmkit.sales.lead import Lead
from crmkit.sales.opportunity import Opportunity

from .csv_columns import columns, join_list


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _address(addresses: tuple[Address, ...]) -> dict[str, str]:
    if not addresses:
        return {}
    first = addresses[0]
    return {
        "street": "\n".join(first.lines),
        "city": first.city,
        "postal_code": _text(first.postal_code),
        "region": _text(first.region),
        "country": first.country,
    }


def _party(record: Contact | Account) -> dict[str, str]:
    return {
        "id": record.id,
        "email": record.emails[0].address if record.emails else "",
        "phone": record.phones[0].number if record.phones else "",
        **_address(record.addresses),
        "tags": join_list(record.tags),
        "owner_id": _text(record.owner_id),
    }


def _contact(c: Contact) -> dict[str, str]:
    firsts = {"first_name": c.first_name, "last_name": c.last_name, "title": _text(c.title)}
    account = c.account_ids[0] if c.account_ids else ""
    return {**_party(c), **firsts, "account_id": account, "time_zone": _text(c.time_zone)}


def _account(a: Account) -> dict[str, str]:
    named = {"name": a.name, "website": _text(a.website), "industry": _text(a.industry)}
    return {**_party(a), **named, "parent_id": _text(a.parent_id)}


def _lead(lead: Lead) -> dict[str, str]:
    cells = {c: _text(getattr(lead, c)) for c in columns("lead") if hasattr(lead, c)}
    source = attrs.asdict(lead.source)
    return {
        **cells,
        **{c: _text(x) for c, x in source.items()},
        "email": "" if lead.email is None else lead.email.address,
        "phone": "" if lead.phone is None else lead.phone.number,
        "tags": join_list(lead.tags),
    }


def _opportunity(o: Opportunity) -> dict[str, str]:
    cells = {c: _text(getattr(o, c)) for c in columns("opportunity") if hasattr(o, c)}
    return {
        **cells,
        "amount": format(o.amount.amount, "f"),
        "currency": o.amount.currency,
        "probability": format(o.probability, "f"),
        "close_date": o.close_date.isoformat(),
        "contact_ids": join_list(o.contact_ids),
    }


def _activity(a: Activity) -> dict[str, str]:
    cells = {c: _text(getattr(a, c)) for c in columns("activity") if hasattr(a, c)}
    links = join_list([f"{ref.kind}:{ref.id}" for ref in a.links])
    return {**cells, "occurred_at": a.occurred_at.isoformat(), "links": links}


CELLS: Final[dict[str, Callable[[Any], dict[str, str]]]] = {
    "contact": _contact,
    "account": _account,
    "lead": _lead,
    "opportunity": _opportunity,
    "activity": _activity,
}
"""The cells of a record of each kind, by column (canonical columns only)."""
