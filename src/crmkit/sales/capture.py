"""Capturing leads: the validated `LeadInput` and the four ways to get one.

* by hand: build `LeadInput` with keyword arguments (every field is checked);
* from a web form: `from_web_form` maps form field names to lead fields;
* from a CSV import: `read_csv` yields one `CsvRow` per data row, holding the
  input or the row's error, so one bad row does not stop an import;
* from a campaign response: `from_campaign_response` sets the campaign.

Errors never show personal values (names, email addresses, phone numbers).

>>> lead = from_web_form({"email": "anna@example.com", "name": "Anna Berg", "utm_source": "ad"})
>>> lead.first_name, lead.last_name, lead.source.channel, lead.source.utm_source
('Anna', 'Berg', 'web', 'ad')
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import attrs

from crmkit.kernel.checks import of_type
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL
from crmkit.parties.values import Email, Phone
from crmkit.sales import lead_values as v
from crmkit.sales.lead_values import PERSONAL_FIELDS, LeadSource

_UTM: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_LEAD_FIELDS: Final = (*PERSONAL_FIELDS, *v.TEXT_FIELDS)
_SEPARATORS: Final = re.compile(r"[\s_\-]+")
_IDENTIFYING: Final = frozenset({"last_name", "email", "phone", "company", "name"})

DEFAULT_FIELD_MAP: Final[Mapping[str, str]] = {
    **{name: name for name in (*_LEAD_FIELDS, *_UTM, "name")},
    "firstname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "full_name": "name",
    "e-mail": "email",
    "email_address": "email",
    "organisation": "company",
    "organization": "company",
    "company_name": "company",
    "telephone": "phone",
    "phone_number": "phone",
    "mobile": "phone",
    "job_title": "title",
    "state": "region",
    "message": "description",
    "comments": "description",
    "budget": "answers.budget",
    "authority": "answers.authority",
    "need": "answers.need",
    "timeline": "answers.timeline",
}
"""Form field or column names and the lead field each fills.

Names match ignoring case and treating spaces, ``-`` and ``_`` alike
(``First Name``, ``first-name`` and ``first_name`` are one name).

