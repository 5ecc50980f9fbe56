"""Best time to call: connect rates per local hour of the week, learned from past call attempts.

Every call attempt falls into one of 168 *slots*: the hour of the week
(Monday 00:00–01:00 is slot 0, Sunday 23:00–24:00 is slot 167) in the
**contact's own zone**, so "Tuesdays 10:00" means 10:00 where the contact is.
A ``connected`` call is a success; ``wrong_number`` and ``failed`` say nothing
about when the contact answers and are ignored; every other outcome is a miss.

The rate of a slot is a posterior mean in a three-level Beta-Binomial model,
each level shrunk toward the one above it with the same prior weight
``k = strength`` (default 5: a parent's rate counts as 5 attempts)::

    overall     g     = (S + 1) / (N + 2)                   every call; Beta(1, 1) prior
    population  p_pop = (S_pop + k·g)     / (N_pop + k)     contacts outside the account
    account     p_acc = (S_acc + k·p_pop) / (N_acc + k)     the account's other contacts
    contact     p     = (S_con + k·p_acc) / (N_con + k)     the contact itself

Each level's prior leaves out the calls counted below it, so no call counts
twice. A contact without an account skips the account level; a level without
calls in a slot passes its parent's rate on unchanged, so a new contact gets
its account's pattern, or the population's. Rates are exact fractions inside
and `Decimal` with four places (half to even) outside; the ranking is
deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs

from crmkit.activities.outcomes import CallOutcome as CallOutcome
from crmkit.kernel.checks import aware, of_type, to_enum, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import AccountId, ContactId, check_id
from crmkit.kernel.time import require_aware, zone as as_zone
from crmkit.marketing.guards import QuietHours
from crmkit.service.calendar import WeeklyHours

from ._best_time_windows import (
    PLACES as PLACES,
    SLOTS as SLOTS,
    Estimate,
    EvidenceLevel as EvidenceLevel,
    add_counts,
    rounded,
    slot_of,
    starts,
    touches,
)
from ._contact_hours import contact_calendar

__all__ = [
    "MAX_HORIZON",
    "PLACES",
    "SLOTS",
    "STRENGTH",
    "Attempt",
    "CallOutcome",
    "ContactHistory",
    "ContactTally",
    "Evidence",
    "EvidenceLevel",
    "Model",
    "SlotTally",
    "Window",
    "learn",
    "windows",
]

STRENGTH: Final = 5
"""Default prior weight ``k``: a parent's rate counts as this many attempts."""
MAX_HORIZON: Final = timedelta(days=366)
"""The longest horizon `windows` looks ahead."""

_HOUR = timedelta(hours=1)


_to_outcome = to_enum(CallOutcome, "outcome")


def _outcome(value: object) -> CallOutcome:
    return _to_outcome(value)


_to_level = to_enum(EvidenceLevel, "level")


def _level(value: object) -> EvidenceLevel:
    return _to_level(value)


def _contact_id(value: object) -> ContactId:
    return ContactId(check_id(value, "contact_id"))


def _account_id(value: object) -> AccountId | None:
    return None if value is None else AccountId(check_id(value, "account_id"))


def _time_zone(value: object) -> ZoneInfo:
    return as_zone(value, "time_zone")


def _attempts(value: object) -> tuple[Attempt, ...]:
    found = tuple(_iterate(value, "attempts"))
    for index, attempt in enumerate(found):
        if not isinstance(attempt, Attempt):
            raise ValidationError(
                f"attempts[{index}]", "must be an Attempt", type(attempt).__name__
            )
    return found


