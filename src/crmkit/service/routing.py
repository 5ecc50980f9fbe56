"""Case routing: which queue takes a case, and which agent of it works the case.

Pure functions over the host's `Directory`; none of them changes its input.

* `route` picks the `Queue` for a case: a queue takes a case when it takes the
  case's type (a queue without types takes any) and covers every skill the
  case needs. A queue that names the type beats a catch-all; otherwise the
  first listed wins.
* `pick_agent` picks an agent in three steps, in this order:

  1. **skill**: only active candidates with *every* needed skill stay;
  2. **load**: candidates at capacity drop out, and of the rest only the least
     loaded remain (``open_counts`` says how many open cases each holds);
  3. **round robin**: of those, the first after ``last`` (the agent who got the
     previous case) in the candidates' order, wrapping round, takes it.

The caller then runs ``case.assign(agent_id, stamp, team=queue.team)``.

>>> from crmkit.kernel.directory import Directory, User
>>> directory = Directory((
...     User("u-1", teams=("support",), skills=("billing",)),
...     User("u-2", teams=("support",), skills=("billing", "german"), capacity=5),
...     User("u-3", teams=("support",), skills=("german",)),
... ))
>>> billing = Queue("billing", "support", ("billing", "german"), types=("question",))
>>> pick_agent(billing.members(directory), directory, skills=("german",), last="u-2")
'u-3'
>>> pick_agent(["u-1", "u-2"], directory, skills=("billing",), open_counts={"u-1": 2})
'u-2'
>>> pick_agent(["u-2"], directory, open_counts={"u-2": 5}) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import attrs

from crmkit.kernel.checks import items
from crmkit.kernel.directory import Directory
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.text import clean_token


class Routable(Protocol):
    """Anything with a case type and needed skills, such as a `ServiceCase`."""

    @property
    def type(self) -> str:
        """The kind of case (a token)."""
        ...

    @property
    def skills_needed(self) -> tuple[str, ...]:
        """Skills an agent needs to work it."""
        ...


def _name(value: object) -> str:
    return clean_token(value, "name")


def _team(value: object) -> str | None:
    return None if value is None else clean_token(value, "team")


def _tokens(value: object, field: str) -> tuple[str, ...]:
    given = items(value, field)
    return tuple(sorted({clean_token(v, f"{field}[{i}]") for i, v in enumerate(given)}))


def _skills(value: object) -> tuple[str, ...]:
    return _tokens(value, "skills")


def _types(value: object) -> tuple[str, ...]:
    return _tokens(value, "types")


@attrs.frozen
class Queue:
    """A queue of cases, worked by a team that covers some skills.

    Attributes:
        name: The queue's name (a token; cases record it in ``queue``).
        team: The team whose active members work it; None for every active user.
        skills: The skills the queue covers (tokens, sorted).
        types: The case types it takes (tokens, sorted); empty takes any type.
    """

    name: str = attrs.field(converter=_name)
    team: str | None = attrs.field(default=None, converter=_team)
    skills: tuple[str, ...] = attrs.field(default=(), converter=_skills)
    types: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=_types)

    def takes(self, case: Routable) -> bool:
        """Whether the queue takes the case's type and covers every skill it needs."""
        typed = not self.types or case.type in self.types
        return typed and set(case.skills_needed) <= set(self.skills)

    def members(self, directory: Directory) -> tuple[str, ...]:
        """Ids of the active users who work the queue, in the directory's order."""
        if self.team is None:
            return tuple(user.id for user in directory.active())
        return tuple(user.id for user in directory.in_team(self.team))


def route(case: Routable, queues: Iterable[Queue]) -> Queue | None:
    """The queue that should take ``case``, or None when none takes it (see the module)."""
    catch_all: Queue | None = None
    for index, queue in enumerate(items(queues, "queues")):
        if not isinstance(queue, Queue):
            raise ValidationError(f"queues[{index}]", "must be a Queue", queue)
        if queue.takes(case):
            if queue.types:
                return queue
            catch_all = catch_all or queue
    return catch_all


def pick_agent(
    candidates: Iterable[str],
    directory: Directory,
    *,
    skills: Iterable[str] = (),
    open_counts: Mapping[str, int] | None = None,
    last: str | None = None,
) -> str | None:
    """The agent who should get the next case: skill, then load, then round robin.

    Candidates the directory does not know, inactive ones, ones without every
    skill in ``skills`` and ones at capacity are never picked. Returns None
    when nobody is left.
    """
    if not isinstance(directory, Directory):
        raise ValidationError("directory", "must be a Directory", directory)
    order = tuple(
        dict.fromkeys(
            check_id(c, f"candidates[{i}]") for i, c in enumerate(items(candidates, "candidates"))
        )
    )
    needed = set(items(skills, "skills"))
    counts: Mapping[str, int] = {} if open_counts is None else open_counts
    if not isinstance(counts, Mapping):
        raise ValidationError("open_counts", "must be a mapping of user ids to counts", counts)
    pool: list[str] = []
    for user_id in order:
        user = directory.get(user_id)
        if user is None or not user.active or not needed <= set(user.skills):
            continue
        if user.has_room(_count(counts, user_id)):
            pool.append(user_id)
    if not pool:
        return None
    least = min(_count(counts, user_id) for user_id in pool)
    return _next_after(order, [u for u in pool if _count(counts, u) == least], last)


def _count(open_counts: Mapping[str, int], user_id: str) -> int:
    count = open_counts.get(user_id, 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValidationError(f"open_counts.{user_id}", "must be a non-negative integer", count)
    return count


def _next_after(order: Sequence[str], pool: Sequence[str], last: str | None) -> str:
    """The first of ``pool`` after ``last`` in ``order``, wrapping round.

    Unlike `crmkit.sales.assignment.round_robin`, ``last`` need not be in the
    pool: when the previous agent is now busy or lacks a skill, the turn still
    passes to the next agent after them, not back to the first.
    """
    if last not in order:
        return pool[0]
    start = order.index(last) + 1
    chosen = set(pool)
    return next(u for u in (*order[start:], *order[:start]) if u in chosen)
