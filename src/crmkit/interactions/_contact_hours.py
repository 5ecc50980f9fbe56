"""Contact hours, as `preferences` and `best_time` read them.

Private to `crmkit.interactions`: both modules read contact hours with the
business-calendar rules of `crmkit.service.calendar` in the contact's zone.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from crmkit.service.calendar import BusinessCalendar, WeeklyHours


def contact_calendar(hours: WeeklyHours, tz: ZoneInfo) -> BusinessCalendar:
    """The contact ``hours`` as a calendar in the contact's zone ``tz``."""
    return BusinessCalendar("contact hours", tz, hours)
