"""Consent per channel and purpose, kept as a history of opt-ins and opt-outs.

Consent is never a boolean on the contact: each change is a `ConsentRecord`
with its time and source, so that the current state can be shown and the
history proved. With no record the state is `ConsentStatus.UNKNOWN`, which a
sender must treat as "no" for marketing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from crmkit.kernel.checks import aware, of_type, to_enum
from crmkit.kernel.text import clean_line


class Channel(StrEnum):
    """A way to reach a person."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"
    MESSAGING = "messaging"


class Purpose(StrEnum):
    """Why a person is contacted."""

    MARKETING = "marketing"
    SALES = "sales"
    SERVICE = "service"
    RESEARCH = "research"


class ConsentStatus(StrEnum):
    """The consent in force for one channel and purpose."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    UNKNOWN = "unknown"


_channel = to_enum(Channel, "channel")
_purpose = to_enum(Purpose, "purpose")


def as_channel(value: object) -> Channel:
    """The `Channel` named by ``value``, or `ValidationError`."""
    return _channel(value)


def as_purpose(value: object) -> Purpose:
    """The `Purpose` named by ``value``, or `ValidationError`."""
    return _purpose(value)


def _source(value: object) -> str:
    return clean_line(value, "source")


@attrs.frozen
class ConsentRecord:
    """One opt-in or opt-out.

    Attributes:
        channel: The channel it covers.
        purpose: The purpose it covers.
        granted: True for an opt-in, False for an opt-out.
        at: When the person gave or withdrew it.
        source: Where it came from, for example ``web form /signup`` or ``call with agent u-7``.
    """

    channel: Channel = attrs.field(converter=as_channel)
    purpose: Purpose = attrs.field(converter=as_purpose)
    granted: bool = attrs.field(validator=of_type(bool))
    at: datetime = attrs.field(validator=aware())
    source: str = attrs.field(converter=_source)


def consent_status(
    history: tuple[ConsentRecord, ...], channel: Channel, purpose: Purpose
) -> ConsentStatus:
    """The consent in force: the latest record for the channel and purpose, by time.

    Records with the same time count in the order they were recorded.
    """
    latest: ConsentRecord | None = None
    for record in history:
        same = record.channel == channel and record.purpose == purpose
        if same and (latest is None or record.at >= latest.at):
            latest = record
    if latest is None:
        return ConsentStatus.UNKNOWN
    return ConsentStatus.GRANTED if latest.granted else ConsentStatus.WITHDRAWN
