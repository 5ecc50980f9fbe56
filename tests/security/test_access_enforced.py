"""The unit of work enforces the access policy: no read or write outside a principal's grants
succeeds, through a service, a query or a report."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from crmkit import Crm, FakeClock, Principal
from crmkit.adapters.fixed_rates import FixedRates
from crmkit.adapters.memory import MemoryStore
from crmkit.app.records import ACCOUNTS, LEADS, OPPORTUNITIES
from crmkit.kernel.directory import Directory, User
from crmkit.kernel.errors import PermissionDenied
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.kernel.principal import ActorKind
from crmkit.ports.access import Action
from crmkit.security.defaults import default_policy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROLES = ("admin", "sales_manager", "sales_rep", "service_agent", "marketer", "read_only")
USERS = (
    User("u-anna", teams=("north",)),
    User("u-bo", teams=("north",)),
    User("u-cy", teams=("south",)),
    User("u-dee", teams=("south",)),
)
POLICY = default_policy(Directory(USERS))
ADMIN = Principal("u-admin", roles={"admin"})


def _crm() -> tuple[Crm, list[str], list[str], str]:
    """A CRM with leads and opportunities owned by each user (and some by nobody)."""
    crm = Crm(MemoryStore(), clock=FakeClock(T0), ids=SequentialIds("r"), access=POLICY)
    leads, deals = [], []
    with crm.unit_of_work(ADMIN) as uow:
        account = uow.accounts.create("ACME", owner_id="u-anna")
        for owner in (*(u.id for u in USERS), None):
            lead = uow.leads.capture(last_name=f"Lead of {owner}", company="ACME")
            if owner is not None:
                lead = uow.leads.assign(lead.id, owner)
            leads.append(lead.id)
            deal = uow.opportunities.open(
                f"Deal of {owner}", amount=Money.of("100", "EUR"), close_date=date(2026, 4, 1),
                owner_id=owner, account_id=account.id,
            )  # fmt: skip
            deals.append(deal.id)
    return crm, leads, deals, account.id


CRM, LEAD_IDS, DEAL_IDS, ACCOUNT_ID = _crm()

principals = st.builds(
    lambda user, roles: Principal(user.id, roles=roles, teams=user.teams),
    st.sampled_from(USERS),
    st.frozensets(st.sampled_from(ROLES), max_size=2),
)


def _index(rtype: object, id: str) -> dict[str, object]:
    with CRM.unit_of_work(ADMIN) as uow:
        return rtype.index(uow.get(rtype, id))  # type: ignore[attr-defined,no-any-return]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(who=principals, lead=st.sampled_from(LEAD_IDS), deal=st.sampled_from(DEAL_IDS))
def test_reads_follow_the_grants(who: Principal, lead: str, deal: str) -> None:
    for rtype, id, get in (
        (LEADS, lead, lambda uow: uow.leads.get(lead)),
        (OPPORTUNITIES, deal, lambda uow: uow.opportunities.get(deal)),
    ):
        allowed = POLICY.can(who, rtype.kind, Action.READ, _index(rtype, id))
        whole = allowed and not POLICY.hidden_fields(who, rtype.kind)
        with CRM.unit_of_work(who) as uow:
            if whole:
                assert get(uow).id == id
            else:
                with pytest.raises(PermissionDenied):
                    get(uow)
    with CRM.unit_of_work(who) as uow:
        hidden = POLICY.hidden_fields(who, "opportunity")
        expected = {
            d
            for d in DEAL_IDS
            if POLICY.can(who, "opportunity", Action.READ, _index(OPPORTUNITIES, d))
        }
        if hidden:
            with pytest.raises(PermissionDenied, match="hidden"):
                uow.opportunities.find(limit=100)
            with pytest.raises(PermissionDenied, match="hidden"):
                uow.reports.pipeline(currency="EUR", rates=FixedRates.of({}))
        else:
            assert {d.id for d in uow.opportunities.find(limit=100)} == expected
            report = uow.reports.pipeline(currency="EUR", rates=FixedRates.of({}))
            assert report.count == len(expected)  # sums are scoped in the store too
        assert set(uow.find_ids(OPPORTUNITIES)) == expected
        seen = (
            {lead.id for lead in uow.find_all(LEADS, keep=False)}
            if not POLICY.hidden_fields(who, "lead")
            else set()
        )
        assert seen == {
            lid for lid in LEAD_IDS if POLICY.can(who, "lead", Action.READ, _index(LEADS, lid))
        }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(who=principals, lead=st.sampled_from(LEAD_IDS), new_owner=st.sampled_from(USERS))
def test_writes_follow_the_grants(who: Principal, lead: str, new_owner: User) -> None:
    before = _index(LEADS, lead)
    assume(before["owner_id"] != new_owner.id)
    after = {**before, "owner_id": new_owner.id}
    may_read = POLICY.can(who, "lead", Action.READ, before)
    may_tag = may_read and POLICY.can(who, "lead", Action.UPDATE, before)
    may_move = may_tag and POLICY.can(who, "lead", Action.UPDATE, after)
    uow = CRM.unit_of_work(who)
    try:
        if may_tag:
            uow.leads.tag(lead, "checked")
        else:
            with pytest.raises(PermissionDenied):
                uow.leads.tag(lead, "checked")
        if may_move:
            uow.leads.assign(lead, new_owner.id)
        elif may_read:
            with pytest.raises(PermissionDenied):
                uow.leads.assign(lead, new_owner.id)
    finally:
        uow.rollback()  # leave the shared store as it was for the next example


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(who=principals, limit=st.sampled_from([1, 3, 50]))
def test_the_timeline_shows_only_what_the_grants_allow(who: Principal, limit: int) -> None:
    if not POLICY.can(who, "account", Action.READ, _index(ACCOUNTS, ACCOUNT_ID)):
        with pytest.raises(PermissionDenied):
            CRM.timeline(ACCOUNT_ID, who)
        return
    seen, cursor = [], None
    while True:
        page = CRM.timeline(ACCOUNT_ID, who, limit=limit, cursor=cursor)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    kinds = {"account": ACCOUNTS, "opportunity": OPPORTUNITIES}
    for entry in seen:  # nothing about a record the principal may not read
        rtype = kinds[entry.record.kind]
        assert POLICY.can(who, rtype.kind, Action.READ, _index(rtype, entry.record.id))
    readable = {
        d for d in DEAL_IDS if POLICY.can(who, "opportunity", Action.READ, _index(OPPORTUNITIES, d))
    }
    assert {
        e.record.id for e in seen if e.record.kind == "opportunity"
    } == readable  # and all of it


def test_nobody_without_a_role_sees_anything_and_jobs_see_everything() -> None:
    stranger = Principal("u-anna")
    with CRM.unit_of_work(stranger) as uow:
        assert uow.leads.find(limit=100).items == ()
        assert list(uow.find_ids(OPPORTUNITIES)) == []
        with pytest.raises(PermissionDenied, match="u-anna may not read lead"):
            uow.leads.get(LEAD_IDS[0])
    job = Principal("sla-tick", kind=ActorKind.JOB)
    with CRM.unit_of_work(job) as uow:
        assert len(uow.leads.find(limit=100)) == len(LEAD_IDS)


def test_an_agent_reads_deals_only_without_their_amounts() -> None:
    agent = Principal("u-cy", roles={"service_agent"}, teams={"south"})
    with CRM.unit_of_work(agent) as uow:
        with pytest.raises(PermissionDenied, match="amount"):
            uow.opportunities.get(DEAL_IDS[0])
        assert len(list(uow.find_ids(OPPORTUNITIES))) == len(DEAL_IDS)
        view = uow.opportunities.view(DEAL_IDS[0])
        assert view["name"] == "Deal of u-anna"
        assert "amount" not in view
        assert all("amount" not in v for v in uow.views(OPPORTUNITIES))
    rep = Principal("u-anna", roles={"sales_rep"})
    with CRM.unit_of_work(rep) as uow:
        assert uow.opportunities.view(DEAL_IDS[0])["amount"] == {
            "amount": "100.00",
            "currency": "EUR",
        }
        with pytest.raises(PermissionDenied):
            uow.opportunities.view(DEAL_IDS[1])
