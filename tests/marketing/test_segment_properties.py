"""Segment properties: pushdown equals the Python fallback, JSON round trips, streaming."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterator
from datetime import datetime

from hypothesis import given, settings, strategies as st

from crmkit.kernel.serialization import dumps, loads
from crmkit.marketing.segment import (
    INDEX_FIELDS,
    All,
    Any,
    Criterion,
    HasTags,
    InactiveFor,
    InCountry,
    Not,
    Profile,
    Segment,
    WithinRadius,
    criterion_from_dict,
    criterion_to_dict,
    evaluate,
    matches,
    plan,
    profile_index,
)
from crmkit.ports.query import MAX_LIMIT, Query, check_query, matches as condition_holds, run_query
from crmkit.ports.storage import Document, KindSpec
from crmkit.testing._strategies_segments import (
    AS_OF,
    criteria,
    instants,
    profiles,
    segments,
)

CONTACTS = KindSpec("contact", INDEX_FIELDS)
unique_profiles = st.lists(profiles(), max_size=25, unique_by=lambda p: p.contact_id)


def _document(profile: Profile) -> Document:
    return Document("contact", profile.contact_id, 1, "{}", profile_index(profile))


@settings(max_examples=300)
@given(criteria(), unique_profiles, instants())
def test_pushdown_then_residual_equals_the_python_fallback(
    criterion: Criterion, people: list[Profile], as_of: datetime
) -> None:
    expected = list(evaluate(Segment("s", "S", criterion), people, as_of))
    split = plan(criterion, as_of)
    query = Query("contact", split.conditions, limit=MAX_LIMIT)
    check_query(CONTACTS, query)  # the conditions fit the documented index fields
    by_id = {p.contact_id: p for p in people}
    fetched = run_query(query, [_document(p) for p in people])  # the store's reference semantics
    pushed = [
        doc.id
        for doc in fetched
        if split.residual is None or matches(split.residual, by_id[doc.id], as_of)
    ]
    assert sorted(pushed) == sorted(expected)
    # and row by row, in input order, with the conditions checked one by one
    streamed = [
        p.contact_id
        for p in people
        if all(condition_holds(cond, _document(p)) for cond in split.conditions)
        and (split.residual is None or matches(split.residual, p, as_of))
    ]
    assert streamed == expected


def _pushable(criterion: Criterion) -> bool:
    if isinstance(criterion, All):
        return all(_pushable(part) for part in criterion.criteria)
    return not isinstance(criterion, Any | Not | WithinRadius | InactiveFor)


@settings(max_examples=200)
@given(criteria(), instants())
def test_plans_push_every_pushable_part_and_nothing_else(
    criterion: Criterion, as_of: datetime
) -> None:
    split = plan(criterion, as_of)
    assert (split.residual is None) == _pushable(criterion)
    if isinstance(criterion, Any | Not | WithinRadius | InactiveFor):
        assert split.conditions == ()
        assert split.residual == criterion


@settings(max_examples=100)
@given(segments(), st.lists(profiles(), max_size=5))
def test_segments_round_trip_through_json_and_snapshots_too(
    segment: Segment, people: list[Profile]
) -> None:
    assert Segment.from_dict(loads(dumps(segment.to_dict()))) == segment
    assert criterion_from_dict(loads(dumps(criterion_to_dict(segment.criteria)))) == (
        segment.criteria
    )
    frozen = segment.snapshot(people, AS_OF)
    assert Segment.from_dict(loads(dumps(frozen.to_dict()))) == frozen
    assert list(evaluate(frozen, people, AS_OF)) == list(evaluate(segment, people, AS_OF))


def _crowd(count: int) -> Iterator[Profile]:
    for n in range(count):
        yield Profile(f"c{n}", country="DE" if n % 3 else "FR", tags=("vip",) if n % 5 else ())


def test_evaluate_streams_100k_profiles_in_bounded_memory() -> None:
    segment = Segment("s", "German VIPs", All((InCountry(("DE",)), HasTags(("vip",)))))
    tracemalloc.start()
    try:
        count = sum(1 for _ in evaluate(segment, _crowd(100_000), AS_OF))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == sum(1 for n in range(100_000) if n % 3 and n % 5)
    # 100k profiles held at once would take tens of megabytes; a stream holds a few.
    assert peak < 512 * 1024


def test_evaluate_reads_its_input_lazily() -> None:
    endless = (Profile(f"c{n}", country="DE") for n in itertools.count())
    first = list(
        itertools.islice(evaluate(Segment("s", "S", InCountry(("DE",))), endless, AS_OF), 3)
    )
    assert first == ["c0", "c1", "c2"]
    assert next(endless).contact_id == "c3"  # nothing read ahead
