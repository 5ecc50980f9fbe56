"""The service process as the host configures it: SLA policies, calendars, queues, windows.

Like `crmkit.app.settings.SalesSettings`, every setting is data with a default,
so ``crmkit.open(url)`` works out of the box and a host changes only what its
own desk needs::

    crm = crmkit.open("sqlite:///crm.db", service=ServiceSettings(calendars=(office,)))
"""

from __future__ import annotations

from datetime import time, timedelta

import attrs

from crmkit.app.notifier import Template
from crmkit.kernel.directory import Directory
from crmkit.kernel.errors import ValidationError
from crmkit.service.calendar import ALWAYS, BusinessCalendar, Shift, WeeklyHours
from crmkit.service.case import DEFAULT_AUTO_CLOSE_AFTER, DEFAULT_REOPEN_WINDOW
from crmkit.service.routing import Queue
from crmkit.service.sla_policy import Priority, SlaMetric, SlaPolicies, SlaPolicy, SlaTarget

OFFICE_HOURS = BusinessCalendar(
    "office", "UTC", WeeklyHours.weekdays(Shift(time(9), time(12)), Shift(time(13), time(17)))
)
"""The default business calendar: weekdays 09:00-12:00 and 13:00-17:00 UTC."""

DEFAULT_SLA_POLICIES = SlaPolicies(
    (
        SlaPolicy(
            "standard",
            "Standard",
            (
                SlaTarget(SlaMetric.FIRST_RESPONSE, timedelta(hours=8)),
                SlaTarget(SlaMetric.RESOLUTION, timedelta(hours=40)),
            ),
            "office",
        ),
        SlaPolicy(
            "urgent",
            "Urgent",
            (
                SlaTarget(SlaMetric.FIRST_RESPONSE, timedelta(hours=1)),
                SlaTarget(SlaMetric.NEXT_RESPONSE, timedelta(hours=4)),
                SlaTarget(SlaMetric.RESOLUTION, timedelta(hours=8)),
            ),
            "office",
            priorities=(Priority.HIGH, Priority.URGENT),
        ),
    )
)
"""The policies used when the host gives none: a standard one (first response within 8
business hours, resolution within 40) and an urgent one for high and urgent cases."""

ACKNOWLEDGEMENT = Template(
    "We received your complaint: $subject",
    "Thank you for telling us. Your complaint $complaint_id, received on $received_on,"
    " is in our hands; we will come back to you.",
)
"""The default acknowledgement of a complaint (placeholders from `acknowledgement`)."""


def _calendars(value: object) -> tuple[BusinessCalendar, ...]:
    found = tuple(value) if isinstance(value, list | tuple) else ()
    if not all(isinstance(c, BusinessCalendar) for c in found):
        raise ValidationError("calendars", "must hold BusinessCalendar values")
    names = [c.name for c in found]
    if len(set(names)) != len(names):
        raise ValidationError("calendars", "must have distinct names", names)
    return found


@attrs.frozen
class ServiceSettings:
    """How this host runs its service desk.

    Attributes:
        sla_policies: The SLA policies; the most specific match applies to a case.
        calendars: The business calendars policies name (``always`` is 24x7 UTC).
        queues: Where cases wait, by type and skills.
        directory: The agents, their teams, skills and capacity, for assignment.
        reopen_within: How long after resolution a case may be reopened.
        auto_close_after: How long after resolution a case closes by itself.
        acknowledgement: The message that acknowledges a complaint, by email.
        escalate_on_warning: Escalation level an SLA warning raises a case to (0: none).
        escalate_on_breach: Escalation level an SLA breach raises a case to (0: none).
    """

    sla_policies: SlaPolicies = DEFAULT_SLA_POLICIES
    calendars: tuple[BusinessCalendar, ...] = attrs.field(
        default=(OFFICE_HOURS, ALWAYS), converter=_calendars
    )
    queues: tuple[Queue, ...] = ()
    directory: Directory = attrs.field(factory=Directory)
    reopen_within: timedelta = DEFAULT_REOPEN_WINDOW
    auto_close_after: timedelta = DEFAULT_AUTO_CLOSE_AFTER
    acknowledgement: Template = ACKNOWLEDGEMENT
    escalate_on_warning: int = 1
    escalate_on_breach: int = 2

    def calendar(self, name: str) -> BusinessCalendar:
        """The calendar called ``name``; `ValidationError` if none is configured."""
        for calendar in self.calendars:
            if calendar.name == name:
                return calendar
        raise ValidationError("calendar_name", "names no configured calendar", name)
