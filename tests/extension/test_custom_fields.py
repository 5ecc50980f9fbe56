"""Custom fields: specs, validation, the JSON codec, index values and migration plans."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.extension.custom_fields import CustomFields, CustomValue, FieldSpec, FieldType
from crmkit.extension.custom_migration import Migration, plan_migration
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, loads
from crmkit.kernel.time import to_micros
from crmkit.ports.query import Eq, Order, Query, Range, matches, run_query
from crmkit.ports.storage import Document, IndexType, KindSpec
from crmkit.testing._strategies_custom_fields import (
    CUSTOM_KINDS,
    custom_fields,
    field_specs,
    invalid_custom_values,
    normal_values,
    record_values,
)

PLUS_TWO = timezone(timedelta(hours=2))


def lead_fields(*specs: FieldSpec) -> CustomFields:
    return CustomFields(specs)


def fails(call: Any, field: str, rule_part: str = "") -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.field == field
    assert rule_part in info.value.rule
    return info.value


# --- specs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"name": "Budget"}, "name", "must match"),
        ({"name": "a" * 41}, "name", "must match"),
        ({"name": "9lives"}, "name", "must match"),
        ({"kind": "Lead"}, "kind", "must match"),
        ({"type": "float"}, "type", "must be one of"),
        ({"choices": ("a",)}, "choices", "only for choice"),
        ({"required": 1}, "required", "must be bool"),
        ({"max_length": 0}, "max_length", "from 1 to"),
        ({"type": "integer", "max_length": 5}, "max_length", "only for text"),
        ({"type": "integer", "multiline": True}, "multiline", "only for text"),
        ({"type": "integer", "default": "5"}, "default", "must be an integer"),
        ({"type": "decimal", "default": 0.5}, "default", "never a float"),
        ({"max_length": 3, "default": "abcd"}, "default", "at most 3 characters"),
    ],
)
def test_spec_rules(kwargs: dict[str, Any], field: str, rule: str) -> None:
    args: dict[str, Any] = {"kind": "lead", "name": "note", "type": "text", **kwargs}
    fails(lambda: FieldSpec(**args), field, rule)


def test_choice_specs() -> None:
    fails(lambda: FieldSpec("lead", "tier", "choice"), "choices", "must not be empty")
    fails(lambda: FieldSpec("lead", "tier", "choice", choices=("a", "a")), "choices[1]", "twice")
    fails(lambda: FieldSpec("lead", "tier", "choice", choices=("a", "")), "choices[1]", "empty")
    fails(lambda: FieldSpec("lead", "tier", "choice", choices="ab"), "choices", "list or tuple")
    fails(
        lambda: FieldSpec("lead", "t", "multi_choice", choices=("a",), default=()),
        "default",
        "at least one",
    )
    spec = FieldSpec("lead", "t", "multi_choice", choices=("b", "a"), default=["b", "a", "b"])
    assert spec.default == ("a", "b")
    assert spec.choices == ("b", "a")  # display order kept


def test_default_is_normalised() -> None:
    spec = FieldSpec("lead", "at", "datetime", default=datetime(2026, 1, 1, 2, tzinfo=PLUS_TWO))
    assert spec.default == datetime(2026, 1, 1, tzinfo=UTC)
    assert isinstance(spec.default, datetime)
    assert spec.default.tzinfo is UTC
    assert FieldSpec("lead", "d", "decimal", default=" 1.50 ").default == Decimal("1.50")


def test_custom_fields_refuses_duplicates_and_bad_specs() -> None:
    note = FieldSpec("lead", "note", "text")
    fails(lambda: CustomFields([note, note]), "specs[1].name", "declared twice for kind lead")
    assert CustomFields([note, FieldSpec("contact", "note", "text")]).kinds() == (
        "lead",
        "contact",
    )
    fails(
        lambda: CustomFields(
            [FieldSpec("lead", "x", "money"), FieldSpec("lead", "x_minor", "integer")]
        ),
        "specs[1].name",
        "cf_x_minor",
    )
    fails(lambda: CustomFields([note, {"kind": "lead", "name": "n", "type": "x"}]), "specs[1].type")
    fails(lambda: CustomFields([{"kind": "lead", "name": "n"}]), "specs[0].type", "required")
    fails(lambda: CustomFields([{"kind": "lead", "nme": "n"}]), "specs[0].nme", "not an attribute")
    fails(lambda: CustomFields([5]), "specs[0]", "FieldSpec or a mapping")
    fails(lambda: CustomFields("lead"), "specs", "list or tuple")


def test_for_kind_and_spec() -> None:
    fields = lead_fields(FieldSpec("lead", "a", "text"), FieldSpec("lead", "b", "boolean"))
    assert [spec.name for spec in fields.for_kind("lead")] == ["a", "b"]
    assert fields.for_kind("contact") == ()
    assert fields.spec("lead", "b").type is FieldType.BOOLEAN
    fails(lambda: fields.spec("lead", "c"), "custom.c", "not a custom field of lead")
    fails(lambda: fields.for_kind(5), "kind")  # type: ignore[arg-type]


# --- validation per type ---------------------------------------------------


def test_text_is_cleaned_and_never_echoed() -> None:
    fields = lead_fields(
        FieldSpec("lead", "note", "text", max_length=5),
        FieldSpec("lead", "bio", "text", multiline=True),
    )
    assert fields.validate("lead", {"note": " Cafe\u0301 "}) == {"note": "Café"}
    assert fields.validate("lead", {"bio": "a\nb"}) == {"bio": "a\nb"}
    for bad, rule in [
        ("secret", "at most 5"),
        ("a\nb", "control character U+000A"),
        ("a\x00", "U+0000"),
        ("\ud800", "lone surrogate"),
        ("  ", "must not be empty"),
    ]:
        error = fails(lambda bad=bad: fields.validate("lead", {"note": bad}), "custom.note", rule)
        assert error.value is None
        assert error.personal
        assert "lead field" in error.rule
        assert "secret" not in str(error)
    assert len(fields.validate("lead", {"bio": "x" * 20_000})["bio"]) == 20_000
    fails(lambda: fields.validate("lead", {"bio": "x" * 20_001}), "custom.bio", "at most 20000")


def test_numbers() -> None:
    fields = lead_fields(FieldSpec("lead", "n", "integer"), FieldSpec("lead", "d", "decimal"))
    assert fields.validate("lead", {"n": -(2**63), "d": " 2.50 "}) == {
        "n": -(2**63),
        "d": Decimal("2.50"),
    }
    assert fields.validate("lead", {"d": 7}) == {"d": Decimal(7)}
    assert fields.validate("lead", {"d": Decimal("9223372036854.775807")})["d"] > 0
    for bad, rule in [(True, "must be an integer"), (1.0, "integer"), (2**63, "64-bit")]:
        error = fails(lambda bad=bad: fields.validate("lead", {"n": bad}), "custom.n", rule)
        assert error.value == bad
    for bad, rule in [
        (0.5, "never a float"),
        (True, "never a float"),
        ("NaN", "finite"),
        ("1.0000001", "at most 6 decimal places"),
        (Decimal("9223372036854.775808"), "must lie between"),
        ("1E+40", "must lie between"),
        ("ten", "decimal number"),
    ]:
        fails(lambda bad=bad: fields.validate("lead", {"d": bad}), "custom.d", rule)


def test_booleans_dates_and_instants() -> None:
    fields = lead_fields(
        FieldSpec("lead", "b", "boolean"),
        FieldSpec("lead", "day", "date"),
        FieldSpec("lead", "at", "datetime"),
    )
    got = fields.validate(
        "lead", {"b": False, "day": date(2026, 2, 28), "at": datetime(2026, 1, 1, tzinfo=PLUS_TWO)}
    )
    assert got == {
        "b": False,
        "day": date(2026, 2, 28),
        "at": datetime(2025, 12, 31, 22, tzinfo=UTC),
    }
    fails(lambda: fields.validate("lead", {"b": 1}), "custom.b", "true or false")
    fails(
        lambda: fields.validate("lead", {"day": datetime.now(UTC)}), "custom.day", "not a datetime"
    )
    fails(lambda: fields.validate("lead", {"day": "2026-01-01"}), "custom.day", "must be a date")
    fails(lambda: fields.validate("lead", {"at": datetime(2026, 1, 1)}), "custom.at", "aware")
    fails(
        lambda: fields.validate("lead", {"at": datetime(1, 1, 1, tzinfo=PLUS_TWO)}),
        "custom.at",
        "years 1 to 9999",
    )


def test_money_and_choices() -> None:
    fields = lead_fields(
        FieldSpec("lead", "price", "money"),
        FieldSpec("lead", "tier", "choice", choices=("gold", "silver")),
        FieldSpec("lead", "tags", "multi_choice", choices=("b", "a", "c")),
    )
    got = fields.validate(
        "lead", {"price": Money.of("3", "EUR"), "tier": "gold", "tags": {"c", "a"}}
    )
    assert got == {"price": Money.of("3.00", "EUR"), "tier": "gold", "tags": ("a", "c")}
    assert fields.validate("lead", {"tags": ["b", "b"]}) == {"tags": ("b",)}
    fails(lambda: fields.validate("lead", {"price": Decimal(3)}), "custom.price", "must be Money")
    error = fails(lambda: fields.validate("lead", {"tier": "bronze"}), "custom.tier", "one of")
    assert error.value == "bronze"
    fails(lambda: fields.validate("lead", {"tags": "a"}), "custom.tags", "list or tuple")
    fails(lambda: fields.validate("lead", {"tags": ["a", "z"]}), "custom.tags[1]", "one of")


def test_defaults_required_unknown_and_retired() -> None:
    fields = lead_fields(
        FieldSpec("lead", "src", "choice", choices=("web", "fair"), default="web", required=True),
        FieldSpec("lead", "score", "integer", required=True),
        FieldSpec("lead", "tags", "multi_choice", choices=("a",), required=True, default=("a",)),
        FieldSpec("lead", "old", "text", retired=True, default="x"),
        FieldSpec("lead", "opt", "integer"),
    )
    assert fields.validate("lead", {"score": 1, "opt": None}) == {
        "src": "web",
        "score": 1,
        "tags": ("a",),
    }
    assert fields.validate("lead", {"score": 1, "src": "fair"})["src"] == "fair"
    fails(lambda: fields.validate("lead", {}), "custom.score", "lead field is required")
    fails(lambda: fields.validate("lead", {"score": None}), "custom.score", "required")
    fails(lambda: fields.validate("lead", {"score": 1, "tags": []}), "custom.tags", "required")
    fails(lambda: fields.validate("lead", {"score": 1, "old": "v"}), "custom.old", "retired")
    fails(lambda: fields.validate("lead", {"score": 1, "nope": 1}), "custom.nope", "of lead")
    fails(lambda: fields.validate("lead", [("score", 1)]), "custom", "mapping")  # type: ignore[arg-type]
    fails(lambda: fields.validate("contact", {"score": 1}), "custom.score", "of contact")
    assert fields.validate("contact", {}) == {}


# --- JSON codec ----------------------------------------------------------------

ALL = lead_fields(
    FieldSpec("lead", "note", "text"),
    FieldSpec("lead", "n", "integer"),
    FieldSpec("lead", "d", "decimal"),
    FieldSpec("lead", "b", "boolean"),
    FieldSpec("lead", "day", "date"),
    FieldSpec("lead", "at", "datetime"),
    FieldSpec("lead", "price", "money"),
    FieldSpec("lead", "tier", "choice", choices=("gold", "silver")),
    FieldSpec("lead", "tags", "multi_choice", choices=("x", "y")),
    FieldSpec("lead", "gone", "integer", retired=True),
)


def test_json_forms() -> None:
    values = ALL.validate(
        "lead",
        {
            "note": "hi",
            "n": 3,
            "d": "1.50",
            "b": True,
            "day": date(2026, 3, 1),
            "at": datetime(2026, 3, 1, 12, tzinfo=PLUS_TWO),
            "price": Money.of("9.5", "KWD"),
            "tier": "gold",
            "tags": ["y", "x"],
        },
    )
    data = ALL.to_json("lead", values)
    assert data == {
        "note": "hi",
        "n": 3,
        "d": "1.50",
        "b": True,
        "day": "2026-03-01",
        "at": "2026-03-01T10:00:00+00:00",
        "price": {"amount": "9.500", "currency": "KWD"},
        "tier": "gold",
        "tags": ["x", "y"],
    }
    assert ALL.from_json("lead", loads(dumps(data))) == values
    assert ALL.from_json("lead", {"gone": 4}) == {"gone": 4}  # stored values of retired fields
    assert ALL.to_json("lead", {"gone": 4}) == {"gone": 4}


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"n": 1.0}, "custom.n", "must be an integer"),
        ({"n": True}, "custom.n", "must be an integer"),
        ({"n": "1"}, "custom.n", "must be an integer"),
        ({"d": 1}, "custom.d", "decimal string"),
        ({"d": "1.0000001"}, "custom.d", "6 decimal places"),
        ({"b": 1}, "custom.b", "true or false"),
        ({"day": "20260301"}, "custom.day", "YYYY-MM-DD"),
        ({"day": "2026-W09-7"}, "custom.day", "YYYY-MM-DD"),
        ({"day": "2026-02-30"}, "custom.day", "YYYY-MM-DD"),
        ({"at": "2026-03-01T10:00:00"}, "custom.at", "aware"),
        ({"at": 1}, "custom.at", "ISO 8601"),
        ({"price": {"amount": 1, "currency": "EUR"}}, "custom.price.amount", "decimal string"),
        ({"price": {"amount": "1.001", "currency": "EUR"}}, "custom.price.amount", "places"),
        ({"price": {"amount": "1", "currency": "XXX"}}, "custom.price.currency", "4217"),
        ({"price": {"amount": "1"}}, "custom.price", "amount and currency"),
        ({"price": "1 EUR"}, "custom.price", "amount and currency"),
        ({"tier": "bronze"}, "custom.tier", "one of"),
        ({"tags": "x"}, "custom.tags", "must be a list"),
        ({"tags": ["x", 1]}, "custom.tags[1]", "one of"),
        ({"note": 5}, "custom.note", "must be a string"),
        ({"other": 5}, "custom.other", "not a custom field of lead"),
    ],
)
def test_from_json_is_strict(data: dict[str, Any], field: str, rule: str) -> None:
    error = fails(lambda: ALL.from_json("lead", data), field, rule)
    assert error.rule.startswith("lead field ") or "not a custom field" in error.rule


def test_from_json_needs_an_object_and_to_json_checks_types() -> None:
    fails(lambda: ALL.from_json("lead", [1]), "custom", "JSON object")
    fails(lambda: ALL.to_json("lead", {"n": 1.5}), "custom.n", "integer")  # type: ignore[dict-item]
    fails(lambda: ALL.index_values("lead", {"d": 0.1}), "custom.d", "float")  # type: ignore[dict-item]


# --- index ---------------------------------------------------------------------


def test_index_fields_and_values() -> None:
    fields = lead_fields(
        FieldSpec("lead", "d", "decimal", indexed=True),
        FieldSpec("lead", "day", "date", indexed=True),
        FieldSpec("lead", "at", "datetime", indexed=True),
        FieldSpec("lead", "price", "money", indexed=True),
        FieldSpec("lead", "tags", "multi_choice", choices=("x", "y"), indexed=True),
        FieldSpec("lead", "flag", "boolean", indexed=True, retired=True),
        FieldSpec("lead", "plain", "integer"),
    )
    spec = KindSpec("lead", fields.index_fields("lead"))
    assert [(f.name, f.type, f.multi) for f in spec.indexes] == [
        ("cf_d", IndexType.INT, False),
        ("cf_day", IndexType.TEXT, False),
        ("cf_at", IndexType.INT, False),
        ("cf_price_minor", IndexType.INT, False),
        ("cf_price_currency", IndexType.TEXT, False),
        ("cf_tags", IndexType.TEXT, True),
    ]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    values = fields.validate(
        "lead", {"d": "-1.5", "day": date(2026, 1, 2), "at": at, "price": Money.of("1", "JPY")}
    )
    index = fields.index_values("lead", values | {"flag": True})
    assert index == {
        "cf_d": -1_500_000,
        "cf_day": "2026-01-02",
        "cf_at": to_micros(at),
        "cf_price_minor": 1,
        "cf_price_currency": "JPY",
        "cf_tags": None,
    }
    for name, value in index.items():
        spec.field(name).check(value)
    absent = fields.index_values("lead", {})
    assert absent == dict.fromkeys(absent)
    assert "cf_price_minor" in absent


# --- properties ----------------------------------------------------------------


@st.composite
def fields_and_kind(draw: st.DrawFn) -> tuple[CustomFields, str]:
    return draw(custom_fields()), draw(st.sampled_from(CUSTOM_KINDS))


@settings(max_examples=100, deadline=None)
@given(data=st.data(), pair=fields_and_kind())
def test_valid_values_round_trip(data: st.DataObject, pair: tuple[CustomFields, str]) -> None:
    fields, kind = pair
    values = fields.validate(kind, data.draw(record_values(fields, kind)))
    assert fields.validate(kind, values) == values  # idempotent
    as_json = fields.to_json(kind, values)
    assert fields.from_json(kind, as_json) == values
    assert fields.from_json(kind, loads(dumps(as_json))) == values
    assert fields.to_json(kind, fields.from_json(kind, as_json)) == as_json
    schema = KindSpec(kind, fields.index_fields(kind))
    for name, value in fields.index_values(kind, values).items():
        assert schema.field(name).check(value) == value


@settings(max_examples=100, deadline=None)
@given(data=st.data(), pair=fields_and_kind())
def test_invalid_values_name_the_field(data: st.DataObject, pair: tuple[CustomFields, str]) -> None:
    fields, kind = pair
    live = [spec for spec in fields.for_kind(kind) if not spec.retired]
    if not live:
        return
    spec = data.draw(st.sampled_from(live))
    values = data.draw(record_values(fields, kind))
    values[spec.name] = data.draw(invalid_custom_values(spec))
    with pytest.raises(ValidationError) as info:
        fields.validate(kind, values)
    assert info.value.field.startswith(spec.field)
    assert info.value.field[len(spec.field) :][:1] in ("", "[", ".")
    if spec.type is FieldType.TEXT:
        assert info.value.value is None


def _docs(fields: CustomFields, records: list[dict[str, CustomValue]]) -> list[Document]:
    return [
        Document("lead", f"r{i:03}", 1, "{}", fields.index_values("lead", values))
        for i, values in enumerate(records)
    ]


@st.composite
def indexed_case(draw: st.DrawFn) -> tuple[CustomFields, FieldSpec, list[dict[str, Any]], Any]:
    spec = draw(field_specs("lead", "f"))
    spec = FieldSpec(
        "lead", "f", spec.type, choices=spec.choices, indexed=True, max_length=spec.max_length
    )
    fields = CustomFields([spec])
    values = normal_values(spec)
    records = draw(st.lists(st.one_of(st.just({}), values.map(lambda v: {"f": v})), max_size=12))
    probe = draw(st.one_of(values, st.sampled_from([r["f"] for r in records if r] or [None])))
    return fields, spec, records, probe


@settings(max_examples=200, deadline=None)
@given(case=indexed_case())
def test_index_agrees_with_python(
    case: tuple[CustomFields, FieldSpec, list[dict[str, Any]], Any],
) -> None:
    fields, spec, records, probe = case
    docs = _docs(fields, records)
    if probe is None:
        return
    held = [record.get("f") for record in records]
    if spec.type is FieldType.MULTI_CHOICE:
        for choice in probe:
            got = [matches(Eq("cf_f", choice), doc) for doc in docs]
            assert got == [v is not None and choice in v for v in held]
        return
    if spec.type is FieldType.MONEY:
        minor, currency = probe.to_minor(), probe.currency
        for doc, v in zip(docs, held, strict=True):
            same = matches(Eq("cf_f_currency", currency), doc)
            assert same == (v is not None and v.currency == currency)
            if same:
                assert matches(Eq("cf_f_minor", minor), doc) == (v == probe)
                assert matches(Range("cf_f_minor", gte=minor), doc) == (v >= probe)
        return
    (key,) = fields.index_values("lead", {"f": probe}).values()
    assert key is not None
    assert not isinstance(key, tuple)
    assert [matches(Eq("cf_f", key), doc) for doc in docs] == [v == probe for v in held]
    assert [matches(Range("cf_f", gte=key), doc) for doc in docs] == [
        v is not None and v >= probe for v in held
    ]
    assert [matches(Range("cf_f", lt=key), doc) for doc in docs] == [
        v is not None and v < probe for v in held
    ]
    ordered = run_query(Query("lead", order_by=(Order("cf_f"),), limit=100), docs)
    expected = sorted(v for v in held if v is not None)
    got = [records[int(doc.id[1:])].get("f") for doc in ordered]
    assert got[: len(expected)] == expected
    assert all(v is None for v in got[len(expected) :])


# --- migration -------------------------------------------------------------------


def test_plan_migration() -> None:
    old = lead_fields(
        FieldSpec("lead", "a", "integer"),
        FieldSpec("lead", "b", "integer", indexed=True),
        FieldSpec("lead", "c", "text", retired=True, indexed=True),
        FieldSpec("lead", "t", "choice", choices=("x",)),
    )
    new = lead_fields(
        FieldSpec("lead", "a", "integer", indexed=True, required=True),
        FieldSpec("lead", "b", "integer", indexed=True, retired=True),
        FieldSpec("lead", "c", "text", indexed=True, max_length=300),
        FieldSpec("lead", "t", "choice", choices=("x", "y")),
        FieldSpec("contact", "z", "boolean", indexed=True),
    )
    plan = plan_migration(old, new)
    names = {key: [s.name for s in getattr(plan, key)] for key in attrs_names()}
    assert names == {
        "added": ["z"],
        "made_indexed": ["a", "c"],
        "unindexed": ["b"],
        "retired": ["b"],
        "revived": ["c"],
        "newly_required": ["a"],
    }
    assert [s.name for s in plan.backfill("lead")] == ["a", "c"]
    assert [f.name for f in plan.dropped_index_fields("lead")] == ["cf_b"]
    assert plan.backfill("contact") == ()
    assert plan_migration(new, new) == Migration()
    assert plan_migration(new, new).is_empty
    assert not plan.is_empty


def attrs_names() -> list[str]:
    return ["added", "made_indexed", "unindexed", "retired", "revived", "newly_required"]


@pytest.mark.parametrize(
    ("before", "after", "rule"),
    [
        (FieldSpec("lead", "f", "integer"), FieldSpec("lead", "f", "decimal"), "change type"),
        (
            FieldSpec("lead", "f", "integer", retired=True),
            FieldSpec("lead", "f", "text", retired=True),
            "change type",
        ),
        (
            FieldSpec("lead", "f", "choice", choices=("a", "b")),
            FieldSpec("lead", "f", "choice", choices=("a",)),
            "drop a choice",
        ),
        (
            FieldSpec("lead", "f", "text"),
            FieldSpec("lead", "f", "text", max_length=50),
            "shorten max_length below 200",
        ),
        (
            FieldSpec("lead", "f", "text", multiline=True),
            FieldSpec("lead", "f", "text", max_length=20_000),
            "multiline",
        ),
    ],
)
def test_incompatible_changes_are_refused(before: FieldSpec, after: FieldSpec, rule: str) -> None:
    fails(lambda: plan_migration(lead_fields(before), lead_fields(after)), "custom.f", rule)


def test_removing_a_field_is_refused() -> None:
    old = lead_fields(FieldSpec("lead", "f", "integer"))
    fails(lambda: plan_migration(old, lead_fields()), "custom.f", "retire it instead")
    fails(lambda: plan_migration(old, "x"), "new", "CustomFields")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(fields=custom_fields(), data=st.data())
def test_compatible_changes_plan_the_index(fields: CustomFields, data: st.DataObject) -> None:
    changed = [
        FieldSpec(
            spec.kind,
            spec.name,
            spec.type,
            choices=spec.choices,
            max_length=spec.max_length,
            multiline=spec.multiline,
            indexed=data.draw(st.booleans()),
            retired=data.draw(st.booleans()),
        )
        for spec in fields.specs
    ]
    new = CustomFields(changed)
    plan = plan_migration(fields, new)
    for kind in CUSTOM_KINDS:
        before = {f.name for f in fields.index_fields(kind)}
        after = {f.name for f in new.index_fields(kind)}
        added = {f.name for spec in plan.backfill(kind) for f in spec.index_fields()}
        dropped = {f.name for f in plan.dropped_index_fields(kind)}
        assert added == after - before
        assert dropped == before - after
