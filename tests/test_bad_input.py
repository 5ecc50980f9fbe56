"""Bad input: whatever a caller passes, only crmkit's own errors come out.

Arbitrary JSON goes into the strict converter for every public type, and
arbitrary values go into every public constructor, command and unit-of-work
service. The only exceptions allowed out are `crmkit.CrmError` subclasses
(never a bare TypeError, KeyError, AttributeError or ValueError); every
`ValidationError` names a field; and a personal field's value never appears in
an error message.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import attrs
import pytest
from hypothesis import given, settings, strategies as st

import crmkit
from crmkit import (
    Account,
    AccountRole,
    Activity,
    ActivityKind,
    Address,
    Channel,
    ConsentRecord,
    Contact,
    CrmError,
    Email,
    Eq,
    FakeClock,
    In,
    Money,
    Order,
    Phone,
    Principal,
    Range,
    RecordRef,
    SequentialIds,
    Stamp,
    TimelineEntry,
    ValidationError,
)
from crmkit.kernel.events import is_personal
from crmkit.kernel.serialization import make_converter, structure
from crmkit.ports.query import Query
from crmkit.testing import strategies as gen

CONV = make_converter()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAMP = Stamp(T0, "u-1")

VALUE_TYPES: list[tuple[type, Callable[[], st.SearchStrategy[Any]]]] = [
    (Money, gen.money),
    (Email, gen.emails),
    (Phone, gen.phones),
    (Address, gen.addresses),
    (ConsentRecord, gen.consent_records),
    (AccountRole, gen.account_roles),
    (RecordRef, gen.record_refs),
    (Account, gen.accounts),
    (Contact, gen.contacts),
    (Activity, gen.activities),
    (TimelineEntry, gen.timeline_entries),
    (Principal, gen.principals),
    (Stamp, gen.stamps),
]
ALL_TYPES: list[tuple[type, Callable[[], st.SearchStrategy[Any]]]] = [
    *VALUE_TYPES,
    *[(cls, lambda cls=cls: gen.events_of(cls)) for cls in gen.EVENT_CLASSES],
]
TYPE_IDS = [cls.__name__ for cls, _ in ALL_TYPES]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
ANYTHING = st.one_of(
    JSON,
    st.binary(max_size=8),
    st.decimals(),
    st.datetimes(),
    gen.aware_datetimes(),
    st.tuples(st.text(max_size=8)),
    st.sets(st.integers(), max_size=2),
    st.frozensets(st.text(max_size=4), max_size=2),
    st.sampled_from([object(), Ellipsis, int, Decimal("sNaN"), Decimal("-Infinity")]),
    st.sampled_from([*ActivityKind, *Channel]),
    gen.emails(),
    gen.phones(),
    gen.record_refs(),
    gen.money(),
    st.lists(gen.record_refs() | gen.emails(), max_size=2),
)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes anything at all."""
    return valid | ANYTHING


def only_crm_errors(call: Callable[[], object]) -> BaseException | None:
    """Run ``call``; let only `CrmError`s out of it, each well formed. Return the error, if any."""
    caught: CrmError | None = None
    try:
        call()
    except CrmError as error:
        caught = error
    if isinstance(caught, ValidationError):
        assert isinstance(caught.field, str), repr(caught.field)
        assert caught.field, f"empty field in {caught!r}"
        if caught.personal:
            assert caught.value is None
    assert caught is None or str(caught)
    return caught


def init_kwargs(obj: Any) -> dict[str, Any]:
    return {f.alias: getattr(obj, f.name) for f in attrs.fields(type(obj)) if f.init}


# --- arbitrary JSON into the strict converter -------------------------------------


