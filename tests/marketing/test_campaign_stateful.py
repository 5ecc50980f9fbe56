"""A stateful test of campaigns, driven through the real commands.

Random activations, pauses, resumptions, completions, abortions, costs and
edits: accepted commands add one to the version and yield one event with that
version; refused ones raise `InvalidTransition` naming the state and the
command and leave the campaign as it was. Replay gives the campaign back and
the actual cost always equals the sum of the recorded costs. A steering rule
activates planned campaigns, so random seeds reach every state.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

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

from crmkit.kernel.errors import InvalidTransition
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import make_converter
from crmkit.marketing.campaign import CAMPAIGN_LIFECYCLE, Campaign, CampaignStatus, CampaignType
from crmkit.marketing.campaign_events import (
    CampaignAborted,
    CampaignActivated,
    CampaignCompleted,
    CampaignCostRecorded,
    CampaignPaused,
    CampaignPlanned,
    CampaignResumed,
    CampaignUpdated,
)

STATEFUL = settings(max_examples=120, stateful_step_count=20, deadline=None)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NAMES = ("Spring mailing", "Trade fair")
_S = CampaignStatus
_conv = make_converter()


class CampaignMachine(RuleBasedStateMachine):
    """Commands on one campaign."""

    visited: ClassVar[set[CampaignStatus]] = set()

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.log: list[DomainEvent] = []
        self.costs: list[Money] = []

    def stamp(self) -> Stamp:
        self.now += timedelta(minutes=1)
        return Stamp(self.now, "u-marketing")

    def accepted(self, old: Campaign, new: Campaign, event: Any, kind: Any) -> None:
        assert type(event) is kind
        assert new.version == old.version + 1 == event.version
        assert event.aggregate_id == new.id == old.id
        assert event.aggregate_kind == "campaign"
        self.campaign = new
        self.log.append(event)
        assert Campaign.replay(self.log) == new
        self.visited.add(new.status)

    def refused(self, call: Any, command: str) -> None:
        before = _conv.unstructure(self.campaign)
        with pytest.raises(InvalidTransition) as info:
            call()
        assert info.value.aggregate == "campaign"
        assert info.value.state == self.campaign.status.value
        assert info.value.command == command
        assert _conv.unstructure(self.campaign) == before

    def command(self, command: str, call: Any, kind: Any) -> None:
        old = self.campaign
        if not CAMPAIGN_LIFECYCLE.can(old.status, command):
            self.refused(lambda: call(self.stamp()), command)
            return
        new, event = call(self.stamp())
        assert new.status is CAMPAIGN_LIFECYCLE.target(old.status, command)
        self.accepted(old, new, event, kind)

    @initialize(name=st.sampled_from(NAMES), type=st.sampled_from(CampaignType))
    def plan(self, name: str, type: CampaignType) -> None:
        campaign, event = Campaign.plan(
            "cmp-1", name, type, "u-anna", self.stamp(), currency="EUR",
            budget=Money.of("1000", "EUR"),
        )  # fmt: skip
        assert isinstance(event, CampaignPlanned)
        assert (campaign.version, campaign.status) == (1, _S.PLANNED)
        assert campaign.actual_cost == Money.zero("EUR")
        self.campaign, self.log = campaign, [event]
        self.visited.add(campaign.status)

    @rule()
    def activate(self) -> None:
        self.command("activate", self.campaign.activate, CampaignActivated)

    @rule()
    def pause(self) -> None:
        self.command("pause", self.campaign.pause, CampaignPaused)

    @rule()
    def resume(self) -> None:
        self.command("resume", self.campaign.resume, CampaignResumed)

    @rule()
    def complete(self) -> None:
        self.command("complete", self.campaign.complete, CampaignCompleted)

    @rule(reason=st.sampled_from(("budget cut", "wrong audience")))
    def abort(self, reason: str) -> None:
        self.command("abort", lambda s: self.campaign.abort(reason, s), CampaignAborted)
        if self.campaign.status is _S.ABORTED and isinstance(self.log[-1], CampaignAborted):
            assert self.log[-1].reason in ("budget cut", "wrong audience")

    @rule(cents=st.integers(1, 100_000))
    def record_cost(self, cents: int) -> None:
        old, amount = self.campaign, Money.from_minor(cents, "EUR")
        if CAMPAIGN_LIFECYCLE.is_final(old.status):
            self.refused(lambda: old.record_cost(amount, self.stamp()), "record_cost")
            return
        new, event = old.record_cost(amount, self.stamp())
        assert new.actual_cost == old.actual_cost + amount == event.actual_cost
        assert new.status is old.status
        self.costs.append(amount)
        self.accepted(old, new, event, CampaignCostRecorded)

    @rule(name=st.sampled_from(NAMES), days=st.integers(0, 30))
    def update(self, name: str, days: int) -> None:
        old = self.campaign
        start = date(2026, 4, 1)

        def call() -> Any:
            return old.update(
                self.stamp(), name=name, starts_on=start, ends_on=start + timedelta(days=days)
            )

        if CAMPAIGN_LIFECYCLE.is_final(old.status):
            self.refused(call, "update")
        elif (name, start, start + timedelta(days=days)) != (old.name, old.starts_on, old.ends_on):
            new, event = call()
            assert (new.name, new.ends_on) == (name, start + timedelta(days=days))
            self.accepted(old, new, event, CampaignUpdated)

    @precondition(lambda self: self.campaign.status is _S.PLANNED)
    @rule()
    def steer_to_activation(self) -> None:
        """Planned campaigns stay planned for long under random commands; start them."""
        self.activate()

    @invariant()
    def cost_is_the_sum_of_costs(self) -> None:
        total = Money.zero("EUR")
        for amount in self.costs:
            total += amount
        assert self.campaign.actual_cost == total
        assert [e.version for e in self.log] == list(range(1, self.campaign.version + 1))


def test_random_commands_keep_the_campaign_lifecycle() -> None:
    CampaignMachine.visited = set()
    run_state_machine_as_test(CampaignMachine, settings=STATEFUL)
    assert CampaignMachine.visited == CAMPAIGN_LIFECYCLE.reachable() == set(CampaignStatus)


def test_final_campaign_states() -> None:
    assert CAMPAIGN_LIFECYCLE.final == {_S.COMPLETED, _S.ABORTED}
    assert CAMPAIGN_LIFECYCLE.next_states(_S.PLANNED) == {
        "activate": _S.ACTIVE,
        "abort": _S.ABORTED,
    }
