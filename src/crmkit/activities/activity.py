"""Activities: tasks, calls, meetings, notes, logged emails, chats and social messages.

Each is linked to any record. Tasks and meetings are planned, then done or
cancelled. Calls, notes, emails, chats and social messages are usually logged
after the fact and start out done. A done call,
email or meeting may carry a typed outcome (`crmkit.activities.outcomes`):
``connected`` or ``no_answer`` for a call, ``bounced`` for an email, ``held``
or ``no_show`` for a meeting.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

import attrs

from crmkit.activities.outcomes import OUTCOME_TYPES, check, check_timed_kind, label
from crmkit.kernel.aggregate import Evolving
from crmkit.kernel.checks import aware, items, of_type, to_enum, tuple_of, version
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent, Stamp
from crmkit.kernel.ids import ActivityId, check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.text import clean_line, clean_text, clean_token
from crmkit.kernel.time import require_aware


class ActivityKind(StrEnum):
    """What sort of activity it is."""

    TASK = "task"
    CALL = "call"
    MEETING = "meeting"
    NOTE = "note"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"


class ActivityStatus(StrEnum):
    """Where an activity stands."""

    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


class Direction(StrEnum):
    """Whether the customer or the business started a call or email."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


ACTIVITY_LIFECYCLE = Lifecycle(
    "activity",
    ActivityStatus,
    ActivityStatus.PLANNED,
    [
        Transition("complete", ActivityStatus.PLANNED, ActivityStatus.DONE),
        Transition("cancel", ActivityStatus.PLANNED, ActivityStatus.CANCELLED),
        Transition("reschedule", ActivityStatus.PLANNED, ActivityStatus.PLANNED),
    ],
    final=[ActivityStatus.DONE, ActivityStatus.CANCELLED],
)
"""Planned activities are completed, cancelled or rescheduled; logged ones start done."""


def _ref_kind(value: object) -> str:
    return clean_token(value, "kind")


def _ref_id(value: object) -> str:
    return check_id(value, "id")


@attrs.frozen
class RecordRef:
    """A reference to any record: a contact, an account, an opportunity, a case ...

    Attributes:
        kind: The record's kind, for example ``contact``.
        id: The record's id.
    """

    kind: str = attrs.field(converter=_ref_kind)
    id: str = attrs.field(converter=_ref_id)


def _activity_id(value: object) -> ActivityId:
    return ActivityId(check_id(value, "id"))


def _subject(value: object) -> str:
    return clean_line(value, "subject", personal=True)


def _body(value: object) -> str:
    return clean_text(value, "body", personal=True)


def _kind(value: object) -> ActivityKind:
    return _to_kind(value)


def _direction(value: object) -> Direction | None:
    return None if value is None else _to_direction(value)


def _owner(value: object) -> str | None:
    return None if value is None else check_id(value, "owner_id")


