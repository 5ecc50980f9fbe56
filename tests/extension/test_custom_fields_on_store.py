"""Custom values on aggregates: validated, stored, indexed, queried and migrated on every store."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from crmkit.adapters.fixed_rates import FixedRates
from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.sqlite import SqliteStore
from crmkit.analytics.report import to_rows
from crmkit.analytics.sales import pipeline
from crmkit.app.crm import Crm
from crmkit.app.records import OPPORTUNITIES
from crmkit.extension.custom_fields import CustomFields, FieldSpec
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.principal import Principal
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.ports.query import Eq, Order
from crmkit.ports.storage import DocumentStore
from crmkit.testing._strategies_custom_fields import (
    custom_fields,
    invalid_custom_values,
    record_values,
)

REP = Principal("rep")
NOW = datetime(2025, 3, 1, 9, tzinfo=UTC)
CI = os.environ.get("CI") == "true"

StoreFactory = Callable[[], DocumentStore]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of fresh stores of one kind (each hypothesis example gets its own schema)."""
    made: list[DocumentStore] = []

    def fresh() -> DocumentStore:
        store: DocumentStore
        if request.param == "memory":
            store = MemoryStore()
        elif request.param == "sqlite":
            store = SqliteStore(tmp_path / f"crm{len(made)}.db")
        else:
            from crmkit.adapters.postgres import PostgresStore

            store = PostgresStore(request.getfixturevalue("postgres_schemas")())
        made.append(store)
        return store

    yield fresh
    for store in made:
        store.close()


def indexed(fields: CustomFields) -> CustomFields:
    """``fields`` with every live field indexed (so each one is queried)."""
    return CustomFields([attrs.evolve(spec, indexed=not spec.retired) for spec in fields.specs])


def live(fields: CustomFields, kind: str) -> list[FieldSpec]:
    return [spec for spec in fields.for_kind(kind) if not spec.retired]


@settings(max_examples=60 if CI else 150, deadline=None)
@given(st.data())
def test_validated_values_round_trip_through_the_converter_and_the_loaders(data: Any) -> None:
    fields = data.draw(custom_fields())
    values = CustomValues(fields.validate("lead", data.draw(record_values(fields, "lead"))))
    conv = make_converter()
    plain = json.loads(dumps(conv.unstructure(values)))
    assert structure(conv, plain, CustomValues) == values
    assert Loaders().load(CustomValues, plain) == values


@settings(
    max_examples=6 if CI else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data())
def test_values_survive_the_store_and_indexed_queries_agree_with_python(
    stores: StoreFactory, data: Any
) -> None:
    fields = indexed(data.draw(custom_fields(max_fields=4)))
    crm = Crm(stores(), clock=FixedClock(NOW), custom_fields=fields)
    inputs = data.draw(st.lists(record_values(fields, "lead"), min_size=1, max_size=6))
    with crm.unit_of_work(REP) as uow:
        ids = [uow.leads.capture(last_name=f"L{i}", custom=v).id for i, v in enumerate(inputs)]
    with crm.unit_of_work(REP) as uow:
        leads = [uow.leads.get(id) for id in ids]
        for lead, given_values in zip(leads, inputs, strict=True):
            assert lead.custom == CustomValues(fields.validate("lead", given_values))
        for spec in fields.for_kind("lead"):
            if spec.retired:
                continue
            for name in (index.name for index in spec.index_fields()):
                rows = {lead.id: fields.index_values("lead", lead.custom)[name] for lead in leads}
                for wanted in {value for value in rows.values() if value not in (None, ())}:
                    # One value per query: multi-valued fields match any of their values.
                    probe = wanted[0] if isinstance(wanted, tuple) else wanted
                    found = {lead.id for lead in uow.leads.find(Eq(name, probe), limit=50).items}
                    expected = {
                        id
                        for id, value in rows.items()
                        if value == probe or (isinstance(value, tuple) and probe in value)
                    }
                    assert found == expected, (name, probe)
                if spec.type.value == "multi_choice":
                    continue
                ordered = [
                    lead.id for lead in uow.leads.find(order_by=(Order(name),), limit=50).items
                ]
                present = sorted((value, id) for id, value in rows.items() if value is not None)
                absent = sorted(id for id, value in rows.items() if value is None)
                by_python = [id for _, id in present] + absent  # nulls last, ties by id
                assert ordered == by_python, name


@settings(max_examples=25 if CI else 80, deadline=None)
@given(st.data())
def test_invalid_values_are_refused_naming_the_field_and_nothing_is_written(data: Any) -> None:
    fields = data.draw(custom_fields(max_fields=3).filter(lambda f: live(f, "contact")))
    spec = data.draw(st.sampled_from(live(fields, "contact")))
    bad = data.draw(invalid_custom_values(spec))
    store = MemoryStore()
    crm = Crm(store, clock=FixedClock(NOW), custom_fields=fields)
    good = data.draw(record_values(fields, "contact"))
    with pytest.raises(ValidationError) as info, crm.unit_of_work(REP) as uow:
        uow.contacts.create("Lovelace", custom={**good, spec.name: bad})
    assert info.value.field.startswith(f"custom.{spec.name}")
    assert "contact" in info.value.rule
    assert crm.events() == []


