"""Header parsing for threading: the ids of ``Message-ID``, ``In-Reply-To`` and
``References`` headers, header values as text, and dates.

Private to `crmkit.interactions.threading`, which re-exports `ID_MAX` and
`message_ids` and describes what is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime

from crmkit.kernel.errors import ValidationError

ID_MAX = 996
"""Longest id inside the brackets, so that ``<id>`` fits a 998-character header line."""

SPACE = re.compile(r"\s+")
"""A run of white space."""
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""A control character or a lone surrogate."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_BARE_STOP = frozenset(' \t\r\n,;<>()"')


def message_ids(header_value: str, *, field: str = "header_value") -> tuple[str, ...]:
    """The ids of a ``Message-ID``, ``In-Reply-To`` or ``References`` header, as ``<left@right>``.

    See `crmkit.interactions.threading` for what is accepted. ``field`` names the header in errors.

    >>> message_ids("<a@x.example> (first)\\r\\n\\t<b@x.example>, <a@x.example> junk")
    ('<a@x.example>', '<b@x.example>')
    >>> message_ids("a@x.example b@x.example")
    ('<a@x.example>', '<b@x.example>')
    """
    if not isinstance(header_value, str):
        raise ValidationError(field, "must be a string", header_value)
    bracketed, bare = _scan(header_value)
    found = bracketed if bracketed else [word for word in bare if _bare_id(word)]
    ids: dict[str, None] = {}
    for raw in found:
        text = SPACE.sub("", raw)
        if text and len(text) <= ID_MAX and CONTROL.search(text) is None:
            ids.setdefault(f"<{text}>", None)
    return tuple(ids)


def _scan(text: str) -> tuple[list[str], list[str]]:
    """Split a header into ``<...>`` contents and bare words, skipping comments and quotes."""
    bracketed: list[str] = []
    bare: list[str] = []
    word: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        end = -1
        if char == "<":
            end = text.find(">", i + 1)
        elif char in '("':
            end = _closing(text, i, char, ")" if char == "(" else char)
        if end != -1 or char in _BARE_STOP:
            if word:
                bare.append("".join(word))
                word = []
            if end != -1 and char == "<":
                inner = text[i + 1 : end]
                bracketed.append(inner[inner.rfind("<") + 1 :])
            i = end + 1 if end != -1 else i + 1
        else:
            word.append(char)
            i += 1
    if word:
        bare.append("".join(word))
    return bracketed, bare


def _closing(text: str, start: int, opening: str, closing: str) -> int:
    """Index of the delimiter closing the comment or quote at ``start``, or -1 when none does."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == closing and (depth == 1 or opening == closing) and i > start:
            return i
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
        i += 1
    return -1


def _bare_id(word: str) -> bool:
    left, at, right = word.rpartition("@")
    return bool(at and left and right)


def header_pairs(headers: object) -> Iterable[tuple[str, str]]:
    """The (name, text) pairs of a header mapping or message; `ValidationError` if bad."""
    if isinstance(headers, Message):
        return [(name, header_text(value)) for name, value in headers.raw_items()]
    if not isinstance(headers, Mapping):
        raise ValidationError("headers", "must be a mapping or an email.message.Message", headers)
    pairs: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not isinstance(name, str):
            raise ValidationError("headers", "header names must be strings", name)
        if not isinstance(value, str):
            raise ValidationError(f"headers.{name}", "must be a string", personal=True)
        pairs.append((name, header_text(value)))
    return pairs


def header_text(value: object) -> str:
    """A header value as text; bytes smuggled in as surrogates are decoded as UTF-8 (or U+FFFD)."""
    text = str(value)
    if _SURROGATE.search(text) is None:
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def header_date(values: list[str]) -> datetime | None:
    """The first of ``values`` that parses as an RFC 5322 date (no zone: UTC), or None."""
    for value in values:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return None
