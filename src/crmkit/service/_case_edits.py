"""The commands of `ServiceCase` that keep its status, and what each case event changes.

Kept apart from `crmkit.service.case` to keep modules small; `ServiceCase`
inherits these methods, and callers use them from there.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self, TypeVar

from crmkit.kernel.checks import items
from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import check_id
from crmkit.service import _case_fields as _f
from crmkit.service.case_events import (
    CaseAbsorbed,
    CaseArticleLinked,
    CaseArticleUnlinked,
    CaseAssigned,
    CaseChildAdded,
    CaseClosed,
    CaseCustomerReplied,
    CaseEscalated,
    CaseEvent,
    CaseMerged,
    CaseParentSet,
    CaseRated,
    CaseReopened,
    CaseReprioritised,
    CaseResolved,
    CaseResponded,
    CaseSlaUpdated,
    CaseWaitingOnCustomer,
)
from crmkit.service.case_values import Csat
from crmkit.service.sla import SlaBreached, SlaClock, SlaWarning
from crmkit.service.sla_policy import Priority, Severity

E = TypeVar("E", bound=CaseEvent)


class CaseEdits:
    """The commands of a case that keep its status; `ServiceCase` supplies the state."""

    __slots__ = ()

    if TYPE_CHECKING:
        id: str
        updated_at: datetime
        priority: Priority
        severity: Severity
        escalation_level: int
        first_responded_at: datetime | None
        parent_id: str | None
        child_ids: tuple[str, ...]
        merged_ids: tuple[str, ...]
        article_ids: tuple[str, ...]
        csat: Csat | None
        sla: SlaClock | None

    def _allow(self, command: str) -> None:
        raise NotImplementedError

    def _refuse(self, command: str, reason: str) -> InvalidTransition:
        raise NotImplementedError

    def _edit(
        self, command: str, cls: builtins.type[E], stamp: Stamp, **data: Any
    ) -> tuple[Self, E]:
        raise NotImplementedError

    def respond(self, stamp: Stamp) -> tuple[Self, CaseResponded]:
        """Record a response to the customer; the first sets ``first_responded_at``."""
        self._allow("respond")
        first = self.first_responded_at is None
        return self._edit("respond", CaseResponded, stamp, first=first)

    def escalate(
        self, level: int, stamp: Stamp, reason: str, *, by_hand: bool = False
    ) -> tuple[Self, CaseEscalated]:
        """Set the escalation level (0 to 3) with a reason.

        Escalation only goes up: a lower or equal level is refused. A person may
        set any other level ``by_hand`` (to de-escalate, for example).
        """
        self._allow("escalate")
        new = _f.level(level)
        why = _f.reason(reason)
        if not isinstance(by_hand, bool):
            raise ValidationError("by_hand", "must be a bool", by_hand)
        if new == self.escalation_level:
            raise ValidationError("level", "must differ from the current level", new)
        if new < self.escalation_level and not by_hand:
            raise self._refuse("escalate", f"levels only go up (now {self.escalation_level})")
        return self._edit(
            "escalate", CaseEscalated, stamp, level=new,
            previous_level=self.escalation_level, reason=why, by_hand=by_hand,
        )  # fmt: skip

    def reprioritise(
        self,
        stamp: Stamp,
        priority: Priority | str | None = None,
        severity: Severity | str | None = None,
    ) -> tuple[Self, CaseReprioritised]:
        """Change priority and/or severity (None keeps one)."""
        self._allow("reprioritise")
        new_p = self.priority if priority is None else _f.priority(priority)
        new_s = self.severity if severity is None else _f.severity(severity)
        if (new_p, new_s) == (self.priority, self.severity):
            raise ValidationError("priority", "must change the priority or severity", new_p)
        return self._edit("reprioritise", CaseReprioritised, stamp, priority=new_p, severity=new_s)

    def link_article(self, article_id: str, stamp: Stamp) -> tuple[Self, CaseArticleLinked]:
        """Link a knowledge article that helps with the case."""
        self._allow("link_article")
        article = check_id(article_id, "article_id")
        if article in self.article_ids:
            raise ValidationError("article_id", "is already linked", article)
        return self._edit("link_article", CaseArticleLinked, stamp, article_id=article)

    def unlink_article(self, article_id: str, stamp: Stamp) -> tuple[Self, CaseArticleUnlinked]:
        """Unlink a linked knowledge article."""
        self._allow("unlink_article")
        article = check_id(article_id, "article_id")
        if article not in self.article_ids:
            raise ValidationError("article_id", "is not linked", article)
        return self._edit("unlink_article", CaseArticleUnlinked, stamp, article_id=article)

    def set_parent(self, parent_id: str | None, stamp: Stamp) -> tuple[Self, CaseParentSet]:
        """Put the case under a parent case (None detaches it).

        The caller also runs ``parent.add_child(self.id, stamp)``.
        """
        self._allow("set_parent")
        parent = None if parent_id is None else other_id(parent_id, "parent_id", self.id)
        if parent == self.parent_id:
            raise ValidationError("parent_id", "must change the parent", parent)
        if parent is not None and parent in self.child_ids:
            raise ValidationError("parent_id", "must not be a child of the case", parent)
        return self._edit(
            "set_parent", CaseParentSet, stamp, parent_id=parent, previous_parent_id=self.parent_id
        )

    def add_child(self, child_id: str, stamp: Stamp) -> tuple[Self, CaseChildAdded]:
        """Record a child case under this one."""
        self._allow("add_child")
        child = other_id(child_id, "child_id", self.id)
        if child in self.child_ids or child == self.parent_id:
            raise ValidationError("child_id", "is already a child or the parent", child)
        return self._edit("add_child", CaseChildAdded, stamp, child_id=child)

    def absorb(self, duplicate_id: str, stamp: Stamp) -> tuple[Self, CaseAbsorbed]:
        """Record that a duplicate case was merged into this survivor."""
        self._allow("absorb")
        duplicate = other_id(duplicate_id, "duplicate_id", self.id)
        if duplicate in self.merged_ids:
            raise ValidationError("duplicate_id", "is already merged in", duplicate)
        return self._edit("absorb", CaseAbsorbed, stamp, duplicate_id=duplicate)

    def rate(self, csat: Csat, stamp: Stamp) -> tuple[Self, CaseRated]:
        """Record the customer's rating: once, when resolved or closed (``at`` defaults to now)."""
        self._allow("rate")
        if not isinstance(csat, Csat):
            raise ValidationError("csat", "must be a Csat", csat)
        if self.csat is not None:
            raise self._refuse("rate", "the case is already rated")
        at = _f.check_stamp(stamp, self.updated_at).at
        rated = csat if csat.at is not None else Csat(csat.score, csat.comment, at)
        return self._edit("rate", CaseRated, stamp, csat=rated)

    def track_sla(
        self,
        clock: SlaClock,
        stamp: Stamp,
        facts: Iterable[SlaWarning | SlaBreached] = (),
    ) -> tuple[Self, CaseSlaUpdated]:
        """Record the case's SLA clock after a change, with the warnings and breaches it gave.

        The application computes the clock (it knows the policies and calendars):
        ``SlaClock.start`` when the case opens, ``pause``/``resume`` when it waits
        on the customer and the customer replies, ``met`` on the first response and
        on resolution, ``evaluate`` on the scheduler's ticks.
        """
        self._allow("track_sla")
        if not isinstance(clock, SlaClock):
            raise ValidationError("clock", "must be an SlaClock", clock)
        given = items(facts, "facts")
        for index, fact in enumerate(given):
            if not isinstance(fact, SlaWarning | SlaBreached):
                raise ValidationError(f"facts[{index}]", "must be SlaWarning or SlaBreached", fact)
        warnings = tuple(f for f in given if isinstance(f, SlaWarning))
        breaches = tuple(f for f in given if isinstance(f, SlaBreached))
        return self._edit(
            "track_sla", CaseSlaUpdated, stamp, sla=clock, warnings=warnings, breaches=breaches
        )


