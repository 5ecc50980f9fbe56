"""The SMTP channel against a real aiosmtpd server on 127.0.0.1: no mocks."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from crmkit.adapters.smtp import SmtpChannel, message_id, unsubscribe_headers
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.errors import ValidationError
from crmkit.ports.notify import Channel, Message, PermanentFailure, TemporaryFailure
from crmkit.testing._loopback import (
    HOST,
    Mailbox,
    client_context,
    dropping_server,
    free_port,
    server_context,
    smtp_server,
    tls_files,
)
from crmkit.testing.notify import DeliveredMessage, FailureKind, NotifierContract

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SENDER = "Shop <news@shop.example>"


def mail(key: str = "k-1", **changes: Any) -> Message:
    fields: dict[str, Any] = {
        "key": key,
        "channel": "email",
        "to": "ada@example.com",
        "subject": "Your order",
        "text": "Thanks for your order.",
    }
    fields.update(changes)
    return Message(**fields)


def channel(port: int, security: str = "none", **options: Any) -> SmtpChannel:
    return SmtpChannel(
        HOST,
        port,
        sender=SENDER,
        security=security,  # type: ignore[arg-type]
        clock=FixedClock(AT),
        local_hostname="localhost",
        timeout=options.pop("timeout", 10.0),
        **options,
    )


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def port(mailbox: Mailbox) -> Iterator[int]:
    with smtp_server(mailbox) as port:
        yield port


def only(mailbox: Mailbox) -> EmailMessage:
    assert len(mailbox.messages) == 1
    return mailbox.messages[0]


# --- what is sent -------------------------------------------------------------


def test_a_text_message_arrives_with_its_headers(mailbox: Mailbox, port: int) -> None:
    receipt = channel(port).send(mail())
    got = only(mailbox)
    assert got["From"] == SENDER
    assert got["To"] == "ada@example.com"
    assert got["Subject"] == "Your order"
    assert got["Date"].datetime == AT
    assert got["Idempotency-Key"] == "k-1"
    assert got["Message-ID"] == message_id("k-1", "shop.example")
    assert receipt == f"smtp:250 {got['Message-ID']}"
    assert got.get_content().strip() == "Thanks for your order."
    assert got["List-Unsubscribe"] is None


def test_a_resend_carries_the_same_message_id(mailbox: Mailbox, port: int) -> None:
    sender = channel(port)
    first, second = sender.send(mail()), sender.send(mail())
    assert first == second
    assert [m["Message-ID"] for m in mailbox.messages] == [message_id("k-1", "shop.example")] * 2
    assert message_id("k-2", "shop.example") != message_id("k-1", "shop.example")


def test_text_and_html_go_as_multipart_alternative(mailbox: Mailbox, port: int) -> None:
    channel(port).send(mail(html="<p>Thanks for your <b>order</b>.</p>"))
    got = only(mailbox)
    assert got.get_content_type() == "multipart/alternative"
    text, html = got.get_body(("plain",)), got.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "Thanks for your order."
    assert html.get_content().strip() == "<p>Thanks for your <b>order</b>.</p>"


def test_unicode_subject_and_body_survive(mailbox: Mailbox, port: int) -> None:
    subject = "Grüße – ✓ 注文 🎉"
    channel(port).send(mail(subject=subject, text="Schöne Grüße, Zoë ✓", html="<p>Zoë ✓</p>"))
    got = only(mailbox)
    assert got["Subject"] == subject
    body = got.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Schöne Grüße, Zoë ✓"


def test_marketing_mail_gets_one_click_list_unsubscribe(mailbox: Mailbox, port: int) -> None:
    links = {"list_unsubscribe": "https://shop.example/u/abc, mailto:unsub@shop.example"}
    channel(port).send(mail(purpose="marketing", metadata=links))
    got = only(mailbox)
    assert got["List-Unsubscribe"] == "<https://shop.example/u/abc>, <mailto:unsub@shop.example>"
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_mailto_only_unsubscribe_has_no_one_click_header(mailbox: Mailbox, port: int) -> None:
    channel(port).send(
        mail(purpose="marketing", metadata={"list_unsubscribe": "<mailto:u@shop.example>"})
    )
    got = only(mailbox)
    assert got["List-Unsubscribe"] == "<mailto:u@shop.example>"
    assert got["List-Unsubscribe-Post"] is None


def test_service_mail_has_no_list_unsubscribe(mailbox: Mailbox, port: int) -> None:
    channel(port).send(mail(metadata={"list_unsubscribe": "https://shop.example/u/abc"}))
    assert only(mailbox)["List-Unsubscribe"] is None


@pytest.mark.parametrize(
    "links", ["", "javascript:alert(1)", "https://x.example/a b", "https://x\r\nBcc: e@x"]
)
def test_bad_unsubscribe_links_are_permanent_failures(port: int, links: str) -> None:
    with pytest.raises(PermanentFailure, match="list_unsubscribe"):
        channel(port).send(mail(purpose="marketing", metadata={"list_unsubscribe": links}))
    with pytest.raises(ValidationError):
        unsubscribe_headers(links)


@pytest.mark.parametrize(
    "to", ["ada@example.com\r\nBcc: eve@example.com", "ada@example.com, eve@example.com", ""]
)
def test_a_bad_recipient_is_a_permanent_failure(mailbox: Mailbox, port: int, to: str) -> None:
    with pytest.raises(PermanentFailure) as caught:
        channel(port).send(mail(to=to))
    assert "@" not in caught.value.reason
    assert mailbox.messages == []


# --- transport security -------------------------------------------------------


def test_starttls_with_a_trusted_certificate(tls: tuple[Path, Path]) -> None:
    box = Mailbox()
    with smtp_server(box, starttls=server_context(*tls)) as port:
        channel(port, "starttls", ssl_context=client_context(tls[0])).send(mail())
    assert only(box)["Idempotency-Key"] == "k-1"


def test_starttls_refuses_an_untrusted_certificate(tls: tuple[Path, Path]) -> None:
    box = Mailbox()
    with (
        smtp_server(box, starttls=server_context(*tls)) as port,
        pytest.raises(TemporaryFailure, match="SSL"),
    ):
        channel(port, "starttls", ssl_context=ssl.create_default_context()).send(mail())
    assert box.messages == []


def test_starttls_never_falls_back_to_plain_text(mailbox: Mailbox, port: int) -> None:
    with pytest.raises(TemporaryFailure, match="STARTTLS"):
        channel(port, "starttls").send(mail())
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("password", "outcome"), [("s3cret", None), ("wrong", "authentication failed: 535")]
)
def test_login_after_starttls(tls: tuple[Path, Path], password: str, outcome: str | None) -> None:
    box = Mailbox()
    with smtp_server(box, starttls=server_context(*tls), login=("news", "s3cret")) as port:
        sender = channel(
            port, "starttls", ssl_context=client_context(tls[0]), username="news", password=password
        )
        if outcome is None:
            sender.send(mail())
        else:
            with pytest.raises(TemporaryFailure) as caught:
                sender.send(mail())
            assert caught.value.reason == outcome
    assert len(box.messages) == (1 if outcome is None else 0)


def test_a_login_to_a_server_without_auth_is_temporary(port: int) -> None:
    with pytest.raises(TemporaryFailure, match="does not offer AUTH"):
        channel(port, username="news", password="s3cret").send(mail())


def test_implicit_tls(tls: tuple[Path, Path]) -> None:
    box = Mailbox()
    with smtp_server(box, implicit_tls=server_context(*tls)) as port:
        receipt = channel(port, "ssl", ssl_context=client_context(tls[0])).send(mail())
    assert receipt.startswith("smtp:250 <")
    assert only(box)["Idempotency-Key"] == "k-1"


# --- failures -----------------------------------------------------------------


def test_a_refused_connection_is_temporary() -> None:
    with pytest.raises(TemporaryFailure, match="ConnectionRefusedError"):
        channel(free_port()).send(mail())


def test_a_dropped_connection_is_temporary() -> None:
    with dropping_server() as port, pytest.raises(TemporaryFailure, match="connection failed"):
        channel(port).send(mail())


def test_a_server_that_never_greets_times_out() -> None:
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen(1)  # the kernel accepts; nobody ever speaks
        with pytest.raises(TemporaryFailure, match="connection failed"):
            channel(silent.getsockname()[1], timeout=0.3).send(mail())


def test_a_4xx_reply_is_temporary() -> None:
    box = Mailbox(replies=["421 4.3.2 try again later"])
    with smtp_server(box) as port, pytest.raises(TemporaryFailure) as caught:
        channel(port).send(mail())
    assert caught.value.reason == "message refused: 421 4.3.2"
    assert box.messages == []


def test_a_5xx_reply_is_permanent() -> None:
    box = Mailbox(replies=["554 5.6.0 content rejected for ada@example.com"])
    with smtp_server(box) as port, pytest.raises(PermanentFailure) as caught:
        channel(port).send(mail())
    assert caught.value.reason == "message refused: 554 5.6.0"


def test_a_refused_recipient_is_permanent_and_not_named() -> None:
    box = Mailbox(refused=["ada@example.com"])
    with smtp_server(box) as port, pytest.raises(PermanentFailure) as caught:
        channel(port).send(mail())
    assert caught.value.reason == "recipient refused: 550 5.1.1"
    assert box.messages == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"security": "tls"}, "security"),
        ({"sender": "not an address"}, "sender"),
        ({"sender": "a@b.example\r\nBcc: c@d"}, "sender"),
        ({"timeout": 0}, "timeout"),
        ({"username": "u"}, "password"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, Any], field: str) -> None:
    settings: dict[str, Any] = {"sender": SENDER, **options}
    with pytest.raises(ValidationError) as caught:
        SmtpChannel(HOST, 25, **settings)
    assert caught.value.field == field


# --- the notifier conformance kit ----------------------------------------------


def observed(got: EmailMessage) -> DeliveredMessage:
    """What the test server saw of one message, as the kit compares it."""
    text, html = got.get_body(("plain",)), got.get_body(("html",))
    return DeliveredMessage(
        key=str(got["Idempotency-Key"]),
        to=str(got["To"]),
        subject=str(got["Subject"]),
        text=None if text is None else text.get_content(),
        html=None if html is None else html.get_content(),
    )


class TestSmtpContract(NotifierContract):
    """`SmtpChannel` passes the notifier kit against a real server."""

    mailbox: Mailbox
    port: int
    refusing_port: int

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _servers(cls) -> Iterator[None]:
        cls.mailbox = Mailbox()
        refusing = Mailbox(refused=[cls().recipient()])
        with smtp_server(cls.mailbox) as port, smtp_server(refusing) as refusing_port:
            cls.port, cls.refusing_port = port, refusing_port
            yield

    def make_channel(self) -> Channel:
        return channel(self.port)

    def delivered(self, channel: Channel) -> Sequence[DeliveredMessage]:
        return [observed(got) for got in list(self.mailbox.messages)]

    def make_failing_channel(self, kind: FailureKind) -> Channel | None:
        return channel(free_port() if kind == "temporary" else self.refusing_port)
