"""Lead assignment: round robin, territories, load, the chained rule, and the directory."""

import copy
import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.directory import Directory, User
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.sales.assignment import (
    AssignmentRule,
    Location,
    Territory,
    assign_lead,
    by_load,
    by_territory,
    round_robin,
)
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead import Lead
from crmkit.testing._strategies_leads import directories, territories

STAMP = Stamp(datetime(2026, 3, 2, 9, tzinfo=UTC), "u-1")
USER_IDS = st.sampled_from([f"u-{i}" for i in range(8)])
COUNTS = st.dictionaries(USER_IDS, st.integers(0, 6))


# --- directory -------------------------------------------------------------------------


def test_directory_lookups_skip_inactive_users() -> None:
    directory = Directory(
        (
            User("u-1", teams=["sales"], territories=["dach"], skills=["german"]),
            User("u-2", teams=("sales", "sales"), skills=("french",), capacity=3),
            User("u-3", teams=("sales",), territories=("dach",), active=False),
        )
    )
    assert [u.id for u in directory.active()] == ["u-1", "u-2"]
    assert [u.id for u in directory.in_team("sales")] == ["u-1", "u-2"]
    assert [u.id for u in directory.in_territory("dach")] == ["u-1"]
    assert [u.id for u in directory.with_skill("french")] == ["u-2"]
    assert directory.get("u-3") is not None
    assert directory.get("u-9") is None
    assert directory.get("u-2").teams == ("sales",)  # type: ignore[union-attr]
    assert len(directory) == 3
    assert [u.id for u in directory] == ["u-1", "u-2", "u-3"]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Directory((User("u-1"), User("u-1"))), "users[1].id"),
        (lambda: Directory([User("u-1")]), "users"),  # type: ignore[arg-type]
        (lambda: User("u-1", capacity=-1), "capacity"),
        (lambda: User("u-1", capacity=True), "capacity"),
        (lambda: User("u-1", teams="sales"), "teams"),
        (lambda: User("u 1"), "id"),
        (lambda: User("u-1", active="yes"), "active"),  # type: ignore[arg-type]
    ],
)
def test_directory_refuses_bad_data(build: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        build()  # type: ignore[operator]
    assert info.value.field == field


# --- round robin -----------------------------------------------------------------------


def test_round_robin_wraps_and_starts_over_for_strangers() -> None:
    assert round_robin(["u-1", "u-2", "u-3"], None) == "u-1"
    assert round_robin(["u-1", "u-2", "u-3"], "u-2") == "u-3"
    assert round_robin(["u-1", "u-2", "u-3"], "u-3") == "u-1"
    assert round_robin(["u-1", "u-2"], "u-9") == "u-1"
    assert round_robin([], "u-1") is None


@given(st.lists(USER_IDS, min_size=1, max_size=10), st.none() | USER_IDS, st.integers(1, 4))
def test_round_robin_gives_every_candidate_a_fair_turn(
    candidates: list[str], last: str | None, rounds: int
) -> None:
    before = list(candidates)
    unique = set(candidates)
    picks = []
    for _ in range(rounds * len(unique)):
        last = round_robin(candidates, last)
        picks.append(last)
    assert candidates == before
    assert all(picks.count(user) == rounds for user in unique)
    assert all(a != b for a, b in itertools.pairwise(picks)) or len(unique) == 1


# --- territory -------------------------------------------------------------------------


def test_most_specific_territory_wins() -> None:
    germany = Territory("germany", countries=("de",))
    bavaria = Territory("bavaria", countries=("DE",), regions=("Bavaria",))
    munich = Territory("munich", countries=("DE",), postal_prefixes=("80", "81"))
    world = Territory("world")
    all_of_them = [world, germany, bavaria, munich]
    assert by_territory(Location("DE", "bavaria"), all_of_them) is bavaria
    assert by_territory(Location("DE", "Bavaria", "80331"), all_of_them) is munich
    assert by_territory(Location("DE", "Saxony"), all_of_them) is germany
    assert by_territory(Location("FR"), all_of_them) is world
    assert by_territory(Location("FR"), [germany, bavaria]) is None
    assert by_territory(Location(None), [germany]) is None
    lead, _ = Lead.capture("l-1", LeadInput(company="Acme", country="de", region="Bavaria"), STAMP)
    assert by_territory(lead, all_of_them) is bavaria


def test_territory_members_come_from_users_team_and_directory() -> None:
    directory = Directory(
        (
            User("u-1", teams=("north",)),
            User("u-2", territories=("north",)),
            User("u-3"),
            User("u-4", teams=("north",), active=False),
        )
    )
    north = Territory("north", team="north", users=("u-3",))
    assert north.members(directory) == ("u-1", "u-2", "u-3")


# --- load ------------------------------------------------------------------------------


def test_by_load_picks_the_least_loaded_with_room() -> None:
    directory = Directory(
        (User("u-1", capacity=2), User("u-2", capacity=5), User("u-3"), User("u-4", active=False))
    )
    counts = {"u-1": 2, "u-2": 1, "u-3": 1, "u-4": 0}
    assert by_load(["u-1", "u-2", "u-3", "u-4", "u-9"], counts, directory) == "u-2"
    assert by_load(["u-1"], counts, directory) is None
    assert by_load([], counts, directory) is None
    with pytest.raises(ValidationError, match=r"open_counts\.u-1"):
        by_load(["u-1"], {"u-1": "2"}, directory)  # type: ignore[dict-item]


@settings(max_examples=200)
@given(directories(), st.lists(USER_IDS, max_size=8), COUNTS)
def test_by_load_never_picks_someone_at_capacity(
    directory: Directory, candidates: list[str], counts: dict[str, int]
) -> None:
    before = copy.deepcopy((directory, candidates, counts))
    chosen = by_load(candidates, counts, directory)
    assert (directory, candidates, counts) == before
    eligible = [
        user.id
        for user in directory.active()
        if user.id in candidates and user.has_room(counts.get(user.id, 0))
    ]
    if chosen is None:
        assert eligible == []
    else:
        user = directory.get(chosen)
        assert user is not None
        assert user.active
        assert user.has_room(counts.get(chosen, 0))
        assert counts.get(chosen, 0) == min(counts.get(u, 0) for u in eligible)


# --- the chained rule ------------------------------------------------------------------


def test_assign_lead_chains_territory_load_and_round_robin() -> None:
    directory = Directory(
        (
            User("u-1", territories=("dach",), capacity=1),
            User("u-2", territories=("dach",)),
            User("u-3", territories=("dach",)),
            User("u-4"),
        )
    )
    dach = Territory("dach", countries=("DE", "AT", "CH"))
    german = Location("AT")
    # territory: only u-1..u-3; load: u-1 is full, u-2 and u-3 tie; round robin after u-2.
    counts = {"u-1": 1, "u-2": 0, "u-3": 0}
    assert assign_lead(german, directory, [dach], counts, last="u-2") == "u-3"
    assert assign_lead(german, directory, [dach], counts, last="u-3") == "u-2"
    # load beats rotation: the least loaded wins whoever went last.
    assert assign_lead(german, directory, [dach], {"u-2": 4, "u-3": 1}, last="u-3") == "u-1"
    # outside every territory: everyone active is a candidate.
    assert assign_lead(Location("FR"), directory, [dach], {"u-1": 1}) == "u-2"
    assert AssignmentRule((dach,), fall_back=False).assign(Location("FR"), directory) is None
    assert (
        AssignmentRule((dach,), balance_load=False).assign(german, directory, last="u-1") == "u-2"
    )
    assert AssignmentRule(skill="german").assign(german, directory) is None
    assert assign_lead(german, Directory(), [dach]) is None


@settings(max_examples=200)
@given(
    directories(),
    st.lists(territories(), max_size=3),
    COUNTS,
    st.none() | USER_IDS,
    st.sampled_from([Location("DE", "Bavaria"), Location("AT", "Tyrol"), Location("FR")]),
)
def test_assign_lead_picks_an_active_user_with_room(
    directory: Directory,
    found: list[Territory],
    counts: dict[str, int],
    last: str | None,
    place: Location,
) -> None:
    before = copy.deepcopy((directory, found, counts))
    chosen = assign_lead(place, directory, found, counts, last)
    assert (directory, found, counts) == before
    if chosen is not None:
        user = directory.get(chosen)
        assert user is not None
        assert user.active
        assert user.has_room(counts.get(chosen, 0))
    elif not found:
        assert not any(u.has_room(counts.get(u.id, 0)) for u in directory.active())
