"""Value objects of parties: email addresses, phone numbers, postal addresses, tags.

Each validates and normalises itself when built, at the edge; aggregates hold
them as they are.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

import attrs

from crmkit.kernel.checks import to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL
from crmkit.kernel.text import clean_line

_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\U0010ffff]+")
_LABEL = re.compile(r"(?!-)[a-z0-9\-\u0080-\U0010ffff]{1,63}(?<!-)")
_COUNTRY = re.compile(r"[A-Z]{2}")
_PHONE_JUNK = re.compile(r"[\s().\-/]")


class ContactPointKind(StrEnum):
    """What an email address, phone number or postal address is for."""

    WORK = "work"
    HOME = "home"
    MOBILE = "mobile"
    BILLING = "billing"
    SHIPPING = "shipping"
    OTHER = "other"


_to_kind = to_enum(ContactPointKind, "kind")


def _kind(value: object) -> ContactPointKind:
    return _to_kind(value)


def _email(value: object) -> str:
    text = clean_line(value, "address", max_len=254, personal=True)
    local, at, domain = text.rpartition("@")
    if (
        not at
        or not local
        or len(local) > 64
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or _LOCAL.fullmatch(local) is None
    ):
        raise ValidationError("address", "must be an email address (local@domain)", personal=True)
    labels = domain.lower().split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValidationError("address", "must have a valid domain with a dot", personal=True)
    return f"{local}@{'.'.join(labels)}"


@attrs.frozen
class Email:
    """An email address, NFC-normalised, with its domain in lower case.

    Attributes:
        address: The address as it is sent to.
        kind: What it is for.

    >>> Email("Anna.Berg@Example.COM").address
    'Anna.Berg@example.com'
    >>> Email("Anna.Berg@Example.COM").key
    'anna.berg@example.com'
    """

    address: str = attrs.field(converter=_email, metadata=PERSONAL, repr=False)
    kind: ContactPointKind = attrs.field(default=ContactPointKind.WORK, converter=_kind)

    @property
    def key(self) -> str:
        """The address case-folded, for matching and duplicate checks."""
        return self.address.casefold()


def _e164(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("number", "must be a string", personal=True)
    text = clean_line(value, "number", max_len=40, personal=True)
    digits = _PHONE_JUNK.sub("", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits.startswith("+") or not digits[1:].isdigit() or not digits[1:].isascii():
        raise ValidationError(
            "number", "must be in international form, +<country code><number>", personal=True
        )
    if not 8 <= len(digits) - 1 <= 15 or digits[1] == "0":
        raise ValidationError("number", "must have 8 to 15 digits (E.164)", personal=True)
    return digits


@attrs.frozen
class Phone:
    """A phone number in E.164 form (``+4930123456``).

    Attributes:
        number: The number, ``+`` and digits only.
        kind: What it is for.

    >>> Phone("+49 (30) 1234-567").number
    '+49301234567'
    >>> Phone.parse("030 1234567", country_code="49").number
    '+49301234567'
    """

    number: str = attrs.field(converter=_e164, metadata=PERSONAL, repr=False)
    kind: ContactPointKind = attrs.field(default=ContactPointKind.WORK, converter=_kind)

    @classmethod
    def parse(
        cls, text: str, *, country_code: str, kind: ContactPointKind = ContactPointKind.WORK
    ) -> Phone:
        """Read a national number (``030 1234567``) by dropping its trunk 0 and adding the code."""
        if not isinstance(country_code, str) or not country_code.isdigit():
            raise ValidationError("country_code", "must be digits, for example '49'", country_code)
        raw = clean_line(text, "number", max_len=40, personal=True)
        if raw.startswith(("+", "00")):
            return cls(raw, kind)
        return cls(f"+{country_code}{_PHONE_JUNK.sub('', raw).lstrip('0')}", kind)


def _country(value: object) -> str:
    if not isinstance(value, str) or not value.isascii() or not _COUNTRY.fullmatch(value.upper()):
        raise ValidationError("country", "must be an ISO 3166-1 alpha-2 code", value)
    return value.upper()


def _lines(value: object) -> tuple[str, ...]:
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 3:
        raise ValidationError("lines", "must be 1 to 3 street lines", personal=True)
    return tuple(clean_line(line, f"lines[{i}]", personal=True) for i, line in enumerate(value))


def _city(value: object) -> str:
    return clean_line(value, "city")


def _postal_code(value: object) -> str | None:
    return None if value is None else clean_line(value, "postal_code", max_len=20)


def _region(value: object) -> str | None:
    return None if value is None else clean_line(value, "region", max_len=100)


@attrs.frozen
class Address:
    """A postal address.

    Attributes:
        lines: Street lines, one to three.
        city: City or town.
        country: ISO 3166-1 alpha-2 country code, upper case.
        postal_code: Postal code, if the country has them.
        region: State, province or region, if used.
        kind: What it is for (billing, shipping ...).
    """

    lines: tuple[str, ...] = attrs.field(converter=_lines, metadata=PERSONAL, repr=False)
    city: str = attrs.field(converter=_city)
    country: str = attrs.field(converter=_country)
    postal_code: str | None = attrs.field(default=None, converter=_postal_code)
    region: str | None = attrs.field(default=None, converter=_region)
    kind: ContactPointKind = attrs.field(default=ContactPointKind.WORK, converter=_kind)


def clean_tag(value: object, field: str = "tags") -> str:
    """A tag: a short single line, case-folded so that ``VIP`` and ``vip`` are one tag.

    >>> clean_tag(" VIP ")
    'vip'
    """
    # Case folding can undo NFC (U+01F0 folds to j and a combining caron): compose again.
    return unicodedata.normalize("NFC", clean_line(value, field, max_len=50).casefold())


def clean_tags(values: object, field: str = "tags") -> tuple[str, ...]:
    """Tags, de-duplicated and sorted, so that equal sets compare and serialise equal."""
    if isinstance(values, str) or not isinstance(values, tuple | list | set | frozenset):
        raise ValidationError(field, "must be a collection of tags", values)
    return tuple(sorted({clean_tag(value, f"{field}[{i}]") for i, value in enumerate(values)}))