@pytest.mark.parametrize(("cls", "strategy"), ALL_TYPES, ids=TYPE_IDS)
@given(data=JSON)
def test_arbitrary_json_structures_or_raises_a_validation_error(
    cls: type, strategy: Any, data: Any
) -> None:
    error = only_crm_errors(lambda: structure(CONV, data, cls))
    assert error is None or isinstance(error, ValidationError)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in an unstructured value that a mutation can replace."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@pytest.mark.parametrize(("cls", "strategy"), ALL_TYPES, ids=TYPE_IDS)
@given(data=st.data())
def test_valid_documents_with_one_part_broken_raise_only_validation_errors(
    cls: type, strategy: Callable[[], st.SearchStrategy[Any]], data: st.DataObject
) -> None:
    document = CONV.unstructure(data.draw(strategy()))
    paths = _paths(document)
    path = data.draw(st.sampled_from(paths)) if paths else ()
    how = data.draw(st.sampled_from(["replace", "delete", "add"]))
    target = document
    for step in path[:-1]:
        target = target[step]
    if not path:
        document = data.draw(JSON)
    elif how == "replace" or not isinstance(target, dict):
        target[path[-1]] = data.draw(JSON)
    elif how == "delete":
        del target[path[-1]]
    else:
        target[data.draw(st.text(max_size=8))] = data.draw(JSON)
    error = only_crm_errors(lambda: structure(CONV, document, cls))
    assert error is None or isinstance(error, ValidationError)


# --- arbitrary values into constructors ---------------------------------------------


@pytest.mark.parametrize(("cls", "strategy"), VALUE_TYPES, ids=[c.__name__ for c, _ in VALUE_TYPES])
@given(data=st.data())
def test_constructors_raise_only_crm_errors(
    cls: type, strategy: Callable[[], st.SearchStrategy[Any]], data: st.DataObject
) -> None:
    kwargs = init_kwargs(data.draw(strategy()))
    for name in data.draw(st.sets(st.sampled_from(sorted(kwargs)), min_size=1)):
        kwargs[name] = data.draw(ANYTHING)
    only_crm_errors(lambda: cls(**kwargs))


@given(ANYTHING, ANYTHING, gen.money(), ANYTHING)
def test_money_operations_raise_only_crm_errors(
    amount: Any, currency: Any, money: Money, other: Any
) -> None:
    for call in (
        lambda: Money.of(amount, currency),
        lambda: Money.rounded(amount, currency),
        lambda: Money.from_minor(amount, currency),
        lambda: Money.zero(currency),
        lambda: money + other,
        lambda: money - other,
        lambda: money * other,
        lambda: other * money,
        lambda: money < other,
        lambda: money >= other,
        lambda: money.allocate(other),
        lambda: money.allocate([other, 1]),
    ):
        only_crm_errors(call)


@given(ANYTHING, ANYTHING, ANYTHING)
def test_phone_parse_raises_only_crm_errors(text: Any, country_code: Any, kind: Any) -> None:
    only_crm_errors(lambda: Phone.parse(text, country_code=country_code, kind=kind))
    only_crm_errors(lambda: Phone.parse(text, country_code="49"))


# --- arbitrary values into commands --------------------------------------------------

ACCOUNT_CREATE = {
    "website": st.none() | gen.lines(),
    "industry": st.none() | gen.lines(),
    "emails": st.lists(gen.emails(), max_size=1),
    "phones": st.lists(gen.phones(), max_size=1),
    "addresses": st.lists(gen.addresses(), max_size=1),
    "owner_id": st.none() | gen.ids(),
    "tags": gen.tags(),
    "parent_id": st.none() | gen.ids(),
}
CONTACT_CREATE = {
    "first_name": gen.lines(),
    "title": st.none() | gen.lines(),
    "emails": st.lists(gen.emails(), max_size=1),
    "phones": st.lists(gen.phones(), max_size=1),
    "addresses": st.lists(gen.addresses(), max_size=1),
    "owner_id": st.none() | gen.ids(),
    "tags": gen.tags(),
    "time_zone": st.none() | st.sampled_from(gen.TIME_ZONES),
}
ACTIVITY_LOG = {
    "occurred_at": st.none() | gen.aware_datetimes(),
    "body": gen.texts(),
    "direction": st.none() | st.sampled_from(["inbound", "outbound"]),
    "duration_minutes": st.none() | st.integers(0, 100_000),
    "owner_id": st.none() | gen.ids(),
    "message_id": st.none() | gen.lines(),
}


