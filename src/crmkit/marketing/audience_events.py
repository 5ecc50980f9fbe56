"""Events of a contact's marketing audience record (`crmkit.marketing.audience`).

Each event shows on the contact's timeline. The birthday and the geo point
are personal: they are marked so and kept out of summaries.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

import attrs

from crmkit.kernel.events import PERSONAL, DomainEvent

__all__ = [
    "EVENTS",
    "AudienceCreated",
    "AudienceEvent",
    "AudienceFactsChanged",
    "BounceCleared",
    "HardBounced",
    "JourneySendQueued",
    "Resubscribed",
    "Suppressed",
    "Unsubscribed",
    "Unsuppressed",
]


@attrs.frozen(kw_only=True)
class AudienceEvent(DomainEvent):
    """Base class of audience events.

    Attributes:
        contact_id: The contact the audience record belongs to.
    """

    aggregate_kind: ClassVar[str] = "audience"
    contact_id: str

    def subjects(self) -> tuple[str, ...]:
        """The audience record and its contact."""
        return (self.aggregate_id, self.contact_id)

    def summary(self) -> str:
        """Timeline line."""
        return self.event_type.replace("_", " ")


@attrs.frozen(kw_only=True)
class AudienceFactsChanged(AudienceEvent):
    """The facts that journeys and segments read about the contact were set.

    Attributes:
        birthday: Date of birth (personal).
        customer_since: When the contact became a customer.
        signed_up_at: When the contact signed up.
        latitude: Degrees north of the contact's location (personal).
        longitude: Degrees east of the contact's location (personal).
    """

    event_type: ClassVar[str] = "audience_facts_changed"
    birthday: date | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    customer_since: date | None = None
    signed_up_at: datetime | None = None
    latitude: Decimal | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    longitude: Decimal | None = attrs.field(default=None, metadata=PERSONAL, repr=False)


@attrs.frozen(kw_only=True)
class AudienceCreated(AudienceFactsChanged):
    """The contact's audience record was created, with its first facts."""

    event_type: ClassVar[str] = "audience_created"


@attrs.frozen(kw_only=True)
class Unsubscribed(AudienceEvent):
    """The contact left a list, a campaign, or all marketing.

    Attributes:
        scope: ``all``, ``list`` or ``campaign``.
        ref: The list or campaign id; None for ``all``.
    """

    event_type: ClassVar[str] = "audience_unsubscribed"
    scope: str
    ref: str | None = None

    def summary(self) -> str:
        """Timeline line."""
        return f"unsubscribed from {self.scope}" + ("" if self.ref is None else f" {self.ref}")


@attrs.frozen(kw_only=True)
class Resubscribed(Unsubscribed):
    """The contact joined again what they had left."""

    event_type: ClassVar[str] = "audience_resubscribed"

    def summary(self) -> str:
        """Timeline line."""
        return f"resubscribed to {self.scope}" + ("" if self.ref is None else f" {self.ref}")


@attrs.frozen(kw_only=True)
class Suppressed(AudienceEvent):
    """The contact went on the suppression list: no marketing is sent.

    Attributes:
        reason: Why, without personal data (``complaint``, ``legal hold`` ...).
    """

    event_type: ClassVar[str] = "audience_suppressed"
    reason: str


@attrs.frozen(kw_only=True)
class Unsuppressed(AudienceEvent):
    """The contact left the suppression list."""

    event_type: ClassVar[str] = "audience_unsuppressed"


@attrs.frozen(kw_only=True)
class HardBounced(AudienceEvent):
    """The contact's address hard-bounced: no marketing is sent until it changes."""

    event_type: ClassVar[str] = "audience_hard_bounced"


@attrs.frozen(kw_only=True)
class BounceCleared(AudienceEvent):
    """The contact has a working address again."""

    event_type: ClassVar[str] = "audience_bounce_cleared"


@attrs.frozen(kw_only=True)
class JourneySendQueued(AudienceEvent):
    """A journey queued a message to the contact.

    Attributes:
        journey_id: The journey.
        key: The message's idempotency key.
        at: When it is to be sent.
    """

    event_type: ClassVar[str] = "audience_journey_send_queued"
    journey_id: str
    key: str
    at: datetime

    def summary(self) -> str:
        """Timeline line."""
        return f"journey {self.journey_id} send queued"


EVENTS: tuple[type[DomainEvent], ...] = (
    AudienceCreated,
    AudienceFactsChanged,
    Unsubscribed,
    Resubscribed,
    Suppressed,
    Unsuppressed,
    HardBounced,
    BounceCleared,
    JourneySendQueued,
)
