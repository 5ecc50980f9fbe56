"""Call history from the timeline: logged call activities turned into best-time attempts.

`call_history` reads activities (for example every call linked to a contact,
from ``uow.find_all(ACTIVITIES, (Eq("links", contact_id), Eq("kind", "call")))``)
and keeps the done calls with an outcome as `Attempt` values for
`crmkit.interactions.best_time.learn`. Other activities are skipped, so any
mix may be passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

from crmkit.activities.activity import Activity, ActivityKind, ActivityStatus
from crmkit.activities.outcomes import CallOutcome
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id

from .best_time import Attempt, ContactHistory

__all__ = ["call_history"]


def call_history(
    activities: Iterable[Activity],
    contact_id: str,
    zone: ZoneInfo | str,
    account_id: str | None = None,
    *,
    kind: str = "contact",
) -> ContactHistory:
    """The call attempts of ``contact_id`` among ``activities``, as a `ContactHistory`.

    An activity counts when it is a done call with an outcome that links the
    contact (a ``contact`` `RecordRef` with that id); its `occurred_at` is the
    attempt's time. ``zone`` is the contact's time zone and ``account_id`` its
    account, both passed on to the history. One pass; a generator is fine.
    ``kind`` is the kind of the linked record: ``lead`` reads a lead's calls
    (the history's ``contact_id`` is then the lead's id).
    """
    check_id(contact_id, "contact_id")
    if kind not in ("contact", "lead"):
        raise ValidationError("kind", "must be contact or lead", kind)
    if isinstance(activities, str | bytes | bytearray | Mapping) or not isinstance(
        activities, Iterable
    ):
        raise ValidationError("activities", "must be an iterable", type(activities).__name__)
    attempts = []
    for index, activity in enumerate(activities):
        if not isinstance(activity, Activity):
            raise ValidationError(
                f"activities[{index}]", "must be an Activity", type(activity).__name__
            )
        if (
            activity.kind is ActivityKind.CALL
            and activity.status is ActivityStatus.DONE
            and activity.outcome is not None
            and any(ref.kind == kind and ref.id == contact_id for ref in activity.links)
        ):
            attempts.append(Attempt(activity.occurred_at, CallOutcome(activity.outcome)))
    return ContactHistory(contact_id, zone, tuple(attempts), account_id)
