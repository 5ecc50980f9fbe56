"""The directory of users that the host supplies: teams, territories, skills and capacity.

crmkit keeps no users of its own. A host builds a `Directory` from its own
user store and passes it to assignment rules (leads, service cases ...), which
only read it.

>>> directory = Directory((
...     User("u-1", teams=("sales",), territories=("dach",), capacity=2),
...     User("u-2", teams=("sales",), skills=("german",)),
...     User("u-3", teams=("sales",), active=False),
... ))
>>> [user.id for user in directory.in_team("sales")]
['u-1', 'u-2']
>>> directory.get("u-3").active
False
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from crmkit.kernel.checks import of_type, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.text import clean_line


def _user_id(value: object) -> str:
    return check_id(value, "id")


def _names(value: object, field: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list | set | frozenset):
        raise ValidationError(field, "must be a collection of names", value)
    cleaned = {clean_line(item, f"{field}[{i}]", max_len=100) for i, item in enumerate(value)}
    return tuple(sorted(cleaned))


def _teams(value: object) -> tuple[str, ...]:
    return _names(value, "teams")


def _territories(value: object) -> tuple[str, ...]:
    return _names(value, "territories")


def _skills(value: object) -> tuple[str, ...]:
    return _names(value, "skills")


def _capacity(instance: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("capacity", "must be a non-negative integer or None", value)


@attrs.frozen
class User:
    """A user of the host application, as assignment rules see them.

    Attributes:
        id: The user's id (owners and actors carry it).
        teams: Names of the user's teams, sorted.
        territories: Names of the territories the user covers, sorted.
        skills: Skills (languages, products ...), sorted.
        capacity: How many open records the user may hold at once; None for no limit.
        active: Whether the user takes new work (absent or departed users do not).
    """

    id: str = attrs.field(converter=_user_id)
    teams: tuple[str, ...] = attrs.field(default=(), converter=_teams)
    territories: tuple[str, ...] = attrs.field(default=(), converter=_territories)
    skills: tuple[str, ...] = attrs.field(default=(), converter=_skills)
    capacity: int | None = attrs.field(default=None, validator=_capacity)
    active: bool = attrs.field(default=True, validator=of_type(bool))

    def has_room(self, open_count: int) -> bool:
        """Whether the user may take one more record while holding ``open_count``."""
        return self.capacity is None or open_count < self.capacity


def _unique(
    instance: Directory, attribute: attrs.Attribute[tuple[User, ...]], value: tuple[User, ...]
) -> None:
    # tuple_of ran first, so ``value`` is a tuple of users.
    seen: set[str] = set()
    for index, user in enumerate(value):
        if user.id in seen:
            raise ValidationError(f"users[{index}].id", "is given twice", user.id)
        seen.add(user.id)


@attrs.frozen
class Directory:
    """The host's users, in the host's order; lookups return active users unless they say not.

    Attributes:
        users: Every user, active or not, each id once.
    """

    users: tuple[User, ...] = attrs.field(default=(), validator=[tuple_of(User), _unique])

    def __iter__(self) -> Iterator[User]:
        return iter(self.users)

    def __len__(self) -> int:
        return len(self.users)

    def get(self, user_id: str) -> User | None:
        """The user with this id (active or not), or None."""
        return next((user for user in self.users if user.id == user_id), None)

    def active(self) -> tuple[User, ...]:
        """Users who take new work."""
        return tuple(user for user in self.users if user.active)

    def in_team(self, team: str) -> tuple[User, ...]:
        """Active users of a team."""
        return tuple(user for user in self.users if user.active and team in user.teams)

    def in_territory(self, territory: str) -> tuple[User, ...]:
        """Active users who cover a territory."""
        return tuple(user for user in self.users if user.active and territory in user.territories)

    def with_skill(self, skill: str) -> tuple[User, ...]:
        """Active users with a skill."""
        return tuple(user for user in self.users if user.active and skill in user.skills)
