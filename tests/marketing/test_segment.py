"""Segments by example: each criterion, radius, static snapshots, JSON round trips and refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, loads, make_converter, structure
from crmkit.kernel.time import to_micros
from crmkit.marketing.segment import (
    AccountTag,
    ActiveWithin,
    All,
    Any,
    Consented,
    Criterion,
    HasTags,
    InactiveFor,
    InCity,
    InCountry,
    Industry,
    InRegion,
    Not,
    Plan,
    Profile,
    PurchasedWithin,
    RfmClass,
    Segment,
    SegmentKind,
    SpendAtLeast,
    WithinRadius,
    criterion_from_dict,
    criterion_to_dict,
    distance_km,
    evaluate,
    matches,
    plan,
    profile_index,
)
from crmkit.ports.query import Eq, In, Range

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)
BERLIN = (Decimal("52.5200"), Decimal("13.4050"))
HAMBURG = (Decimal("53.5511"), Decimal("9.9937"))

ANNA = Profile(
    "c-anna",
    country="de",
    region="Berlin",
    city="BERLIN",
    latitude=BERLIN[0],
    longitude=BERLIN[1],
    tags=("VIP", "b2b"),
    account_tags=("Enterprise",),
    account_industry="Software",
    last_activity_at=AS_OF - timedelta(days=10),
    last_purchase_at=AS_OF - timedelta(days=40),
    total_spend=Money.of("1200.00", "EUR"),
    rfm_class="champion",
    consent={"email:marketing": "granted", "sms:marketing": "withdrawn"},
)
BOB = Profile("c-bob", country="FR", city="Paris", tags=("new",))


@pytest.mark.parametrize(
    ("criterion", "anna", "bob"),
    [
        (InCountry(("DE", "at")), True, False),
        (InRegion("DE", ("berlin",)), True, False),
        (InRegion("AT", ("Berlin",)), False, False),
        (InCity(("berlin", "Paris")), True, True),
        (HasTags(("vip", "new")), True, True),
        (HasTags(("vip", "new"), all=True), False, False),
        (HasTags(("vip", "B2B"), all=True), True, False),
        (AccountTag(("enterprise",)), True, False),
        (Industry(("SOFTWARE",)), True, False),
        (ActiveWithin(10), True, False),
        (ActiveWithin(9), False, False),
        (InactiveFor(9), True, True),
        (InactiveFor(10), False, True),
        (InactiveFor(11), False, True),
        (PurchasedWithin(40), True, False),
        (PurchasedWithin(39), False, False),
        (SpendAtLeast(Money.of("1200", "EUR")), True, False),
        (SpendAtLeast(Money.of("1200.01", "EUR")), False, False),
        (SpendAtLeast(Money.of("10", "USD")), False, False),
        (RfmClass(("champion", "loyal")), True, False),
        (Consented("email", "marketing"), True, False),
        (Consented("sms", "marketing"), False, False),
        (Consented("post", "marketing"), False, False),
        (All(()), True, True),
        (Any(()), False, False),
        (All((InCountry(("DE",)), HasTags(("vip",)))), True, False),
        (Any((InCountry(("FR",)), HasTags(("vip",)))), True, True),
        (Not(InCountry(("DE",))), False, True),
    ],
)
def test_criteria_match_the_profiles_they_describe(
    criterion: Criterion, anna: bool, bob: bool
) -> None:
    assert matches(criterion, ANNA, AS_OF) is anna
    assert matches(criterion, BOB, AS_OF) is bob


def test_inactive_for_is_the_negation_of_active_within() -> None:
    for days in (0, 9, 10, 11):
        for person in (ANNA, BOB):
            assert matches(InactiveFor(days), person, AS_OF) is not matches(
                ActiveWithin(days), person, AS_OF
            )


def test_berlin_to_hamburg_is_about_255_km() -> None:
    km = distance_km(*BERLIN, *HAMBURG)
    assert isinstance(km, Decimal)
    assert Decimal(250) < km < Decimal(260)
    assert km == distance_km(*HAMBURG, *BERLIN)
    assert km.as_tuple().exponent == -3  # rounded to the metre
    assert distance_km(*BERLIN, *BERLIN) == 0
    antipode = distance_km(Decimal(0), Decimal(0), Decimal(0), Decimal(180))
    assert antipode == Decimal("20015.114")  # half the circumference of the sphere


def test_within_radius_includes_its_boundary() -> None:
    hamburg = Profile("c-h", latitude=HAMBURG[0], longitude=HAMBURG[1])
    km = distance_km(*BERLIN, *HAMBURG)
    assert matches(WithinRadius(*BERLIN, km), hamburg, AS_OF)
    assert not matches(WithinRadius(*BERLIN, km - Decimal("0.001")), hamburg, AS_OF)
    assert not matches(WithinRadius(*BERLIN, Decimal(20_000)), BOB, AS_OF)  # no coordinates


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: InCountry(()), "codes"),
        (lambda: InCountry(("DEU",)), "codes[0]"),
        (lambda: InCountry("DE"), "codes"),
        (lambda: HasTags(()), "tags"),
        (lambda: ActiveWithin(-1), "days"),
        (lambda: ActiveWithin(True), "days"),
        (lambda: WithinRadius(Decimal(91), Decimal(0), Decimal(1)), "lat"),
        (lambda: WithinRadius(Decimal(0), Decimal(0), Decimal("NaN")), "km"),
        (lambda: WithinRadius(0.5, Decimal(0), Decimal(1)), "lat"),
        (lambda: Consented("pigeon", "marketing"), "channel"),
        (lambda: Consented("email", "fun"), "purpose"),
        (lambda: All((InCountry(("DE",)), "x")), "criteria[1]"),
        (lambda: Not("x"), "criterion"),
        (lambda: Profile("c1", consent={"email:marketing": "yes"}), "consent[email:marketing]"),
        (lambda: Profile("c1", consent={"email": "granted"}), "consent"),
        (lambda: Profile("c1", last_activity_at=datetime(2026, 1, 1)), "last_activity_at"),
        (lambda: Segment("s", "S", All(()), members=("c1",)), "members"),
        (lambda: Segment("s", "S", All(()), "frozen"), "kind"),
    ],
)
def test_bad_values_raise_validation_errors_naming_the_field(build: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        build()  # type: ignore[operator]
    assert info.value.field == field


def test_matches_and_evaluate_refuse_naive_instants_and_non_profiles() -> None:
    with pytest.raises(ValidationError, match="as_of"):
        matches(All(()), ANNA, datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="profile"):
        matches(All(()), "c-anna", AS_OF)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="as_of"):
        evaluate(Segment("s", "S", All(())), [], datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="criterion"):
        plan("in_country", AS_OF)  # type: ignore[arg-type]


def test_static_segments_yield_their_snapshot_members_only() -> None:
    dynamic = Segment("s1", "Germans", InCountry(("DE",)))
    frozen = dynamic.snapshot([ANNA, BOB], AS_OF)
    assert frozen.kind is SegmentKind.STATIC
    assert frozen.members == ("c-anna",)
    moved = Profile("c-anna", country="FR")
    assert list(evaluate(frozen, [moved, BOB], AS_OF)) == ["c-anna"]
    assert list(evaluate(dynamic, [moved, BOB], AS_OF)) == []


def test_plan_pushes_top_level_and_parts_and_keeps_the_rest() -> None:
    near = WithinRadius(*BERLIN, Decimal(50))
    lapsed = Any((InactiveFor(30), Not(Consented("email", "marketing"))))
    criterion = All(
        (
            InCountry(("DE",)),
            All((HasTags(("vip", "b2b"), all=True), SpendAtLeast(Money.of("100", "EUR")))),
            ActiveWithin(7),
            near,
            lapsed,
        )
    )
    result = plan(criterion, AS_OF)
    cutoff = to_micros(AS_OF - timedelta(days=7))
    assert result == Plan(
        (
            In("country", ("DE",)),
            Eq("tags", "b2b"),
            Eq("tags", "vip"),
            Eq("total_spend_currency", "EUR"),
            Range("total_spend_minor", gte=10_000),
            Range("last_activity_at", gte=cutoff),
        ),
        All((near, lapsed)),
    )
    assert plan(InCountry(("DE",)), AS_OF).residual is None
    assert plan(near, AS_OF) == Plan((), near)
    assert plan(Consented("email", "marketing"), AS_OF).conditions == (
        Eq("consent_granted", "email:marketing"),
    )


def test_profile_index_follows_the_documented_mapping() -> None:
    index = profile_index(ANNA)
    assert index == {
        "country": "DE",
        "region": "berlin",
        "city": "berlin",
        "tags": ("b2b", "vip"),
        "account_tags": ("enterprise",),
        "account_industry": "software",
        "last_activity_at": to_micros(AS_OF - timedelta(days=10)),
        "last_purchase_at": to_micros(AS_OF - timedelta(days=40)),
        "total_spend_minor": 120_000,
        "total_spend_currency": "EUR",
        "rfm_class": "champion",
        "consent_granted": ("email:marketing",),
    }
    assert profile_index(Profile("c0"))["tags"] == ()


EVERY_KIND = Segment(
    "seg-1",
    "Everything",
    All(
        (
            InCountry(("DE", "FR")),
            InRegion("DE", ("Bavaria",)),
            InCity(("Berlin",)),
            WithinRadius(*BERLIN, Decimal("12.5")),
            HasTags(("vip",), all=True),
            AccountTag(("enterprise",)),
            Industry(("Retail",)),
            ActiveWithin(30),
            InactiveFor(400),
            PurchasedWithin(90),
            SpendAtLeast(Money.of("99.95", "EUR")),
            RfmClass(("champion",)),
            Consented("email", "marketing"),
            Any((Not(InCity(("Paris",))),)),
        )
    ),
)


def test_segments_round_trip_through_json() -> None:
    for segment in (EVERY_KIND, EVERY_KIND.snapshot([ANNA, BOB], AS_OF)):
        text = dumps(segment.to_dict())
        assert Segment.from_dict(loads(text)) == segment
        assert dumps(Segment.from_dict(loads(text)).to_dict()) == text
    data = criterion_to_dict(EVERY_KIND.criteria)
    assert criterion_from_dict(loads(dumps(data))) == EVERY_KIND.criteria
    assert json.loads(dumps(criterion_to_dict(HasTags(("vip",))))) == {
        "type": "has_tags",
        "tags": ["vip"],
        "all": False,
    }
    short = {"type": "has_tags", "tags": ["vip"]}  # a field with a default may be left out
    assert criterion_from_dict(short) == HasTags(("vip",))


def _seg(criteria: object) -> dict[str, object]:
    return {"id": "s", "name": "S", "kind": "dynamic", "criteria": criteria, "members": []}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_seg({"type": "in_galaxy", "codes": ["DE"]}), "criteria.type"),
        (_seg({"codes": ["DE"]}), "criteria.type"),
        (_seg({"type": "in_country", "codes": ["DE"], "extra": 1}), "criteria.extra"),
        (_seg({"type": "in_country"}), "criteria.codes"),
        (_seg({"type": "in_country", "codes": "DE"}), "criteria.codes"),
        (_seg({"type": "in_country", "codes": [1]}), "criteria.codes[0]"),
        (_seg({"type": "in_country", "codes": ["XYZ"]}), "criteria.codes[0]"),
        (
            _seg({"type": "all", "criteria": [{"type": "not", "criterion": {"type": "x"}}]}),
            "criteria.criteria[0].criterion.type",
        ),
        (_seg({"type": "active_within", "days": "7"}), "criteria.days"),
        (_seg({"type": "active_within", "days": True}), "criteria.days"),
        (_seg({"type": "active_within", "days": 7.0}), "criteria.days"),
        (_seg({"type": "has_tags", "tags": ["vip"], "all": 1}), "criteria.all"),
        (
            _seg({"type": "within_radius", "lat": 52.5, "lon": "13", "km": "5"}),
            "criteria.lat",
        ),
        (
            _seg({"type": "spend_at_least", "amount": {"amount": "1.001", "currency": "EUR"}}),
            "criteria.amount.amount",
        ),
        (
            _seg({"type": "spend_at_least", "amount": {"amount": "1", "currency": "EUR", "x": 1}}),
            "criteria.amount.x",
        ),
        (_seg([]), "criteria"),
        ({**_seg({"type": "all", "criteria": []}), "owner": "u1"}, "owner"),
        ({"id": "s", "name": "S", "criteria": {"type": "all", "criteria": []}}, "kind"),
        ({**_seg({"type": "all", "criteria": []}), "kind": "frozen"}, "kind"),
        ({**_seg({"type": "all", "criteria": []}), "members": ["a", "a"]}, "members"),
        (["not", "an", "object"], "$"),
    ],
)
def test_reading_refuses_unknown_types_and_fields_naming_the_path(data: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Segment.from_dict(loads(dumps(data)))
    assert info.value.field == field


def test_reading_refuses_criteria_nested_too_deep() -> None:
    data: dict[str, object] = {"type": "all", "criteria": []}
    for _ in range(40):
        data = {"type": "not", "criterion": data}
    with pytest.raises(ValidationError, match="nest at most"):
        criterion_from_dict(data)


def test_look_backs_that_run_off_the_calendar_count_every_instant() -> None:
    dawn = datetime(1, 1, 2, tzinfo=UTC)
    early = Profile("c1", last_activity_at=datetime(1, 1, 1, tzinfo=UTC))
    assert matches(ActiveWithin(30), early, dawn)
    assert not matches(InactiveFor(30), early, dawn)
    assert not matches(ActiveWithin(30), Profile("c2"), dawn)
    assert plan(ActiveWithin(30), dawn).conditions == (Range("last_activity_at"),)


def test_profiles_round_trip_through_the_strict_converter() -> None:
    conv = make_converter()
    assert structure(conv, conv.unstructure(ANNA), Profile) == ANNA
    assert Loaders().load(Profile, json.loads(dumps(conv.unstructure(ANNA)))) == ANNA
