"""The strict converter and JSON codec: lossless round trips, strict reading, safe parsing."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, strategies as st

from crmkit import (
    Account,
    AccountRole,
    Activity,
    Address,
    ConsentRecord,
    Contact,
    Email,
    Money,
    Phone,
    Principal,
    RecordRef,
    Stamp,
    TimelineEntry,
    ValidationError,
)
from crmkit.activities.activity import ActivityLogged
from crmkit.kernel.events import DomainEvent
from crmkit.kernel.serialization import (
    MAX_JSON_DEPTH,
    dumps,
    loads,
    make_converter,
    structure,
)
from crmkit.parties.events import ConsentRecorded, ContactCreated
from crmkit.testing import strategies as gen

CONV = make_converter()

VALUE_TYPES: list[tuple[Callable[[], st.SearchStrategy[Any]], type]] = [
    (gen.money, Money),
    (gen.emails, Email),
    (gen.phones, Phone),
    (gen.addresses, Address),
    (gen.consent_records, ConsentRecord),
    (gen.account_roles, AccountRole),
    (gen.record_refs, RecordRef),
    (gen.principals, Principal),
    (gen.stamps, Stamp),
    (gen.accounts, Account),
    (gen.contacts, Contact),
    (gen.activities, Activity),
    (gen.timeline_entries, TimelineEntry),
]


def round_trip(value: Any, cls: type) -> Any:
    text = dumps(CONV.unstructure(value))
    assert json.loads(text) == loads(text)
    back = structure(CONV, loads(text), cls)
    assert dumps(CONV.unstructure(back)) == text  # stable: the same value writes the same text
    return back


@pytest.mark.parametrize(("strategy", "cls"), VALUE_TYPES, ids=[c.__name__ for _, c in VALUE_TYPES])
@given(data=st.data())
def test_every_public_type_round_trips_losslessly(
    strategy: Callable[[], st.SearchStrategy[Any]], cls: type, data: st.DataObject
) -> None:
    value = data.draw(strategy())
    assert round_trip(value, cls) == value


@pytest.mark.parametrize("cls", gen.EVENT_CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_every_event_class_round_trips_losslessly(
    cls: type[DomainEvent], data: st.DataObject
) -> None:
    event = data.draw(gen.events_of(cls))
    back = round_trip(event, cls)
    assert back == event
    assert type(back) is cls


@given(gen.domain_events())
def test_domain_events_cover_every_class_and_round_trip(event: DomainEvent) -> None:
    assert type(event) in gen.EVENT_CLASSES
    assert round_trip(event, type(event)) == event


def test_storage_forms() -> None:
    assert CONV.unstructure(Money.of("12.5", "EUR")) == {"amount": "12.50", "currency": "EUR"}
    at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert CONV.unstructure(Stamp(at, "u-1")) == {"at": "2026-01-05T09:30:00+00:00", "actor": "u-1"}
    principal = CONV.unstructure(Principal("u-1", roles={"b", "a", "c"}))
    assert principal["roles"] == ["a", "b", "c"]  # sets are written in a stable order


# --- strict reading ----------------------------------------------------------

_AT = "2026-01-05T09:00:00+00:00"
ACCOUNT = {"id": "a-1", "version": 1, "name": "ACME", "created_at": _AT, "updated_at": _AT}
CONTACT = {
    "id": "c-1",
    "version": 3,
    "first_name": "Anna",
    "last_name": "Berg",
    "created_at": _AT,
    "updated_at": _AT,
    "emails": [{"address": "anna@example.com", "kind": "work"}],
    "accounts": [
        {"account_id": "a-1", "role": "buyer", "primary": True},
        {"account_id": "a-2", "role": "cfo", "primary": False},
    ],
    "consent": [
        {"channel": "email", "purpose": "marketing", "granted": True, "at": _AT, "source": "web"}
    ],
}


def _with(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(base))
    target = data
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()


def test_the_base_documents_are_valid() -> None:
    assert structure(CONV, ACCOUNT, Account).name == "ACME"
    assert structure(CONV, CONTACT, Contact).account_ids == ("a-1", "a-2")


@pytest.mark.parametrize(
    ("base", "cls", "path", "value", "field"),
    [
        pytest.param(ACCOUNT, Account, ("version",), 1.5, "version", id="float for int"),
        pytest.param(ACCOUNT, Account, ("version",), True, "version", id="bool for int"),
        pytest.param(ACCOUNT, Account, ("version",), "1", "version", id="str for int"),
        pytest.param(ACCOUNT, Account, ("name",), 5, "name", id="int for str"),
        pytest.param(ACCOUNT, Account, ("id",), 5, "id", id="int for an id"),
        pytest.param(ACCOUNT, Account, ("name",), None, "name", id="null for str"),
        pytest.param(ACCOUNT, Account, ("created_at",), "2026-01-05T09:00:00", "created_at",
                     id="naive datetime"),
        pytest.param(ACCOUNT, Account, ("created_at",), 1767603600, "created_at",
                     id="number for datetime"),
        pytest.param(ACCOUNT, Account, ("status",), "deleted", "status", id="unknown enum value"),
        pytest.param(ACCOUNT, Account, ("tags",), "vip", "tags", id="str for a tuple"),
        pytest.param(ACCOUNT, Account, ("tags",), {"vip": 1}, "tags", id="object for a tuple"),
        pytest.param(ACCOUNT, Account, ("owner_id",), "a b", "owner_id", id="bad owner id"),
        pytest.param(ACCOUNT, Account, ("parent_id",), "", "parent_id", id="bad parent id"),
        pytest.param(ACCOUNT, Account, ("surprise",), 1, "surprise", id="unknown key"),
        pytest.param(ACCOUNT, Account, ("name",), _DELETE, "name", id="missing key"),
        pytest.param(CONTACT, Contact, ("emails",), {"address": "a@b.cd"}, "emails",
                     id="object for a tuple of objects"),
        pytest.param(CONTACT, Contact, ("emails", 0, "address"), 5, "emails[0].address",
                     id="nested wrong type"),
        pytest.param(CONTACT, Contact, ("emails", 0, "address"), "nope", "emails[0].address",
                     id="nested invalid value"),
        pytest.param(CONTACT, Contact, ("emails", 0, "kind"), "fax", "emails[0].kind",
                     id="nested enum"),
        pytest.param(CONTACT, Contact, ("emails", 0, "extra"), 1, "emails[0].extra",
                     id="nested unknown key"),
        pytest.param(CONTACT, Contact, ("accounts", 1, "primary"), "yes", "accounts[1].primary",
                     id="str for bool"),
        pytest.param(CONTACT, Contact, ("accounts", 1, "account_id"), _DELETE,
                     "accounts[1].account_id", id="nested missing key"),
        pytest.param(CONTACT, Contact, ("consent", 0, "at"), "2026-01-05", "consent[0].at",
                     id="nested naive datetime"),
        pytest.param(CONTACT, Contact, ("time_zone",), "Mars/Base", "time_zone",
                     id="unknown zone"),
        pytest.param(CONTACT, Contact, ("accounts", 0), "a-1", "accounts[0]",
                     id="str for an object"),
    ],
)  # fmt: skip
def test_the_converter_is_strict_and_names_the_field_path(
    base: dict[str, Any], cls: type, path: tuple[Any, ...], value: Any, field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        structure(CONV, _with(base, path, value), cls)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": 12.5, "currency": "EUR"}, "amount"),
        ({"amount": 12, "currency": "EUR"}, "amount"),
        ({"amount": "NaN", "currency": "EUR"}, "amount"),
        ({"amount": "1.234", "currency": "EUR"}, "amount"),
        ({"amount": "1", "currency": "XYZ"}, "currency"),
        ({"amount": "1", "currency": "EUR", "rate": "2"}, "$"),
        ("12.50 EUR", "$"),
    ],
)
def test_money_is_read_strictly(data: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        structure(CONV, data, Money)
    assert info.value.field == field


def test_decimals_must_be_strings_and_finite() -> None:
    assert structure(CONV, "1.50", Decimal) == Decimal("1.50")
    for bad in [1.5, 1, "Infinity", "NaN", "1,5", None]:
        with pytest.raises(ValidationError):
            structure(CONV, bad, Decimal)


@pytest.mark.parametrize(
    ("value", "cls"),
    [(1.5, int), (True, int), (5, str), (1, bool), ("true", bool), (1.0, float), ("x", float)],
)
def test_scalars_are_never_coerced(value: object, cls: type) -> None:
    with pytest.raises(ValidationError):
        structure(CONV, value, cls)


def test_personal_fields_are_redacted_when_read() -> None:
    secret = "Very Secret Person\x00"
    with pytest.raises(ValidationError) as info:
        structure(CONV, _with(CONTACT, ("last_name",), secret), Contact)
    assert info.value.field == "last_name"
    assert info.value.personal
    assert "Secret" not in str(info.value)
    with pytest.raises(ValidationError) as info:
        structure(CONV, {"aggregate_id": "c-1", "version": 1, "occurred_at": _AT, "actor": "u",
                         "name": ["Very Secret Person"]}, ContactCreated)  # fmt: skip
    assert info.value.field == "name"
    assert "Secret" not in str(info.value)


def test_events_are_read_strictly_with_nested_paths() -> None:
    consent = {"channel": "email", "purpose": "sales", "granted": "yes", "at": _AT, "source": "x"}
    data = {"aggregate_id": "c-1", "version": 2, "occurred_at": _AT, "actor": "u"}
    data["record"] = consent
    with pytest.raises(ValidationError) as info:
        structure(CONV, data, ConsentRecorded)
    assert info.value.field == "record.granted"
    logged = {
        "aggregate_id": "x-1",
        "version": 1,
        "occurred_at": _AT,
        "actor": "u",
        "kind": "call",
        "status": "done",
        "subject": "Intro",
        "happened_at": _AT,
        "links": [{"kind": "Contact", "id": "c-1"}],
    }
    with pytest.raises(ValidationError) as info:
        structure(CONV, logged, ActivityLogged)
    assert info.value.field == "links[0].kind"


def test_a_failing_host_hook_becomes_a_validation_error() -> None:
    conv = make_converter()

    def broken(value: object, _: object) -> RecordRef:
        raise KeyError("boom")

    conv.register_structure_hook(RecordRef, broken)
    with pytest.raises(ValidationError) as info:
        structure(conv, {"kind": "contact", "id": "c-1"}, RecordRef)
    assert info.value.field == "$"


# --- safe parsing ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ['{"amount": NaN}', "[Infinity]", "[-Infinity]", "NaN"],
)
def test_loads_refuses_non_finite_numbers(text: str) -> None:
    with pytest.raises(ValidationError, match="must not contain"):
        loads(text)


@pytest.mark.parametrize(
    ("text", "field"),
    [('{"a": 1, "a": 2}', "a"), ('{"x": {"b": 1, "b": 1}}', "b"), ('{"": 1, "": 2}', "$")],
)
def test_loads_refuses_duplicate_keys(text: str, field: str) -> None:
    with pytest.raises(ValidationError, match="given twice") as info:
        loads(text)
    assert info.value.field == field


def test_loads_refuses_over_deep_nesting() -> None:
    deep_ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads(deep_ok) is not None
    for text in ["[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), '{"a":' * 100_000]:
        with pytest.raises(ValidationError, match="nest"):
            loads(text)
    # Brackets inside strings are text, not nesting.
    assert loads(json.dumps(["[" * 1000])) == ["[" * 1000]


def test_loads_refuses_over_long_text() -> None:
    with pytest.raises(ValidationError, match="at most 10 characters"):
        loads('"' + "x" * 20 + '"', max_chars=10)
    with pytest.raises(ValidationError, match="characters of JSON"):
        loads(" " * 1_000_001)


@pytest.mark.parametrize("text", ["", "{", "[1,]", "{'a': 1}", "undefined", b"\xff\xfe", 5, None])
def test_loads_refuses_what_is_not_json_text(text: object) -> None:
    with pytest.raises(ValidationError) as info:
        loads(text)
    assert info.value.field == "$"


def test_loads_reads_utf8_bytes() -> None:
    assert loads('{"name": "Jörg"}'.encode()) == {"name": "Jörg"}


def test_dumps_refuses_what_json_cannot_hold() -> None:
    for value in [float("nan"), float("inf"), {"a": object()}, {("k",): "x"}]:
        with pytest.raises(ValidationError):
            dumps(value)
