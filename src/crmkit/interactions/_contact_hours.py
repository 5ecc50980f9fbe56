"""Time zones and contact hours, as `preferences` and `best_time` read them.

Private to `crmkit.interactions`: both modules take a zone as a `ZoneInfo` or
an IANA key, and read contact hours with the business-calendar rules of
`crmkit.service.calendar` in the contact's zone.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from crmkit.kernel.time import zone as lookup_zone
from crmkit.service.calendar import BusinessCalendar, WeeklyHours


def as_zone(value: object, field: str) -> ZoneInfo:
    """``value`` if it is a `ZoneInfo`, else the zone its IANA key names.

    Raises `ValidationError` naming ``field`` when ``value`` names no known zone.
    """
    return value if isinstance(value, ZoneInfo) else lookup_zone(value, field)


def contact_calendar(hours: WeeklyHours, tz: ZoneInfo) -> BusinessCalendar:
    """The contact ``hours`` as a calendar in the contact's zone ``tz``."""
    return BusinessCalendar("contact hours", tz, hours)
