"""A stateful test of quotes, driven through the real commands, revisions included.

Each run drafts a quote and sends random commands, allowed and not. An accepted
command adds one to the version and yields one event with that version; a
refused one raises `InvalidTransition` naming the state and the command and
leaves the quote as it was. `Quote.replay` of each revision's events gives the
revision back, and only one revision of the quote number is live at a time.
Across all runs, every state of `QUOTE_LIFECYCLE` is reached: besides the
random commands, two rules steer towards the rare end of the lifecycle (the
natural next step towards presenting, and the end of a presented quote:
expired, declined or accepted), so that random seeds reach every final state
as reliably as the derandomized CI run does.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
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

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import make_converter
from crmkit.sales.pricing import Line, TaxRate
from crmkit.sales.quote import QUOTE_LIFECYCLE, ApprovalPolicy, Quote, QuoteStatus
from crmkit.sales.quote_events import (
    QuoteAccepted,
    QuoteApproved,
    QuoteDeclined,
    QuoteDrafted,
    QuoteExpired,
    QuoteLinesSet,
    QuotePresented,
    QuoteRejected,
    QuoteSubmitted,
    QuoteSuperseded,
)

STATEFUL = settings(max_examples=300, stateful_step_count=30, deadline=None)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = ApprovalPolicy(Decimal(20))
VAT = TaxRate("vat", Decimal("0.2"))
LINE_SETS: tuple[tuple[Line, ...], ...] = (
    (),
    (Line("p-1", "Licence", 2, Money.of("99.90", "EUR"), 5, VAT),),
    (
        Line(None, "Setup", 1, Money.of("500", "EUR"), 30),
        Line(None, "Hours", 3, Money.of(80, "EUR")),
    ),
)
PROCEEDS = (QuoteStatus.DRAFT, QuoteStatus.IN_REVIEW, QuoteStatus.APPROVED)
_conv = make_converter()


class QuoteMachine(RuleBasedStateMachine):
    """Commands on the live revision of one quote number."""

    visited: ClassVar[set[QuoteStatus]] = set()

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.quotes: dict[str, Quote] = {}
        self.logs: dict[str, list[DomainEvent]] = {}
        self.live = ""
        self.next_id = 1

    def stamp(self) -> Stamp:
        self.now += timedelta(minutes=1)
        return Stamp(self.now, "u-7")

    @property
    def quote(self) -> Quote:
        return self.quotes[self.live]

    def new_id(self) -> str:
        self.next_id += 1
        return f"q-{self.next_id}"

    def started(self, quote: Quote, event: DomainEvent) -> None:
        assert isinstance(event, QuoteDrafted)
        assert (quote.version, event.version, event.aggregate_id) == (1, 1, quote.id)
        assert quote.status is QuoteStatus.DRAFT
        self.quotes[quote.id], self.logs[quote.id], self.live = quote, [event], quote.id
        self.visited.add(quote.status)

    def accepted(self, old: Quote, new: Quote, event: DomainEvent, kind: type[Any]) -> None:
        assert type(event) is kind
        assert new.version == old.version + 1 == event.version
        assert event.aggregate_id == new.id == old.id
        assert event.occurred_at == self.now
        self.quotes[new.id] = new
        self.logs[new.id].append(event)
        assert Quote.replay(self.logs[new.id]) == new
        self.visited.add(new.status)

    def refused(self, call: Any, command: str, error: type[Exception] = InvalidTransition) -> None:
        before = _conv.unstructure(self.quote)
        with pytest.raises(error) as info:
            call()
        if isinstance(info.value, InvalidTransition):
            assert info.value.aggregate == "quote"
            assert info.value.state == self.quote.status.value
            assert info.value.command == command
        assert _conv.unstructure(self.quote) == before

    def command(self, command: str, call: Any, kind: type[Any], guard: str | None) -> None:
        """Run ``call(stamp)``; expect refusal when the table or ``guard`` (a reason) says so."""
        old = self.quote
        if not QUOTE_LIFECYCLE.can(old.status, command) or guard is not None:
            self.refused(lambda: call(self.stamp()), command)
            return
        new, event = call(self.stamp())
        assert new.status is QUOTE_LIFECYCLE.target(old.status, command)
        self.accepted(old, new, event, kind)

    def expired_at_next_stamp(self) -> bool:
        return (self.now + timedelta(minutes=1)).date() > self.quote.valid_until

    @initialize(lines=st.sampled_from(LINE_SETS[1:]), discount=st.sampled_from(("0", "0", "25")))
    def draft(self, lines: tuple[Line, ...], discount: str) -> None:
        valid = START.date() + timedelta(days=10)
        self.started(
            *Quote.draft("q-1", "Q-00042", "a-1", "EUR", valid, self.stamp(), contact_id="c-1",
                         opportunity_id="o-1", lines=lines, order_discount=discount)
        )  # fmt: skip

    @rule(days=st.sampled_from((0, 1, 3, 12)))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)

    @rule(
        lines=st.sampled_from(LINE_SETS),
        discount=st.sampled_from(("0", "10", "25")),
        extend=st.integers(0, 10),
    )
    def edit(self, lines: tuple[Line, ...], discount: str, extend: int) -> None:
        old = self.quote
        valid = (self.now + timedelta(days=extend)).date()

        def call() -> Any:
            return old.edit(self.stamp(), lines=lines, order_discount=discount, valid_until=valid)

        if old.status is not QuoteStatus.DRAFT:
            self.refused(call, "edit")
        elif (lines, Decimal(discount), valid) == (old.lines, old.order_discount, old.valid_until):
            self.refused(call, "edit", ValidationError)
        else:
            new, event = call()
            self.accepted(old, new, event, QuoteLinesSet)

    @rule()
    def submit(self) -> None:
        guard = None if self.quote.lines else "no lines"
        self.command("submit", self.quote.submit, QuoteSubmitted, guard)

    @rule(approver=st.sampled_from(("u-7", "u-8")))
    def approve(self, approver: str) -> None:
        guard = "author" if approver == self.quote.author_id else None
        self.command("approve", lambda s: self.quote.approve(approver, s), QuoteApproved, guard)

    @rule()
    def reject(self) -> None:
        self.command("reject", lambda s: self.quote.reject("too cheap", s), QuoteRejected, None)

    @rule()
    def present(self) -> None:
        q = self.quote
        guard = None
        if not q.lines or self.expired_at_next_stamp():
            guard = "lines or validity"
        elif q.status is QuoteStatus.DRAFT and POLICY.needs_approval(q):
            guard = "needs approval"
        self.command("present", lambda s: q.present(POLICY, s), QuotePresented, guard)

    @rule()
    def accept(self) -> None:
        guard = "expired" if self.expired_at_next_stamp() else None
        self.command("accept", self.quote.accept, QuoteAccepted, guard)

    @rule()
    def decline(self) -> None:
        self.command("decline", lambda s: self.quote.decline(s, "price"), QuoteDeclined, None)

    @rule(late=st.booleans())
    def expire(self, late: bool) -> None:
        if late and self.quote.status is QuoteStatus.PRESENTED:
            # the expiry job runs on presented quotes some time after their validity ends
            ends = datetime.combine(self.quote.valid_until, datetime.min.time(), UTC)
            self.now = max(self.now, ends + timedelta(days=1))
        guard = None if self.expired_at_next_stamp() else "still valid"
        self.command("expire", self.quote.expire, QuoteExpired, guard)

    @precondition(lambda self: self.quote.status in PROCEEDS)
    @rule()
    def proceed(self) -> None:
        """The natural next step towards presenting (random commands alone seldom get there)."""
        q = self.quote
        if q.status is QuoteStatus.DRAFT and (not q.lines or self.expired_at_next_stamp()):
            self.edit(q.lines or LINE_SETS[1], str(q.order_discount), 10)
        elif q.status is QuoteStatus.DRAFT and POLICY.needs_approval(q):
            self.submit()
        elif q.status is QuoteStatus.IN_REVIEW:
            self.approve("u-8")
        else:
            self.present()

    @precondition(lambda self: self.quote.status is QuoteStatus.PRESENTED)
    @rule()
    def expiry_job(self) -> None:
        """The nightly job expires a presented quote some time after its validity ends."""
        self.expire(late=True)

    @precondition(lambda self: self.quote.status is QuoteStatus.PRESENTED)
    @rule(accepts=st.booleans())
    def customer_answers(self, accepts: bool) -> None:
        """The customer answers a presented quote."""
        if accepts:
            self.accept()
        else:
            self.decline()

    @rule()
    def revise(self) -> None:
        old = self.quote
        new_id = self.new_id()
        if not QUOTE_LIFECYCLE.can(old.status, "supersede"):
            self.refused(lambda: old.revise(new_id, self.stamp()), "supersede")
            return
        superseded_old, superseded, new, drafted = old.revise(new_id, self.stamp())
        self.accepted(old, superseded_old, superseded, QuoteSuperseded)
        assert superseded_old.superseded_by == new.id
        self.started(new, drafted)
        assert (new.revision, new.supersedes, new.number) == (old.revision + 1, old.id, old.number)
        assert new.lines == old.lines
        assert (new.order_discount, new.valid_until) == (old.order_discount, old.valid_until)
        assert (new.account_id, new.contact_id) == (old.account_id, old.contact_id)

    @invariant()
    def one_live_revision_per_number(self) -> None:
        live = [q for q in self.quotes.values() if q.status is not QuoteStatus.SUPERSEDED]
        assert [q.id for q in live] == [self.live]
        revisions = sorted(q.revision for q in self.quotes.values())
        assert revisions == list(range(1, len(self.quotes) + 1))

    @invariant()
    def no_event_is_lost(self) -> None:
        for quote_id, log in self.logs.items():
            assert [e.version for e in log] == list(range(1, self.quotes[quote_id].version + 1))


def test_random_commands_keep_the_quote_lifecycle() -> None:
    QuoteMachine.visited = set()
    run_state_machine_as_test(QuoteMachine, settings=STATEFUL)
    assert QuoteMachine.visited == QUOTE_LIFECYCLE.reachable() == set(QuoteStatus)


def test_the_lifecycle_table_names_every_state() -> None:
    assert QUOTE_LIFECYCLE.final == {
        QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.EXPIRED, QuoteStatus.SUPERSEDED,
    }  # fmt: skip
