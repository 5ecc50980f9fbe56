"""A contact's channel preferences, and the choice of channel for one message.

`ChannelPreferences` says how a contact likes to be reached: channels in order
for each `ContactPurpose`, a language, the hours when calls are welcome (in
the contact's own time zone) and the do-not-call and do-not-email flags.
`choose_channel` walks the contact's order for the purpose, then the rest of
`DEFAULT_ORDER`, and picks the first channel that nothing forbids.

The rules, checked in this order for each channel (the first that applies is
the reason the channel is skipped):

1. **Do-not flags.** ``do_not_call`` blocks `Channel.PHONE` and ``do_not_email``
   blocks `Channel.EMAIL` for ``sales`` and ``marketing``; ``service`` and
   ``billing`` messages still go through, because the contact needs them to get
   what they bought (`BLOCKED_BY_DO_NOT`). The flags are kept apart from consent:
   clearing one grants nothing.
2. **Consent**, as the notifier checks it (`crmkit.app.notifier.consent_refusal`):
   ``marketing`` needs consent `ConsentStatus.GRANTED` for the channel (UNKNOWN
   counts as no); every other purpose is refused only when consent was
   `ConsentStatus.WITHDRAWN`. ``billing`` has no consent purpose of its own and
   is checked against ``service`` (`CONSENT_PURPOSE`).
3. **Address.** The channel must be in ``available``: the contact has an
   address, number or handle for it.
4. **Contact hours**, for `Channel.PHONE` only: a call is synchronous, so it is
   offered only inside ``contact_hours`` in the contact's zone. The other
   channels are asynchronous and allowed at any time (the recipient reads them
   when they like).

Contact hours are `crmkit.service.calendar.WeeklyHours` read in the contact's
zone with the business-calendar rules: each shift is the real time between its
local start and end; a start or end in the hour skipped when clocks spring
forward moves to the end of the gap, one in the repeated hour is its first
occurrence; a shift's end is outside it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final, cast
from zoneinfo import ZoneInfo

import attrs

from crmkit.kernel.checks import items, of_type, to_enum, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import require_aware, zone as as_zone
from crmkit.parties.consent import Channel, ConsentStatus, Purpose
from crmkit.service.calendar import Shift, WeeklyHours

from ._contact_hours import contact_calendar
from ._preference_fields import (
    billing_channels,
    language_tag,
    marketing_channels,
    sales_channels,
    service_channels,
)

__all__ = [
    "BLOCKED_BY_DO_NOT",
    "CONSENT_PURPOSE",
    "DEFAULT_CONTACT_HOURS",
    "DEFAULT_ORDER",
    "ChannelPreferences",
    "Choice",
    "ChoiceReason",
    "ConsentLookup",
    "ContactPurpose",
    "NoChannel",
    "Skip",
    "SkipReason",
    "choose_channel",
    "may_call",
    "next_call_window",
]


class ContactPurpose(StrEnum):
    """Why a contact is reached, as the contact's preferences name it."""

    SERVICE = "service"
    SALES = "sales"
    MARKETING = "marketing"
    BILLING = "billing"


CONSENT_PURPOSE: Final[Mapping[ContactPurpose, Purpose]] = MappingProxyType(
    {
        ContactPurpose.SERVICE: Purpose.SERVICE,
        ContactPurpose.SALES: Purpose.SALES,
        ContactPurpose.MARKETING: Purpose.MARKETING,
        # Invoices and payment reminders serve an existing contract, like service messages.
        ContactPurpose.BILLING: Purpose.SERVICE,
    }
)
"""The consent purpose each contact purpose is checked against (billing uses service)."""

BLOCKED_BY_DO_NOT: Final = frozenset({ContactPurpose.SALES, ContactPurpose.MARKETING})
"""The purposes that ``do_not_call`` and ``do_not_email`` block; service and billing pass."""

DEFAULT_ORDER: Final[tuple[Channel, ...]] = (
    Channel.EMAIL,
    Channel.SMS,
    Channel.MESSAGING,
    Channel.PHONE,
    Channel.POST,
)
"""The order tried after the contact's own: asynchronous and cheap first, phone and post last."""

DEFAULT_CONTACT_HOURS: Final = WeeklyHours.weekdays(Shift("09:00", "17:00"))
"""Contact hours when the contact stated none: Monday to Friday, 09:00 to 17:00 local time."""


_to_purpose = to_enum(ContactPurpose, "purpose")


