"""Validated text, ids, instants and the value objects of parties."""

import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from crmkit import ActorKind, Address, ContactPointKind, Email, Phone, Principal, ValidationError
from crmkit.kernel.ids import SequentialIds, Uuid7Ids, check_id
from crmkit.kernel.text import LINE_MAX, clean_line, clean_text, clean_token
from crmkit.kernel.time import from_micros, require_aware, to_micros, zone
from crmkit.parties.values import clean_tag, clean_tags
from crmkit.testing.strategies import aware_datetimes, emails, phones

_BAD_IN_LINES = ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9f", "\ud800"]


@pytest.mark.parametrize("bad", _BAD_IN_LINES)
def test_lines_refuse_nul_controls_and_lone_surrogates(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        clean_line(f"Anna{bad}Berg", "name")
    assert info.value.field == "name"
    assert "surrogate" in info.value.rule or "control character" in info.value.rule


@pytest.mark.parametrize("bad", ["\x00", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\x9f", "\udc80"])
def test_free_text_refuses_the_same_but_keeps_tabs_and_line_breaks(bad: str) -> None:
    assert clean_text("line one\n\tline two\r\n", "body") == "line one\n\tline two"
    with pytest.raises(ValidationError):
        clean_text(f"a{bad}b", "body")


def test_lines_are_stripped_and_nfc() -> None:
    assert clean_line("  Cafe\u0301 Central ", "name") == "Café Central"
    assert clean_line("\u212b", "name") == "\u00c5"  # ANGSTROM SIGN -> A WITH RING


def test_empty_and_overlong_lines_are_refused() -> None:
    with pytest.raises(ValidationError, match="empty"):
        clean_line("   ", "name")
    assert clean_line("  ", "name", allow_empty=True) == ""
    assert clean_line("x" * LINE_MAX, "name") == "x" * LINE_MAX
    with pytest.raises(ValidationError, match="at most 200"):
        clean_line("x" * (LINE_MAX + 1), "name")


@pytest.mark.parametrize("value", [None, 5, b"bytes", ["a"], 1.5])
def test_text_must_be_a_string(value: object) -> None:
    with pytest.raises(ValidationError, match="must be a string"):
        clean_line(value, "name")
    with pytest.raises(ValidationError, match="must be a string"):
        clean_text(value, "body")


@given(st.text(max_size=50))
def test_clean_line_is_idempotent_and_leaves_only_what_it_allows(raw: str) -> None:
    try:
        once = clean_line(raw, "name")
    except ValidationError:
        return
    assert clean_line(once, "name") == once
    assert unicodedata.is_normalized("NFC", once)
    assert once == once.strip()
    assert not any(unicodedata.category(char) in ("Cc", "Cs") for char in once)


@given(st.text(max_size=50))
def test_clean_text_is_idempotent(raw: str) -> None:
    try:
        once = clean_text(raw, "body")
    except ValidationError:
        return
    assert clean_text(once, "body") == once
    assert unicodedata.is_normalized("NFC", once)


def test_tokens() -> None:
    assert clean_token("lead_2", "kind") == "lead_2"
    for bad in ["", "Lead", "2lead", "le-ad", "x" * 64, 5]:
        with pytest.raises(ValidationError):
            clean_token(bad, "kind")


def test_ids() -> None:
    assert check_id("c-000001", "id") == "c-000001"
    for bad in ["", "a b", "é", "x" * 101, "tab\there", 7, None]:
        with pytest.raises(ValidationError) as info:
            check_id(bad, "contact_id")
        assert info.value.field == "contact_id"


def test_id_generators() -> None:
    ids = SequentialIds("c", start=9)
    assert [ids(), ids()] == ["c-000009", "c-000010"]
    uuids = Uuid7Ids()
    made = [uuids() for _ in range(200)]
    assert made == sorted(made)
    assert len(set(made)) == 200
    assert all(len(u) == 36 and u[14] == "7" for u in made)


def test_instants_must_be_aware() -> None:
    aware = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert require_aware(aware, "at") is aware
    for bad in [datetime(2026, 1, 5, 9), "2026-01-05T09:00:00+00:00", None]:
        with pytest.raises(ValidationError) as info:
            require_aware(bad, "at")
        assert info.value.field == "at"


@given(aware_datetimes())
def test_micros_round_trip_to_the_same_instant(at: datetime) -> None:
    back = from_micros(to_micros(at))
    assert back == at
    assert back.tzinfo is UTC


def test_micros_sort_like_instants_across_offsets() -> None:
    berlin = datetime(2026, 1, 5, 10, tzinfo=timezone(timedelta(hours=1)))
    london = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert berlin < london
    assert to_micros(berlin) < to_micros(london)
    assert berlin.isoformat() > london.isoformat()  # why strings are not indexed


def test_zones_by_key() -> None:
    assert zone("Europe/Berlin").key == "Europe/Berlin"
    for bad in ["Mars/Olympus", "", "../../etc/passwd", "Europe/Berlin\x00", 5]:
        with pytest.raises(ValidationError) as info:
            zone(bad)
        assert info.value.field == "time_zone"


# --- email, phone, address, tags ---------------------------------------------


def test_emails_keep_the_local_part_and_lower_the_domain() -> None:
    email = Email("  Anna.Berg@Example.COM ")
    assert email.address == "Anna.Berg@example.com"
    assert email.key == "anna.berg@example.com"
    assert email.kind is ContactPointKind.WORK
    assert Email("jörg@bücher.example", "home").kind is ContactPointKind.HOME


@pytest.mark.parametrize(
    "bad",
    [
        "anna",
        "@example.com",
        "anna@",
        "anna@example",
        ".anna@example.com",
        "anna.@example.com",
        "an..na@example.com",
        "an na@example.com",
        "anna@-example.com",
        "anna@exa_mple.com",
        "a" * 65 + "@example.com",
        "anna@example..com",
    ],
)
def test_invalid_emails_are_refused_without_showing_the_address(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        Email(bad)
    assert info.value.field == "address"
    assert info.value.personal
    assert info.value.value is None
    assert bad not in str(info.value)


@given(emails())
def test_email_normalisation_is_idempotent(email: Email) -> None:
    assert Email(email.address, email.kind) == email
    assert email.key == email.address.casefold()


def test_phones_are_e164() -> None:
    assert Phone("+49 (30) 1234-567").number == "+49301234567"
    assert Phone("0049 30 1234567").number == "+49301234567"
    assert Phone.parse("030 1234567", country_code="49").number == "+49301234567"
    assert Phone.parse("+1 212 555 0100", country_code="49").number == "+12125550100"


@pytest.mark.parametrize(
    "bad", ["030 1234567", "+0 30 1234567", "+49 30", "+49 30 1234 5678 9012 34", "+49 3O 1234567"]
)
def test_invalid_phones_are_refused_without_showing_the_number(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        Phone(bad)
    assert info.value.field == "number"
    assert bad not in str(info.value)
    with pytest.raises(ValidationError):
        Phone.parse("030 1234567", country_code="+49")


@given(phones())
def test_phone_normalisation_is_idempotent(phone: Phone) -> None:
    assert Phone(phone.number, phone.kind) == phone


def test_addresses() -> None:
    address = Address(["Hauptstr. 1", "  Hinterhaus "], "Berlin", "de", postal_code="10115")
    assert address.lines == ("Hauptstr. 1", "Hinterhaus")
    assert address.country == "DE"
    for bad_country in ["DEU", "D", "ß", "ﬀ", "1A", None]:
        with pytest.raises(ValidationError) as info:
            Address(["Hauptstr. 1"], "Berlin", bad_country)
        assert info.value.field == "country"
    for bad_lines in [[], ["a", "b", "c", "d"], "Hauptstr. 1", [5]]:
        with pytest.raises(ValidationError) as info:
            Address(bad_lines, "Berlin", "DE")
        assert info.value.field.startswith("lines")
        assert info.value.personal


def test_street_lines_are_never_shown_in_errors() -> None:
    with pytest.raises(ValidationError) as info:
        Address(["Geheimweg 7\x00"], "Berlin", "DE")
    assert info.value.field == "lines[0]"
    assert "Geheimweg" not in str(info.value)


def test_tags_are_folded_deduplicated_sorted_and_nfc() -> None:
    assert clean_tags(["VIP", " vip ", "Key Account", "Straße"]) == (
        "key account",
        "strasse",
        "vip",
    )
    folded = clean_tag("\u01f0")  # folds to j + combining caron, which NFC composes again
    assert unicodedata.is_normalized("NFC", folded)
    for bad in ["vip", 5, None, {"vip": 1}]:
        with pytest.raises(ValidationError):
            clean_tags(bad)


@given(st.lists(st.text(min_size=1, max_size=12), max_size=4))
def test_tag_cleaning_is_idempotent(raw: list[str]) -> None:
    try:
        once = clean_tags(raw)
    except ValidationError:
        return
    assert clean_tags(once) == once
    assert all(unicodedata.is_normalized("NFC", tag) for tag in once)


# --- principals ----------------------------------------------------------------


def test_principals() -> None:
    principal = Principal("u-1", roles=["sales_rep", "sales_rep"], teams={"t-north"})
    assert principal.roles == frozenset({"sales_rep"})
    assert principal.teams == frozenset({"t-north"})
    assert principal.kind is ActorKind.USER
    assert Principal("nightly", kind=ActorKind.JOB).kind is ActorKind.JOB


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"id": ""}, "id"),
        ({"id": "u 1"}, "id"),
        ({"id": None}, "id"),
        ({"id": "u-1", "roles": "admin"}, "roles"),
        ({"id": "u-1", "roles": ["bad role"]}, "roles"),
        ({"id": "u-1", "teams": 5}, "teams"),
        ({"id": "u-1", "kind": "robot"}, "kind"),
    ],
)
def test_invalid_principals_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Principal(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
