"""Hypothesis strategies for marketing journeys: triggers, guards, journeys and recipients."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from hypothesis import strategies as st

from crmkit.marketing.guards import FrequencyCap, QuietAction, QuietHours, Recipient
from crmkit.marketing.journey import Journey
from crmkit.marketing.triggers import (
    Anniversary,
    AnniversaryOf,
    Birthday,
    Holiday,
    Inactivity,
    QuoteNotAccepted,
    Trigger,
    WelcomeSeries,
)

JOURNEY_ZONES: Final = ("Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata")
"""Zones drawn for recipients: two with DST, UTC and one at +05:30."""

_HOLIDAY_RULES: Final = (
    ("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24", "Christmas Eve"),
    ("FREQ=MONTHLY;BYMONTHDAY=1", "First of the month"),
    ("FREQ=WEEKLY;BYDAY=FR", "Friday"),
)


def clock_times() -> st.SearchStrategy[time]:
    """Local times in whole quarter hours."""
    return st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


def triggers() -> st.SearchStrategy[Trigger]:
    """Any trigger, with small parameters."""
    steps = st.lists(st.integers(1, 30 * 24), min_size=1, max_size=4, unique=True).map(
        lambda hours: WelcomeSeries(tuple(timedelta(hours=h) for h in sorted(hours)))
    )
    return st.one_of(
        st.builds(Birthday, clock_times()),
        st.builds(Anniversary, st.sampled_from(AnniversaryOf), clock_times()),
        st.sampled_from(_HOLIDAY_RULES).flatmap(
            lambda rule: st.builds(Holiday, st.just(rule[0]), st.just(rule[1]), clock_times())
        ),
        steps,
        st.builds(Inactivity, st.integers(1, 60)),
        st.builds(QuoteNotAccepted, st.integers(1, 30)),
    )


def quiet_hours() -> st.SearchStrategy[QuietHours]:
    """Quiet windows, often wrapping midnight, deferring or dropping."""
    return st.builds(QuietHours, clock_times(), clock_times(), st.sampled_from(QuietAction))


def frequency_caps() -> st.SearchStrategy[FrequencyCap]:
    """Caps of 1 to 3 sends per 1 hour to 7 days."""
    return st.builds(
        FrequencyCap, st.integers(1, 3), st.integers(1, 168).map(lambda h: timedelta(hours=h))
    )


def journeys(index: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[Journey]:
    """Journeys with any trigger, list ``list-1``/``list-2`` and campaign ``cmp-1``/``cmp-2``."""
    ids = (st.integers(1, 999) if index is None else index).map(lambda i: f"j-{i}")
    return st.builds(
        Journey,
        id=ids,
        name=st.just("Journey"),
        trigger=triggers(),
        template_key=st.sampled_from(["birthday", "welcome", "nudge"]),
        list_id=st.sampled_from([None, "list-1", "list-2"]),
        campaign_id=st.sampled_from([None, "cmp-1", "cmp-2"]),
        cap=frequency_caps(),
        quiet=quiet_hours(),
    )


def instants() -> st.SearchStrategy[datetime]:
    """UTC instants in 2024-2027, covering leap days and DST changes."""
    return st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))


def recipients() -> st.SearchStrategy[Recipient]:
    """Recipients with every fact set, consent granted for email marketing, nothing sent."""
    return st.builds(
        Recipient,
        contact_id=st.just("c-1"),
        time_zone=st.sampled_from(JOURNEY_ZONES),
        birthday=st.one_of(
            st.just(date(2000, 2, 29)), st.dates(date(1950, 1, 1), date(2005, 12, 31))
        ),
        customer_since=st.dates(date(2015, 1, 1), date(2025, 12, 31)),
        signed_up_at=instants(),
        last_activity_at=instants(),
        quotes_presented_at=st.lists(instants(), max_size=2).map(tuple),
        consent=st.just({"email/marketing": "granted"}),
    )
