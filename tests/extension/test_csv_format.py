"""CSV import and export: opening real files, mapping headers, row errors, and round trips."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from crmkit.activities.activity import Activity, ActivityKind, ActivityStatus, RecordRef
from crmkit.extension.csv_columns import column_for, join_list, split_list
from crmkit.extension.csv_format import (
    EncodingError,
    Row,
    RowData,
    RowError,
    read_rows,
    row_of,
    validate_row,
    write_rows,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money
from crmkit.parties.contact import Contact
from crmkit.parties.values import Address, Email, Phone
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead import Lead
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pipeline import DEFAULT_PIPELINE
from crmkit.testing._strategies_leads import leads
from crmkit.testing.strategies import contacts, tokens

STAMP = Stamp(datetime(2024, 5, 1, 9, 30, tzinfo=UTC), "u-1")


def rows_of(kind: str, data: bytes, **options: object) -> list[Row | RowError]:
    return list(read_rows(kind, io.BytesIO(data), **options))  # type: ignore[arg-type]


def only_rows(items: list[Row | RowError]) -> list[Row]:
    assert all(isinstance(item, Row) for item in items), items
    return [item for item in items if isinstance(item, Row)]


# --- opening files -----------------------------------------------------------------------


def test_a_utf8_bom_is_dropped() -> None:
    data = "\ufeffid,Last Name\r\nc-1,Berg\r\n".encode()
    reader = read_rows("contact", io.BytesIO(data))
    assert reader.header == ("id", "Last Name")
    assert only_rows(list(reader)) == [Row(2, {"id": "c-1", "last_name": "Berg"})]


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_the_delimiter_is_sniffed_from_the_header(delimiter: str) -> None:
    text = delimiter.join(["id", "last_name", "tags"]) + "\n"
    text += delimiter.join(["c-1", "Berg", '"vip, north"']) + "\n"
    reader = read_rows("contact", text.encode())
    assert reader.delimiter == delimiter
    (row,) = only_rows(list(reader))
    assert row.values == {"id": "c-1", "last_name": "Berg", "tags": "vip, north"}


def test_a_semicolon_file_with_commas_in_cells() -> None:
    data = b"Nachname;Stadt;Land;Strasse\nM\xc3\xbcller, Jr.;Berlin;DE;Hauptstr. 1, Hof\n"
    reader = read_rows(
        "contact", data, mapping={"Nachname": "last_name", "Stadt": "city"}, strict=False
    )
    assert reader.delimiter == ";"
    assert reader.unknown == ("Land", "Strasse")


def test_quoted_newlines_stay_in_the_cell_and_rows_count_lines() -> None:
    data = (
        b"id,name,street,city,country\r\n"
        b'a-1,ACME,"Main St 1\r\nFloor 2",Berlin,DE\r\n'
        b"\r\n"
        b'a-2,"Two\nLines Inc",Dock 3,Hamburg,DE\r\n'
        b"a-3,Three,Quay 1,Kiel,DE"
    )
    rows = only_rows(rows_of("account", data))
    assert [row.number for row in rows] == [2, 5, 7]
    assert rows[0].values["street"] == "Main St 1\r\nFloor 2"
    data_a1 = validate_row("account", rows[0])
    assert isinstance(data_a1, RowData)
    assert data_a1.values["address"] == Address(("Main St 1", "Floor 2"), "Berlin", "DE")
    assert validate_row("account", rows[1]) == [RowError(5, "name", "Two\nLines Inc", _LINE_RULE)]


_LINE_RULE = "must not contain control character U+000A in a single line"


def test_a_latin1_file_is_reported_then_read_with_its_encoding() -> None:
    data = "id;last_name\nc-1;Berg\nc-2;Müller\n".encode("latin-1")
    with pytest.raises(EncodingError) as caught:
        rows_of("contact", data)
    error = caught.value
    # "id;last_name\n" is 13 bytes, "c-1;Berg\n" 9, "c-2;M" 5: the ü is byte 27, on line 3.
    assert (error.field, error.offset, error.line, error.encoding) == ("file", 27, 3, "utf-8")
    assert "byte 0xfc at offset 27 (line 3)" in str(error)
    assert "encoding=" in str(error)
    rows = only_rows(rows_of("contact", data, encoding="latin-1"))
    assert rows[1].values == {"id": "c-2", "last_name": "Müller"}


def test_offsets_and_lines_count_across_chunks() -> None:
    body = "".join(f"c-{i},Zoë\n" for i in range(12_000)).encode()  # well over one 64 KiB chunk
    data = b"id,last_name\n" + body + b"c-x,\xff\n"
    with pytest.raises(EncodingError) as caught:
        rows_of("contact", data)
    assert caught.value.offset == len(data) - 2
    assert caught.value.line == 12_002


def test_characters_and_line_ends_split_between_chunks_are_joined() -> None:
    head = b"id,last_name\r\n"
    pad = b"c-0," + b"x" * (65_536 - len(head) - 4 - 1) + b"\r"  # the chunk ends inside \r\n
    data = head + pad + b"\nc-1,Zo\xc3\xab\r\n"
    rows = only_rows(rows_of("contact", data))
    assert [row.number for row in rows] == [2, 3]
    assert rows[1].values["last_name"] == "Zoë"
    multibyte = head + b"c-0," + b"x" * (65_536 - len(head) - 5) + "ë\n".encode()
    assert only_rows(rows_of("contact", multibyte))[0].values["last_name"].endswith("xë")


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "needs a header row"),
        (b"\n\nid,last_name\n", "needs a header row"),
        (b"id,last_name,,tags\n", "column 3 has no name"),
        (b"id,last_name,Last Name\n", "column 3 repeats the name of column 2 ('Last Name')"),
        (b"last_name,email,E-mail\n", "columns 2 and 3 both map to email"),
        (b"id,email\n", "needs a last_name column"),
    ],
)
def test_bad_headers_are_refused(data: bytes, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule.replace("(", r"\(").replace(")", r"\)")):
        read_rows("contact", data)


def test_a_lead_header_needs_an_identifying_column() -> None:
    with pytest.raises(ValidationError, match="last_name, email, phone or company column"):
        read_rows("lead", b"first_name,title\n")


def test_bad_arguments_raise_validation_errors() -> None:
    with pytest.raises(ValidationError, match="kind"):
        read_rows("ticket", b"id\n")
    with pytest.raises(ValidationError, match="binary mode"):
        read_rows("contact", io.StringIO("last_name\n"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="encoding"):
        read_rows("contact", b"last_name\n", encoding="klingon-8")
    with pytest.raises(ValidationError, match="delimiter"):
        read_rows("contact", b"last_name\n", delimiter=":")
    with pytest.raises(ValidationError, match="mapping"):
        read_rows("contact", b"last_name\n", mapping={"x": "amount"})
    with pytest.raises(ValidationError, match="decimal"):
        validate_row("opportunity", Row(2, {}), decimal="'")


# --- mapping -----------------------------------------------------------------------------


def test_headers_match_ignoring_case_spaces_and_aliases() -> None:
    assert column_for("contact", " Last-Name ") == "last_name"
    assert column_for("contact", "Surname") == "last_name"
    assert column_for("contact", "E-mail") == "email"
    assert column_for("contact", "ZIP code") == "postal_code"
    assert column_for("lead", "Company") == "company"
    assert column_for("lead", "Account Name") == "company"
    assert column_for("account", "Company") == "name"
    assert column_for("opportunity", "Deal Value") == "amount"
    assert column_for("contact", "Custom.Shoe Size") == "custom.shoe_size"
    assert column_for("lead", "answers.Budget") == "answers.budget"
    assert column_for("contact", "answers.budget") is None
    assert column_for("contact", "Favourite colour") is None


def test_an_explicit_mapping_overrides_names_and_ignores_columns() -> None:
    data = b"Nachname,E-Mail,Notes,Mail 2,Colour\nBerg,anna@example.com,hi,b@example.com,red\n"
    mapping = {"Nachname": "last_name", "Notes": None, "E-Mail": None, "mail 2": "email"}
    reader = read_rows("contact", data, mapping=mapping)
    assert reader.columns == ("last_name", None, None, "email", None)
    items = list(reader)
    assert items[0] == RowError(1, "Colour", "Colour", "matches no contact column: ignored")
    assert items[1] == Row(2, {"last_name": "Berg", "email": "b@example.com"})
    with pytest.raises(ValidationError, match="unknown column 'Colour'"):
        read_rows("contact", data, mapping=mapping, strict=True)
    with pytest.raises(ValidationError, match="lacks the mapped column 'fax'"):
        read_rows("contact", data, mapping={**mapping, "Colour": None, "Fax": None}, strict=True)


def test_custom_columns_pass_through_as_raw_text() -> None:
    data = b"last_name,custom.Shoe Size,custom.note\nBerg, 42 ,\n"
    (row,) = only_rows(rows_of("contact", data))
    assert row.custom == {"shoe_size": " 42 ", "note": ""}
    result = validate_row("contact", row)
    assert isinstance(result, RowData)
    assert result.custom == {"shoe_size": " 42 "}


# --- validation --------------------------------------------------------------------------

HEADER = b"id,first_name,last_name,email,phone,street,city,country,tags,owner_id,account_id,"
PLANTED = (
    HEADER
    + b"""time_zone
