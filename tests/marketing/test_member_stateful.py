"""A stateful test of campaign members, driven through the real commands.

Random sends, responses, conversions, opt-outs and bounces: accepted commands
add one to the version and yield one event with that version; refused ones
raise `InvalidTransition` naming the state and the command (a hard bounce
refuses a new send) and leave the member as it was. Replay gives the member
back. Steering rules move targeted members on and retry soft bounces, so random
seeds reach every state.
"""

from datetime import UTC, datetime, timedelta
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
from crmkit.kernel.serialization import make_converter
from crmkit.marketing.member import (
    MEMBER_LIFECYCLE,
    BounceKind,
    CampaignMember,
    MemberStatus,
    ResponseChannel,
)
from crmkit.marketing.member_events import (
    MemberBounced,
    MemberConverted,
    MemberOptedOut,
    MemberResponded,
    MemberSent,
    MemberTargeted,
)

STATEFUL = settings(max_examples=150, stateful_step_count=20, deadline=None)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_S = MemberStatus
_conv = make_converter()


class MemberMachine(RuleBasedStateMachine):
    """Commands on one campaign member."""

    visited: ClassVar[set[MemberStatus]] = set()

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.log: list[DomainEvent] = []

    def stamp(self) -> Stamp:
        self.now += timedelta(minutes=1)
        return Stamp(self.now, "u-marketing")

    def accepted(self, old: CampaignMember, new: CampaignMember, event: Any, kind: Any) -> None:
        assert type(event) is kind
        assert new.version == old.version + 1 == event.version
        assert event.aggregate_id == new.id == old.id
        assert event.aggregate_kind == "campaign_member"
        assert event.subjects()[:3] == (new.id, "cmp-1", new.contact_id or new.lead_id)
        self.member = new
        self.log.append(event)
        assert CampaignMember.replay(self.log) == new
        self.visited.add(new.status)

    def refused(self, call: Any, command: str) -> None:
        before = _conv.unstructure(self.member)
        with pytest.raises(InvalidTransition) as info:
            call()
        assert info.value.aggregate == "campaign_member"
        assert info.value.state == self.member.status.value
        assert info.value.command == command
        assert _conv.unstructure(self.member) == before

    def command(self, command: str, call: Any, kind: Any, guard: bool = True) -> None:
        old = self.member
        if not MEMBER_LIFECYCLE.can(old.status, command) or not guard:
            self.refused(lambda: call(self.stamp()), command)
            return
        new, event = call(self.stamp())
        assert new.status is MEMBER_LIFECYCLE.target(old.status, command)
        self.accepted(old, new, event, kind)

    @initialize(is_contact=st.booleans())
    def target(self, is_contact: bool) -> None:
        who = {"contact_id": "c-1"} if is_contact else {"lead_id": "lead-1"}
        member, event = CampaignMember.target("m-1", "cmp-1", self.stamp(), **who)
        assert isinstance(event, MemberTargeted)
        assert (member.version, member.status) == (1, _S.TARGETED)
        self.member, self.log = member, [event]
        self.visited.add(member.status)

    @rule()
    def send(self) -> None:
        m = self.member
        retry_ok = m.status is not _S.BOUNCED or m.bounce_kind is BounceKind.SOFT
        first = m.first_sent_at
        self.command("send", m.send, MemberSent, retry_ok)
        if self.member.status is _S.SENT and self.member is not m:
            assert self.member.last_sent_at == self.now
            assert self.member.first_sent_at == (first or self.now)
            assert self.member.bounce_kind is None

    @rule(channel=st.sampled_from(ResponseChannel), note=st.none() | st.just("call me"))
    def respond(self, channel: ResponseChannel, note: str | None) -> None:
        old = self.member
        self.command("respond", lambda s: old.respond(channel, s, note=note), MemberResponded)
        if self.member is not old:
            assert self.member.response_channel is channel

    @rule()
    def convert(self) -> None:
        old = self.member
        self.command("convert", lambda s: old.convert("lead-new", s), MemberConverted)
        if self.member is not old:
            assert self.member.converted_lead_id == "lead-new"
            assert self.log[-1].subjects()[-1] == "lead-new"

    @rule()
    def opt_out(self) -> None:
        self.command("opt_out", self.member.opt_out, MemberOptedOut)

    @rule(kind=st.sampled_from(BounceKind))
    def bounce(self, kind: BounceKind) -> None:
        old = self.member
        self.command("bounce", lambda s: old.bounce(kind, s), MemberBounced)
        if self.member is not old:
            assert self.member.bounce_kind is kind

    @precondition(lambda self: self.member.status is _S.TARGETED)
    @rule()
    def steer_to_sending(self) -> None:
        """Targeted members would often opt out or bounce first; send to them."""
        self.send()

    @precondition(lambda self: self.member.status is _S.SENT)
    @rule()
    def steer_to_response(self) -> None:
        """Reach responded (and from there converted) on most runs."""
        self.respond(ResponseChannel.EMAIL, None)

    @invariant()
    def versions_follow_events(self) -> None:
        assert [e.version for e in self.log] == list(range(1, self.member.version + 1))
        assert (self.member.contact_id is None) != (self.member.lead_id is None)


def test_random_commands_keep_the_member_lifecycle() -> None:
    MemberMachine.visited = set()
    run_state_machine_as_test(MemberMachine, settings=STATEFUL)
    assert MemberMachine.visited == MEMBER_LIFECYCLE.reachable() == set(MemberStatus)


def test_hard_bounce_is_not_retried() -> None:
    stamp = Stamp(START, "u-1")
    member, _ = CampaignMember.target("m-1", "cmp-1", stamp, contact_id="c-1")
    member, _ = member.send(stamp)
    member, _ = member.bounce(BounceKind.HARD, stamp)
    with pytest.raises(InvalidTransition) as info:
        member.send(stamp)
    assert (info.value.state, info.value.command) == ("bounced", "send")
    soft, _ = CampaignMember.target("m-2", "cmp-1", stamp, lead_id="lead-1")
    soft, _ = soft.bounce("soft", stamp)
    soft, event = soft.send(stamp)
    assert (soft.status, soft.first_sent_at, event.version) == (_S.SENT, START, 3)
