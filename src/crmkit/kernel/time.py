"""Instants: timezone-aware datetimes, stored as UTC microseconds.

ISO strings with mixed offsets do not sort, so indexes hold integer
microseconds since the Unix epoch in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmkit.kernel.errors import ValidationError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def require_aware(value: object, field: str) -> datetime:
    """Return ``value`` if it is a timezone-aware `datetime`, else raise `ValidationError`."""
    if not isinstance(value, datetime):
        raise ValidationError(field, "must be a datetime", value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "must be timezone-aware", value)
    return value


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch (UTC) of an aware datetime.

    >>> to_micros(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
    1000000
    """
    return (value - _EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    """The UTC datetime for microseconds since the Unix epoch."""
    return _EPOCH + timedelta(microseconds=value)


def zone(key: object, field: str = "time_zone") -> ZoneInfo:
    """An IANA time zone: ``key`` itself if it is a `ZoneInfo`, else the zone it names
    (for example ``Europe/Berlin``)."""
    if isinstance(key, ZoneInfo):
        return key
    if not isinstance(key, str):
        raise ValidationError(field, "must be an IANA time zone name", key)
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationError(field, "must be a known IANA time zone name", key) from exc
