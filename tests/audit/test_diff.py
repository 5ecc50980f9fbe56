"""field_diff: which top-level fields changed, as JSON-ready data, with the personal flag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from crmkit.audit.diff import SKIPPED, Change, field_diff
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, Stamp
from crmkit.kernel.money import Money
from crmkit.parties.contact import Contact
from crmkit.parties.values import Email
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pipeline import DEFAULT_PIPELINE

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
STAMP = Stamp(T0, "u-1")
LATER = Stamp(T0 + timedelta(hours=1), "u-1")


def _contact() -> Contact:
    contact, _ = Contact.create(
        "c-1", STAMP, last_name="Meier", first_name="Anna", emails=(Email("anna@example.com"),)
    )
    return contact


def test_creation_reports_every_field_but_version_and_updated_at() -> None:
    contact = _contact()
    changes = field_diff(None, contact)
    names = [c.field for c in changes]
    expected = [f.name for f in attrs.fields(Contact) if f.name not in SKIPPED]
    assert names == expected
    assert all(c.before is None for c in changes)
    by_name = {c.field: c for c in changes}
    assert by_name["last_name"] == Change("last_name", None, "Meier", personal=True)
    assert by_name["created_at"].after == "2024-03-01T09:00:00+00:00"
    assert by_name["status"].after == "active"  # a plain string, not an enum member
    assert type(by_name["status"].after) is str


def test_a_change_reports_only_changed_fields_with_personal_flags() -> None:
    before = _contact()
    after, _ = before.update(LATER, first_name="Anne", title="CFO")
    assert after.version == 2
    assert field_diff(before, after) == (
        Change("first_name", "Anna", "Anne", personal=True),
        Change("title", None, "CFO", personal=False),
    )
    assert field_diff(after, after) == ()


def test_a_nested_value_object_is_compared_and_recorded_as_a_whole() -> None:
    before = _contact()
    emails = (Email("anna@example.com"), Email("anna.meier@example.org"))
    after, _ = before.update(LATER, emails=emails)
    (change,) = field_diff(before, after)
    assert change.field == "emails"
    assert change.personal is True
    assert change.before == [{"address": "anna@example.com", "kind": "work"}]
    assert change.after == [
        {"address": "anna@example.com", "kind": "work"},
        {"address": "anna.meier@example.org", "kind": "work"},
    ]


def test_money_and_dates_of_an_opportunity_are_json_ready() -> None:
    pipeline = DEFAULT_PIPELINE
    before, _ = Opportunity.open(
        "o-1", "ACME", pipeline, STAMP, amount=Money.of("100", "EUR"), close_date=date(2024, 6, 30)
    )
    after, _ = before.update(LATER, amount=Money.of("250.50", "EUR"), close_date=date(2024, 7, 31))
    changes = {c.field: c for c in field_diff(before, after)}
    assert changes["amount"] == Change(
        "amount", {"amount": "100.00", "currency": "EUR"}, {"amount": "250.50", "currency": "EUR"}
    )
    assert changes["close_date"] == Change("close_date", "2024-06-30", "2024-07-31")
    assert not any(c.personal for c in changes.values())


@attrs.frozen
class _Person:
    name: str = attrs.field(metadata=PERSONAL)
    score: Decimal = Decimal("0")


@attrs.frozen
class _Record:
    id: str
    version: int
    updated_at: datetime
    people: tuple[_Person, ...] = ()
    owner: _Person | None = None
    label: str = ""


def test_personal_parts_inside_an_unmarked_field_make_it_personal() -> None:
    before = _Record("r-1", 1, T0)
    after = _Record("r-1", 2, T0 + timedelta(1), (_Person("Ann"),), _Person("Bo"), "x")
    changes = {c.field: c for c in field_diff(before, after)}
    assert set(changes) == {"people", "owner", "label"}  # version and updated_at skipped
    assert changes["people"].personal
    assert changes["owner"].personal
    assert not changes["label"].personal
    assert changes["owner"].after == {"name": "Bo", "score": "0"}


def test_a_change_of_decimal_scale_is_a_change() -> None:
    before = _Record("r-1", 1, T0, owner=_Person("Bo", Decimal("1.0")))
    after = attrs.evolve(before, owner=_Person("Bo", Decimal("1.00")))
    (change,) = field_diff(before, after)
    assert (change.before, change.after) == (
        {"name": "Bo", "score": "1.0"},
        {"name": "Bo", "score": "1.00"},
    )


def test_field_diff_refuses_mismatched_or_non_attrs_records() -> None:
    with pytest.raises(ValidationError, match="before: must be None or a Contact"):
        field_diff(_Record("r-1", 1, T0), _contact())
    with pytest.raises(ValidationError, match="after: must be an attrs record"):
        field_diff(None, {"id": "c-1"})


def test_change_to_json() -> None:
    assert Change("title", None, "CFO").to_json() == {
        "field": "title",
        "before": None,
        "after": "CFO",
        "personal": False,
    }
