"""Who may receive a journey's send, and when: the recipient view and the guards.

`Recipient` is the slice of a contact that journeys need, built by the app
from the contact, its consent history, bounces, unsubscribes and past sends.
The guards are pure checks on it:

- `refusals`: suppression, hard bounce, unsubscribes (all, the journey's list,
  its campaign) and consent; marketing needs consent `GRANTED` for the
  journey's channel and purpose ``marketing`` (UNKNOWN counts as no).
- `QuietHours`: a local-time window in the contact's own zone; a send planned
  inside it is *deferred* to the end of the window (the default) or dropped.
- `FrequencyCap`: at most ``max_sends`` sends to one contact, across all
  journeys, in any window of length ``per``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import NewType
from zoneinfo import ZoneInfo

import attrs

from crmkit.kernel.checks import aware, of_type, to_enum, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import CampaignId, ContactId, check_id
from crmkit.kernel.time import require_aware, zone
from crmkit.parties.consent import Channel, ConsentStatus, Purpose, as_channel, as_purpose

JourneyId = NewType("JourneyId", str)
"""The id of a `crmkit.marketing.journey.Journey`."""

_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def clock_text(value: object, field: str) -> str:
    """Canonical ``HH:MM`` text of a `datetime.time` (no zone, whole minutes) or such text."""
    if isinstance(value, time):
        if value.tzinfo is not None or value.second or value.microsecond:
            raise ValidationError(field, "must be a local time in whole minutes", value)
        value = value.strftime("%H:%M")
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise ValidationError(field, "must be a time or 'HH:MM'", value)
    return value


def seconds_of(value: object, field: str, *, minimum: int = 0) -> int:
    """Whole seconds of a `timedelta` or an int (JSON stores durations as seconds)."""
    if isinstance(value, timedelta):
        if value % timedelta(seconds=1):
            raise ValidationError(field, "must be whole seconds", value)
        value = int(value.total_seconds())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(field, f"must be a duration of at least {minimum} seconds", value)
    return value


def local_instant(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The instant of a local wall-clock time on ``day`` in ``tz``, DST-safe.

    A time skipped when clocks spring forward moves forward by the gap
    (02:30 becomes 03:30); a time repeated when they fall back is the first.
    """
    naive = datetime.combine(day, clock)
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)


def _journey_id(value: object) -> str:
    return check_id(value, "journey_id")


@attrs.frozen
class Sent:
    """A send already made to the recipient (counts toward caps; its key is not planned again).

    Attributes:
        journey_id: The journey that sent it.
        key: The send's idempotency key.
        at: When it was sent.
    """

    journey_id: str = attrs.field(converter=_journey_id)
    key: str = attrs.field(validator=of_type(str))
    at: datetime = attrs.field(validator=aware())


def consent_key(channel: object, purpose: object) -> str:
    """The `Recipient.consent` key for a channel and purpose, for example ``email/marketing``."""
    return f"{as_channel(channel).value}/{as_purpose(purpose).value}"


def _contact_id(value: object) -> ContactId:
    return ContactId(check_id(value, "contact_id"))


def _zone_key(value: object) -> str:
    return zone(value).key


def _consent(value: object) -> dict[str, ConsentStatus]:
    if not isinstance(value, Mapping):
        raise ValidationError("consent", "must be a mapping of 'channel/purpose' to status", value)
    to_status = to_enum(ConsentStatus, "consent")
    out: dict[str, ConsentStatus] = {}
    for key, status in value.items():
        channel, _, purpose = str(key).partition("/")
        out[consent_key(channel, purpose)] = to_status(status)
    return out


