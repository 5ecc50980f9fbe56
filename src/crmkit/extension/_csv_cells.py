"""Cell rules of CSV files: list cells and the parser of each column's text.

Private to `crmkit.extension.csv_columns`, which re-exports the public names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Final

from crmkit.activities.activity import ActivityKind, ActivityStatus, Direction, RecordRef
from crmkit.kernel.checks import to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.money import minor_units
from crmkit.kernel.text import clean_line, clean_text, clean_token
from crmkit.kernel.time import zone
from crmkit.parties.values import clean_tags
from crmkit.sales import lead_values as v
from crmkit.sales.pipeline import check_probability

UTM: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
"""The UTM columns of a lead's source."""

PERSONAL_COLUMNS: Final = frozenset(
    {"first_name", "last_name", "email", "phone", "street", "subject", "body"}
)
"""Columns holding personal data: their values never appear in errors."""

_STREET_BREAK: Final = re.compile(r"\r\n|\r|\n")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT: Final = re.compile(r"[0-9]{1,9}")


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


def _outcome(cell: str) -> object:
    # Which outcomes fit depends on the kind: csv_columns checks it with the whole row.
    return clean_token(cell.strip().casefold(), "outcome")


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
    **{name: _line(name) for name in UTM},
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
    "outcome": _outcome,
    "message_id": _line("message_id", 998),
}
"""How each column's non-empty cell becomes a typed value (``amount`` is read apart)."""
