"""Case routing: queues by type and skills; agents by skill, then load, then round robin."""

from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.directory import Directory, User
from crmkit.kernel.errors import ValidationError
from crmkit.service.routing import Queue, pick_agent, route
from crmkit.testing._strategies_cases import CASE_SKILLS, opened_cases

IDS = tuple(f"u-{i}" for i in range(8))
skill_sets = st.lists(st.sampled_from(CASE_SKILLS), max_size=3).map(lambda s: tuple(set(s)))


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    size = draw(st.integers(0, len(IDS)))
    return Directory(
        tuple(
            User(
                IDS[i],
                teams=("support",),
                skills=draw(skill_sets),
                capacity=draw(st.none() | st.integers(0, 3)),
                active=draw(st.booleans()),
            )
            for i in range(size)
        )
    )


def eligible(user_id: str, directory: Directory, skills: set[str], counts: dict[str, int]) -> bool:
    user = directory.get(user_id)
    return (
        user is not None
        and user.active
        and skills <= set(user.skills)
        and user.has_room(counts.get(user_id, 0))
    )


@settings(max_examples=150, deadline=None)
@given(
    directory=directories(),
    candidates=st.lists(st.sampled_from((*IDS, "ghost")), max_size=10),
    skills=skill_sets,
    counts=st.dictionaries(st.sampled_from(IDS), st.integers(0, 4)),
    last=st.none() | st.sampled_from(IDS),
)
def test_never_picks_an_agent_without_the_skills_or_at_capacity(
    directory: Directory,
    candidates: list[str],
    skills: tuple[str, ...],
    counts: dict[str, int],
    last: str | None,
) -> None:
    picked = pick_agent(candidates, directory, skills=skills, open_counts=counts, last=last)
    fit = [c for c in candidates if eligible(c, directory, set(skills), counts)]
    if not fit:
        assert picked is None
        return
    assert picked in fit
    assert counts.get(picked, 0) == min(counts.get(c, 0) for c in fit)  # least loaded


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(1, 6),
    rounds=st.integers(1, 4),
    first=st.none() | st.sampled_from(IDS),
)
def test_round_robin_gives_every_agent_one_turn_per_round(
    size: int, rounds: int, first: str | None
) -> None:
    directory = Directory(tuple(User(IDS[i], skills=("billing",)) for i in range(size)))
    candidates = [u.id for u in directory]
    picks: list[str] = []
    last = first
    for _ in range(size * rounds):
        last = pick_agent(candidates, directory, skills=("billing",), last=last)
        assert last is not None
        picks.append(last)
    for r in range(rounds):
        assert sorted(picks[r * size : (r + 1) * size]) == sorted(candidates)
    assert picks[1:size] == [
        candidates[(candidates.index(picks[0]) + k) % size] for k in range(1, size)
    ]


@settings(max_examples=100, deadline=None)
@given(directory=directories(), picks=st.integers(1, 20))
def test_load_stays_balanced_when_counts_follow_the_picks(directory: Directory, picks: int) -> None:
    counts: Counter[str] = Counter()
    candidates = [u.id for u in directory]
    last = None
    for _ in range(picks):
        last = pick_agent(candidates, directory, open_counts=dict(counts), last=last)
        if last is None:
            break
        counts[last] += 1
    for user in directory:
        assert user.capacity is None or counts[user.id] <= user.capacity
        assert user.active or counts[user.id] == 0
    uncapped = [counts[u.id] for u in directory if u.active and u.capacity is None]
    if uncapped:
        assert max(uncapped) - min(uncapped) <= 1


def test_the_turn_passes_on_when_the_last_agent_is_busy() -> None:
    directory = Directory((User("u-1"), User("u-2", capacity=1), User("u-3")))
    order = ["u-1", "u-2", "u-3"]
    assert pick_agent(order, directory, open_counts={"u-2": 1}, last="u-2") == "u-3"
    assert pick_agent(order, directory, last="u-3") == "u-1"
    assert pick_agent(order, directory, last="nobody") == "u-1"
    assert pick_agent([], directory) is None


def test_pick_agent_refuses_bad_input() -> None:
    directory = Directory((User("u-1"),))
    with pytest.raises(ValidationError, match="open_counts"):
        pick_agent(["u-1"], directory, open_counts={"u-1": -1})
    with pytest.raises(ValidationError, match="candidates"):
        pick_agent("u-1", directory)
    with pytest.raises(ValidationError, match="candidates"):
        pick_agent([1], directory)  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="directory"):
        pick_agent(["u-1"], [User("u-1")])  # type: ignore[arg-type]


@dataclass
class Case:
    type: str
    skills_needed: tuple[str, ...] = ()


QUEUES = (
    Queue("general"),
    Queue("billing", "finance", ("billing", "german"), types=("question", "complaint")),
    Queue("tech", "support", ("network", "printing"), types=("incident",)),
)


def test_route_prefers_a_queue_for_the_type_over_a_catch_all() -> None:
    assert route(Case("incident"), ()) is None
    typed = Case("incident", ("printing",))
    assert route(typed, QUEUES) is QUEUES[2]
    other = Case("request")
    assert route(other, QUEUES) is QUEUES[0]
    unskilled = Case("question", ("printing",))
    assert route(unskilled, QUEUES) is None
    with pytest.raises(ValidationError, match="queues"):
        route(typed, [object()])  # type: ignore[list-item]


@settings(max_examples=100, deadline=None)
@given(opened=opened_cases(), queues=st.permutations(QUEUES))
def test_a_routed_queue_takes_the_case(opened: tuple, queues: list[Queue]) -> None:
    case = opened[0]
    queue = route(case, queues)
    if queue is None:
        assert not any(q.takes(case) for q in queues)
    else:
        assert queue.takes(case)
        assert set(case.skills_needed) <= set(queue.skills)
        if not queue.types:
            assert not any(q.types and q.takes(case) for q in queues)


def test_queue_members_and_checks() -> None:
    directory = Directory(
        (
            User("u-1", teams=("support",)),
            User("u-2"),
            User("u-3", teams=("support",), active=False),
        )
    )
    assert QUEUES[2].members(directory) == ("u-1",)
    assert QUEUES[0].members(directory) == ("u-1", "u-2")
    assert Queue("q", skills=["printing", "billing", "printing"]).skills == ("billing", "printing")
    with pytest.raises(ValidationError, match="name"):
        Queue("Tech Queue")
    with pytest.raises(ValidationError, match="skills"):
        Queue("q", skills="printing")
