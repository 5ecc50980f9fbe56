"""Journeys on the store: plan each contact's triggered sends and queue them in the outbox.

``uow.journeys.run(journeys, templates)`` builds each contact's `Recipient`
(`crmkit.app.audiences.Audiences.recipient`), plans the sends due in the
horizon with `crmkit.marketing.journey.evaluate` (consent, unsubscribes,
suppression, bounces, quiet hours in the contact's zone, frequency caps) and
queues each through the notifier with the send's key and time, recording it
on the contact's audience record so caps count it. Each message carries the
journey, list and campaign in its metadata: the dispatcher checks the
contact's unsubscribes and suppression again when it sends, so an
unsubscribe stops messages already queued.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

import attrs

from crmkit.app.marketing_records import PROFILES
from crmkit.app.notifier import Refusal, Template
from crmkit.kernel.checks import items
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.marketing.journey import Journey, PlannedSend, Skipped, evaluate
from crmkit.marketing.segment import Segment
from crmkit.ports.query import Eq

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

__all__ = ["JourneyRun", "Journeys"]


@attrs.frozen
class JourneyRun:
    """What one `Journeys.run` did.

    Attributes:
        queued: Sends queued in the outbox, by contact and time.
        skipped: Occurrences the journeys refused, with every reason.
        refused: Sends the notifier refused at queueing: (key, reason).
    """

    queued: tuple[PlannedSend, ...]
    skipped: tuple[Skipped, ...]
    refused: tuple[tuple[str, str], ...]


class Journeys:
    """Run journeys for the store's contacts (``uow.journeys``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def run(
        self,
        journeys: Iterable[Journey],
        templates: Mapping[str, Template],
        *,
        horizon: timedelta = timedelta(days=1),
        contact_ids: Iterable[str] | None = None,
        segment: Segment | None = None,
        data: Callable[[PlannedSend], Mapping[str, str]] | None = None,
    ) -> JourneyRun:
        """Queue the sends ``journeys`` make in ``[now, now + horizon)``.

        The contacts are ``contact_ids``, or the members of ``segment``, or
        else every active contact. ``templates`` maps each journey's
        ``template_key`` to its `Template`; ``data`` gives per-send fields
        such as coupon or gift-card codes. Run it on a schedule (for example
        hourly with a one-hour horizon): keys make repeats harmless.
        """
        chosen = tuple(items(journeys, "journeys"))
        for index, journey in enumerate(chosen):
            if not isinstance(journey, Journey):
                raise ValidationError(f"journeys[{index}]", "must be a Journey", journey)
            if journey.template_key not in templates:
                raise ValidationError(
                    f"journeys[{index}].template_key", "has no template", journey.template_key
                )
        now = self._uow.stamp().at
        queued: list[PlannedSend] = []
        skipped: list[Skipped] = []
        refused: list[tuple[str, str]] = []
        by_id = {journey.id: journey for journey in chosen}
        for contact_id in self._contacts(contact_ids, segment):
            recipient = self._uow.audiences.recipient(contact_id)
            decided = evaluate(chosen, recipient, now, horizon)
            skipped.extend(decided.skipped)
            for send in decided.sends:
                journey = by_id[send.journey_id]
                outcome = self._uow.notifications.send(
                    channel=send.channel.value,
                    purpose="marketing",
                    key=send.key,
                    party_id=contact_id,
                    template=templates[send.template_key],
                    data={} if data is None else data(send),
                    metadata=_metadata(journey),
                    not_before=send.at,
                )
                if isinstance(outcome, Refusal):
                    refused.append((send.key, outcome.reason))
                    continue
                self._uow.audiences.record_send(contact_id, journey.id, send.key, send.at)
                queued.append(send)
        return JourneyRun(tuple(queued), tuple(skipped), tuple(refused))

    def _contacts(
        self, contact_ids: Iterable[str] | None, segment: Segment | None
    ) -> Iterable[str]:
        if contact_ids is not None and segment is not None:
            raise ValidationError("segment", "cannot be combined with contact_ids")
        if contact_ids is not None:
            return [
                check_id(c, f"contact_ids[{i}]")
                for i, c in enumerate(items(contact_ids, "contact_ids"))
            ]
        if segment is not None:
            return self._uow.segments.members(segment)
        return (r.id for r in self._uow.find_all(PROFILES, (Eq("active", "yes"),)))


def _metadata(journey: Journey) -> dict[str, str]:
    meta: dict[str, str] = {"journey_id": journey.id}
    if journey.list_id is not None:
        meta["list_id"] = journey.list_id
    if journey.campaign_id is not None:
        meta["campaign_id"] = journey.campaign_id
    return meta
