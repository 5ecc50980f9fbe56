"""Lead assignment: pure functions over the host's `Directory`; none of them changes its input.

`assign_lead` (and `AssignmentRule.assign`) chains three steps, in this order:

1. **territory**: `by_territory` finds the most specific territory for the
   lead's place (postal prefix beats region, region beats country); its members
   are the candidates. Without a match (or when nobody there is active),
   every active user is a candidate, unless the rule says not to fall back;
2. **load**: candidates at capacity drop out, and of the rest only the least
   loaded remain (`open_counts` says how many open records each holds);
3. **round robin**: of those, the one after ``last`` (the user who got the
   previous record) takes it, so ties rotate fairly.

The result is a user id, or None when nobody can take the lead; the caller
then runs ``lead.assign(user_id, stamp)``.

>>> from crmkit.kernel.directory import Directory, User
>>> directory = Directory((User("u-1", territories=("dach",)), User("u-2"), User("u-3")))
>>> dach = Territory("dach", countries=("DE", "AT", "CH"))
>>> assign_lead(Location("DE"), directory, [dach])
'u-1'
>>> assign_lead(Location("FR"), directory, [dach], open_counts={"u-1": 3}, last="u-2")
'u-3'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import attrs

from crmkit.kernel.checks import of_type, tuple_of
from crmkit.kernel.directory import Directory
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_line
from crmkit.sales.lead_values import country as _country_code, optional_line


class Located(Protocol):
    """Anything with a country and a region, such as a `Lead` or a `Location`."""

    @property
    def country(self) -> str | None:
        """ISO 3166-1 alpha-2 code."""
        ...

    @property
    def region(self) -> str | None:
        """State, province or region."""
        ...


def _country(value: object) -> str | None:
    return _country_code(value)


def _region(value: object) -> str | None:
    return optional_line(value, "region", max_len=100)


def _postal_code(value: object) -> str | None:
    return optional_line(value, "postal_code", max_len=20)


@attrs.frozen
class Location:
    """A place to route by, when there is no lead at hand.

    Attributes:
        country: ISO 3166-1 alpha-2 code.
        region: State, province or region.
        postal_code: Postal code.
    """

    country: str | None = attrs.field(default=None, converter=_country)
    region: str | None = attrs.field(default=None, converter=_region)
    postal_code: str | None = attrs.field(default=None, converter=_postal_code)


def _name(value: object) -> str:
    return clean_line(value, "name", max_len=100)


def _lines(value: object, field: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise ValidationError(field, "must be a list", value)
    return tuple(clean_line(item, f"{field}[{i}]", max_len=100) for i, item in enumerate(value))


def _countries(value: object) -> tuple[str, ...]:
    codes = tuple(_country_code(code) for code in _lines(value, "countries"))
    return tuple(code for code in codes if code is not None)


def _regions(value: object) -> tuple[str, ...]:
    return _lines(value, "regions")


def _prefixes(value: object) -> tuple[str, ...]:
    return _lines(value, "postal_prefixes")


def _members(value: object) -> tuple[str, ...]:
    return _lines(value, "users")


@attrs.frozen
class Territory:
    """A sales territory: the places it covers and the people who cover it.

    A place is in the territory when it matches every constraint the territory
    has: one of its countries (if any), one of its regions (if any, compared
    case-insensitively) and one of its postal prefixes (if any). A territory
    without constraints covers everything and is the least specific.

    Attributes:
        name: The territory's name (users list it in `User.territories`).
        countries: ISO country codes it covers.
        regions: Regions it covers.
        postal_prefixes: Postal code prefixes it covers.
        team: A team whose active members cover it.
        users: Ids of users who cover it (besides the team and users naming it).
    """

    name: str = attrs.field(converter=_name)
    countries: tuple[str, ...] = attrs.field(default=(), converter=_countries)
    regions: tuple[str, ...] = attrs.field(default=(), converter=_regions)
    postal_prefixes: tuple[str, ...] = attrs.field(default=(), converter=_prefixes)
    team: str | None = attrs.field(default=None, validator=of_type(str, optional=True))
    users: tuple[str, ...] = attrs.field(default=(), converter=_members)

    def specificity(self, place: Located) -> tuple[int, int, int] | None:
        """How closely the territory matches ``place`` (larger is closer), or None if not at all.

        The tuple is (length of the matching postal prefix, region matched, country matched).
        """
        if self.countries and place.country not in self.countries:
            return None
        region_hit = 0
        if self.regions:
            region = (place.region or "").casefold()
            if not region or region not in {r.casefold() for r in self.regions}:
                return None
            region_hit = 1
        prefix_len = 0
        if self.postal_prefixes:
            postal = (getattr(place, "postal_code", None) or "").replace(" ", "").upper()
            hits = [
                p for p in self.postal_prefixes if postal.startswith(p.replace(" ", "").upper())
            ]
            if not postal or not hits:
                return None
            prefix_len = max(len(p) for p in hits)
        return (prefix_len, region_hit, 1 if self.countries else 0)

    def members(self, directory: Directory) -> tuple[str, ...]:
        """Ids of the active users who cover the territory, in the directory's order."""
        return tuple(
            user.id
            for user in directory.active()
            if user.id in self.users
            or self.name in user.territories
            or (self.team is not None and self.team in user.teams)
        )


