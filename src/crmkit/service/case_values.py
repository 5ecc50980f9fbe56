"""Values that service cases and their events hold: pauses, ratings, the escalation limit."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from crmkit.kernel.checks import aware
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL
from crmkit.kernel.text import clean_text

MAX_ESCALATION: Final = 3
"""The highest escalation level of a case (0 is not escalated)."""


def _after_start(instance: Pause, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value < instance.started_at:
        raise ValidationError("ended_at", "must not be before started_at", value)


@attrs.frozen
class Pause:
    """A closed interval in which the case waited on the customer (an SLA clock stands still).

    Attributes:
        started_at: When the case began waiting on the customer.
        ended_at: When the wait ended (the customer replied, or the case was resolved or merged).
    """

    started_at: datetime = attrs.field(validator=aware())
    ended_at: datetime = attrs.field(validator=[aware(), _after_start])

    @property
    def interval(self) -> tuple[datetime, datetime]:
        """The pause as a ``(start, end)`` pair."""
        return (self.started_at, self.ended_at)


def _score(instance: Csat, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationError("score", "must be an integer from 1 to 5", value)


def _comment(value: object) -> str | None:
    if value is None:
        return None
    return clean_text(value, "comment", max_len=2000, personal=True) or None


@attrs.frozen
class Csat:
    """A customer satisfaction rating of a resolved case.

    Attributes:
        score: 1 (very unhappy) to 5 (very happy).
        comment: What the customer said, if anything (personal).
        at: When the customer rated the case.
    """

    score: int = attrs.field(validator=_score)
    comment: str | None = attrs.field(
        default=None, converter=_comment, metadata=PERSONAL, repr=False
    )
    at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
