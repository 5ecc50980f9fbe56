"""Segment criteria: frozen, composable conditions on a contact's `Profile`.

`crmkit.marketing.segment` re-exports every public name here; import them from there.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final

import attrs

from crmkit.kernel.checks import of_type
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.kernel.text import clean_line
from crmkit.marketing._segment_custom import CustomBetween, CustomIs
from crmkit.marketing._segment_eval import consent_key, coordinate, country_code, fold
from crmkit.parties.values import clean_tags

MAX_DAYS: Final = 36_600
"""The longest look-back a time criterion accepts, in days (about a century)."""


def _nonempty(values: tuple[str, ...], field: str) -> tuple[str, ...]:
    if not values:
        raise ValidationError(field, "must name at least one value", values)
    return values


def many(value: object, field: str) -> tuple[object, ...]:
    """The items of a list or tuple (not text), or `ValidationError` naming ``field``."""
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise ValidationError(field, "must be a list or tuple", value)
    return tuple(value)


def _unique_sorted(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _codes(value: object) -> tuple[str, ...]:
    raw = many(value, "codes")
    return _nonempty(
        _unique_sorted(country_code(v, f"codes[{i}]") for i, v in enumerate(raw)), "codes"
    )


def _regions(value: object) -> tuple[str, ...]:
    raw = many(value, "regions")
    return _nonempty(_unique_sorted(fold(v, f"regions[{i}]") for i, v in enumerate(raw)), "regions")


def _names(value: object) -> tuple[str, ...]:
    raw = many(value, "names")
    return _nonempty(_unique_sorted(fold(v, f"names[{i}]") for i, v in enumerate(raw)), "names")


def _classes(value: object) -> tuple[str, ...]:
    raw = many(value, "classes")
    cleaned = (clean_line(v, f"classes[{i}]", max_len=20) for i, v in enumerate(raw))
    return _nonempty(_unique_sorted(cleaned), "classes")


def _tag_set(value: object) -> tuple[str, ...]:
    return _nonempty(clean_tags(value, "tags"), "tags")


def _latitude(value: object) -> Decimal:
    return coordinate(value, "lat", 90)


def _longitude(value: object) -> Decimal:
    return coordinate(value, "lon", 180)


def _km(value: object) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 20_100:
        raise ValidationError("km", "must be a Decimal from 0 to 20100", value)
    return value


def _days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise ValidationError("days", f"must be an int from 0 to {MAX_DAYS}", value)
    return value


def _country(value: object) -> str:
    return country_code(value)


def _channel(value: object) -> str:
    return consent_key(value, "marketing").partition(":")[0]


def _purpose(value: object) -> str:
    return consent_key("email", value).partition(":")[2]


@attrs.frozen
class InCountry:
    """The contact's country is one of ``codes``.

    Attributes:
        codes: ISO 3166-1 alpha-2 codes (upper-cased, sorted, unique).
    """

    codes: tuple[str, ...] = attrs.field(converter=_codes)


@attrs.frozen
class InRegion:
    """The contact is in ``country`` and one of its ``regions`` (case-insensitive).

    Attributes:
        country: ISO 3166-1 alpha-2 code.
        regions: Region names, case-folded.
    """

    country: str = attrs.field(converter=_country)
    regions: tuple[str, ...] = attrs.field(converter=_regions)


@attrs.frozen
class InCity:
    """The contact's city is one of ``names`` (case-insensitive).

    Attributes:
        names: City names, case-folded.
    """

    names: tuple[str, ...] = attrs.field(converter=_names)


@attrs.frozen
class WithinRadius:
    """The contact's coordinates lie within ``km`` of a point (see `distance_km`).

    Attributes:
        lat: Degrees north of the centre.
        lon: Degrees east of the centre.
        km: The radius in kilometres, inclusive.
    """

    lat: Decimal = attrs.field(converter=_latitude)
    lon: Decimal = attrs.field(converter=_longitude)
    km: Decimal = attrs.field(converter=_km)


@attrs.frozen
class HasTags:
    """The contact has any (or, with ``all``, every) one of ``tags``.

    Attributes:
        tags: Tags, case-folded.
        all: Require every tag instead of any.
    """

    tags: tuple[str, ...] = attrs.field(converter=_tag_set)
    all: bool = attrs.field(default=False, validator=of_type(bool))


@attrs.frozen
class AccountTag:
    """The contact's account has any (or, with ``all``, every) one of ``tags``.

    Attributes:
        tags: Tags, case-folded.
        all: Require every tag instead of any.
    """

    tags: tuple[str, ...] = attrs.field(converter=_tag_set)
    all: bool = attrs.field(default=False, validator=of_type(bool))


@attrs.frozen
class Industry:
    """The contact's account is in one of ``names`` (case-insensitive).

    Attributes:
        names: Industry names, case-folded.
    """

    names: tuple[str, ...] = attrs.field(converter=_names)


@attrs.frozen
class ActiveWithin:
    """The last activity is at or after ``as_of`` minus ``days``.

    Attributes:
        days: The look-back in days.
    """

    days: int = attrs.field(converter=_days)


@attrs.frozen
class InactiveFor:
    """No activity at or after ``as_of`` minus ``days`` (never active counts as inactive).

    Attributes:
        days: The quiet period in days.
    """

    days: int = attrs.field(converter=_days)


@attrs.frozen
class PurchasedWithin:
    """The last purchase is at or after ``as_of`` minus ``days``.

    Attributes:
        days: The look-back in days.
    """

    days: int = attrs.field(converter=_days)


@attrs.frozen
class SpendAtLeast:
    """Lifetime spend in ``amount``'s currency is at least ``amount`` (no conversion).

    Attributes:
        amount: The threshold; spend in another currency never matches.
    """

    amount: Money = attrs.field(validator=of_type(Money))


@attrs.frozen
class RfmClass:
    """The contact's RFM class is one of ``classes``.

    Attributes:
        classes: Class names, exact.
    """

    classes: tuple[str, ...] = attrs.field(converter=_classes)


@attrs.frozen
class Consented:
    """Consent for ``channel`` and ``purpose`` is granted (withdrawn or unknown is not).

    Attributes:
        channel: A `crmkit.parties.consent.Channel` value, for example ``email``.
        purpose: A `crmkit.parties.consent.Purpose` value, for example ``marketing``.
    """

    channel: str = attrs.field(converter=_channel)
    purpose: str = attrs.field(converter=_purpose)


def _criteria(value: object) -> tuple[Criterion, ...]:
    raw = many(value, "criteria")
    for i, item in enumerate(raw):
        if not isinstance(item, CRITERIA):
            raise ValidationError(f"criteria[{i}]", "must be a criterion", item)
    return raw  # type: ignore[return-value]


def as_criterion(value: object) -> Criterion:
    """``value`` if it is a criterion, else `ValidationError`."""
    if not isinstance(value, CRITERIA):
        raise ValidationError("criterion", "must be a criterion", value)
    return value


@attrs.frozen
class All:
    """Every one of ``criteria`` holds (true when there are none).

    Attributes:
        criteria: The criteria.
    """

    criteria: tuple[Criterion, ...] = attrs.field(converter=_criteria)


@attrs.frozen
class Any:
    """At least one of ``criteria`` holds (false when there are none).

    Attributes:
        criteria: The criteria.
    """

    criteria: tuple[Criterion, ...] = attrs.field(converter=_criteria)


@attrs.frozen
class Not:
    """``criterion`` does not hold.

    Attributes:
        criterion: The criterion to negate.
    """

    criterion: Criterion = attrs.field(converter=as_criterion)


Criterion = (
    InCountry
    | InRegion
    | InCity
    | WithinRadius
    | HasTags
    | AccountTag
    | Industry
    | ActiveWithin
    | InactiveFor
    | PurchasedWithin
    | SpendAtLeast
    | RfmClass
    | Consented
    | CustomIs
    | CustomBetween
    | All
    | Any
    | Not
)
"""Any segment criterion."""

CRITERIA: Final = (
    InCountry,
    InRegion,
    InCity,
    WithinRadius,
    HasTags,
    AccountTag,
    Industry,
    ActiveWithin,
    InactiveFor,
    PurchasedWithin,
    SpendAtLeast,
    RfmClass,
    Consented,
    CustomIs,
    CustomBetween,
    All,
    Any,
    Not,
)
"""Every criterion class, in the order of the `Criterion` union."""
