"""Lead commands that change fields rather than status, and the helpers every command shares.

`Lead` inherits these; they live apart only to keep each module to one idea.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final, Self, TypeVar

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import check_id
from crmkit.kernel.lifecycle import Lifecycle
from crmkit.kernel.time import require_aware
from crmkit.parties.values import Email, Phone, clean_tags
from crmkit.sales import lead_values as v
from crmkit.sales.lead_events import (
    LeadAnswered,
    LeadAssigned,
    LeadChanged,
    LeadMerged,
    LeadScored,
    LeadTagged,
    LeadUnmerged,
    LeadUntagged,
)
from crmkit.sales.lead_values import LeadStatus

_E = TypeVar("_E", bound=DomainEvent)

UPDATABLE: Final[Mapping[str, Any]] = {
    "first_name": v.first_name,
    "last_name": v.last_name,
    "email": v.email,
    "phone": v.phone,
    "company": v.company,
    "title": v.title,
    "website": v.website,
    "country": v.country,
    "region": v.region,
    "city": v.city,
    "description": v.description,
}
"""The fields `LeadEdits.update` may change, each with the converter that checks it."""


def check_score(value: object) -> int | None:
    """None, or a score from 0 to 100 (an int, not a bool)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationError("score", "must be an integer from 0 to 100", value)
    return value


class LeadEdits(Replayable):
    """Field commands of a lead: update, assign, tag, untag, answer, rescore, merge, unmerge.

    A merged lead refuses every command but `unmerge`; a converted lead refuses them all.
    """

    __slots__ = ()

    _lifecycle: ClassVar[Lifecycle[LeadStatus]]

    status: LeadStatus
    owner_id: str | None
    tags: tuple[str, ...]
    answers: dict[str, str]
    score: int | None
    merged_into: str | None

    def update(
        self,
        stamp: Stamp,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        email: Email | str | None = None,
        phone: Phone | str | None = None,
        company: str | None = None,
        title: str | None = None,
        website: str | None = None,
        country: str | None = None,
        region: str | None = None,
        city: str | None = None,
        description: str | None = None,
    ) -> tuple[Self, LeadChanged]:
        """Change the given fields: None leaves a field as it is, an empty string clears it."""
        self._allowed("update")
        given = {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "phone": phone,
            "company": company,
            "title": title,
            "website": website,
            "country": country,
            "region": region,
            "city": city,
            "description": description,
        }
        new: dict[str, Any] = {}
        for name, value in given.items():
            if value is None:
                continue
            blank = isinstance(value, str) and not value.strip()
            new[name] = None if blank else UPDATABLE[name](value)
        changed = tuple(sorted(k for k, value in new.items() if getattr(self, k) != value))
        if not changed:
            raise ValidationError("changes", "change nothing")
        return self._emit(LeadChanged, stamp, fields=changed, **{k: new[k] for k in changed})

    def assign(self, owner_id: str | None, stamp: Stamp) -> tuple[Self, LeadAssigned]:
        """Give the lead to an owner (a user id), or to nobody."""
        self._allowed("assign")
        owner = v.owner_id(owner_id)
        if owner == self.owner_id:
            raise ValidationError("owner_id", "is the owner already", owner)
        return self._emit(LeadAssigned, stamp, owner_id=owner)

    def tag(self, tags: tuple[str, ...] | list[str], stamp: Stamp) -> tuple[Self, LeadTagged]:
        """Add tags (case-folded; ones it has already are ignored)."""
        self._allowed("tag")
        after = clean_tags((*self.tags, *clean_tags(tags)))
        if after == self.tags:
            raise ValidationError("tags", "are all there already")
        return self._emit(LeadTagged, stamp, tags=after)

    def untag(self, tags: tuple[str, ...] | list[str], stamp: Stamp) -> tuple[Self, LeadUntagged]:
        """Remove tags."""
        self._allowed("untag")
        drop = set(clean_tags(tags))
        after = tuple(t for t in self.tags if t not in drop)
        if after == self.tags:
            raise ValidationError("tags", "are none of the lead's tags")
        return self._emit(LeadUntagged, stamp, tags=after)

    def answer(self, answers: Mapping[str, str], stamp: Stamp) -> tuple[Self, LeadAnswered]:
        """Record qualification answers, merged over earlier ones."""
        self._allowed("answer")
        given = {k: a for k, a in v.answers(answers).items() if self.answers.get(k) != a}
        if not given:
            raise ValidationError("answers", "change nothing")
        return self._emit(LeadAnswered, stamp, answers=given)

    def rescore(self, score: int | None, stamp: Stamp) -> tuple[Self, LeadScored]:
        """Set the score (0 to 100) that a scorer gave, or clear it with None."""
        self._allowed("rescore")
        checked = check_score(score)
        if checked == self.score:
            raise ValidationError("score", "is the score already", checked)
        return self._emit(LeadScored, stamp, score=checked)

    def merge_into(self, survivor_id: str, stamp: Stamp) -> tuple[Self, LeadMerged]:
        """Mark this duplicate as merged into ``survivor_id``; it refuses commands till unmerged."""
        self._allowed("merge_into")
        into = check_id(survivor_id, "survivor_id")
        if into == self.id:
            raise ValidationError("survivor_id", "must be another lead", into)
        return self._emit(LeadMerged, stamp, into=into)

    def unmerge(self, stamp: Stamp) -> tuple[Self, LeadUnmerged]:
        """Undo a merge: the lead takes commands again."""
        if self.merged_into is None:
            raise self._lifecycle.refuse(self.status, "unmerge", "not merged")
        return self._emit(LeadUnmerged, stamp)

    def _allowed(self, command: str) -> None:
        """Refuse any command on a merged lead, and any change to a converted one."""
        if self.merged_into is not None:
            raise self._lifecycle.refuse(self.status, command, f"merged into {self.merged_into}")
        if self.status is LeadStatus.CONVERTED:
            raise self._lifecycle.refuse(self.status, command, "a converted lead does not change")

    def _move(self, command: str) -> None:
        """Refuse ``command`` unless the lifecycle table allows it here."""
        self._allowed(command)
        self._lifecycle.target(self.status, command)

    def _emit(self, cls: type[_E], stamp: Stamp, **data: Any) -> tuple[Self, _E]:
        """Build the next event and apply it: the live path and replay share `apply`."""
        require_aware(stamp.at, "stamp.at")
        event = cls(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            **data,
        )
        return self.apply(event), event
