"""The dispatcher: delivers outbox messages through channels, with retries and dead letters.

`Dispatcher.run_once` claims a batch of due messages (a lease, committed at
once), sends each one through the channel its ``channel`` names without
holding any lock or transaction, and records the outcome:

* a receipt: delivered; the key is never sent again;
* `TemporaryFailure` (or any unexpected exception from a channel): retried
  after an exponential backoff with jitter, or dead after ``max_attempts``;
* `PermanentFailure`, an unknown channel, an unreadable message, or consent
  that no longer allows it (checked again at send time): dead at once.

Delivery is at least once. A dispatcher that dies after a send and before the
record leaves the claim to run out; the message is then claimed and sent
again with the same idempotency key, which receivers deduplicate by.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

import attrs

from crmkit.app.marketing_records import AUDIENCES
from crmkit.app.notifier import CONSENT_CHANNELS, consent_refusal
from crmkit.app.paging import decode
from crmkit.app.records import CONTACTS
from crmkit.kernel.errors import ConcurrencyConflict, StorageError, ValidationError
from crmkit.kernel.serialization import loads, structure
from crmkit.kernel.time import to_micros
from crmkit.marketing.audience import audience_id
from crmkit.parties.consent import Purpose
from crmkit.ports.notify import Channel, DeliveryFailure, Message, PermanentFailure
from crmkit.ports.storage import OutboxEntry, OutboxMessage

if TYPE_CHECKING:
    from crmkit.app.crm import Crm

log = logging.getLogger("crmkit.dispatcher")
_MICRO = timedelta(microseconds=1)
_MAX_REASON = 500


@attrs.frozen
class DispatchReport:
    """What one or more dispatch rounds did. ``claimed`` is the sum of the others.

    Attributes:
        claimed: Messages claimed.
        delivered: Sent, with the receipt recorded.
        retried: Failed for now; scheduled for another attempt.
        dead: Dead-lettered: permanent failure, unknown channel, or out of attempts.
        refused: Dead-lettered because consent no longer allows them.
        conflicts: Claims lost before the outcome was recorded: the lease ran out
            before sending, or another dispatcher took the message over.
    """

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    refused: int = 0
    conflicts: int = 0

    def __add__(self, other: DispatchReport) -> DispatchReport:
        fields = attrs.fields(DispatchReport)
        return DispatchReport(*(getattr(self, f.name) + getattr(other, f.name) for f in fields))


def _positive(value: object, name: str) -> timedelta:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError(name, "must be a positive timedelta", value)
    return value


class Dispatcher:
    """Sends the outbox of one `Crm` through channels; drive it with `run_once`.

    Args:
        crm: Its store, clock, tenant and converter are used.
        channels: The channels, each picked by its ``name``.
        lease: How long a claim holds; make it longer than the slowest send.
        max_attempts: Claims before a failing message is dead-lettered.
        base_delay: The wait after the first failed attempt.
        max_delay: The longest wait before jitter. After attempt *n* the wait is
            ``min(max_delay, base_delay * 2**(n-1))`` times a jitter drawn
            uniformly from 0.5 to 1.5.
        rng: The source of the jitter (seed one for reproducible schedules).
    """

    def __init__(
        self,
        crm: Crm,
        channels: Iterable[Channel],
        *,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 8,
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(hours=6),
        rng: random.Random | None = None,
    ) -> None:
        self._crm = crm
        self._channels: dict[str, Channel] = {}
        for channel in channels:
            if channel.name in self._channels:
                raise ValidationError("channels", "names a channel twice", channel.name)
            self._channels[channel.name] = channel
        self.lease = _positive(lease, "lease")
        self.base_delay = _positive(base_delay, "base_delay")
        self.max_delay = _positive(max_delay, "max_delay")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValidationError("max_attempts", "must be a positive integer", max_attempts)
        self.max_attempts = max_attempts
        self._rng = rng or random.Random()

    def backoff(self, attempts: int) -> timedelta:
        """The wait after failed attempt number ``attempts`` (from 1), jitter included."""
        factor = 1 << min(max(attempts, 1) - 1, 62)
        # Compare before multiplying: a large factor would overflow timedelta.
        ratio = self.max_delay / self.base_delay
        delay = self.max_delay if factor >= ratio else self.base_delay * factor
        jitter: float = self._rng.uniform(0.5, 1.5)
        return delay * jitter

    def run_once(self, limit: int = 100) -> DispatchReport:
        """Claim up to ``limit`` due messages, send each and record the outcomes.

        Store failures (`StorageError`) propagate; messages already claimed are
        then claimed again once their lease runs out.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit", "must be a positive integer", limit)
        crm = self._crm
        now = to_micros(crm.clock.now())
        entries = crm.store.claim_outbox(
            crm.tenant, now=now, limit=limit, lease=self.lease // _MICRO
        )
        counts = dict.fromkeys(("delivered", "retried", "dead", "refused", "conflicts"), 0)
        for entry in entries:
            counts[self._dispatch(entry)] += 1
        return DispatchReport(claimed=len(entries), **counts)

    def run_until_idle(self, limit: int = 100, *, max_rounds: int = 1000) -> DispatchReport:
        """Run rounds until one claims nothing or only loses its claims (or ``max_rounds``).

        A round whose every claim was a conflict made no progress: another
        dispatcher holds those messages, or the clock passed the lease while
        sending (a lease shorter than a send). Stopping there returns the summed
        report instead of claiming the same messages again and again.
        """
        total = DispatchReport()
        for _ in range(max_rounds):
            report = self.run_once(limit)
            total += report
            if report.claimed == report.conflicts:
                break
        return total

    def run_forever(
        self, *, stop: threading.Event, poll: float = 1.0, limit: int = 100
    ) -> DispatchReport:
        """Run rounds until ``stop`` is set, waiting ``poll`` seconds after an idle round.

        A `StorageError` is logged and the round retried after ``poll`` seconds.
        """
        total = DispatchReport()
        while not stop.is_set():
            try:
                report = self.run_once(limit)
            except StorageError as exc:
                log.warning("dispatch round failed: %s", exc)
                stop.wait(poll)
                continue
            total += report
            if report.claimed < limit:
                stop.wait(poll)
        return total

    # --- one message --------------------------------------------------------

    def _dispatch(self, entry: OutboxEntry) -> str:
        """Send one claimed message and record the outcome; the report field it counts in."""
        crm = self._crm
        stored = entry.message
        try:
            message = structure(crm.converter, loads(stored.body), Message)
        except ValidationError as exc:
            return self._dead(entry, f"unreadable message at {exc.field}: {exc.rule}", "dead")
        refused = self._consent(stored) or self._audience(stored, message)
        if refused is not None:
            return self._dead(entry, refused, "refused")
        channel = self._channels.get(stored.channel)
        if channel is None:
            return self._dead(entry, f"no channel named {stored.channel!r}", "dead")
        if entry.lease_until is not None and to_micros(crm.clock.now()) >= entry.lease_until:
            log.warning("outbox message %s: lease ran out before sending", stored.id)
            return "conflicts"  # another dispatcher may hold it now: do not send
        try:
            receipt = channel.send(message)
        except PermanentFailure as exc:
            return self._dead(entry, _reason(exc.reason), "dead")
        except DeliveryFailure as exc:  # TemporaryFailure, or a bare DeliveryFailure
            return self._retry(entry, _reason(exc.reason))
        except Exception as exc:  # a channel's bug: its text may hold personal data
            return self._retry(entry, f"unexpected {type(exc).__name__} from channel")
        if not isinstance(receipt, str) or not receipt.strip():
            receipt = "(no receipt)"
        return self._record(
            "delivered",
            entry,
            lambda: crm.store.complete_outbox(
                crm.tenant, stored.id, attempt=entry.attempts, receipt=receipt[:_MAX_REASON]
            ),
        )

    def _consent(self, stored: OutboxMessage) -> str | None:
        """Why consent now forbids the message (by its stored party, channel, purpose), or None."""
        if stored.party_id is None:
            return None
        crm = self._crm
        doc = crm.store.get(crm.tenant, CONTACTS.kind, stored.party_id)
        if doc is None:
            return "the party is gone" if stored.channel in CONSENT_CHANNELS else None
        return consent_refusal(decode(crm.loaders, CONTACTS, doc), stored.channel, stored.purpose)

    def _audience(self, stored: OutboxMessage, message: Message) -> str | None:
        """Why the contact's unsubscribes, suppression or bounces now forbid a marketing message."""
        if stored.party_id is None or stored.purpose != Purpose.MARKETING:
            return None
        crm = self._crm
        doc = crm.store.get(crm.tenant, AUDIENCES.kind, audience_id(stored.party_id))
        if doc is None:
            return None
        audience = decode(crm.loaders, AUDIENCES, doc)
        meta = message.metadata
        if audience.suppressed:
            return "the contact is suppressed"
        if audience.hard_bounced:
            return "the contact's address hard-bounced"
        if audience.unsubscribed_all:
            return "the contact unsubscribed from all marketing"
        if meta.get("list_id") in audience.unsubscribed_lists:
            return "the contact unsubscribed from the list"
        if meta.get("campaign_id") in audience.unsubscribed_campaigns:
            return "the contact unsubscribed from the campaign"
        return None

    def _retry(self, entry: OutboxEntry, reason: str) -> str:
        if entry.attempts >= self.max_attempts:
            return self._dead(entry, f"{reason} (gave up after {entry.attempts} attempts)", "dead")
        crm = self._crm
        retry_at = to_micros(crm.clock.now() + self.backoff(entry.attempts))
        return self._record(
            "retried",
            entry,
            lambda: crm.store.fail_outbox(
                crm.tenant,
                entry.message.id,
                attempt=entry.attempts,
                error=reason,
                retry_at=retry_at,
            ),
        )

    def _dead(self, entry: OutboxEntry, reason: str, outcome: str) -> str:
        crm = self._crm
        log.info("outbox message %s is dead: %s", entry.message.id, reason)
        return self._record(
            outcome,
            entry,
            lambda: crm.store.fail_outbox(
                crm.tenant, entry.message.id, attempt=entry.attempts, error=reason, retry_at=None
            ),
        )

    def _record(self, outcome: str, entry: OutboxEntry, write: Callable[[], None]) -> str:
        try:
            write()
        except ConcurrencyConflict:
            log.warning(
                "outbox message %s was taken over by another dispatcher after its lease ran out",
                entry.message.id,
            )
            return "conflicts"
        return outcome


def _reason(reason: object) -> str:
    text = reason if isinstance(reason, str) and reason.strip() else "(no reason given)"
    return text[:_MAX_REASON]
