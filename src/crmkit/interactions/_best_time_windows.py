"""The arithmetic behind `crmkit.interactions.best_time`: slot rates and window enumeration.

Private to `crmkit.interactions.best_time`, which re-exports `SLOTS`, `PLACES`
and `EvidenceLevel`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from crmkit.marketing.guards import QuietHours

if TYPE_CHECKING:
    from crmkit.interactions.best_time import Model, SlotTally

SLOTS: Final = 168
"""Hour-of-week slots: ``weekday * 24 + hour`` in the contact's local time (0 is Monday 00:00)."""
PLACES: Final = 4
"""Decimal places of every rate (rounded half to even)."""

_MINUTE = timedelta(minutes=1)
_DAYS: Final = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


class EvidenceLevel(StrEnum):
    """Whose attempts back a window's rate: the contact's, its account's or everyone's."""

    CONTACT = "contact"
    ACCOUNT = "account"
    POPULATION = "population"


class Estimate:
    """The posterior rates of all slots for one contact, and the evidence behind them."""

    def __init__(self, model: Model, contact_id: str | None, account_id: str | None) -> None:
        contact = model.contacts.get(contact_id) if contact_id is not None else None
        if account_id is None and contact is not None:
            account_id = contact.account_id
        own = index_of(contact.slots if contact else ())
        account = index_of(model.accounts.get(account_id or "", ()))
        inside = contact is not None and account_id is not None and contact.account_id == account_id
        # Each level's prior leaves out the calls counted below it: no call counts twice.
        others = minus(account, own) if inside else account
        rest = minus(minus(index_of(model.population), others), own)
        self.levels = (
            (EvidenceLevel.CONTACT, own),
            (EvidenceLevel.ACCOUNT, others),
            (EvidenceLevel.POPULATION, rest),
        )
        successes = sum(tally.successes for tally in model.population)
        attempts = sum(tally.attempts for tally in model.population)
        self.overall = (successes, attempts)
        k = model.strength
        overall = Fraction(successes + 1, attempts + 2)  # the weak Beta(1, 1) global prior
        rates = [overall] * SLOTS  # a slot without calls at any level keeps the overall rate
        for slot in sorted(set(own) | set(others) | set(rest)):
            rate = overall
            for _, tallies in reversed(self.levels):
                hits, tries = tallies.get(slot, (0, 0))
                rate = (hits + k * rate) / (tries + k)
            rates[slot] = rate
        self.rates: tuple[Fraction, ...] = tuple(rates)

    def evidence(
        self, slots: tuple[int, ...], start: datetime, end: datetime
    ) -> tuple[EvidenceLevel, int, int, str]:
        """The fields of the `Evidence` for ``slots``, from its most specific level with calls."""
        when = f"on {_DAYS[start.weekday()]} {start:%H:%M}–{end:%H:%M}"
        for level, tallies in self.levels:
            hits = sum(tallies.get(slot, (0, 0))[0] for slot in slots)
            tries = sum(tallies.get(slot, (0, 0))[1] for slot in slots)
            if tries:
                who = {
                    EvidenceLevel.CONTACT: "",
                    EvidenceLevel.ACCOUNT: "the account's contacts ",
                    EvidenceLevel.POPULATION: "all contacts ",
                }[level]
                times = "time" if tries == 1 else "times"
                return level, hits, tries, f"{who}connected {hits} of {tries} {times} {when}"
        hits, tries = self.overall
        text = f"no calls {when} yet; overall, contacts connected {hits} of {tries}"
        return EvidenceLevel.POPULATION, 0, 0, text


def add_counts(into: dict[int, list[int]], slots: dict[int, list[int]]) -> None:
    """Add the counts of ``slots`` into ``into``, slot by slot."""
    for slot, (hits, tries) in slots.items():
        counts = into.setdefault(slot, [0, 0])
        counts[0] += hits
        counts[1] += tries


def slot_of(local: datetime) -> int:
    """The hour-of-week slot of a local time."""
    return local.weekday() * 24 + local.hour


def index_of(tallies: tuple[SlotTally, ...]) -> dict[int, tuple[int, int]]:
    """Tallies as successes and attempts by slot."""
    return {tally.slot: (tally.successes, tally.attempts) for tally in tallies}


def minus(
    whole: dict[int, tuple[int, int]], part: dict[int, tuple[int, int]]
) -> dict[int, tuple[int, int]]:
    """The tallies of ``whole`` less those of ``part``, slot by slot."""
    found = dict(whole)
    for slot, (hits, tries) in part.items():
        had_hits, had_tries = found.get(slot, (0, 0))
        found[slot] = (had_hits - hits, had_tries - tries)
    return found


def rounded(value: Fraction) -> Decimal:
    """A rate as a `Decimal` of `PLACES` places, half to even."""
    # round() of a Fraction rounds half to even, exactly.
    return Decimal(round(value * 10**PLACES)).scaleb(-PLACES)


def starts(tz: ZoneInfo, low: datetime, high: datetime) -> Iterator[datetime]:
    """UTC instants of the local full hours in [low, high) that exist, first occurrence only."""
    day, last = low.astimezone(tz).date(), high.astimezone(tz).date()
    while day <= last:
        for hour in range(24):
            naive = datetime.combine(day, time(hour))
            at = naive.replace(tzinfo=tz).astimezone(UTC)  # fold=0: a repeated hour's first
            if at.astimezone(tz).replace(tzinfo=None) == naive and low <= at < high:
                yield at  # a skipped local time comes back moved by the gap: left out
        day += timedelta(days=1)


def touches(quiet: QuietHours, start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    """Whether any instant of [start, end) is quiet (exact: quiet bounds are whole minutes)."""
    at = start
    while at < end:
        if quiet.contains(at, tz):
            return True
        at += _MINUTE
    return False
