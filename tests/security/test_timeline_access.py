"""The timeline under an access policy: the record must be readable, entries about unreadable
records are left out, pages stay full, and summaries of masked kinds stay neutral."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from crmkit import Crm, FakeClock, Principal
from crmkit.activities.timeline import TimelineEntry
from crmkit.adapters.sqlite import SqliteStore
from crmkit.kernel.directory import Directory, User
from crmkit.kernel.errors import PermissionDenied
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.security.defaults import default_policy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal("root", roles={"admin"})
ANNA = Principal("anna", roles={"sales_rep"}, teams={"north"})
AGENT = Principal("sue", roles={"service_agent"}, teams={"desk"})
USERS = (User("anna", teams=("north",)), User("bo", teams=("north",)), User("sue"))


@pytest.fixture
def crm(tmp_path: object) -> Crm:
    store = SqliteStore(str(tmp_path / "crm.db"))  # type: ignore[operator]
    return Crm(
        store,
        clock=FakeClock(T0, tick=timedelta(minutes=1)),
        ids=SequentialIds("r"),
        access=default_policy(Directory(USERS)),
    )


def _history(crm: Crm) -> str:
    with crm.unit_of_work(ADMIN) as uow:
        account = uow.accounts.create("ACME", owner_id="anna")
        uow.contacts.create("Berg", account_id=account.id, owner_id="anna")
        for owner, amount in (("anna", "100"), ("bo", "900"), ("anna", "250"), ("bo", "50")):
            deal = uow.opportunities.open(
                f"Deal of {owner}", amount=Money.of(amount, "EUR"), close_date=date(2026, 4, 1),
                account_id=account.id, owner_id=owner,
            )  # fmt: skip
            uow.opportunities.move(deal.id, "qualification")
    return account.id


def _all_pages(crm: Crm, record_id: str, who: Principal, limit: int) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    cursor = None
    while True:
        page = crm.timeline(record_id, who, limit=limit, cursor=cursor)
        assert len(page.items) == limit or page.next_cursor is None  # no short page mid-way
        entries.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return entries


def test_a_rep_sees_the_account_without_the_deals_of_others(crm: Crm) -> None:
    account_id = _history(crm)
    everything = _all_pages(crm, account_id, ADMIN, 50)
    with crm.unit_of_work(ADMIN) as uow:
        theirs = {d.id for d in uow.opportunities.find(limit=10) if d.owner_id == "bo"}
    expected = [e for e in everything if e.record.id not in theirs]
    assert len(expected) < len(everything)
    for limit in (1, 2, 3, 50):
        assert _all_pages(crm, account_id, ANNA, limit) == expected


def test_an_agent_sees_deals_with_neutral_summaries(crm: Crm) -> None:
    account_id = _history(crm)
    seen = _all_pages(crm, account_id, AGENT, 50)
    opened = [e for e in seen if e.event_type == "opportunity_opened"]
    assert len(opened) == 4
    assert {e.summary for e in opened} == {"opportunity opened"}  # no names, no amounts
    admin_view = _all_pages(crm, account_id, ADMIN, 50)
    assert any("EUR" in e.summary for e in admin_view if e.event_type == "opportunity_opened")


def test_a_record_out_of_reach_has_no_timeline(crm: Crm) -> None:
    _history(crm)
    with crm.unit_of_work(ADMIN) as uow:
        bos = next(d for d in uow.opportunities.find(limit=10) if d.owner_id == "bo")
    with pytest.raises(PermissionDenied, match="anna may not read opportunity"):
        crm.timeline(bos.id, ANNA)
    with pytest.raises(PermissionDenied):
        crm.timeline(bos.id, Principal("nobody"))
    assert len(crm.timeline(bos.id, ADMIN, limit=10)) == 2
