"""Channel preferences: the choice of channel, contact hours across DST, and JSON round trips."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.interactions.preferences import (
    CONSENT_PURPOSE,
    DEFAULT_CONTACT_HOURS,
    DEFAULT_ORDER,
    ChannelPreferences,
    Choice,
    ChoiceReason,
    ConsentLookup,
    ContactPurpose,
    NoChannel,
    Skip,
    SkipReason,
    choose_channel,
    may_call,
    next_call_window,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.parties.consent import Channel, ConsentStatus, Purpose
from crmkit.service.calendar import Shift, WeeklyHours

BERLIN = ZoneInfo("Europe/Berlin")
ALL = frozenset(Channel)
GRANTED, WITHDRAWN, UNKNOWN = ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN, ConsentStatus.UNKNOWN
# Monday 3 March 2025, 10:00 in Berlin (09:00 UTC): inside the default contact hours.
MONDAY_10 = datetime(2025, 3, 3, 10, tzinfo=BERLIN)
MONDAY_20 = datetime(2025, 3, 3, 20, tzinfo=BERLIN)


def choose(
    prefs: ChannelPreferences,
    purpose: str,
    consent: object = None,
    *,
    available: frozenset[Channel] = ALL,
    now: datetime = MONDAY_10,
    zone: str = "Europe/Berlin",
) -> Choice | NoChannel:
    return choose_channel(
        prefs,
        {} if consent is None else consent,  # type: ignore[arg-type]
        purpose,
        available=available,
        now=now,
        zone=zone,
    )


# --- hand cases, one per rule ---------------------------------------------------------------


def test_the_contacts_order_comes_first_then_the_default_order() -> None:
    prefs = ChannelPreferences(sales=("phone", "sms"))
    assert prefs.order("sales") == (
        Channel.PHONE,
        Channel.SMS,
        Channel.EMAIL,
        Channel.MESSAGING,
        Channel.POST,
    )
    assert prefs.order("sales", fallback=False) == (Channel.PHONE, Channel.SMS)
    assert prefs.order("service") == DEFAULT_ORDER
    choice = choose(prefs, "sales")
    assert choice == Choice(Channel.PHONE, ContactPurpose.SALES, ChoiceReason.PREFERRED)


def test_the_default_order_is_used_when_the_contacts_channels_are_refused() -> None:
    prefs = ChannelPreferences(service=("sms",))
    choice = choose(prefs, "service", available=frozenset({Channel.EMAIL}))
    assert isinstance(choice, Choice)
    assert (choice.channel, choice.reason) == (Channel.EMAIL, ChoiceReason.DEFAULT)
    assert choice.skipped == (Skip(Channel.SMS, SkipReason.NO_ADDRESS),)


def test_without_fallback_only_the_contacts_channels_are_tried() -> None:
    prefs = ChannelPreferences(sales=("sms",))
    choice = choose_channel(
        prefs,
        {},
        "sales",
        available={Channel.EMAIL},
        now=MONDAY_10,
        zone=BERLIN,
        fallback=False,
    )
    assert choice == NoChannel(ContactPurpose.SALES, (Skip(Channel.SMS, SkipReason.NO_ADDRESS),))


def test_marketing_needs_consent_granted_unknown_counts_as_no() -> None:
    prefs = ChannelPreferences(marketing=("email", "sms"))
    consent = {("sms", "marketing"): GRANTED}
    choice = choose(prefs, "marketing", consent)
    assert isinstance(choice, Choice)
    assert choice.channel is Channel.SMS
    assert choice.skipped == (Skip(Channel.EMAIL, SkipReason.NO_CONSENT),)
    nothing = choose(prefs, "marketing")
    assert isinstance(nothing, NoChannel)
    assert [reason for _, reason in nothing.reasons] == [SkipReason.NO_CONSENT] * len(Channel)


def test_other_purposes_are_refused_only_when_consent_was_withdrawn() -> None:
    prefs = ChannelPreferences(sales=("email", "sms"))
    assert choose(prefs, "sales").channel is Channel.EMAIL  # type: ignore[union-attr]
    withdrawn = {"email/sales": WITHDRAWN}  # "channel/purpose" keys work too
    choice = choose(prefs, "sales", withdrawn)
    assert isinstance(choice, Choice)
    assert choice.channel is Channel.SMS
    assert choice.skipped == (Skip(Channel.EMAIL, SkipReason.CONSENT_WITHDRAWN),)


def test_billing_is_checked_against_service_consent() -> None:
    assert CONSENT_PURPOSE[ContactPurpose.BILLING] is Purpose.SERVICE
    prefs = ChannelPreferences(billing=("email", "post"))
    choice = choose(prefs, "billing", {("email", "service"): WITHDRAWN})
    assert isinstance(choice, Choice)
    assert choice.channel is Channel.POST


def test_a_consent_function_such_as_contact_consent_for_is_accepted() -> None:
    asked: list[tuple[Channel, Purpose]] = []

    def consent(channel: Channel, purpose: Purpose) -> ConsentStatus:
        asked.append((channel, purpose))
        return WITHDRAWN if channel is Channel.EMAIL else UNKNOWN

    choice = choose_channel(
        ChannelPreferences(), consent, "service", available=ALL, now=MONDAY_10, zone=BERLIN
    )
    assert isinstance(choice, Choice)
    assert choice.channel is Channel.SMS
    assert asked == [(Channel.EMAIL, Purpose.SERVICE), (Channel.SMS, Purpose.SERVICE)]


@pytest.mark.parametrize(
    ("purpose", "blocked"),
    [("sales", True), ("marketing", True), ("service", False), ("billing", False)],
)
def test_do_not_call_blocks_sales_and_marketing_calls_only(purpose: str, blocked: bool) -> None:
    order = ("phone", "post")
    prefs = {
        "sales": ChannelPreferences(sales=order, do_not_call=True),
        "marketing": ChannelPreferences(marketing=order, do_not_call=True),
        "service": ChannelPreferences(service=order, do_not_call=True),
        "billing": ChannelPreferences(billing=order, do_not_call=True),
    }[purpose]
    consent = {("phone", "marketing"): GRANTED, ("post", "marketing"): GRANTED}
    choice = choose(prefs, purpose, consent)
    assert isinstance(choice, Choice)
    if blocked:
        assert choice.channel is Channel.POST
        assert choice.skipped == (Skip(Channel.PHONE, SkipReason.DO_NOT_CALL),)
    else:
        assert choice.channel is Channel.PHONE
    assert prefs.blocks("phone", purpose) is blocked
    assert not prefs.blocks("email", purpose)


@pytest.mark.parametrize(
    ("purpose", "blocked"),
    [("sales", True), ("marketing", True), ("service", False), ("billing", False)],
)
def test_do_not_email_blocks_sales_and_marketing_email_only(purpose: str, blocked: bool) -> None:
    prefs = ChannelPreferences(do_not_email=True)
    consent = {("email", "marketing"): GRANTED, ("sms", "marketing"): GRANTED}
    choice = choose(prefs, purpose, consent)
    assert isinstance(choice, Choice)
    assert choice.channel is (Channel.SMS if blocked else Channel.EMAIL)
    if blocked:
        assert choice.skipped == (Skip(Channel.EMAIL, SkipReason.DO_NOT_EMAIL),)


def test_do_not_flags_do_not_stand_in_for_consent() -> None:
    # No do-not flag set, yet marketing without consent is still refused.
    prefs = ChannelPreferences(marketing=("phone",))
    nothing = choose(prefs, "marketing", available=frozenset({Channel.PHONE}))
    assert isinstance(nothing, NoChannel)
    assert nothing.reasons[0] == Skip(Channel.PHONE, SkipReason.NO_CONSENT)


def test_phone_only_inside_contact_hours_other_channels_any_time() -> None:
    prefs = ChannelPreferences(service=("phone", "sms"))
    assert choose(prefs, "service").channel is Channel.PHONE  # type: ignore[union-attr]
    evening = choose(prefs, "service", now=MONDAY_20)
    assert isinstance(evening, Choice)
    assert evening.channel is Channel.SMS
    assert evening.skipped == (Skip(Channel.PHONE, SkipReason.OUTSIDE_HOURS),)


def test_contact_hours_are_read_in_the_contacts_zone() -> None:
    prefs = ChannelPreferences(service=("phone",))
    # 15:00 UTC on a Monday: 16:00 in Berlin (inside), 07:00 in Los Angeles (outside).
    at = datetime(2025, 3, 3, 15, tzinfo=UTC)
    assert choose(prefs, "service", now=at).channel is Channel.PHONE  # type: ignore[union-attr]
    late = choose(prefs, "service", now=at, zone="America/Los_Angeles")
    assert isinstance(late, Choice)
    assert late.skipped == (Skip(Channel.PHONE, SkipReason.OUTSIDE_HOURS),)


def test_reasons_unpack_as_pairs_and_read_as_text() -> None:
    nothing = choose(ChannelPreferences(), "sales", available=frozenset())
    assert isinstance(nothing, NoChannel)
    pairs = [(channel, reason) for channel, reason in nothing.reasons]
    assert pairs == [(channel, SkipReason.NO_ADDRESS) for channel in DEFAULT_ORDER]
    assert str(nothing.reasons[0]) == "email: no address for this channel"


def test_may_call_and_the_next_window() -> None:
    prefs = ChannelPreferences()  # Monday to Friday, 09:00-17:00
    assert prefs.contact_hours == DEFAULT_CONTACT_HOURS
    assert may_call(prefs, MONDAY_10, BERLIN)
    assert next_call_window(prefs, MONDAY_10, BERLIN) == MONDAY_10
    assert not may_call(prefs, MONDAY_20, "Europe/Berlin")
    assert next_call_window(prefs, MONDAY_20, BERLIN) == datetime(2025, 3, 4, 9, tzinfo=BERLIN)
    friday_evening = datetime(2025, 3, 7, 17, tzinfo=BERLIN)  # a shift's end is outside it
    assert not may_call(prefs, friday_evening, BERLIN)
    assert next_call_window(prefs, friday_evening, BERLIN) == datetime(
        2025, 3, 10, 9, tzinfo=BERLIN
    )


def test_do_not_call_applies_to_may_call_when_a_purpose_is_given() -> None:
    prefs = ChannelPreferences(do_not_call=True)
    assert may_call(prefs, MONDAY_10, BERLIN)
    assert not may_call(prefs, MONDAY_10, BERLIN, purpose="sales")
    assert may_call(prefs, MONDAY_10, BERLIN, purpose="service")
    assert next_call_window(prefs, MONDAY_20, BERLIN, purpose="marketing") is None
    assert next_call_window(prefs, MONDAY_10, BERLIN, purpose="billing") == MONDAY_10


def test_no_contact_hours_means_no_calls() -> None:
    prefs = ChannelPreferences(service=("phone", "email"), contact_hours=WeeklyHours())
    assert not may_call(prefs, MONDAY_10, BERLIN)
    assert next_call_window(prefs, MONDAY_10, BERLIN) is None
    assert choose(prefs, "service").channel is Channel.EMAIL  # type: ignore[union-attr]


def test_contact_hours_across_the_spring_gap() -> None:
    # Sunday 30 March 2025, Berlin: 02:00 CET jumps to 03:00 CEST. A 02:30-05:00 shift
    # starts at the end of the gap, 03:00 CEST (01:00 UTC).
    prefs = ChannelPreferences(contact_hours=WeeklyHours(sunday=(Shift("02:30", "05:00"),)))
    before = datetime(2025, 3, 30, 0, 59, tzinfo=UTC)
    assert not may_call(prefs, before, BERLIN)
    start = next_call_window(prefs, before, BERLIN)
    assert start == datetime(2025, 3, 30, 1, tzinfo=UTC)
    assert start is not None
    assert start.tzinfo is BERLIN
    assert start.hour == 3
    assert may_call(prefs, start, BERLIN)


def test_contact_hours_across_the_autumn_repeat() -> None:
    # Sunday 26 October 2025, Berlin: 03:00 CEST falls back to 02:00 CET. A 00:00-02:30
    # shift ends at the first 02:30 (00:30 UTC); the repeated 02:00-02:30 is outside.
    prefs = ChannelPreferences(contact_hours=WeeklyHours(sunday=(Shift("00:00", "02:30"),)))
    assert may_call(prefs, datetime(2025, 10, 26, 0, 29, tzinfo=UTC), BERLIN)
    assert not may_call(prefs, datetime(2025, 10, 26, 0, 30, tzinfo=UTC), BERLIN)
    repeated = datetime(2025, 10, 26, 2, 15, fold=1, tzinfo=BERLIN)
    assert repeated.astimezone(UTC) == datetime(2025, 10, 26, 1, 15, tzinfo=UTC)
    assert not may_call(prefs, repeated, BERLIN)
    assert next_call_window(prefs, repeated, BERLIN) == datetime(2025, 11, 1, 23, tzinfo=UTC)


def test_an_overnight_shift_runs_into_the_next_day() -> None:
    prefs = ChannelPreferences(contact_hours=WeeklyHours(friday=(Shift("22:00", "02:00"),)))
    assert may_call(prefs, datetime(2025, 3, 8, 1, 30, tzinfo=BERLIN), BERLIN)  # Saturday
    assert not may_call(prefs, datetime(2025, 3, 8, 2, tzinfo=BERLIN), BERLIN)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [("en", "en"), ("DE-at", "de-AT"), ("zh-hant-tw", "zh-Hant-TW"), ("es-419", "es-419"),
     ("en-US-x-Twain", "en-US-x-twain"), ("sr-Latn-RS", "sr-Latn-RS"), (None, None)],
)  # fmt: skip
def test_languages_are_bcp47_tags_in_canonical_case(given: str | None, expected: str) -> None:
    assert ChannelPreferences(language=given).language == expected


@pytest.mark.parametrize(
    "bad", ["", "e", "english", "en_US", "en-", "en--us", "de-ÄT", 7, "x" * 40]
)
def test_a_bad_language_names_the_field(bad: object) -> None:
    with pytest.raises(ValidationError, match=r"^language: must be a BCP 47 tag"):
        ChannelPreferences(language=bad)


def test_bad_preferences_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"^sales\[1\]: must be one of"):
        ChannelPreferences(sales=("email", "fax"))
    with pytest.raises(ValidationError, match=r"^service\[1\]: repeats a channel"):
        ChannelPreferences(service=("email", "email"))
    with pytest.raises(ValidationError, match=r"^billing: must be a list"):
        ChannelPreferences(billing="email")
    with pytest.raises(ValidationError, match=r"^do_not_call: must be bool"):
        ChannelPreferences(do_not_call=1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"^contact_hours: must be WeeklyHours"):
        ChannelPreferences(contact_hours={})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose": "research"}, "purpose"),
        ({"available": "email"}, "available"),
        ({"available": {"fax"}}, "available"),
        ({"now": datetime(2025, 3, 3, 10)}, "now"),
        ({"zone": "Mars/Olympus"}, "zone"),
        ({"consent": 42}, "consent"),
        ({"consent": {"email/sales": "maybe"}}, "consent"),
        ({"prefs": None}, "prefs"),
        ({"fallback": "no"}, "fallback"),
    ],
)
def test_bad_arguments_to_choose_channel_name_the_field(
    change: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {
        "prefs": ChannelPreferences(),
        "consent": {},
        "purpose": "sales",
        "available": ALL,
        "now": MONDAY_10,
        "zone": BERLIN,
        **change,
    }
    with pytest.raises(ValidationError) as raised:
        choose_channel(**args)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_bad_arguments_to_the_call_helpers_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"^now:"):
        may_call(ChannelPreferences(), datetime(2025, 3, 3, 10), BERLIN)
    with pytest.raises(ValidationError, match=r"^zone:"):
        next_call_window(ChannelPreferences(), MONDAY_10, "Nowhere/At_All")
    with pytest.raises(ValidationError, match=r"^purpose:"):
        may_call(ChannelPreferences(), MONDAY_10, BERLIN, purpose="spam")


# --- JSON round trip ------------------------------------------------------------------------


def _round_trip(value: object) -> None:
    conv = make_converter()
    data = conv.unstructure(value)
    assert structure(conv, data, type(value)) == value
    assert structure(conv, json.loads(dumps(data)), type(value)) == value
    assert Loaders().load(type(value), json.loads(dumps(data))) == value


def test_preferences_and_results_round_trip_through_json() -> None:
    prefs = ChannelPreferences(
        service=("phone", "email"),
        sales=("email",),
        marketing=("sms", "post"),
        billing=("post",),
        language="pt-BR",
        contact_hours=WeeklyHours.weekdays(Shift("08:00", "12:00"), Shift("13:00", "18:30")),
        do_not_call=True,
        do_not_email=True,
    )
    _round_trip(prefs)
    _round_trip(ChannelPreferences())
    _round_trip(choose(prefs, "service", now=MONDAY_20))
    _round_trip(choose(prefs, "marketing"))


def test_structuring_refuses_bad_json_with_a_field_path() -> None:
    data = make_converter().unstructure(ChannelPreferences())
    data["marketing"] = ["email", "telex"]
    with pytest.raises(ValidationError) as raised:
        structure(make_converter(), data, ChannelPreferences)
    assert raised.value.field.startswith("marketing")


# --- properties -----------------------------------------------------------------------------

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "UTC")


def _transitions(key: str) -> list[datetime]:
    """The hours of 2025 (UTC) in which the zone's offset changes."""
    tz = ZoneInfo(key)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    found = []
    offset = start.astimezone(tz).utcoffset()
    for hour in range(1, 365 * 24):
        at = start + timedelta(hours=hour)
        now = at.astimezone(tz).utcoffset()
        if now != offset:
            found.append(at)
            offset = now
    return found