def round_robin(candidates: Sequence[str], last: str | None) -> str | None:
    """The candidate after ``last``, wrapping round; the first when ``last`` is not among them.

    Repeated candidates count once, so every one gets a turn in each round.

    >>> round_robin(["u-1", "u-2", "u-3"], "u-3")
    'u-1'
    """
    unique = list(dict.fromkeys(candidates))
    if not unique:
        return None
    if last in unique:
        return unique[(unique.index(last) + 1) % len(unique)]
    return unique[0]


def by_territory(place: Located, territories: Sequence[Territory]) -> Territory | None:
    """The most specific territory that covers ``place``; the first listed wins a tie."""
    best: Territory | None = None
    best_score: tuple[int, int, int] | None = None
    for territory in territories:
        score = territory.specificity(place)
        if score is not None and (best_score is None or score > best_score):
            best, best_score = territory, score
    return best


def by_load(
    candidates: Iterable[str], open_counts: Mapping[str, int], directory: Directory
) -> str | None:
    """The least loaded active candidate with room under their capacity; ties go to the lower id.

    Candidates the directory does not know, inactive ones and ones at capacity are skipped.
    """
    room = _with_room(candidates, open_counts, directory)
    if not room:
        return None
    return min(room, key=lambda user_id: (_count(open_counts, user_id), user_id))


def _count(open_counts: Mapping[str, int], user_id: str) -> int:
    count = open_counts.get(user_id, 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValidationError(f"open_counts.{user_id}", "must be a non-negative integer", count)
    return count


def _with_room(
    candidates: Iterable[str], open_counts: Mapping[str, int], directory: Directory
) -> list[str]:
    result = []
    for user_id in dict.fromkeys(candidates):
        user = directory.get(user_id)
        if user is not None and user.active and user.has_room(_count(open_counts, user_id)):
            result.append(user_id)
    return result


@attrs.frozen
class AssignmentRule:
    """Territory, then load, then round robin (see the module's description).

    Attributes:
        territories: The territories to route by, in order of preference for ties.
        skill: A skill every candidate must have, if any.
        balance_load: Whether only the least loaded candidates stay in the running.
        fall_back: Whether every active user is a candidate when no territory has one.
    """

    territories: tuple[Territory, ...] = attrs.field(default=(), validator=tuple_of(Territory))
    skill: str | None = attrs.field(default=None, validator=of_type(str, optional=True))
    balance_load: bool = attrs.field(default=True, validator=of_type(bool))
    fall_back: bool = attrs.field(default=True, validator=of_type(bool))

    def candidates(self, place: Located, directory: Directory) -> tuple[str, ...]:
        """The users in the running before load is considered."""
        territory = by_territory(place, self.territories)
        pool = territory.members(directory) if territory is not None else ()
        if not pool and self.fall_back:
            pool = tuple(user.id for user in directory.active())
        if self.skill is not None:
            skilled = {user.id for user in directory.with_skill(self.skill)}
            pool = tuple(user_id for user_id in pool if user_id in skilled)
        return pool

    def assign(
        self,
        place: Located,
        directory: Directory,
        open_counts: Mapping[str, int] | None = None,
        last: str | None = None,
    ) -> str | None:
        """The user who should get the record at ``place``, or None when nobody can."""
        counts: Mapping[str, int] = {} if open_counts is None else open_counts
        pool = _with_room(self.candidates(place, directory), counts, directory)
        if self.balance_load and pool:
            least = min(_count(counts, user_id) for user_id in pool)
            pool = [user_id for user_id in pool if _count(counts, user_id) == least]
        return round_robin(pool, last)


def assign_lead(
    lead: Located,
    directory: Directory,
    territories: Sequence[Territory] = (),
    open_counts: Mapping[str, int] | None = None,
    last: str | None = None,
) -> str | None:
    """Who should get ``lead``: territory, then load, then round robin (see the module)."""
    return AssignmentRule(tuple(territories)).assign(lead, directory, open_counts, last)