@attrs.frozen
class ChannelPreferences:
    """How a contact likes to be reached.

    >>> prefs = ChannelPreferences(sales=("phone", "email"), language="de-at")
    >>> prefs.sales, prefs.language
    ((<Channel.PHONE: 'phone'>, <Channel.EMAIL: 'email'>), 'de-AT')

    Attributes:
        service: Channels for service messages, most preferred first.
        sales: Channels for sales contact, most preferred first.
        marketing: Channels for marketing, most preferred first.
        billing: Channels for invoices and payment reminders, most preferred first.
        language: Preferred language as a BCP 47 tag (``en``, ``de-AT``), or None.
        contact_hours: When calls are welcome, local time in the contact's zone.
        do_not_call: No sales or marketing calls (service and billing calls are allowed).
        do_not_email: No sales or marketing email (service and billing email is allowed).
    """

    service: tuple[Channel, ...] = attrs.field(default=(), converter=service_channels)
    sales: tuple[Channel, ...] = attrs.field(default=(), converter=sales_channels)
    marketing: tuple[Channel, ...] = attrs.field(default=(), converter=marketing_channels)
    billing: tuple[Channel, ...] = attrs.field(default=(), converter=billing_channels)
    language: str | None = attrs.field(default=None, converter=language_tag)
    contact_hours: WeeklyHours = attrs.field(
        default=DEFAULT_CONTACT_HOURS, validator=of_type(WeeklyHours)
    )
    do_not_call: bool = attrs.field(default=False, validator=of_type(bool))
    do_not_email: bool = attrs.field(default=False, validator=of_type(bool))

    def preferred(self, purpose: ContactPurpose | str) -> tuple[Channel, ...]:
        """The contact's own order for ``purpose`` (possibly empty)."""
        purpose = _to_purpose(purpose)
        return cast(tuple[Channel, ...], getattr(self, purpose.value))

    def order(self, purpose: ContactPurpose | str, *, fallback: bool = True) -> tuple[Channel, ...]:
        """The channels `choose_channel` tries: the contact's, then the rest of `DEFAULT_ORDER`."""
        own = self.preferred(purpose)
        if not fallback:
            return own
        return own + tuple(channel for channel in DEFAULT_ORDER if channel not in own)

    def blocks(self, channel: Channel | str, purpose: ContactPurpose | str) -> bool:
        """Whether a do-not flag forbids ``channel`` for ``purpose``."""
        channel = to_enum(Channel, "channel")(channel)
        if _to_purpose(purpose) not in BLOCKED_BY_DO_NOT:
            return False
        return (channel is Channel.PHONE and self.do_not_call) or (
            channel is Channel.EMAIL and self.do_not_email
        )


class SkipReason(StrEnum):
    """Why a channel was passed over (human-readable, without personal data)."""

    DO_NOT_CALL = "the contact asked not to be called"
    DO_NOT_EMAIL = "the contact asked not to be emailed"
    CONSENT_WITHDRAWN = "consent withdrawn"
    NO_CONSENT = "no consent granted for marketing"
    NO_ADDRESS = "no address for this channel"
    OUTSIDE_HOURS = "outside contact hours"


class ChoiceReason(StrEnum):
    """Why the chosen channel was chosen."""

    PREFERRED = "preferred by the contact"
    DEFAULT = "default order"


@attrs.frozen
class Skip:
    """A channel passed over and why; unpacks as a pair: ``channel, reason = skip``.

    Attributes:
        channel: The channel.
        reason: Why it was not used.
    """

    channel: Channel = attrs.field(validator=of_type(Channel))
    reason: SkipReason = attrs.field(validator=of_type(SkipReason))

    def __iter__(self) -> Iterator[Channel | SkipReason]:
        """Yield ``channel`` then ``reason``."""
        yield self.channel
        yield self.reason

    def __str__(self) -> str:
        return f"{self.channel.value}: {self.reason.value}"


@attrs.frozen
class Choice:
    """The channel to use for a message.

    Attributes:
        channel: The chosen channel.
        purpose: The message's purpose.
        reason: Whether the contact preferred it or the default order gave it.
        skipped: The channels tried before it, each with the reason it was passed over.
    """

    channel: Channel = attrs.field(validator=of_type(Channel))
    purpose: ContactPurpose = attrs.field(validator=of_type(ContactPurpose))
    reason: ChoiceReason = attrs.field(validator=of_type(ChoiceReason))
    skipped: tuple[Skip, ...] = attrs.field(default=(), validator=tuple_of(Skip))


@attrs.frozen
class NoChannel:
    """No channel may carry the message now.

    Attributes:
        purpose: The message's purpose.
        reasons: Every channel tried, in order, each with the reason it was passed over.
    """

    purpose: ContactPurpose = attrs.field(validator=of_type(ContactPurpose))
    reasons: tuple[Skip, ...] = attrs.field(validator=tuple_of(Skip))


ConsentLookup = (
    Callable[[Channel, Purpose], ConsentStatus]
    | Mapping[tuple[str, str], ConsentStatus]
    | Mapping[str, ConsentStatus]
)
"""Consent in force: a function such as ``contact.consent_for``, or a mapping keyed
``(channel, purpose)`` or ``"channel/purpose"`` (a missing key is UNKNOWN)."""

_to_status = to_enum(ConsentStatus, "consent")
_to_available = to_enum(Channel, "available")


