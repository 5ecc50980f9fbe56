"""Reasons and timing read off domain objects: what `crmkit.app.work_queue` feeds to `rank`."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from crmkit.activities.activity import Activity, ActivityKind, ActivityStatus
from crmkit.interactions.best_time import SLOTS, Model, SlotTally, windows
from crmkit.interactions.preferences import ChannelPreferences, may_call
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import require_aware, zone as as_zone
from crmkit.sales.contract import Contract, ContractStatus
from crmkit.service.case import ServiceCase

from ._best_time_windows import rounded, slot_of
from ._work_queue_model import Reason, ReasonKind, Timing

RENEWAL_LOOKAHEAD = timedelta(days=30)
"""How far ahead a notice period counts as a renewal coming up (`ReasonKind.RENEWAL_SOON`)."""

_RENEWING = (ContractStatus.ACTIVE, ContractStatus.UP_FOR_RENEWAL)
_DUE_KIND = {ActivityKind.CALL: ReasonKind.CALL_DUE, ActivityKind.TASK: ReasonKind.TASK_DUE}
_OVERDUE_KIND = {
    ActivityKind.CALL: ReasonKind.CALL_OVERDUE,
    ActivityKind.TASK: ReasonKind.TASK_OVERDUE,
}


def task_reason(activity: Activity, now: datetime, until: datetime) -> Reason | None:
    """A planned call or task due before ``until``: overdue when due before ``now``."""
    if not isinstance(activity, Activity):
        raise ValidationError("activity", "must be an Activity", type(activity).__name__)
    require_aware(now, "now")
    require_aware(until, "until")
    if activity.status is not ActivityStatus.PLANNED or activity.kind not in _DUE_KIND:
        return None
    due = activity.occurred_at
    if due >= until:
        return None
    kind = _OVERDUE_KIND[activity.kind] if due < now else _DUE_KIND[activity.kind]
    return Reason(kind, activity.id, due)


def sla_reason(case: ServiceCase, now: datetime) -> Reason | None:
    """The worst SLA risk of an open case at ``now``: breached, at risk, or None.

    A run counts while it is neither met nor paused (a case waiting on the
    customer is not at risk); a run that breached stays breached. A run is at
    risk once its warning instant has passed. ``due`` is the run's deadline.
    """
    if not isinstance(case, ServiceCase):
        raise ValidationError("case", "must be a ServiceCase", type(case).__name__)
    at = require_aware(now, "now")
    if not case.is_open or case.sla is None:
        return None
    worst: tuple[int, datetime] | None = None
    for run in case.sla.runs:
        if run.met_at is not None:
            continue
        if run.breached_at is not None or (run.paused_since is None and at >= run.deadline):
            level = 2
        elif run.paused_since is None and at >= run.warn_instant:
            level = 1
        else:
            continue
        if worst is None or (-level, run.deadline) < (-worst[0], worst[1]):
            worst = (level, run.deadline)
    if worst is None:
        return None
    kind = ReasonKind.SLA_BREACHED if worst[0] == 2 else ReasonKind.SLA_AT_RISK
    return Reason(kind, case.id, worst[1])


def renewal_reason(
    contract: Contract, now: datetime, lookahead: timedelta = RENEWAL_LOOKAHEAD
) -> Reason | None:
    """A contract in its notice period (window) or entering it within ``lookahead`` (soon).

    Dates are the contract's own (`Contract.today` in its zone); only active
    contracts and those up for renewal count. Renewals carry no ``due``.
    """
    if not isinstance(contract, Contract):
        raise ValidationError("contract", "must be a Contract", type(contract).__name__)
    if not isinstance(lookahead, timedelta) or lookahead < timedelta(0):
        raise ValidationError("lookahead", "must be a timedelta of 0 or more", lookahead)
    today = contract.today(require_aware(now, "now"))
    if contract.status not in _RENEWING or today >= contract.end_date:
        return None
    if contract.notice_from <= today:
        return Reason(ReasonKind.RENEWAL_WINDOW, contract.id)
    if contract.notice_from <= today + lookahead:
        return Reason(ReasonKind.RENEWAL_SOON, contract.id)
    return None


def _at(tallies: tuple[SlotTally, ...], slot: int) -> tuple[int, int]:
    for tally in tallies:
        if tally.slot == slot:
            return tally.successes, tally.attempts
    return 0, 0


class SlotRates:
    """`Model.rate` of single slots, with the model's population totals computed once.

    The same three-level shrinkage (see `crmkit.interactions.best_time`), done
    for one slot at a time: a queue asks it once per contact, where `Model.rate`
    would work out all 168 slots each time.

    Attributes:
        model: The learned model.
    """

    def __init__(self, model: Model) -> None:
        if not isinstance(model, Model):
            raise ValidationError("model", "must be a Model", type(model).__name__)
        self.model = model
        self._population = {t.slot: (t.successes, t.attempts) for t in model.population}
        successes = sum(hits for hits, _ in self._population.values())
        attempts = sum(tries for _, tries in self._population.values())
        self._overall = Fraction(successes + 1, attempts + 2)

    def rate(self, slot: int, contact_id: str, account_id: str | None = None) -> Decimal:
        """The rate `Model.rate` gives for ``slot``, ``contact_id`` and ``account_id``."""
        if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < SLOTS:
            raise ValidationError("slot", f"must be an integer from 0 to {SLOTS - 1}", slot)
        model = self.model
        contact = model.contacts.get(contact_id)
        if account_id is None and contact is not None:
            account_id = contact.account_id
        own = _at(contact.slots if contact else (), slot)
        account = _at(model.accounts.get(account_id or "", ()), slot)
        inside = contact is not None and account_id is not None and contact.account_id == account_id
        others = (account[0] - own[0], account[1] - own[1]) if inside else account
        everyone = self._population.get(slot, (0, 0))
        rest = (everyone[0] - others[0] - own[0], everyone[1] - others[1] - own[1])
        rate, k = self._overall, model.strength
        for hits, tries in (rest, others, own):
            rate = (hits + k * rate) / (tries + k)
        return rounded(rate)


def slot_rate(model: Model, slot: int, contact_id: str, account_id: str | None = None) -> Decimal:
    """`Model.rate` of one slot for one contact (see `SlotRates`)."""
    return SlotRates(model).rate(slot, contact_id, account_id)


def timing(
    model: Model | SlotRates,
    subject_id: str,
    zone: ZoneInfo | str,
    now: datetime,
    prefs: ChannelPreferences | None = None,
    *,
    account_id: str | None = None,
) -> Timing:
    """The connect rate of the current local hour and whether a call is welcome now.

    The rate is `Model.rate` of the hour-of-week slot of ``now`` in ``zone``
    (pass `SlotRates` to ask many contacts of one model).
    Without ``prefs`` any hour is fine; with them, ``do_not_call`` or an hour
    outside the contact hours makes ``callable_now`` false.
    """
    rates = model if isinstance(model, SlotRates) else SlotRates(model)
    tz = as_zone(zone, "zone")
    at = require_aware(now, "now")
    if prefs is not None and not isinstance(prefs, ChannelPreferences):
        raise ValidationError("prefs", "must be ChannelPreferences or None", prefs)
    rate = rates.rate(slot_of(at.astimezone(tz)), subject_id, account_id)
    if prefs is not None and prefs.do_not_call:
        return Timing(rate, False, "asked not to be called")
    if prefs is not None and not may_call(prefs, at, tz):
        return Timing(rate, False, "outside contact hours")
    return Timing(rate)


def next_window(
    model: Model,
    subject_id: str,
    zone: ZoneInfo | str,
    now: datetime,
    prefs: ChannelPreferences | None = None,
    *,
    account_id: str | None = None,
) -> datetime | None:
    """The start of the best one-hour window to call in the next day, or None.

    `crmkit.interactions.best_time.windows` inside the contact hours (when
    ``prefs`` are given); None when the contact asked not to be called.
    """
    if prefs is not None and prefs.do_not_call:
        return None
    found = windows(
        model,
        subject_id,
        zone,
        now=now,
        contact_hours=None if prefs is None else prefs.contact_hours,
        account_id=account_id,
        horizon=timedelta(days=1),
        top=1,
    )
    return found[0].start if found else None