TRANSITIONS = {key: _transitions(key) for key in ZONES}
# Clock times in quarter hours, weighted toward the small hours where clocks change.
CLOCKS = st.one_of(
    st.integers(0, 95).map(lambda q: f"{q // 4:02d}:{q % 4 * 15:02d}"),
    st.sampled_from(["00:00", "00:30", "01:30", "01:45", "02:00", "02:15", "02:30", "23:30"]),
)
# A day: how many shifts (0, 1 or 2), four clock times to cut them from, and whether a
# single shift runs overnight. Built from fixed strategies: hypothesis draws them fast.
DAYS = st.tuples(
    st.sampled_from([0, 0, 1, 1, 1, 2]),
    st.lists(CLOCKS, min_size=4, max_size=4),
    st.integers(0, 4),
)


def _day(drawn: tuple[int, list[str], int]) -> tuple[Shift, ...]:
    count, clocks, overnight = drawn
    cuts = sorted(set(clocks))
    if len(cuts) < 2 * count:
        return ()
    shifts = [Shift(cuts[2 * i], cuts[2 * i + 1]) for i in range(count)]
    if count == 1 and overnight == 0:
        shifts = [Shift(shifts[0].end, shifts[0].start)]
    return tuple(shifts)


def _week(days: tuple[tuple[int, list[str], int], ...]) -> WeeklyHours | None:
    try:
        return WeeklyHours(*map(_day, days))
    except ValidationError:  # an overnight shift overlapping the next day's
        return None


