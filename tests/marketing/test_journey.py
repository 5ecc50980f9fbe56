"""Journeys: calendar edge cases, guards, refusals and serialisation."""

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.marketing.guards import FrequencyCap, QuietAction, QuietHours, Reason, Recipient, Sent
from crmkit.marketing.journey import Journey, evaluate, plan, send_key, why_not
from crmkit.marketing.triggers import (
    Anniversary,
    Birthday,
    Holiday,
    Inactivity,
    QuoteNotAccepted,
    WelcomeSeries,
    next_occurrences,
)
from crmkit.testing._strategies_journeys import journeys, recipients

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
GRANTED = {"email/marketing": "granted"}
YEAR = timedelta(days=366)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _person(**kw: object) -> Recipient:
    base: dict[str, object] = {
        "contact_id": "c-1",
        "time_zone": "Europe/Berlin",
        "consent": GRANTED,
    }
    return Recipient(**{**base, **kw})


def _journey(trigger: object, **kw: object) -> Journey:
    base: dict[str, object] = {
        "id": "j-1",
        "name": "J",
        "trigger": trigger,
        "template_key": "t",
        "quiet": QuietHours("22:00", "07:00"),
        "cap": FrequencyCap(5, timedelta(hours=1)),
    }
    return Journey(**{**base, **kw})


# --- February 29 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2027, date(2027, 2, 28)), (2028, date(2028, 2, 29)), (2100, date(2100, 2, 28))],
)
def test_feb_29_birthday_is_feb_28_in_non_leap_years(year: int, expected: date) -> None:
    r = _person(birthday=date(2000, 2, 29))
    found = next_occurrences(Birthday(), r, _utc(year, 1, 1), _utc(year, 12, 31))
    assert [(t.date(), t.hour, t.tzinfo) for t in found] == [(expected, 9, BERLIN)]


def test_feb_29_customer_since_anniversary_follows_the_same_rule() -> None:
    r = _person(customer_since=date(2024, 2, 29))
    found = next_occurrences(Anniversary(), r, _utc(2024, 1, 1), _utc(2029, 1, 1))
    assert [t.date() for t in found] == [date(y, 2, 28) for y in (2025, 2026, 2027)] + [
        date(2028, 2, 29)
    ]


# --- time zones and DST ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "days"),
    [
        (
            "Europe/Berlin",
            [date(1990, 3, 28), date(1990, 3, 30), date(1990, 10, 24), date(1990, 10, 26)],
        ),
        (
            "America/New_York",
            [date(1990, 3, 7), date(1990, 3, 9), date(1990, 10, 31), date(1990, 11, 2)],
        ),
    ],
)
def test_birthday_send_is_nine_local_on_both_sides_of_dst(zone: str, days: list[date]) -> None:
    offsets = set()
    for day in days:
        r = _person(time_zone=zone, birthday=day)
        sends = plan(_journey(Birthday()), r, _utc(2026, 1, 1), YEAR)
        assert len(sends) == 1
        local = sends[0].at.astimezone(ZoneInfo(zone))
        assert (local.date(), local.hour, local.minute) == (day.replace(year=2026), 9, 0)
        assert sends[0].at.tzinfo is UTC
        offsets.add(local.utcoffset())
    assert len(offsets) == 2  # the UTC instant really moved with the clocks


def test_local_time_skipped_by_dst_moves_forward_by_the_gap() -> None:
    r = _person(birthday=date(1990, 3, 29))
    (found,) = next_occurrences(Birthday("02:30"), r, _utc(2026, 1, 1), _utc(2027, 1, 1))
    assert (found.hour, found.minute) == (3, 30)


def test_birthday_uses_the_local_calendar_day_not_utc() -> None:
    r = _person(time_zone="Pacific/Auckland", birthday=date(1990, 6, 1))
    (found,) = next_occurrences(Birthday("08:00"), r, _utc(2026, 1, 1), _utc(2027, 1, 1))
    assert found.astimezone(UTC).date() == date(2026, 5, 31)


# --- the other triggers ----------------------------------------------------------------------