def _minutes(instance: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
        raise ValidationError("duration_minutes", "must be 0 to 100000 minutes", value)


def _message_id(value: object) -> str | None:
    return None if value is None else clean_line(value, "message_id", max_len=998)


def _references(value: object) -> tuple[str, ...]:
    found = items(value, "references")
    return tuple(
        dict.fromkeys(
            clean_line(item, f"references[{index}]", max_len=998)
            for index, item in enumerate(found)
        )
    )


def _outcome(value: object) -> str | None:
    # Stored as the plain enum value; which enum applies depends on the kind,
    # so the value is checked in __attrs_post_init__.
    if value is None:
        return None
    if isinstance(value, StrEnum):
        return str(value.value)
    if not isinstance(value, str):
        raise ValidationError("outcome", "must be text", type(value).__name__)
    return value


_to_kind = to_enum(ActivityKind, "kind")
_to_direction = to_enum(Direction, "direction")


@attrs.frozen
class Activity(Evolving):
    """Something done, or to be done, with a customer.

    Attributes:
        id: The activity's id.
        version: Grows by one with every change.
        kind: Task, call, meeting, note, email, chat or social message.
        subject: One line that says what it is about.
        status: Planned, done or cancelled.
        occurred_at: When it happened, or when it is due.
        links: The records it concerns; the first is the main one.
        created_at: When it was recorded.
        body: Free text: the note, the call summary, the email body.
        direction: Inbound or outbound (calls and emails).
        duration_minutes: How long it took (calls and meetings).
        owner_id: The user responsible.
        message_id: An email's ``Message-ID`` header.
        references: The ids of the earlier emails of its thread (``References``,
            then ``In-Reply-To``), so that a later reply finds the thread; empty
            for anything but an email, and for activities stored before this field.
        outcome: How a done call, email or meeting turned out: the value of a
            `CallOutcome`, `EmailOutcome` or `MeetingOutcome` matching ``kind``
            (see `crmkit.activities.outcomes` for the rules), or None.
        custom: The host's custom field values (`crmkit.extension.custom_fields`).
    """

    id: ActivityId = attrs.field(converter=_activity_id)
    version: int = attrs.field(validator=version)
    kind: ActivityKind = attrs.field(converter=_kind)
    subject: str = attrs.field(converter=_subject, metadata=PERSONAL, repr=False)
    status: ActivityStatus = attrs.field(validator=of_type(ActivityStatus))
    occurred_at: datetime = attrs.field(validator=aware())
    links: tuple[RecordRef, ...] = attrs.field(validator=tuple_of(RecordRef))
    created_at: datetime = attrs.field(validator=aware())
    body: str = attrs.field(default="", converter=_body, metadata=PERSONAL, repr=False)
    direction: Direction | None = attrs.field(default=None, converter=_direction)
    duration_minutes: int | None = attrs.field(default=None, validator=_minutes)
    owner_id: str | None = attrs.field(default=None, converter=_owner)
    message_id: str | None = attrs.field(default=None, converter=_message_id)
    outcome: str | None = attrs.field(default=None, converter=_outcome)
    references: tuple[str, ...] = attrs.field(default=(), converter=_references)
    custom: CustomValues = attrs.field(
        factory=CustomValues, validator=of_type(CustomValues), metadata=PERSONAL, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if not self.links:
            raise ValidationError("links", "must name at least one record")
        if self.outcome is not None:
            check(
                self.kind,
                self.outcome,
                self.duration_minutes,
                done=self.status is ActivityStatus.DONE,
            )

    @classmethod
    def log(
        cls,
        id: str,
        kind: ActivityKind | str,
        subject: str,
        links: tuple[RecordRef, ...],
        stamp: Stamp,
        *,
        occurred_at: datetime | None = None,
        body: str = "",
        direction: Direction | str | None = None,
        duration_minutes: int | None = None,
        owner_id: str | None = None,
        message_id: str | None = None,
        outcome: str | None = None,
        references: tuple[str, ...] = (),
    ) -> tuple[Activity, ActivityLogged]:
        """Record something that already happened: it starts done.

        ``outcome`` is a `CallOutcome`, `EmailOutcome` or `MeetingOutcome` (or
        its value) matching ``kind``. Only calls and meetings have a
        ``duration_minutes``, and only when someone picked up (connected,
        voicemail, wrong number, held); `ValidationError` names the field.
        ``message_id`` and ``references`` are an email's own id and the ids of
        the earlier emails of its thread.
        """
        return cls._new(
            ActivityStatus.DONE,
            id,
            kind,
            subject,
            links,
            stamp,
            stamp.at if occurred_at is None else occurred_at,
            body=body,
            direction=direction,
            duration_minutes=duration_minutes,
            owner_id=owner_id,
            message_id=message_id,
            outcome=outcome,
            references=references,
        )

    @classmethod
    def plan(
        cls,
        id: str,
        kind: ActivityKind | str,
        subject: str,
        links: tuple[RecordRef, ...],
        due_at: datetime,
        stamp: Stamp,
        *,
        body: str = "",
        owner_id: str | None = None,
    ) -> tuple[Activity, ActivityLogged]:
        """Plan a task, call or meeting for ``due_at``."""
        require_aware(due_at, "due_at")
        return cls._new(
            ACTIVITY_LIFECYCLE.initial,
            id,
            kind,
            subject,
            links,
            stamp,
            due_at,
            body=body,
            owner_id=owner_id,
        )

    @classmethod
    def _new(
        cls,
        status: ActivityStatus,
        id: str,
        kind: ActivityKind | str,
        subject: str,
        links: tuple[RecordRef, ...],
        stamp: Stamp,
        occurred_at: datetime,
        **optional: object,
    ) -> tuple[Activity, ActivityLogged]:
        activity = cls(
            id,
            1,
            kind,
            subject,
            status,
            occurred_at,
            items(links, "links"),
            stamp.at,
            **optional,  # type: ignore[arg-type]
        )
        check_timed_kind(activity.kind, activity.duration_minutes)
        event = ActivityLogged(
            aggregate_id=activity.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            kind=activity.kind,
            status=activity.status,
            subject=activity.subject,
            happened_at=activity.occurred_at,
            links=activity.links,
            outcome=activity.outcome,
        )
        return activity, event

    def _move(
        self, command: str, stamp: Stamp, **changes: object
    ) -> tuple[Activity, ActivityMoved]:
        status = ACTIVITY_LIFECYCLE.target(self.status, command)
        new = self._evolve(version=self.version + 1, status=status, **changes)
        event = ActivityMoved(
            aggregate_id=new.id,
            version=new.version,
            occurred_at=stamp.at,
            actor=stamp.actor,
            command=command,
            status=status,
            subject=new.subject,
            links=new.links,
            outcome=new.outcome,
        )
        return new, event

    def complete(
        self,
        stamp: Stamp,
        *,
        outcome: str | None = None,
        note: str | None = None,
        duration_minutes: int | None = None,
    ) -> tuple[Activity, ActivityMoved]:
        """Mark a planned activity done, optionally with its outcome, a note and a duration.

        An ``outcome`` that is an outcome of the activity's kind (a member such
        as `MeetingOutcome.HELD`, or its value ``"held"``) sets `Activity.outcome`.
        Any other text is a note, appended to the body as before this field
        existed; prefer ``note=`` for that. A member of another kind's enum is
        refused. ``note`` is appended to the body; ``duration_minutes`` follows
        the rules of `log`.
        """
        ACTIVITY_LIFECYCLE.target(self.status, "complete")
        typed: str | None = None
        notes = []
        if outcome is not None:
            if isinstance(outcome, StrEnum) or _is_outcome_of(self.kind, outcome):
                typed = outcome
            else:
                notes.append(clean_text(outcome, "outcome", personal=True))
        if note is not None:
            notes.append(clean_text(note, "note", personal=True))
        if duration_minutes is not None:
            _minutes(self, _DURATION, duration_minutes)
        duration = self.duration_minutes if duration_minutes is None else duration_minutes
        check_timed_kind(self.kind, duration_minutes)
        if typed is not None:
            typed = check(self.kind, typed, duration, done=True).value
        body = self.body
        if notes:
            field = "outcome" if note is None else "note"
            body = clean_text("\n".join((body, *notes)).strip(), field, personal=True)
        return self._move(
            "complete",
            stamp,
            occurred_at=stamp.at,
            body=body,
            outcome=typed,
            duration_minutes=duration,
        )

    def cancel(self, stamp: Stamp) -> tuple[Activity, ActivityMoved]:
        """Cancel a planned activity."""
        return self._move("cancel", stamp)

    def reschedule(self, due_at: datetime, stamp: Stamp) -> tuple[Activity, ActivityMoved]:
        """Move a planned activity to another time."""
        require_aware(due_at, "due_at")
        return self._move("reschedule", stamp, occurred_at=due_at)

    def relink(
        self, old_id: str, new: RecordRef, stamp: Stamp
    ) -> tuple[Activity, ActivityRelinked]:
        """Point the link to record ``old_id`` at ``new`` instead (used when duplicates merge).

        Allowed in any status: history moves with the record it belongs to.
        """
        if not isinstance(new, RecordRef):
            raise ValidationError("new", "must be a RecordRef", new)
        if not any(ref.id == old_id for ref in self.links):
            raise ValidationError("old_id", "is not linked to this activity", old_id)
        links = tuple(dict.fromkeys(new if ref.id == old_id else ref for ref in self.links))
        changed = self._evolve(version=self.version + 1, links=links)
        event = ActivityRelinked(
            aggregate_id=changed.id,
            version=changed.version,
            occurred_at=stamp.at,
            actor=stamp.actor,
            old_id=old_id,
            subject=changed.subject,
            links=links,
        )
        return changed, event


@attrs.frozen(kw_only=True)
class ActivityLogged(DomainEvent):
    """An activity was logged or planned.

    Attributes:
        kind: What sort of activity.
        status: Done (logged) or planned.
        subject: Its subject line.
        happened_at: When it happened or is due.
        links: The records it concerns.
        outcome: How it turned out (an outcome value), if known.
    """

    event_type: ClassVar[str] = "activity_logged"
    aggregate_kind: ClassVar[str] = "activity"
    kind: ActivityKind
    status: ActivityStatus
    subject: str = attrs.field(metadata=PERSONAL, repr=False)
    happened_at: datetime
    links: tuple[RecordRef, ...]
    outcome: str | None = None

    def summary(self) -> str:
        """Timeline line, for example ``call: Intro call (no answer)``."""
        planned = " planned" if self.status is ActivityStatus.PLANNED else ""
        return f"{self.kind}{planned}: {self.subject}{_outcome_note(self.outcome)}"

    def subjects(self) -> tuple[str, ...]:
        """The activity itself and every linked record."""
        return (self.aggregate_id, *(ref.id for ref in self.links))


@attrs.frozen(kw_only=True)
class ActivityMoved(DomainEvent):
    """A planned activity was completed, cancelled or rescheduled.

    Attributes:
        command: The command: ``complete``, ``cancel`` or ``reschedule``.
        status: The new status.
        subject: Its subject line.
        links: The records it concerns.
        outcome: The activity's outcome (an outcome value) after the change, if any.
    """

    event_type: ClassVar[str] = "activity_moved"
    aggregate_kind: ClassVar[str] = "activity"
    command: str
    status: ActivityStatus
    subject: str = attrs.field(metadata=PERSONAL, repr=False)
    links: tuple[RecordRef, ...]
    outcome: str | None = None

    def summary(self) -> str:
        """Timeline line, for example ``completed: Demo (held)``."""
        past = _PAST.get(self.command, self.command)
        return f"{past}: {self.subject}{_outcome_note(self.outcome)}"

    def subjects(self) -> tuple[str, ...]:
        """The activity itself and every linked record."""
        return (self.aggregate_id, *(ref.id for ref in self.links))


@attrs.frozen(kw_only=True)
class ActivityRelinked(DomainEvent):
    """An activity's link moved from one record to another (duplicates were merged or split).

    Attributes:
        old_id: The record it no longer concerns.
        subject: Its subject line.
        links: The records it concerns now.
    """

    event_type: ClassVar[str] = "activity_relinked"
    aggregate_kind: ClassVar[str] = "activity"
    old_id: str
    subject: str = attrs.field(metadata=PERSONAL, repr=False)
    links: tuple[RecordRef, ...]

    def summary(self) -> str:
        """Timeline line."""
        return f"moved from {self.old_id}: {self.subject}"

    def subjects(self) -> tuple[str, ...]:
        """The activity, every linked record and the one it left."""
        return (self.aggregate_id, *(ref.id for ref in self.links), self.old_id)


_PAST = {"complete": "completed", "cancel": "cancelled", "reschedule": "rescheduled"}
_DURATION = attrs.fields(Activity).duration_minutes


def _is_outcome_of(kind: ActivityKind, value: object) -> bool:
    cls = OUTCOME_TYPES.get(kind)
    return cls is not None and isinstance(value, str) and value in cls._value2member_map_


def _outcome_note(outcome: str | None) -> str:
    return "" if outcome is None else f" ({label(outcome)})"


EVENTS: tuple[type[DomainEvent], ...] = (ActivityLogged, ActivityMoved, ActivityRelinked)
"""Every event class of the activities context."""
