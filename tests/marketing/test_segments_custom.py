"""Segments on contacts' custom values: criteria, codec, profiles, and pushdown on the store."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from crmkit import Crm, FakeClock, Principal
from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.marketing_records import PROFILES
from crmkit.extension.custom_fields import CustomFields, FieldSpec, FieldType
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.marketing.segment import (
    All,
    Any,
    Criterion,
    CustomBetween,
    CustomIs,
    HasTags,
    InCountry,
    Not,
    Profile,
    Segment,
    bind_custom,
    criterion_from_dict,
    criterion_to_dict,
    matches,
    plan,
)
from crmkit.ports.query import Eq, In, Range
from crmkit.testing._strategies_custom_fields import normal_values

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIA = Principal("u-mia", roles={"marketer"})
BERLIN = ZoneInfo("Europe/Berlin")

FIELDS: Final = CustomFields(
    [
        FieldSpec("contact", "tier", "choice", choices=("gold", "silver", "bronze"), indexed=True),
        FieldSpec("contact", "visits", "integer", indexed=True),
        FieldSpec("contact", "score", "decimal", indexed=True),
        FieldSpec("contact", "met_on", "date", indexed=True),
        FieldSpec("contact", "seen_at", "datetime", indexed=True),
        FieldSpec("contact", "budget", "money", indexed=True),
        FieldSpec("contact", "topics", "multi_choice", choices=("crm", "erp", "bi"), indexed=True),
        FieldSpec("contact", "vip", "boolean", indexed=True),
        FieldSpec("contact", "note", "text"),  # not indexed: always the residual
        FieldSpec("contact", "rating", "decimal"),
        FieldSpec("lead", "tier", "text", indexed=True),  # another kind: never read by segments
    ]
)

# Small pools, so that random criteria often hit stored values.
POOLS: Final[dict[str, tuple[object, ...]]] = {
    "tier": ("gold", "silver", "bronze"),
    "visits": (-3, 0, 1, 7, 2**40),
    "score": (Decimal(0), Decimal("2.5"), Decimal("-1.000001"), Decimal("1234567.123456")),
    "met_on": (date(2026, 1, 1), date(2025, 12, 31), date(1999, 5, 5)),
    "seen_at": (
        datetime(2026, 3, 1, 12, tzinfo=UTC),
        datetime(2026, 3, 1, 13, tzinfo=BERLIN),  # the same instant as the one above
        datetime(2026, 3, 1, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
    ),
    "budget": (
        Money.of("10", "EUR"),
        Money.of("10", "USD"),
        Money.of("0.50", "EUR"),
        Money.from_minor(1000, "JPY"),
        Money.of("-3", "KWD"),
    ),
    "topics": (("crm",), ("erp", "crm"), ("bi",), ()),
    "vip": (True, False),
    "note": ("alpha", "Beta", "gamma"),
    "rating": (Decimal("4.5"), Decimal(1), Decimal("0.000001")),
}
RANGED: Final = ("visits", "score", "met_on", "seen_at", "budget", "rating")


def _random_custom(rng: random.Random) -> dict[str, object]:
    return {name: rng.choice(pool) for name, pool in POOLS.items() if rng.random() < 0.7}


def _populate(crm: Crm, n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    ids = []
    with crm.unit_of_work(MIA) as uow:
        for i in range(n):
            contact = uow.contacts.create(
                f"Person{i}", tags=["vip"] if i % 3 == 0 else [], custom=_random_custom(rng)
            )
            ids.append(contact.id)
    with crm.unit_of_work(MIA) as uow:  # later changes reach the profile too
        for contact_id in ids[::4]:
            uow.contacts.set_custom(contact_id, _random_custom(rng) | {"tier": None})
    return ids


def _crm(store: object) -> Crm:
    clock = FakeClock(T0, tick=timedelta(seconds=1))
    return Crm(store, clock=clock, ids=SequentialIds("r"), custom_fields=FIELDS)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crm]:
    if request.param == "memory":
        store: object = MemoryStore()
    else:
        store = SqliteStore(str(tmp_path_factory.mktemp("segcf") / "crm.db"))
    crm = _crm(store)
    _populate(crm, 30)
    yield crm
    crm.close()


def _values(name: str) -> st.SearchStrategy[object]:
    """Pool values, and now and then a fresh valid value of the field."""
    spec = FIELDS.spec("contact", name)
    pool = [v for v in POOLS[name] if not isinstance(v, tuple)]
    if spec.type is FieldType.MULTI_CHOICE:
        return st.sampled_from(spec.choices)
    pooled = st.sampled_from(pool)
    return st.one_of(pooled, pooled, pooled, normal_values(spec))  # mostly stored values


@st.composite
def _custom_is(draw: st.DrawFn) -> CustomIs:
    name = draw(st.sampled_from(sorted(POOLS)))
    return CustomIs(name, tuple(draw(st.lists(_values(name), min_size=1, max_size=3))))


@st.composite
def _custom_between(draw: st.DrawFn) -> CustomBetween:
    name = draw(st.sampled_from(RANGED))
    low = draw(st.none() | _values(name))
    high = draw(_values(name) if low is None else st.none() | _values(name))
    if isinstance(low, Money) and isinstance(high, Money) and low.currency != high.currency:
        high = Money.from_minor(high.to_minor(), low.currency)
    return CustomBetween(name, low, high)


def custom_criteria() -> st.SearchStrategy[Criterion]:
    """Custom criteria, alone or mixed with built-in ones under All, Any and Not.

    Always an All at the top, whose leaf parts pushdown runs in the store.
    """
    leaves: st.SearchStrategy[Criterion] = st.one_of(
        _custom_is(), _custom_between(), st.just(HasTags(("vip",)))
    )
    nested = st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda c: All(tuple(c))),
            st.lists(inner, min_size=1, max_size=2).map(lambda c: Any(tuple(c))),
            inner.map(Not),
        ),
        max_leaves=4,
    )
    # An All at the top: its parts are what pushdown runs in the store.
    return st.lists(leaves | nested, min_size=1, max_size=3).map(lambda c: All(tuple(c)))


# Bounds equal to stored values, in every ranged type: where >= and > part.
_EDGES: Final = [
    CustomBetween("visits", gte=0),
    CustomBetween("score", gte=Decimal("2.5"), lt=Decimal("1234567.123456")),
    CustomBetween("met_on", gte=date(2025, 12, 31)),
    CustomBetween("seen_at", gte=datetime(2026, 3, 1, 13, tzinfo=BERLIN)),
    CustomBetween("budget", gte=Money.of("0.50", "EUR"), lt=Money.of("10", "EUR")),
]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(criterion=custom_criteria())
@example(criterion=All(tuple(_EDGES)))
@example(criterion=Any(tuple(_EDGES)))
@example(criterion=All((_EDGES[0], Not(CustomIs("topics", ("crm",))))))
def test_pushdown_equals_the_python_fallback(filled: Crm, criterion: Criterion) -> None:
    segment = Segment("s", "random", criterion)
    with filled.unit_of_work(MIA) as uow:
        pushed = list(uow.segments.members(segment, batch=7))
        fallback = list(uow.segments.members(segment, pushdown=False, batch=7))
    assert pushed == fallback


@settings(max_examples=60, deadline=None)
@given(criterion=custom_criteria())
def test_criteria_round_trip_through_json(criterion: Criterion) -> None:
    data = json.loads(json.dumps(criterion_to_dict(criterion)))
    assert criterion_from_dict(data) == criterion
    segment = Segment("s", "x", criterion)
    assert Segment.from_dict(json.loads(json.dumps(segment.to_dict()))) == segment


# --- a hand-computed store ---------------------------------------------------

PEOPLE: Final = {
    "ann": {"tier": "gold", "score": "2.5", "budget": Money.of("10", "EUR"), "topics": ["erp"]},
    "bob": {"tier": "silver", "score": 7, "budget": Money.of("10", "USD"), "note": "call back"},
    "cem": {"tier": "gold", "visits": 3, "met_on": date(2026, 1, 31), "topics": ["crm", "bi"]},
    "dan": {"seen_at": datetime(2026, 3, 1, 10, tzinfo=BERLIN), "rating": Decimal("4.5")},
}


@pytest.fixture(params=["memory", "sqlite"])
def hand(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Crm, dict[str, str]]:
    store = MemoryStore() if request.param == "memory" else SqliteStore(str(tmp_path / "c.db"))
    crm = _crm(store)
    with crm.unit_of_work(MIA) as uow:
        ids = {name: uow.contacts.create(name, custom=values).id for name, values in PEOPLE.items()}
    return crm, ids


def _members(crm: Crm, criterion: Criterion, **kwargs: object) -> list[str]:
    with crm.unit_of_work(MIA) as uow:
        return list(uow.segments.members(Segment("s", "x", criterion), **kwargs))  # type: ignore[arg-type]


def test_hand_computed_members(hand: tuple[Crm, dict[str, str]]) -> None:
    crm, ids = hand
    cases: list[tuple[Criterion, list[str]]] = [
        (CustomIs("tier", ("gold",)), ["ann", "cem"]),
        (CustomIs("tier", ("gold", "silver")), ["ann", "bob", "cem"]),
        # decimals: 2.5 and 7 (given as an int, stored as Decimal 7); [2.5, 7) holds only ann
        (CustomBetween("score", gte=Decimal("2.5"), lt=7), ["ann"]),
        (CustomIs("score", (7,)), ["bob"]),
        # money compares within one currency: bob's 10 USD is outside any EUR range
        (CustomBetween("budget", gte=Money.of("5", "EUR")), ["ann"]),
        (CustomIs("budget", (Money.of("10", "EUR"), Money.of("10", "USD"))), ["ann", "bob"]),
        # multi_choice: any of the values
        (CustomIs("topics", ("bi", "erp")), ["ann", "cem"]),
        (CustomBetween("met_on", gte=date(2026, 1, 1), lt=date(2026, 2, 1)), ["cem"]),
        # 10:00 in Berlin is 09:00 UTC: inside [08:30, 09:00:01) UTC, whatever zone the bounds use
        (
            CustomBetween(
                "seen_at",
                gte=datetime(2026, 3, 1, 9, 30, tzinfo=BERLIN),
                lt=datetime(2026, 3, 1, 9, 0, 1, tzinfo=UTC),
            ),
            ["dan"],
        ),
        (CustomIs("note", ("call back",)), ["bob"]),  # not indexed: residual
        (CustomBetween("rating", gte=4), ["dan"]),  # not indexed: residual
        (All((CustomIs("tier", ("gold",)), Not(CustomIs("topics", ("crm",))))), ["ann"]),
        (Any((CustomIs("visits", (3,)), CustomIs("note", ("call back",)))), ["bob", "cem"]),
    ]
    for criterion, names in cases:
        want = sorted(ids[name] for name in names)
        assert _members(crm, criterion) == want, criterion
        assert _members(crm, criterion, pushdown=False) == want, criterion


def test_indexed_fields_are_pushed_down_and_others_stay_in_python() -> None:
    pushed = plan(
        All((CustomIs("tier", ("gold",)), CustomBetween("budget", lt=Money.of("5", "EUR")))),
        T0,
        custom_fields=FIELDS,
    )
    assert pushed.conditions == (
        In("cf_tier", ("gold",)),
        Eq("cf_budget_currency", "EUR"),
        Range("cf_budget_minor", lt=500),
    )
    assert pushed.residual is None
    # decimal x 10**6, datetime as UTC microseconds, date as ISO text
    at = datetime(2026, 3, 1, 10, tzinfo=BERLIN)
    ranged = plan(
        All(
            (
                CustomBetween("score", gte=Decimal("1.5")),
                CustomBetween("seen_at", lt=at),
                CustomIs("met_on", (date(2026, 1, 31),)),
            )
        ),
        T0,
        custom_fields=FIELDS,
    )
    micros = int((at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 10**6
    assert ranged.conditions == (
        Range("cf_score", gte=1_500_000),
        Range("cf_seen_at", lt=micros),
        In("cf_met_on", ("2026-01-31",)),
    )
    note = CustomIs("note", ("x",))
    assert plan(note, T0, custom_fields=FIELDS) == plan(note, T0)
    assert plan(note, T0).residual == note
    # Money in several currencies cannot be one pair of conditions: Python checks it.
    mixed = CustomIs("budget", (Money.of("1", "EUR"), Money.of("1", "USD")))
    assert plan(mixed, T0, custom_fields=FIELDS).residual == mixed
    # Without the fields nothing custom is pushed down (existing callers).
    assert plan(CustomIs("tier", ("gold",)), T0).conditions == ()


def test_profiles_follow_custom_values_and_the_store_indexes_them(
    hand: tuple[Crm, dict[str, str]],
) -> None:
    crm, ids = hand
    with crm.unit_of_work(MIA) as uow:
        assert uow.get(PROFILES, ids["ann"]).profile.custom["tier"] == "gold"
        uow.contacts.set_custom(ids["ann"], {"tier": None, "visits": 3})
    with crm.unit_of_work(MIA) as uow:
        profile = uow.get(PROFILES, ids["ann"]).profile
        assert "tier" not in profile.custom
        assert profile.custom["visits"] == 3
        index = crm.index(PROFILES, uow.get(PROFILES, ids["ann"]))
    assert index["cf_visits"] == 3
    assert index["cf_tier"] is None
    assert index["cf_budget_minor"] == 1000
    assert index["cf_topics"] == ("erp",)
    assert "cf_note" not in index
    assert _members(crm, CustomIs("visits", (3,))) == sorted((ids["ann"], ids["cem"]))
    assert _members(crm, CustomIs("tier", ("gold",))) == [ids["cem"]]
    with crm.unit_of_work(MIA) as uow:
        uow.contacts.archive(ids["cem"])
    assert _members(crm, CustomIs("tier", ("gold",))) == []
    schema = {spec.kind: spec for spec in crm.schema.kinds}
    names = {index.name for index in schema["segment_profile"].indexes}
    assert {"cf_tier", "cf_budget_minor", "cf_budget_currency", "cf_topics"} <= names
    assert "cf_note" not in names


def test_matches_in_python_is_strict_about_types() -> None:
    profile = Profile(
        "c1",
        custom=CustomValues(
            {"vip": True, "visits": 1, "topics": ("crm",), "budget": Money.of("1", "EUR")}
        ),
    )
    assert matches(CustomIs("vip", (True,)), profile, T0)
    assert not matches(CustomIs("visits", (True,)), profile, T0)  # True is no 1 here
    assert not matches(CustomIs("vip", (1,)), profile, T0)
    assert matches(CustomIs("topics", ("crm", "bi")), profile, T0)
    assert not matches(CustomBetween("budget", gte=Money.of("0", "USD")), profile, T0)
    assert matches(CustomBetween("budget", gte=Money.of("0", "EUR")), profile, T0)
    assert not matches(CustomBetween("visits", gte=date(2020, 1, 1)), profile, T0)
    assert not matches(CustomIs("missing", ("x",)), profile, T0)


def test_profiles_round_trip_and_old_ones_load_without_custom_values() -> None:
    profile = Profile(
        "c1",
        country="DE",
        custom={
            "score": Decimal("2.5"),
            "met_on": date(2026, 1, 31),
            "seen_at": datetime(2026, 3, 1, 9, tzinfo=UTC),
            "budget": Money.of("10", "EUR"),
            "topics": ("crm",),
        },
    )
    conv = make_converter()
    assert structure(conv, conv.unstructure(profile), Profile) == profile
    assert Loaders().load(Profile, json.loads(dumps(conv.unstructure(profile)))) == profile
    old = conv.unstructure(Profile("c2", country="FR"))
    del old["custom"]
    assert Loaders().load(Profile, json.loads(dumps(old))).custom == CustomValues()
    assert structure(conv, old, Profile) == Profile("c2", country="FR")
    assert "custom" not in repr(profile)  # custom values may be personal


def test_bad_input_names_the_field() -> None:
    with pytest.raises(ValidationError, match=r"^custom\.nope: is not a custom field of contact"):
        plan(CustomIs("nope", ("x",)), T0, custom_fields=FIELDS)
    with pytest.raises(ValidationError, match=r"^custom\.visits\[0\]: must be an integer"):
        plan(CustomIs("visits", ("seven",)), T0, custom_fields=FIELDS)
    with pytest.raises(ValidationError, match=r"^custom\.tier\[0\]: must be one of"):
        bind_custom(Not(CustomIs("tier", ("platinum",))), FIELDS)
    with pytest.raises(ValidationError, match=r"^custom\.topics\[0\]: must be one of"):
        bind_custom(CustomIs("topics", ("sales",)), FIELDS)
    with pytest.raises(ValidationError, match=r"^custom\.tier: is a choice field: ranges need"):
        bind_custom(CustomBetween("tier", gte=1), FIELDS)
    with pytest.raises(ValidationError, match=r"^custom\.met_on\.gte: must be a date"):
        bind_custom(CustomBetween("met_on", gte=datetime(2026, 1, 1, tzinfo=UTC)), FIELDS)
    with pytest.raises(ValidationError, match=r"^custom\.score\.lt: must have at most 6 decimal"):
        bind_custom(CustomBetween("score", lt=Decimal("0.0000001")), FIELDS)
    with pytest.raises(ValidationError, match=r"^field: must be a custom field name"):
        CustomIs("Tier", ("gold",))
    with pytest.raises(ValidationError, match=r"^values: must name at least one value"):
        CustomIs("tier", ())
    with pytest.raises(ValidationError, match=r"^values\[1\]: must be text"):
        CustomIs("score", (Decimal(1), 1.5))
    with pytest.raises(ValidationError, match=r"^gte: or lt must be given"):
        CustomBetween("score")
    with pytest.raises(ValidationError, match=r"^lt: must be of the type"):
        CustomBetween("budget", gte=Money.of("1", "EUR"), lt=Money.of("2", "USD"))
    with pytest.raises(ValidationError, match=r"^gte: must be an integer"):
        CustomBetween("note", gte="a")
    with pytest.raises(ValidationError, match=r"^gte: must be timezone-aware|^gte: .*aware"):
        CustomBetween("seen_at", gte=datetime(2026, 1, 1))
    bad = {"type": "custom_is", "field": "score", "values": [{"decimal": "abc"}]}
    with pytest.raises(ValidationError, match=r"^criteria\.values\[0\]"):
        criterion_from_dict(bad)
    listed = {"type": "custom_between", "field": "score", "gte": ["a"]}
    with pytest.raises(ValidationError, match=r"^criteria\.gte: must be one value"):
        criterion_from_dict(listed)


def test_members_refuse_bad_custom_criteria_both_ways(hand: tuple[Crm, dict[str, str]]) -> None:
    crm, _ = hand
    for pushdown in (True, False):
        with pytest.raises(ValidationError, match=r"^custom\.nope"):
            _members(crm, All((InCountry(("DE",)), CustomIs("nope", ("x",)))), pushdown=pushdown)
