"""The notifier: templates, recipients, consent when queued, and the outbox it writes to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import crmkit
from crmkit import Crm, Email, FakeClock, Phone, Principal
from crmkit.adapters.memory_channel import MemoryChannel
from crmkit.app.dispatcher import Dispatcher
from crmkit.app.notifier import Refusal, Template
from crmkit.kernel.errors import DuplicateRecord, ValidationError
from crmkit.ports.notify import Message
from crmkit.testing._notify_workers import outbox

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AGENT = Principal("u-1")
OPT_IN, OPT_OUT = ("email", "marketing", True), ("email", "marketing", False)


@pytest.fixture(params=["memory", "sqlite"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Crm]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'crm.db'}"
    with crmkit.open(url, clock=FakeClock(T0)) as crm:
        yield crm


def _contact(crm: Crm, *consent: tuple[str, str, bool]) -> str:
    with crm.unit_of_work(AGENT) as uow:
        contact = uow.contacts.create(
            "Berg",
            first_name="Anna",
            emails=[Email("anna@example.com")],
            phones=[Phone("+4930123456"), Phone("+4915112345678", kind="mobile")],
        )
        for channel, purpose, granted in consent:
            uow.contacts.record_consent(
                contact.id, channel, purpose, granted=granted, source="web form"
            )
    return contact.id


def _send(crm: Crm, **kwargs: object) -> Message | Refusal:
    with crm.unit_of_work(AGENT) as uow:
        return uow.notifications.send(**kwargs)  # type: ignore[arg-type]


def test_template_renders_from_data_and_contact(crm: Crm) -> None:
    """Placeholders come from the contact and ``data``; values are escaped in the HTML only."""
    anna = _contact(crm, ("email", "marketing", True))
    template = Template(
        "Hi $first_name", "Dear $name, use ${coupon}.", "<p>Dear $name, use <b>$coupon</b></p>"
    )
    sent = _send(
        crm,
        channel="email",
        purpose="marketing",
        key="spring:1",
        party_id=anna,
        template=template,
        data={"coupon": "<10% OFF>"},
        metadata={"list_unsubscribe": "<https://example.com/u/1>"},
    )
    assert isinstance(sent, Message)
    assert (sent.to, sent.subject) == ("anna@example.com", "Hi Anna")
    assert sent.text == "Dear Anna Berg, use <10% OFF>."
    assert sent.html == "<p>Dear Anna Berg, use <b>&lt;10% OFF&gt;</b></p>"
    assert sent.metadata == {"list_unsubscribe": "<https://example.com/u/1>"}
    channel = MemoryChannel()
    assert Dispatcher(crm, [channel]).run_once().delivered == 1
    assert channel.sent == [sent]


def test_missing_placeholder_names_it(crm: Crm) -> None:
    """A placeholder without a value is a `ValidationError` naming it; nothing is queued."""
    anna = _contact(crm)
    with pytest.raises(ValidationError, match=r"template\.text.*\$coupon"):
        _send(
            crm,
            channel="email",
            purpose="service",
            key="k",
            party_id=anna,
            template=Template("Hi", "Use $coupon"),
        )
    assert outbox(crm) == {}


@pytest.mark.parametrize(
    ("channel", "to"), [("email", "anna@example.com"), ("sms", "+4915112345678")]
)
def test_recipient_comes_from_the_contact(crm: Crm, channel: str, to: str) -> None:
    """Email goes to the main address; SMS to the mobile number."""
    anna = _contact(crm)
    sent = _send(crm, channel=channel, purpose="service", key="k", party_id=anna, text="Hi")
    assert isinstance(sent, Message)
    assert sent.to == to


def test_no_address_for_the_channel_is_refused(crm: Crm) -> None:
    """A contact without an address for the channel gets a refusal, not an error."""
    with crm.unit_of_work(AGENT) as uow:
        bare = uow.contacts.create("Nobody").id
    for channel in ("email", "post"):
        refused = _send(crm, channel=channel, purpose="service", key="k", party_id=bare, text="x")
        assert isinstance(refused, Refusal)
        assert channel in refused.reason
    assert outbox(crm) == {}


@pytest.mark.parametrize(
    ("consent", "channel", "purpose", "queued"),
    [
        ((), "email", "marketing", False),  # marketing needs consent granted
        ((("email", "marketing", True),), "email", "marketing", True),
        ((OPT_IN, OPT_OUT), "email", "marketing", False),  # the latest record counts
        ((("sms", "marketing", True),), "email", "marketing", False),  # per channel
        ((), "email", "service", True),  # other purposes: refused only when withdrawn
        ((("email", "service", False),), "email", "service", False),
        ((("email", "marketing", False),), "email", "service", True),  # per purpose
        ((("email", "service", False),), "webhook", "service", True),  # no consent semantics
        ((), "email", "newsletter", False),  # a purpose consent does not know
    ],
)
def test_consent_when_queued(
    crm: Crm, consent: tuple[tuple[str, str, bool], ...], channel: str, purpose: str, queued: bool
) -> None:
    """The consent rules: marketing needs GRANTED, others are refused when WITHDRAWN."""
    anna = _contact(crm, *consent)
    to = "https://hooks.example.com/x" if channel == "webhook" else None
    result = _send(
        crm, channel=channel, purpose=purpose, key="k", party_id=anna, to=to, text="Hello"
    )
    assert isinstance(result, Message) is queued
    assert ("k" in outbox(crm)) is queued
    if not queued:
        assert isinstance(result, Refusal)
        assert "anna" not in result.reason.lower()


def test_a_message_without_a_party_is_not_checked(crm: Crm) -> None:
    """A system recipient (no party) has no consent to check."""
    sent = _send(crm, channel="email", purpose="marketing", key="k", to="ops@example.com", text="x")
    assert isinstance(sent, Message)
    assert sent.party_id is None


def test_rollback_leaves_no_message(crm: Crm) -> None:
    """A unit of work that fails queues nothing."""

    def fail_after_queueing() -> None:
        with crm.unit_of_work(AGENT) as uow:
            uow.notifications.send(
                channel="email", purpose="service", key="k", to="a@example.com", text="x"
            )
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_after_queueing()
    assert outbox(crm) == {}
    assert Dispatcher(crm, [MemoryChannel()]).run_once().claimed == 0


def test_a_key_is_queued_once_and_can_wait(crm: Crm) -> None:
    """A second message with a key fails the commit; ``not_before`` delays a message."""
    later = T0 + timedelta(hours=2)
    _send(crm, channel="email", purpose="service", key="k", to="a@example.com", text="x",
          not_before=later)  # fmt: skip
    with pytest.raises(DuplicateRecord):
        _send(crm, channel="email", purpose="service", key="k", to="b@example.com", text="y")
    channel = MemoryChannel()
    dispatcher = Dispatcher(crm, [channel])
    assert dispatcher.run_once().claimed == 0
    crm.clock.set(later)  # type: ignore[attr-defined]
    assert dispatcher.run_once().delivered == 1
    assert [m.to for m in channel.sent] == ["a@example.com"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"to": "a@example.com"},  # neither text nor template
        {"text": "x"},  # neither to nor party
        {"to": "a@example.com", "text": "x", "template": Template("s", "t")},
        {"to": "a@example.com", "subject": "two\nlines", "text": "x"},
        {"to": "a@example.com", "text": "x", "metadata": {"List-Unsubscribe": "x"}},
        {"to": "a@example.com", "text": "x", "data": {"n": 1}},
        {"to": "a@example.com", "template": Template("s", "$ 1")},
        {"to": "a@example.com", "template": "Hi $first_name"},
    ],
)
def test_bad_input_is_a_validation_error(crm: Crm, kwargs: dict[str, object]) -> None:
    """Malformed calls raise `ValidationError` and queue nothing."""
    with pytest.raises(ValidationError):
        _send(crm, channel="email", purpose="service", key="k", **kwargs)
    assert outbox(crm) == {}
