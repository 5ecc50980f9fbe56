"""What a segment reads about one contact: `Profile`, its index values and distances.

`crmkit.marketing.segment` re-exports every public name here; import them from there.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Final

import attrs

from crmkit.kernel.checks import aware, of_type
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.money import Money
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import to_micros
from crmkit.parties.consent import as_channel, as_purpose
from crmkit.parties.values import clean_tags
from crmkit.ports.storage import IndexField, IndexType, IndexValue

EARTH_RADIUS_KM: Final = Decimal("6371.0088")
"""The mean Earth radius (IUGG) that `distance_km` uses, in kilometres."""

_METRE: Final = Decimal("0.001")
_COUNTRY = re.compile(r"[A-Z]{2}")

INDEX_FIELDS: Final = (
    IndexField("country", IndexType.TEXT),
    IndexField("region", IndexType.TEXT),
    IndexField("city", IndexType.TEXT),
    IndexField("tags", IndexType.TEXT, multi=True),
    IndexField("account_tags", IndexType.TEXT, multi=True),
    IndexField("account_industry", IndexType.TEXT),
    IndexField("last_activity_at", IndexType.INT),
    IndexField("last_purchase_at", IndexType.INT),
    IndexField("total_spend_minor", IndexType.INT),
    IndexField("total_spend_currency", IndexType.TEXT),
    IndexField("rfm_class", IndexType.TEXT),
    IndexField("consent_granted", IndexType.TEXT, multi=True),
)
"""The index fields that segment pushdown filters on; `profile_index` fills them."""


def fold(value: object, field: str) -> str:
    """A single line, case-folded (and NFC again), so ``Berlin`` and ``BERLIN`` are one value."""
    # Case folding can undo NFC (U+01F0 folds to j and a combining caron): compose again.
    return unicodedata.normalize("NFC", clean_line(value, field).casefold())


def country_code(value: object, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code, upper-cased (``de`` becomes ``DE``)."""
    if not isinstance(value, str) or _COUNTRY.fullmatch(value.upper()) is None:
        raise ValidationError(field, "must be a two-letter ISO 3166-1 country code", value)
    return value.upper()


def coordinate(value: object, field: str, limit: int) -> Decimal:
    """A finite `Decimal` between ``-limit`` and ``limit`` degrees."""
    if not isinstance(value, Decimal) or not value.is_finite() or abs(value) > limit:
        raise ValidationError(field, f"must be a Decimal between -{limit} and {limit}", value)
    return value


def _contact_id(value: object) -> str:
    return check_id(value, "contact_id")


def _country(value: object) -> str | None:
    return None if value is None else country_code(value)


def _region(value: object) -> str | None:
    return None if value is None else clean_line(value, "region")


def _city(value: object) -> str | None:
    return None if value is None else clean_line(value, "city")


def _latitude(value: object) -> Decimal | None:
    return None if value is None else coordinate(value, "latitude", 90)


def _longitude(value: object) -> Decimal | None:
    return None if value is None else coordinate(value, "longitude", 180)


def _tags(value: object) -> tuple[str, ...]:
    return clean_tags(value, "tags")


def _account_tags(value: object) -> tuple[str, ...]:
    return clean_tags(value, "account_tags")


def _industry(value: object) -> str | None:
    return None if value is None else clean_line(value, "account_industry")


def _rfm(value: object) -> str | None:
    return None if value is None else clean_line(value, "rfm_class", max_len=20)


def _custom(value: object) -> CustomValues:
    if isinstance(value, CustomValues):
        return value
    if not isinstance(value, dict):
        raise ValidationError("custom", "must be CustomValues or a dict", value)
    return CustomValues(value)


def consent_key(channel: object, purpose: object) -> str:
    """The ``"channel:purpose"`` key of a consent, both parts checked."""
    return f"{as_channel(channel).value}:{as_purpose(purpose).value}"