def test_holiday_welcome_inactivity_and_quote_triggers() -> None:
    r = _person(
        signed_up_at=_utc(2026, 5, 4, 10),
        last_activity_at=_utc(2026, 5, 1, 12),
        quotes_presented_at=(_utc(2026, 5, 2, 12), _utc(2026, 5, 3, 12)),
    )
    after, until = _utc(2026, 1, 1), _utc(2027, 1, 1)
    (eve,) = next_occurrences(
        Holiday("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24", "Eve"), r, after, until
    )
    assert (eve.date(), eve.hour) == (date(2026, 12, 24), 9)
    welcome = WelcomeSeries((timedelta(0), timedelta(days=3)))
    assert next_occurrences(welcome, r, after, until) == [
        _utc(2026, 5, 4, 10),
        _utc(2026, 5, 7, 10),
    ]
    assert next_occurrences(Inactivity(30), r, after, until) == [_utc(2026, 5, 31, 12)]
    assert next_occurrences(QuoteNotAccepted(7), r, after, until) == [
        _utc(2026, 5, 9, 12),
        _utc(2026, 5, 10, 12),
    ]
    assert next_occurrences(Birthday(), r, after, until) == []  # no birthday known
    (skip,) = why_not(_journey(Birthday()), r, after, YEAR)
    assert skip.reasons == (Reason.MISSING_DATA,)


# --- guards ----------------------------------------------------------------------------------


def test_quiet_hours_defer_to_the_end_of_the_window_in_the_contacts_zone() -> None:
    r = _person(signed_up_at=_utc(2026, 7, 1, 21, 30))  # 23:30 in Berlin
    (send,) = plan(_journey(WelcomeSeries((timedelta(0),))), r, _utc(2026, 7, 1), YEAR)
    assert send.at.astimezone(BERLIN) == datetime(2026, 7, 2, 7, tzinfo=BERLIN)
    assert send.occurrence == _utc(2026, 7, 1, 21, 30)
    assert send.key == send_key("j-1", "c-1", send.occurrence)


def test_quiet_hours_may_drop_instead() -> None:
    r = _person(signed_up_at=_utc(2026, 7, 1, 21, 30))
    journey = _journey(WelcomeSeries((0,)), quiet=QuietHours("22:00", "07:00", QuietAction.DROP))
    result = evaluate(journey, r, _utc(2026, 7, 1), YEAR)
    assert result.sends == ()
    assert [s.reasons for s in result.skipped] == [(Reason.QUIET_HOURS,)]


def test_quiet_hours_window_without_wrap_and_empty_window() -> None:
    day = QuietHours("12:00", "14:00")
    assert day.contains(datetime(2026, 1, 1, 13, tzinfo=BERLIN), BERLIN)
    assert not day.contains(datetime(2026, 1, 1, 14, tzinfo=BERLIN), BERLIN)
    assert day.release(datetime(2026, 1, 1, 13, tzinfo=BERLIN), BERLIN) == datetime(
        2026, 1, 1, 14, tzinfo=BERLIN
    )
    assert not QuietHours("00:00", "00:00").contains(_utc(2026, 1, 1), BERLIN)


def test_frequency_cap_counts_every_journey_and_past_sends() -> None:
    r = _person(birthday=date(1990, 6, 1), customer_since=date(2020, 6, 1))
    cap = FrequencyCap(1, timedelta(days=1))
    a = _journey(Birthday(), id="j-a", cap=cap)
    b = _journey(Anniversary(at="10:00"), id="j-b", cap=cap)
    result = evaluate([a, b], r, _utc(2026, 5, 1), timedelta(days=60))
    assert [s.journey_id for s in result.sends] == ["j-a"]
    assert [(s.journey_id, s.reasons) for s in result.skipped] == [("j-b", (Reason.FREQUENCY_CAP,))]
    earlier = attrs.evolve(r, sends=(Sent("j-x", "k", _utc(2026, 5, 31, 20)),))
    assert plan(a, earlier, _utc(2026, 5, 1), timedelta(days=60)) == ()


