"""The columns of CSV imports and exports: names, aliases, cell rules and `row_of`.

Each record kind (`KINDS`) has canonical columns (`columns`); headers are
matched to them ignoring case and treating spaces, ``-`` and ``_`` alike, with
common aliases (``E-mail`` is ``email``, ``Surname`` is ``last_name``).
Columns named ``custom.<name>`` carry custom fields as raw text; lead files
also carry qualification answers as ``answers.<question>`` columns.

List cells (``tags``, ``contact_ids``, ``links``) separate items with ``;``;
an item holding ``;`` or ``\\`` escapes it with a backslash (``a\\;b``).

>>> columns("opportunity")[:4]
('id', 'name', 'amount', 'currency')
>>> column_for("contact", "E-Mail"), column_for("lead", "Company Name"), column_for("lead", "X")
('email', 'company', None)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from crmkit.activities.activity import ActivityKind, ActivityStatus, Direction, RecordRef
from crmkit.kernel.checks import to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.money import Money, minor_units
from crmkit.kernel.text import clean_line, clean_text, clean_token
from crmkit.kernel.time import zone
from crmkit.parties.values import Address, clean_tags
from crmkit.sales import lead_values as v
from crmkit.sales.capture import DEFAULT_FIELD_MAP, LeadInput
from crmkit.sales.lead_values import LeadSource
from crmkit.sales.pipeline import check_probability

CUSTOM: Final = "custom."
"""Prefix of the columns that carry custom fields (passed through as raw text)."""
ANSWERS: Final = "answers."
"""Prefix of the lead columns that carry qualification answers."""

_ADDRESS: Final = "street city postal_code region country"
_UTM: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_PARTY: Final = f"email phone {_ADDRESS} tags owner_id"
_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    kind: tuple(names.split())
    for kind, names in {
        "contact": f"id first_name last_name title {_PARTY} account_id time_zone",
        "account": f"id name website industry {_PARTY} parent_id",
        "lead": "id first_name last_name email phone company title website city region country"
        f" description channel campaign_id {' '.join(_UTM)} owner_id tags",
        "opportunity": "id name amount currency pipeline_id stage probability close_date"
        " account_id contact_ids lead_id owner_id",
        "activity": "id kind subject status occurred_at links body direction duration_minutes"
        " owner_id message_id",
    }.items()
}

KINDS: Final = tuple(_COLUMNS)
"""The record kinds a CSV file can hold."""

REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "contact": ("last_name",),
    "account": ("name",),
    "lead": (),
    "opportunity": ("name", "amount", "currency", "close_date"),
    "activity": ("kind", "subject", "occurred_at", "links"),
}
"""Columns each kind's header must have and each row must fill (a lead needs any of
last name, email, phone or company instead)."""

LEAD_IDENTIFYING: Final = ("last_name", "email", "phone", "company")
"""A lead row must fill at least one of these columns."""

PERSONAL_COLUMNS: Final = frozenset(
    {"first_name", "last_name", "email", "phone", "street", "subject", "body"}
)
"""Columns holding personal data: their values never appear in errors."""


def _aliases(table: str) -> dict[str, str]:
    """``column: alias alias ...`` lines as a map from alias to column."""
    pairs = (line.split(":") for line in table.strip().splitlines())
    return {alias: column.strip() for column, names in pairs for alias in names.split()}


_COMMON_ALIASES: Final = _aliases(
    """
    email: e_mail mail email_address e_mail_address
    first_name: firstname first given_name forename
    last_name: lastname last surname family_name
    phone: telephone tel phone_number mobile
    title: job_title position
    street: address street_address address_lines
    postal_code: zip zip_code postcode post_code
    region: state province
    country: country_code
    tags: tag labels
    owner_id: owner
    time_zone: timezone tz
    website: web url
    """
)
_KIND_ALIASES: Final = {
    "contact": _aliases("account_id: account company_id"),
    "account": _aliases(
        "name: account_name company company_name organisation organization\nparent_id: parent"
    ),
    "lead": _aliases("company: account account_name\nchannel: source"),
    "opportunity": _aliases(
        """
        name: opportunity_name deal deal_name
        amount: value deal_value
        currency: currency_code
        stage: stage_name
        pipeline_id: pipeline
        close_date: close closing_date expected_close_date
        account_id: account
        contact_ids: contacts contact_id
        lead_id: lead
        """
    ),
    "activity": _aliases(
        """
        kind: type activity_type
        subject: title summary
        body: notes description
        occurred_at: date due_at happened_at
        duration_minutes: duration minutes
        links: related_to
        """
    ),
}
_SEPARATORS: Final = re.compile(r"[\s_\-]+")
_NAME_SEPARATORS: Final = re.compile(r"[\s\-]+")
_STREET_BREAK: Final = re.compile(r"\r\n|\r|\n")
_DECIMAL: Final = {
    ".": re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?"),
    ",": re.compile(r"[+-]?[0-9]+(?:,[0-9]+)?"),
}
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT: Final = re.compile(r"[0-9]{1,9}")

Problem = tuple[str | None, str]
"""A broken rule: the column (None for the whole row) and the rule."""


def check_kind(kind: object) -> str:
    """``kind`` if it is one of `KINDS`; `ValidationError` naming ``kind`` else."""
    if not isinstance(kind, str) or kind not in _COLUMNS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}", kind)
    return kind


def columns(kind: str) -> tuple[str, ...]:
    """The canonical columns of ``kind``, in the order exports write them."""
    return _COLUMNS[check_kind(kind)]


def header_key(name: str) -> str:
    """A header name as matched: case-folded, with spaces, ``-`` and ``_`` made one ``_``.

    After ``custom.`` or ``answers.`` only spaces and ``-`` become ``_`` (once each
    run), so that names such as ``a__b`` and ``a_`` stay as they are.
    """
    key = name.strip().casefold()
    for prefix in (CUSTOM, ANSWERS):
        if key.startswith(prefix):
            return prefix + _NAME_SEPARATORS.sub("_", key.removeprefix(prefix).strip())
    return _SEPARATORS.sub("_", key)


def column_for(kind: str, name: str) -> str | None:
    """The canonical column a header names, ``custom.<name>``, ``answers.<q>``, or None."""
    key = header_key(name)
    for prefix in (CUSTOM, ANSWERS):
        if key.startswith(prefix) and (prefix == CUSTOM or kind == "lead"):
            return key if key != prefix else None
    if key in _COLUMNS[check_kind(kind)]:
        return key
    target = _KIND_ALIASES[kind].get(key) or _COMMON_ALIASES.get(key)
    if target is None and kind == "lead":
        target = DEFAULT_FIELD_MAP.get(key)
    return target if target is not None and is_column(kind, target) else None


def is_column(kind: str, target: str) -> bool:
    """Whether ``target`` is a canonical column of ``kind``, ``custom.*`` or a lead answer."""
    if target in _COLUMNS[check_kind(kind)]:
        return True
    for prefix in (CUSTOM, ANSWERS):
        if target.startswith(prefix) and (prefix == CUSTOM or kind == "lead"):
            return bool(target.removeprefix(prefix))
    return False


# --- cells -------------------------------------------------------------------------------


def split_list(cell: str) -> list[str]:
    r"""The items of a ``;``-separated list cell, with ``\;`` and ``\\`` unescaped.

    >>> split_list(r"vip; north\;east ;")
    ['vip', 'north;east']
    """
    items: list[str] = []
    current: list[str] = []
    chars = iter(cell)
    for char in chars:
        if char == "\\":
            # Only ; and \ are escaped: a backslash before anything else stays as it is.
            following = next(chars, "")
            current.append(following if following in (";", "\\") else char + following)
        elif char == ";":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def join_list(items: tuple[str, ...] | list[str]) -> str:
    """A list cell: items joined by ``;``, with ``\\`` and ``;`` escaped."""
    return ";".join(item.replace("\\", "\\\\").replace(";", "\\;") for item in items)


def _line(field: str, max_len: int = 200) -> Callable[[str], object]:
    def parse(cell: str) -> object:
        return clean_line(cell, field, max_len=max_len, personal=field in PERSONAL_COLUMNS)

    return parse


def _id(field: str) -> Callable[[str], object]:
    def parse(cell: str) -> object:
        return check_id(cell.strip(), field)

    return parse


def _street(cell: str) -> object:
    lines = [line for line in _STREET_BREAK.split(cell) if line.strip()]
    if not 1 <= len(lines) <= 3:
        raise ValidationError("street", "must be 1 to 3 street lines", personal=True)
    return tuple(clean_line(line, "street", personal=True) for line in lines)


def _email(cell: str) -> object:
    return v.email(cell.strip())


def _phone(cell: str) -> object:
    return v.phone(cell.strip())


def _tags(cell: str) -> object:
    return clean_tags(split_list(cell))


def _ids(cell: str) -> object:
    ids = tuple(check_id(item, "contact_ids") for item in split_list(cell))
    if len(set(ids)) != len(ids):
        raise ValidationError("contact_ids", "must not repeat a contact")
    return ids


def _links(cell: str) -> object:
    refs: list[RecordRef] = []
    for item in split_list(cell):
        kind, colon, id = item.partition(":")
        if not colon:
            raise ValidationError("links", "must be kind:id items, for example contact:c-1")
        refs.append(RecordRef(kind.strip(), id.strip()))
    return tuple(dict.fromkeys(refs))


def _zone(cell: str) -> object:
    return zone(cell.strip()).key


def _country(cell: str) -> object:
    return v.country(cell)


def _currency(cell: str) -> object:
    minor_units(cell.strip())
    return cell.strip()


def _date(cell: str) -> object:
    text = cell.strip()
    try:
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValidationError("date", "must be a valid ISO date, YYYY-MM-DD")


def _instant(cell: str) -> object:
    try:
        value = datetime.fromisoformat(cell.strip())
    except ValueError:
        raise ValidationError("instant", "must be an ISO date and time with offset") from None
    if value.utcoffset() is None:
        raise ValidationError("instant", "must have a UTC offset, for example +00:00 or Z")
    return value


def _minutes(cell: str) -> object:
    text = cell.strip()
    if not _INT.fullmatch(text) or int(text) > 100_000:
        raise ValidationError("duration_minutes", "must be a whole number from 0 to 100000")
    return int(text)


def _probability(cell: str) -> object:
    return check_probability(cell.strip())


_to_kind = to_enum(ActivityKind, "kind")
_to_status = to_enum(ActivityStatus, "status")
_to_direction = to_enum(Direction, "direction")


def _token(convert: Callable[[object], object]) -> Callable[[str], object]:
    def parse(cell: str) -> object:
        return convert(cell.strip().casefold())

    return parse


def _stage(cell: str) -> object:
    return clean_token(cell.strip(), "stage")


def _channel(cell: str) -> object:
    return clean_token(cell.strip(), "channel", max_len=30)


def _description(cell: str) -> object:
    return clean_text(cell, "description")


def _body(cell: str) -> object:
    return clean_text(cell, "body", personal=True)


PARSERS: Final[Mapping[str, Callable[[str], object]]] = {
    "id": _id("id"),
    "first_name": _line("first_name"),
    "last_name": _line("last_name"),
    "name": _line("name"),
    "title": _line("title"),
    "email": _email,
    "phone": _phone,
    "street": _street,
    "city": _line("city"),
    "postal_code": _line("postal_code", 20),
    "region": _line("region", 100),
    "country": _country,
    "tags": _tags,
    "owner_id": _id("owner_id"),
    "account_id": _id("account_id"),
    "parent_id": _id("parent_id"),
    "time_zone": _zone,
    "website": _line("website", 2000),
    "industry": _line("industry"),
    "company": _line("company"),
    "description": _description,
    "channel": _channel,
    "campaign_id": _id("campaign_id"),
    **{name: _line(name) for name in _UTM},
    "currency": _currency,
    "pipeline_id": _id("pipeline_id"),
    "stage": _stage,
    "probability": _probability,
    "close_date": _date,
    "contact_ids": _ids,
    "lead_id": _id("lead_id"),
    "kind": _token(_to_kind),
    "subject": _line("subject"),
    "status": _token(_to_status),
    "occurred_at": _instant,
    "links": _links,
    "body": _body,
    "direction": _token(_to_direction),
    "duration_minutes": _minutes,
    "message_id": _line("message_id", 998),
}
"""How each column's non-empty cell becomes a typed value (``amount`` is read apart)."""


