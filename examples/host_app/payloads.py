"""JSON in and out: request bodies read by crmkit's strict converter, responses, versions.

Bodies have the shape crmkit's converter writes, so what a client reads it can
send back: an email is ``{"address": "...", "kind": "work"}``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs
from flask import Response, request
from werkzeug.exceptions import PreconditionRequired

from crmkit import Address, Email, Phone, ValidationError
from crmkit.kernel.serialization import dumps, loads, structure

from .identity import current_crm

T = TypeVar("T")

ETAG_HEADER = "ETag"
"""The response header holding a record's version, as an entity tag: ``"3"``."""
IF_MATCH_HEADER = "If-Match"
"""The request header holding the version the client read."""
IDEMPOTENCY_HEADER = "Idempotency-Key"
"""The request header that makes a create safe to retry."""
REPLAYED_HEADER = "Idempotent-Replayed"
"""Set to ``true`` on a response to a retried create that found the first result."""


@attrs.frozen
class NewContact:
    """The body of ``POST /contacts`` (the arguments of ``uow.contacts.create``).

    Attributes:
        last_name: Family name.
        first_name: Given name.
        title: Job title.
        emails: Email addresses.
        phones: Phone numbers.
        addresses: Postal addresses.
        owner_id: The owning user; the caller when not given.
        tags: Tags.
        time_zone: IANA time zone name.
        account_id: An account to link the contact to, as its primary one.
        role: The contact's role at that account.
    """

    last_name: str
    first_name: str = ""
    title: str | None = None
    emails: tuple[Email, ...] = ()
    phones: tuple[Phone, ...] = ()
    addresses: tuple[Address, ...] = ()
    owner_id: str | None = None
    tags: tuple[str, ...] = ()
    time_zone: str | None = None
    account_id: str | None = None
    role: str = "contact"


@attrs.frozen
class ContactChanges:
    """The body of ``PATCH /contacts/<id>``: the fields to change (null or absent: unchanged).

    Attributes:
        first_name: Given name.
        last_name: Family name.
        title: Job title.
        emails: Email addresses (all of them).
        phones: Phone numbers (all of them).
        addresses: Postal addresses (all of them).
        time_zone: IANA time zone name.
    """

    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    emails: tuple[Email, ...] | None = None
    phones: tuple[Phone, ...] | None = None
    addresses: tuple[Address, ...] | None = None
    time_zone: str | None = None

    def given(self) -> dict[str, object]:
        """The fields given, by name."""
        return {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}


def body(cls: type[T]) -> T:
    """The request's JSON body as ``cls``; `ValidationError` names the first bad field."""
    # crmkit's loads refuses duplicate keys, NaN and over-deep nesting; its converter
    # refuses unknown fields and wrong types, naming the field.
    data = loads(request.get_data(as_text=True) or "{}")
    if not isinstance(data, dict):
        raise ValidationError("body", "must be a JSON object")
    return structure(current_crm().converter, data, cls)


def idempotency_key() -> str | None:
    """The request's ``Idempotency-Key``, if it sent one."""
    return request.headers.get(IDEMPOTENCY_HEADER)


def if_match() -> int | None:
    """The version in ``If-Match`` (``"3"`` or ``3``); None without one or for ``*``."""
    raw = request.headers.get(IF_MATCH_HEADER)
    if raw is None or raw.strip() == "*":
        return None
    text = raw.strip().strip('"')
    if not text.isascii() or not text.isdigit():
        raise ValidationError(IF_MATCH_HEADER, 'must be a version as an entity tag, like "3"')
    return int(text)


def require_if_match() -> None:
    """428 Precondition Required when the request sent no ``If-Match`` (``*`` counts)."""
    if request.headers.get(IF_MATCH_HEADER) is None:
        raise PreconditionRequired(f"send {IF_MATCH_HEADER} with the version you read")


def int_arg(name: str, default: int) -> int:
    """Query parameter ``name`` as a whole number."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise ValidationError(name, "must be a whole number")
    return int(raw)


def cursor_arg() -> str | None:
    """The ``cursor`` query parameter: the ``next_cursor`` of the page before."""
    return request.args.get("cursor") or None


def record(
    view: dict[str, Any], status: int = 200, *, location: str | None = None, replayed: bool = False
) -> Response:
    """A record's view as JSON, with its version as the ``ETag``."""
    response = Response(dumps(view), status=status, mimetype="application/json")
    response.headers[ETAG_HEADER] = f'"{view["version"]}"'
    if location is not None:
        response.headers["Location"] = location
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


def page(items: list[Any], next_cursor: str | None) -> Response:
    """One keyset page as ``{"items": [...], "next_cursor": ...}``."""
    data = {"items": items, "next_cursor": next_cursor}
    return Response(dumps(data), mimetype="application/json")
