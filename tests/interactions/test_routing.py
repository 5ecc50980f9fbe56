"""Inbound routing: every default rule with hand-computed fixtures, custom rule lists, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from crmkit.activities.activity import RecordRef
from crmkit.interactions.routing import (
    COMPLAINT,
    COMPLAINT_WORDS,
    DEFAULT_ROUTING,
    NEW_CASE,
    NEW_LEAD,
    NO_CONTEXT,
    OPEN_CASE,
    OPEN_OPPORTUNITY,
    THREAD,
    Channel,
    Context,
    Inbound,
    Match,
    OpenRecord,
    Route,
    Rule,
    Target,
    complaint_rule,
    known_contact,
    latest,
    omitting,
    replacing,
    route,
)
from crmkit.interactions.threading import NOT_FOUND, Resolution, ResolvedBy
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def email(text: str = "Any news?", contact_id: str | None = "c-1", **kw: object) -> Inbound:
    return Inbound("email", "ann@example.com", contact_id, text=text, **kw)  # type: ignore[arg-type]


THREAD_CASE = Resolution(RecordRef("case", "C-9"), ResolvedBy.IN_REPLY_TO, "<a@x.example>")
BUSY = Context(
    open_cases=[("C-1", at(1)), ("C-2", at(5)), ("C-3", at(3))],
    open_opportunities=[("O-1", at(2)), ("O-2", at(4))],
    contact_id="c-1",
    account_id="a-1",
)


# --- rule 1: thread ---------------------------------------------------------------------------


def test_rule_1_resolved_thread_goes_to_its_record() -> None:
    # Even with open cases and a complaint word, the thread decides first.
    got = route(email("I want a refund", thread=THREAD_CASE), BUSY)
    assert got == Route("case", "C-9", "thread", "continues the thread by in_reply_to")
    assert not got.creates


@pytest.mark.parametrize("kind", ["case", "opportunity", "lead", "complaint"])
def test_rule_1_any_routable_kind(kind: str) -> None:
    thread = Resolution(RecordRef(kind, "R-1"), "subject", "R-1")
    got = route(email(thread=thread, contact_id=None))
    assert got is not None
    assert (got.target, got.record_id, got.rule) == (Target(kind), "R-1", "thread")


def test_rule_1_skips_unresolved_threads_and_other_kinds() -> None:
    for thread in (NOT_FOUND, Resolution(RecordRef("contact", "c-1"), "references", "<a@b>")):
        got = route(email(thread=thread), NO_CONTEXT)
        assert got is not None
        assert got.rule == "new_case"


# --- rule 2: open case ------------------------------------------------------------------------


def test_rule_2_exactly_one_open_case() -> None:
    context = Context(open_cases=[OpenRecord("C-1", at(1))], contact_id="c-1")
    assert route(email(), context) == Route(
        "case", "C-1", "open_case", "most recently updated open case (1 open)"
    )


def test_rule_2_several_open_cases_most_recently_updated() -> None:
    # C-1 at 1 March, C-2 at 5 March, C-3 at 3 March: 5 March is the latest.
    got = route(email(), BUSY)
    assert got == Route("case", "C-2", "open_case", "most recently updated open case (3 open)")


def test_rule_2_ties_go_to_the_smallest_id() -> None:
    context = Context(open_cases=[("C-9", at(5)), ("C-10", at(5)), ("C-2", at(1))])
    # "C-10" < "C-9" as strings; both updated 5 March.
    assert route(email(), context).record_id == "C-10"  # type: ignore[union-attr]


def test_rule_2_needs_a_known_contact() -> None:
    context = Context(open_cases=[("C-1", at(1))])
    got = route(email(contact_id=None), context)
    assert got == Route("lead", None, "new_lead", "an unknown sender")


def test_contact_may_come_from_the_context() -> None:
    context = Context(open_cases=[("C-1", at(1))], contact_id="c-1")
    assert route(email(contact_id=None), context).record_id == "C-1"  # type: ignore[union-attr]
    assert known_contact(email(contact_id=None), context) == "c-1"


# --- rule 3: complaint ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("I want a REFUND now.", "refund"),
        ("This is unacceptable!", "unacceptable"),
        ("The lid arrived broken", "broken"),
        ("Formal complaint: late delivery", "complaint"),
        ("refund—or else", "refund"),
    ],
)
def test_rule_3_complaint_words(text: str, word: str) -> None:
    got = route(email(text, contact_id=None), NO_CONTEXT)
    assert got == Route("complaint", None, "complaint", f"text contains {word!r}")
    assert got.creates


@pytest.mark.parametrize("text", ["Is this refundable?", "unbroken record", "complaintive", ""])
def test_rule_3_whole_words_only(text: str) -> None:
    assert route(email(text, contact_id=None)).target is Target.LEAD  # type: ignore[union-attr]


def test_rule_3_comes_after_open_cases_and_before_opportunities() -> None:
    # A known contact with an open case: the complaint lands on the case (rule 2 first).
    assert route(email("refund please"), BUSY).rule == "open_case"  # type: ignore[union-attr]
    # Only an open opportunity: the complaint wins (rule 3 before rule 4).
    context = Context(open_opportunities=[("O-1", at(2))], contact_id="c-1")
    assert route(email("refund please"), context).target is Target.COMPLAINT  # type: ignore[union-attr]


def test_complaint_words_are_configurable() -> None:
    rules = replacing(DEFAULT_ROUTING, complaint_rule(["money back", "Lawyer"]))
    inbound = email("Give me my money\n back or I call my LAWYER", contact_id=None)
    assert route(inbound, NO_CONTEXT, rules) == Route(
        "complaint", None, "complaint", "text contains 'money back'"
    )
    assert route(email("refund", contact_id=None), NO_CONTEXT, rules).target is Target.LEAD  # type: ignore[union-attr]
    assert "refund" in COMPLAINT_WORDS


# --- rule 4: open opportunity -----------------------------------------------------------------


def test_rule_4_open_opportunity_most_recently_updated() -> None:
    # O-1 at 2 March, O-2 at 4 March.
    context = Context(open_opportunities=BUSY.open_opportunities, contact_id="c-1")
    assert route(email("Can we add 5 seats?"), context) == Route(
        "opportunity",
        "O-2",
        "open_opportunity",
        "most recently updated open opportunity (2 open)",
    )


# --- rules 5 and 6: new case, new lead --------------------------------------------------------


def test_rule_5_known_contact_gets_a_new_case() -> None:
    assert route(email(), Context(account_id="a-1")) == Route(
        "case", None, "new_case", "a known contact without open records"
    )


@pytest.mark.parametrize("channel", list(Channel))
def test_rule_6_unknown_sender_becomes_a_lead(channel: Channel) -> None:
    inbound = Inbound(channel, "", None, None, "Hello, what does it cost?")
    assert route(inbound) == Route("lead", None, "new_lead", "an unknown sender")


# --- rules as data ----------------------------------------------------------------------------


def test_default_order() -> None:
    assert DEFAULT_ROUTING == (THREAD, OPEN_CASE, COMPLAINT, OPEN_OPPORTUNITY, NEW_CASE, NEW_LEAD)
    assert [rule.name for rule in DEFAULT_ROUTING] == [
        "thread",
        "open_case",
        "complaint",
        "open_opportunity",
        "new_case",
        "new_lead",
    ]


def test_reordered_rules() -> None:
    complaints_first = (COMPLAINT, *omitting(DEFAULT_ROUTING, "complaint"))
    assert route(email("refund please"), BUSY, complaints_first).target is Target.COMPLAINT  # type: ignore[union-attr]


def test_a_custom_rule() -> None:
    def vip(inbound: Inbound, context: Context) -> Match | None:
        return Match("opportunity", None, "VIP account") if context.account_id == "a-1" else None

    rules = (Rule("vip", vip), *DEFAULT_ROUTING)
    assert route(email(), BUSY, rules) == Route("opportunity", None, "vip", "VIP account")
    assert route(email(), Context(account_id="a-2"), rules).rule == "new_case"  # type: ignore[union-attr]


def test_no_rule_matching_gives_none() -> None:
    rules = omitting(DEFAULT_ROUTING, "new_lead")
    assert route(email(contact_id=None), NO_CONTEXT, rules) is None
    assert route(email(), NO_CONTEXT, ()) is None


def test_latest() -> None:
    assert latest(()) is None
    assert latest(BUSY.open_cases) == OpenRecord("C-2", at(5))


def test_serialization_round_trip() -> None:
    conv = make_converter()
    values: list[tuple[object, type]] = [
        (route(email(), BUSY), Route),
        (BUSY, Context),
        (email("hi", thread=THREAD_CASE), Inbound),
    ]
    for value, cls in values:
        data = conv.unstructure(value)
        assert structure(conv, data, cls) == value
        assert Loaders().load(cls, json.loads(dumps(data))) == value


# --- bad input --------------------------------------------------------------------------------


def _bad_decide(inbound: Inbound, context: Context) -> Match | None:
    return "case"  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: Inbound("fax", "x"), "channel"),
        (lambda: Inbound("email", None), "sender"),
        (lambda: Inbound("email", "x", "bad id"), "contact_id"),
        (lambda: Inbound("email", "x", thread="C-1"), "thread"),  # type: ignore[arg-type]
        (lambda: Inbound("email", "x", text=5), "text"),
        (lambda: Context(open_cases="C-1"), "open_cases"),
        (lambda: Context(open_cases=[5]), "open_cases[0]"),
        (lambda: Context(open_cases=[("C-1", datetime(2026, 3, 1))]), "open_cases[0].updated_at"),
        (lambda: Context(open_opportunities=[("", at(1))]), "open_opportunities[0].id"),
        (lambda: Context(account_id=7), "account_id"),
        (lambda: route("email"), "inbound"),  # type: ignore[arg-type]
        (lambda: route(email(), {"contact_id": "c-1"}), "context"),  # type: ignore[arg-type]
        (lambda: route(email(), Context(contact_id="c-2")), "context.contact_id"),
        (lambda: route(email(), NO_CONTEXT, [NEW_LEAD, "new_case"]), "rules[1]"),  # type: ignore[list-item]
        (lambda: route(email(), NO_CONTEXT, [NEW_LEAD, NEW_LEAD]), "rules[1]"),
        (lambda: route(email(), NO_CONTEXT, NEW_LEAD), "rules"),  # type: ignore[arg-type]
        (lambda: route(email(), NO_CONTEXT, [Rule("bad", _bad_decide)]), "rules[0]"),
        (lambda: Rule("Bad Name", _bad_decide), "rule"),
        (lambda: Rule("ok", "not callable"), "decide"),  # type: ignore[arg-type]
        (lambda: Match("invoice", None, "x"), "target"),
        (lambda: Match("case", None, ""), "reason"),
        (lambda: complaint_rule([]), "words"),
        (lambda: complaint_rule(["refund", ""]), "words[1]"),
        (lambda: complaint_rule("refund"), "words"),
        (lambda: replacing(DEFAULT_ROUTING, Rule("other", _bad_decide)), "rule"),
        (lambda: omitting(DEFAULT_ROUTING, "thread", "nope"), "names[1]"),
    ],
)
def test_bad_input_names_the_field(call: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.field == field


def test_personal_values_stay_out_of_errors_and_repr() -> None:
    inbound = email("my secret order")
    assert "secret" not in repr(inbound)
    assert "ann@" not in repr(inbound)
    with pytest.raises(ValidationError) as caught:
        Inbound("email", "ann\x00@example.com")
    assert "ann" not in str(caught.value)