# --- rows --------------------------------------------------------------------------------


def parse_cells(
    kind: str, cells: Mapping[str, str], decimal: str = "."
) -> tuple[dict[str, object], list[Problem]]:
    """The typed values of a row's filled cells, and every rule they break.

    Blank cells count as not given; ``custom.*`` cells are left to the caller.
    """
    values: dict[str, object] = {}
    problems: list[Problem] = []
    filled = {c: cell for c, cell in cells.items() if cell.strip() and not c.startswith(CUSTOM)}
    problems.extend((c, "is required") for c in REQUIRED[check_kind(kind)] if c not in filled)
    for column, cell in filled.items():
        parse = PARSERS.get(column)
        if parse is None:
            continue  # amount and answers.* are read with the columns they belong with
        try:
            values[column] = parse(cell)
        except ValidationError as exc:
            problems.append((column, exc.rule))
    if kind in ("contact", "account"):
        _address(values, filled, problems)
    elif kind == "lead":
        _lead(values, filled, problems)
    elif kind == "opportunity":
        _amount(values, filled, problems, decimal)
    return values, problems


def _address(values: dict[str, object], filled: Mapping[str, str], problems: list[Problem]) -> None:
    given = [c for c in _ADDRESS.split() if c in filled]
    parts = {c: values.pop(c) for c in given if c in values}
    if not given:
        return
    missing = [c for c in ("street", "city", "country") if c not in filled]
    problems.extend((c, "is required with an address") for c in missing)
    if missing or len(parts) < len(given):
        return
    values["address"] = Address(
        parts["street"],
        parts["city"],
        parts["country"],
        parts.get("postal_code"),
        parts.get("region"),
    )


