"""Stateful test of `Lead`: random commands, allowed and not, through the real methods.

An accepted command adds one to the version and yields one event with that
version; a refused one raises `InvalidTransition` (naming the lifecycle, the
state and the command) or `ValidationError`, and leaves the lead as it was.
After every step the event log replays to the lead. Across runs, every state
of `LEAD_LIFECYCLE` is reached (`proceed` steers towards a converted lead,
which random commands alone seldom reach), and so is a merged lead.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead import LEAD_LIFECYCLE, Lead
from crmkit.sales.lead_events import (
    LeadAnswered,
    LeadAssigned,
    LeadChanged,
    LeadConverted,
    LeadDisqualified,
    LeadMerged,
    LeadNurtured,
    LeadQualified,
    LeadRecycled,
    LeadScored,
    LeadTagged,
    LeadUnmerged,
    LeadUntagged,
    LeadWorked,
)
from crmkit.sales.lead_values import LeadStatus
from crmkit.sales.qualification import BANT, NO_CRITERIA, QualificationCriteria

STATEFUL = settings(max_examples=300, stateful_step_count=25, deadline=None)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

COMPANIES = ("Acme", "Globex", "")
OWNERS = (None, "u-1", "u-2")
TAGS = ("vip", "hot")
SCORES = (None, 0, 55, 100)
REASONS = ("no budget", "competitor", "", "   ")
ANSWERS: tuple[dict[str, str], ...] = (
    {"budget": "25000"},
    {"authority": "decision_maker", "need": "CRM", "timeline": "now"},
    {"budget": "lots"},
    {},
)
GOOD_BANT = {"budget": "5", "authority": "influencer", "need": "CRM", "timeline": "now"}


def lead_machine(visited: set[Any], merged_seen: list[bool]) -> type[RuleBasedStateMachine]:
    class LeadMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.now = START
            self.lead: Lead | None = None
            self.log: list[DomainEvent] = []

        def stamp(self) -> Stamp:
            self.now += timedelta(minutes=1)
            return Stamp(self.now, "u-7")

        @property
        def agg(self) -> Lead:
            assert self.lead is not None
            return self.lead

        @initialize(company=st.sampled_from(COMPANIES[:2]), answers=st.sampled_from(ANSWERS))
        def capture(self, company: str, answers: dict[str, str]) -> None:
            data = LeadInput(company=company, email="anna@example.com", answers=answers)
            lead, event = Lead.capture("l-1", data, self.stamp())
            assert (lead.version, lead.status, event.version) == (1, LeadStatus.NEW, 1)
            self.lead, self.log = lead, [event]
            visited.add(lead.status)

        # --- bookkeeping ---------------------------------------------------------------

        def accepted(self, result: tuple[Lead, DomainEvent], kind: type[DomainEvent]) -> Lead:
            new, event = result
            assert type(event) is kind
            assert new.version == self.agg.version + 1 == event.version
            assert event.aggregate_id == new.id == self.agg.id
            assert (event.occurred_at, event.actor) == (self.now, "u-7")
            assert new.updated_at == self.now
            self.lead = new
            self.log.append(event)
            visited.add(new.status)
            return new

        def refused(
            self, call: Callable[[], object], command: str, error: type[Exception]
        ) -> BaseException:
            before = self.agg
            with pytest.raises(error) as info:
                call()
            if isinstance(info.value, InvalidTransition):
                assert info.value.aggregate == "lead"
                assert info.value.state == self.agg.status.value
                assert info.value.command == command
            assert self.agg == before
            return info.value

        def blocked(self, command: str) -> str | None:
            """Why the lead refuses ``command`` before anything else is checked."""
            if self.agg.merged_into is not None and command != "unmerge":
                return f"merged into {self.agg.merged_into}"
            if self.agg.status is LeadStatus.CONVERTED:
                return "a converted lead does not change"
            return None

        def run(
            self,
            command: str,
            call: Callable[[], tuple[Lead, DomainEvent]],
            kind: type[DomainEvent],
            *,
            moves: bool = False,
            unchanged: bool = False,
            guard: str | None = None,
        ) -> Lead | None:
            why = self.blocked(command)
            if why is not None:
                error = self.refused(call, command, InvalidTransition)
                assert isinstance(error, InvalidTransition)
                assert error.reason == why
                return None
            if moves and not LEAD_LIFECYCLE.can(self.agg.status, command):
                self.refused(call, command, InvalidTransition)
                return None
            if guard is not None:
                error = self.refused(call, command, InvalidTransition)
                assert isinstance(error, InvalidTransition)
                assert error.reason is not None
                assert error.reason.startswith(guard)
                return None
            if unchanged:
                self.refused(call, command, ValidationError)
                return None
            state = self.agg.status
            new = self.accepted(call(), kind)
            if moves:
                assert new.status == LEAD_LIFECYCLE.target(state, command)
            return new

        # --- status commands -------------------------------------------------------------

        @rule()
        def work(self) -> None:
            self.run("work", lambda: self.agg.work(self.stamp()), LeadWorked, moves=True)

        @rule()
        def nurture(self) -> None:
            self.run("nurture", lambda: self.agg.nurture(self.stamp()), LeadNurtured, moves=True)

        @rule()
        def recycle(self) -> None:
            new = self.run(
                "recycle", lambda: self.agg.recycle(self.stamp()), LeadRecycled, moves=True
            )
            if new is not None:
                assert new.disqualify_reason is None

        @rule(bant=st.booleans(), given=st.sampled_from(ANSWERS))
        def qualify(self, bant: bool, given: dict[str, str]) -> None:
            criteria: QualificationCriteria = BANT if bant else NO_CRITERIA
            unmet = criteria.unmet({**self.agg.answers, **given})
            new = self.run(
                "qualify",
                lambda: self.agg.qualify(criteria, self.stamp(), answers=given),
                LeadQualified,
                moves=True,
                guard="unmet: " if unmet else None,
            )
            if new is not None:
                assert criteria.met(new.answers)

        @rule(opportunity=st.sampled_from([None, "o-1"]))
        def convert(self, opportunity: str | None) -> None:
            new = self.run(
                "convert",
                lambda: self.agg.convert(
                    self.stamp(), account_id="a-1", contact_id="c-1", opportunity_id=opportunity
                ),
                LeadConverted,
                moves=True,
            )
            if new is not None:
                assert (new.account_id, new.contact_id, new.opportunity_id) == (
                    "a-1",
                    "c-1",
                    opportunity,
                )
                assert set(self.log[-1].subjects()) >= {"l-1", "a-1", "c-1"}

        @rule(reason=st.sampled_from(REASONS))
        def disqualify(self, reason: str) -> None:
            new = self.run(
                "disqualify",
                lambda: self.agg.disqualify(reason, self.stamp()),
                LeadDisqualified,
                moves=True,
                guard="needs a reason" if not reason.strip() else None,
            )
            if new is not None:
                assert new.disqualify_reason == reason

        @precondition(
            lambda self: (
                self.agg.merged_into is None and self.agg.status is not LeadStatus.CONVERTED
            )
        )
        @rule()
        def proceed(self) -> None:
            """The natural next step (random commands alone seldom qualify and convert)."""
            status = self.agg.status
            if status is LeadStatus.WORKING:
                self.qualify(bant=False, given={})
            elif status is LeadStatus.QUALIFIED:
                self.convert("o-1")
            elif status is LeadStatus.DISQUALIFIED:
                self.recycle()
            else:
                self.work()

        # --- field commands --------------------------------------------------------------

        @rule(company=st.sampled_from(COMPANIES))
        def update(self, company: str) -> None:
            same = (company or None) == self.agg.company
            new = self.run(
                "update",
                lambda: self.agg.update(self.stamp(), company=company),
                LeadChanged,
                unchanged=same,
            )
            if new is not None:
                assert new.company == (company or None)

        @rule(owner=st.sampled_from(OWNERS))
        def assign(self, owner: str | None) -> None:
            same = owner == self.agg.owner_id
            call = lambda: self.agg.assign(owner, self.stamp())  # noqa: E731
            self.run("assign", call, LeadAssigned, unchanged=same)

        @rule(tag=st.sampled_from(TAGS))
        def tag(self, tag: str) -> None:
            call = lambda: self.agg.tag([tag.upper()], self.stamp())  # noqa: E731
            self.run("tag", call, LeadTagged, unchanged=tag in self.agg.tags)

        @rule(tag=st.sampled_from(TAGS))
        def untag(self, tag: str) -> None:
            call = lambda: self.agg.untag([tag], self.stamp())  # noqa: E731
            self.run("untag", call, LeadUntagged, unchanged=tag not in self.agg.tags)

        @rule(given=st.sampled_from(ANSWERS))
        def answer(self, given: dict[str, str]) -> None:
            same = all(self.agg.answers.get(k) == a for k, a in given.items())
            before = dict(self.agg.answers)
            call = lambda: self.agg.answer(given, self.stamp())  # noqa: E731
            new = self.run("answer", call, LeadAnswered, unchanged=same)
            if new is not None:
                assert new.answers == {**before, **given}

        @rule(score=st.sampled_from(SCORES))
        def rescore(self, score: int | None) -> None:
            call = lambda: self.agg.rescore(score, self.stamp())  # noqa: E731
            self.run("rescore", call, LeadScored, unchanged=score == self.agg.score)

        @rule(survivor=st.sampled_from(["l-2", "l-1"]))
        def merge_into(self, survivor: str) -> None:
            call = lambda: self.agg.merge_into(survivor, self.stamp())  # noqa: E731
            new = self.run("merge_into", call, LeadMerged, unchanged=survivor == "l-1")
            if new is not None:
                assert new.merged_into == survivor
                merged_seen.append(True)

        @rule()
        def unmerge(self) -> None:
            call = lambda: self.agg.unmerge(self.stamp())  # noqa: E731
            if self.agg.merged_into is None:
                error = self.refused(call, "unmerge", InvalidTransition)
                assert isinstance(error, InvalidTransition)
                assert error.reason == "not merged"
                return
            new = self.run("unmerge", call, LeadUnmerged)
            assert new is not None
            assert new.merged_into is None

        # --- invariants ------------------------------------------------------------------

        @invariant()
        def events_replay_to_the_lead(self) -> None:
            if self.lead is not None:
                assert Lead.replay(self.log) == self.lead

        @invariant()
        def no_event_is_lost(self) -> None:
            if self.lead is not None:
                assert [e.version for e in self.log] == list(range(1, self.lead.version + 1))
                assert {e.aggregate_id for e in self.log} == {"l-1"}

        @invariant()
        def converted_leads_keep_their_links(self) -> None:
            if self.lead is not None and self.lead.status is LeadStatus.CONVERTED:
                assert self.lead.account_id is not None
                assert self.lead.contact_id is not None

    return LeadMachine


def test_random_commands_keep_every_lead_rule() -> None:
    visited: set[Any] = set()
    merged: list[bool] = []
    run_state_machine_as_test(lead_machine(visited, merged), settings=STATEFUL)
    assert visited == LEAD_LIFECYCLE.reachable()
    assert visited == set(LeadStatus)
    assert merged, "no run merged a lead"