def test_an_occurrence_already_sent_is_not_planned_again() -> None:
    r = _person(birthday=date(1990, 6, 1))
    (send,) = plan(_journey(Birthday()), r, _utc(2026, 5, 1), YEAR)
    done = attrs.evolve(r, sends=(Sent("j-1", send.key, send.at),))
    assert plan(_journey(Birthday()), done, _utc(2026, 5, 1), YEAR) == ()
    assert why_not(_journey(Birthday()), done, _utc(2026, 5, 1), YEAR)[0].reasons == (
        Reason.ALREADY_SENT,
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"consent": {}}, Reason.NO_CONSENT),
        ({"consent": {"email/marketing": "withdrawn"}}, Reason.CONSENT_WITHDRAWN),
        ({"consent": {"email/sales": "granted"}}, Reason.NO_CONSENT),
        ({"consent": {"sms/marketing": "granted"}}, Reason.NO_CONSENT),
        ({"suppressed": True}, Reason.SUPPRESSED),
        ({"hard_bounced": True}, Reason.HARD_BOUNCED),
        ({"unsubscribed_all": True}, Reason.UNSUBSCRIBED_ALL),
        ({"unsubscribed_lists": ["news"]}, Reason.UNSUBSCRIBED_LIST),
        ({"unsubscribed_campaigns": ["cmp-1"]}, Reason.UNSUBSCRIBED_CAMPAIGN),
    ],
)
def test_refusals_are_listed_and_nothing_is_planned(
    change: dict[str, object], reason: Reason
) -> None:
    r = _person(birthday=date(1990, 6, 1), **change)
    journey = _journey(Birthday(), list_id="news", campaign_id="cmp-1")
    result = evaluate(journey, r, _utc(2026, 1, 1), YEAR)
    assert result.sends == ()
    assert [s.reasons for s in result.skipped] == [(reason,)]
    assert result.skipped[0].occurrence == _utc(2026, 6, 1, 7)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Holiday("FREQ=DAILY", "x"), "rule"),
        (lambda: Holiday("FREQ=YEARLY;COUNT=2", "x"), "rule"),
        (lambda: Holiday("nonsense", "x"), "rule"),
        (lambda: Birthday("25:00"), "at"),
        (lambda: WelcomeSeries((timedelta(days=2), timedelta(days=1))), "steps"),
        (lambda: WelcomeSeries(()), "steps"),
        (lambda: Inactivity(0), "days"),
        (lambda: FrequencyCap(0, timedelta(days=1)), "max_sends"),
        (lambda: _person(time_zone="Mars/Base"), "time_zone"),
        (lambda: _person(consent={"fax/marketing": "granted"}), "channel"),
        (lambda: _journey("birthday"), "trigger"),
        (lambda: plan(_journey(Birthday()), _person(), _utc(2026, 1, 1), timedelta(0)), "horizon"),
        (lambda: plan(_journey(Birthday()), _person(), datetime(2026, 1, 1), YEAR), "now"),
        (
            lambda: next_occurrences(Birthday(), "c-1", _utc(2026, 1, 1), _utc(2027, 1, 1)),
            "recipient",
        ),
        (lambda: next_occurrences(Birthday(), _person(), _utc(2026, 1, 1), "soon"), "until"),
    ],
)
def test_bad_input_is_a_validation_error(build: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field


def test_keys_are_stable_and_fit_the_notifier() -> None:
    at = _utc(2026, 3, 30, 7)
    assert send_key("j-1", "c-1", at) == send_key("j-1", "c-1", at.astimezone(BERLIN))
    assert send_key("j-1", "c-1", at) != send_key("j-2", "c-1", at)
    long = send_key("j" * 100, "c" * 100, at)
    assert len(long) <= 200
    assert long == send_key("j" * 100, "c" * 100, at)
    assert long != send_key("j" * 100, "c" * 99, at)


# --- serialisation ---------------------------------------------------------------------------


@settings(max_examples=60)
@given(journeys(), recipients())
def test_journeys_and_recipients_round_trip(journey: Journey, recipient: Recipient) -> None:
    conv = make_converter()
    for obj, cls in (
        (journey, Journey),
        (recipient, Recipient),
        (journey.trigger.value, type(journey.trigger.value)),
    ):
        data = conv.unstructure(obj)
        assert structure(conv, data, cls) == obj
        assert Loaders().load(cls, json.loads(dumps(data))) == obj
    for send in plan(journey, recipient, _utc(2026, 1, 1), timedelta(days=90)):
        assert structure(conv, conv.unstructure(send), type(send)) == send
