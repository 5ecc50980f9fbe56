"""Email threading: which record an inbound email continues.

Pure functions over header values; nothing here reads a mailbox or a clock.

**Message ids.** `message_ids` reads the ids of a ``Message-ID``,
``In-Reply-To`` or ``References`` header and is liberal in what it accepts,
because real mail breaks RFC 5322 in every way:

* folded lines and any white space, commas or semicolons between ids;
* comments ``(...)`` (nested, with ``\\)`` escapes) and quoted strings
  between ids are skipped; an unclosed ``(`` or ``"`` only separates words;
* white space *inside* ``<...>`` is removed (some clients fold in the middle of an id);
  ``<<a@b>>`` reads as ``<a@b>``; a ``<`` never closed starts bare text;
* when a header holds no ``<...>`` at all, each bare word with an ``@`` in it
  is an id (clients that drop the brackets); other words are garbage and skipped;
* empty ids, ids with control characters and ids longer than 996 characters are skipped;
* duplicates are dropped, keeping the first occurrence and the order.

Ids come back in the canonical form ``<left@right>``, the form crmkit's own
SMTP channel writes (`crmkit.adapters.smtp.message_id`) and stores in
`Activity.message_id`. They are compared **exactly**: only the surrounding white
space and brackets are normalised, never the case (the left part is
case-sensitive, and clients keep ids byte for byte).

**Resolution.** `resolve` asks the host's ``known(key)`` lookup, in this order:

1. each ``In-Reply-To`` id;
2. each ``References`` id, newest (last) to oldest;
3. each ticket tag of the subject (see `TICKET_TAG`), in order of appearance.

A forward (`is_forward`: the subject starts with ``Fwd:``, ``Fw:`` or ``WG:``)
without ``In-Reply-To`` skips steps 1 and 2: it starts a new thread unless its
subject carries a ticket tag. An email's own ``Message-ID`` is never looked up.

>>> from crmkit.activities.activity import RecordRef
>>> email = from_headers({
...     "Message-ID": "<r2@mail.example>",
...     "In-Reply-To": "<unknown@elsewhere.example>",
...     "References": "<c-1-ack@crm.example>\\r\\n <unknown@elsewhere.example>",
...     "Subject": "RE: AW: Printer jam",
... })
>>> email.references
('<c-1-ack@crm.example>', '<unknown@elsewhere.example>')
>>> known = {"<c-1-ack@crm.example>": RecordRef("case", "C-1")}.get
>>> found = resolve(email, known)
>>> found.record, found.by.value, found.matched_id
(RecordRef(kind='case', id='C-1'), 'references', '<c-1-ack@crm.example>')
>>> thread_subject(email.subject)
'Printer jam'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from enum import StrEnum

import attrs

from crmkit.activities.activity import RecordRef
from crmkit.kernel.checks import aware, items, of_type, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import require_aware

from ._message_ids import (
    CONTROL,
    ID_MAX as ID_MAX,
    SPACE,
    header_date,
    header_pairs,
    header_text,
    message_ids as message_ids,
)

__all__ = [
    "ID_MAX",
    "NOT_FOUND",
    "SUBJECT_MAX",
    "TICKET_TAG",
    "InboundEmail",
    "Resolution",
    "ResolvedBy",
    "from_headers",
    "is_forward",
    "message_ids",
    "resolve",
    "thread_subject",
    "ticket_tags",
]

SUBJECT_MAX = 998
"""Longest subject kept, in characters (the RFC 5322 line limit); longer ones are cut."""

TICKET_TAG = re.compile(
    r"\[\s*(?:[^\W\d_][\w .-]{0,40}?\s*)?#\s*([A-Za-z0-9][A-Za-z0-9._/-]{0,62})\s*\]"
)
"""A ticket tag in a subject: ``[Case #C-12345]``, ``[Ticket #T-9]``, ``[#12345]``.

An optional label (a letter, then up to 40 letters, digits, spaces, dots or
dashes), ``#``, then the reference: a letter or digit followed by up to 62
letters, digits, ``.``, ``_``, ``/`` or ``-``. Group 1 is the reference, as
written (``C-12345``, ``12345``): that is the key `resolve` passes to ``known``.
Message ids always start with ``<``, so a lookup can tell the two apart.
"""

_PREFIX = re.compile(
    r"\s*(re|fwd|fw|aw|wg|sv)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a]\s*", re.IGNORECASE
)
_FORWARDS = frozenset({"fwd", "fw", "wg"})


class ResolvedBy(StrEnum):
    """Which header found the thread."""

    IN_REPLY_TO = "in_reply_to"
    REFERENCES = "references"
    SUBJECT = "subject"


def thread_subject(subject: str) -> str:
    """The subject without reply and forward prefixes, white space collapsed.

    Strips, case-insensitively and repeatedly, ``Re:``, ``Fwd:``, ``Fw:``,
    ``AW:``, ``WG:`` and ``SV:``, also numbered (``Re[2]:``, ``Re(2):``,
    ``Re^2:``), with a space before the colon or a full-width colon.

    >>> thread_subject("RE: Fwd: re[2]: AW:  Invoice   42")
    'Invoice 42'
    """
    text = _subject_text(subject)
    while (found := _PREFIX.match(text)) is not None:
        text = text[found.end() :]
    return SPACE.sub(" ", text).strip()


def is_forward(subject: str) -> bool:
    """Whether the subject's first prefix is a forward (``Fwd:``, ``Fw:``, ``WG:``).

    >>> is_forward("Fwd: Re: Invoice"), is_forward("Re: Fwd: Invoice")
    (True, False)
    """
    found = _PREFIX.match(_subject_text(subject))
    return found is not None and found[1].lower() in _FORWARDS


def ticket_tags(subject: str) -> tuple[str, ...]:
    """The references of the subject's ticket tags (`TICKET_TAG`), in order, without repeats.

    >>> ticket_tags("Re: [Case #C-12345] Printer [#77] [Case #C-12345]")
    ('C-12345', '77')
    """
    return tuple(dict.fromkeys(found[1] for found in TICKET_TAG.finditer(_subject_text(subject))))


def _subject_text(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("subject", "must be a string", personal=True)
    return value


def _one_id(value: object, field: str) -> str:
    found = message_ids(value, field=field)  # type: ignore[arg-type]
    if len(found) != 1:
        raise ValidationError(field, "must be exactly one message id", value)
    return found[0]


def _message_id(value: object) -> str | None:
    return None if value is None else _one_id(value, "message_id")


def _ids(value: object, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return message_ids(value, field=field)
    return tuple(
        dict.fromkeys(
            _one_id(item, f"{field}[{index}]") for index, item in enumerate(items(value, field))
        )
    )


def _in_reply_to(value: object) -> tuple[str, ...]:
    return _ids(value, "in_reply_to")


def _references(value: object) -> tuple[str, ...]:
    return _ids(value, "references")


def _subject(value: object) -> str:
    return clean_line(value, "subject", max_len=SUBJECT_MAX, personal=True, allow_empty=True)


def _address(value: object, field: str) -> str:
    text = clean_line(value, field, max_len=254, personal=True)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or SPACE.search(text) is not None:
        raise ValidationError(field, "must be an email address (local@domain)", personal=True)
    return f"{local}@{domain.lower()}"


def _from_address(value: object) -> str | None:
    return None if value is None else _address(value, "from_address")


def _to_addresses(value: object) -> tuple[str, ...]:
    found = items(value, "to_addresses", personal=True)
    return tuple(
        dict.fromkeys(_address(item, f"to_addresses[{i}]") for i, item in enumerate(found))
    )


@attrs.frozen
class InboundEmail:
    """The threading-relevant headers of a received email.

    Build it with `from_headers`, or directly: ``in_reply_to`` and
    ``references`` take a header string or a list of ids.

    Attributes:
        message_id: Its own ``Message-ID`` (``<left@right>``), if it has one.
        in_reply_to: The ``In-Reply-To`` ids.
        references: The ``References`` ids, oldest first.
        subject: The decoded subject (personal data).
        from_address: The ``From`` address, domain in lower case (personal data).
        to_addresses: The ``To`` then ``Cc`` addresses, without repeats (personal data).
        received_at: When it arrived, if known.
    """

    message_id: str | None = attrs.field(default=None, converter=_message_id)
    in_reply_to: tuple[str, ...] = attrs.field(default=(), converter=_in_reply_to)
    references: tuple[str, ...] = attrs.field(default=(), converter=_references)
    subject: str = attrs.field(default="", converter=_subject, metadata=PERSONAL, repr=False)
    from_address: str | None = attrs.field(
        default=None, converter=_from_address, metadata=PERSONAL, repr=False
    )
    to_addresses: tuple[str, ...] = attrs.field(
        default=(), converter=_to_addresses, metadata=PERSONAL, repr=False
    )
    received_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))


def from_headers(
    headers: Mapping[str, str] | Message, *, received_at: datetime | None = None
) -> InboundEmail:
    """An `InboundEmail` from a header mapping or a parsed `email.message.Message`.

    Header names are matched case-insensitively. From a mapping the first of
    names differing only in case wins; from a message, repeated ``In-Reply-To``
    and ``References`` headers are joined and the first of the others wins.
    The subject is decoded (RFC 2047), unfolded and cut at `SUBJECT_MAX`
    characters; undecodable bytes become U+FFFD. Addresses that cannot be
    parsed are skipped. ``received_at`` defaults to the date of the top-most
    ``Received`` header, else ``Date`` (a date without a zone is UTC), else None.
    """
    values: dict[str, list[str]] = {}
    for name, value in header_pairs(headers):
        values.setdefault(name.lower(), []).append(value)

    def first(name: str) -> str | None:
        found = values.get(name)
        return found[0] if found else None

    own = message_ids(first("message-id") or "", field="Message-ID")
    sender = _addresses(values.get("from", []))
    if received_at is not None:
        require_aware(received_at, "received_at")
    else:
        dates = [value.rpartition(";")[2] for value in values.get("received", [])[:1]]
        received_at = header_date(dates + values.get("date", [])[:1])
    return InboundEmail(
        message_id=own[0] if own else None,
        in_reply_to=message_ids(" ".join(values.get("in-reply-to", [])), field="In-Reply-To"),
        references=message_ids(" ".join(values.get("references", [])), field="References"),
        subject=_decoded_subject(first("subject") or ""),
        from_address=sender[0] if sender else None,
        to_addresses=_addresses(values.get("to", []) + values.get("cc", [])),
        received_at=received_at,
    )


def _decoded_subject(raw: str) -> str:
    try:
        text = str(make_header(decode_header(raw)))
    except (HeaderParseError, LookupError, ValueError):
        text = raw
    text = SPACE.sub(" ", CONTROL.sub(" ", header_text(text))).strip()
    return text[:SUBJECT_MAX].rstrip()


def _addresses(values: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for _name, address in getaddresses(values):
        try:
            found.append(_address(address, "address"))
        except ValidationError:
            continue  # an unparseable address never stops the email being threaded
    return tuple(dict.fromkeys(found))


def _by(value: object) -> ResolvedBy | None:
    return None if value is None else _to_by(value)


_to_by = to_enum(ResolvedBy, "by")


@attrs.frozen
class Resolution:
    """The record an email's thread belongs to, and how it was found.

    All three fields are None together when no thread was found.

    Attributes:
        record: The record, or None.
        by: ``in_reply_to``, ``references`` or ``subject``, or None.
        matched_id: The message id or ticket reference that matched, or None.
    """

    record: RecordRef | None = attrs.field(
        default=None, validator=of_type(RecordRef, optional=True)
    )
    by: ResolvedBy | None = attrs.field(default=None, converter=_by)
    matched_id: str | None = attrs.field(default=None, validator=of_type(str, optional=True))

    def __attrs_post_init__(self) -> None:
        if len({self.record is None, self.by is None, self.matched_id is None}) != 1:
            raise ValidationError("by", "record, by and matched_id are all set or all None")

    @property
    def found(self) -> bool:
        """Whether a record was found."""
        return self.record is not None


NOT_FOUND = Resolution()
"""The resolution of an email that starts a new thread."""


def resolve(
    email: InboundEmail,
    known: Callable[[str], RecordRef | None],
    *,
    by_subject: bool = True,
) -> Resolution:
    """The record ``email`` continues, looked up with ``known`` in the module docs' order.

    ``known`` receives a message id (``<left@right>``) or a ticket reference
    and returns the record it belongs to, or None. ``by_subject=False`` turns
    off the ticket-tag step.
    """
    if not isinstance(email, InboundEmail):
        raise ValidationError("email", "must be an InboundEmail", email)
    if not callable(known):
        raise ValidationError("known", "must be callable", known)
    steps: list[tuple[ResolvedBy, str]] = []
    if email.in_reply_to or not is_forward(email.subject):
        tried = {email.message_id}
        for by, ids in (
            (ResolvedBy.IN_REPLY_TO, email.in_reply_to),
            (ResolvedBy.REFERENCES, email.references[::-1]),
        ):
            for found in ids:
                if found not in tried:
                    tried.add(found)
                    steps.append((by, found))
    if by_subject:
        steps.extend((ResolvedBy.SUBJECT, tag) for tag in ticket_tags(email.subject))
    for by, key in steps:
        record = known(key)
        if record is not None:
            if not isinstance(record, RecordRef):
                raise ValidationError("known", "must return a RecordRef or None", record)
            return Resolution(record, by, key)
    return NOT_FOUND