def _texts(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError("unsubscribed_lists", "must be a list of ids", value)
    return tuple(sorted({check_id(item, "unsubscribed_lists") for item in value}))


def _campaigns(value: object) -> tuple[CampaignId, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError("unsubscribed_campaigns", "must be a list of ids", value)
    return tuple(sorted({CampaignId(check_id(i, "unsubscribed_campaigns")) for i in value}))


@attrs.frozen
class Recipient:
    """What journeys know about one contact at one moment (built by the app).

    Attributes:
        contact_id: The contact.
        time_zone: The contact's IANA zone key; local times (birthday 09:00, quiet hours) use it.
        birthday: Date of birth, if known (only month and day are used).
        customer_since: When the contact became a customer, if so.
        signed_up_at: When the contact signed up (starts a welcome series).
        last_activity_at: The contact's latest activity (for inactivity journeys).
        quotes_presented_at: When each quote still awaiting an answer was presented.
        consent: Consent in force, keyed ``channel/purpose`` (missing means UNKNOWN).
        suppressed: On the suppression list: nothing is sent.
        hard_bounced: The address hard-bounced: nothing is sent.
        unsubscribed_all: Unsubscribed from all marketing.
        unsubscribed_lists: Lists the contact left.
        unsubscribed_campaigns: Campaigns the contact left.
        sends: Sends already made, across all journeys.
    """

    contact_id: ContactId = attrs.field(converter=_contact_id)
    time_zone: str = attrs.field(default="UTC", converter=_zone_key)
    birthday: date | None = attrs.field(default=None, validator=of_type(date, optional=True))
    customer_since: date | None = attrs.field(default=None, validator=of_type(date, optional=True))
    signed_up_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    last_activity_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    quotes_presented_at: tuple[datetime, ...] = attrs.field(
        default=(), validator=tuple_of(datetime)
    )
    consent: dict[str, ConsentStatus] = attrs.field(factory=dict, converter=_consent)
    suppressed: bool = attrs.field(default=False, validator=of_type(bool))
    hard_bounced: bool = attrs.field(default=False, validator=of_type(bool))
    unsubscribed_all: bool = attrs.field(default=False, validator=of_type(bool))
    unsubscribed_lists: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    unsubscribed_campaigns: tuple[CampaignId, ...] = attrs.field(default=(), converter=_campaigns)
    sends: tuple[Sent, ...] = attrs.field(default=(), validator=tuple_of(Sent))

    def __attrs_post_init__(self) -> None:
        for index, at in enumerate(self.quotes_presented_at):
            require_aware(at, f"quotes_presented_at[{index}]")

    @property
    def zone(self) -> ZoneInfo:
        """``time_zone`` as a `ZoneInfo`."""
        return ZoneInfo(self.time_zone)

    def consent_for(self, channel: object, purpose: object) -> ConsentStatus:
        """The consent in force for ``channel`` and ``purpose`` (UNKNOWN when not recorded)."""
        return self.consent.get(consent_key(channel, purpose), ConsentStatus.UNKNOWN)


class Reason(StrEnum):
    """Why a send was not planned (no personal data, fit for a timeline or a UI)."""

    SUPPRESSED = "suppressed"
    HARD_BOUNCED = "hard_bounced"
    UNSUBSCRIBED_ALL = "unsubscribed_all"
    UNSUBSCRIBED_LIST = "unsubscribed_list"
    UNSUBSCRIBED_CAMPAIGN = "unsubscribed_campaign"
    NO_CONSENT = "no_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    QUIET_HOURS = "quiet_hours"
    FREQUENCY_CAP = "frequency_cap"
    ALREADY_SENT = "already_sent"
    MISSING_DATA = "missing_data"


def refusals(
    recipient: Recipient,
    channel: Channel,
    *,
    list_id: str | None = None,
    campaign_id: str | None = None,
) -> tuple[Reason, ...]:
    """Every reason that forbids any marketing send over ``channel`` to ``recipient``, in order.

    An empty tuple means the recipient may be sent to (quiet hours and caps aside).
    """
    found: list[Reason] = []
    if recipient.suppressed:
        found.append(Reason.SUPPRESSED)
    if recipient.hard_bounced:
        found.append(Reason.HARD_BOUNCED)
    if recipient.unsubscribed_all:
        found.append(Reason.UNSUBSCRIBED_ALL)
    if list_id is not None and list_id in recipient.unsubscribed_lists:
        found.append(Reason.UNSUBSCRIBED_LIST)
    if campaign_id is not None and campaign_id in recipient.unsubscribed_campaigns:
        found.append(Reason.UNSUBSCRIBED_CAMPAIGN)
    status = recipient.consent_for(channel, Purpose.MARKETING)
    if status is ConsentStatus.WITHDRAWN:
        found.append(Reason.CONSENT_WITHDRAWN)
    elif status is not ConsentStatus.GRANTED:
        found.append(Reason.NO_CONSENT)
    return tuple(found)


class QuietAction(StrEnum):
    """What happens to a send planned inside quiet hours."""

    DEFER = "defer"
    DROP = "drop"


def _start(value: object) -> str:
    return clock_text(value, "start")


def _end(value: object) -> str:
    return clock_text(value, "end")


_to_action = to_enum(QuietAction, "action")


def _quiet_action(value: object) -> QuietAction:
    return _to_action(value)


@attrs.frozen
class QuietHours:
    """A nightly window, in the contact's own zone, when nothing is sent.

    The window is ``[start, end)`` local time and wraps midnight when
    ``start > end`` (``QuietHours("21:00", "08:00")``); ``start == end`` means no
    quiet hours. With ``action=DEFER`` a send inside it moves to ``end`` (the
    window's end on the right local day; a skipped local time moves forward by
    the DST gap); with ``DROP`` it is not planned (`Reason.QUIET_HOURS`).

    Attributes:
        start: First quiet local time, ``HH:MM``.
        end: First local time after the quiet period, ``HH:MM``.
        action: Defer (default) or drop a send inside the window.
    """

    start: str = attrs.field(default="21:00", converter=_start)
    end: str = attrs.field(default="08:00", converter=_end)
    action: QuietAction = attrs.field(default=QuietAction.DEFER, converter=_quiet_action)

    def contains(self, at: datetime, tz: ZoneInfo) -> bool:
        """Whether the instant ``at`` is inside the quiet window in ``tz``."""
        clock = require_aware(at, "at").astimezone(tz).strftime("%H:%M:%S")
        start, end = self.start + ":00", self.end + ":00"
        if start == end:
            return False
        if start < end:
            return start <= clock < end
        return clock >= start or clock < end

    def release(self, at: datetime, tz: ZoneInfo) -> datetime:
        """The first instant at or after ``at`` outside the window (``at`` itself if outside)."""
        if not self.contains(at, tz):
            return at
        local = at.astimezone(tz)
        day = local.date()
        end = time.fromisoformat(self.end)
        if self.start > self.end and local.strftime("%H:%M") >= self.start:
            day += timedelta(days=1)  # in the evening part: the window ends tomorrow
        return local_instant(day, end, tz)


def _max_sends(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("max_sends", "must be a positive integer", value)
    return value


def _per(value: object) -> int:
    return seconds_of(value, "per", minimum=1)


@attrs.frozen
class FrequencyCap:
    """At most ``max_sends`` sends to one contact, across all journeys, in any window ``per`` long.

    ``per`` accepts a `timedelta` and is kept in whole seconds (JSON holds no
    durations); `period` gives it back as a `timedelta`.

    Attributes:
        max_sends: Sends allowed per window.
        per: The window's length in seconds.
    """

    max_sends: int = attrs.field(default=1, converter=_max_sends)
    per: int = attrs.field(default=86_400, converter=_per)

    @property
    def period(self) -> timedelta:
        """``per`` as a `timedelta`."""
        return timedelta(seconds=self.per)

    def allows(self, at: datetime, sent: Iterable[datetime]) -> bool:
        """Whether one more send at ``at`` keeps every window of length ``per`` within the cap."""
        period = self.period
        window = sorted(s for s in sent if abs(s - at) < period)
        # Sliding windows [x, x + per) that contain ``at``: x runs over (at - per, at].
        times = sorted([*window, at])
        for low_index, low in enumerate(times):
            if low > at:
                break
            count = sum(1 for t in times[low_index:] if t < low + period)
            if count > self.max_sends:
                return False
        return True