def other_id(value: object, field: str, own: str) -> str:
    other = check_id(value, field)
    if other == own:
        raise ValidationError(field, "must differ from the case's own id", other)
    return other


def changes_of(case: Any, event: DomainEvent) -> dict[str, Any]:
    """The fields ``event`` changes besides version, status and updated_at."""
    at = event.occurred_at
    if isinstance(event, CaseAssigned):
        return {"owner_id": event.owner_id, "team": event.team}
    if isinstance(event, CaseWaitingOnCustomer):
        return {"waiting_since": at}
    if isinstance(event, CaseCustomerReplied | CaseResolved | CaseMerged):
        changes: dict[str, Any] = {}
        if event.pause is not None:
            changes = {"waiting_since": None, "pauses": (*case.pauses, event.pause)}
        if isinstance(event, CaseResolved):
            changes.update(resolved_at=at, resolution_note=event.note)
        elif isinstance(event, CaseMerged):
            changes["merged_into"] = event.survivor_id
        return changes
    if isinstance(event, CaseReopened):
        return {"reopened_count": event.reopened_count, "resolved_at": None,
                "resolution_note": None}  # fmt: skip
    if isinstance(event, CaseClosed):
        return {"closed_at": at}
    if isinstance(event, CaseResponded):
        return {"first_responded_at": at} if event.first else {}
    if isinstance(event, CaseEscalated):
        return {"escalation_level": event.level}
    if isinstance(event, CaseReprioritised):
        return {"priority": event.priority, "severity": event.severity}
    if isinstance(event, CaseArticleLinked):
        return {"article_ids": (*case.article_ids, event.article_id)}
    if isinstance(event, CaseArticleUnlinked):
        return {"article_ids": tuple(a for a in case.article_ids if a != event.article_id)}
    if isinstance(event, CaseParentSet):
        return {"parent_id": event.parent_id}
    if isinstance(event, CaseChildAdded):
        return {"child_ids": (*case.child_ids, event.child_id)}
    if isinstance(event, CaseAbsorbed):
        return {"merged_ids": (*case.merged_ids, event.duplicate_id)}
    if isinstance(event, CaseSlaUpdated):
        return {"sla": event.sla}
    if isinstance(event, CaseRated):
        return {"csat": event.csat}
    return {}