def some_of(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments: a few of ``fields``, each valid or anything."""
    return st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in fields.items()})


def updates(names: list[str], made_up: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Changes for an ``update``: known field names (or made-up ones), with any values."""
    keys = st.sampled_from(names) | st.text(max_size=8) if made_up else st.sampled_from(names)
    return st.dictionaries(keys, ANYTHING, max_size=3)


@given(maybe(gen.ids()), maybe(gen.lines()), some_of(ACCOUNT_CREATE), gen.accounts(), st.data())
def test_account_commands_raise_only_crm_errors(
    id: Any, name: Any, kwargs: dict[str, Any], account: Account, data: st.DataObject
) -> None:
    only_crm_errors(lambda: Account.create(id, name, STAMP, **kwargs))
    names = ["name", "website", "industry", "emails", "phones", "parent_id"]
    changes = data.draw(updates(names, made_up=False))  # a made-up keyword is a type error
    only_crm_errors(lambda: account.update(STAMP, **changes))
    value = data.draw(ANYTHING)
    for call in (
        lambda: account.tag(value, STAMP),
        lambda: account.untag(value, STAMP),
        lambda: account.assign(value, STAMP),
        lambda: account.archive(STAMP),
        lambda: account.restore(STAMP),
    ):
        only_crm_errors(call)


@given(maybe(gen.ids()), maybe(gen.lines()), some_of(CONTACT_CREATE), gen.contacts(), st.data())
def test_contact_commands_raise_only_crm_errors(
    id: Any, last_name: Any, kwargs: dict[str, Any], contact: Contact, data: st.DataObject
) -> None:
    only_crm_errors(lambda: Contact.create(id, STAMP, last_name=last_name, **kwargs))
    names = ["first_name", "last_name", "title", "emails", "time_zone"]
    changes = data.draw(updates(names, made_up=False))
    only_crm_errors(lambda: contact.update(STAMP, **changes))
    a, b, c, d = (
        data.draw(maybe(valid)) for valid in (gen.ids(), gen.lines(), st.booleans(), gen.ids())
    )
    channel, purpose = data.draw(maybe(st.sampled_from(Channel))), data.draw(ANYTHING)
    for call in (
        lambda: contact.link(a, b, STAMP, primary=c),
        lambda: contact.unlink(d, STAMP),
        lambda: contact.record_consent(channel, purpose, c, b, STAMP, given_at=data.draw(ANYTHING)),
        lambda: contact.consent_for(channel, purpose),
        lambda: contact.tag(a, STAMP),
    ):
        only_crm_errors(call)


@given(
    maybe(gen.ids()),
    maybe(st.sampled_from(ActivityKind)),
    maybe(gen.lines()),
    maybe(st.lists(gen.record_refs(), min_size=1, max_size=2)),
    some_of(ACTIVITY_LOG),
    gen.activities(),
    st.data(),
)
def test_activity_commands_raise_only_crm_errors(
    id: Any,
    kind: Any,
    subject: Any,
    links: Any,
    kwargs: dict[str, Any],
    activity: Activity,
    data: st.DataObject,
) -> None:
    only_crm_errors(lambda: Activity.log(id, kind, subject, links, STAMP, **kwargs))
    due, body, owner = (
        data.draw(maybe(v)) for v in (gen.aware_datetimes(), gen.texts(), gen.ids())
    )
    only_crm_errors(lambda: Activity.plan(id, kind, subject, links, due, STAMP, body=body,
                                          owner_id=owner))  # fmt: skip
    outcome = data.draw(maybe(st.none() | gen.texts()))
    for call in (
        lambda: activity.complete(STAMP, outcome=outcome),
        lambda: activity.cancel(STAMP),
        lambda: activity.reschedule(due, STAMP),
    ):
        only_crm_errors(call)


# --- arbitrary values into the unit-of-work services ------------------------------------


def new_crm() -> crmkit.Crm:
    clock = FakeClock(T0, tick=timedelta(seconds=1))
    return crmkit.open("memory://", clock=clock, ids=SequentialIds("r"))


def seeded(crm: crmkit.Crm | None = None) -> tuple[crmkit.Crm, dict[str, str]]:
    """An account, a contact linked to it and a planned activity, in a new or given CRM."""
    crm = crm or new_crm()
    with crm.unit_of_work(Principal("u-1")) as uow:
        account = uow.accounts.create("ACME")
        contact = uow.contacts.create("Berg", account_id=account.id)
        about = [RecordRef("contact", contact.id)]
        planned = uow.activities.plan("task", "Call back", about, T0 + timedelta(days=1))
    return crm, {"account": account.id, "contact": contact.id, "activity": planned.id}


def snapshot(crm: crmkit.Crm) -> list[Any]:
    kinds = ("account", "contact", "activity", "timeline")
    return [crm.store.query(crm.tenant, Query(k, limit=1000)) for k in kinds] + [
        crm.store.read_events(crm.tenant, limit=1000)
    ]


CONDITIONS = st.one_of(
    st.builds(Eq, maybe(st.sampled_from(["name", "status", "tags", "id"])), ANYTHING),
    st.builds(In, maybe(st.just("owner_id")), ANYTHING),
    st.builds(Range, maybe(st.just("updated_at")), ANYTHING, ANYTHING),
    ANYTHING,
)
ORDERS = maybe(st.lists(st.builds(Order, maybe(st.just("name")), ANYTHING), max_size=2).map(tuple))

SERVICE_CALLS: dict[str, Callable[[Any, dict[str, str], st.DataObject], object]] = {
    "accounts.create": lambda uow, ids, d: uow.accounts.create(
        d.draw(maybe(gen.lines())), idempotency_key=d.draw(maybe(st.none() | gen.lines())),
        **d.draw(some_of(ACCOUNT_CREATE))),
    "accounts.update": lambda uow, ids, d: uow.accounts.update(
        d.draw(maybe(st.just(ids["account"]))), **d.draw(updates(["name", "website", "emails"]))),
    "accounts.tag": lambda uow, ids, d: uow.accounts.tag(
        ids["account"], *d.draw(st.lists(ANYTHING))),
    "accounts.assign": lambda uow, ids, d: uow.accounts.assign(ids["account"], d.draw(ANYTHING)),
    "accounts.archive": lambda uow, ids, d: uow.accounts.archive(d.draw(maybe(gen.ids()))),
    "accounts.restore": lambda uow, ids, d: uow.accounts.restore(d.draw(ANYTHING)),
    "accounts.get": lambda uow, ids, d: uow.accounts.get(d.draw(ANYTHING)),
    "accounts.find": lambda uow, ids, d: uow.accounts.find(
        *d.draw(st.lists(CONDITIONS, max_size=2)), order_by=d.draw(ORDERS),
        limit=d.draw(maybe(st.integers(1, 5))), cursor=d.draw(maybe(st.none())),
        include_archived=d.draw(ANYTHING)),
    "contacts.create": lambda uow, ids, d: uow.contacts.create(
        d.draw(maybe(gen.lines())), account_id=d.draw(maybe(st.just(ids["account"]))),
        role=d.draw(maybe(gen.lines())), **d.draw(some_of(CONTACT_CREATE))),
    "contacts.update": lambda uow, ids, d: uow.contacts.update(
        ids["contact"], **d.draw(updates(["first_name", "last_name", "time_zone", "phones"]))),
    "contacts.link": lambda uow, ids, d: uow.contacts.link(
        d.draw(maybe(st.just(ids["contact"]))), d.draw(maybe(st.just(ids["account"]))),
        d.draw(maybe(gen.lines())), primary=d.draw(maybe(st.booleans()))),
    "contacts.unlink": lambda uow, ids, d: uow.contacts.unlink(
        ids["contact"], d.draw(maybe(st.just(ids["account"])))),
    "contacts.record_consent": lambda uow, ids, d: uow.contacts.record_consent(
        ids["contact"], d.draw(maybe(st.just("email"))), d.draw(maybe(st.just("sales"))),
        granted=d.draw(maybe(st.booleans())), source=d.draw(maybe(gen.lines())),
        given_at=d.draw(maybe(st.none()))),
    "contacts.find": lambda uow, ids, d: uow.contacts.find(
        *d.draw(st.lists(CONDITIONS, max_size=2)), order_by=d.draw(ORDERS),
        cursor=d.draw(maybe(st.none() | st.text(max_size=40)))),
    "activities.log": lambda uow, ids, d: uow.activities.log(
        d.draw(maybe(st.just("call"))), d.draw(maybe(gen.lines())),
        d.draw(maybe(st.just([RecordRef("contact", ids["contact"])]))),
        idempotency_key=d.draw(maybe(st.none())), **d.draw(some_of(ACTIVITY_LOG))),
    "activities.plan": lambda uow, ids, d: uow.activities.plan(
        d.draw(maybe(st.just("task"))), d.draw(maybe(gen.lines())),
        d.draw(maybe(st.just([RecordRef("account", ids["account"])]))),
        d.draw(maybe(gen.aware_datetimes())), body=d.draw(maybe(gen.texts())),
        owner_id=d.draw(maybe(st.none()))),
    "activities.complete": lambda uow, ids, d: uow.activities.complete(
        d.draw(maybe(st.just(ids["activity"]))), outcome=d.draw(maybe(st.none() | gen.texts()))),
    "activities.reschedule": lambda uow, ids, d: uow.activities.reschedule(
        ids["activity"], d.draw(maybe(gen.aware_datetimes()))),
    "activities.cancel": lambda uow, ids, d: uow.activities.cancel(d.draw(ANYTHING)),
}  # fmt: skip


@pytest.mark.parametrize("service", sorted(SERVICE_CALLS))
def test_services_raise_only_crm_errors_and_leave_no_trace(service: str) -> None:
    crm = new_crm()  # one per test: a CRM's converter compiles its hooks on first use

    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        _, ids = seeded(crm)  # fresh records for each example
        before = snapshot(crm)

        def run() -> None:
            with crm.unit_of_work(Principal("u-2")) as uow:
                SERVICE_CALLS[service](uow, ids, data)

        if only_crm_errors(run) is not None:
            assert snapshot(crm) == before

    check()


@cache
def reads_crm() -> crmkit.Crm:
    """One seeded CRM for the read tests: reads change nothing, so every example can share it."""
    return seeded()[0]


@given(maybe(gen.ids()), ANYTHING, maybe(st.integers(1, 50)), maybe(st.none()), ANYTHING, ANYTHING)
def test_crm_reads_raise_only_crm_errors(
    record_id: Any, principal: Any, limit: Any, cursor: Any, after: Any, stream_id: Any
) -> None:
    crm = reads_crm()
    only_crm_errors(lambda: crm.timeline(record_id, Principal("u-1"), limit=limit, cursor=cursor))
    only_crm_errors(lambda: crm.timeline("r-000001", principal))
    only_crm_errors(lambda: crm.events(after=after, limit=limit, stream_id=stream_id))
    only_crm_errors(lambda: crm.unit_of_work(principal))
    only_crm_errors(lambda: crmkit.open(principal))


# --- personal data never shows in errors --------------------------------------------

SECRET = "SECRET"
PERSONAL_FIELDS = [
    (cls, strategy, field.name)
    for cls, strategy in ALL_TYPES
    for field in attrs.fields(cls)
    if is_personal(field)
]
# Values that no personal field accepts, each carrying the marker.
PLANTED_VALUES: list[Any] = [f"{SECRET}\x00x", f"{SECRET}\ud800", [f"{SECRET}@x"], f"{SECRET}@", 99]
PLANTED_JSON: list[Any] = [f"{SECRET}\x00x", [f"{SECRET}@x"], {SECRET: SECRET}, 99.5, True]


def assert_hidden(error: BaseException | None) -> int:
    if error is None:
        return 0
    assert isinstance(error, ValidationError), repr(error)
    assert SECRET not in str(error)
    assert SECRET not in repr(error.value)
    return 1


def test_every_personal_field_is_known() -> None:
    found = {f"{cls.__name__}.{name}" for cls, _, name in PERSONAL_FIELDS}
    assert {
        "Email.address",
        "Phone.number",
        "Address.lines",
        "Contact.first_name",
        "Contact.last_name",
        "Contact.emails",
        "Activity.body",
        "TimelineEntry.summary",
        "ContactCreated.name",
    } <= found


@pytest.mark.parametrize(
    ("cls", "strategy", "name"),
    PERSONAL_FIELDS,
    ids=[f"{c.__name__}.{n}" for c, _, n in PERSONAL_FIELDS],
)
@settings(max_examples=10)
@given(data=st.data())
def test_personal_values_never_show_in_errors(
    cls: type, strategy: Callable[[], st.SearchStrategy[Any]], name: str, data: st.DataObject
) -> None:
    obj = data.draw(strategy())
    refused = 0
    if not issubclass(cls, crmkit.DomainEvent):  # events do not validate when built
        for planted in PLANTED_VALUES:
            kwargs = init_kwargs(obj) | {name: planted}
            refused += assert_hidden(only_crm_errors(lambda kwargs=kwargs: cls(**kwargs)))
    for planted in PLANTED_JSON:
        document = CONV.unstructure(obj) | {name: planted}
        refused += assert_hidden(only_crm_errors(lambda d=document: structure(CONV, d, cls)))
    assert refused >= 4  # at least every planted value of the wrong JSON type


@pytest.mark.parametrize(
    "call",
    [
        lambda uow, ids: uow.contacts.create(f"{SECRET}\x00"),
        lambda uow, ids: uow.contacts.create("Berg", first_name=f"{SECRET}\ud800"),
        lambda uow, ids: uow.contacts.create("Berg", emails=[f"{SECRET}@example.com"]),
        lambda uow, ids: uow.contacts.create("Berg", emails=f"{SECRET}@example.com"),
        lambda uow, ids: uow.contacts.create("Berg", phones=[Phone("+4930123456"), SECRET]),
        lambda uow, ids: uow.contacts.update(ids["contact"], last_name=f"{SECRET}\x00"),
        lambda uow, ids: uow.contacts.update(ids["contact"], emails=(f"{SECRET}@x.y",)),
        lambda uow, ids: uow.accounts.create("ACME", addresses=[f"{SECRET} street 1"]),
        lambda uow, ids: uow.activities.log("note", "Note", [RecordRef("contact", ids["contact"])],
                                            body=f"{SECRET}\x00"),
        lambda uow, ids: uow.activities.complete(ids["activity"], outcome=f"{SECRET}\x07"),
    ],
)  # fmt: skip
def test_services_never_show_personal_values(call: Callable[[Any, dict[str, str]], object]) -> None:
    crm, ids = seeded()

    def run() -> None:
        with crm.unit_of_work(Principal("u-2")) as uow:
            call(uow, ids)

    assert assert_hidden(only_crm_errors(run)) == 1
