"""Field converters and checks of `ServiceCase` (named functions: the mypy attrs plugin needs them).

`Priority` and `Severity` are the SLA context's (``crmkit.service.sla_policy``);
`crmkit.service.case` re-exports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from crmkit.kernel.checks import items, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.ids import check_id
from crmkit.kernel.text import clean_line, clean_text, clean_token
from crmkit.kernel.time import require_aware
from crmkit.service.case_values import MAX_ESCALATION
from crmkit.service.sla_policy import Priority, Severity


def case_id(value: object, field: str = "id") -> str:
    return check_id(value, field)


def the_id(value: object) -> str:
    return check_id(value, "id")


def number(value: object) -> str:
    return clean_line(value, "number", max_len=100)


def subject(value: object) -> str:
    return clean_line(value, "subject", max_len=300, personal=True)


def description(value: object) -> str:
    return clean_text(value, "description", personal=True)


def token(value: object, field: str) -> str:
    return clean_token(value, field)


def case_type(value: object) -> str:
    return clean_token(value, "type")


def optional_token(value: object, field: str) -> str | None:
    return None if value is None else clean_token(value, field)


def customer_tier(value: object) -> str | None:
    return optional_token(value, "customer_tier")


def queue(value: object) -> str | None:
    return optional_token(value, "queue")


def team(value: object) -> str | None:
    return optional_token(value, "team")


def optional_id(value: object, field: str) -> str | None:
    return None if value is None else check_id(value, field)


def contact_id(value: object) -> str | None:
    return optional_id(value, "contact_id")


def account_id(value: object) -> str | None:
    return optional_id(value, "account_id")


def complaint_id(value: object) -> str | None:
    return optional_id(value, "complaint_id")


def owner_id(value: object) -> str | None:
    return optional_id(value, "owner_id")


def parent_id(value: object) -> str | None:
    return optional_id(value, "parent_id")


def merged_into(value: object) -> str | None:
    return optional_id(value, "merged_into")


def priority(value: object) -> Priority:
    return to_enum(Priority, "priority")(value)


def severity(value: object) -> Severity:
    return to_enum(Severity, "severity")(value)


def tokens(value: object, field: str) -> tuple[str, ...]:
    """Distinct tokens, sorted (order carries no meaning)."""
    given = items(value, field)
    return tuple(sorted({clean_token(v, f"{field}[{i}]") for i, v in enumerate(given)}))


def skills(value: object) -> tuple[str, ...]:
    return tokens(value, "skills_needed")


def ids(value: object, field: str) -> tuple[str, ...]:
    """Ids in the order given, each once."""
    given = items(value, field)
    return tuple(dict.fromkeys(check_id(v, f"{field}[{i}]") for i, v in enumerate(given)))


def child_ids(value: object) -> tuple[str, ...]:
    return ids(value, "child_ids")


def merged_ids(value: object) -> tuple[str, ...]:
    return ids(value, "merged_ids")


def article_ids(value: object) -> tuple[str, ...]:
    return ids(value, "article_ids")


def note(value: object, field: str = "resolution_note") -> str:
    return clean_text(value, field, max_len=5000, personal=True, allow_empty=False)


def optional_note(value: object) -> str | None:
    return None if value is None else note(value)


def reason(value: object) -> str:
    return clean_line(value, "reason", max_len=500, personal=True)


def level(value: object, field: str = "level") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ESCALATION:
        raise ValidationError(field, f"must be an integer from 0 to {MAX_ESCALATION}", value)
    return value


def escalation_level(value: object) -> int:
    return level(value, "escalation_level")


def count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("reopened_count", "must be a non-negative integer", value)
    return value


def check_stamp(stamp: object, since: datetime | None = None) -> Stamp:
    """``stamp`` if it is a `Stamp` with an aware time not before ``since``."""
    if not isinstance(stamp, Stamp):
        raise ValidationError("stamp", "must be a Stamp", stamp)
    at = require_aware(stamp.at, "stamp.at")
    if since is not None and at < since:
        raise ValidationError("stamp.at", f"must not be before the case's last change {since}", at)
    return stamp


def check_pauses(pauses: Iterable[Any], waiting_since: datetime | None) -> None:
    """Pauses are closed, in order and do not overlap; an open wait starts after the last."""
    last: datetime | None = None
    for index, pause in enumerate(pauses):
        if last is not None and pause.started_at < last:
            raise ValidationError(f"pauses[{index}]", "must start after the previous pause ends")
        last = pause.ended_at
    if waiting_since is not None and last is not None and waiting_since < last:
        raise ValidationError("waiting_since", "must not be before the last pause ends")
