"""A rep's work queue: today's calls and follow-ups, ranked by a score that says why.

One `WorkItem` per contact (or per lead not yet converted) that has at least
one `Reason`: a planned call or task due today or overdue, an open lead, an
SLA at risk or breached on one of its open cases, a contract in (or about to
enter) its renewal window. Each item's score is the sum of five lines, one
per `Factor`::

    score = Σ points,   points = weight × value   (4 places, half to even)

| factor    | value (0 to 1)                                                   | default weight |
|-----------|------------------------------------------------------------------|----------------|
| `lead`    | the highest score of the rep's open leads for it, ÷ 100          | 25             |
| `sla`     | 1 if a case breached its SLA, 0.5 if one is at risk, else 0      | 30             |
| `overdue` | overdue calls and tasks, ÷ 4, at most 1                          | 20             |
| `renewal` | 1 if a contract is in its notice period, 0.5 if it enters it     | 15             |
|           | within `RENEWAL_LOOKAHEAD` (30 days), else 0                     |                |
| `timing`  | the learned connect rate of the current local hour (best time),  | 10             |
|           | 0 outside the contact's hours or when it asked not to be called  |                |

The queue is ordered by score (highest first), then by due time (earliest
first, items without one last), then by key: the same inputs always give
the same order.

**Snooze and done.** A rep snoozes an item until a time: it is hidden while
``now < until`` and comes back after. A rep marks an item done: it stays
hidden for good *unless a new reason appears*: the mark remembers the keys of
the reasons the item had (`Reason.key`: ``call:a-1`` or ``task:a-1`` for a
call or task, due or overdue alike; ``sla_at_risk:k-1``, ``sla_breached:k-1``,
``renewal_soon:ct-1``, ``renewal_window:ct-1``, ``open_lead:l-1``), and the
item comes back when it has a reason whose key is not among them: a new call
or task, another case at risk, a case whose risk grew from at risk to
breached, a contract entering its notice period. A task falling overdue, a
changed lead score or a better hour to call is not a new reason.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.time import require_aware

from ._work_queue_facts import (
    RENEWAL_LOOKAHEAD as RENEWAL_LOOKAHEAD,
    SlotRates as SlotRates,
    next_window as next_window,
    renewal_reason as renewal_reason,
    sla_reason as sla_reason,
    slot_rate as slot_rate,
    task_reason as task_reason,
    timing as timing,
)
from ._work_queue_model import (
    Candidate as Candidate,
    Factor as Factor,
    Mark as Mark,
    MarkState as MarkState,
    Reason as Reason,
    ReasonKind as ReasonKind,
    ScoreLine as ScoreLine,
    SubjectKind as SubjectKind,
    Timing as Timing,
    WorkItem as WorkItem,
    item_key as item_key,
    parse_key as parse_key,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "OVERDUE_CAP",
    "RENEWAL_LOOKAHEAD",
    "Candidate",
    "Factor",
    "Mark",
    "MarkState",
    "QueueWeights",
    "Reason",
    "ReasonKind",
    "ScoreLine",
    "SlotRates",
    "SubjectKind",
    "Timing",
    "WorkItem",
    "item_key",
    "next_window",
    "order_key",
    "parse_key",
    "rank",
    "renewal_reason",
    "score",
    "sla_reason",
    "slot_rate",
    "task_reason",
    "timing",
]

OVERDUE_CAP: Final = 4
"""Overdue calls and tasks that give the full overdue value (each adds a quarter)."""
DEFAULT_LIMIT: Final = 50
"""Items `rank` returns unless told otherwise."""
MAX_LIMIT: Final = 1000
"""The most items one queue returns."""

_PLACES = Decimal("0.0001")
_MAX_WEIGHT = Decimal(1000)
_HALF = Decimal("0.5")
_ONE = Decimal(1)
_ZERO = Decimal(0)
_OVERDUE = frozenset({ReasonKind.CALL_OVERDUE, ReasonKind.TASK_OVERDUE})


def _weight(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValidationError(name, "must be a Decimal, an integer or decimal text", value)
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise ValidationError(name, "must be a decimal number", value) from None
    if not number.is_finite() or not _ZERO <= number <= _MAX_WEIGHT:
        raise ValidationError(name, "must be from 0 to 1000", value)
    if number != number.quantize(Decimal("0.01")):
        raise ValidationError(name, "must have at most 2 decimal places", value)
    return number


def _lead(value: object) -> Decimal:
    return _weight(value, "lead")


def _sla(value: object) -> Decimal:
    return _weight(value, "sla")


def _overdue(value: object) -> Decimal:
    return _weight(value, "overdue")


def _renewal(value: object) -> Decimal:
    return _weight(value, "renewal")


def _timing(value: object) -> Decimal:
    return _weight(value, "timing")


@attrs.frozen
class QueueWeights:
    """The weight of each factor of the score (see the module's table).

    Weights are Decimals from 0 to 1000 with at most 2 places (ints and decimal
    text are accepted; floats are refused). The defaults add up to 100, so a
    score runs from 0 to 100; a weight of 0 switches its factor off.

    Attributes:
        lead: Weight of the lead score (default 25).
        sla: Weight of SLA risk on open cases (default 30).
        overdue: Weight of overdue calls and tasks (default 20).
        renewal: Weight of renewals in or near their notice period (default 15).
        timing: Weight of a good time to call now (default 10).
    """

    lead: Decimal = attrs.field(default=Decimal(25), converter=_lead)
    sla: Decimal = attrs.field(default=Decimal(30), converter=_sla)
    overdue: Decimal = attrs.field(default=Decimal(20), converter=_overdue)
    renewal: Decimal = attrs.field(default=Decimal(15), converter=_renewal)
    timing: Decimal = attrs.field(default=Decimal(10), converter=_timing)

    def of(self, factor: Factor) -> Decimal:
        """The weight of ``factor``."""
        return getattr(self, Factor(factor).value)  # type: ignore[no-any-return]


def _count(reasons: tuple[Reason, ...], *kinds: ReasonKind) -> int:
    return sum(reason.kind in kinds for reason in reasons)


def _lines(candidate: Candidate) -> list[tuple[Factor, Decimal, str]]:
    reasons = candidate.reasons
    score = candidate.lead_score
    lead = (
        (_ZERO, "no open lead")
        if score is None
        else (Decimal(score) / 100, f"lead score {score} of 100")
    )
    breached = _count(reasons, ReasonKind.SLA_BREACHED)
    at_risk = _count(reasons, ReasonKind.SLA_AT_RISK)
    sla = _ONE if breached else _HALF if at_risk else _ZERO
    overdue = sum(reason.kind in _OVERDUE for reason in reasons)
    window = _count(reasons, ReasonKind.RENEWAL_WINDOW)
    soon = _count(reasons, ReasonKind.RENEWAL_SOON)
    renewal = _ONE if window else _HALF if soon else _ZERO
    if candidate.timing is None:
        when = (_ZERO, "no call history or zone")
    elif not candidate.timing.callable_now:
        when = (_ZERO, candidate.timing.note or "not a time to call")
    else:
        when = (candidate.timing.rate, f"connect rate {candidate.timing.rate} at this hour")
    return [
        (Factor.LEAD, *lead),
        (Factor.SLA, sla, f"{breached} case(s) breached, {at_risk} at risk"),
        (
            Factor.OVERDUE,
            Decimal(min(overdue, OVERDUE_CAP)) / OVERDUE_CAP,
            f"{overdue} overdue call(s) or task(s), full value at {OVERDUE_CAP}",
        ),
        (Factor.RENEWAL, renewal, f"{window} contract(s) in notice period, {soon} soon"),
        (Factor.TIMING, *when),
    ]


def score(candidate: Candidate, weights: QueueWeights | None = None) -> tuple[ScoreLine, ...]:
    """The breakdown of ``candidate``'s score: one `ScoreLine` per `Factor`."""
    if not isinstance(candidate, Candidate):
        raise ValidationError("candidate", "must be a Candidate", type(candidate).__name__)
    weights = _weights(weights)
    return tuple(
        ScoreLine(
            factor,
            weights.of(factor),
            value,
            (weights.of(factor) * value).quantize(_PLACES, ROUND_HALF_EVEN),
            why,
        )
        for factor, value, why in _lines(candidate)
    )


def order_key(item: WorkItem) -> tuple[Decimal, bool, datetime | None, str]:
    """The sort key of the queue: score descending, due ascending (None last), key."""
    return (-item.score, item.due is None, item.due, item.key)


def _weights(weights: object) -> QueueWeights:
    if weights is None:
        return QueueWeights()
    if not isinstance(weights, QueueWeights):
        raise ValidationError("weights", "must be QueueWeights or None", type(weights).__name__)
    return weights


def _marks(marks: object) -> dict[str, Mark]:
    if isinstance(marks, Mapping):
        marks = marks.values()
    if isinstance(marks, str | bytes) or not isinstance(marks, Iterable):
        raise ValidationError("marks", "must be an iterable of Mark", type(marks).__name__)
    found: dict[str, Mark] = {}
    for index, mark in enumerate(marks):
        if not isinstance(mark, Mark):
            raise ValidationError(f"marks[{index}]", "must be a Mark", type(mark).__name__)
        found[mark.key] = mark
    return found


def _item(rep_id: str, candidate: Candidate, weights: QueueWeights) -> WorkItem:
    reasons = tuple(
        sorted(
            candidate.reasons,
            # None never meets a datetime: the flag before it differs first.
            key=lambda r: (r.due is None, r.due, r.key),
        )
    )
    breakdown = score(candidate, weights)
    dues = [reason.due for reason in reasons if reason.due is not None]
    return WorkItem(
        item_key(rep_id, candidate.subject_kind, candidate.subject_id),
        rep_id,
        candidate.subject_kind,
        candidate.subject_id,
        reasons,
        min(dues) if dues else None,
        sum((line.points for line in breakdown), _ZERO),
        breakdown,
    )


def rank(
    candidates: Iterable[Candidate],
    *,
    rep_id: str,
    now: datetime,
    weights: QueueWeights | None = None,
    marks: Iterable[Mark] | Mapping[str, Mark] = (),
    limit: int = DEFAULT_LIMIT,
) -> tuple[WorkItem, ...]:
    """The ``limit`` best items of ``rep_id``'s queue at ``now``, in queue order.

    Candidates without reasons are left out, and so are those a `Mark`
    hides (see the module). One pass over ``candidates`` (a generator is
    fine) keeping at most ``limit`` items (and the ids seen, to refuse a subject
    given twice).
    """
    rep = check_id(rep_id, "rep_id")
    at = require_aware(now, "now")
    chosen = _weights(weights)
    hidden = _marks(marks)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"must be an integer from 1 to {MAX_LIMIT}", limit)
    if isinstance(candidates, str | bytes | Mapping) or not isinstance(candidates, Iterable):
        raise ValidationError("candidates", "must be an iterable", type(candidates).__name__)
    seen: set[tuple[str, str]] = set()

    def items() -> Iterable[WorkItem]:
        for index, candidate in enumerate(candidates):
            if not isinstance(candidate, Candidate):
                raise ValidationError(
                    f"candidates[{index}]", "must be a Candidate", type(candidate).__name__
                )
            subject = (candidate.subject_kind.value, candidate.subject_id)
            if subject in seen:
                raise ValidationError(f"candidates[{index}]", "names a subject twice", subject[1])
            seen.add(subject)
            if not candidate.reasons:
                continue
            item = _item(rep, candidate, chosen)
            mark = hidden.get(item.key)
            if mark is None or not mark.hides(item.reasons, at):
                yield item

    return tuple(heapq.nsmallest(limit, items(), key=order_key))