def _status(consent: ConsentLookup, channel: Channel, purpose: Purpose) -> ConsentStatus:
    if isinstance(consent, Mapping):
        table = cast(Mapping[object, object], consent)
        found = table.get((channel.value, purpose.value))
        if found is None:
            found = table.get(f"{channel.value}/{purpose.value}", ConsentStatus.UNKNOWN)
        return _to_status(found)
    if callable(consent):
        return _to_status(consent(channel, purpose))
    raise ValidationError("consent", "must be a mapping or a function of channel and purpose")


def _prefs(value: object) -> ChannelPreferences:
    if not isinstance(value, ChannelPreferences):
        raise ValidationError("prefs", "must be ChannelPreferences", value)
    return value


def _skip_reason(
    prefs: ChannelPreferences,
    consent: ConsentLookup,
    channel: Channel,
    purpose: ContactPurpose,
    available: frozenset[Channel],
    in_hours: Callable[[], bool],
) -> SkipReason | None:
    if prefs.blocks(channel, purpose):
        return SkipReason.DO_NOT_CALL if channel is Channel.PHONE else SkipReason.DO_NOT_EMAIL
    consent_purpose = CONSENT_PURPOSE[purpose]
    status = _status(consent, channel, consent_purpose)
    if status is ConsentStatus.WITHDRAWN:
        return SkipReason.CONSENT_WITHDRAWN
    if consent_purpose is Purpose.MARKETING and status is not ConsentStatus.GRANTED:
        return SkipReason.NO_CONSENT
    if channel not in available:
        return SkipReason.NO_ADDRESS
    if channel is Channel.PHONE and not in_hours():
        return SkipReason.OUTSIDE_HOURS
    return None


def choose_channel(
    prefs: ChannelPreferences,
    consent: ConsentLookup,
    purpose: ContactPurpose | str,
    *,
    available: Collection[Channel | str],
    now: datetime,
    zone: ZoneInfo | str,
    fallback: bool = True,
) -> Choice | NoChannel:
    """The first channel in ``prefs.order(purpose)`` that the rules allow now.

    ``available`` holds the channels the contact has an address for; ``now``
    is the (aware) moment of sending and ``zone`` the contact's time zone.
    With ``fallback=False`` only the contact's own channels are tried.

    >>> from datetime import UTC, datetime
    >>> prefs = ChannelPreferences(sales=("phone", "email"))
    >>> choice = choose_channel(prefs, {}, "sales", available={"phone", "email"},
    ...     now=datetime(2025, 3, 3, 20, tzinfo=UTC), zone="Europe/Berlin")
    >>> choice.channel, [str(skip) for skip in choice.skipped]
    (<Channel.EMAIL: 'email'>, ['phone: outside contact hours'])
    """
    prefs = _prefs(prefs)
    purpose = _to_purpose(purpose)
    reachable = frozenset(_to_available(item) for item in items(available, "available"))
    at = require_aware(now, "now")
    tz = as_zone(zone, "zone")
    if not isinstance(fallback, bool):
        raise ValidationError("fallback", "must be bool", fallback)
    own = prefs.preferred(purpose)

    def in_hours() -> bool:
        return contact_calendar(prefs.contact_hours, tz).is_working(at)

    skipped: list[Skip] = []
    for channel in prefs.order(purpose, fallback=fallback):
        reason = _skip_reason(prefs, consent, channel, purpose, reachable, in_hours)
        if reason is None:
            why = ChoiceReason.PREFERRED if channel in own else ChoiceReason.DEFAULT
            return Choice(channel, purpose, why, tuple(skipped))
        skipped.append(Skip(channel, reason))
    return NoChannel(purpose, tuple(skipped))


def _call_blocked(prefs: ChannelPreferences, purpose: ContactPurpose | str | None) -> bool:
    return purpose is not None and prefs.blocks(Channel.PHONE, purpose)


def may_call(
    prefs: ChannelPreferences,
    now: datetime,
    zone: ZoneInfo | str,
    *,
    purpose: ContactPurpose | str | None = None,
) -> bool:
    """Whether ``now`` is inside the contact's hours in ``zone`` (a shift's end is not).

    Given a ``purpose``, ``do_not_call`` is applied too. Consent is not: use
    `choose_channel` for the whole check.
    """
    prefs = _prefs(prefs)
    at = require_aware(now, "now")
    tz = as_zone(zone, "zone")
    if _call_blocked(prefs, purpose):
        return False
    return contact_calendar(prefs.contact_hours, tz).is_working(at)


def next_call_window(
    prefs: ChannelPreferences,
    now: datetime,
    zone: ZoneInfo | str,
    *,
    purpose: ContactPurpose | str | None = None,
) -> datetime | None:
    """The first instant at or after ``now`` inside the contact's hours, in ``zone``.

    That is ``now`` itself when a call is welcome now. None when the contact
    has no contact hours, or when ``do_not_call`` blocks ``purpose``.
    """
    prefs = _prefs(prefs)
    at = require_aware(now, "now")
    tz = as_zone(zone, "zone")
    if _call_blocked(prefs, purpose) or not any(prefs.contact_hours.days):
        return None
    return contact_calendar(prefs.contact_hours, tz).next_working(at)
