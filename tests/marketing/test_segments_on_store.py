"""Segments on the store: pushdown on SQLite gives the members the Python fallback gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings

from crmkit import Crm, FakeClock, Principal
from crmkit.activities.activity import RecordRef
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.marketing_records import PROFILES
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.marketing.segment import (
    All,
    Any,
    Consented,
    HasTags,
    InactiveFor,
    InCountry,
    Industry,
    Not,
    Segment,
    SpendAtLeast,
    WithinRadius,
)
from crmkit.parties.values import Address, Email
from crmkit.ports.storage import DocumentStore
from crmkit.testing._strategies_segments import criteria

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIA = Principal("u-mia", roles={"marketer"})
COUNTRIES = ("DE", "FR", "AT")
TAGS = ("vip", "newsletter", "partner")


def _people(crm: Crm, n: int) -> list[str]:
    """``n`` contacts with varied geography, tags, consent, activity, spend and industry."""
    ids = []
    with crm.unit_of_work(MIA) as uow:
        accounts = [
            uow.accounts.create(f"Firm {i}", industry=("Retail", "Manufacturing")[i % 2])
            for i in range(2)
        ]
        for i in range(n):
            contact = uow.contacts.create(
                f"Person{i}",
                emails=[Email(f"p{i}@example.com")],
                addresses=[
                    Address(("Street 1",), ("Berlin", "Paris", "Wien")[i % 3], COUNTRIES[i % 3])
                ],
                tags=[TAGS[j] for j in range(3) if (i >> j) & 1],
                account_id=accounts[i % 2].id,
            )
            ids.append(contact.id)
            if i % 2:
                uow.contacts.record_consent(
                    contact.id, "email", "marketing", granted=True, source="form"
                )
            if i % 4 == 0:
                uow.audiences.update(
                    contact.id, latitude=Decimal("52.5") + i, longitude=Decimal("13.4")
                )
            if i % 3 == 0:
                uow.activities.log(
                    "call",
                    "Called",
                    [RecordRef("contact", contact.id)],
                    occurred_at=T0 - timedelta(days=i * 10),
                )
        for i, contact_id in enumerate(ids):
            if i % 5 == 0:
                deal = uow.opportunities.open(
                    f"Deal {i}",
                    amount=Money.of(100 * i, "EUR"),
                    close_date=T0.date(),
                    contact_ids=[contact_id],
                )
                uow.opportunities.win(deal.id)
    return ids


@pytest.fixture
def crm(any_store: DocumentStore) -> Crm:
    return Crm(any_store, clock=FakeClock(T0, tick=timedelta(seconds=1)), ids=SequentialIds("r"))


def test_pushdown_and_fallback_agree_on_hand_picked_segments(crm: Crm) -> None:
    _people(crm, 24)
    cases = [
        All((InCountry(("de",)), Consented("email", "marketing"))),
        All((HasTags(("vip",)), Industry(("retail",)))),
        SpendAtLeast(Money.of("500", "EUR")),
        Any((InCountry(("FR",)), Not(HasTags(("partner",))))),
        All((InCountry(("DE",)), WithinRadius(Decimal("52.5"), Decimal("13.4"), Decimal("600")))),
        InactiveFor(30),
    ]
    with crm.unit_of_work(MIA) as uow:
        for criterion in cases:
            segment = Segment("s", "test", criterion)
            pushed = list(uow.segments.members(segment))
            fallback = list(uow.segments.members(segment, pushdown=False))
            assert pushed == fallback, criterion
        assert uow.segments.count(Segment("s", "de", InCountry(("DE",)))) == 8


def test_a_snapshot_keeps_its_members_and_drops_archived_ones(crm: Crm) -> None:
    ids = _people(crm, 6)
    with crm.unit_of_work(MIA) as uow:
        snap = uow.segments.snapshot(Segment("s", "de", InCountry(("DE",))))
    assert snap.members == (ids[0], ids[3])
    with crm.unit_of_work(MIA) as uow:
        uow.contacts.archive(ids[0])
    with crm.unit_of_work(MIA) as uow:
        assert list(uow.segments.members(snap)) == [ids[3]]
        assert list(uow.segments.members(Segment("s", "de", InCountry(("DE",))))) == [ids[3]]
        assert uow.get(PROFILES, ids[0]).active is False
        with pytest.raises(ValidationError, match="segment"):
            list(uow.segments.members("everyone"))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sqlite_crm(tmp_path_factory: pytest.TempPathFactory) -> Crm:
    store = SqliteStore(str(tmp_path_factory.mktemp("seg") / "crm.db"))
    crm = Crm(store, clock=FakeClock(T0, tick=timedelta(seconds=1)), ids=SequentialIds("r"))
    _people(crm, 40)
    return crm


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(criterion=criteria())
def test_pushdown_on_sqlite_equals_the_python_fallback(sqlite_crm: Crm, criterion: object) -> None:
    segment = Segment("s", "random", criterion)
    with sqlite_crm.unit_of_work(MIA) as uow:
        pushed = list(uow.segments.members(segment, batch=7))
        fallback = list(uow.segments.members(segment, pushdown=False, batch=7))
    assert pushed == fallback