def _count(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(attribute.name, "must be a non-negative integer", value)


@attrs.frozen
class Attempt:
    """One call attempt.

    Attributes:
        at: When the call was placed (timezone-aware).
        outcome: How it ended (a `CallOutcome` or its value).
    """

    at: datetime = attrs.field(validator=aware())
    outcome: CallOutcome = attrs.field(converter=_outcome)


@attrs.frozen
class ContactHistory:
    """The call attempts of one contact (one contact may come in several histories).

    Attributes:
        contact_id: The contact.
        time_zone: The contact's IANA zone (a key such as ``Europe/Berlin`` is accepted).
        attempts: The attempts, in any order.
        account_id: The contact's account, if any.
    """

    contact_id: ContactId = attrs.field(converter=_contact_id)
    time_zone: ZoneInfo = attrs.field(converter=_time_zone)
    attempts: tuple[Attempt, ...] = attrs.field(converter=_attempts)
    account_id: AccountId | None = attrs.field(default=None, converter=_account_id)


@attrs.frozen
class SlotTally:
    """Successes and attempts (evidence only) in one hour-of-week slot.

    Attributes:
        slot: The slot, 0 (Monday 00:00) to 167 (Sunday 23:00).
        successes: Connected calls.
        attempts: Calls that count as evidence.
    """

    slot: int = attrs.field(validator=_count)
    successes: int = attrs.field(validator=_count)
    attempts: int = attrs.field(validator=_count)

    def __attrs_post_init__(self) -> None:
        if self.slot >= SLOTS:
            raise ValidationError("slot", f"must be below {SLOTS}", self.slot)
        if self.successes > self.attempts:
            raise ValidationError("successes", "must not exceed attempts", self.successes)


@attrs.frozen
class ContactTally:
    """What the model keeps of one contact.

    Attributes:
        time_zone: The contact's zone when the attempts were bucketed.
        account_id: The contact's account, if any.
        slots: Tallies of the slots with attempts, by slot.
    """

    time_zone: ZoneInfo = attrs.field(converter=_time_zone)
    account_id: AccountId | None = attrs.field(converter=_account_id)
    slots: tuple[SlotTally, ...] = attrs.field(validator=tuple_of(SlotTally))


def _strength(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValidationError("strength", "must be an integer from 1 to 1000", value)
    return value


@attrs.frozen
class Model:
    """Learned tallies per slot for everyone, each account and each contact (see the module).

    Memory is bounded by the slots used: contacts × slots plus accounts × slots.

    Attributes:
        strength: The prior weight ``k`` of every level.
        population: Tallies over all contacts, by slot.
        accounts: Tallies of each account's contacts, by account id.
        contacts: Each contact's zone, account and tallies, by contact id.
    """

    strength: int = attrs.field(converter=_strength)
    population: tuple[SlotTally, ...] = attrs.field(validator=tuple_of(SlotTally))
    accounts: dict[str, tuple[SlotTally, ...]] = attrs.field(validator=of_type(dict))
    contacts: dict[str, ContactTally] = attrs.field(validator=of_type(dict))

    def rate(
        self, slot: int, *, contact_id: str | None = None, account_id: str | None = None
    ) -> Decimal:
        """The posterior connect rate of ``slot`` for a contact, an account or everyone.

        ``account_id`` defaults to the contact's learned account; unknown ids have
        no evidence of their own and get their parent's rate.
        """
        if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < SLOTS:
            raise ValidationError("slot", f"must be an integer from 0 to {SLOTS - 1}", slot)
        return rounded(Estimate(self, contact_id, account_id).rates[slot])


@attrs.frozen
class Evidence:
    """What backs a window's rate, at the most specific level with attempts in its hours.

    Attributes:
        level: Whose attempts: the contact's, its account's or all contacts'.
        successes: Connected calls at that level in the window's hours.
        attempts: Calls counted at that level in the window's hours.
        text: One line for people, for example ``connected 7 of 9 times on Tuesdays 10:00–11:00``.
    """

    level: EvidenceLevel = attrs.field(converter=_level)
    successes: int = attrs.field(validator=_count)
    attempts: int = attrs.field(validator=_count)
    text: str = attrs.field(validator=of_type(str))


@attrs.frozen
class Window:
    """A suggested time to call, in the contact's zone.

    Attributes:
        start: When the window starts (aware, in the contact's zone).
        end: When it ends (``start`` plus the window length in real time).
        slot: The hour-of-week slot of ``start``.
        rate: The posterior connect rate: the mean over the window's hours, 4 places.
        evidence: What backs the rate.
    """

    start: datetime = attrs.field(validator=aware())
    end: datetime = attrs.field(validator=aware())
    slot: int = attrs.field(validator=_count)
    rate: Decimal = attrs.field(validator=of_type(Decimal))
    evidence: Evidence = attrs.field(validator=of_type(Evidence))


def learn(histories: Iterable[ContactHistory], *, strength: int = STRENGTH) -> Model:
    """Tally the attempts of ``histories`` (one pass; a generator is fine) into a `Model`.

    Only one history is held at a time; the model keeps counts per used slot.
    A contact seen in several histories must keep its zone and account.
    """
    k = _strength(strength)
    contacts: dict[str, tuple[ZoneInfo, AccountId | None, dict[int, list[int]]]] = {}
    for index, history in enumerate(_iterate(histories, "histories")):
        if not isinstance(history, ContactHistory):
            raise ValidationError(
                f"histories[{index}]", "must be a ContactHistory", type(history).__name__
            )
        known = contacts.get(history.contact_id)
        if known is None:
            known = contacts[history.contact_id] = (history.time_zone, history.account_id, {})
        elif (known[0].key, known[1]) != (history.time_zone.key, history.account_id):
            raise ValidationError(
                f"histories[{index}]", "must keep the contact's zone and account", None
            )
        for attempt in history.attempts:
            if attempt.outcome.is_evidence:
                local = attempt.at.astimezone(history.time_zone)
                counts = known[2].setdefault(slot_of(local), [0, 0])
                counts[0] += attempt.outcome is CallOutcome.CONNECTED
                counts[1] += 1
    population: dict[int, list[int]] = {}
    accounts: dict[str, dict[int, list[int]]] = {}
    for _, account_id, slots in contacts.values():
        add_counts(population, slots)
        if account_id is not None:
            add_counts(accounts.setdefault(account_id, {}), slots)
    return Model(
        k,
        _freeze(population),
        {key: _freeze(slots) for key, slots in sorted(accounts.items())},
        {
            key: ContactTally(tz, account_id, _freeze(slots))
            for key, (tz, account_id, slots) in sorted(contacts.items())
        },
    )


def windows(
    model: Model,
    contact_id: str,
    zone: ZoneInfo | str,
    *,
    now: datetime,
    contact_hours: WeeklyHours | None = None,
    quiet: QuietHours | None = None,
    account_id: str | None = None,
    horizon: timedelta = timedelta(days=7),
    length: timedelta = _HOUR,
    top: int = 3,
) -> tuple[Window, ...]:
    """The ``top`` windows to call a contact, best first (ties: earliest first).

    Candidates start on a local full hour in ``zone`` at or after ``now`` and
    before ``now + horizon``; a local start that does not exist (clocks spring
    forward) is skipped, and a repeated hour (clocks fall back) is offered once,
    at its first occurrence. A window must lie wholly inside ``contact_hours``
    (None: any time) and wholly outside ``quiet`` hours, both in ``zone``.
    ``length`` is 1 to 24 whole hours; a longer window's rate is the mean of
    its hours' rates. ``account_id`` defaults to the contact's learned account.
    """
    if not isinstance(model, Model):
        raise ValidationError("model", "must be a Model", type(model).__name__)
    check_id(contact_id, "contact_id")
    tz = as_zone(zone, "zone")
    start_at = require_aware(now, "now").astimezone(UTC)
    if contact_hours is not None and not isinstance(contact_hours, WeeklyHours):
        raise ValidationError("contact_hours", "must be WeeklyHours or None", contact_hours)
    if quiet is not None and not isinstance(quiet, QuietHours):
        raise ValidationError("quiet", "must be QuietHours or None", quiet)
    if account_id is not None:
        check_id(account_id, "account_id")
    if not isinstance(horizon, timedelta) or not timedelta(0) < horizon <= MAX_HORIZON:
        raise ValidationError("horizon", "must be a timedelta over 0 and up to 366 days", horizon)
    if not isinstance(length, timedelta) or length % _HOUR or not _HOUR <= length <= 24 * _HOUR:
        raise ValidationError("length", "must be 1 to 24 whole hours", length)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValidationError("top", "must be a positive integer", top)
    estimate = Estimate(model, contact_id, account_id)
    hours = length // _HOUR
    ranked = []
    for start in starts(tz, start_at, start_at + horizon):
        slots = tuple(slot_of((start + step * _HOUR).astimezone(tz)) for step in range(hours))
        rate = sum((estimate.rates[slot] for slot in slots), Fraction(0)) / hours
        ranked.append((-rate, start, slots))
    ranked.sort()
    calendar = None
    if contact_hours is not None:
        calendar = contact_calendar(contact_hours, tz)
    found: list[Window] = []
    for negative, start, slots in ranked:
        end = start + length
        if calendar is not None and calendar.elapsed(start, end) != length:
            continue
        if quiet is not None and touches(quiet, start, end, tz):
            continue
        local = start.astimezone(tz)
        evidence = Evidence(*estimate.evidence(slots, local, end.astimezone(tz)))
        found.append(Window(local, end.astimezone(tz), slots[0], rounded(-negative), evidence))
        if len(found) == top:
            break
    return tuple(found)


def _iterate(values: object, field: str) -> Iterator[Any]:
    if isinstance(values, str | bytes | bytearray | Mapping) or not isinstance(values, Iterable):
        raise ValidationError(field, "must be an iterable", type(values).__name__)
    return iter(values)


def _freeze(slots: dict[int, list[int]]) -> tuple[SlotTally, ...]:
    return tuple(SlotTally(slot, hits, tries) for slot, (hits, tries) in sorted(slots.items()))