Targets are lead fields, ``utm_*`` tags of the source, ``name`` (a full name,
split at its last space) and ``answers.<question>`` (a qualification answer).
``owner_id`` is a valid target for a host's own map, but the default map leaves
it out, so that a public form cannot choose who gets the lead.
"""


def _personal_email(value: object) -> Email | None:
    return v.email(value)


def _personal_phone(value: object) -> Phone | None:
    return v.phone(value)


@attrs.frozen(kw_only=True)
class LeadInput:
    """The validated data of a lead to capture; at least a last name, email, phone or company.

    Attributes:
        first_name: Given name (personal).
        last_name: Family name (personal).
        email: Email address, as `Email` or text (personal).
        phone: Phone number in international form, as `Phone` or text (personal).
        company: The organisation the person works for.
        title: Job title.
        website: The organisation's web address.
        country: ISO 3166-1 alpha-2 code (any case; stored upper case).
        region: State, province or region.
        city: City or town.
        description: Free text: what the person asked for.
        source: Where the lead came from (default: channel ``manual``).
        owner_id: The user to give the lead to, if already known.
        tags: Tags (case-folded, de-duplicated, sorted).
        answers: Qualification answers, question token to answer.

    >>> LeadInput(company="ACME GmbH", country="de").country
    'DE'
    """

    first_name: str | None = attrs.field(
        default=None, converter=v.first_name, metadata=PERSONAL, repr=False
    )
    last_name: str | None = attrs.field(
        default=None, converter=v.last_name, metadata=PERSONAL, repr=False
    )
    email: Email | None = attrs.field(
        default=None, converter=_personal_email, metadata=PERSONAL, repr=False
    )
    phone: Phone | None = attrs.field(
        default=None, converter=_personal_phone, metadata=PERSONAL, repr=False
    )
    company: str | None = attrs.field(default=None, converter=v.company)
    title: str | None = attrs.field(default=None, converter=v.title)
    website: str | None = attrs.field(default=None, converter=v.website)
    country: str | None = attrs.field(default=None, converter=v.country)
    region: str | None = attrs.field(default=None, converter=v.region)
    city: str | None = attrs.field(default=None, converter=v.city)
    description: str | None = attrs.field(default=None, converter=v.description)
    source: LeadSource = attrs.field(factory=LeadSource, validator=of_type(LeadSource))
    owner_id: str | None = attrs.field(default=None, converter=v.owner_id)
    tags: tuple[str, ...] = attrs.field(default=(), converter=v.tags)
    answers: dict[str, str] = attrs.field(factory=dict, converter=v.answers)

    def __attrs_post_init__(self) -> None:
        if not (self.last_name or self.email or self.phone or self.company):
            raise ValidationError("lead", "needs a last name, email, phone or company")


@attrs.frozen
class CsvRow:
    """One data row of a CSV import: its input, or the error that kept it out.

    Attributes:
        line: The line number in the file where the row ends (the header is line 1).
        lead: The validated input, or None when the row is bad.
        error: Why the row is bad, or None.
    """

    line: int
    lead: LeadInput | None = None
    error: ValidationError | None = None

    @property
    def ok(self) -> bool:
        """Whether the row gave a lead."""
        return self.lead is not None


def from_web_form(
    payload: Mapping[str, object],
    *,
    field_map: Mapping[str, str] | None = None,
    channel: str = "web",
) -> LeadInput:
    """Read a submitted web form into a `LeadInput` (source channel ``web``).

    Form field names are matched case-insensitively against ``field_map``
    (default `DEFAULT_FIELD_MAP`); unknown fields are ignored. Every mapped
    value must be a string; an empty one counts as not given.
    """
    if not isinstance(payload, Mapping):
        raise ValidationError("payload", "must be a mapping of form fields", type(payload).__name__)
    mapping = _field_map(field_map)
    values: dict[str, object] = {}
    origin: dict[str, str] = {}
    for key, value in payload.items():
        if not isinstance(key, str):
            continue
        target = mapping.get(_key(key))
        if target is None:
            continue
        if not isinstance(value, str):
            raise ValidationError(key, "must be a string", value, personal=_is_personal(target))
        if value.strip():
            values[target] = value
            origin[target] = key
    return _build(values, origin, channel)


def read_csv(
    text_or_lines: Iterable[str] | str,
    *,
    field_map: Mapping[str, str] | None = None,
    channel: str = "import",
) -> Iterator[CsvRow]:
    """Read CSV text (with a header row) into one `CsvRow` per data row (channel ``import``).

    The header is checked at once: it must exist, and it must name a column for
    at least one of last name, full name, email, phone or company; with an
    explicit ``field_map``, every column the map names must be present. Unknown
    columns are ignored; blank lines are skipped.
    """
    if isinstance(text_or_lines, str):
        lines: Iterable[str] = io.StringIO(text_or_lines, newline="")
    elif isinstance(text_or_lines, Iterable) and not isinstance(text_or_lines, bytes | Mapping):
        lines = text_or_lines
    else:
        raise ValidationError("csv", "must be text or lines of text", type(text_or_lines).__name__)
    mapping = _field_map(field_map)
    reader = csv.reader(_strings(lines))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ValidationError("header", f"is not valid CSV: {exc}") from None
    if not header or not any(cell.strip() for cell in header):
        raise ValidationError("header", "is required: the first line must name the columns")
    columns = [mapping.get(_key(cell)) for cell in header]
    if field_map is not None:
        present = {_key(cell) for cell in header}
        missing = sorted(key for key in mapping if key not in present)
        if missing:
            raise ValidationError("header", f"misses the mapped columns {', '.join(missing)}")
    if not _IDENTIFYING.intersection(c for c in columns if c is not None):
        known = ", ".join(sorted(k for k, t in mapping.items() if t in _IDENTIFYING))
        raise ValidationError(
            "header", f"needs a column for last name, name, email, phone or company ({known})"
        )
    return _rows(reader, header, columns, channel)


def from_campaign_response(
    campaign_id: str,
    *,
    email: Email | str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    phone: Phone | str | None = None,
    company: str | None = None,
    title: str | None = None,
    country: str | None = None,
    description: str | None = None,
    answers: Mapping[str, str] | None = None,
    utm_source: str | None = None,
    utm_medium: str | None = None,
    utm_content: str | None = None,
    channel: str = "campaign",
) -> LeadInput:
    """A `LeadInput` for someone who answered a campaign (source carries ``campaign_id``)."""
    source = LeadSource(
        channel,
        campaign_id=campaign_id,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_content=utm_content,
    )
    return LeadInput(
        email=email,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        company=company,
        title=title,
        country=country,
        description=description,
        answers={} if answers is None else answers,
        source=source,
    )


def _key(name: str) -> str:
    return _SEPARATORS.sub("_", name.strip().casefold())


def _field_map(field_map: Mapping[str, str] | None) -> dict[str, str]:
    if field_map is None:
        return {_key(key): target for key, target in DEFAULT_FIELD_MAP.items()}
    if not isinstance(field_map, Mapping):
        raise ValidationError("field_map", "must be a mapping", type(field_map).__name__)
    result: dict[str, str] = {}
    for key, target in field_map.items():
        if not isinstance(key, str) or not isinstance(target, str):
            raise ValidationError("field_map", "must map names to lead field names", key)
        known = (
            target in DEFAULT_FIELD_MAP.values()
            or target == "owner_id"
            or target.startswith("answers.")
        )
        if not known:
            raise ValidationError("field_map", f"maps {key!r} to an unknown lead field", target)
        result[_key(key)] = target
    return result


def _is_personal(target: str) -> bool:
    return target in PERSONAL_FIELDS or target == "name"


def _strings(lines: Iterable[str]) -> Iterator[str]:
    for index, line in enumerate(lines):
        if not isinstance(line, str):
            raise ValidationError(f"line {index + 1}", "must be text", type(line).__name__)
        yield line


def _rows(
    reader: Any, header: list[str], columns: list[str | None], channel: str
) -> Iterator[CsvRow]:
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            yield CsvRow(reader.line_num, error=ValidationError("row", f"is not valid CSV: {exc}"))
            continue
        if row is None:
            return
        if not any(cell.strip() for cell in row):
            continue
        values: dict[str, object] = {}
        origin: dict[str, str] = {}
        for target, name, cell in zip(columns, header, row, strict=False):
            if target is not None and cell.strip():
                values[target] = cell
                origin[target] = name
        try:
            yield CsvRow(reader.line_num, lead=_build(values, origin, channel))
        except ValidationError as exc:
            yield CsvRow(reader.line_num, error=exc)


def _build(values: dict[str, object], origin: dict[str, str], channel: str) -> LeadInput:
    """A `LeadInput` from mapped string values; errors name the form field or column."""
    full = values.pop("name", None)
    if isinstance(full, str):
        first, _, last = full.strip().rpartition(" ")
        if "last_name" not in values:
            values["last_name"] = last
            origin["last_name"] = origin["name"]
        if first and "first_name" not in values:
            values["first_name"] = first
            origin["first_name"] = origin["name"]
    answers = {k.removeprefix("answers."): values.pop(k) for k in list(values) if "." in k}
    utm = {k: values.pop(k) for k in _UTM if k in values}
    try:
        source = LeadSource(channel, **utm)
        return LeadInput(**values, answers=answers, source=source)
    except ValidationError as exc:
        field = exc.field.removeprefix("source.")
        if field in origin:
            raise ValidationError(
                origin[field], exc.rule, exc.value, personal=exc.personal
            ) from None
        raise
