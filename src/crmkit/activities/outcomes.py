"""How a call, email or meeting turned out: one typed outcome per activity kind.

The enums live here, beside `crmkit.activities.activity`, rather than in
`crmkit.interactions`, because the interactions package already depends on
activities (email threading links activities); `crmkit.interactions.best_time`
re-exports `CallOutcome` from this module.

Rules, checked by `crmkit.activities.activity.Activity`:

* a call takes a `CallOutcome`, an email an `EmailOutcome`, a meeting a
  `MeetingOutcome`; tasks and notes have no typed outcome;
* only a done activity has an outcome;
* a duration needs someone (or a mailbox) to have picked up: connected,
  voicemail and wrong-number calls and held meetings may have one; the other
  outcomes (no answer, busy, rejected, failed, no-show) have none.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from crmkit.kernel.errors import ValidationError


class CallOutcome(StrEnum):
    """How a call attempt ended. ``connected`` is a success; ``wrong_number`` and ``failed``
    (the call never went out) are ignored as evidence; the rest are misses."""

    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    BUSY = "busy"
    REJECTED = "rejected"
    WRONG_NUMBER = "wrong_number"
    FAILED = "failed"

    @property
    def is_evidence(self) -> bool:
        """Whether the attempt says anything about when the contact answers."""
        return self not in (CallOutcome.WRONG_NUMBER, CallOutcome.FAILED)


class EmailOutcome(StrEnum):
    """What became of a sent email, as far as it is known."""

    DELIVERED = "delivered"
    OPENED = "opened"
    REPLIED = "replied"
    BOUNCED = "bounced"


class MeetingOutcome(StrEnum):
    """Whether a meeting took place."""

    HELD = "held"
    NO_SHOW = "no_show"


Outcome = CallOutcome | EmailOutcome | MeetingOutcome
"""Any activity outcome."""

OUTCOME_TYPES: Final[
    Mapping[str, type[CallOutcome] | type[EmailOutcome] | type[MeetingOutcome]]
] = {
    "call": CallOutcome,
    "email": EmailOutcome,
    "meeting": MeetingOutcome,
}
"""The outcome enum of each activity kind that has one, by kind value."""

TIMED: Final[frozenset[Outcome]] = frozenset(
    {CallOutcome.CONNECTED, CallOutcome.VOICEMAIL, CallOutcome.WRONG_NUMBER, MeetingOutcome.HELD}
)
"""Outcomes that may carry a duration: someone, or a mailbox, picked up."""


def outcome_of(kind: str, value: object) -> Outcome:
    """The outcome ``value`` (a member or its value) of an activity of ``kind``.

    Raises `ValidationError` on field ``outcome`` if ``kind`` has no outcomes
    or ``value`` is not one of them.
    """
    cls = OUTCOME_TYPES.get(str(kind))
    if cls is None:
        raise ValidationError("outcome", f"a {kind} has no outcome", value)
    if isinstance(value, StrEnum) and not isinstance(value, cls):
        raise ValidationError("outcome", f"must be a {cls.__name__} for a {kind}", str(value))
    if not isinstance(value, str):
        raise ValidationError("outcome", "must be text", type(value).__name__)
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(member.value for member in cls)
        raise ValidationError("outcome", f"must be one of {allowed} for a {kind}", value) from None


def check(kind: str, outcome: str, duration_minutes: int | None, *, done: bool) -> Outcome:
    """Check an activity's ``outcome`` against its kind, status and duration (see the module).

    Raises `ValidationError` naming ``outcome`` or ``duration_minutes``.
    """
    typed = outcome_of(kind, outcome)
    if not done:
        raise ValidationError("outcome", "only a done activity has an outcome", outcome)
    if duration_minutes is not None and typed not in TIMED:
        raise ValidationError(
            "duration_minutes", f"a {label(typed)} {kind} has no duration", duration_minutes
        )
    return typed


def check_timed_kind(kind: str, duration_minutes: int | None) -> None:
    """Refuse a duration on anything but a call or a meeting (field ``duration_minutes``)."""
    if duration_minutes is not None and str(kind) not in ("call", "meeting"):
        raise ValidationError(
            "duration_minutes", "only calls and meetings have a duration", duration_minutes
        )


def label(outcome: str) -> str:
    """The outcome as words for a timeline line: ``no_answer`` becomes ``no answer``."""
    return outcome.replace("_", " ")
