"""How a rep's snooze and done marks on work-queue items are stored.

One `QueueMarkRecord` per rep and item (its id is derived from the item's
key, so marking an item again changes the same record), indexed by rep,
state and the end of a snooze.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import attrs

from crmkit.app.record_type import INT, TEXT, RecordType
from crmkit.interactions.work_queue import Mark, MarkState
from crmkit.kernel.checks import aware, of_type, to_enum, tuple_of, version
from crmkit.kernel.ids import check_id
from crmkit.kernel.time import to_micros
from crmkit.ports.storage import IndexField

_to_state = to_enum(MarkState, "state")


def _state(value: object) -> MarkState:
    return _to_state(value)


def _rep_id(value: object) -> str:
    return check_id(value, "rep_id")


def mark_id(key: str) -> str:
    """The record id of the mark on the item with ``key``: ``qm-`` and a digest of the key."""
    return "qm-" + hashlib.sha256(key.encode()).hexdigest()[:32]


@attrs.frozen
class QueueMarkRecord:
    """A rep's mark on one work-queue item: snoozed until a time, or done.

    Attributes:
        id: `mark_id` of the item's key.
        version: Grows by one with every change.
        rep_id: The rep whose queue holds the item.
        item_key: The item's key (`crmkit.interactions.work_queue.item_key`).
        state: Snoozed or done.
        until: When a snooze ends; None for done.
        reasons: The keys of the item's reasons when it was marked done.
        marked_at: When the mark was set.
    """

    id: str = attrs.field(validator=of_type(str))
    version: int = attrs.field(validator=version)
    rep_id: str = attrs.field(converter=_rep_id)
    item_key: str = attrs.field(validator=of_type(str))
    state: MarkState = attrs.field(converter=_state)
    until: datetime | None = attrs.field(validator=aware(optional=True))
    reasons: tuple[str, ...] = attrs.field(validator=tuple_of(str))
    marked_at: datetime = attrs.field(validator=aware())

    def mark(self) -> Mark:
        """The mark as `crmkit.interactions.work_queue.rank` reads it."""
        return Mark(self.item_key, self.state, self.until, self.reasons)


QUEUE_MARKS: RecordType[QueueMarkRecord] = RecordType(
    "queue_mark",
    QueueMarkRecord,
    (
        (IndexField("rep_id", TEXT), lambda m: m.rep_id),
        (IndexField("state", TEXT), lambda m: m.state.value),
        (IndexField("until", INT), lambda m: None if m.until is None else to_micros(m.until)),
    ),
    idempotent=False,
    audited=False,
)
"""Work-queue marks, indexed by rep, state and the end of a snooze."""

QUEUE_RECORD_TYPES: tuple[RecordType[Any], ...] = (QUEUE_MARKS,)
"""The work queue's record types."""