def _lead(values: dict[str, object], filled: Mapping[str, str], problems: list[Problem]) -> None:
    answers: dict[str, str] = {}
    for column in filled:
        if column.startswith(ANSWERS):
            try:
                name = clean_token(column.removeprefix(ANSWERS), column)
                answers[name] = clean_line(filled[column], column, max_len=500)
            except ValidationError as exc:
                problems.append((column, exc.rule))
    source = {c: values.pop(c) for c in ("channel", "campaign_id", *_UTM) if c in values}
    values["source"] = LeadSource(source.pop("channel", "import"), **source)
    if answers:
        values["answers"] = answers
    if not problems and not any(c in values for c in LEAD_IDENTIFYING):
        problems.append((None, "needs a last name, email, phone or company"))
    if not problems:
        try:
            LeadInput(**{k: x for k, x in values.items() if k != "id"})  # type: ignore[arg-type]
        except ValidationError as exc:
            problems.append((exc.field if exc.field in filled else None, exc.rule))


def _amount(
    values: dict[str, object], filled: Mapping[str, str], problems: list[Problem], decimal: str
) -> None:
    currency = values.pop("currency", None)
    cell = filled.get("amount")
    if cell is None:
        return
    text = cell.strip()
    if _DECIMAL[decimal].fullmatch(text) is None:
        rule = f"must be a decimal number with {decimal!r} as the decimal mark and no grouping"
        problems.append(("amount", rule))
        return
    if not isinstance(currency, str):
        return
    try:
        money = Money(Decimal(text.replace(",", ".")), currency)
    except ValidationError as exc:
        problems.append(("amount", exc.rule))
        return
    if money.amount < 0:
        problems.append(("amount", "must not be negative"))
        return
    values["amount"] = money
