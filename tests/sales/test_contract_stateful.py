"""Stateful test of `Contract` with a fake clock that the rules move forward.

Random commands, allowed and not: an accepted one adds one to the version and
yields one event with that version; a refused one raises `InvalidTransition`
naming the lifecycle, state and command (or `ValidationError` for bad values)
and leaves the contract as it was. The events always replay to the contract,
what `due` reports can always be done, and across all runs every state of
`CONTRACT_LIFECYCLE` is reached (the `proceed`, `renewal_job` and `term_ends` rules steer
towards the final states, which random commands alone seldom reach).
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.money import Money
from crmkit.sales.contract import CONTRACT_LIFECYCLE, Contract, ContractStatus
from crmkit.sales.contract_events import (
    ContractAmended,
    ContractCreatedByRenewal,
    ContractExpired,
    ContractFlaggedForRenewal,
    ContractRenewed,
    ContractSent,
    ContractSigned,
    ContractTerminated,
)
from crmkit.sales.terms import BillingPeriod, RenewalMode, Term, uplifted

STATEFUL = settings(max_examples=150, stateful_step_count=20, deadline=None)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ZONES = ("UTC", "Asia/Tokyo", "America/New_York")
MOMENTS = ("notice_eve", "notice", "end_eve", "end")


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def contract_machine(visited: set[ContractStatus]) -> type[RuleBasedStateMachine]:
    class ContractMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.now = START
            self.contract: Contract
            self.log: list[DomainEvent] = []

        def stamp(self) -> Stamp:
            return Stamp(self.now, "u-7")

        @initialize(
            period=st.sampled_from(BillingPeriod),
            periods=st.integers(1, 4),
            notice=st.integers(1, 3),
            days_ahead=st.integers(0, 40),
            renewal=st.sampled_from(RenewalMode),
            zone=st.sampled_from(ZONES),
            currency=st.sampled_from(("EUR", "JPY", "KWD")),
            signed=st.booleans(),
        )
        def draft(
            self,
            period: BillingPeriod,
            periods: int,
            notice: int,
            days_ahead: int,
            renewal: RenewalMode,
            zone: str,
            currency: str,
            signed: bool,
        ) -> None:
            term = Term(months=periods * period.months)
            contract, event = Contract.draft(
                "k-1",
                "C-1",
                self.stamp(),
                account_id="a-1",
                contact_id="c-1",
                start_date=START.date() + timedelta(days=days_ahead),
                term=term,
                billing_period=period,
                amount=Money.of("1000", currency),
                notice_period=Term(months=min(notice, term.total_months)),
                renewal=renewal,
                uplift="3.5",
                time_zone=zone,
            )
            assert (contract.version, event.version, event.aggregate_id) == (1, 1, "k-1")
            assert contract.status is ContractStatus.DRAFT
            self.contract, self.log = contract, [event]
            visited.add(contract.status)
            if signed:  # some runs start from a contract already sent and signed
                self.send()
                self.sign()

        # --- bookkeeping ------------------------------------------------------------------

        def accepted(self, new: Contract, event: DomainEvent, kind: type[DomainEvent]) -> None:
            assert type(event) is kind
            assert new.version == self.contract.version + 1 == event.version
            assert event.aggregate_id == new.id == self.contract.id
            assert (event.occurred_at, event.actor) == (self.now, "u-7")
            assert set(event.subjects()) >= {"k-1", "a-1", "c-1"}
            self.contract = new
            self.log.append(event)
            visited.add(new.status)

        def refused(self, call: Any, command: str, reason: bool = False) -> None:
            before = self.contract
            with pytest.raises(InvalidTransition) as info:
                call()
            assert info.value.aggregate == "contract"
            assert info.value.state == before.status.value
            assert info.value.command == command
            assert (info.value.reason is not None) is reason
            assert self.contract == before

        def run(self, command: str, call: Any, kind: type[DomainEvent], guard: bool = True) -> None:
            state = self.contract.status
            if not CONTRACT_LIFECYCLE.can(state, command):
                self.refused(call, command)
            elif not guard:
                self.refused(call, command, reason=True)
            else:
                new, event = call()
                self.accepted(new, event, kind)
                assert new.status is CONTRACT_LIFECYCLE.target(state, command)

        @property
        def today(self) -> date:
            return self.contract.today(self.now)

        # --- the clock --------------------------------------------------------------------

        @rule(days=st.integers(1, 200), minutes=st.integers(0, 1439))
        def advance(self, days: int, minutes: int) -> None:
            self.now += timedelta(days=days, minutes=minutes)

        @rule(moment=st.sampled_from(MOMENTS))
        def jump(self, moment: str) -> None:
            contract = self.contract
            day = contract.notice_from if moment.startswith("notice") else contract.end_date
            target = _local_midnight(day, contract.time_zone)
            if moment.endswith("_eve"):
                target -= timedelta(seconds=1)  # the last second of the day before
            if target > self.now:
                self.now = target

        # --- commands ---------------------------------------------------------------------

        @rule()
        def send(self) -> None:
            self.run("send", lambda: self.contract.send(self.stamp()), ContractSent)

        @rule()
        def sign(self) -> None:
            self.run("sign", lambda: self.contract.sign(self.stamp()), ContractSigned)
            if isinstance(self.log[-1], ContractSigned):
                assert self.contract.signed_at == self.log[-1].occurred_at

        @rule()
        def flag_for_renewal(self) -> None:
            inside = self.today >= self.contract.notice_from
            call = lambda: self.contract.flag_for_renewal(self.stamp())  # noqa: E731
            self.run("flag_for_renewal", call, ContractFlaggedForRenewal, guard=inside)

        @rule()
        def expire(self) -> None:
            ended = self.today >= self.contract.end_date
            call = lambda: self.contract.expire(self.stamp())  # noqa: E731
            self.run("expire", call, ContractExpired, guard=ended)

        @rule()
        def renew(self) -> None:
            old = self.contract
            if not CONTRACT_LIFECYCLE.can(old.status, "renew"):
                self.refused(lambda: old.renew("k-2", self.stamp()), "renew")
                return
            renewal = old.renew("k-2", self.stamp())
            self.accepted(renewal.contract, renewal.event, ContractRenewed)
            successor = renewal.successor
            assert renewal.contract.renewed_by == successor.id == "k-2"
            assert isinstance(renewal.successor_event, ContractCreatedByRenewal)
            assert (successor.status, successor.version) == (ContractStatus.ACTIVE, 1)
            assert successor.renews == old.id
            assert successor.start_date == old.end_date
            assert successor.term == old.term
            assert successor.end_date == old.term.end(old.end_date)
            assert successor.amount == uplifted(old.amount, old.uplift)
            assert Contract.replay([renewal.successor_event]) == successor

        @rule(
            days=st.integers(-30, 400),
            reason=st.sampled_from(["customer insolvent", "  breach of terms "]),
        )
        def terminate(self, days: int, reason: str) -> None:
            effective = self.contract.start_date + timedelta(days=days)

            def call() -> tuple[Contract, ContractTerminated]:
                return self.contract.terminate(reason, effective, self.stamp())

            allowed = CONTRACT_LIFECYCLE.can(self.contract.status, "terminate")
            if allowed and effective > self.contract.end_date:
                with pytest.raises(ValidationError) as info:
                    call()
                assert info.value.field == "effective_on"
                return
            self.run("terminate", call, ContractTerminated)
            if allowed:
                assert self.contract.terminated_on == effective
                assert self.contract.termination_reason == reason.strip()
                assert all(bill.date < effective for bill in self.contract.bills())

        @rule(
            units=st.none() | st.sampled_from(["1000", "1200"]),
            renewal=st.none() | st.sampled_from(RenewalMode),
            uplift=st.none() | st.sampled_from(["3.5", "0"]),
        )
        def amend(self, units: str | None, renewal: RenewalMode | None, uplift: str | None) -> None:
            old = self.contract
            amount = None if units is None else Money.of(units, old.currency)

            def call() -> tuple[Contract, ContractAmended]:
                stamp = self.stamp()
                return old.amend("review", stamp, amount=amount, renewal=renewal, uplift=uplift)

            given = {"amount": amount, "renewal": renewal, "uplift": uplift}
            changed = {
                k: v for k, v in given.items() if v is not None and str(getattr(old, k)) != str(v)
            }
            if CONTRACT_LIFECYCLE.can(old.status, "amend") and not changed:
                with pytest.raises(ValidationError) as info:
                    call()
                assert info.value.field == "changes"
                assert self.contract == old
                return
            self.run("amend", call, ContractAmended)
            if self.contract is not old:
                amendment = self.contract.amendments[-1]
                assert amendment.changes == tuple(changed)
                assert len(self.contract.amendments) == len(old.amendments) + 1

        @rule()
        def proceed(self) -> None:
            """The natural next step (random commands alone seldom get past a termination)."""
            status = self.contract.status
            if status is ContractStatus.DRAFT:
                self.send()
            elif status is ContractStatus.AWAITING_SIGNATURE:
                self.sign()
            elif status is ContractStatus.ACTIVE:
                self.jump("notice")
                self.flag_for_renewal()
            elif status is ContractStatus.UP_FOR_RENEWAL:
                if self.contract.renewal is RenewalMode.AUTOMATIC:
                    self.renew()
                else:
                    self.jump("end")
                    self.expire()

        @precondition(
            lambda self: (
                self.contract.status in (ContractStatus.ACTIVE, ContractStatus.UP_FOR_RENEWAL)
            )
        )
        @rule()
        def renewal_job(self) -> None:
            """When the clock passes the notice window, the job flags and renews the contract."""
            if self.contract.status is ContractStatus.ACTIVE:
                self.jump("notice")
                self.flag_for_renewal()
            self.renew()

        @precondition(
            lambda self: (
                self.contract.status in (ContractStatus.ACTIVE, ContractStatus.UP_FOR_RENEWAL)
            )
        )
        @rule()
        def term_ends(self) -> None:
            """The clock reaches the end date and the job expires the contract."""
            self.jump("end")
            self.expire()

        # --- invariants -------------------------------------------------------------------

        @invariant()
        def events_replay_to_the_contract(self) -> None:
            assert [event.version for event in self.log] == list(
                range(1, self.contract.version + 1)
            )
            assert Contract.replay(self.log) == self.contract

        @invariant()
        def what_is_due_can_be_done(self) -> None:
            contract = self.contract
            for command in contract.due(self.now):
                if command == "renew":
                    contract = contract.renew("k-due", self.stamp()).contract
                else:
                    contract = getattr(contract, command)(self.stamp())[0]
            assert contract.due(self.now) == ()

    return ContractMachine


def test_random_commands_keep_the_contract_lifecycle() -> None:
    visited: set[ContractStatus] = set()
    run_state_machine_as_test(contract_machine(visited), settings=STATEFUL)
    assert visited == CONTRACT_LIFECYCLE.reachable() == set(ContractStatus)
