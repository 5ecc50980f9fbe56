"""The pure work queue: hand-computed scores, the documented order, marks and validation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.activities.activity import Activity, RecordRef
from crmkit.interactions.best_time import learn
from crmkit.interactions.preferences import ChannelPreferences
from crmkit.interactions.work_queue import (
    Candidate,
    Factor,
    Mark,
    QueueWeights,
    Reason,
    ReasonKind,
    SubjectKind,
    Timing,
    WorkItem,
    item_key,
    parse_key,
    rank,
    renewal_reason,
    score,
    sla_reason,
    slot_rate,
    task_reason,
    timing,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.sales.contract import Contract
from crmkit.sales.terms import Term
from crmkit.service.case import ServiceCase
from crmkit.service.sla import SlaClock, SlaMetric, SlaRun

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _r(kind: str, id: str, due: datetime | None = None) -> Reason:
    return Reason(kind, id, due)


# A: lead 80; SLA breached; two overdue; renewal soon; connect rate 0.4 now.
A = Candidate(
    "contact",
    "c-a",
    (
        _r("sla_breached", "k-1", NOW + H),
        _r("task_overdue", "a-1", NOW - 2 * H),
        _r("call_overdue", "a-2", NOW - H),
        _r("renewal_soon", "ct-1"),
    ),
    lead_score=80,
    timing=Timing(Decimal("0.4")),
)
# B: a lead scored 55, connect rate 0.3333.
B = Candidate("lead", "l-b", (_r("open_lead", "l-b"),), 55, Timing(Decimal("0.3333")))
# C: SLA at risk; connect rate 0.9 but outside the contact's hours.
C = Candidate(
    "contact",
    "c-c",
    (_r("sla_at_risk", "k-2", NOW + 2 * H),),
    timing=Timing(Decimal("0.9"), False, "outside contact hours"),
)
D = Candidate("contact", "c-d", (), 99, Timing(Decimal(1)))  # no reason: left out
# E: a task due later today, nothing else known.
E = Candidate("contact", "c-e", (_r("task_due", "a-3", NOW + 5 * H),))


def test_hand_computed_scores() -> None:
    items = rank([B, D, E, C, A], rep_id="u-anna", now=NOW)
    # A: lead 25×0.8 = 20; sla 30×1 = 30; overdue 20×(2/4) = 10; renewal 15×0.5 = 7.5;
    #    timing 10×0.4 = 4.  Total 71.5.
    # B: lead 25×0.55 = 13.75; timing 10×0.3333 = 3.333.  Total 17.083.
    # C: sla 30×0.5 = 15; timing 0 (outside hours).  Total 15.
    # E: nothing scores: 0.
    assert [(i.subject_id, i.score) for i in items] == [
        ("c-a", Decimal("71.5000")),
        ("l-b", Decimal("17.0830")),
        ("c-c", Decimal("15.0000")),
        ("c-e", Decimal("0.0000")),
    ]
    a = items[0]
    assert [(line.factor, line.value, line.points) for line in a.breakdown] == [
        (Factor.LEAD, Decimal("0.8"), Decimal("20.0000")),
        (Factor.SLA, Decimal(1), Decimal("30.0000")),
        (Factor.OVERDUE, Decimal("0.5"), Decimal("10.0000")),
        (Factor.RENEWAL, Decimal("0.5"), Decimal("7.5000")),
        (Factor.TIMING, Decimal("0.4"), Decimal("4.0000")),
    ]
    assert a.due == NOW - 2 * H  # the earliest reason
    assert [r.key for r in a.reasons] == [
        "task:a-1",
        "call:a-2",
        "sla_breached:k-1",
        "renewal_soon:ct-1",
    ]
    assert (a.key, a.contact_id, a.lead_id) == ("u-anna:contact:c-a", "c-a", None)
    assert items[1].lead_id == "l-b"
    assert items[2].breakdown[-1].why == "outside contact hours"
    assert "score    71.5000" in a.explain()


def test_overdue_caps_at_four() -> None:
    many = Candidate("contact", "c-x", tuple(_r("task_overdue", f"a-{i}", NOW) for i in range(6)))
    # 6 overdue, capped at 4: 20 × 4/4 = 20.
    assert score(many)[2].points == Decimal("20.0000")


def test_ties_break_by_due_then_key() -> None:
    early = Candidate("contact", "c-2", (_r("task_due", "a-1", NOW + H),))
    late = Candidate("contact", "c-1", (_r("task_due", "a-2", NOW + 2 * H),))
    undated = Candidate("contact", "c-0", (_r("renewal_soon", "ct-1"),))
    other = Candidate("contact", "c-3", (_r("task_due", "a-4", NOW + H),))
    weights = QueueWeights(renewal=0)
    items = rank([undated, late, other, early], rep_id="u", now=NOW, weights=weights)
    assert [i.subject_id for i in items] == ["c-2", "c-3", "c-1", "c-0"]


def test_limit_keeps_the_best() -> None:
    items = rank([E, C, B, A], rep_id="u", now=NOW, limit=2)
    assert [i.subject_id for i in items] == ["c-a", "l-b"]


def test_snooze_hides_until_its_end() -> None:
    key = item_key("u", "contact", "c-a")
    mark = Mark(key, "snoozed", NOW + H)
    assert [i.subject_id for i in rank([A, B], rep_id="u", now=NOW, marks=[mark])] == ["l-b"]
    later = rank([A, B], rep_id="u", now=NOW + H, marks=[mark])
    assert [i.subject_id for i in later] == ["c-a", "l-b"]


def test_done_hides_until_a_new_reason() -> None:
    key = item_key("u", "contact", "c-c")
    mark = Mark(key, "done", reasons=("sla_at_risk:k-2",))
    assert rank([C], rep_id="u", now=NOW + 1000 * H, marks={key: mark}) == ()
    # The same case breached: a new reason brings the contact back.
    worse = Candidate("contact", "c-c", (_r("sla_breached", "k-2", NOW),))
    assert [i.subject_id for i in rank([worse], rep_id="u", now=NOW, marks=[mark])] == ["c-c"]
    # A task due, then overdue, is the same reason.
    due = Candidate("contact", "c-c", (_r("task_due", "a-1", NOW + H), _r("sla_at_risk", "k-2")))
    done = Mark(key, "done", reasons=tuple(r.key for r in due.reasons))
    overdue = Candidate("contact", "c-c", (_r("task_overdue", "a-1", NOW + H),))
    assert rank([overdue], rep_id="u", now=NOW + 2 * H, marks=[done]) == ()


def test_marks_of_another_rep_do_not_hide() -> None:
    mark = Mark(item_key("u-bob", "contact", "c-a"), "done", reasons=())
    assert len(rank([A], rep_id="u-anna", now=NOW, marks=[mark])) == 1


@pytest.mark.parametrize("kind", ["contact", "lead"])
@pytest.mark.parametrize("rep", ["u-anna", "a:b/c%d"])
@pytest.mark.parametrize("subject", ["c-1", "x:y", "50%"])
def test_keys_round_trip(kind: str, rep: str, subject: str) -> None:
    key = item_key(rep, kind, subject)
    assert parse_key(key) == (rep, SubjectKind(kind), subject)
    assert key.count(":") == 2


@pytest.mark.parametrize(
    "key", ["", "u:contact", "u:robot:c-1", "u:contact:c 1", "u:contact:%3a", ":contact:c", 5]
)
def test_bad_keys(key: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_key(key)
    assert caught.value.field == "item_key"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"lead": 1.5}, "lead"),
        ({"sla": True}, "sla"),
        ({"overdue": -1}, "overdue"),
        ({"renewal": 1001}, "renewal"),
        ({"timing": "0.125"}, "timing"),
        ({"lead": "NaN"}, "lead"),
        ({"lead": "abc"}, "lead"),
        ({"sla": None}, "sla"),
    ],
)
def test_weights_are_validated(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        QueueWeights(**options)
    assert caught.value.field == field


def test_weights_defaults_and_conversion() -> None:
    assert QueueWeights() == QueueWeights(25, 30, 20, 15, 10)
    assert QueueWeights(lead="12.5").lead == Decimal("12.5")
    assert sum(QueueWeights().of(f) for f in Factor) == 100


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: rank([A], rep_id="bad id", now=NOW), "rep_id"),
        (lambda: rank([A], rep_id="u", now=datetime(2026, 3, 3)), "now"),
        (lambda: rank([A], rep_id="u", now=NOW, limit=0), "limit"),
        (lambda: rank([A], rep_id="u", now=NOW, limit=True), "limit"),
        (lambda: rank([A], rep_id="u", now=NOW, weights="heavy"), "weights"),  # type: ignore[arg-type]
        (lambda: rank("abc", rep_id="u", now=NOW), "candidates"),  # type: ignore[arg-type]
        (lambda: rank([A, "x"], rep_id="u", now=NOW), "candidates[1]"),  # type: ignore[list-item]
        (lambda: rank([A, A], rep_id="u", now=NOW), "candidates[1]"),
        (lambda: rank([A], rep_id="u", now=NOW, marks=[1]), "marks[0]"),  # type: ignore[list-item]
        (lambda: Candidate("robot", "c-1"), "subject_kind"),
        (lambda: Candidate("contact", "c-1", lead_score=101), "lead_score"),
        (lambda: Timing(0.5), "rate"),
        (lambda: Timing(Decimal(2)), "rate"),
        (lambda: Reason("nope", "a-1"), "kind"),
        (lambda: Reason("task_due", "a-1", datetime(2026, 3, 3)), "due"),
        (lambda: Mark("k", "snoozed"), "until"),
        (lambda: score("A"), "candidate"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_names_the_field(call: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.field == field


def test_items_round_trip_without_floats() -> None:
    item = rank([A], rep_id="u", now=NOW)[0]
    conv = make_converter()
    data = conv.unstructure(item)
    assert structure(conv, data, WorkItem) == item
    assert Loaders().load(WorkItem, json.loads(dumps(data))) == item

    def no_float(text: str) -> object:
        raise AssertionError(f"a float in the JSON: {text}")

    json.loads(dumps(data), parse_float=no_float)


# --- reasons read off domain objects -------------------------------------------------------

STAMP = Stamp(NOW - timedelta(days=30), "u-admin")


def test_task_reason() -> None:
    def plan(kind: str, due: datetime) -> Activity:
        return Activity.plan("a-1", kind, "Call", (RecordRef("contact", "c-1"),), due, STAMP)[0]

    tomorrow = NOW + 24 * H
    assert task_reason(plan("call", NOW - H), NOW, tomorrow).kind is ReasonKind.CALL_OVERDUE  # type: ignore[union-attr]
    assert task_reason(plan("task", NOW + H), NOW, tomorrow).kind is ReasonKind.TASK_DUE  # type: ignore[union-attr]
    assert task_reason(plan("task", tomorrow), NOW, tomorrow) is None
    assert task_reason(plan("meeting", NOW), NOW, tomorrow) is None


def _case(**run: datetime) -> ServiceCase:
    case = ServiceCase.open(
        "k-1",
        "CS-1",
        STAMP,
        subject="Printer",
        description="Error",
        type="incident",
        priority="normal",
        severity="moderate",
        contact_id="c-1",
    )[0]
    deadline = run.pop("deadline")
    sla = SlaRun(SlaMetric.RESOLUTION, 3600, deadline - H, deadline, deadline - H / 2, **run)  # type: ignore[arg-type]
    return case.track_sla(SlaClock("p", "always", "0.5", (sla,)), STAMP)[0]


def test_sla_reason() -> None:
    assert sla_reason(_case(deadline=NOW + H), NOW) is None  # before the warning
    assert sla_reason(_case(deadline=NOW + H / 4), NOW).kind is ReasonKind.SLA_AT_RISK  # type: ignore[union-attr]
    breached = sla_reason(_case(deadline=NOW), NOW)
    assert breached == Reason("sla_breached", "k-1", NOW)
    assert sla_reason(_case(deadline=NOW - H, paused_since=NOW - 2 * H), NOW) is None
    assert sla_reason(_case(deadline=NOW - H, met_at=NOW - 2 * H), NOW) is None


def _contract(end: date, status: str = "active") -> Contract:
    contract = Contract.draft(
        "ct-1",
        "CT-1",
        STAMP,
        account_id="a-1",
        contact_id="c-1",
        start_date=date(end.year - 1, end.month, 1),
        term=Term(years=1),
        billing_period="monthly",
        amount=Money.of("10", "EUR"),
    )[0]
    if status == "active":
        contract = contract.send(STAMP)[0].sign(STAMP)[0]
    return contract


def test_renewal_reason() -> None:
    # Notice period of one month: in the window from 2026-03-01 for an end on 2026-04-01.
    assert renewal_reason(_contract(date(2026, 4, 1)), NOW).kind is ReasonKind.RENEWAL_WINDOW  # type: ignore[union-attr]
    # Ends 2026-05-01, notice from 2026-04-01: 29 days away, within the 30-day lookahead.
    assert renewal_reason(_contract(date(2026, 5, 1)), NOW).kind is ReasonKind.RENEWAL_SOON  # type: ignore[union-attr]
    assert renewal_reason(_contract(date(2026, 6, 1)), NOW) is None
    assert renewal_reason(_contract(date(2026, 4, 1), "draft"), NOW) is None
    with pytest.raises(ValidationError, match="lookahead"):
        renewal_reason(_contract(date(2026, 4, 1)), NOW, timedelta(days=-1))


def test_timing_follows_the_contact_hours() -> None:
    model = learn(())
    assert timing(model, "c-1", "Europe/Berlin", NOW) == Timing(Decimal("0.5"))
    prefs = ChannelPreferences()  # weekdays 09:00–17:00: 11:00 in Berlin is inside
    assert timing(model, "c-1", "Europe/Berlin", NOW, prefs).callable_now
    night = NOW.replace(hour=22)
    assert timing(model, "c-1", "Europe/Berlin", night, prefs).note == "outside contact hours"
    blocked = ChannelPreferences(do_not_call=True)
    assert timing(model, "c-1", "UTC", NOW, blocked).note == "asked not to be called"


# --- the documented order is the queue's order ---------------------------------------------

_KINDS = st.sampled_from(list(ReasonKind))
_REASONS = st.lists(
    st.builds(
        Reason,
        _KINDS,
        st.sampled_from(["a-1", "a-2", "k-1", "ct-1"]),
        st.none() | st.integers(-5, 5).map(lambda h: NOW + h * H),
    ),
    max_size=5,
)
_CANDIDATES = st.lists(
    st.builds(
        Candidate,
        st.sampled_from(["contact", "lead"]),
        st.sampled_from([f"s-{i}" for i in range(8)]),
        _REASONS.map(tuple),
        st.none() | st.integers(0, 100),
        st.none() | st.builds(Timing, st.decimals(0, 1, places=4), st.booleans()),
    ),
    max_size=8,
    unique_by=lambda c: (c.subject_kind, c.subject_id),
)
_WEIGHTS = st.builds(QueueWeights, *(st.decimals(0, 1000, places=2) for _ in range(5)))


def _documented(candidate: Candidate, w: QueueWeights) -> Decimal:
    """The module's formula, written out again."""
    kinds = [r.kind.value for r in candidate.reasons]
    lead = Decimal(candidate.lead_score or 0) / 100
    sla = 1 if "sla_breached" in kinds else Decimal("0.5") if "sla_at_risk" in kinds else 0
    overdue = Decimal(min(4, sum(k.endswith("_overdue") for k in kinds))) / 4
    renewal = 1 if "renewal_window" in kinds else Decimal("0.5") if "renewal_soon" in kinds else 0
    t = candidate.timing
    when = t.rate if t is not None and t.callable_now else 0
    q = Decimal("0.0001")
    return sum(
        (
            (weight * value).quantize(q)
            for weight, value in [
                (w.lead, lead),
                (w.sla, sla),
                (w.overdue, overdue),
                (w.renewal, renewal),
                (w.timing, when),
            ]
        ),
        Decimal(0),
    )


