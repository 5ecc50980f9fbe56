"""Stateful tests of opportunities over the default pipeline and custom ones.

Random commands, allowed and not, go through the real command methods. An
accepted command adds one to the version and yields one event with that
version; a refused one raises `InvalidTransition` naming the lifecycle, state
and command (or `ValidationError` for a bad argument) and leaves the
opportunity as it was. After every step the events replay to the opportunity,
the stage history is contiguous, and both round-trip through the converter and
the loaders. Across runs every status and every stage of the pipeline is reached.
"""

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

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
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.sales.opportunity import OPPORTUNITY_LIFECYCLE, Opportunity, OpportunityStatus
from crmkit.sales.opportunity_events import (
    EVENTS,
    OpportunityAssigned,
    OpportunityChanged,
    OpportunityLinesSet,
    OpportunityLost,
    OpportunityMoved,
    OpportunityOpened,
    OpportunityRelinked,
    OpportunityReopened,
    OpportunityWon,
)
from crmkit.sales.pipeline import (
    DEFAULT_PIPELINE,
    ForecastCategory,
    Pipeline,
    Stage,
    StageKind,
)
from crmkit.testing._strategies_opportunities import opportunity_lines, pipelines, probabilities

STATEFUL = settings(max_examples=100, stateful_step_count=15, deadline=None)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOT_A_STAGE = "no_such_stage"

CUSTOM = Pipeline(
    "partner",
    "Partner deals",
    (
        Stage("lost_no_budget", "No budget", 0, ForecastCategory.OMITTED, StageKind.LOST),
        Stage("registered", "Deal registered", Decimal("0.05"), ForecastCategory.OMITTED),
        Stage("approved", "Approved", Decimal("0.3"), ForecastCategory.PIPELINE),
        Stage("won", "Won", 1, ForecastCategory.CLOSED, StageKind.WON),
        Stage("committed", "Committed", Decimal("0.9"), ForecastCategory.COMMIT),
        Stage("lost", "Lost", 0, ForecastCategory.OMITTED, StageKind.LOST),
    ),
)

conv = make_converter()
loaders = Loaders()


def round_trips(value: Any, cls: type[Any]) -> None:
    data = conv.unstructure(value)
    assert structure(conv, data, cls) == value
    assert loaders.load(cls, json.loads(dumps(data))) == value


