"""The plain values of a rep's work queue: what goes in (`Candidate`) and what comes out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from urllib.parse import quote, unquote

import attrs

from crmkit.kernel.checks import aware, of_type, to_enum, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id


class SubjectKind(StrEnum):
    """Whom an item is about: a contact, or a lead not yet converted."""

    CONTACT = "contact"
    LEAD = "lead"


class ReasonKind(StrEnum):
    """Why an item is in the queue."""

    CALL_DUE = "call_due"
    TASK_DUE = "task_due"
    CALL_OVERDUE = "call_overdue"
    TASK_OVERDUE = "task_overdue"
    OPEN_LEAD = "open_lead"
    SLA_AT_RISK = "sla_at_risk"
    SLA_BREACHED = "sla_breached"
    RENEWAL_WINDOW = "renewal_window"
    RENEWAL_SOON = "renewal_soon"


_FAMILY = {
    ReasonKind.CALL_DUE: "call",
    ReasonKind.CALL_OVERDUE: "call",
    ReasonKind.TASK_DUE: "task",
    ReasonKind.TASK_OVERDUE: "task",
}


class Factor(StrEnum):
    """The factors of the score, in the order of `WorkItem.breakdown`."""

    LEAD = "lead"
    SLA = "sla"
    OVERDUE = "overdue"
    RENEWAL = "renewal"
    TIMING = "timing"


class MarkState(StrEnum):
    """What a rep did with an item: snoozed it until a time, or marked it done."""

    SNOOZED = "snoozed"
    DONE = "done"


_to_subject = to_enum(SubjectKind, "subject_kind")
_to_reason = to_enum(ReasonKind, "kind")
_to_state = to_enum(MarkState, "state")


def _subject_kind(value: object) -> SubjectKind:
    return _to_subject(value)


def _reason_kind(value: object) -> ReasonKind:
    return _to_reason(value)


def _state(value: object) -> MarkState:
    return _to_state(value)


def _subject_id(value: object) -> str:
    return check_id(value, "subject_id")


def _record_id(value: object) -> str:
    return check_id(value, "record_id")


def _rep_id(value: object) -> str:
    return check_id(value, "rep_id")


def _lead_score(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationError("lead_score", "must be an integer from 0 to 100 or None", value)
    return value


def _rate(value: object) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 1:
        raise ValidationError("rate", "must be a Decimal from 0 to 1", value)
    return value


def item_key(rep_id: str, kind: SubjectKind | str, subject_id: str) -> str:
    """The stable key of a rep's item: ``rep:kind:subject``, each part percent-encoded.

    Ids may hold ``:``; encoding each part keeps the key unambiguous, and plain
    ids (``u-anna``, ``c-1``) read as themselves: ``u-anna:contact:c-1``.
    """
    parts = (_rep_id(rep_id), _subject_kind(kind).value, _subject_id(subject_id))
    return ":".join(quote(part, safe="") for part in parts)


def parse_key(key: object) -> tuple[str, SubjectKind, str]:
    """The rep, subject kind and subject id of an `item_key`; `ValidationError` on ``item_key``."""
    if not isinstance(key, str) or len(key) > 1000:
        raise ValidationError("item_key", "must be a work item key", key)
    parts = key.split(":")
    if len(parts) != 3 or parts[1] not in SubjectKind._value2member_map_:
        raise ValidationError("item_key", "must read rep:contact:id or rep:lead:id", key)
    try:
        rep, subject = (
            check_id(unquote(parts[0]), "item_key"),
            check_id(unquote(parts[2]), "item_key"),
        )
    except ValidationError:
        raise ValidationError("item_key", "must hold a valid rep id and subject id", key) from None
    if item_key(rep, parts[1], subject) != key:
        raise ValidationError("item_key", "must be encoded as item_key encodes it", key)
    return rep, SubjectKind(parts[1]), subject


@attrs.frozen
class Reason:
    """One reason an item is in the queue, tied to the record that gives it.

    Attributes:
        kind: What kind of reason.
        record_id: The activity, lead, case or contract behind it.
        due: When it falls due (a task's due time, an SLA deadline), if it does.
    """

    kind: ReasonKind = attrs.field(converter=_reason_kind)
    record_id: str = attrs.field(converter=_record_id)
    due: datetime | None = attrs.field(default=None, validator=aware(optional=True))

    @property
    def key(self) -> str:
        """What a done mark remembers (see `crmkit.interactions.work_queue`).

        ``call:<id>`` or ``task:<id>`` for calls and tasks, due or overdue alike
        (a task falling overdue is not a new reason); ``<kind>:<id>`` otherwise.
        """
        return f"{_FAMILY.get(self.kind, self.kind.value)}:{self.record_id}"


@attrs.frozen
class Timing:
    """Whether now is a good time to call: the learned connect rate and the contact's hours.

    Attributes:
        rate: The posterior connect rate of the current hour-of-week slot, 0 to 1.
        callable_now: False when now is outside the contact's hours or the
            contact asked not to be called; the timing factor is then 0.
        note: Why not, when ``callable_now`` is false (no personal data).
        next_window: The start of the best window to call in the next day, if any.
    """

    rate: Decimal = attrs.field(converter=_rate)
    callable_now: bool = attrs.field(default=True, validator=of_type(bool))
    note: str = attrs.field(default="", validator=of_type(str))
    next_window: datetime | None = attrs.field(default=None, validator=aware(optional=True))


@attrs.frozen
class Candidate:
    """Everything the queue knows about one contact or lead of one rep (plain values).

    Attributes:
        subject_kind: A contact or a lead.
        subject_id: Its id.
        reasons: Why it is in the queue; a candidate without reasons is left out.
        lead_score: The highest score (0 to 100) of the rep's open leads for it, if any.
        timing: The connect rate now and the contact hours, if known.
    """

    subject_kind: SubjectKind = attrs.field(converter=_subject_kind)
    subject_id: str = attrs.field(converter=_subject_id)
    reasons: tuple[Reason, ...] = attrs.field(default=(), validator=tuple_of(Reason))
    lead_score: int | None = attrs.field(default=None, converter=_lead_score)
    timing: Timing | None = attrs.field(default=None, validator=of_type(Timing, optional=True))


@attrs.frozen
class ScoreLine:
    """One factor of an item's score: ``points = weight × value`` (4 places, half even).

    Attributes:
        factor: Which factor.
        weight: Its weight (`QueueWeights`).
        value: The factor's value, 0 to 1.
        points: What it adds to the score.
        why: One line for the rep, without personal data.
    """

    factor: Factor = attrs.field(validator=of_type(Factor))
    weight: Decimal = attrs.field(validator=of_type(Decimal))
    value: Decimal = attrs.field(validator=of_type(Decimal))
    points: Decimal = attrs.field(validator=of_type(Decimal))
    why: str = attrs.field(validator=of_type(str))


@attrs.frozen
class WorkItem:
    """One entry of a rep's queue.

    Attributes:
        key: The stable key (`item_key`) to snooze or mark it done with.
        rep_id: The rep whose queue it is in.
        subject_kind: A contact or a lead.
        subject_id: The contact's or lead's id.
        reasons: Why it is in the queue, earliest due first.
        due: The earliest due time among its reasons, if any.
        score: The sum of the breakdown's points.
        breakdown: One line per `Factor`, in the order of the enum.
        next_window: The best time to call in the next day, if known.
    """

    key: str = attrs.field(validator=of_type(str))
    rep_id: str = attrs.field(converter=_rep_id)
    subject_kind: SubjectKind = attrs.field(converter=_subject_kind)
    subject_id: str = attrs.field(converter=_subject_id)
    reasons: tuple[Reason, ...] = attrs.field(validator=tuple_of(Reason))
    due: datetime | None = attrs.field(validator=aware(optional=True))
    score: Decimal = attrs.field(validator=of_type(Decimal))
    breakdown: tuple[ScoreLine, ...] = attrs.field(validator=tuple_of(ScoreLine))
    next_window: datetime | None = attrs.field(default=None, validator=aware(optional=True))

    @property
    def contact_id(self) -> str | None:
        """The contact's id, or None for a lead."""
        return self.subject_id if self.subject_kind is SubjectKind.CONTACT else None

    @property
    def lead_id(self) -> str | None:
        """The lead's id, or None for a contact."""
        return self.subject_id if self.subject_kind is SubjectKind.LEAD else None

    def explain(self) -> str:
        """The breakdown as text, one line per factor, then the total."""
        lines = [
            f"{line.factor.value:<8} {line.weight} × {line.value} = {line.points}  ({line.why})"
            for line in self.breakdown
        ]
        return "\n".join((*lines, f"score    {self.score}"))


@attrs.frozen
class Mark:
    """A rep's snooze or done mark on one item, as the queue reads it.

    Attributes:
        key: The item's key.
        state: Snoozed or done.
        until: When a snooze ends (None for done).
        reasons: The reason keys the item had when marked done.
    """

    key: str = attrs.field(validator=of_type(str))
    state: MarkState = attrs.field(converter=_state)
    until: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    reasons: tuple[str, ...] = attrs.field(default=(), validator=tuple_of(str))

    def __attrs_post_init__(self) -> None:
        if self.state is MarkState.SNOOZED and self.until is None:
            raise ValidationError("until", "a snooze needs an end", None)

    def hides(self, reasons: tuple[Reason, ...], now: datetime) -> bool:
        """Whether the mark hides an item with ``reasons`` at ``now`` (see the module)."""
        if self.state is MarkState.SNOOZED:
            return self.until is not None and now < self.until
        known = frozenset(self.reasons)
        return all(reason.key in known for reason in reasons)
