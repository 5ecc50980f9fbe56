"""The webhook channel against a real HTTP server on 127.0.0.1, and `verify` for receivers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from crmkit.adapters.webhook import SignatureError, WebhookChannel, secret_key, sign, verify
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.errors import ValidationError
from crmkit.ports.notify import Channel, Message, PermanentFailure, TemporaryFailure
from crmkit.testing._loopback import (
    HookServer,
    Reply,
    client_context,
    dropping_server,
    free_port,
    server_context,
    tls_files,
)
from crmkit.testing.notify import DeliveredMessage, FailureKind, NotifierContract

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes, ok!!!").decode()
PAYLOAD = '{"type": "deal.won", "id": "d-1", "amount": "1200.00"}'

# The published test vector of the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def hook(url: str, key: str = "evt-1", text: str = PAYLOAD) -> Message:
    return Message(key=key, channel="webhook", to=url, subject="", text=text)


def channel(**options: Any) -> WebhookChannel:
    return WebhookChannel(SECRET, clock=FixedClock(AT), **options)


@pytest.fixture
def server() -> Iterator[HookServer]:
    with HookServer() as server:
        yield server


# --- signing and verifying ----------------------------------------------------


def test_the_signature_matches_the_published_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_signature_matches_a_hand_computed_hmac() -> None:
    key = b"a test secret of 32 bytes, ok!!!"
    digest = hmac.new(key, b"evt-1.1772443800." + PAYLOAD.encode(), hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    assert sign(SECRET, "evt-1", 1772443800, PAYLOAD.encode()) == expected
    assert sign(key, "evt-1", 1772443800, PAYLOAD.encode()) == expected


def vector_headers(**changes: str) -> dict[str, str]:
    headers = {
        "Webhook-Id": VECTOR_ID,
        "Webhook-Timestamp": str(VECTOR_TIMESTAMP),
        "Webhook-Signature": VECTOR_SIGNATURE,
    }
    headers.update(changes)
    return headers


VECTOR_NOW = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)


def test_verify_accepts_the_published_vector() -> None:
    assert verify(VECTOR_SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_NOW) == {
        "test": 2432232314
    }


def test_verify_accepts_any_of_several_signatures() -> None:
    several = f"v1,bm90IGl0 {VECTOR_SIGNATURE} v2,other"
    headers = vector_headers(**{"Webhook-Signature": several})
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_NOW) == {"test": 2432232314}


@pytest.mark.parametrize(
    ("headers", "body", "match"),
    [
        (vector_headers(), b'{"test": 2432232315}', "no matching signature"),
        (vector_headers(**{"Webhook-Id": "msg_other"}), VECTOR_BODY, "no matching signature"),
        (
            vector_headers(**{"Webhook-Signature": "v2," + VECTOR_SIGNATURE[3:]}),
            VECTOR_BODY,
            "no matching",
        ),
        (vector_headers(**{"Webhook-Timestamp": "16142653x0"}), VECTOR_BODY, "Unix seconds"),
        ({"webhook-id": VECTOR_ID}, VECTOR_BODY, "missing header"),
    ],
)
def test_verify_refuses_tampering(headers: dict[str, str], body: bytes, match: str) -> None:
    with pytest.raises(SignatureError, match=match):
        verify(VECTOR_SECRET, headers, body, now=VECTOR_NOW)


def test_verify_refuses_the_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_NOW)


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_verify_refuses_stale_and_future_timestamps(skew: timedelta) -> None:
    with pytest.raises(SignatureError, match="tolerance"):
        verify(VECTOR_SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_NOW + skew)
    verify(
        VECTOR_SECRET,
        vector_headers(),
        VECTOR_BODY,
        now=VECTOR_NOW + skew,
        tolerance=timedelta(minutes=7),
    )


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!", 42])
def test_bad_secrets_are_refused(secret: Any) -> None:
    with pytest.raises(ValidationError):
        secret_key(secret)


# --- sending ------------------------------------------------------------------


def test_a_post_arrives_signed_and_verifiable(server: HookServer) -> None:
    receipt = channel().send(hook(server.url + "/hooks/crm?src=1"))
    assert receipt == "http:200"
    [got] = server.requests
    assert got.path == "/hooks/crm?src=1"
    assert got.body == PAYLOAD.encode()
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == "evt-1"
    assert got.headers["webhook-timestamp"] == str(int(AT.timestamp()))
    assert verify(SECRET, got.headers, got.body, now=AT) == json.loads(PAYLOAD)


def test_a_resend_has_the_same_webhook_id(server: HookServer) -> None:
    sender = channel()
    sender.send(hook(server.url))
    sender.send(hook(server.url))
    assert [r.headers["webhook-id"] for r in server.requests] == ["evt-1", "evt-1"]


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_every_2xx_is_delivered(status: int) -> None:
    with HookServer([Reply(status)]) as server:
        assert channel().send(hook(server.url)) == f"http:{status}"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 301])
def test_4xx_and_redirects_are_permanent(status: int) -> None:
    with HookServer([Reply(status)]) as server, pytest.raises(PermanentFailure) as caught:
        channel().send(hook(server.url + "/secret-token"))
    assert caught.value.reason == f"HTTP {status}"
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_5xx_408_and_429_are_temporary(status: int) -> None:
    with HookServer([Reply(status)]) as server, pytest.raises(TemporaryFailure) as caught:
        channel().send(hook(server.url))
    assert caught.value.reason == f"HTTP {status}"


def test_a_slow_receiver_times_out() -> None:
    with HookServer([Reply(200, delay=1.0)]) as server:
        with pytest.raises(TemporaryFailure, match="TimeoutError"):
            channel(timeout=0.2).send(hook(server.url))
        assert len(server.requests) == 1


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tls_files(tmp_path_factory.mktemp("tls"))


def test_https_with_a_trusted_certificate(tls: tuple[Path, Path]) -> None:
    with HookServer(tls=server_context(*tls)) as server:
        assert server.url.startswith("https://")
        assert channel(ssl_context=client_context(tls[0])).send(hook(server.url)) == "http:200"
        assert [r.headers["webhook-id"] for r in server.requests] == ["evt-1"]


def test_https_refuses_an_untrusted_certificate(tls: tuple[Path, Path]) -> None:
    with HookServer(tls=server_context(*tls)) as server:
        with pytest.raises(TemporaryFailure, match="SSLCertVerificationError"):
            channel().send(hook(server.url))
        assert server.requests == []


def test_connection_errors_are_temporary() -> None:
    with pytest.raises(TemporaryFailure, match="ConnectionRefusedError"):
        channel().send(hook(f"http://127.0.0.1:{free_port()}/"))
    with dropping_server() as port, pytest.raises(TemporaryFailure, match="request failed"):
        channel().send(hook(f"http://127.0.0.1:{port}/"))


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "not a url", "http://", "http://h:99999/"]
)
def test_only_http_urls_are_sent_to(url: str) -> None:
    with pytest.raises(PermanentFailure):
        channel().send(hook(url))


def test_a_body_that_is_not_json_is_permanent(server: HookServer) -> None:
    with pytest.raises(PermanentFailure, match="not JSON"):
        channel().send(hook(server.url, text="hello"))
    assert server.requests == []


def test_a_non_ascii_key_is_permanent(server: HookServer) -> None:
    with pytest.raises(PermanentFailure, match="ASCII"):
        channel().send(hook(server.url, key="évt-1"))


# --- the notifier conformance kit ----------------------------------------------


class _Aimed:
    """A webhook channel whose every message goes to one URL (a server that fails)."""

    def __init__(self, channel: WebhookChannel, url: str) -> None:
        self.name = channel.name
        self._channel = channel
        self._url = url

    def send(self, message: Message) -> str:
        return self._channel.send(attrs.evolve(message, to=self._url))


class TestWebhookContract(NotifierContract):
    """`WebhookChannel` passes the notifier kit against a receiver that verifies signatures."""

    carries_subject = False
    carries_html = False
    server: HookServer

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _server(cls) -> Iterator[None]:
        with HookServer(verify_with=SECRET) as server:
            cls.server = server
            yield

    def make_channel(self) -> Channel:
        return WebhookChannel(SECRET)

    def delivered(self, channel: Channel) -> Sequence[DeliveredMessage]:
        return [
            DeliveredMessage(key=got.headers["webhook-id"], text=got.body.decode())
            for got in list(self.server.requests)
            if got.status == 200
        ]

    def make_failing_channel(self, kind: FailureKind) -> Channel | None:
        if kind == "permanent":  # the receiver refuses a bad signature with 401
            return WebhookChannel("whsec_" + base64.b64encode(b"not the secret").decode())
        return _Aimed(WebhookChannel(SECRET), f"http://127.0.0.1:{free_port()}/")

    def recipient(self) -> str:
        return self.server.url + "/hooks"

    def body(self, text: str) -> str:
        return json.dumps({"text": text})