def opportunity_machine(
    pipeline_strategy: st.SearchStrategy[Pipeline],
    visited: set[Any],
    stages: set[str],
    event_types: set[type[DomainEvent]],
) -> type[RuleBasedStateMachine]:
    class OpportunityMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.now = START
            self.opp: Opportunity
            self.pipe: Pipeline
            self.log: list[DomainEvent] = []

        def stamp(self) -> Stamp:
            return Stamp(self.now, "u-7")

        def record(self, opp: Opportunity, event: DomainEvent) -> None:
            self.opp = opp
            self.log.append(event)
            visited.add(opp.status)
            stages.add(opp.stage)
            event_types.add(type(event))

        @initialize(
            pipe=pipeline_strategy,
            stage_index=st.none() | st.integers(0, 10),
            probability=st.none() | probabilities(),
        )
        def open(
            self, pipe: Pipeline, stage_index: int | None, probability: Decimal | None
        ) -> None:
            self.pipe = pipe
            stage = None
            if stage_index is not None:
                stage = pipe.open_stages[stage_index % len(pipe.open_stages)].key
            opp, event = Opportunity.open(
                "o-1",
                "ACME licences",
                pipe,
                self.stamp(),
                amount=Money.of("1000.00", "EUR"),
                close_date=date(2026, 6, 30),
                stage=stage,
                account_id="a-1",
                contact_ids=["c-1"],
                probability=probability,
            )
            start = pipe.stage(stage) if stage else pipe.open_stages[0]
            assert (opp.version, event.version, opp.stage) == (1, 1, start.key)
            assert opp.probability == (start.probability if probability is None else probability)
            assert opp.status is OPPORTUNITY_LIFECYCLE.initial
            self.record(opp, event)

        # --- bookkeeping -------------------------------------------------------

        def accepted(
            self, result: tuple[Opportunity, DomainEvent], kind: type[DomainEvent]
        ) -> Opportunity:
            new, event = result
            assert type(event) is kind
            assert new.version == event.version == self.opp.version + 1
            assert event.aggregate_id == new.id == self.opp.id
            assert (event.occurred_at, event.actor) == (self.now, "u-7")
            assert new.updated_at == self.now
            assert event.subjects()[:1] == (new.id,)
            if new.account_id is not None:
                assert new.account_id in event.subjects()
            assert set(new.contact_ids) <= set(event.subjects())
            assert event.summary()
            self.record(new, event)
            return new

        def refused(self, call: Any, command: str | None) -> None:
            """A refused call: InvalidTransition for ``command``, or ValidationError if None."""
            before = self.opp
            snapshot = conv.unstructure(before)
            error = InvalidTransition if command is not None else ValidationError
            with pytest.raises(error) as info:
                call()
            if isinstance(info.value, InvalidTransition):
                assert info.value.aggregate == "opportunity"
                assert info.value.state == self.opp.status.value
                assert info.value.command == command
            assert self.opp is before
            assert conv.unstructure(self.opp) == snapshot

        def lifecycle_allows(self, command: str) -> bool:
            return OPPORTUNITY_LIFECYCLE.can(self.opp.status, command)

        def stage_keys(self) -> st.SearchStrategy[str]:
            return st.sampled_from([s.key for s in self.pipe.stages] + [NOT_A_STAGE])

        # --- rules -----------------------------------------------------------

        @rule(minutes=st.sampled_from([0, 1, 90, 60 * 24 * 3]))
        def time_passes(self, minutes: int) -> None:
            self.now += timedelta(minutes=minutes)

        @rule(data=st.data())
        def move(self, data: st.DataObject) -> None:
            self.move_to(data.draw(st.sampled_from([s.key for s in self.pipe.open_stages])))

        @rule()
        def advance(self) -> None:
            """Move to the next open stage in pipeline order, as a deal normally goes."""
            keys = [s.key for s in self.pipe.open_stages]
            here = keys.index(self.opp.stage) if self.opp.stage in keys else -1
            self.move_to(keys[(here + 1) % len(keys)])

        @rule(data=st.data())
        def move_anywhere(self, data: st.DataObject) -> None:
            self.move_to(data.draw(self.stage_keys()))

        def move_to(self, key: str) -> None:
            call = lambda: self.opp.move(key, self.pipe, self.stamp())  # noqa: E731
            if not self.lifecycle_allows("move"):
                self.refused(call, "move")
                return
            stage = None if key == NOT_A_STAGE else self.pipe.stage(key)
            if stage is None or stage.kind is not StageKind.OPEN or key == self.opp.stage:
                self.refused(call, None)
                return
            before = self.opp.stage
            new = self.accepted(call(), OpportunityMoved)
            event = self.log[-1]
            assert isinstance(event, OpportunityMoved)
            assert (event.from_stage, event.stage, new.stage) == (before, key, key)
            assert new.probability == stage.probability

        @rule()
        def win(self) -> None:
            call = lambda: self.opp.win(self.pipe, self.stamp())  # noqa: E731
            if not self.lifecycle_allows("win"):
                self.refused(call, "win")
                return
            new = self.accepted(call(), OpportunityWon)
            assert new.status is OpportunityStatus.WON
            assert new.stage == self.pipe.won_stage.key
            assert new.probability == 1
            assert new.weighted_amount == new.amount

        @precondition(lambda self: self.opp.status is OpportunityStatus.OPEN)
        @rule()
        def close_the_deal(self) -> None:
            """The deal goes to the last open stage and is won (three rules lose, one wins)."""
            last = self.pipe.open_stages[-1].key
            if self.opp.stage != last:
                self.move_to(last)
            self.win()

        @rule(reason=st.sampled_from(["price", "timing"]), data=st.data())
        def lose(self, reason: str, data: st.DataObject) -> None:
            lost_keys = st.sampled_from([s.key for s in self.pipe.lost_stages])
            self.lose_in(reason, data.draw(st.none() | lost_keys))

        @rule()
        def lose_where_no_deal_was_lost_yet(self) -> None:
            """Lose in a lost stage that no run has reached yet (hypothesis favours the first)."""
            keys = [s.key for s in self.pipe.lost_stages]
            self.lose_in("budget cut", next((k for k in keys if k not in stages), keys[-1]))

        @rule(reason=st.sampled_from(["price", "", "  "]), data=st.data())
        def lose_anywhere(self, reason: str, data: st.DataObject) -> None:
            self.lose_in(reason, data.draw(st.none() | self.stage_keys()))

        def lose_in(self, reason: str, key: str | None) -> None:
            call = lambda: self.opp.lose(reason, self.pipe, self.stamp(), key)  # noqa: E731
            if not self.lifecycle_allows("lose"):
                self.refused(call, "lose")
                return
            stage = self.pipe.lost_stages[0] if key is None else None
            if key is not None and key != NOT_A_STAGE:
                stage = self.pipe.stage(key)
            if not reason.strip() or stage is None or stage.kind is not StageKind.LOST:
                self.refused(call, None)
                return
            new = self.accepted(call(), OpportunityLost)
            assert (new.status, new.stage, new.lost_reason) == (
                OpportunityStatus.LOST,
                stage.key,
                reason,
            )
            assert new.probability == 0
            assert new.weighted_amount == Money.zero("EUR")

        @rule(data=st.data())
        def reopen(self, data: st.DataObject) -> None:
            open_keys = st.sampled_from([s.key for s in self.pipe.open_stages])
            self.reopen_in(data.draw(st.none() | open_keys))

        @rule(data=st.data())
        def reopen_anywhere(self, data: st.DataObject) -> None:
            self.reopen_in(data.draw(st.none() | self.stage_keys()))

        def reopen_in(self, key: str | None) -> None:
            call = lambda: self.opp.reopen(self.pipe, self.stamp(), key)  # noqa: E731
            if not self.lifecycle_allows("reopen"):
                self.refused(call, "reopen")
                return
            if key is not None and (key == NOT_A_STAGE or not self.pipe.stage(key).is_open):
                self.refused(call, None)
                return
            open_keys = {s.key for s in self.pipe.open_stages}
            last_open = [v.stage for v in self.opp.stage_history if v.stage in open_keys][-1]
            new = self.accepted(call(), OpportunityReopened)
            assert new.status is OpportunityStatus.OPEN
            assert new.stage == (last_open if key is None else key)
            assert new.lost_reason is None

        @rule(
            name=st.none() | st.sampled_from(["ACME renewal", "ACME licences"]),
            minor=st.none() | st.sampled_from([0, 100_000, 250_050]),
            currency=st.sampled_from(["EUR", "EUR", "USD"]),
            close=st.none() | st.sampled_from([date(2026, 9, 30), date(2026, 6, 30)]),
            probability=st.none() | probabilities(),
        )
        def update(
            self,
            name: str | None,
            minor: int | None,
            currency: str,
            close: date | None,
            probability: Decimal | None,
        ) -> None:
            amount = None if minor is None else Money.from_minor(minor, currency)
            call = lambda: self.opp.update(  # noqa: E731
                self.stamp(), name=name, amount=amount, close_date=close, probability=probability
            )
            new_values: dict[str, Any] = {
                "name": name,
                "amount": amount,
                "close_date": close,
                "probability": probability,
            }
            changed = {
                k for k, v in new_values.items() if v is not None and getattr(self.opp, k) != v
            }
            wrong_currency = amount is not None and currency != "EUR"
            if wrong_currency or not changed or ("amount" in changed and self.opp.lines):
                self.refused(call, None)
                return
            if "probability" in changed and self.opp.status is not OpportunityStatus.OPEN:
                self.refused(call, "update")
                return
            new = self.accepted(call(), OpportunityChanged)
            event = self.log[-1]
            assert isinstance(event, OpportunityChanged)
            assert set(event.fields) == changed
            for key in changed:
                assert getattr(new, key) == new_values[key]

        @rule(owner=st.sampled_from(["u-1", "u-2", None]))
        def assign(self, owner: str | None) -> None:
            call = lambda: self.opp.assign(owner, self.stamp())  # noqa: E731
            if owner == self.opp.owner_id:
                self.refused(call, None)
            else:
                assert self.accepted(call(), OpportunityAssigned).owner_id == owner

        @rule()
        def rename(self) -> None:
            """A plain rename (random updates often change nothing or are refused)."""
            name = "ACME renewal" if self.opp.name != "ACME renewal" else "ACME licences"
            self.update(name=name, minor=None, currency="EUR", close=None, probability=None)

        @rule()
        def hand_over(self) -> None:
            """The deal goes to another owner (random owners are often the same one)."""
            self.assign("u-2" if self.opp.owner_id != "u-2" else "u-1")

        @rule(account=st.sampled_from([None, "a-1", "a-2"]))
        def relink_account(self, account: str | None) -> None:
            old = self.opp.account_id
            call = lambda: self.opp.relink_account(account, self.stamp())  # noqa: E731
            if account == old:
                self.refused(call, None)
                return
            assert self.accepted(call(), OpportunityRelinked).account_id == account
            if old is not None:
                assert old in self.log[-1].subjects()

        @rule(
            old=st.sampled_from(["c-1", "c-2", "c-3"]), new=st.sampled_from(["c-1", "c-2", "c-3"])
        )
        def relink_contact(self, old: str, new: str) -> None:
            contacts = self.opp.contact_ids
            call = lambda: self.opp.relink_contact(old, new, self.stamp())  # noqa: E731
            if old not in contacts or old == new:
                self.refused(call, None)
                return
            after = self.accepted(call(), OpportunityRelinked).contact_ids
            assert old not in after
            assert new in after
            assert len(after) == len(contacts) - (new in contacts)
            assert old in self.log[-1].subjects()

        @rule(rows=opportunity_lines(), currency=st.sampled_from(["EUR", "EUR", "USD"]))
        def set_lines(self, rows: tuple[Any, ...], currency: str) -> None:
            if currency != "EUR":
                rows = tuple(
                    type(row)(
                        row.product_id,
                        row.description,
                        row.quantity,
                        Money(row.unit_price.amount, currency),
                        row.discount,
                        row.tax,
                    )
                    for row in rows
                )
            call = lambda: self.opp.set_lines(rows, self.stamp())  # noqa: E731
            if currency != "EUR" and rows:
                self.refused(call, None)
                return
            new = self.accepted(call(), OpportunityLinesSet)
            assert new.lines == rows
            net_ex_tax = sum((row.net for row in rows), Money.zero("EUR"))
            inclusive = [row for row in rows if row.tax is not None and row.tax.inclusive]
            if not inclusive:
                assert new.amount == net_ex_tax
            else:
                assert new.amount <= net_ex_tax

        @rule()
        def stage_change_from_the_past_is_refused(self) -> None:
            entered = self.opp.stage_history[-1].entered_at
            past = Stamp(entered - timedelta(seconds=1), "u-7")
            command = "move" if self.opp.status is OpportunityStatus.OPEN else "reopen"
            target = [s for s in self.pipe.open_stages if s.key != self.opp.stage]
            if command == "move" and not target:
                return
            call: Any = (
                (lambda: self.opp.move(target[0].key, self.pipe, past))
                if command == "move"
                else (lambda: self.opp.reopen(self.pipe, past))
            )
            self.refused(call, None)

        # --- invariants ------------------------------------------------------

        @invariant()
        def events_replay_to_the_opportunity(self) -> None:
            assert [e.version for e in self.log] == list(range(1, self.opp.version + 1))
            assert Opportunity.replay(self.log) == self.opp

        @invariant()
        def stage_history_is_contiguous(self) -> None:
            history = self.opp.stage_history
            assert history[0].entered_at == self.opp.created_at
            for earlier, later in itertools.pairwise(history):
                assert earlier.left_at is not None
                assert earlier.left_at == later.entered_at
                assert earlier.entered_at <= earlier.left_at
            assert history[-1].left_at is None
            assert history[-1].stage == self.opp.stage
            spent = self.opp.time_in_stage(self.now)
            assert sum(spent.values(), timedelta()) == self.now - self.opp.created_at
            assert set(spent) == {visit.stage for visit in history}

        @invariant()
        def stage_fits_the_status(self) -> None:
            stage = self.pipe.stage(self.opp.stage)
            kind = {
                OpportunityStatus.OPEN: StageKind.OPEN,
                OpportunityStatus.WON: StageKind.WON,
                OpportunityStatus.LOST: StageKind.LOST,
            }[self.opp.status]
            assert stage.kind is kind
            assert self.opp.forecast_category is stage.forecast_category
            assert (self.opp.lost_reason is not None) == (kind is StageKind.LOST)
            if kind is not StageKind.OPEN:
                assert self.opp.probability == stage.probability
            weighted = self.opp.weighted_amount
            assert weighted.currency == "EUR"
            assert abs(weighted.amount - self.opp.amount.amount * self.opp.probability) <= Decimal(
                "0.005"
            )

        @invariant()
        def state_and_last_event_round_trip(self) -> None:
            round_trips(self.opp, Opportunity)
            round_trips(self.log[-1], type(self.log[-1]))

    return OpportunityMachine


@pytest.mark.parametrize("pipeline", [DEFAULT_PIPELINE, CUSTOM], ids=["default", "custom"])
def test_every_status_and_stage_is_reached(pipeline: Pipeline) -> None:
    visited: set[Any] = set()
    stages: set[str] = set()
    event_types: set[type[DomainEvent]] = set()
    machine = opportunity_machine(st.just(pipeline), visited, stages, event_types)
    run_state_machine_as_test(machine, settings=STATEFUL)
    assert visited == OPPORTUNITY_LIFECYCLE.reachable() == set(OpportunityStatus)
    assert stages == {stage.key for stage in pipeline.stages}
    assert event_types == set(EVENTS)
    assert OpportunityOpened in event_types


def test_random_pipelines_keep_every_rule() -> None:
    visited: set[Any] = set()
    machine = opportunity_machine(pipelines(), visited, set(), set())
    run_state_machine_as_test(machine, settings=settings(STATEFUL, max_examples=65))
    assert visited == set(OpportunityStatus)
