"""Validated text: the rules every stored string follows.

Strings are normalised to NFC and refuse NUL, control characters that mean
nothing in the field, and lone surrogates (which ``sqlite3`` cannot encode and
PostgreSQL rejects). Each kind of field has a size limit.
"""

from __future__ import annotations

import re
import unicodedata

from crmkit.kernel.errors import ValidationError

LINE_MAX = 200
"""Longest single-line value (names, subjects, cities ...), in characters."""
TEXT_MAX = 20_000
"""Longest free text (notes, descriptions, email bodies), in characters."""

# C0 and C1 controls, DEL, and lone surrogates. Tab, line feed and carriage
# return are allowed in multi-line text only.
_BAD_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_TOKEN = re.compile(r"[a-z][a-z0-9_]*")


def clean_line(
    value: object,
    field: str,
    *,
    max_len: int = LINE_MAX,
    personal: bool = False,
    allow_empty: bool = False,
) -> str:
    """Validate and normalise a single-line string.

    Surrounding white space is stripped and the result is NFC. Raises
    `ValidationError` naming ``field`` when a rule is broken.

    >>> clean_line("  Cafe\u0301 Central ", "name")
    'Café Central'
    """
    return _clean(value, field, _BAD_LINE, max_len, personal, allow_empty, "a single line")


def clean_text(
    value: object,
    field: str,
    *,
    max_len: int = TEXT_MAX,
    personal: bool = False,
    allow_empty: bool = True,
) -> str:
    """Validate and normalise free text that may span several lines."""
    return _clean(value, field, _BAD_TEXT, max_len, personal, allow_empty, "text")


def clean_token(value: object, field: str, *, max_len: int = 63) -> str:
    """Validate a machine name: lower-case ASCII letters, digits and ``_``, starting with a letter.

    >>> clean_token("lead", "kind")
    'lead'
    """
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string", value)
    if not 0 < len(value) <= max_len or _TOKEN.fullmatch(value) is None:
        raise ValidationError(
            field, f"must match [a-z][a-z0-9_]* and be at most {max_len} characters", value
        )
    return value


def _clean(
    value: object,
    field: str,
    bad: re.Pattern[str],
    max_len: int,
    personal: bool,
    allow_empty: bool,
    what: str,
) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string", value, personal=personal)
    found = bad.search(value)
    if found is not None:
        char = found.group()
        rule = (
            "must not contain a lone surrogate"
            if "\ud800" <= char <= "\udfff"
            else f"must not contain control character U+{ord(char):04X} in {what}"
        )
        raise ValidationError(field, rule, value, personal=personal)
    text = value.strip()
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if not text and not allow_empty:
        raise ValidationError(field, "must not be empty", value, personal=personal)
    if len(text) > max_len:
        raise ValidationError(
            field, f"must be at most {max_len} characters (has {len(text)})", personal=personal
        )
    return text
