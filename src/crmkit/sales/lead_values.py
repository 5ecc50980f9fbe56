"""Values that leads, their events and their capture share: status, source and field rules.

Every converter here validates one lead field and raises `ValidationError`
naming it; `LeadInput` (capture) and `Lead` use the same ones, so a value
that passed capture is stored as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Final

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import CampaignId, check_id
from crmkit.kernel.text import clean_line, clean_text, clean_token
from crmkit.parties.values import Email, Phone, clean_tags

CHANNELS: Final = ("web", "email", "phone", "event", "referral", "import", "campaign", "manual")
"""The usual capture channels; hosts may use any other lower-case token."""

TEXT_FIELDS: Final = ("company", "title", "website", "country", "region", "city", "description")
"""Optional text fields of a lead that are not personal data."""

PERSONAL_FIELDS: Final = ("first_name", "last_name", "email", "phone")
"""Fields of a lead that hold personal data."""

_COUNTRY = re.compile(r"[A-Z]{2}")
_ANSWER_MAX = 500


class LeadStatus(StrEnum):
    """Where a lead stands in its lifecycle."""

    NEW = "new"
    WORKING = "working"
    NURTURING = "nurturing"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"
    RECYCLED = "recycled"


def optional_line(
    value: object, field: str, *, max_len: int = 200, personal: bool = False
) -> str | None:
    """None (or blank text, which counts as not given), or a cleaned single line."""
    if value is None:
        return None
    text = clean_line(value, field, max_len=max_len, personal=personal, allow_empty=True)
    return text or None


def first_name(value: object) -> str | None:
    """Converter of ``first_name`` (personal)."""
    return optional_line(value, "first_name", personal=True)


def last_name(value: object) -> str | None:
    """Converter of ``last_name`` (personal)."""
    return optional_line(value, "last_name", personal=True)


def company(value: object) -> str | None:
    """Converter of ``company``."""
    return optional_line(value, "company")


def title(value: object) -> str | None:
    """Converter of ``title`` (job title)."""
    return optional_line(value, "title")


def website(value: object) -> str | None:
    """Converter of ``website``."""
    return optional_line(value, "website", max_len=2000)


def region(value: object) -> str | None:
    """Converter of ``region`` (state, province ...)."""
    return optional_line(value, "region", max_len=100)


def city(value: object) -> str | None:
    """Converter of ``city``."""
    return optional_line(value, "city")


def description(value: object) -> str | None:
    """Converter of ``description`` (free text; blank counts as not given)."""
    if value is None:
        return None
    return clean_text(value, "description") or None


def country(value: object) -> str | None:
    """Converter of ``country``: an ISO 3166-1 alpha-2 code, stored upper case."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("country", "must be an ISO 3166-1 alpha-2 code", value)
    code = value.strip().upper()
    if not code:
        return None
    if not code.isascii() or _COUNTRY.fullmatch(code) is None:
        raise ValidationError("country", "must be an ISO 3166-1 alpha-2 code", value)
    return code


def email(value: object) -> Email | None:
    """Converter of ``email``: an `Email`, or its address as text (personal)."""
    if value is None or isinstance(value, Email):
        return value
    if isinstance(value, str):
        try:
            return Email(value)
        except ValidationError as exc:
            raise ValidationError("email", exc.rule, personal=True) from None
    raise ValidationError("email", "must be an Email or an address", personal=True)


def phone(value: object) -> Phone | None:
    """Converter of ``phone``: a `Phone`, or an E.164 number as text (personal)."""
    if value is None or isinstance(value, Phone):
        return value
    if isinstance(value, str):
        try:
            return Phone(value)
        except ValidationError as exc:
            raise ValidationError("phone", exc.rule, personal=True) from None
    raise ValidationError("phone", "must be a Phone or a number", personal=True)


def owner_id(value: object) -> str | None:
    """Converter of ``owner_id`` (a user id)."""
    return None if value is None else check_id(value, "owner_id")


def tags(value: object) -> tuple[str, ...]:
    """Converter of ``tags``: case-folded, de-duplicated, sorted."""
    return clean_tags(value)


def answers(value: object) -> dict[str, str]:
    """Converter of qualification ``answers``: token names to non-empty single lines."""
    if not isinstance(value, Mapping):
        raise ValidationError("answers", "must be a mapping of question to answer", value)
    result: dict[str, str] = {}
    for key in sorted(value, key=str):
        name = clean_token(key, "answers")
        result[name] = clean_line(value[key], f"answers.{name}", max_len=_ANSWER_MAX)
    return result


def _channel(value: object) -> str:
    return clean_token(value, "source.channel", max_len=30)


def _campaign_id(value: object) -> CampaignId | None:
    return None if value is None else CampaignId(check_id(value, "source.campaign_id"))


def _utm_source(value: object) -> str | None:
    return optional_line(value, "source.utm_source")


def _utm_medium(value: object) -> str | None:
    return optional_line(value, "source.utm_medium")


def _utm_campaign(value: object) -> str | None:
    return optional_line(value, "source.utm_campaign")


def _utm_term(value: object) -> str | None:
    return optional_line(value, "source.utm_term")


def _utm_content(value: object) -> str | None:
    return optional_line(value, "source.utm_content")


@attrs.frozen
class LeadSource:
    """Where a lead came from.

    Attributes:
        channel: How it was captured: a lower-case token such as ``web``, ``email``,
            ``phone``, ``event``, ``referral``, ``import``, ``campaign`` or ``manual``.
        campaign_id: The marketing campaign it answered, if any.
        utm_source: The ``utm_source`` tag of the landing URL.
        utm_medium: The ``utm_medium`` tag.
        utm_campaign: The ``utm_campaign`` tag.
        utm_term: The ``utm_term`` tag.
        utm_content: The ``utm_content`` tag.

    >>> LeadSource("web", utm_source="newsletter").utm_source
    'newsletter'
    """

    channel: str = attrs.field(default="manual", converter=_channel)
    campaign_id: CampaignId | None = attrs.field(default=None, converter=_campaign_id)
    utm_source: str | None = attrs.field(default=None, converter=_utm_source)
    utm_medium: str | None = attrs.field(default=None, converter=_utm_medium)
    utm_campaign: str | None = attrs.field(default=None, converter=_utm_campaign)
    utm_term: str | None = attrs.field(default=None, converter=_utm_term)
    utm_content: str | None = attrs.field(default=None, converter=_utm_content)
