"""The notification port: a rendered message and the channel that delivers it.

A host (or crmkit) queues a `Message` in the outbox inside a unit of work, so
it is sent if and only if the change that caused it commits. A dispatcher
later hands each message to the `Channel` named by ``message.channel``.

A channel reports the outcome by what it does:

* it returns a receipt (a short string: an SMTP reply, an HTTP status ...)
  when the message was delivered;
* it raises `TemporaryFailure` when trying again later may work (a server
  down, a timeout, an HTTP 5xx);
* it raises `PermanentFailure` when it never will (a refused recipient, an
  HTTP 4xx). The message is then dead-lettered with the reason.

Delivery is at least once: a crash between a successful send and the
recording of its receipt sends the message again, with the same idempotency
key, which receivers use to drop the duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

from crmkit.kernel.errors import CrmError
from crmkit.kernel.events import PERSONAL


@attrs.frozen
class Message:
    """A rendered message, ready for a channel.

    Attributes:
        key: Idempotency key: the same key is queued once and receivers deduplicate by it.
        channel: Name of the channel to send it through, for example ``email`` or ``webhook``.
        to: The recipient: an email address, a URL, a phone number ...
        subject: Subject line (channels without one ignore it).
        text: Plain-text body (for a webhook: the JSON payload as text).
        html: Optional HTML body.
        purpose: Why it is sent (``service``, ``marketing`` ...); consent is checked for it.
        party_id: The contact it goes to, or None for a system recipient.
        metadata: Extra headers or attributes, for example ``list_unsubscribe``.
    """

    key: str
    channel: str
    to: str = attrs.field(metadata=PERSONAL, repr=False)
    subject: str
    text: str = attrs.field(metadata=PERSONAL, repr=False)
    html: str | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    purpose: str = "service"
    party_id: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)


class DeliveryFailure(CrmError):
    """A channel could not deliver a message.

    Attributes:
        reason: What went wrong, without personal data.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TemporaryFailure(DeliveryFailure):
    """Delivery failed but may succeed later; the dispatcher retries with backoff."""


class PermanentFailure(DeliveryFailure):
    """Delivery will never succeed; the dispatcher dead-letters the message."""


class Channel(Protocol):
    """Delivers messages of one kind (email, webhook, SMS ...)."""

    name: str
    """The channel name messages use to pick it, for example ``email``."""

    def send(self, message: Message) -> str:
        """Deliver ``message`` and return a receipt, or raise a `DeliveryFailure`."""
        ...
