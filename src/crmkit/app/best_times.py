"""``uow.best_times``: best time to call, learned from the calls on the store.

`BestTimes.learn` reads every logged call with an outcome that says when
people answer (`crmkit.activities.outcomes.CallOutcome.is_evidence`) in one
streaming pass, with the conditions pushed down to the store's activity
indexes (``kind``, ``status``, ``outcome`` and, with ``since``,
``occurred_at``), and tallies them with `crmkit.interactions.best_time.learn`.
A call counts for the **first contact it links**, in that contact's time zone
(UTC when it has none) and for that contact's primary account (the account
level of the model); a call that links no contact (only a lead or an account)
is not counted, nor is one whose contact this principal may not read.

`BestTimes.windows` ranks the next hours to call one contact: inside the
contact hours of its stored channel preferences (``uow.contacts.preferences``;
Monday to Friday 09:00–17:00 when none were set), in the contact's time zone,
each window with the evidence behind its rate.

Reads see committed records only, like every query of a unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from crmkit.activities.activity import Activity, ActivityKind, ActivityStatus
from crmkit.activities.outcomes import CallOutcome
from crmkit.app.records import ACTIVITIES, CONTACTS
from crmkit.interactions.best_time import (
    STRENGTH,
    ContactHistory,
    Model,
    Window,
    learn as learn_model,
    windows as rank_windows,
)
from crmkit.interactions.history import call_history
from crmkit.interactions.preferences import ContactPurpose
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.time import require_aware, to_micros
from crmkit.ports.query import Condition, Eq, In, Range

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

__all__ = ["EVIDENCE_OUTCOMES", "MAX_BATCH", "BestTimes"]

EVIDENCE_OUTCOMES: tuple[str, ...] = tuple(o.value for o in CallOutcome if o.is_evidence)
"""The call outcomes `BestTimes.learn` reads: every one but ``wrong_number`` and ``failed``."""
MAX_BATCH = 10_000
"""The largest ``batch`` `BestTimes.learn` accepts."""

_UTC = ZoneInfo("UTC")
_HORIZON = timedelta(days=7)


def _first_contact(activity: Activity) -> str | None:
    for ref in activity.links:
        if ref.kind == "contact":
            return ref.id
    return None


class BestTimes:
    """Best time to call on the store, for one unit of work: `learn`, `windows`."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def learn(
        self, *, since: datetime | None = None, batch: int = 500, strength: int = STRENGTH
    ) -> Model:
        """The connect-rate `Model` of every stored call with an outcome (since ``since``).

        One pass over the matching calls, ``batch`` records at a time; each
        batch's unseen contacts are read by id (one ``In`` query) for their
        zone and account. Memory grows with the number of **contacts called**
        (their zone, account and slot tallies: at most 168 each), not with the
        number of calls. The whole pass costs about one decoded activity per
        stored call: a host serving many requests should learn once (say,
        nightly) and pass the model to `windows`.
        """
        if since is not None:
            since = require_aware(since, "since")
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
            raise ValidationError("batch", f"must be an integer from 1 to {MAX_BATCH}", batch)
        where: tuple[Condition, ...] = (
            Eq("kind", ActivityKind.CALL.value),
            Eq("status", ActivityStatus.DONE.value),
            In("outcome", EVIDENCE_OUTCOMES),
        )
        if since is not None:
            where += (Range("occurred_at", gte=to_micros(since)),)
        return learn_model(self._histories(where, batch), strength=strength)

    def _histories(self, where: tuple[Condition, ...], batch: int) -> Iterator[ContactHistory]:
        """The calls, a batch at a time, as one history per contact and batch."""
        places: dict[str, tuple[ZoneInfo, str | None] | None] = {}  # None: not readable
        pending: dict[str, list[Activity]] = {}
        count = 0
        for activity in self._uow.find_all(ACTIVITIES, where, batch=batch, keep=False):
            contact_id = _first_contact(activity)
            if contact_id is None:
                continue
            pending.setdefault(contact_id, []).append(activity)
            count += 1
            if count == batch:
                yield from self._flush(pending, places)
                pending, count = {}, 0
        yield from self._flush(pending, places)

    def _flush(
        self,
        pending: dict[str, list[Activity]],
        places: dict[str, tuple[ZoneInfo, str | None] | None],
    ) -> Iterator[ContactHistory]:
        unknown = tuple(sorted(id for id in pending if id not in places))
        if unknown:
            for id in unknown:
                places[id] = None
            for contact in self._uow.find_all(CONTACTS, (In("id", unknown),), keep=False):
                tz = _UTC if contact.time_zone is None else ZoneInfo(contact.time_zone)
                accounts = contact.account_ids
                places[contact.id] = (tz, accounts[0] if accounts else None)
        for contact_id, calls in sorted(pending.items()):
            place = places[contact_id]
            if place is not None:
                yield call_history(calls, contact_id, place[0], place[1])

    def windows(
        self,
        contact_id: str,
        *,
        model: Model | None = None,
        limit: int = 3,
        now: datetime | None = None,
        purpose: ContactPurpose | str | None = None,
    ) -> tuple[Window, ...]:
        """The best ``limit`` one-hour windows to call the contact in the next 7 days.

        Windows start on a local full hour in the contact's zone (UTC when it
        has none) at or after ``now`` (default: the injected clock), lie wholly
        inside the contact hours of its stored preferences, and come best first
        (ties: earliest first), each with its `Evidence`. Given a ``purpose``
        that the contact's ``do_not_call`` blocks (sales, marketing), there are
        none. Without a ``model`` one is learned first with `learn`: a pass
        over every stored call, so hosts should learn once and pass it.
        """
        id = check_id(contact_id, "contact_id")
        if model is not None and not isinstance(model, Model):
            raise ValidationError("model", "must be a Model or None", type(model).__name__)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit", "must be a positive integer", limit)
        at = self._uow.stamp().at if now is None else require_aware(now, "now")
        if purpose is not None and not isinstance(purpose, ContactPurpose):
            try:
                purpose = ContactPurpose(purpose)
            except ValueError:
                raise ValidationError("purpose", "must be a ContactPurpose", purpose) from None
        contact = self._uow.contacts.get(id)
        prefs = self._uow.contacts.preferences(id)
        if purpose is not None and prefs.blocks("phone", purpose):
            return ()
        tz = _UTC if contact.time_zone is None else ZoneInfo(contact.time_zone)
        accounts = contact.account_ids
        return rank_windows(
            self.learn() if model is None else model,
            id,
            tz,
            now=at,
            contact_hours=prefs.contact_hours,
            account_id=accounts[0] if accounts else None,
            horizon=_HORIZON,
            top=limit,
        )
