"""Journeys: triggered marketing sends, planned by pure functions.

`plan` lists the sends a journey would make to one recipient between ``now``
and ``now + horizon``; `why_not` lists the occurrences it refused and why.
`evaluate` does both for several journeys at once, applying the frequency cap
across them. The app queues each `PlannedSend` through the notifier with
``key=send.key`` and ``not_before=send.at``; the notifier and dispatcher check
consent again when queuing and sending.

For each trigger occurrence, in time order:

1. already sent (its key is in `Recipient.sends`): skipped (`Reason.ALREADY_SENT`);
2. recipient refusals (`crmkit.marketing.guards.refusals`): suppressed, hard
   bounce, unsubscribes, consent not GRANTED for the channel and ``marketing``;
3. quiet hours in the contact's zone: deferred to the window's end (or dropped);
   a deferred send that lands past the horizon is left for a later plan;
4. the frequency cap, counting sends made and sends planned before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from crmkit.kernel.checks import aware, of_type, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import CampaignId, ContactId, check_id
from crmkit.kernel.text import clean_line, clean_token
from crmkit.kernel.time import require_aware
from crmkit.marketing.guards import (
    FrequencyCap,
    JourneyId,
    QuietAction,
    QuietHours,
    Reason,
    Recipient,
    refusals,
)
from crmkit.marketing.triggers import (
    Anniversary,
    Birthday,
    Holiday,
    Inactivity,
    QuoteNotAccepted,
    Trigger,
    WelcomeSeries,
    has_data,
    next_occurrences,
)
from crmkit.parties.consent import Channel, as_channel

MAX_HORIZON: Final = timedelta(days=3 * 366)
"""The longest horizon `plan` accepts."""
MAX_KEY: Final = 200
"""The longest idempotency key (the notifier's limit); longer ones are hashed."""


@attrs.frozen
class TriggerSlot:
    """Holds exactly one trigger, so that JSON tells which kind it is.

    Build a `Journey` with a trigger itself; ``journey.trigger.value`` gives it back.

    Attributes:
        birthday: A `Birthday` trigger, or None.
        anniversary: An `Anniversary` trigger, or None.
        holiday: A `Holiday` trigger, or None.
        welcome: A `WelcomeSeries` trigger, or None.
        inactivity: An `Inactivity` trigger, or None.
        quote_not_accepted: A `QuoteNotAccepted` trigger, or None.
    """

    birthday: Birthday | None = attrs.field(
        default=None, validator=of_type(Birthday, optional=True)
    )
    anniversary: Anniversary | None = attrs.field(
        default=None, validator=of_type(Anniversary, optional=True)
    )
    holiday: Holiday | None = attrs.field(default=None, validator=of_type(Holiday, optional=True))
    welcome: WelcomeSeries | None = attrs.field(
        default=None, validator=of_type(WelcomeSeries, optional=True)
    )
    inactivity: Inactivity | None = attrs.field(
        default=None, validator=of_type(Inactivity, optional=True)
    )
    quote_not_accepted: QuoteNotAccepted | None = attrs.field(
        default=None, validator=of_type(QuoteNotAccepted, optional=True)
    )

    def __attrs_post_init__(self) -> None:
        if len([v for v in attrs.astuple(self, recurse=False) if v is not None]) != 1:
            raise ValidationError("trigger", "must hold exactly one trigger")

    @property
    def value(self) -> Trigger:
        """The trigger held."""
        for held in attrs.astuple(self, recurse=False):
            if held is not None:
                return held  # type: ignore[no-any-return]
        raise AssertionError("unreachable: checked at construction")


def _trigger(value: object) -> TriggerSlot:
    if isinstance(value, TriggerSlot):
        return value
    if isinstance(value, Birthday):
        return TriggerSlot(birthday=value)
    if isinstance(value, Anniversary):
        return TriggerSlot(anniversary=value)
    if isinstance(value, Holiday):
        return TriggerSlot(holiday=value)
    if isinstance(value, WelcomeSeries):
        return TriggerSlot(welcome=value)
    if isinstance(value, Inactivity):
        return TriggerSlot(inactivity=value)
    if isinstance(value, QuoteNotAccepted):
        return TriggerSlot(quote_not_accepted=value)
    raise ValidationError("trigger", "must be a journey trigger", type(value).__name__)


def _id(value: object) -> JourneyId:
    return JourneyId(check_id(value, "id"))


def _name(value: object) -> str:
    return clean_line(value, "name", max_len=200)


def _template_key(value: object) -> str:
    return clean_token(value, "template_key")


def _channel(value: object) -> Channel:
    return as_channel(value)


def _list_id(value: object) -> str | None:
    return None if value is None else check_id(value, "list_id")


def _campaign_id(value: object) -> CampaignId | None:
    return None if value is None else CampaignId(check_id(value, "campaign_id"))


@attrs.frozen
class Journey:
    """A triggered marketing send: what fires it, what is sent, and its guards.

    Attributes:
        id: The journey's id.
        name: A name for people.
        trigger: What fires it (pass a trigger; ``.value`` reads it back).
        template_key: The message template the app renders.
        channel: The channel (consent is checked for it and purpose marketing).
        list_id: The mailing list it belongs to (unsubscribing from it stops the journey).
        campaign_id: The campaign it belongs to (likewise).
        cap: Frequency cap per contact, counting sends of every journey.
        quiet: Quiet hours in the contact's zone.
    """

    id: JourneyId = attrs.field(converter=_id)
    name: str = attrs.field(converter=_name)
    trigger: TriggerSlot = attrs.field(converter=_trigger)
    template_key: str = attrs.field(converter=_template_key)
    channel: Channel = attrs.field(default=Channel.EMAIL, converter=_channel)
    list_id: str | None = attrs.field(default=None, converter=_list_id)
    campaign_id: CampaignId | None = attrs.field(default=None, converter=_campaign_id)
    cap: FrequencyCap = attrs.field(factory=FrequencyCap, validator=of_type(FrequencyCap))
    quiet: QuietHours = attrs.field(factory=QuietHours, validator=of_type(QuietHours))


def send_key(journey_id: str, contact_id: str, occurrence: datetime) -> str:
    """The idempotency key of one occurrence: stable for (journey, contact, occurrence instant).

    >>> send_key("j-1", "c-1", datetime(2026, 3, 30, 7, tzinfo=UTC))
    'journey:j-1:c-1:20260330T070000Z'
    """
    stamp = require_aware(occurrence, "occurrence").astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"journey:{journey_id}:{contact_id}:{stamp}"
    if len(key) <= MAX_KEY:
        return key
    # The notifier takes keys of at most 200 characters: long ids are hashed, still stable.
    return "journey:" + hashlib.sha256(key.encode()).hexdigest()


@attrs.frozen
class PlannedSend:
    """A send to queue: ``notifier.send(..., key=key, not_before=at)``.

    Attributes:
        contact_id: The recipient.
        journey_id: The journey.
        template_key: The template to render.
        channel: The channel.
        at: When to send, UTC (after quiet hours deferral).
        occurrence: The trigger's own instant, UTC (may differ from ``at``).
        key: Idempotency key, stable for (journey, contact, occurrence).
    """

    contact_id: ContactId = attrs.field(validator=of_type(str))
    journey_id: JourneyId = attrs.field(validator=of_type(str))
    template_key: str = attrs.field(validator=of_type(str))
    channel: Channel = attrs.field(validator=of_type(Channel))
    at: datetime = attrs.field(validator=aware())
    occurrence: datetime = attrs.field(validator=aware())
    key: str = attrs.field(validator=of_type(str))


@attrs.frozen
class Skipped:
    """An occurrence that was not planned, and every reason why.

    Attributes:
        contact_id: The recipient.
        journey_id: The journey.
        occurrence: The trigger's instant (UTC), or None when the trigger had no data.
        reasons: The refusals, most fundamental first.
    """

    contact_id: ContactId = attrs.field(validator=of_type(str))
    journey_id: JourneyId = attrs.field(validator=of_type(str))
    occurrence: datetime | None = attrs.field(validator=aware(optional=True))
    reasons: tuple[Reason, ...] = attrs.field(validator=tuple_of(Reason))


@attrs.frozen
class Plan:
    """What `evaluate` decided.

    Attributes:
        sends: Sends to queue, by time.
        skipped: Occurrences refused, by journey and time.
    """

    sends: tuple[PlannedSend, ...]
    skipped: tuple[Skipped, ...]


def _journeys(value: object) -> tuple[Journey, ...]:
    if isinstance(value, Journey):
        return (value,)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError("journeys", "must be a journey or a list of journeys", value)
    out = tuple(value)
    for index, journey in enumerate(out):
        if not isinstance(journey, Journey):
            raise ValidationError(f"journeys[{index}]", "must be a Journey", journey)
    return out


def evaluate(
    journeys: Journey | Iterable[Journey], recipient: Recipient, now: datetime, horizon: timedelta
) -> Plan:
    """Plan every journey's sends to ``recipient`` in ``[now, now + horizon)``, with refusals.

    The frequency cap of each journey counts the recipient's past sends and
    every send planned earlier in this call, whichever journey made it.
    """
    chosen = _journeys(journeys)
    if not isinstance(recipient, Recipient):
        raise ValidationError("recipient", "must be a Recipient", type(recipient).__name__)
    require_aware(now, "now")
    if not isinstance(horizon, timedelta) or not timedelta(0) < horizon <= MAX_HORIZON:
        raise ValidationError("horizon", f"must be a timedelta above 0, at most {MAX_HORIZON}")
    until = now + horizon
    sent_keys = {s.key for s in recipient.sends}
    made = [s.at for s in recipient.sends]
    skipped: list[Skipped] = []
    candidates: list[tuple[datetime, datetime, Journey]] = []
    for journey in chosen:
        trigger = journey.trigger.value
        if not has_data(trigger, recipient):
            skipped.append(Skipped(recipient.contact_id, journey.id, None, (Reason.MISSING_DATA,)))
            continue
        # Occurrences just before ``now`` may be deferred by quiet hours into the horizon.
        low = now - timedelta(days=1)
        refused = refusals(
            recipient, journey.channel, list_id=journey.list_id, campaign_id=journey.campaign_id
        )
        for occurrence in next_occurrences(trigger, recipient, low, until):
            occurrence = occurrence.astimezone(UTC)
            key = send_key(journey.id, recipient.contact_id, occurrence)
            at = journey.quiet.release(occurrence, recipient.zone)
            drop = journey.quiet.action is QuietAction.DROP
            if not now <= (occurrence if drop else at) < until:
                continue
            reasons = list(refused)
            if key in sent_keys:
                reasons = [Reason.ALREADY_SENT]
            elif drop and at != occurrence:
                reasons.append(Reason.QUIET_HOURS)
            if reasons:
                skipped.append(
                    Skipped(recipient.contact_id, journey.id, occurrence, tuple(reasons))
                )
            else:
                candidates.append((at.astimezone(UTC), occurrence, journey))
    sends: list[PlannedSend] = []
    for at, occurrence, journey in sorted(candidates, key=lambda c: (c[0], c[2].id)):
        if not journey.cap.allows(at, [*made, *(s.at for s in sends)]):
            skipped.append(
                Skipped(recipient.contact_id, journey.id, occurrence, (Reason.FREQUENCY_CAP,))
            )
            continue
        key = send_key(journey.id, recipient.contact_id, occurrence)
        sends.append(
            PlannedSend(
                recipient.contact_id,
                journey.id,
                journey.template_key,
                journey.channel,
                at,
                occurrence,
                key,
            )
        )
    skipped.sort(key=lambda s: (s.journey_id, s.occurrence or now))
    return Plan(tuple(sends), tuple(skipped))


def plan(
    journey: Journey | Iterable[Journey], recipient: Recipient, now: datetime, horizon: timedelta
) -> tuple[PlannedSend, ...]:
    """The sends to queue for ``recipient`` in ``[now, now + horizon)``, by time."""
    return evaluate(journey, recipient, now, horizon).sends


def why_not(
    journey: Journey | Iterable[Journey], recipient: Recipient, now: datetime, horizon: timedelta
) -> tuple[Skipped, ...]:
    """The occurrences in ``[now, now + horizon)`` that were not planned, each with its reasons."""
    return evaluate(journey, recipient, now, horizon).skipped
