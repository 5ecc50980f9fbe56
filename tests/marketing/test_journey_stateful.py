"""A clock runs over many journeys while consent, unsubscribes and bounces change at random.

After every step, every planned send must have email marketing consent GRANTED
at that moment, lie outside the contact's quiet hours (in their own zone),
keep every cap window within its limit given the sends already made, and
nothing may be planned once the contact unsubscribed (from all, or from the
journey's list or campaign), hard-bounced or was suppressed.
"""

from datetime import UTC, date, datetime, timedelta

import attrs
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from crmkit.marketing.guards import Recipient, Sent
from crmkit.marketing.journey import Journey, PlannedSend, evaluate, plan
from crmkit.marketing.triggers import Birthday
from crmkit.parties.consent import ConsentStatus
from crmkit.testing._strategies_journeys import journeys, recipients

HORIZON = timedelta(days=20)
SCOPES = ("all", "list-1", "list-2", "cmp-1", "cmp-2")


def _within_cap(journey: Journey, send: PlannedSend, made: list[datetime]) -> bool:
    """Oracle: every window [w, w + per) holding ``send.at`` has at most max_sends sends."""
    per = journey.cap.period
    times = [*made, send.at]
    starts = [t for t in times if send.at - per < t <= send.at] + [
        send.at - per + timedelta(microseconds=1)
    ]
    return all(sum(1 for t in times if w <= t < w + per) <= journey.cap.max_sends for w in starts)


class JourneyMachine(RuleBasedStateMachine):
    """Random consent changes, opt-outs and bounces while the clock advances and sends go out."""

    @initialize(
        base=recipients(),
        chosen=st.lists(
            journeys(st.integers(1, 99)), min_size=1, max_size=4, unique_by=lambda j: j.id
        ),
        start=st.datetimes(datetime(2025, 1, 1), datetime(2026, 12, 1), timezones=st.just(UTC)),
    )
    def setup(self, base: Recipient, chosen: list[Journey], start: datetime) -> None:
        self.recipient = base
        self.journeys = chosen
        self.now = start
        self.made: list[Sent] = []
        self.stopped: set[str] = set()

    def _current(self) -> Recipient:
        return attrs.evolve(self.recipient, sends=tuple(self.made))

    @rule(status=st.sampled_from([ConsentStatus.GRANTED, *ConsentStatus]))
    def change_consent(self, status: ConsentStatus) -> None:
        self.recipient = attrs.evolve(self.recipient, consent={"email/marketing": status})

    # ``roll`` makes opt-outs rarer than clock steps, so that runs make sends before they stop.
    @rule(scope=st.sampled_from(SCOPES), roll=st.integers(0, 3))
    def unsubscribe(self, scope: str, roll: int) -> None:
        if roll:
            return
        r = self.recipient
        if scope == "all":
            self.recipient = attrs.evolve(r, unsubscribed_all=True)
        elif scope.startswith("list"):
            self.recipient = attrs.evolve(r, unsubscribed_lists=(*r.unsubscribed_lists, scope))
        else:
            self.recipient = attrs.evolve(
                r, unsubscribed_campaigns=(*r.unsubscribed_campaigns, scope)
            )
        self.stopped.add(scope)

    @rule(roll=st.integers(0, 3))
    def hard_bounce(self, roll: int) -> None:
        if roll:
            return
        self.recipient = attrs.evolve(self.recipient, hard_bounced=True)
        self.stopped.add("all")

    @rule(hours=st.integers(1, 24 * 20))
    def advance(self, hours: int) -> None:
        """Move the clock by up to twenty days, making the sends it passes."""
        self._advance(hours)

    def _advance(self, hours: int) -> None:
        """Move the clock; the earliest planned send goes out first, then the plan is redone."""
        target = self.now + timedelta(hours=hours)
        for _ in range(100):
            sends = plan(
                self.journeys,
                self._current(),
                self.now,
                target - self.now + timedelta(microseconds=1),
            )
            due = [s for s in sends if s.at <= target]
            if not due:
                break
            first = due[0]
            self.made.append(Sent(first.journey_id, first.key, first.at))
            self.now = first.at
        self.now = target

    # Advancing is the rule that makes sends: give it more weight than the opt-outs.
    @rule(hours=st.integers(1, 24 * 20))
    def advance_again(self, hours: int) -> None:
        """Advance once more (weighting)."""
        self._advance(hours)

    @rule(hours=st.integers(1, 24 * 5))
    def advance_a_little(self, hours: int) -> None:
        """Advance by up to five days (weighting)."""
        self._advance(hours)

    @invariant()
    def every_planned_send_is_allowed(self) -> None:
        current = self._current()
        made = [s.at for s in self.made]
        by_id = {j.id: j for j in self.journeys}
        for journey in self.journeys:
            planned = plan(journey, current, self.now, HORIZON)
            stopped = {"all", journey.list_id, journey.campaign_id} & self.stopped
            if stopped:
                assert planned == ()
            for index, send in enumerate(planned):
                assert current.consent_for("email", "marketing") is ConsentStatus.GRANTED
                assert not journey.quiet.contains(send.at, current.zone)
                assert self.now <= send.at < self.now + HORIZON
                assert send.key not in {s.key for s in self.made}
                assert _within_cap(journey, send, made + [p.at for p in planned[:index]])
        together = evaluate(self.journeys, current, self.now, HORIZON)
        for index, send in enumerate(together.sends):
            journey = by_id[send.journey_id]
            assert not journey.quiet.contains(send.at, current.zone)
            assert _within_cap(journey, send, made + [p.at for p in together.sends[:index]])

    @invariant()
    def sends_made_respect_every_cap(self) -> None:
        by_id = {j.id: j for j in self.journeys}
        times = [s.at for s in self.made]
        for index, sent in enumerate(self.made):
            journey = by_id[sent.journey_id]
            fake = PlannedSend(
                self.recipient.contact_id,
                journey.id,
                "t",
                journey.channel,
                sent.at,
                sent.at,
                sent.key,
            )
            assert _within_cap(journey, fake, times[:index])


JourneyMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=12, deadline=None)
TestJourneyMachine = JourneyMachine.TestCase


def test_the_machine_makes_sends_when_the_clock_passes_them() -> None:
    machine = JourneyMachine()
    r = Recipient(
        "c-1", "Europe/Berlin", birthday=date(1990, 6, 1), consent={"email/marketing": "granted"}
    )
    machine.setup(r, [Journey("j-1", "J", Birthday(), "t")], datetime(2026, 5, 20, tzinfo=UTC))
    machine._advance(24 * 20)
    assert [s.at for s in machine.made] == [datetime(2026, 6, 1, 7, tzinfo=UTC)]
    machine.every_planned_send_is_allowed()