DEAL_FIELDS = CustomFields(
    [
        FieldSpec("opportunity", "segment", "choice", choices=("smb", "enterprise"), indexed=True),
        FieldSpec("opportunity", "discount", "decimal", indexed=True),
        FieldSpec("opportunity", "renewal", "boolean", indexed=True),
        FieldSpec("opportunity", "note", "text"),
    ]
)


@pytest.mark.parametrize("by", ["custom.segment", "custom.discount", "custom.renewal"])
def test_the_pipeline_groups_by_an_indexed_custom_field_in_the_store(
    any_store: DocumentStore, by: str
) -> None:
    crm = Crm(any_store, clock=FixedClock(NOW), custom_fields=DEAL_FIELDS)
    rates = FixedRates.of({("USD", "EUR"): Decimal("0.9")})
    deals = [  # (amount, currency, custom values)
        ("1000", "EUR", {"segment": "smb", "discount": "0.10", "renewal": True}),
        ("500", "USD", {"segment": "smb", "discount": "0.1"}),
        ("2000", "EUR", {"segment": "enterprise", "renewal": False}),
        ("300", "EUR", {}),
    ]
    with crm.unit_of_work(REP) as uow:
        for i, (amount, currency, custom) in enumerate(deals):
            uow.opportunities.open(
                f"Deal {i}", amount=Money.of(amount, currency), close_date=date(2025, 6, 30),
                custom=custom,
            )  # fmt: skip
    with crm.unit_of_work(REP) as uow:
        pushed = uow.reports.pipeline(currency="EUR", rates=rates, by=("stage", by))
        fallback = uow.reports.pipeline(
            currency="EUR", rates=rates, by=("stage", by), pushdown=False
        )
        everything = list(uow.find_all(OPPORTUNITIES))
    pure = pipeline(everything, currency="EUR", rates=rates, on=NOW.date(), by=("stage", by))
    assert pushed == fallback == pure
    assert pushed.custom_field == by.removeprefix("custom.")
    labels = {row.custom: row.count for row in pushed.rows}
    expected = {
        "custom.segment": {"smb": 2, "enterprise": 1, None: 1},
        "custom.discount": {"0.1": 2, None: 2},  # 0.10 and 0.1 are one value
        "custom.renewal": {"true": 1, "false": 1, None: 2},
    }[by]
    assert labels == expected
    assert to_rows(pushed)[0]["custom"] == pushed.rows[0].custom


def test_a_pipeline_by_a_custom_field_that_cannot_group_is_refused() -> None:
    crm = Crm(MemoryStore(), clock=FixedClock(NOW), custom_fields=DEAL_FIELDS)
    rates = FixedRates.of({})
    with crm.unit_of_work(REP) as uow:
        for by, field in (
            ("custom.note", "by"),  # not indexed
            ("custom.colour", "custom.colour"),  # not a field
            (("custom.segment", "custom.discount"), "by"),  # two custom fields
            ("custom", "by"),
        ):
            with pytest.raises(ValidationError) as info:
                uow.reports.pipeline(currency="EUR", rates=rates, by=by)
            assert info.value.field == field


@settings(
    max_examples=10 if CI else 40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.data())
def test_custom_values_survive_export_then_import(data: Any) -> None:
    fields = data.draw(custom_fields(max_fields=5))
    source = Crm(MemoryStore(), clock=FixedClock(NOW), custom_fields=fields)
    inputs = data.draw(st.lists(record_values(fields, "contact"), min_size=1, max_size=4))
    with source.unit_of_work(REP) as uow:
        made = [uow.contacts.create(f"P{i}", custom=v) for i, v in enumerate(inputs)]
    out = io.BytesIO()
    assert source.exports.run(REP, "contact", out) == len(made)
    target = Crm(MemoryStore(), clock=FixedClock(NOW), custom_fields=fields)
    report = target.imports.run(REP, "contact", out.getvalue())
    assert report.errors == ()
    assert report.created == len(made)
    with target.unit_of_work(REP) as uow:
        for contact in made:
            assert uow.contacts.get(contact.id).custom == contact.custom


def test_a_dry_run_reports_bad_custom_cells_by_row_and_column() -> None:
    fields = CustomFields(
        [
            FieldSpec("contact", "tier", "choice", choices=("gold", "silver")),
            FieldSpec("contact", "seats", "integer", required=True),
            FieldSpec("contact", "nickname", "text", max_length=5),
        ]
    )
    crm = Crm(MemoryStore(), clock=FixedClock(NOW), custom_fields=fields)
    text = (
        "last_name,custom.tier,custom.seats,custom.nickname\n"
        "Lovelace,gold,3,Ada\n"
        "Byron,bronze,2,\n"  # not a choice
        "Babbage,silver,many,\n"  # not a number
        "Somerville,,,\n"  # required seats missing
        "Herschel,gold,1,Carolina\n"  # too long; text is personal: not shown
    )
    report = crm.imports.run(REP, "contact", text.encode(), dry_run=True)
    found = [(e.row, e.column, e.value) for e in report.errors]
    assert found == [
        (3, "custom.tier", "bronze"),
        (4, "custom.seats", "many"),
        (5, "custom.seats", None),
        (6, "custom.nickname", None),
    ]
    assert crm.events() == []
    done = crm.imports.run(REP, "contact", text.encode())
    assert (done.created, done.rejected) == (1, 4)
