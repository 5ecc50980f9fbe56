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
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from crmkit.activities.activity import ActivityKind, ActivityStatus
from crmkit.activities.outcomes import check, check_timed_kind
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.kernel.text import clean_line, clean_token
from crmkit.parties.values import Address
from crmkit.sales.capture import DEFAULT_FIELD_MAP, LeadInput
from crmkit.sales.lead_values import LeadSource

from ._csv_cells import (
    PARSERS as PARSERS,
    PERSONAL_COLUMNS as PERSONAL_COLUMNS,
    UTM,
    join_list as join_list,
    split_list as split_list,
)

__all__ = [
    "ANSWERS",
    "CUSTOM",
    "KINDS",
    "LEAD_IDENTIFYING",
    "PARSERS",
    "PERSONAL_COLUMNS",
    "REQUIRED",
    "Problem",
    "check_kind",
    "column_for",
    "columns",
    "header_key",
    "is_column",
    "join_list",
    "parse_cells",
    "split_list",
]

CUSTOM: Final = "custom."
"""Prefix of the columns that carry custom fields (passed through as raw text)."""
ANSWERS: Final = "answers."
"""Prefix of the lead columns that carry qualification answers."""

_ADDRESS: Final = "street city postal_code region country"
_PARTY: Final = f"email phone {_ADDRESS} tags owner_id"
_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    kind: tuple(names.split())
    for kind, names in {
        "contact": f"id first_name last_name title {_PARTY} account_id time_zone",
        "account": f"id name website industry {_PARTY} parent_id",
        "lead": "id first_name last_name email phone company title website city region country"
        f" description channel campaign_id {' '.join(UTM)} owner_id tags",
        "opportunity": "id name amount currency pipeline_id stage probability close_date"
        " account_id contact_ids lead_id owner_id",
        "activity": "id kind subject status occurred_at links body direction duration_minutes"
        " outcome owner_id message_id",
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
        outcome: result
        """
    ),
}

_SEPARATORS: Final = re.compile(r"[\s_\-]+")
_NAME_SEPARATORS: Final = re.compile(r"[\s\-]+")
_DECIMAL: Final = {
    ".": re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?"),
    ",": re.compile(r"[+-]?[0-9]+(?:,[0-9]+)?"),
}

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
    elif kind == "activity":
        _activity(values, problems)
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
    source = {c: values.pop(c) for c in ("channel", "campaign_id", *UTM) if c in values}
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


_DONE_ONLY: Final = ("direction", "duration_minutes", "outcome", "message_id")


def _activity(values: dict[str, object], problems: list[Problem]) -> None:
    status = values.get("status", ActivityStatus.DONE)
    if status is not ActivityStatus.DONE:
        # A planned (or cancelled) activity is made by `plan`, which takes none of these.
        problems.extend(
            (c, f"is only for done activities, not {status}") for c in _DONE_ONLY if c in values
        )
        return
    kind, outcome, duration = (values.get(c) for c in ("kind", "outcome", "duration_minutes"))
    if not isinstance(kind, ActivityKind):
        return
    minutes = duration if isinstance(duration, int) else None
    try:
        check_timed_kind(kind, minutes)
        if isinstance(outcome, str):
            check(kind, outcome, minutes, done=True)
    except ValidationError as exc:
        problems.append((exc.field, exc.rule))


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