@settings(max_examples=60, deadline=None)
@given(_CANDIDATES, _WEIGHTS)
def test_order_is_the_documented_score(candidates: list[Candidate], w: QueueWeights) -> None:
    items = rank(candidates, rep_id="u", now=NOW, weights=w, limit=1000)
    expected = sorted(
        (c for c in candidates if c.reasons),
        key=lambda c: (
            -_documented(c, w),
            min((r.due for r in c.reasons if r.due), default=None) is None,
            min((r.due for r in c.reasons if r.due), default=NOW),
            item_key("u", c.subject_kind, c.subject_id),
        ),
    )
    assert [(i.subject_kind, i.subject_id) for i in items] == [
        (c.subject_kind, c.subject_id) for c in expected
    ]
    assert [i.score for i in items] == [_documented(c, w) for c in expected]
    assert all(i.score == sum(line.points for line in i.breakdown) for i in items)


def test_slot_rate_agrees_with_the_model() -> None:
    import random

    from crmkit.interactions.best_time import Attempt, ContactHistory

    rng = random.Random(3)
    outcomes = ("connected", "no_answer", "busy", "failed")
    histories = [
        ContactHistory(
            f"c-{i}",
            "Europe/Berlin" if i % 2 else "UTC",
            tuple(
                Attempt(NOW - timedelta(hours=rng.randrange(0, 400)), rng.choice(outcomes))
                for _ in range(rng.randrange(0, 30))
            ),
            None if i % 3 == 0 else f"a-{i % 2}",
        )
        for i in range(8)
    ]
    model = learn(histories)
    for contact in ("c-0", "c-1", "c-5", "c-new"):
        for account in (None, "a-0", "a-1", "a-new"):
            for slot in range(0, 168, 5):
                assert slot_rate(model, slot, contact, account) == model.rate(
                    slot, contact_id=contact, account_id=account
                )
    with pytest.raises(ValidationError, match="slot"):
        slot_rate(model, 168, "c-1")
