"""Best time to call: a hand-computed fixture, a planted dataset, DST properties, bad input."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.interactions.best_time import (
    Attempt,
    CallOutcome,
    ContactHistory,
    EvidenceLevel,
    Model,
    Window,
    learn,
    windows,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.marketing.guards import QuietHours
from crmkit.service.calendar import BusinessCalendar, Shift, WeeklyHours
from crmkit.testing._strategies_calendar import DST_CHANGES, calendar_zones, weekly_hours

BERLIN, NEW_YORK, KOLKATA = (
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"),
)
OFFICE = WeeklyHours.weekdays(Shift("09:00", "17:00"))
HOUR = timedelta(hours=1)


def _at(day: int, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=tz)


# Slots: Monday 09:00 is 0*24+9 = 9, Tuesday 10:00 is 1*24+10 = 34, Wednesday 14:00 is 2*24+14 = 62.
FIXTURE = (
    ContactHistory(
        "ana",
        "Europe/Berlin",
        [
            Attempt(_at(4, 10, 15, BERLIN), "connected"),  # Tuesday 10:xx: 2 of 3
            Attempt(_at(11, 10, 40, BERLIN), "connected"),
            Attempt(_at(18, 10, 5, BERLIN), "no_answer"),
            Attempt(_at(25, 10, 20, BERLIN), "wrong_number"),  # ignored as evidence
            Attempt(_at(5, 14, 30, BERLIN), CallOutcome.VOICEMAIL),  # Wednesday 14:xx: 0 of 1
        ],
        account_id="acme",
    ),
    ContactHistory(
        "bo",
        NEW_YORK,
        [
            Attempt(_at(4, 10, 30, NEW_YORK), "busy"),  # Tuesday 10:xx local: 0 of 1
            Attempt(_at(3, 9, 10, NEW_YORK), "connected"),  # Monday 09:xx local: 1 of 1
        ],
        account_id="acme",
    ),
    ContactHistory("cy", KOLKATA, [Attempt(_at(4, 10, 0, KOLKATA), "connected")]),  # Tue 1 of 1
)


@pytest.fixture(scope="module")
def model() -> Model:
    return learn(iter(FIXTURE))  # a generator is enough: one pass


def test_tallies_are_in_each_contacts_local_time(model: Model) -> None:
    # ana 2/3 + bo 0/1 + cy 1/1 in slot 34, though the three calls were at three UTC times.
    assert [(t.slot, t.successes, t.attempts) for t in model.population] == [
        (9, 1, 1),
        (34, 3, 5),
        (62, 0, 1),
    ]
    assert [(t.slot, t.successes, t.attempts) for t in model.accounts["acme"]] == [
        (9, 1, 1),
        (34, 2, 4),
        (62, 0, 1),
    ]
    assert model.contacts["cy"].account_id is None


def test_hand_computed_posteriors(model: Model) -> None:
    # Evidence: 4 connected of 7 counted calls (the wrong number is left out).
    # g = (4 + 1) / (7 + 2) = 5/9; k = 5.
    assert model.rate(0) == Decimal("0.5556")  # no calls anywhere: g = 5/9 = 0.55556
    # Population alone, slot 34: (3 + 5·5/9) / (5 + 5) = (52/9) / 10 = 26/45 = 0.57778
    assert model.rate(34) == Decimal("0.5778")
    # ana, slot 34. Population outside acme (cy, 1 of 1): (1 + 5·5/9) / 6 = 34/54 = 17/27.
    # acme's other contact (bo, 0 of 1): (0 + 5·17/27) / 6 = 85/162.
    # ana herself (2 of 3): (2 + 5·85/162) / 8 = (749/162) / 8 = 749/1296 = 0.57793
    assert model.rate(34, contact_id="ana") == Decimal("0.5779")
    # bo, slot 9 (1 of 1, nobody else called then): the prior is g at every level,
    # (1 + 5·5/9) / 6 = 34/54 = 17/27 = 0.62963
    assert model.rate(9, contact_id="bo") == Decimal("0.6296")
    # ana, slot 9: she has no calls; bo's 1 of 1 gives acme 17/27, which she inherits.
    assert model.rate(9, contact_id="ana") == Decimal("0.6296")
    # ana, slot 62 (0 of 1, the only call then): (0 + 5·5/9) / 6 = 25/54 = 0.46296
    assert model.rate(62, contact_id="ana") == Decimal("0.4630")
    # A new contact of acme, slot 34: population outside acme 17/27, then all of acme (2 of 4):
    # (2 + 5·17/27) / 9 = (139/27) / 9 = 139/243 = 0.57202
    assert model.rate(34, contact_id="dee", account_id="acme") == Decimal("0.5720")


def test_windows_rank_with_evidence(model: Model) -> None:
    now = datetime(2025, 3, 3, tzinfo=BERLIN)  # a Monday, midnight
    found = windows(model, "ana", BERLIN, now=now, contact_hours=OFFICE)
    assert [(w.start, w.slot, w.rate) for w in found] == [
        (datetime(2025, 3, 3, 9, tzinfo=BERLIN), 9, Decimal("0.6296")),
        (datetime(2025, 3, 4, 10, tzinfo=BERLIN), 34, Decimal("0.5779")),
        # 5/9 for every untried office hour: the tie goes to the earliest.
        (datetime(2025, 3, 3, 10, tzinfo=BERLIN), 10, Decimal("0.5556")),
    ]
    assert [w.evidence.level for w in found] == [
        EvidenceLevel.ACCOUNT,
        EvidenceLevel.CONTACT,
        EvidenceLevel.POPULATION,
    ]
    assert (
        found[0].evidence.text
        == "the account's contacts connected 1 of 1 time on Mondays 09:00–10:00"
    )
    assert found[1].evidence.text == "connected 2 of 3 times on Tuesdays 10:00–11:00"
    assert (found[1].evidence.successes, found[1].evidence.attempts) == (2, 3)
    assert found[2].evidence.text == (
        "no calls on Mondays 10:00–11:00 yet; overall, contacts connected 4 of 7"
    )
    assert found[0].end - found[0].start == HOUR


def test_new_contact_gets_account_then_population_pattern(model: Model) -> None:
    now = datetime(2025, 3, 3, tzinfo=UTC)
    [acme] = windows(model, "dee", BERLIN, now=now, account_id="acme", contact_hours=OFFICE, top=1)
    assert acme.slot == 9
    assert (
        acme.evidence.text == "the account's contacts connected 1 of 1 time on Mondays 09:00–10:00"
    )
    [anyone] = windows(model, "eve", KOLKATA, now=now, contact_hours=OFFICE, top=1)
    # Everyone's pattern: slot 9 (bo's 1 of 1) is (1 + 5·5/9) / (1 + 5) = 17/27 = 0.6296,
    # ahead of slot 34 (3 of 5): 26/45 = 0.5778.
    assert (anyone.slot, anyone.rate, anyone.evidence.level) == (
        9,
        Decimal("0.6296"),
        EvidenceLevel.POPULATION,
    )
    assert anyone.start == datetime(2025, 3, 3, 9, tzinfo=KOLKATA)


def test_long_windows_average_their_hours(model: Model) -> None:
    now = datetime(2025, 3, 4, tzinfo=BERLIN)  # a Tuesday: next Monday is in the horizon
    found = windows(model, "ana", BERLIN, now=now, length=2 * HOUR, contact_hours=OFFICE, top=2)
    # Monday 09:00–11:00: (17/27 + 5/9) / 2 = (17/27 + 15/27) / 2 = 16/27 = 0.59259
    # Tuesday 09:00–11:00: (5/9 + 749/1296) / 2 = (720 + 749) / 2592 = 1469/2592 = 0.56674;
    # Tuesday 10:00–12:00 has the same two hours' rates: the tie goes to 09:00.
    assert [(w.start, w.rate) for w in found] == [
        (datetime(2025, 3, 10, 9, tzinfo=BERLIN), Decimal("0.5926")),
        (datetime(2025, 3, 4, 9, tzinfo=BERLIN), Decimal("0.5667")),
    ]
    assert [w.evidence.text for w in found] == [
        "the account's contacts connected 1 of 1 time on Mondays 09:00–11:00",
        "connected 2 of 3 times on Tuesdays 09:00–11:00",
    ]


def test_quiet_hours_and_contact_hours_filter(model: Model) -> None:
    now = datetime(2025, 3, 3, tzinfo=BERLIN)
    quiet = QuietHours("17:00", "09:30")  # 09:00–10:00 touches quiet time; 10:00–11:00 does not
    found = windows(model, "ana", BERLIN, now=now, contact_hours=OFFICE, quiet=quiet)
    assert [w.slot for w in found] == [34, 10, 11]
    assert windows(model, "ana", BERLIN, now=now, contact_hours=WeeklyHours()) == ()


def _planted(seed: int) -> tuple[dict[str, tuple[int, ZoneInfo]], list[ContactHistory]]:
    """200 contacts in five zones, 20–60 attempts each, connected with p = 0.7 in a planted
    office-hour slot and 0.1 in four other office-hour slots that the caller also uses.

    Planted slots go round-robin over the 40 office hours (five contacts each), so the
    population pattern is flat; attempts cycle through the contact's five slots.
    """
    rng = random.Random(seed)
    office = [day * 24 + hour for day in range(5) for hour in range(9, 17)]
    zones = [ZoneInfo(key) for key in ("Europe/Berlin", "America/New_York", "Asia/Kolkata")]
    zones += [ZoneInfo("Australia/Sydney"), ZoneInfo("UTC")]
    planted: dict[str, tuple[int, ZoneInfo]] = {}
    histories = []
    for index in range(200):
        tz, contact = zones[index % len(zones)], f"c{index:03}"
        best = office[index * 7 % 40]
        slots = [best, *rng.sample([slot for slot in office if slot != best], 4)]
        planted[contact] = (best, tz)
        attempts = []
        for number in range(rng.randint(20, 60)):
            slot = slots[number % len(slots)]
            day = date(2025, 1, 6) + timedelta(weeks=rng.randrange(52), days=slot // 24)
            local = datetime.combine(day, time(slot % 24, rng.randrange(60)), tzinfo=tz)
            connected = rng.random() < (0.7 if slot == best else 0.1)
            miss = rng.choice(("no_answer", "voicemail", "busy", "wrong_number"))
            attempts.append(Attempt(local.astimezone(UTC), "connected" if connected else miss))
        histories.append(ContactHistory(contact, tz, attempts))
    return planted, histories


def test_planted_best_slot_is_found() -> None:
    # Five independent datasets pooled (1,000 contacts): with 20 calls a contact's planted
    # slot gets only four of them, so one dataset's share swings by a few points with the
    # seed (88.5% to 96% over seeds 1 to 20); the pooled share is the stable measure.
    now = datetime(2026, 3, 2, tzinfo=UTC)
    quiet = QuietHours("20:00", "08:00")
    hits = total = 0
    for seed in range(2025, 2030):
        planted, histories = _planted(seed)
        model = learn(histories)
        for contact, (best, tz) in planted.items():
            top = windows(model, contact, tz, now=now, contact_hours=OFFICE, quiet=quiet)
            hits += top[0].slot == best
        total += len(planted)
    share = hits / total
    print(f"planted best slot found for {hits} of {total} contacts ({share:.1%})")
    assert share >= 0.9
    # A contact with no calls and no account gets the population's pattern.
    model = learn(_planted(2025)[1])
    fresh = windows(model, "new", BERLIN, now=now, contact_hours=OFFICE, top=40)
    assert all(w.evidence.level is EvidenceLevel.POPULATION for w in fresh)
    assert [w.rate for w in fresh] == [model.rate(w.slot) for w in fresh]
    assert [w.rate for w in fresh] == sorted((w.rate for w in fresh), reverse=True)


def _contains_minutes(start: datetime, end: datetime) -> list[datetime]:
    return [start + timedelta(minutes=m) for m in range((end - start) // timedelta(minutes=1))]


def _eligible(
    tz: ZoneInfo,
    now: datetime,
    horizon: timedelta,
    length: timedelta,
    hours: WeeklyHours,
    quiet: QuietHours | None,
) -> list[datetime]:
    """Brute force: every first occurrence of a local full hour, checked minute by minute."""
    calendar = BusinessCalendar("check", tz, hours)
    at = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    found = []
    while at < now + horizon:
        local = at.astimezone(tz)
        if at >= now and local.minute == 0 and local.second == 0 and local.fold == 0:
            minutes = _contains_minutes(at, at + length)
            if all(calendar.is_working(m) for m in minutes) and not (
                quiet and any(quiet.contains(m, tz) for m in minutes)
            ):
                found.append(at)
        at += timedelta(minutes=15)
    return found


quiet_hours = st.none() | st.builds(
    QuietHours,
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
)


@settings(max_examples=60, deadline=None)
@given(
    tz=calendar_zones(),
    change=st.sampled_from(DST_CHANGES),
    offset=st.integers(-36 * 3600, 12 * 3600),
    hours=weekly_hours(),
    quiet=quiet_hours,
    horizon=st.integers(6, 48).map(lambda n: n * HOUR),
    length=st.sampled_from([HOUR, 2 * HOUR]),
    top=st.integers(1, 6),
)
def test_windows_respect_hours_across_dst(
    model: Model,
    tz: ZoneInfo,
    change: datetime,
    offset: int,
    hours: WeeklyHours,
    quiet: QuietHours | None,
    horizon: timedelta,
    length: timedelta,
    top: int,
) -> None:
    now = change + timedelta(seconds=offset)
    found = windows(
        model,
        "ana",
        tz,
        now=now,
        contact_hours=hours,
        quiet=quiet,
        horizon=horizon,
        length=length,
        top=top,
    )
    eligible = _eligible(tz, now, horizon, length, hours, quiet)
    assert len(found) == min(top, len(eligible))
    assert len({w.start for w in found}) == len(found)
    for window in found:
        assert window.start.astimezone(UTC) in eligible
        assert window.start.tzinfo is tz
        assert window.end - window.start == length
        assert window.slot == window.start.weekday() * 24 + window.start.hour
    keys = [(-w.rate, w.start.astimezone(UTC)) for w in found]
    assert keys == sorted(keys)
    if length == HOUR and found:  # nothing left out beats the last window chosen
        chosen = {w.start.astimezone(UTC) for w in found}
        for at in eligible:
            local = at.astimezone(tz)
            if at not in chosen:
                assert model.rate(local.weekday() * 24 + local.hour, contact_id="ana") <= (
                    found[-1].rate
                )


def test_round_trip(model: Model) -> None:
    conv = make_converter()
    [window] = windows(model, "ana", BERLIN, now=datetime(2025, 3, 3, tzinfo=UTC), top=1)
    for value, cls in ((model, Model), (window, Window), (FIXTURE[0], ContactHistory)):
        assert structure(conv, conv.unstructure(value), cls) == value
        assert Loaders().load(cls, json.loads(dumps(conv.unstructure(value)))) == value


NOW = datetime(2025, 3, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda m: Attempt(datetime(2025, 3, 3, 10), "connected"), "at"),
        (lambda m: Attempt(NOW, "hung_up"), "outcome"),
        (lambda m: ContactHistory("ana", "Mars/Base", []), "time_zone"),
        (lambda m: ContactHistory("has space", "UTC", []), "contact_id"),
        (lambda m: ContactHistory("ana", "UTC", [NOW]), "attempts[0]"),
        (lambda m: ContactHistory("ana", "UTC", "calls"), "attempts"),
        (lambda m: ContactHistory("ana", "UTC", [], account_id=7), "account_id"),
        (lambda m: learn(42), "histories"),
        (lambda m: learn([FIXTURE[0], "bo"]), "histories[1]"),
        (lambda m: learn([FIXTURE[0], ContactHistory("ana", "UTC", [])]), "histories[1]"),
        (lambda m: learn(FIXTURE, strength=0), "strength"),
        (lambda m: windows("model", "ana", "UTC", now=NOW), "model"),
        (lambda m: windows(m, "", "UTC", now=NOW), "contact_id"),
        (lambda m: windows(m, "ana", "Nowhere/Land", now=NOW), "zone"),
        (lambda m: windows(m, "ana", "UTC", now=datetime(2025, 3, 3)), "now"),
        (lambda m: windows(m, "ana", "UTC", now=NOW, contact_hours={"monday": 1}), "contact_hours"),
        (lambda m: windows(m, "ana", "UTC", now=NOW, quiet=("21:00", "08:00")), "quiet"),
        (lambda m: windows(m, "ana", "UTC", now=NOW, account_id=""), "account_id"),
        (lambda m: windows(m, "ana", "UTC", now=NOW, horizon=timedelta(0)), "horizon"),
        (lambda m: windows(m, "ana", "UTC", now=NOW, horizon=3), "horizon"),
        (lambda m: windows(m, "ana", "UTC", now=NOW, length=timedelta(minutes=30)), "length"),
        (lambda m: windows(m, "ana", "UTC", now=NOW, top=0), "top"),
        (lambda m: m.rate(168), "slot"),
    ],
)
def test_bad_input_names_the_field(model: Model, call: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call(model)  # type: ignore[operator]
    assert caught.value.field == field