def _consent(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValidationError("consent", "must be a dict of 'channel:purpose' to status", value)
    out: dict[str, str] = {}
    for key, status in value.items():
        channel, sep, purpose = key.partition(":") if isinstance(key, str) else ("", "", "")
        if not sep:
            raise ValidationError("consent", "keys must be 'channel:purpose'", key)
        try:
            name = consent_key(channel, purpose)
        except ValidationError:
            raise ValidationError(
                "consent", "keys must name a channel and a purpose", key
            ) from None
        if status not in ("granted", "withdrawn", "unknown"):
            raise ValidationError(
                f"consent[{key}]", "must be granted, withdrawn or unknown", status
            )
        out[name] = status
    return out


@attrs.frozen
class Profile:
    """The facts a segment reads about one contact (and the account it works for).

    Attributes:
        contact_id: The contact.
        country: ISO 3166-1 alpha-2 code of the contact's address, upper case.
        region: Region or state within the country.
        city: City name (matched case-insensitively).
        latitude: Degrees north, -90 to 90.
        longitude: Degrees east, -180 to 180.
        tags: The contact's tags (case-folded, sorted, unique).
        account_tags: The account's tags.
        account_industry: The account's industry.
        last_activity_at: The latest activity with the contact.
        last_purchase_at: The latest purchase.
        total_spend: Lifetime spend, in one currency.
        rfm_class: Recency-frequency-monetary class, for example ``champion``.
        consent: ``"channel:purpose"`` to ``granted``, ``withdrawn`` or ``unknown``.
        custom: The contact's custom values (`crmkit.kernel.custom.CustomValues`); the
            store indexes the indexed ones as the contact's ``cf_<name>`` fields
            (a dict is taken too).
    """

    contact_id: str = attrs.field(converter=_contact_id)
    country: str | None = attrs.field(default=None, converter=_country)
    region: str | None = attrs.field(default=None, converter=_region)
    city: str | None = attrs.field(default=None, converter=_city)
    latitude: Decimal | None = attrs.field(default=None, converter=_latitude)
    longitude: Decimal | None = attrs.field(default=None, converter=_longitude)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    account_tags: tuple[str, ...] = attrs.field(default=(), converter=_account_tags)
    account_industry: str | None = attrs.field(default=None, converter=_industry)
    last_activity_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    last_purchase_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    total_spend: Money | None = attrs.field(default=None, validator=of_type(Money, optional=True))
    rfm_class: str | None = attrs.field(default=None, converter=_rfm)
    consent: dict[str, str] = attrs.field(factory=dict, converter=_consent)
    custom: CustomValues = attrs.field(factory=CustomValues, converter=_custom, repr=False)


def _folded(value: str | None) -> str | None:
    return None if value is None else unicodedata.normalize("NFC", value.casefold())


def _micros(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def profile_index(profile: Profile) -> dict[str, IndexValue]:
    """The index values of ``profile`` for the fields of `INDEX_FIELDS`.

    Text that segments match case-insensitively (region, city, industry) is
    indexed case-folded; instants as UTC microseconds; spend as integer minor
    units next to its currency; consent as the granted ``"channel:purpose"`` keys.
    """
    spend = profile.total_spend
    return {
        "country": profile.country,
        "region": _folded(profile.region),
        "city": _folded(profile.city),
        "tags": profile.tags,
        "account_tags": profile.account_tags,
        "account_industry": _folded(profile.account_industry),
        "last_activity_at": _micros(profile.last_activity_at),
        "last_purchase_at": _micros(profile.last_purchase_at),
        "total_spend_minor": None if spend is None else spend.to_minor(),
        "total_spend_currency": None if spend is None else spend.currency,
        "rfm_class": profile.rfm_class,
        "consent_granted": tuple(
            sorted(key for key, status in profile.consent.items() if status == "granted")
        ),
    }


def distance_km(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> Decimal:
    """Great-circle distance by the haversine formula, in km rounded half-even to the metre.

    The Earth is taken as a sphere of radius `EARTH_RADIUS_KM`; against the
    WGS 84 ellipsoid that errs by up to about 0.5 %. The trigonometry runs in
    binary floating point (about 15 significant digits), far finer than the
    metre the result is rounded to.

    >>> distance_km(Decimal("52.52"), Decimal("13.405"), Decimal("53.5511"), Decimal("9.9937"))
    Decimal('255.251')
    """
    for name, value, limit in (
        ("lat1", lat1, 90),
        ("lon1", lon1, 180),
        ("lat2", lat2, 90),
        ("lon2", lon2, 180),
    ):
        coordinate(value, name, limit)
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    angle = 2 * math.asin(min(1.0, math.sqrt(h)))
    return (Decimal(repr(angle)) * EARTH_RADIUS_KM).quantize(_METRE)