c-1,Anna,Berg,anna@example.com,+49 30 1234567,Main St 1,Berlin,de,VIP;north,u-1,a-1,Europe/Berlin
c 2,Bo,,bo@,0301234,,Hamburg,,,,,Mars/Base
c-3,,Lund,,,Quay 9,Oslo,Norway,,,,
c-4,Ola,Nord,,,,,,a\\;b;,u 9,,
c-5,Eve,Extra,,,,,,,,,,surplus
"""
)


def test_a_file_with_planted_errors_reports_every_problem() -> None:
    items = rows_of("contact", PLANTED)
    assert isinstance(items[-1], RowError)
    assert items[-1] == RowError(6, None, None, "has 13 cells but the header has 12")
    results = [validate_row("contact", row) for row in only_rows(items[:-1])]
    good = results[0]
    assert isinstance(good, RowData)
    assert good.values == {
        "id": "c-1",
        "first_name": "Anna",
        "last_name": "Berg",
        "email": Email("anna@example.com"),
        "phone": Phone("+49301234567"),
        "address": Address(("Main St 1",), "Berlin", "DE"),
        "tags": ("north", "vip"),
        "owner_id": "u-1",
        "account_id": "a-1",
        "time_zone": "Europe/Berlin",
    }
    found = [[(e.row, e.column, e.value, e.rule) for e in r] for r in results[1:]]  # type: ignore[union-attr]
    assert found == [
        [
            (3, "last_name", None, "is required"),
            (3, "id", "c 2", "must not contain spaces"),
            (3, "email", None, "must have a valid domain with a dot"),
            (3, "phone", None, "must be in international form, +<country code><number>"),
            (3, "time_zone", "Mars/Base", "must be a known IANA time zone name"),
            (3, "street", None, "is required with an address"),
            (3, "country", None, "is required with an address"),
        ],
        [(4, "country", "Norway", "must be an ISO 3166-1 alpha-2 code")],
        [(5, "owner_id", "u 9", "must not contain spaces")],
    ]


def test_lead_rows_become_lead_inputs() -> None:
    data = (
        b"Surname,Company,E-Mail,Source,utm_source,answers.budget,tags\n"
        b"Berg,ACME,anna@example.com,web,ad,10000,Hot;hot\n"
        b",,,,,yes,\n"
        b"Lund,,x,Web Form,,,\n"
    )
    first, second, third = [validate_row("lead", row) for row in only_rows(rows_of("lead", data))]
    assert isinstance(first, RowData)
    lead = LeadInput(**first.values)  # type: ignore[arg-type]
    assert (lead.last_name, lead.company, lead.email) == ("Berg", "ACME", Email("anna@example.com"))
    assert (lead.source.channel, lead.source.utm_source, lead.answers) == (
        "web",
        "ad",
        {"budget": "10000"},
    )
    assert lead.tags == ("hot",)
    assert second == [RowError(3, None, None, "needs a last name, email, phone or company")]
    assert [(e.column, e.value) for e in third] == [("email", None), ("channel", "Web Form")]  # type: ignore[union-attr]


def test_amounts_use_a_decimal_point_unless_told_otherwise() -> None:
    data = b"name;amount;currency;close_date\nA;1234.50;EUR;2024-06-30\nB;1234,50;EUR;2024-06-30\n"
    a, b = only_rows(rows_of("opportunity", data))
    result = validate_row("opportunity", a)
    assert isinstance(result, RowData)
    assert result.values["amount"] == Money.of("1234.50", "EUR")
    assert result.values["close_date"] == date(2024, 6, 30)
    assert "currency" not in result.values
    (error,) = validate_row("opportunity", b)  # type: ignore[misc]
    assert (error.column, error.value) == ("amount", "1234,50")
    assert "'.' as the decimal mark" in error.rule
    comma = validate_row("opportunity", b, decimal=",")
    assert isinstance(comma, RowData)
    assert comma.values["amount"] == Money.of("1234.50", "EUR")
    grouped = validate_row(
        "opportunity", attrs.evolve(b, values={**b.values, "amount": "1.234,50"}), decimal=","
    )
    assert isinstance(grouped, list)
    assert grouped[0].column == "amount"


def test_list_cells_escape_semicolons_and_backslashes() -> None:
    items = ["a;b", "c\\", "d\\e", "plain"]
    assert split_list(join_list(items)) == items
    assert split_list(" vip ;; north ;") == ["vip", "north"]
    assert split_list("a\\xb") == ["a\\xb"]


# --- export ------------------------------------------------------------------------------


def test_an_opportunity_and_an_activity_export_and_read_back() -> None:
    opp, _ = Opportunity.open(
        "o-1",
        "ACME; 50 seats",
        DEFAULT_PIPELINE,
        STAMP,
        amount=Money.of("12500.00", "EUR"),
        close_date=date(2024, 9, 30),
        account_id="a-1",
        contact_ids=["c;1", "c-2"],
    )
    activity, _ = Activity.log(
        "t-1",
        ActivityKind.CALL,
        'Kick-off, "quoted"',
        (RecordRef("contact", "c-2"), RecordRef("opportunity", "o-1")),
        STAMP,
        body="line one\nline two",
        duration_minutes=30,
    )
    for kind, record in (("opportunity", opp), ("activity", activity)):
        stream = io.BytesIO()
        assert write_rows(kind, [row_of(kind, record)], stream, delimiter=";") == 1
        (row,) = only_rows(rows_of(kind, stream.getvalue()))
        result = validate_row(kind, row)
        assert isinstance(result, RowData), result
        assert all(result.values[k] == getattr(record, k) for k in result.values), result
    assert row_of("activity", activity)["status"] == ActivityStatus.DONE


def test_write_rows_checks_its_rows() -> None:
    stream = io.BytesIO()
    assert write_rows("contact", [], stream, bom=True, extra_columns=["custom.size"]) == 0
    assert stream.getvalue().startswith(b"\xef\xbb\xbfid,first_name,")
    assert stream.getvalue().endswith(b",custom.size\r\n")
    with pytest.raises(ValidationError, match=r"rows\[0\]\.colour"):
        write_rows("contact", [{"colour": "red"}], io.BytesIO())
    with pytest.raises(ValidationError, match=r"rows\[1\]\.last_name: must be text"):
        write_rows("contact", [{"last_name": "A"}, {"last_name": 3}], io.BytesIO())  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="extra_columns"):
        write_rows("contact", [], io.BytesIO(), extra_columns=["answers.budget"])
    with pytest.raises(ValidationError, match="cannot be encoded in latin-1"):
        write_rows("contact", [{"last_name": "東京"}], io.BytesIO(), encoding="latin-1")
    with pytest.raises(ValidationError, match="must be a Contact"):
        row_of("contact", "Berg")


# --- round trips -------------------------------------------------------------------------


def _expected_contact(contact: Contact) -> dict[str, object]:
    values: dict[str, object] = {"id": contact.id, "last_name": contact.last_name}
    optional: dict[str, object] = {
        "first_name": contact.first_name or None,
        "title": contact.title,
        "email": Email(contact.emails[0].address) if contact.emails else None,
        "phone": Phone(contact.phones[0].number) if contact.phones else None,
        "tags": contact.tags or None,
        "owner_id": contact.owner_id,
        "account_id": contact.account_ids[0] if contact.account_ids else None,
        "time_zone": contact.time_zone,
    }
    if contact.addresses:
        a = contact.addresses[0]
        optional["address"] = Address(a.lines, a.city, a.country, a.postal_code, a.region)
    return {**values, **{k: v for k, v in optional.items() if v is not None}}


_CUSTOM = st.dictionaries(
    tokens(), st.text(st.characters(exclude_categories=["Cs"]), max_size=8), max_size=2
)
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _round_trip(kind: str, records: list[object], custom: dict[str, str]) -> list[RowData]:
    rows = [row_of(kind, record, custom=custom) for record in records]
    extra = sorted({c for row in rows for c in row if c.startswith(("custom.", "answers."))})
    stream = io.BytesIO()
    write_rows(kind, rows, stream, extra_columns=extra)
    results = [validate_row(kind, row) for row in only_rows(rows_of(kind, stream.getvalue()))]
    assert all(isinstance(result, RowData) for result in results), results
    return [result for result in results if isinstance(result, RowData)]


@_SETTINGS
@given(st.lists(contacts(), min_size=1, max_size=3), _CUSTOM)
def test_contacts_round_trip_through_csv(records: list[Contact], custom: dict[str, str]) -> None:
    results = _round_trip("contact", list(records), custom)
    assert [r.values for r in results] == [_expected_contact(c) for c in records]
    assert all(r.custom == {k: v for k, v in custom.items() if v.strip()} for r in results)


@_SETTINGS
@given(st.lists(leads(), min_size=1, max_size=3))
def test_leads_round_trip_through_csv(records: list[Lead]) -> None:
    assume(all(r.last_name or r.email or r.phone or r.company for r in records))
    results = _round_trip("lead", list(records), {})
    for lead, result in zip(records, results, strict=True):
        values = dict(result.values)
        assert values.pop("id") == lead.id
        given_input = LeadInput(**values)  # type: ignore[arg-type]
        assert given_input == LeadInput(
            **{f.name: getattr(lead, f.name) for f in attrs.fields(LeadInput)}
        )


def test_numbers_are_exact_decimals() -> None:
    (row,) = only_rows(
        rows_of(
            "opportunity",
            b"name,amount,currency,close_date,probability\nA,0.1,KWD,2024-01-01,0.25\n",
        )
    )
    result = validate_row("opportunity", row)
    assert isinstance(result, RowData)
    assert result.values["amount"] == Money(Decimal("0.100"), "KWD")
    assert result.values["probability"] == Decimal("0.25")
