"""Realistic sample contacts, built through crmkit's own constructors."""

from __future__ import annotations

from datetime import UTC, datetime

from crmkit.kernel.events import Stamp
from crmkit.parties.contact import Contact
from crmkit.parties.events import ContactCreated
from crmkit.parties.values import Address, Email, Phone

STAMP = Stamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u-bench")
"""The time and actor of every sample change."""

_FIRST = ("Anna", "Bob", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro")
_LAST = ("Berg", "Novák", "Okafor", "Schmidt", "Tanaka", "Müller", "Silva", "Ivanova")
_TAGS = ("vip", "newsletter", "partner", "trade-fair", "churn-risk", "lead")


def new_contact(i: int, stamp: Stamp = STAMP) -> tuple[Contact, ContactCreated]:
    """Contact number ``i`` (id ``c-<i>``) with two emails, a phone, tags and an owner."""
    first, last = _FIRST[i % len(_FIRST)], _LAST[(i // len(_FIRST)) % len(_LAST)]
    return Contact.create(
        f"c-{i:07d}",
        stamp,
        last_name=last,
        first_name=first,
        title="Head of Purchasing" if i % 3 == 0 else None,
        emails=(
            Email(f"{first.lower()}.{i}@example.com"),
            Email(f"{first.lower()}{i}@home.example", "home"),
        ),
        phones=(Phone(f"+49 30 {1_000_000 + i}"),),
        owner_id=f"u-{i % 20}",
        tags=(_TAGS[i % len(_TAGS)], _TAGS[(i + 2) % len(_TAGS)]),
        time_zone="Europe/Berlin",
    )


def rich_contact(stamp: Stamp = STAMP) -> Contact:
    """A contact as a CRM holds it after a while: address, account roles, consent history."""
    contact, _ = new_contact(42, stamp)
    contact, _ = contact.update(
        stamp, addresses=(Address(("Hauptstraße 5",), "Berlin", "DE", "10115"),)
    )
    contact, _ = contact.link("a-0000001", "buyer", stamp, primary=True)
    contact, _ = contact.link("a-0000002", "CFO", stamp)
    contact, _ = contact.record_consent("email", "marketing", True, "web form /signup", stamp)
    contact, _ = contact.record_consent("phone", "sales", False, "call with agent u-7", stamp)
    return contact
