"""Folding a duplicate party into its survivor.

The survivor keeps every value it has. From the duplicate it takes only what
it lacks: empty single fields are filled, and contact points, addresses,
tags, account roles and consent records it does not hold are added. Consent
histories are merged in time order, so the latest decision of either record
stays the one in force (an opt-out given to the duplicate is never lost).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.parties.account import Account
from crmkit.parties.contact import Contact
from crmkit.parties.events import PartyChanged

P = TypeVar("P", Account, Contact)

_FILLED = {
    Account: ("website", "industry", "parent_id", "owner_id"),
    Contact: ("first_name", "title", "time_zone", "owner_id"),
}
_UNITED = {
    Account: ("emails", "phones", "addresses", "tags"),
    Contact: ("emails", "phones", "addresses", "tags", "accounts", "consent"),
}


def _union(
    mine: tuple[Any, ...], theirs: tuple[Any, ...], key: Callable[[Any], Any]
) -> tuple[Any, ...]:
    seen = {key(item) for item in mine}
    return (*mine, *(item for item in theirs if key(item) not in seen))


def _key(field: str) -> Callable[[Any], Any]:
    if field == "emails":
        return lambda email: email.key
    if field == "accounts":
        return lambda role: role.account_id  # the survivor's role at an account wins
    return lambda item: item


def absorbed(survivor: P, duplicate: P) -> dict[str, Any]:
    """The field values ``survivor`` takes from ``duplicate``: only those it lacks."""
    if type(survivor) is not type(duplicate):
        raise ValidationError("duplicate", f"must be a {type(survivor).__name__}")
    changes: dict[str, Any] = {}
    for name in _FILLED[type(survivor)]:
        if not getattr(survivor, name) and getattr(duplicate, name):
            changes[name] = getattr(duplicate, name)
    for name in _UNITED[type(survivor)]:
        theirs = getattr(duplicate, name)
        if name == "accounts":  # the survivor keeps its own primary account
            theirs = tuple(attrs.evolve(role, primary=False) for role in theirs)
        united = _union(getattr(survivor, name), theirs, _key(name))
        if name == "tags":
            united = tuple(sorted(united))
        elif name == "consent":
            united = tuple(sorted(united, key=lambda record: record.at))  # stable: ties keep order
        if united != getattr(survivor, name):
            changes[name] = united
    return changes


def absorb(survivor: P, duplicates: Iterable[P], stamp: Stamp) -> tuple[P, PartyChanged | None]:
    """The survivor with what the duplicates add, and the event (None if they add nothing)."""
    changes: dict[str, Any] = {}
    current = survivor
    for duplicate in duplicates:
        if duplicate.id == survivor.id:
            raise ValidationError("duplicates", "must not include the survivor", duplicate.id)
        step = absorbed(current, duplicate)
        current = current._evolve(**step)
        changes.update(step)
    if not changes:
        return survivor, None
    return survivor._change(stamp, **changes)


def revert(survivor: P, before: P, fields: Iterable[str], stamp: Stamp) -> tuple[P, PartyChanged]:
    """Undo what `absorb` added: ``fields`` go back to their values in ``before``."""
    return survivor._change(stamp, **{name: getattr(before, name) for name in fields})
