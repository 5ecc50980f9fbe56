"""Quotes: approval, expiry by the stamp's time, revisions, rendering, events and round trips."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.sales.pricing import Line, TaxRate
from crmkit.sales.quote import ApprovalPolicy, Quote, QuoteStatus, Revision, utc_day
from crmkit.sales.quote_events import EVENTS, QuoteAccepted, QuoteDrafted, QuoteLinesSet
from crmkit.testing._strategies_quotes import quotes

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VALID = date(2026, 3, 31)
POLICY = ApprovalPolicy(Decimal(20))
VAT = TaxRate("vat19", Decimal("0.19"))


def at(moment: datetime, actor: str = "u-seller") -> Stamp:
    return Stamp(moment, actor)


SELLER = at(T0)
MANAGER = at(T0 + timedelta(hours=1), "u-manager")


def line(price: str = "100.00", discount: str = "0", quantity: str = "1") -> Line:
    return Line("p-1", "Licence", quantity, Money.of(price, "EUR"), discount, VAT)


def draft(*lines: Line, order_discount: str = "0") -> Quote:
    quote, _ = Quote.draft(
        "q-1", "Q-00042", "a-1", "EUR", VALID, SELLER, contact_id="c-1",
        opportunity_id="o-1", lines=lines or (line(),), order_discount=order_discount,
    )  # fmt: skip
    return quote


def presented(*lines: Line) -> Quote:
    quote, _ = draft(*lines).present(POLICY, SELLER)
    return quote


def _round_trip(value: Any, cls: type[Any]) -> None:
    conv = make_converter()
    data = conv.unstructure(value)
    assert structure(conv, data, cls) == value
    assert Loaders().load(cls, json.loads(dumps(data))) == value


# --- approval ---


@pytest.mark.parametrize(
    ("lines", "order_discount", "reason"),
    [
        ((line(discount="20"),), "0", None),
        ((line(discount="25"),), "0", "discount 25% > 20%"),
        ((line(),), "20.5", "discount 20.5% > 20%"),
        # neither discount exceeds 20%, but together they take 23.5% off the subtotal
        ((line(discount="15"),), "10", "discount 23.5% > 20%"),
    ],
)
def test_the_policy_weighs_line_order_and_effective_discounts(
    lines: tuple[Line, ...], order_discount: str, reason: str | None
) -> None:
    quote = draft(*lines, order_discount=order_discount)
    assert POLICY.reason(quote) == reason
    assert POLICY.needs_approval(quote) is (reason is not None)


def test_a_discount_above_the_threshold_must_be_approved_before_presenting() -> None:
    quote = draft(line(discount="25"))
    with pytest.raises(InvalidTransition) as info:
        quote.present(POLICY, SELLER)
    assert info.value.reason == "needs approval: discount 25% > 20%"
    reviewed, _ = quote.submit(SELLER)
    with pytest.raises(InvalidTransition) as info:
        reviewed.approve("u-seller", MANAGER)
    assert info.value.reason == "the author cannot approve their own quote"
    assert (info.value.state, info.value.command) == ("in_review", "approve")
    approved, event = reviewed.approve("u-manager", MANAGER)
    assert approved.approver_id == event.approver_id == "u-manager"
    shown, _ = approved.present(POLICY, MANAGER)
    assert shown.status is QuoteStatus.PRESENTED


def test_submitting_is_allowed_without_need_and_refused_without_lines() -> None:
    quote, _ = draft().submit(SELLER)
    assert quote.status is QuoteStatus.IN_REVIEW
    empty, _ = draft().edit(SELLER, lines=[])
    for command in (lambda: empty.submit(SELLER), lambda: empty.present(POLICY, SELLER)):
        with pytest.raises(InvalidTransition) as info:
            command()
        assert info.value.reason == "the quote has no lines"


def test_a_rejected_quote_keeps_the_reason_and_can_only_be_revised() -> None:
    reviewed, _ = draft(line(discount="50")).submit(SELLER)
    rejected, event = reviewed.reject("margin too low", MANAGER)
    assert rejected.rejection_reason == event.reason == "margin too low"
    with pytest.raises(InvalidTransition):
        rejected.present(POLICY, SELLER)
    with pytest.raises(ValidationError):
        reviewed.reject("  ", MANAGER)


def test_the_policy_round_trips_and_validates() -> None:
    _round_trip(POLICY, ApprovalPolicy)
    with pytest.raises(ValidationError) as info:
        ApprovalPolicy(Decimal(101))
    assert info.value.field == "max_discount"


# --- validity and expiry ---


@pytest.mark.parametrize(
    ("moment", "expired"),
    [
        (datetime(2026, 3, 31, 23, 59, tzinfo=UTC), False),
        (datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), False),  # 22:30 UTC
        (datetime(2026, 3, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))), True),  # 01:00 UTC
        (datetime(2026, 4, 1, 0, 0, tzinfo=UTC), True),
    ],
)
def test_expiry_follows_the_stamps_time_in_utc(moment: datetime, expired: bool) -> None:
    quote = presented()
    assert quote.is_expired(moment) is expired
    assert (utc_day(moment) > VALID) is expired
    if expired:
        with pytest.raises(InvalidTransition) as info:
            quote.accept(at(moment))
        assert info.value.reason == "its validity ended on 2026-03-31; expire it instead"
        done, event = quote.expire(at(moment))
        assert (done.status, event.occurred_at) == (QuoteStatus.EXPIRED, moment)
    else:
        with pytest.raises(InvalidTransition) as info:
            quote.expire(at(moment))
        assert info.value.reason == "it is valid until 2026-03-31"
        done, _ = quote.accept(at(moment))
        assert done.status is QuoteStatus.ACCEPTED


def test_an_outdated_draft_cannot_be_presented_until_its_validity_is_extended() -> None:
    late = at(datetime(2026, 4, 2, 9, 0, tzinfo=UTC))
    with pytest.raises(InvalidTransition):
        draft().present(POLICY, late)
    extended, _ = draft().edit(late, valid_until=date(2026, 4, 30))
    shown, _ = extended.present(POLICY, late)
    assert shown.status is QuoteStatus.PRESENTED


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValidationError):
        draft().is_expired(datetime(2026, 4, 1))


# --- editing, revisions ---


def test_only_drafts_can_be_edited_and_edits_are_checked() -> None:
    quote, event = draft().edit(SELLER, lines=[line("50.00")], order_discount="5")
    assert isinstance(event, QuoteLinesSet)
    assert (event.lines, event.order_discount, event.valid_until) == (
        quote.lines,
        Decimal(5),
        VALID,
    )
    with pytest.raises(ValidationError):
        quote.edit(SELLER, order_discount="5")
    with pytest.raises(ValidationError) as info:
        quote.edit(SELLER, lines=[Line(None, "x", 1, Money.of(1, "USD"))])
    assert info.value.field == "lines[0].unit_price"
    with pytest.raises(InvalidTransition) as error:
        presented().edit(SELLER, order_discount="1")
    assert (error.value.state, error.value.command) == ("presented", "edit")


def test_a_revision_supersedes_the_old_quote_and_copies_its_terms() -> None:
    old = presented(line(discount="10"), line("20.00"))
    reviser = at(T0 + timedelta(days=1), "u-other")
    result = old.revise("q-2", reviser)
    assert isinstance(result, Revision)
    superseded_old, superseded, new, drafted = result
    assert superseded_old.status is QuoteStatus.SUPERSEDED
    assert superseded_old.superseded_by == superseded.by == "q-2"
    assert superseded_old.version == old.version + 1 == superseded.version
    assert (new.number, new.revision, new.supersedes) == ("Q-00042", 2, "q-1")
    assert (new.lines, new.order_discount, new.valid_until) == (old.lines, Decimal(0), VALID)
    assert (new.status, new.version, new.author_id) == (QuoteStatus.DRAFT, 1, "u-other")
    assert Quote.replay([drafted]) == new
    with pytest.raises(InvalidTransition) as info:
        superseded_old.revise("q-3", reviser)
    assert info.value.command == "supersede"
    with pytest.raises(ValidationError):
        old.revise("q-1", reviser)


# --- events ---


def _full_history() -> tuple[Quote, list[DomainEvent]]:
    quote, first = Quote.draft(
        "q-1", "Q-00042", "a-1", "EUR", VALID, SELLER, contact_id="c-1", opportunity_id="o-1"
    )
    log: list[DomainEvent] = [first]
    steps: list[Callable[[Quote], tuple[Quote, DomainEvent]]] = [
        lambda q: q.edit(SELLER, lines=[line(discount="30")], order_discount="2"),
        lambda q: q.submit(SELLER),
        lambda q: q.approve("u-manager", MANAGER),
        lambda q: q.present(POLICY, SELLER),
        lambda q: q.accept(at(T0 + timedelta(days=3), "u-customer")),
    ]
    for step in steps:
        quote, event = step(quote)
        log.append(event)
    return quote, log


def test_quote_accepted_carries_what_a_contract_needs() -> None:
    quote, log = _full_history()
    accepted = log[-1]
    assert isinstance(accepted, QuoteAccepted)
    assert accepted.totals == quote.totals
    assert (accepted.account_id, accepted.contact_id, accepted.opportunity_id) == (
        "a-1",
        "c-1",
        "o-1",
    )
    assert (accepted.lines, accepted.currency, accepted.revision) == (quote.lines, "EUR", 1)
    assert Quote.replay(log) == quote


def test_every_quote_event_round_trips_and_reaches_the_parties_timelines() -> None:
    quote, log = _full_history()
    reviewed, _ = draft().submit(SELLER)
    _, rejected = reviewed.reject("no", MANAGER)
    _, declined = presented().decline(SELLER, "too dear")
    _, expired = presented().expire(at(datetime(2026, 5, 1, tzinfo=UTC)))
    result = presented().revise("q-2", SELLER)
    log += [rejected, declined, expired, result.superseded, result.drafted]
    assert {type(e) for e in log} == set(EVENTS)
    for event in log:
        _round_trip(event, type(event))
        assert event.aggregate_kind == "quote"
        assert event.subjects() == (event.aggregate_id, "a-1", "c-1", "o-1")
        assert "Q-00042" in event.summary()
        assert "too dear" not in event.summary()
    assert len({cls.event_type for cls in EVENTS}) == len(EVENTS)
    _round_trip(quote, Quote)
    _round_trip(result.old, Quote)


@settings(max_examples=40, deadline=None)
@given(quote=quotes("KWD"))
def test_generated_quotes_round_trip_and_replay(quote: Quote) -> None:
    _round_trip(quote, Quote)
    drafted = QuoteDrafted(
        aggregate_id=quote.id, version=1, occurred_at=quote.created_at, actor=quote.author_id,
        number=quote.number, account_id=quote.account_id, contact_id=quote.contact_id,
        revision=1, supersedes=None, author_id=quote.author_id, currency=quote.currency,
        lines=quote.lines, order_discount=quote.order_discount, valid_until=quote.valid_until,
    )  # fmt: skip
    assert Quote.replay([drafted]) == quote
    json.dumps(quote.render())


# --- rendering ---


def test_render_gives_a_plain_json_ready_document() -> None:
    quote = presented(line("100.00", "10", "2"), Line(None, "Setup", 1, Money.of("50", "EUR")))
    doc = quote.render()
    assert json.loads(json.dumps(doc)) == doc
    assert doc == {
        "number": "Q-00042",
        "revision": 1,
        "status": "presented",
        "currency": "EUR",
        "created_at": "2026-03-02T09:00:00+00:00",
        "valid_until": "2026-03-31",
        "account_id": "a-1",
        "contact_id": "c-1",
        "opportunity_id": "o-1",
        "author_id": "u-seller",
        "approver_id": None,
        "order_discount": "0",
        "lines": [
            {
                "position": 1,
                "product_id": "p-1",
                "description": "Licence",
                "quantity": "2",
                "unit_price": "100.00 EUR",
                "discount": "10",
                "gross": "200.00 EUR",
                "net": "180.00 EUR",
                "net_after_order_discount": "180.00 EUR",
                "tax_code": "vat19",
            },
            {
                "position": 2,
                "product_id": None,
                "description": "Setup",
                "quantity": "1",
                "unit_price": "50.00 EUR",
                "discount": "0",
                "gross": "50.00 EUR",
                "net": "50.00 EUR",
                "net_after_order_discount": "50.00 EUR",
                "tax_code": None,
            },
        ],
        "tax_lines": [
            {
                "code": "vat19",
                "rate": "0.19",
                "inclusive": False,
                "base": "180.00 EUR",
                "tax": "34.20 EUR",
            }
        ],
        "totals": {
            "subtotal": "250.00 EUR",
            "discount": "20.00 EUR",
            "order_discount": "0.00 EUR",
            "net": "230.00 EUR",
            "tax": "34.20 EUR",
            "total": "264.20 EUR",
        },
    }


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("number", {"number": ""}),
        ("account_id", {"account_id": "a b"}),
        ("currency", {"currency": "EURO"}),
        ("order_discount", {"order_discount": "-1"}),
        ("valid_until", {"valid_until": "2026-03-31"}),
        ("lines", {"lines": "x"}),
        ("contact_id", {"contact_id": 5}),
    ],
)
def test_bad_drafts_name_the_field(field: str, kwargs: dict[str, Any]) -> None:
    given: dict[str, Any] = {"id": "q-1", "number": "Q-1", "account_id": "a-1"}
    given |= {"currency": "EUR", "valid_until": VALID, "stamp": SELLER} | kwargs
    with pytest.raises(ValidationError) as info:
        Quote.draft(**given)
    assert info.value.field == field
