"""Random rule sets and random commands on a real store: automation stays within the depth
limit, atomic under faults in any action, never around consent, and always names its rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from crmkit import Crm, Email, FakeClock, Principal
from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.memory_channel import MemoryChannel
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.dispatcher import Dispatcher
from crmkit.app.notifier import Template, consent_refusal
from crmkit.app.policies import MAX_DEPTH, PolicyLoop
from crmkit.app.records import CONTACTS
from crmkit.extension.custom_fields import CustomFields, FieldSpec
from crmkit.extension.rules import (
    All,
    AssignOwner,
    Condition,
    Contains,
    CreateTask,
    Eq,
    Exists,
    LogActivity,
    Lt,
    Ne,
    Not,
    Notify,
    Rule,
    SetField,
    Transition,
)
from crmkit.kernel.errors import InvalidTransition, NotFound, StorageError, ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.parties.consent import ConsentStatus
from crmkit.ports.storage import DocumentStore
from crmkit.testing.faults import FailAt, InjectedFault, snapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = Principal("u-anna", roles={"admin"})
TEMPLATES = {
    "ok": Template("Hello", "Hi $first_name"),
    # Rendering fails: no value for $nickname. A real failure path inside a Notify action.
    "broken": Template("Hi $nickname", "x"),
}
# Errors a command may end with; anything else (TypeError, DuplicateRecord ...) is a bug.
EXPECTED = (ValidationError, InvalidTransition, NotFound, PolicyLoop, InjectedFault, StorageError)

# --- rule strategies: event types the commands below raise, fields that exist -------------

EVENTS: dict[str, tuple[str, ...]] = {
    "lead": (
        "lead_captured", "lead_worked", "lead_nurtured", "lead_qualified", "lead_disqualified",
        "lead_recycled", "lead_tagged", "lead_assigned",
    ),
    "contact": ("contact_created", "consent_recorded", "contact_changed"),
    "opportunity": (
        "opportunity_opened", "opportunity_won", "opportunity_lost", "opportunity_reopened",
        "opportunity_changed", "opportunity_assigned",
    ),
    "complaint": (
        "complaint_received", "complaint_acknowledged", "complaint_investigating",
        "complaint_assigned",
    ),
    "activity": ("activity_logged",),
}  # fmt: skip
COMMANDS: dict[str, tuple[str, ...]] = {
    # Valid in some states and not in others; "lose" needs a reason (refused as the rule's error).
    "lead": ("work", "nurture", "qualify", "recycle"),
    "contact": ("archive", "restore"),
    "opportunity": ("win", "reopen", "lose"),
    "complaint": ("investigate", "acknowledge"),
    "activity": ("work",),  # activities have no service: the rule's error
}
FIELDS: dict[str, tuple[tuple[str, object], ...]] = {
    "lead": (("rating", "hot"),),  # leads have no update: the rule's error
    "contact": (("title", "Dr"), ("first_name", "Al"), ("title", 7)),  # 7 fails validation
    "opportunity": (("probability", "0.5"), ("name", "Renamed"), ("custom.tier", "gold")),
    "complaint": (("subject", "x"),),
    "activity": (("subject", "x"),),
}
RECIPIENTS = ("record.id", "record.contact_id", "record.contact_ids.0")
USERS = ("u-bo", "u-cy", "u-di")

CONDITIONS: tuple[Condition, ...] = (
    Eq("event.actor", "u-anna"),
    Ne("record.owner_id", "u-bo"),
    Exists("record.company"),
    Contains("record.tags", "vip"),
    Lt("record.version", 4),
    Not(Eq("record.status", "working")),
    All((Exists("record.owner_id"), Lt("event.version", 6))),
)


def _actions(kind: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(
            CreateTask,
            st.sampled_from(
                ("Follow up", "Call ${record.id}", "v${event.version}", "${record.nope}")
            ),
            st.integers(0, 30),
            st.sampled_from((*USERS, "record.owner_id")),
        ),
        st.builds(LogActivity, st.just("note"), st.sampled_from(("Seen", "By ${event.actor}"))),
        st.builds(AssignOwner, owner_id=st.sampled_from(USERS)),
        st.builds(
            AssignOwner, round_robin=st.lists(st.sampled_from(USERS), min_size=1, unique=True)
        ),
        st.sampled_from(FIELDS[kind]).map(lambda fv: SetField(fv[0], fv[1])),  # type: ignore[arg-type]
        st.builds(Transition, st.sampled_from(COMMANDS[kind])),
        st.builds(
            Notify,
            st.sampled_from(("email", "sms")),
            st.sampled_from(("marketing", "service", "sales")),
            st.sampled_from(("ok", "ok", "broken")),
            st.sampled_from(RECIPIENTS),
        ),
    )


@st.composite
def automation_rules(draw: st.DrawFn, index: int) -> Rule:
    """One rule on an event type the commands raise, with conditions and actions that fit it."""
    kind = draw(st.sampled_from(sorted(EVENTS)))
    on = draw(st.sampled_from(EVENTS[kind]))
    when = draw(st.none() | st.sampled_from(CONDITIONS))
    then = draw(st.lists(_actions(kind), min_size=1, max_size=3))
    return Rule(f"r{index}", f"Rule {index}", on, when, then, draw(st.booleans() | st.just(True)))


@st.composite
def rule_sets(draw: st.DrawFn) -> tuple[Rule, ...]:
    """One to five rules; chains and self-triggering rules arise from the shared event types."""
    count = draw(st.integers(1, 5))
    drawn = [draw(automation_rules(i)) for i in range(count)]
    # Random rules seldom close a loop on their own: add a known one (self-triggering, or
    # two rules triggering each other) to half of the sets, so PolicyLoop is reached too.
    loop = draw(st.sampled_from(("none", "self", "pair")))
    if loop == "self":
        drawn.append(
            Rule("self", "Note on note", "activity_logged", None, (LogActivity("note", "again"),))
        )
    elif loop == "pair":
        drawn.append(Rule("start", "Work", "lead_captured", None, (Transition("work"),)))
        drawn.append(Rule("ping", "Nurture", "lead_worked", None, (Transition("nurture"),)))
        drawn.append(Rule("pong", "Work", "lead_nurtured", None, (Transition("work"),)))
    return tuple(drawn)


# --- the store, with a fault-injecting commit, and a full snapshot --------------------------


class FaultyCommit(MemoryStore):
    """A memory store whose next commit can be made to fail before anything is written."""

    fail_next = False

    def commit(self, tenant: str, changes: Any) -> None:
        """Fail with `StorageError` once if asked, else commit."""
        if self.fail_next:
            self.fail_next = False
            raise StorageError("injected commit fault")
        super().commit(tenant, changes)


def full_snapshot(crm: Crm) -> dict[str, Any]:
    """Every document of every kind (id, version, body, index), the event log and the outbox."""
    state = snapshot(crm)
    state["outbox"] = {
        doc.id: crm.store.outbox_of(crm.tenant, doc.id) for doc in state[CONTACTS.kind]
    }
    return state


def _crm(store: DocumentStore, rules: tuple[Rule, ...]) -> Crm:
    clock = FakeClock(T0, tick=timedelta(seconds=1))
    return Crm(store, clock=clock, ids=SequentialIds("x"), rules=rules, templates=TEMPLATES)


class Spy:
    """Records, per command, which rule ran which action and how deeply rules were nested."""

    def __init__(self, crm: Crm) -> None:
        auto = crm.automation
        self.depth = 0
        self.runs: list[tuple[str, type, int]] = []
        react, run = auto.react, auto._run

        def spy_react(event: Any, uow: Any) -> None:
            self.depth += 1
            try:
                react(event, uow)
            finally:
                self.depth -= 1

        def spy_run(firing: Any, index: int, action: Any, event: Any, uow: Any) -> None:
            # (4) every action runs as its rule, also after a nested rule ran inside it.
            assert uow.principal.id == f"rule:{firing.rule_id}"
            self.runs.append((firing.rule_id, type(action), self.depth))
            run(firing, index, action, event, uow)

        auto.react = spy_react  # type: ignore[method-assign]
        auto._run = spy_run  # type: ignore[method-assign]


class AutomationMachine(RuleBasedStateMachine):
    """Commands through a CRM with random rules; faults injected at random steps."""

    @initialize(rules=rule_sets())
    def setup(self, rules: tuple[Rule, ...]) -> None:
        self.store = FaultyCommit()
        self.crm = _crm(self.store, rules)
        self.fail = FailAt(self.crm)
        self.crm.policies = self.fail.policies
        self.spy = Spy(self.crm)
        self.rule_ids = {rule.id for rule in rules}
        self.channels = [MemoryChannel("email"), MemoryChannel("sms")]
        self.dispatcher = Dispatcher(self.crm, self.channels)
        self.ids: dict[str, list[str]] = {"lead": [], "contact": [], "opportunity": []}
        self.complaints: list[str] = []
        self.outcomes: list[str] = []

    def _do(self, fault: object, command: Callable[[Any], Any]) -> Any:
        before = full_snapshot(self.crm)
        position = before["events"][-1].position if before["events"] else 0
        self.spy.runs.clear()
        self.fail.at, self.fail.seen = (fault if isinstance(fault, int) else None), 0
        self.store.fail_next = fault == "commit"
        try:
            with self.crm.unit_of_work(ANNA) as uow:
                result = command(uow)
        except EXPECTED as exc:
            # (2) and (1): whatever failed, nothing of the command is kept.
            what = type(exc).__name__
            assert full_snapshot(self.crm) == before, f"{what} left the store changed"
            if isinstance(exc, PolicyLoop):
                assert max(depth for _, _, depth in self.spy.runs) == MAX_DEPTH
            self.outcomes.append(type(exc).__name__)
            return None
        finally:
            self.fail.at = None
            self.store.fail_next = False
        self.outcomes.append("ok")
        # (1) a chain that completed stayed within the limit.
        assert all(depth <= MAX_DEPTH for _, _, depth in self.spy.runs)
        self._check_actors(position)
        self._check_consent(before["outbox"])
        return result

    def _check_actors(self, position: int) -> None:
        # (4) every new event is the user's, or names a rule that ran in this command; a rule
        # that logged an activity or planned a task has an event in its name.
        ran = {rule_id for rule_id, _, _ in self.spy.runs}
        actors = {event.actor for _, event in self.crm.events(after=position)}
        assert actors <= {"u-anna"} | {f"rule:{rule_id}" for rule_id in ran}
        for rule_id, action, _ in self.spy.runs:
            if action in (CreateTask, LogActivity):
                assert f"rule:{rule_id}" in actors

    def _check_consent(self, old: dict[str, Any]) -> None:
        # (3) a message is queued only where consent allows it; marketing needs a grant.
        with self.crm.unit_of_work(ANNA) as uow:
            for contact_id in self.ids["contact"]:
                contact = uow.get(CONTACTS, contact_id)
                known = {entry.message.id for entry in old.get(contact_id, [])}
                for entry in self.crm.store.outbox_of(self.crm.tenant, contact_id):
                    if entry.message.id in known:
                        continue
                    message = entry.message
                    assert consent_refusal(contact, message.channel, message.purpose) is None
                    if message.purpose == "marketing":
                        status = contact.consent_for(message.channel, "marketing")
                        assert status is ConsentStatus.GRANTED

    def _pick(self, kind: str, i: int) -> str:
        found = self.ids[kind]
        return found[i % len(found)]

    faults = st.sampled_from((None, None, None, None, "commit", 1, 2, 3, 4, 6))

    @rule(fault=faults, email=st.booleans(), consent=st.sampled_from(("none", "grant", "withdraw")))
    def create_contact(self, fault: object, email: bool, consent: str) -> None:
        def command(uow: Any) -> Any:
            emails = [Email("bo@example.com")] if email else []
            contact = uow.contacts.create("Berg", first_name="Bo", emails=emails, tags=["vip"])
            if consent != "none":
                for purpose in ("marketing", "service"):
                    uow.contacts.record_consent(
                        contact.id, "email", purpose, granted=consent == "grant", source="form"
                    )
            return contact

        made = self._do(fault, command)
        if made is not None:
            self.ids["contact"].append(made.id)

    @precondition(lambda self: self.ids["contact"])
    @rule(
        fault=faults,
        i=st.integers(0, 9),
        granted=st.booleans(),
        purpose=st.sampled_from(("marketing", "service")),
    )
    def record_consent(self, fault: object, i: int, granted: bool, purpose: str) -> None:
        cid = self._pick("contact", i)
        self._do(
            fault,
            lambda uow: uow.contacts.record_consent(
                cid, "email", purpose, granted=granted, source="call"
            ),
        )

    @rule(fault=faults, company=st.booleans(), owner=st.sampled_from((None, "u-bo")))
    def capture_lead(self, fault: object, company: bool, owner: str | None) -> None:
        fields: dict[str, Any] = {"company": "ACME"} if company else {}
        made = self._do(
            fault, lambda uow: uow.leads.capture(last_name="Lind", owner_id=owner, **fields)
        )
        if made is not None:
            self.ids["lead"].append(made.id)

    @precondition(lambda self: self.ids["lead"])
    @rule(
        fault=faults,
        i=st.integers(0, 9),
        command=st.sampled_from(("work", "nurture", "qualify", "recycle", "tag", "assign")),
    )
    def lead_command(self, fault: object, i: int, command: str) -> None:
        lid = self._pick("lead", i)
        args: tuple[str, ...] = {"tag": ("vip",), "assign": ("u-cy",)}.get(command, ())
        self._do(fault, lambda uow: getattr(uow.leads, command)(lid, *args))

    @precondition(lambda self: self.ids["contact"])
    @rule(fault=faults, i=st.integers(0, 9))
    def open_opportunity(self, fault: object, i: int) -> None:
        cid = self._pick("contact", i)
        made = self._do(
            fault,
            lambda uow: uow.opportunities.open(
                "Deal",
                amount=Money.of("100", "EUR"),
                close_date=date(2026, 6, 1),
                contact_ids=[cid],
            ),
        )
        if made is not None:
            self.ids["opportunity"].append(made.id)

    @precondition(lambda self: self.ids["opportunity"])
    @rule(
        fault=faults,
        i=st.integers(0, 9),
        command=st.sampled_from(("win", "lose", "reopen", "assign")),
    )
    def opportunity_command(self, fault: object, i: int, command: str) -> None:
        oid = self._pick("opportunity", i)
        args: tuple[str, ...] = {"lose": ("price",), "assign": ("u-di",)}.get(command, ())
        self._do(fault, lambda uow: getattr(uow.opportunities, command)(oid, *args))

    @precondition(lambda self: self.ids["contact"])
    @rule(fault=faults, i=st.integers(0, 9))
    def receive_complaint(self, fault: object, i: int) -> None:
        cid = self._pick("contact", i)
        made = self._do(
            fault,
            lambda uow: uow.complaints.receive(
                "Late", "It came late", channel="email", category="delivery", contact_id=cid
            ),
        )
        if made is not None:
            self.complaints.append(made.id)

    @rule()
    def dispatch(self) -> None:
        # (3) again when sent: the dispatcher re-checks consent, so nothing reaches a
        # contact whose consent (as it stands now) forbids it.
        sent = [len(channel.sent) for channel in self.channels]
        self.dispatcher.run_until_idle()
        with self.crm.unit_of_work(ANNA) as uow:
            for channel, count in zip(self.channels, sent, strict=True):
                for message in channel.sent[count:]:
                    assert message.party_id is not None
                    contact = uow.get(CONTACTS, message.party_id)
                    assert consent_refusal(contact, channel.name, message.purpose) is None


AutomationMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=15, deadline=None
)
TestAutomationMachine = AutomationMachine.TestCase


# --- chains of exactly known length -----------------------------------------------------


def _chain(length: int, tail: str) -> tuple[Rule, ...]:
    """Rule i re-assigns a lead from u-i to u-(i+1): ``length`` nested firings.

    With ``tail="log"`` the last rule logs an activity instead: its event triggers nothing.
    """
    rules = []
    for i in range(length):
        last = i == length - 1
        action = LogActivity("note", "end") if last and tail == "log" else AssignOwner(f"u-{i + 1}")
        rules.append(
            Rule(f"c{i}", f"Chain {i}", "lead_assigned", Eq("record.owner_id", f"u-{i}"), (action,))
        )
    return tuple(rules)


def _run_chain(length: int, tail: str) -> None:
    crm = _crm(MemoryStore(), _chain(length, tail))
    with crm.unit_of_work(ANNA) as uow:
        lead = uow.leads.capture(last_name="Lind")
    before = full_snapshot(crm)
    if length > MAX_DEPTH:
        with pytest.raises(PolicyLoop), crm.unit_of_work(ANNA) as uow:
            uow.leads.assign(lead.id, "u-0")
        assert full_snapshot(crm) == before
        return
    with crm.unit_of_work(ANNA) as uow:
        uow.leads.assign(lead.id, "u-0")
    actors = [event.actor for _, event in crm.events(after=before["events"][-1].position)]
    assert actors == ["u-anna", *(f"rule:c{i}" for i in range(length))]


@pytest.mark.parametrize("tail", ["assign", "log"])
@pytest.mark.parametrize("length", [1, MAX_DEPTH - 1, MAX_DEPTH + 1, MAX_DEPTH + 3])
def test_chains_complete_within_the_limit_and_stop_beyond_it(length: int, tail: str) -> None:
    _run_chain(length, tail)


def test_a_chain_of_exactly_max_depth_firings_completes() -> None:
    _run_chain(MAX_DEPTH, "log")


# --- regressions for the bugs this property test found ---------------------------------


def test_two_notify_actions_of_one_rule_are_both_queued() -> None:
    """Both actions used to share one idempotency key, so the commit raised DuplicateRecord."""
    rule = Rule(
        "twice", "Email twice", "contact_created", None,
        (Notify("email", "service", "ok", "record.id"),
         Notify("email", "sales", "ok", "record.id")),
    )  # fmt: skip
    crm = _crm(MemoryStore(), (rule,))
    with crm.unit_of_work(ANNA) as uow:
        contact = uow.contacts.create("Berg", emails=[Email("bo@example.com")])
    entries = crm.store.outbox_of(crm.tenant, contact.id)
    assert sorted(entry.message.purpose for entry in entries) == ["sales", "service"]


@pytest.mark.parametrize(
    "action", [Transition("lose"), SetField("colour", "gold")], ids=["lose", "set_field"]
)
def test_an_action_the_command_cannot_take_is_the_rules_validation_error(action: Any) -> None:
    """These used to leak TypeError from the service (missing reason, unknown keyword)."""
    crm = _crm(MemoryStore(), (Rule("odd", "Odd", "opportunity_opened", None, (action,)),))
    before = full_snapshot(crm)
    with pytest.raises(ValidationError, match=r"rules\[odd\]"), crm.unit_of_work(ANNA) as uow:
        uow.opportunities.open("Deal", amount=Money.of("1", "EUR"), close_date=date(2026, 6, 1))
    assert full_snapshot(crm) == before


def test_a_rule_sets_a_custom_field_through_the_hosts_specs() -> None:
    fields = CustomFields([FieldSpec("opportunity", "tier", "choice", choices=("gold", "blue"))])
    rule = Rule("tier", "Tier", "opportunity_opened", None, (SetField("custom.tier", "gold"),))
    crm = Crm(MemoryStore(), rules=(rule,), templates=TEMPLATES, custom_fields=fields)
    with crm.unit_of_work(ANNA) as uow:
        deal = uow.opportunities.open(
            "Deal", amount=Money.of("1", "EUR"), close_date=date(2026, 6, 1)
        )
    with crm.unit_of_work(ANNA) as uow:
        assert uow.opportunities.get(deal.id).custom["tier"] == "gold"
    assert crm.events(stream_id=deal.id)[-1][1].actor == "rule:tier"
    wrong = Rule("bad", "Bad", "opportunity_opened", None, (SetField("custom.tier", "red"),))
    crm = Crm(MemoryStore(), rules=(wrong,), templates=TEMPLATES, custom_fields=fields)
    with pytest.raises(ValidationError, match=r"custom\.tier"), crm.unit_of_work(ANNA) as uow:
        uow.opportunities.open("Deal", amount=Money.of("1", "EUR"), close_date=date(2026, 6, 1))
    assert crm.events() == []


def test_faults_at_every_step_leave_a_sqlite_store_as_it_was(tmp_path: Path) -> None:
    """The same atomicity on SQLite: a fault at each step of a command that rules extend."""
    rules = (
        Rule("hello", "Hello", "contact_created", None,
             (Notify("email", "service", "ok", "record.id"),
              CreateTask("Call ${record.id}", 1, "u-bo"), AssignOwner("u-cy"))),
        Rule("note", "Note", "contact_changed", None, (LogActivity("note", "assigned"),)),
    )  # fmt: skip
    crm = _crm(SqliteStore(tmp_path / "crm.db"), rules)
    fail = FailAt(crm)
    crm.policies = fail.policies
    step = 0
    while True:
        step += 1
        before = full_snapshot(crm)
        fail.at, fail.seen = step, 0
        try:
            with crm.unit_of_work(ANNA) as uow:
                contact = uow.contacts.create("Berg", emails=[Email("bo@example.com")])
        except InjectedFault:
            assert full_snapshot(crm) == before, f"a fault at step {step} left the store changed"
            continue
        break
    assert step >= 4  # created, task, assigned (+ the note it triggers) ran before success
    assert len(crm.store.outbox_of(crm.tenant, contact.id)) == 1
    crm.store.close()