def weekly_hours() -> st.SearchStrategy[WeeklyHours]:
    """Weekly hours with split and overnight shifts, often at the hours when clocks change."""
    week = st.tuples(DAYS, DAYS, DAYS, DAYS, DAYS, DAYS, DAYS).map(_week)
    return week.filter(lambda hours: hours is not None)  # type: ignore[return-value]


CHANNEL_ORDERS = st.lists(st.sampled_from(list(Channel)), unique=True, max_size=5).map(tuple)

preferences = st.builds(
    ChannelPreferences,
    service=CHANNEL_ORDERS,
    sales=CHANNEL_ORDERS,
    marketing=CHANNEL_ORDERS,
    billing=CHANNEL_ORDERS,
    language=st.sampled_from([None, "en", "de-AT"]),
    contact_hours=st.one_of(st.just(DEFAULT_CONTACT_HOURS), weekly_hours()),
    do_not_call=st.booleans(),
    do_not_email=st.booleans(),
)

consent_tables = st.dictionaries(
    st.tuples(
        st.sampled_from([c.value for c in Channel]), st.sampled_from([p.value for p in Purpose])
    ),
    st.sampled_from(list(ConsentStatus)),
)


# Quarter hours from a change: mostly within three hours, sometimes a day and a half.
NEAR = st.one_of(st.integers(-12, 12), st.integers(-144, 144))


