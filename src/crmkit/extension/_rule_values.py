"""How a rule's value compares with a fact: as a number, an instant or text.

Private to `crmkit.extension.rule_conditions`, which re-exports `compare` and
`equals` and describes the kinds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .rule_conditions import Scalar

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def _instant(text: str) -> datetime | None:
    # Only strings that look like a date and a time: fromisoformat accepts bare dates too.
    if len(text) < 16 or text[10:11] not in ("T", " "):
        return None
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            return None
        # In UTC, comparing instants near year 1 or 9999 cannot overflow.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _as_kind(value: object) -> tuple[str, Decimal | datetime | str] | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return "number", Decimal(value)
    if isinstance(value, str):
        if _NUMBER.fullmatch(value):
            return "number", Decimal(value)
        instant = _instant(value)
        return ("instant", instant) if instant is not None else ("text", value)
    return None


def compare(fact: object, value: str | int) -> int | None:
    """-1, 0 or 1 as ``fact`` is below, equal to or above the rule's ``value``; None if unlike.

    The rule's value chooses the kind (number, instant or text); a fact of
    another kind gives None.
    """
    wanted = _as_kind(value)
    if wanted is None:
        return None
    kind, right = wanted
    if kind == "text":
        left: object = fact if isinstance(fact, str) else None
    else:
        got = _as_kind(fact)
        left = got[1] if got is not None and got[0] == kind else None
    if left is None:
        return None
    return (left > right) - (left < right)  # type: ignore[operator]


def equals(fact: object, value: Scalar) -> bool:
    """Whether ``fact`` equals the rule's ``value`` (kinds: see `rule_conditions`)."""
    if value is None or isinstance(value, bool):
        return fact is value
    return compare(fact, value) == 0
