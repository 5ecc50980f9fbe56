"""Timeline entries: one line per change or interaction, for the 360-degree view.

The unit of work writes an entry for every domain event, in the same commit
as the change, under the ids of every record the event concerns. Reading a
record's timeline is one indexed query, newest first.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from crmkit.activities.activity import RecordRef
from crmkit.kernel.checks import aware, of_type, tuple_of
from crmkit.kernel.events import PERSONAL
from crmkit.kernel.text import clean_line


def _summary(value: object) -> str:
    return clean_line(value, "summary", max_len=500, personal=True)


@attrs.frozen
class TimelineEntry:
    """One line of a record's timeline.

    Attributes:
        id: The entry's id (time-ordered, so it breaks ties between equal times).
        occurred_at: When the change happened.
        subjects: Ids of every record whose timeline shows it.
        event_type: The domain event's type, for example ``activity_logged``.
        record: The record that changed.
        summary: A line for people to read.
        actor: Who made the change.
    """

    id: str = attrs.field(validator=of_type(str))
    occurred_at: datetime = attrs.field(validator=aware())
    subjects: tuple[str, ...] = attrs.field(validator=tuple_of(str))
    event_type: str = attrs.field(validator=of_type(str))
    record: RecordRef = attrs.field(validator=of_type(RecordRef))
    summary: str = attrs.field(converter=_summary, metadata=PERSONAL, repr=False)
    actor: str = attrs.field(validator=of_type(str))