@st.composite
def moments(draw: st.DrawFn, key: str) -> datetime:
    """Any moment of 2025, or one within a day and a half of a change of the zone's offset."""
    changes = TRANSITIONS[key]
    near = draw(st.booleans())
    if changes and near:
        base = draw(st.sampled_from(changes))
        return base + timedelta(minutes=15 * draw(NEAR))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return start + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60 - 1)))


def _instant(day: date, seconds: int, tz: ZoneInfo) -> datetime:
    """The instant when the local wall clock in ``tz`` reads ``seconds`` after midnight of
    ``day``: its first occurrence (PEP 495 ``fold=0``), or, for a time skipped when clocks
    spring forward, the end of the gap (found by bisection on the wall clock)."""
    wall = datetime.combine(day, time()) + timedelta(seconds=seconds)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In a gap the wall clock only moves forward nearby: bisect for the first instant
    # whose wall-clock reading is at or after ``wall``.
    low = wall.replace(tzinfo=UTC) - timedelta(hours=30)
    high = wall.replace(tzinfo=UTC) + timedelta(hours=30)
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


def _intervals(
    hours: WeeklyHours, around: datetime, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    local_day = around.astimezone(tz).date()
    found = []
    for offset in range(-2, 10):
        day = local_day + timedelta(days=offset)
        for shift in hours.days[day.weekday()]:
            low, high = shift.seconds()
            start, end = _instant(day, low, tz), _instant(day, high, tz)
            if start < end:
                found.append((start, end))
    return found


def _oracle_in_hours(hours: WeeklyHours, at: datetime, tz: ZoneInfo) -> bool:
    return any(start <= at < end for start, end in _intervals(hours, at, tz))


def _oracle_next(hours: WeeklyHours, at: datetime, tz: ZoneInfo) -> datetime | None:
    later = [max(start, at) for start, end in _intervals(hours, at, tz) if end > at]
    return min(later, default=None)


def _unusable(
    prefs: ChannelPreferences,
    table: dict[tuple[str, str], ConsentStatus],
    channel: Channel,
    purpose: ContactPurpose,
    available: frozenset[Channel],
    at: datetime,
    tz: ZoneInfo,
) -> set[SkipReason]:
    """Every reason that forbids ``channel``, by the documented rules, written out again."""
    reasons = set()
    outbound = purpose in (ContactPurpose.SALES, ContactPurpose.MARKETING)
    if outbound and channel is Channel.PHONE and prefs.do_not_call:
        reasons.add(SkipReason.DO_NOT_CALL)
    if outbound and channel is Channel.EMAIL and prefs.do_not_email:
        reasons.add(SkipReason.DO_NOT_EMAIL)
    consent_purpose = "service" if purpose is ContactPurpose.BILLING else purpose.value
    status = table.get((channel.value, consent_purpose), UNKNOWN)
    if status is WITHDRAWN:
        reasons.add(SkipReason.CONSENT_WITHDRAWN)
    elif purpose is ContactPurpose.MARKETING and status is not GRANTED:
        reasons.add(SkipReason.NO_CONSENT)
    if channel not in available:
        reasons.add(SkipReason.NO_ADDRESS)
    if channel is Channel.PHONE and not _oracle_in_hours(prefs.contact_hours, at, tz):
        reasons.add(SkipReason.OUTSIDE_HOURS)
    return reasons


@st.composite
def messages(draw: st.DrawFn) -> tuple[ContactPurpose, frozenset[Channel], str, datetime]:
    key = draw(st.sampled_from(ZONES))
    purpose = draw(st.sampled_from(list(ContactPurpose)))
    available = draw(st.frozensets(st.sampled_from(list(Channel))))
    return purpose, available, key, draw(moments(key))


def _as_lookup(table: dict[tuple[str, str], ConsentStatus], form: int) -> ConsentLookup:
    if form == 0:
        return table
    if form == 1:
        return {f"{channel}/{purpose}": status for (channel, purpose), status in table.items()}

    def lookup(channel: Channel, purpose: Purpose) -> ConsentStatus:
        return table.get((channel.value, purpose.value), UNKNOWN)

    return lookup


@settings(max_examples=150, deadline=None)
@given(
    prefs=preferences,
    table=consent_tables,
    message=messages(),
    form=st.integers(0, 2),
    fallback=st.booleans(),
)
def test_nothing_goes_through_a_refused_channel_or_outside_contact_hours(
    prefs: ChannelPreferences,
    table: dict[tuple[str, str], ConsentStatus],
    message: tuple[ContactPurpose, frozenset[Channel], str, datetime],
    form: int,
    fallback: bool,
) -> None:
    purpose, available, key, at = message
    tz = ZoneInfo(key)
    lookup = _as_lookup(table, form)
    result = choose_channel(
        prefs,
        lookup,
        purpose,
        available=available,
        now=at,
        zone=key,
        fallback=fallback,
    )
    order = prefs.order(purpose, fallback=fallback)
    skipped = result.skipped if isinstance(result, Choice) else result.reasons
    # Every channel passed over really is unusable, for the reason given (the first in rule order).
    for skip in skipped:
        assert skip.reason in _unusable(prefs, table, skip.channel, purpose, available, at, tz)
    assert tuple(skip.channel for skip in skipped) == order[: len(skipped)]
    if isinstance(result, Choice):
        # The chosen channel is allowed: consent, do-not flags, address and contact hours.
        assert _unusable(prefs, table, result.channel, purpose, available, at, tz) == set()
        assert order[len(skipped)] is result.channel
        expected = (
            ChoiceReason.PREFERRED
            if result.channel in prefs.preferred(purpose)
            else ChoiceReason.DEFAULT
        )
        assert result.reason is expected
    else:
        assert len(skipped) == len(order)


@settings(max_examples=200, deadline=None)
@given(hours=weekly_hours(), key=st.sampled_from(ZONES), data=st.data())
def test_calls_are_suggested_only_inside_contact_hours_across_dst(
    hours: WeeklyHours, key: str, data: st.DataObject
) -> None:
    tz = ZoneInfo(key)
    at = data.draw(moments(key))
    prefs = ChannelPreferences(contact_hours=hours)
    assert may_call(prefs, at, tz) is _oracle_in_hours(hours, at, tz)
    window = next_call_window(prefs, at, key)
    # Compared in UTC: by PEP 495 a time in the repeated hour never equals one of another zone.
    assert (None if window is None else window.astimezone(UTC)) == _oracle_next(hours, at, tz)
    if window is not None:
        assert window >= at
        assert window.tzinfo is tz
        assert may_call(prefs, window, tz)


@settings(max_examples=40, deadline=None)
@given(prefs=preferences)
def test_any_preferences_round_trip_through_json(prefs: ChannelPreferences) -> None:
    _round_trip(prefs)
