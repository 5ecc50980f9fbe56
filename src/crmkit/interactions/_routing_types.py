"""The records of inbound routing: what comes in, what the host knows, what a rule decides.

Private to `crmkit.interactions.routing`, which re-exports every public name here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

import attrs

from crmkit.interactions.threading import Resolution
from crmkit.kernel.checks import aware, items, of_type, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL
from crmkit.kernel.ids import AccountId, ContactId, check_id
from crmkit.kernel.text import clean_line, clean_text, clean_token


class Channel(StrEnum):
    """How the message came in."""

    EMAIL = "email"
    CALL = "call"
    CHAT = "chat"
    SOCIAL = "social"


class Target(StrEnum):
    """The kind of record a message goes to."""

    CASE = "case"
    OPPORTUNITY = "opportunity"
    LEAD = "lead"
    COMPLAINT = "complaint"


_to_channel = to_enum(Channel, "channel")
_to_target = to_enum(Target, "target")


def _channel(value: object) -> Channel:
    return _to_channel(value)


def _target(value: object) -> Target:
    return _to_target(value)


def _sender(value: object) -> str:
    return clean_line(value, "sender", max_len=320, personal=True, allow_empty=True)


def _contact(value: object) -> ContactId | None:
    return None if value is None else ContactId(check_id(value, "contact_id"))


def _account(value: object) -> AccountId | None:
    return None if value is None else AccountId(check_id(value, "account_id"))


def _text(value: object) -> str:
    return clean_text(value, "text", personal=True)


@attrs.frozen
class Inbound:
    """One inbound message or call, as routing sees it.

    Attributes:
        channel: ``email``, ``call``, ``chat`` or ``social``.
        sender: The email address, phone number or handle; empty when withheld (personal data).
        contact_id: The contact the sender was matched to, or None.
        thread: The resolved thread (emails), or None.
        text: What it says: for an email, its subject and body (personal data).
    """

    channel: Channel = attrs.field(converter=_channel)
    sender: str = attrs.field(converter=_sender, metadata=PERSONAL, repr=False)
    contact_id: ContactId | None = attrs.field(default=None, converter=_contact)
    thread: Resolution | None = attrs.field(
        default=None, validator=of_type(Resolution, optional=True)
    )
    text: str = attrs.field(default="", converter=_text, metadata=PERSONAL, repr=False)


def _record_id(value: object) -> str:
    return check_id(value, "id")


@attrs.frozen
class OpenRecord:
    """An open case or opportunity of the sender.

    Attributes:
        id: The record's id.
        updated_at: When it last changed.
    """

    id: str = attrs.field(converter=_record_id)
    updated_at: datetime = attrs.field(validator=aware())


def _open(value: object, field: str) -> tuple[OpenRecord, ...]:
    found: list[OpenRecord] = []
    for index, item in enumerate(items(value, field)):
        if isinstance(item, OpenRecord):
            found.append(item)
            continue
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValidationError(f"{field}[{index}]", "must be an OpenRecord or (id, updated_at)")
        try:
            found.append(OpenRecord(item[0], item[1]))
        except ValidationError as exc:
            raise exc.at(f"{field}[{index}]") from None
    return tuple(found)


def _open_cases(value: object) -> tuple[OpenRecord, ...]:
    return _open(value, "open_cases")


def _open_opportunities(value: object) -> tuple[OpenRecord, ...]:
    return _open(value, "open_opportunities")


@attrs.frozen
class Context:
    """What the host knows about the sender, looked up before routing.

    ``open_cases`` and ``open_opportunities`` take `OpenRecord` objects or
    ``(id, updated_at)`` pairs.

    Attributes:
        open_cases: The sender's open cases.
        open_opportunities: The sender's open opportunities.
        contact_id: The sender's contact, when ``Inbound.contact_id`` is not set.
        account_id: The sender's account (for custom rules; the defaults do not use it).
    """

    open_cases: tuple[OpenRecord, ...] = attrs.field(default=(), converter=_open_cases)
    open_opportunities: tuple[OpenRecord, ...] = attrs.field(
        default=(), converter=_open_opportunities
    )
    contact_id: ContactId | None = attrs.field(default=None, converter=_contact)
    account_id: AccountId | None = attrs.field(default=None, converter=_account)


NO_CONTEXT = Context()
"""Nothing is known about the sender."""


def _optional_id(value: object) -> str | None:
    return None if value is None else check_id(value, "record_id")


def _reason(value: object) -> str:
    return clean_line(value, "reason")


@attrs.frozen
class Match:
    """What a rule decided.

    Attributes:
        target: The kind of record.
        record_id: The existing record, or None to create a new one.
        reason: Why, in one line without personal data.
    """

    target: Target = attrs.field(converter=_target)
    record_id: str | None = attrs.field(converter=_optional_id)
    reason: str = attrs.field(converter=_reason)


def _rule_name(value: object) -> str:
    return clean_token(value, "rule")


@attrs.frozen
class Route:
    """Where a message goes, and which rule sent it there.

    Attributes:
        target: ``case``, ``opportunity``, ``lead`` or ``complaint``.
        record_id: The existing record, or None to create a new one.
        rule: The name of the rule that decided.
        reason: Why, in one line without personal data.
    """

    target: Target = attrs.field(converter=_target)
    record_id: str | None = attrs.field(converter=_optional_id)
    rule: str = attrs.field(converter=_rule_name)
    reason: str = attrs.field(converter=_reason)

    @property
    def creates(self) -> bool:
        """Whether the host must create a new record."""
        return self.record_id is None


Decide = Callable[[Inbound, Context], Match | None]
"""A rule's test: a `Match`, or None to let the next rule decide."""


def _decide(instance: object, attribute: attrs.Attribute[Decide], value: object) -> None:
    if not callable(value):
        raise ValidationError("decide", "must be callable", value)


@attrs.frozen
class Rule:
    """A named routing rule.

    Attributes:
        name: A machine name, unique within a rule list.
        decide: Returns a `Match`, or None when the rule does not apply.
    """

    name: str = attrs.field(converter=_rule_name)
    decide: Decide = attrs.field(validator=_decide)
