"""Capturing leads: LeadInput by hand, web forms, CSV imports and campaign responses."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.parties.values import Email
from crmkit.sales.capture import (
    DEFAULT_FIELD_MAP,
    CsvRow,
    LeadInput,
    from_campaign_response,
    from_web_form,
    read_csv,
)
from crmkit.sales.lead import Lead
from crmkit.sales.lead_values import LeadSource

STAMP = Stamp(datetime(2026, 3, 2, 9, tzinfo=UTC), "u-1")
SECRET = "anna.secret@example"


# --- by hand ---------------------------------------------------------------------------


def test_manual_input_is_validated_and_normalised() -> None:
    data = LeadInput(
        first_name=" Anna ",
        last_name="Berg",
        email="Anna@Example.COM",
        phone="+49 30 1234567",
        company="ACME GmbH",
        country="de",
        tags=["VIP", "vip"],
        answers={"budget": " 1000 "},
    )
    assert data.first_name == "Anna"
    assert data.email == Email("Anna@example.com")
    assert data.phone is not None
    assert data.phone.number == "+49301234567"
    assert (data.country, data.tags, data.answers) == ("DE", ("vip",), {"budget": "1000"})
    assert data.source == LeadSource("manual")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "lead"),
        ({"first_name": "Anna"}, "lead"),
        ({"company": "Acme", "country": "DEU"}, "country"),
        ({"company": "Acme", "country": 49}, "country"),
        ({"company": "Acme", "tags": "vip"}, "tags"),
        ({"company": "Acme", "answers": {"Budget!": "1"}}, "answers"),
        ({"company": "Acme", "answers": ["budget"]}, "answers"),
        ({"company": "Acme", "source": "web"}, "source"),
        ({"company": "Acme", "owner_id": "has space"}, "owner_id"),
        ({"company": "Acme\x00"}, "company"),
    ],
)
def test_manual_input_refuses_bad_values(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        LeadInput(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize("field", ["email", "phone", "first_name", "last_name"])
def test_personal_values_never_appear_in_errors(field: str) -> None:
    bad = {"email": SECRET, "phone": SECRET, "first_name": SECRET + "\x07", "last_name": 5}
    with pytest.raises(ValidationError) as info:
        LeadInput(company="Acme", **{field: bad[field]})  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.personal
    assert info.value.value is None
    assert SECRET not in str(info.value)


def test_capture_makes_a_new_lead_from_the_input() -> None:
    data = LeadInput(company="Acme", email="anna@example.com", source=LeadSource("event"))
    lead, event = Lead.capture("l-1", data, STAMP)
    assert (lead.id, lead.version, lead.status, lead.created_at) == ("l-1", 1, "new", STAMP.at)
    assert lead.email == data.email
    assert lead.source.channel == "event"
    assert event.summary() == "lead from Acme captured via event"
    assert "anna" not in event.summary()
    with pytest.raises(ValidationError, match="data"):
        Lead.capture("l-1", {"company": "Acme"}, STAMP)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="id"):
        Lead.capture("bad id", data, STAMP)


# --- web forms -------------------------------------------------------------------------


def test_web_form_accepts_common_field_names_and_ignores_others() -> None:
    data = from_web_form(
        {
            "FirstName": "Anna",
            "lastname": "Berg",
            "E-Mail": "anna@example.com",
            "Organisation": "ACME",
            "utm_source": "google",
            "utm_medium": "cpc",
            "message": "Call me",
            "budget": "5000",
            "g-recaptcha-response": "xyz",
            "newsletter": True,  # unknown fields are ignored whatever their type
        }
    )
    assert (data.first_name, data.last_name, data.company) == ("Anna", "Berg", "ACME")
    assert data.source == LeadSource("web", utm_source="google", utm_medium="cpc")
    assert (data.description, data.answers) == ("Call me", {"budget": "5000"})


def test_web_form_splits_a_full_name() -> None:
    assert from_web_form({"name": "Anna Maria Berg"}).first_name == "Anna Maria"
    single = from_web_form({"name": "Berg", "company": "Acme"})
    assert (single.first_name, single.last_name) == (None, "Berg")
    explicit = from_web_form({"name": "Anna Berg", "last_name": "Berg-Lund"})
    assert (explicit.first_name, explicit.last_name) == ("Anna", "Berg-Lund")


def test_web_form_refuses_non_string_values_naming_the_form_field() -> None:
    with pytest.raises(ValidationError) as info:
        from_web_form({"Company": 42})
    assert (info.value.field, info.value.rule) == ("Company", "must be a string")
    with pytest.raises(ValidationError) as info:
        from_web_form({"E-Mail": ["anna@example.com"]})
    assert info.value.field == "E-Mail"
    assert info.value.personal
    assert "anna" not in str(info.value)


def test_web_form_errors_name_the_form_field_and_hide_personal_values() -> None:
    with pytest.raises(ValidationError) as info:
        from_web_form({"your-email": SECRET}, field_map={"your-email": "email"})
    assert info.value.field == "your-email"
    assert SECRET not in str(info.value)
    with pytest.raises(ValidationError) as info:
        from_web_form({"firstname": "Anna"})
    assert info.value.field == "lead"  # nothing that identifies the lead


def test_a_public_form_cannot_choose_the_owner_unless_the_host_maps_it() -> None:
    assert from_web_form({"company": "Acme", "owner_id": "u-boss"}).owner_id is None
    mapped = from_web_form(
        {"company": "Acme", "rep": "u-2"}, field_map={"company": "company", "rep": "owner_id"}
    )
    assert mapped.owner_id == "u-2"


def test_web_form_field_map_is_checked() -> None:
    with pytest.raises(ValidationError, match="unknown lead field"):
        from_web_form({"x": "y"}, field_map={"x": "salary"})
    with pytest.raises(ValidationError, match="mapping"):
        from_web_form(["email"])  # type: ignore[arg-type]
    data = from_web_form(
        {"Firma": "Acme", "Q1": "now"}, field_map={"firma": "company", "q1": "answers.timeline"}
    )
    assert (data.company, data.answers) == ("Acme", {"timeline": "now"})


FORM_KEYS = st.sampled_from([*DEFAULT_FIELD_MAP, "x", "Email", "NAME"]) | st.text(max_size=8)
FORM_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["anna@example.com", "+4930123456", "de", "Anna Berg", "1000"]),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
)


@settings(max_examples=300)
@given(st.dictionaries(FORM_KEYS, FORM_VALUES, max_size=8))
def test_web_form_raises_only_validation_errors(payload: dict[str, object]) -> None:
    try:
        data = from_web_form(payload)
    except ValidationError:
        return
    assert isinstance(data, LeadInput)
    assert data.source.channel == "web"


# --- CSV imports -----------------------------------------------------------------------


def test_csv_keeps_going_past_a_bad_row() -> None:
    text = (
        "Email,First Name,Last Name,Company,Country\n"
        "anna@example.com,Anna,Berg,Acme,de\n"
        f"{SECRET},Bob,Stone,Globex,us\n"
        "\n"
        'carl@example.com,Carl,"Mayer, Jr.",Initech,FR\n'
    )
    rows = list(read_csv(text, field_map=None))
    assert [row.line for row in rows] == [2, 3, 5]
    assert [row.ok for row in rows] == [True, False, True]
    assert rows[0].lead is not None
    assert rows[0].lead.source.channel == "import"
    assert rows[1].error is not None
    assert rows[1].error.field == "Email"
    assert SECRET not in str(rows[1].error)
    assert rows[2].lead is not None
    assert rows[2].lead.last_name == "Mayer, Jr."


def test_csv_header_names_are_matched_loosely_or_by_map() -> None:
    lines = ["E-Mail;Org\n", "anna@example.com;Acme\n"]
    rows = list(read_csv([line.replace(";", ",") for line in lines]))
    assert rows == [
        CsvRow(2, lead=LeadInput(email="anna@example.com", source=LeadSource("import")))
    ]
    mapped = list(
        read_csv(
            "Mail,Firma\na@example.com,Acme\n", field_map={"mail": "email", "firma": "company"}
        )
    )
    assert mapped[0].lead is not None
    assert mapped[0].lead.company == "Acme"


@pytest.mark.parametrize(
    ("text", "field_map", "rule"),
    [
        ("", None, "is required"),
        ("\n\nanna@example.com\n", None, "is required"),
        ("notes,color\nx,y\n", None, "needs a column"),
        ("email\na@example.com\n", {"email": "email", "firma": "company"}, "misses"),
    ],
)
def test_csv_header_problems_are_reported_at_once(
    text: str, field_map: dict[str, str] | None, rule: str
) -> None:
    with pytest.raises(ValidationError) as info:
        read_csv(text, field_map=field_map)
    assert info.value.field == "header"
    assert rule in info.value.rule


def test_csv_refuses_what_is_not_text() -> None:
    with pytest.raises(ValidationError):
        read_csv(b"email\n")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        read_csv([b"email\n"])  # type: ignore[list-item]


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from('email,company,"\n\r x@.\x00é'), max_size=80))
def test_csv_raises_only_validation_errors(text: str) -> None:
    try:
        rows = list(read_csv(text))
    except ValidationError:
        return
    for row in rows:
        assert (row.lead is None) != (row.error is None)
        assert row.line >= 2


# --- campaign responses ----------------------------------------------------------------


def test_campaign_response_sets_the_campaign() -> None:
    data = from_campaign_response(
        "camp-7", email="anna@example.com", answers={"need": "CRM"}, utm_source="mail"
    )
    assert data.source == LeadSource("campaign", campaign_id="camp-7", utm_source="mail")
    assert data.answers == {"need": "CRM"}
    with pytest.raises(ValidationError, match="campaign_id"):
        from_campaign_response("bad id", email="anna@example.com")
    with pytest.raises(ValidationError) as info:
        from_campaign_response("camp-7", email=SECRET)
    assert SECRET not in str(info.value)
