"""A contact's marketing record: dates that trigger journeys, unsubscribes, suppression, sends.

`Audience` keeps what marketing knows about one contact beside the contact
itself (its id is `audience_id` of the contact's id): the birthday and signup that journeys
fire on, where the contact is, what they unsubscribed from, whether they are
suppressed or their address hard-bounced, and the journey sends already
queued (for frequency caps). Each change is an event on the contact's
timeline, so `Audience.replay` rebuilds it.

Unsubscribing works at three scopes (`UnsubscribeScope`): one list, one
campaign, or all marketing. Together with suppression and hard bounces they
feed `crmkit.marketing.guards.refusals` through `Audience.recipient`.

>>> from datetime import UTC, datetime
>>> from crmkit.kernel.events import Stamp
>>> s = Stamp(datetime(2026, 3, 2, tzinfo=UTC), "u-1")
>>> a, _ = Audience.create("c-1", s, birthday=date(1990, 2, 28))
>>> a, _ = a.unsubscribe("list", s, ref="newsletter")
>>> a.unsubscribed_lists
('newsletter',)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Self

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, of_type, to_enum, tuple_of, version
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent, Stamp
from crmkit.kernel.ids import CampaignId, ContactId, check_id
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import require_aware
from crmkit.marketing._segment_eval import coordinate
from crmkit.marketing.audience_events import (
    AudienceCreated,
    AudienceEvent,
    AudienceFactsChanged,
    BounceCleared,
    HardBounced,
    JourneySendQueued,
    Resubscribed,
    Suppressed,
    Unsubscribed,
    Unsuppressed,
)
from crmkit.marketing.guards import Sent

__all__ = ["SEND_HISTORY", "SEND_HISTORY_LIMIT", "Audience", "UnsubscribeScope", "audience_id"]

SEND_HISTORY: Final = timedelta(days=366)
"""How long queued sends are remembered: frequency caps longer than this count only this much."""
SEND_HISTORY_LIMIT: Final = 500
"""The most sends remembered, newest kept."""
_UNSET: Any = object()


class UnsubscribeScope(StrEnum):
    """What an unsubscribe covers."""

    ALL = "all"
    """All marketing."""
    LIST = "list"
    """One mailing list."""
    CAMPAIGN = "campaign"
    """One campaign."""


_to_scope = to_enum(UnsubscribeScope, "scope")


def _contact_id(value: object) -> ContactId:
    return ContactId(check_id(value, "contact_id"))


def audience_id(contact_id: str) -> str:
    """The id of a contact's audience record (its own id: event streams are keyed by id).

    >>> audience_id("c-1")
    'aud:c-1'
    """
    checked = _contact_id(contact_id)
    full = f"aud:{checked}"
    # Ids are at most 100 characters: a long contact id is hashed, still one-to-one in practice.
    return full if len(full) <= 100 else "aud:" + hashlib.sha256(checked.encode()).hexdigest()


def _id(value: object) -> str:
    return check_id(value, "id")


def _day(value: object, field: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(field, "must be a date", value)
    return value


def _instant(value: object, field: str) -> datetime | None:
    return None if value is None else require_aware(value, field)


def _point(latitude: object, longitude: object) -> tuple[Decimal | None, Decimal | None]:
    if (latitude is None) != (longitude is None):
        raise ValidationError("latitude", "must be given together with longitude")
    if latitude is None:
        return None, None
    return coordinate(latitude, "latitude", 90), coordinate(longitude, "longitude", 180)


def _check_stamp(stamp: object) -> Stamp:
    if not isinstance(stamp, Stamp):
        raise ValidationError("stamp", "must be a Stamp", type(stamp).__name__)
    return stamp


@attrs.frozen
class Audience(Replayable):
    """What marketing knows about one contact.

    Attributes:
        id: `audience_id` of the contact's id.
        contact_id: The contact.
        version: Grows by one with every change.
        created_at: When it was created.
        updated_at: When it last changed.
        birthday: Date of birth, if known (personal).
        customer_since: When the contact became a customer (anniversary journeys).
        signed_up_at: When the contact signed up (welcome series).
        latitude: Degrees north of the contact's location, for radius segments (personal).
        longitude: Degrees east of the contact's location (personal).
        suppressed: On the suppression list: no marketing is sent.
        hard_bounced: The address hard-bounced: no marketing is sent.
        unsubscribed_all: Unsubscribed from all marketing.
        unsubscribed_lists: Lists left, sorted.
        unsubscribed_campaigns: Campaigns left, sorted.
        sends: Journey sends queued, oldest first (see `SEND_HISTORY`).
    """

    id: str = attrs.field(converter=_id)
    contact_id: ContactId = attrs.field(converter=_contact_id)
    version: int = attrs.field(validator=version)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    birthday: date | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    customer_since: date | None = None
    signed_up_at: datetime | None = None
    latitude: Decimal | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    longitude: Decimal | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    suppressed: bool = attrs.field(default=False, validator=of_type(bool))
    hard_bounced: bool = attrs.field(default=False, validator=of_type(bool))
    unsubscribed_all: bool = attrs.field(default=False, validator=of_type(bool))
    unsubscribed_lists: tuple[str, ...] = attrs.field(default=(), validator=tuple_of(str))
    unsubscribed_campaigns: tuple[CampaignId, ...] = attrs.field(
        default=(), validator=tuple_of(str)
    )
    sends: tuple[Sent, ...] = attrs.field(default=(), validator=tuple_of(Sent))

    @classmethod
    def create(
        cls,
        contact_id: str,
        stamp: Stamp,
        *,
        birthday: date | None = None,
        customer_since: date | None = None,
        signed_up_at: datetime | None = None,
        latitude: Decimal | None = None,
        longitude: Decimal | None = None,
    ) -> tuple[Audience, AudienceCreated]:
        """The audience record of ``contact_id``, with its first facts."""
        _check_stamp(stamp)
        lat, lon = _point(latitude, longitude)
        event = AudienceCreated(
            aggregate_id=audience_id(contact_id),
            contact_id=_contact_id(contact_id),
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            birthday=_day(birthday, "birthday"),
            customer_since=_day(customer_since, "customer_since"),
            signed_up_at=_instant(signed_up_at, "signed_up_at"),
            latitude=lat,
            longitude=lon,
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The first state, from `AudienceCreated`."""
        if not isinstance(event, AudienceCreated):
            raise ValidationError("events[0]", "must be AudienceCreated", event.event_type)
        first = cls(event.aggregate_id, event.contact_id, 1, event.occurred_at, event.occurred_at)
        return first._facts(event)._evolve(version=1)

    def _facts(self, event: AudienceFactsChanged) -> Self:
        return self._evolve(
            version=event.version,
            updated_at=event.occurred_at,
            birthday=event.birthday,
            customer_since=event.customer_since,
            signed_up_at=event.signed_up_at,
            latitude=event.latitude,
            longitude=event.longitude,
        )

    def apply(self, event: DomainEvent) -> Self:
        """The state after one of this record's events."""
        if isinstance(event, AudienceFactsChanged) and not isinstance(event, AudienceCreated):
            return self._facts(event)
        step: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at}
        if isinstance(event, Unsubscribed):
            step.update(self._subscription(event, leave=not isinstance(event, Resubscribed)))
        elif isinstance(event, Suppressed | Unsuppressed):
            step["suppressed"] = isinstance(event, Suppressed)
        elif isinstance(event, HardBounced | BounceCleared):
            step["hard_bounced"] = isinstance(event, HardBounced)
        elif isinstance(event, JourneySendQueued):
            step["sends"] = _remember(self.sends, Sent(event.journey_id, event.key, event.at))
        else:
            raise ValidationError("event", "must be an audience event", event.event_type)
        return self._evolve(**step)

    def _subscription(self, event: Unsubscribed, leave: bool) -> dict[str, Any]:
        scope = UnsubscribeScope(event.scope)
        if scope is UnsubscribeScope.ALL:
            return {"unsubscribed_all": leave}
        name = "unsubscribed_lists" if scope is UnsubscribeScope.LIST else "unsubscribed_campaigns"
        now = set(getattr(self, name))
        now = now | {event.ref} if leave else now - {event.ref}
        return {name: tuple(sorted(now))}

    def _do(self, cls: type[AudienceEvent], stamp: Stamp, **data: Any) -> tuple[Self, Any]:
        _check_stamp(stamp)
        event = cls(
            aggregate_id=self.id,
            contact_id=self.contact_id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            **data,
        )
        return self.apply(event), event

    def update(
        self,
        stamp: Stamp,
        *,
        birthday: date | None = _UNSET,
        customer_since: date | None = _UNSET,
        signed_up_at: datetime | None = _UNSET,
        latitude: Decimal | None = _UNSET,
        longitude: Decimal | None = _UNSET,
    ) -> tuple[Audience, AudienceFactsChanged]:
        """Set the facts given (None clears one); the others keep their values."""
        lat = self.latitude if latitude is _UNSET else latitude
        lon = self.longitude if longitude is _UNSET else longitude
        lat, lon = _point(lat, lon)
        return self._do(
            AudienceFactsChanged,
            stamp,
            birthday=self.birthday if birthday is _UNSET else _day(birthday, "birthday"),
            customer_since=self.customer_since
            if customer_since is _UNSET
            else _day(customer_since, "customer_since"),
            signed_up_at=self.signed_up_at
            if signed_up_at is _UNSET
            else _instant(signed_up_at, "signed_up_at"),
            latitude=lat,
            longitude=lon,
        )

    def _scope(self, scope: object, ref: object) -> tuple[UnsubscribeScope, str | None]:
        chosen = _to_scope(scope)
        if chosen is UnsubscribeScope.ALL:
            if ref is not None:
                raise ValidationError("ref", "must be None when the scope is all", ref)
            return chosen, None
        return chosen, check_id(ref, "ref")

    def unsubscribe(
        self, scope: UnsubscribeScope | str, stamp: Stamp, *, ref: str | None = None
    ) -> tuple[Audience, Unsubscribed]:
        """Leave a list or a campaign (``ref`` names it), or all marketing."""
        chosen, name = self._scope(scope, ref)
        return self._do(Unsubscribed, stamp, scope=chosen.value, ref=name)

    def resubscribe(
        self, scope: UnsubscribeScope | str, stamp: Stamp, *, ref: str | None = None
    ) -> tuple[Audience, Resubscribed]:
        """Join again a list, a campaign or all marketing (the contact asked to)."""
        chosen, name = self._scope(scope, ref)
        return self._do(Resubscribed, stamp, scope=chosen.value, ref=name)

    def suppress(self, reason: str, stamp: Stamp) -> tuple[Audience, Suppressed]:
        """Put the contact on the suppression list."""
        return self._do(Suppressed, stamp, reason=clean_line(reason, "reason", max_len=200))

    def unsuppress(self, stamp: Stamp) -> tuple[Audience, Unsuppressed]:
        """Take the contact off the suppression list."""
        return self._do(Unsuppressed, stamp)

    def hard_bounce(self, stamp: Stamp) -> tuple[Audience, HardBounced]:
        """Record that the contact's address hard-bounced."""
        return self._do(HardBounced, stamp)

    def clear_bounce(self, stamp: Stamp) -> tuple[Audience, BounceCleared]:
        """Record that the contact's address works again (for example, it was corrected)."""
        return self._do(BounceCleared, stamp)

    def record_send(
        self, journey_id: str, key: str, at: datetime, stamp: Stamp
    ) -> tuple[Audience, JourneySendQueued]:
        """Remember a journey send queued for ``at`` (caps and repeats read it)."""
        return self._do(
            JourneySendQueued,
            stamp,
            journey_id=check_id(journey_id, "journey_id"),
            key=clean_line(key, "key", max_len=200),
            at=require_aware(at, "at"),
        )


def _remember(sends: Iterable[Sent], new: Sent) -> tuple[Sent, ...]:
    """``sends`` and ``new``, oldest first, without what `SEND_HISTORY` lets go."""
    horizon = new.at - SEND_HISTORY
    kept = sorted((s for s in (*sends, new) if s.at >= horizon), key=lambda s: (s.at, s.key))
    return tuple(kept[-SEND_HISTORY_LIMIT:])
