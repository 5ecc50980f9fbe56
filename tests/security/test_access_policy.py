"""The access port and the role-based policy: default roles, validation, and scope == can."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings, strategies as st

from crmkit.app.records import schema
from crmkit.kernel.directory import Directory, User
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.principal import Principal
from crmkit.marketing.campaign import Campaign
from crmkit.ports.access import AccessPolicy, Action, AllowAll, Scope
from crmkit.ports.aggregate import Aggregate, Measure, run_aggregate
from crmkit.ports.query import Eq, In, Query, check_query, matches, run_query
from crmkit.ports.storage import Document, IndexValue
from crmkit.sales.contract import Contract
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.quote import Quote
from crmkit.security.defaults import DEFAULT_GRANTS, DEFAULT_MASKS, default_policy
from crmkit.security.rbac import (
    ALL_KINDS,
    AUDIT_KINDS,
    KIND_OWNERS,
    FieldMask,
    Grant,
    Ownership,
    RoleBasedPolicy,
)
from crmkit.security.tables import grants_table, masks_table

DOCS = Path(__file__).resolve().parents[2] / "docs"
ROLES = ("admin", "sales_manager", "sales_rep", "service_agent", "marketer", "read_only")

DIRECTORY = Directory(
    (
        User("ann", teams=("north",)),
        User("bob", teams=("north",)),
        User("cid", teams=("south",)),
        User("dee", teams=("north",), active=False),  # departed, records still the team's
    )
)
POLICY = default_policy(DIRECTORY)


def who(id: str, *roles: str, teams: tuple[str, ...] = ()) -> Principal:
    return Principal(id, roles=set(roles), teams=set(teams))


# --- hand-written cases per role ------------------------------------------------


def test_a_rep_sees_their_own_opportunity_and_not_another() -> None:
    rep = who("ann", "sales_rep", teams=("north",))
    assert POLICY.can(rep, "opportunity", Action.READ, {"owner_id": "ann"})
    assert not POLICY.can(rep, "opportunity", Action.READ, {"owner_id": "bob"})
    assert not POLICY.can(rep, "opportunity", Action.READ, {"owner_id": None})
    assert POLICY.scope(rep, "opportunity", Action.READ) == Scope((Eq("owner_id", "ann"),))
    # quotes are owned by their author
    assert POLICY.can(rep, "quote", Action.UPDATE, {"author_id": "ann"})
    assert not POLICY.can(rep, "quote", Action.UPDATE, {"author_id": "bob"})
    # every customer is visible, only their own ones editable
    assert POLICY.can(rep, "account", Action.READ, {"owner_id": "bob"})
    assert not POLICY.can(rep, "account", Action.UPDATE, {"owner_id": "bob"})
    assert not POLICY.can(rep, "opportunity", Action.ERASE, {"owner_id": "ann"})
    assert POLICY.hidden_fields(rep, "campaign") == {"actual_cost", "budget", "expected_revenue"}
    assert POLICY.hidden_fields(rep, "opportunity") == frozenset()


def test_a_manager_sees_their_teams_records_including_departed_colleagues() -> None:
    manager = who("bob", "sales_manager", teams=("north",))
    scope = POLICY.scope(manager, "lead", Action.READ)
    assert scope == Scope((In("owner_id", ("ann", "bob", "dee")),))
    for owner in ("ann", "bob", "dee"):
        assert POLICY.can(manager, "opportunity", Action.EXPORT, {"owner_id": owner})
    assert not POLICY.can(manager, "opportunity", Action.READ, {"owner_id": "cid"})
    assert not POLICY.can(manager, "opportunity", Action.ERASE, {"owner_id": "bob"})
    assert POLICY.can(manager, "product", Action.READ, {})
    assert not POLICY.can(manager, "product", Action.UPDATE, {})


def test_team_scope_without_a_directory_is_own_scope() -> None:
    manager = who("bob", "sales_manager", teams=("north",))
    scope = default_policy().scope(manager, "lead", Action.READ)
    assert scope == Scope((In("owner_id", ("bob",)),))


def test_an_agent_reads_deals_without_their_money() -> None:
    agent = who("cid", "service_agent", teams=("south",))
    assert POLICY.can(agent, "opportunity", Action.READ, {"owner_id": "ann"})
    assert not POLICY.can(agent, "opportunity", Action.UPDATE, {"owner_id": "cid"})
    assert POLICY.hidden_fields(agent, "opportunity") == {"amount", "lines", "weighted_amount"}
    assert POLICY.hidden_fields(agent, "quote") == {"lines", "order_discount", "totals"}
    assert POLICY.hidden_fields(agent, "contract") == {"amendments", "amount", "lines", "uplift"}
    assert POLICY.can(agent, "case", Action.UPDATE, {"owner_id": "cid", "team": "south"})
    assert not POLICY.can(agent, "case", Action.READ, {"owner_id": "ann", "team": "south"})


def test_read_only_reads_everything_but_the_audit_trail_and_changes_nothing() -> None:
    viewer = who("eve", "read_only")
    for kind in ALL_KINDS:
        assert POLICY.can(viewer, kind, Action.READ, {}) is (kind not in AUDIT_KINDS)
        for action in set(Action) - {Action.READ}:
            assert POLICY.scope(viewer, kind, action).is_nothing
    assert POLICY.can(who("root", "admin"), "audit", Action.READ, {})


def test_no_role_sees_nothing() -> None:
    nobody = who("ann", teams=("north",))
    stranger = who("ann", "unknown_role")
    for principal in (nobody, stranger):
        for kind in ALL_KINDS:
            for action in Action:
                assert POLICY.scope(principal, kind, action) == Scope.nothing()
                assert not POLICY.can(principal, kind, action, {"owner_id": "ann"})


def test_the_broadest_grant_wins_and_masks_intersect() -> None:
    both = who("ann", "sales_rep", "service_agent")
    assert POLICY.scope(both, "opportunity", Action.READ).is_everything
    assert POLICY.scope(both, "opportunity", Action.UPDATE) == Scope((Eq("owner_id", "ann"),))
    # the rep role shows amounts, so only fields both roles hide stay hidden
    assert POLICY.hidden_fields(both, "opportunity") == frozenset()
    assert POLICY.hidden_fields(who("x", "service_agent", "read_only"), "quote") == frozenset()
    # a role that cannot read the kind does not unmask it
    assert POLICY.hidden_fields(who("x", "service_agent", "marketer"), "quote") == {
        "lines",
        "order_discount",
        "totals",
    }
    # nobody who may read it: every mask stays
    assert POLICY.hidden_fields(who("x", "sales_rep"), "campaign") == {
        "actual_cost",
        "budget",
        "expected_revenue",
    }
    assert POLICY.hidden_fields(who("x"), "campaign") == frozenset()


def test_allow_all_lets_everything_through() -> None:
    policy: AccessPolicy = AllowAll()
    principal = who("x")
    for kind in ALL_KINDS:
        for action in Action:
            assert policy.scope(principal, kind, action).is_everything
            assert policy.can(principal, kind, action, {"owner_id": "y"})
        assert policy.hidden_fields(principal, kind) == frozenset()


# --- scopes are store queries --------------------------------------------------------


def test_every_default_scope_is_a_valid_query_of_its_kind() -> None:
    store = schema()
    assert {spec.kind for spec in store.kinds} == set(KIND_OWNERS)
    principals = [who("ann", role, teams=("north",)) for role in ROLES] + [who("ann")]
    for spec in store.kinds:
        for principal in principals:
            for action in Action:
                scope = POLICY.scope(principal, spec.kind, action)
                check_query(spec, scope.narrow_query(Query(spec.kind)))


def test_scoped_pages_and_sums_are_computed_in_the_store() -> None:
    docs = [
        Document("opportunity", f"o{i}", 1, "{}", {"owner_id": owner, "amount_minor": 100 * i})
        for i, owner in enumerate(("ann", "bob", "cid", "ann", "dee", None), start=1)
    ]
    manager = who("bob", "sales_manager", teams=("north",))
    scope = POLICY.scope(manager, "opportunity", Action.READ)
    page = run_query(scope.narrow_query(Query("opportunity", (), (), limit=3)), docs)
    assert [doc.id for doc in page] == ["o1", "o2", "o4"]  # a full page, not a filtered one
    agg = scope.narrow_aggregate(Aggregate("opportunity", measures=(Measure.sum("amount_minor"),)))
    assert [g.values for g in run_aggregate(agg, docs)] == [(100 + 200 + 400 + 500,)]
    assert run_query(Scope.nothing().narrow_query(Query("opportunity")), docs) == []


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Grant("rep", ("lead",), ("read", "fly"), "own"), "actions[1]"),
        (lambda: Grant("rep", ("lead",), ("read",), "mine"), "scope"),
        (lambda: Grant("rep", ("lead",), (), "own"), "actions"),
        (lambda: Grant("Rep!", ("lead",), ("read",), "own"), "role"),
        (lambda: Grant("rep", "lead", ("read",), "own"), "kinds"),
        (lambda: FieldMask("rep", "quote", ("lines", 3)), "fields[1]"),
        (lambda: RoleBasedPolicy((Grant("r", ("deal",), ("read",), "all"),)), "grants[0].kinds[0]"),
        (lambda: RoleBasedPolicy((), (FieldMask("r", "deal", ("x",)),)), "masks[0].kind"),
        (lambda: RoleBasedPolicy(("admin",)), "grants[0]"),  # type: ignore[arg-type]
        (lambda: RoleBasedPolicy((), directory="d"), "directory"),  # type: ignore[arg-type]
    ],
)
def test_bad_grants_and_masks_are_refused_naming_the_field(make: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make()  # type: ignore[operator]
    assert caught.value.field == field


@pytest.mark.parametrize("kind", ["contract", "article", "product", "audit", "timeline"])
@pytest.mark.parametrize("ownership", ["own", "team"])
def test_kinds_without_an_owner_accept_only_all_grants(kind: str, ownership: str) -> None:
    with pytest.raises(ValidationError, match=kind) as caught:
        RoleBasedPolicy((Grant("r", ("lead", kind), ("read",), ownership),))
    assert caught.value.field == "grants[0].scope"
    assert RoleBasedPolicy((Grant("r", (kind,), ("read",), "all"),)).can(
        who("x", "r"), kind, Action.READ, {}
    )


def test_bad_questions_are_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        POLICY.scope(who("x", "admin"), "deal", Action.READ)
    assert caught.value.field == "kind"
    with pytest.raises(ValidationError) as caught:
        POLICY.scope(who("x", "admin"), "lead", "fly")  # type: ignore[arg-type]
    assert caught.value.field == "action"
    with pytest.raises(ValidationError) as caught:
        POLICY.hidden_fields("x", "lead")  # type: ignore[arg-type]
    assert caught.value.field == "principal"


def test_default_masks_name_real_attributes() -> None:
    classes = {
        "opportunity": Opportunity,
        "quote": Quote,
        "contract": Contract,
        "campaign": Campaign,
    }
    for mask in DEFAULT_MASKS:
        cls = classes[mask.kind]
        names = {field.name for field in attrs.fields(cls)} | {
            name for name in dir(cls) if isinstance(getattr(cls, name), property)
        }
        assert set(mask.fields) <= names, (mask.kind, set(mask.fields) - names)


def test_the_docs_show_the_default_tables() -> None:
    page = (DOCS / "security.md").read_text()
    assert grants_table(POLICY) in page
    assert masks_table(POLICY) in page
    assert len(DEFAULT_GRANTS) == 13


# --- property: the record check and the store scope agree ------------------------------

_IDS = ("ann", "bob", "cid", "dee", "eve")
_TEAMS = ("north", "south", "west")
_ids = st.sampled_from(_IDS)
_teams = st.frozensets(st.sampled_from(_TEAMS), max_size=2)


@st.composite
def _directories(draw: st.DrawFn) -> Directory:
    ids = draw(st.lists(_ids, unique=True, max_size=len(_IDS)))
    return Directory(tuple(User(id, teams=draw(_teams), active=draw(st.booleans())) for id in ids))


_principals = st.builds(
    Principal,
    _ids,
    roles=st.frozensets(st.sampled_from((*ROLES, "other")), max_size=3),
    teams=_teams,
)
_owner: st.SearchStrategy[IndexValue] = st.one_of(st.none(), _ids, st.just(("ann", "bob")))
_index = st.fixed_dictionaries(
    {},
    optional={"owner_id": _owner, "author_id": _owner, "team": st.sampled_from(_TEAMS)},
)


def _expected(
    policy: RoleBasedPolicy,
    principal: Principal,
    kind: str,
    action: Action,
    index: dict[str, IndexValue],
) -> bool:
    """An independent reading of the rules, straight from the grants."""
    ranks = {Ownership.OWN: 1, Ownership.TEAM: 2, Ownership.ALL: 3}
    found = [
        grant.scope
        for grant in policy.grants
        if grant.role in principal.roles and kind in grant.kinds and action in grant.actions
    ]
    if not found:
        return False
    best = max(found, key=ranks.__getitem__)
    if best is Ownership.ALL:
        return True
    owner = index.get(KIND_OWNERS[kind] or "")
    allowed = {principal.id}
    if best is Ownership.TEAM and policy.directory is not None:
        allowed |= {u.id for u in policy.directory if set(u.teams) & principal.teams}
    owners = owner if isinstance(owner, tuple) else (owner,)
    return any(o in allowed for o in owners)


@settings(max_examples=150)
@given(directory=_directories(), principal=_principals, index=_index)
def test_can_agrees_with_scope_for_every_kind_and_action(
    directory: Directory, principal: Principal, index: dict[str, IndexValue]
) -> None:
    policy = default_policy(directory)
    doc = Document("k", "r-1", 1, "{}", index)
    for kind in ALL_KINDS:
        for action in Action:
            scope = policy.scope(principal, kind, action)
            allowed = policy.can(principal, kind, action, index)
            assert allowed == all(matches(cond, doc) for cond in scope.conditions)
            assert allowed == _expected(policy, principal, kind, action, index)
            if scope.is_nothing:
                assert not allowed
            if scope.is_everything:
                assert allowed
