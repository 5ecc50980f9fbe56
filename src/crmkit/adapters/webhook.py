"""A webhook `Channel`: an HTTP POST of JSON, signed per the Standard Webhooks spec.

Each request carries three headers (https://www.standardwebhooks.com/):

* ``webhook-id``: the message's idempotency key (the same on a resend);
* ``webhook-timestamp``: Unix seconds, from the injected clock;
* ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256, keyed with the
  secret, of ``"{id}.{timestamp}.{body}"``.

A receiver checks them with `verify` (or any ``standardwebhooks`` library),
which also refuses stale timestamps, so a captured request cannot be replayed.

A ``2xx`` reply is delivered (receipt ``http:<status>``); ``408``, ``429``,
``5xx``, timeouts and connection errors are `TemporaryFailure`; other ``3xx``
and ``4xx`` replies are `PermanentFailure`. Redirects are not followed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import json
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from crmkit.kernel.clock import Clock, SystemClock
from crmkit.kernel.errors import CrmError, ValidationError
from crmkit.ports.notify import Message, PermanentFailure, TemporaryFailure

SECRET_PREFIX = "whsec_"
"""The prefix of a secret in the Standard Webhooks text form, ``whsec_<base64>``."""

_TEMPORARY = frozenset({408, 425, 429})
_MAX_READ = 64 * 1024


class SignatureError(CrmError):
    """A webhook request failed verification: bad or missing signature, or a stale timestamp."""


def secret_key(secret: bytes | str) -> bytes:
    """The raw HMAC key: bytes as given; text as ``whsec_<base64>`` or plain base64.

    >>> secret_key("whsec_c2VjcmV0") == secret_key("c2VjcmV0") == b"secret"
    True
    """
    if isinstance(secret, str):
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("secret", "must be base64, optionally after whsec_") from None
    elif isinstance(secret, bytes):
        key = secret
    else:
        raise ValidationError("secret", "must be bytes or a whsec_ string")
    if not key:
        raise ValidationError("secret", "must not be empty")
    return key


def sign(secret: bytes | str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of the content."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: bytes | str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> Any:
    """Check a received webhook and return its JSON payload; raise `SignatureError` if bad.

    ``headers`` are matched without regard to case. The timestamp must lie
    within ``tolerance`` of ``now`` (the current time by default), and one of
    the space-separated ``v1`` signatures must match. A signed body that is
    not JSON raises `ValueError`.
    """
    found = {name.lower(): value for name, value in headers.items()}
    try:
        msg_id = found["webhook-id"]
        stamp = found["webhook-timestamp"]
        signatures = found["webhook-signature"]
    except KeyError as exc:
        raise SignatureError(f"missing header {exc.args[0]}") from None
    if not stamp.isascii() or not stamp.isdigit():
        raise SignatureError("webhook-timestamp must be Unix seconds")
    at = int(stamp)
    current = (now or datetime.now(UTC)).timestamp()
    if abs(current - at) > tolerance.total_seconds():
        raise SignatureError("webhook-timestamp is outside the tolerance")
    raw = body.encode() if isinstance(body, str) else body
    expected = sign(secret, msg_id, at, raw).encode()
    for candidate in signatures.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return json.loads(raw)
    raise SignatureError("no matching signature")


class WebhookChannel:
    """POSTs a message's JSON text to the URL in ``message.to``, signed with ``secret``.

    Attributes:
        name: The channel name messages use to pick it (``webhook`` by default).
        timeout: Seconds each socket operation may take.
    """

    def __init__(
        self,
        secret: bytes | str,
        *,
        timeout: float = 10.0,
        name: str = "webhook",
        clock: Clock | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ValidationError("timeout", "must be a positive number of seconds", timeout)
        self._key = secret_key(secret)
        self.name = name
        self.timeout = float(timeout)
        self._clock: Clock = clock or SystemClock()
        self._context = ssl_context

    def headers(self, message: Message, body: bytes) -> dict[str, str]:
        """The request headers for ``message``, with its signature."""
        timestamp = int(self._clock.now().timestamp())
        return {
            "content-type": "application/json",
            "user-agent": "crmkit-webhook",
            "webhook-id": message.key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._key, message.key, timestamp, body),
        }

    def send(self, message: Message) -> str:
        """POST ``message``; return ``http:<status>`` or raise a `DeliveryFailure`."""
        url = urlsplit(message.to)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise PermanentFailure("the recipient must be an http or https URL")
        if not message.key.isascii():
            raise PermanentFailure("the idempotency key must be ASCII for a webhook-id")
        body = message.text.encode()
        try:
            json.loads(body)
        except ValueError:
            raise PermanentFailure("the message text is not JSON") from None
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        conn: http.client.HTTPConnection
        try:
            if url.scheme == "https":
                conn = http.client.HTTPSConnection(
                    url.hostname, url.port, timeout=self.timeout, context=self._context
                )
            else:
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=self.timeout)
        except ValueError:  # a bad port
            raise PermanentFailure("the recipient URL is not valid") from None
        try:
            conn.request("POST", path, body, self.headers(message, body))
            response = conn.getresponse()
            status = response.status
            response.read(_MAX_READ)
        except (OSError, http.client.HTTPException) as exc:  # timeouts, refusals, resets
            raise TemporaryFailure(f"request failed: {type(exc).__name__}") from None
        finally:
            conn.close()
        if 200 <= status < 300:
            return f"http:{status}"
        if status >= 500 or status in _TEMPORARY:
            raise TemporaryFailure(f"HTTP {status}")
        raise PermanentFailure(f"HTTP {status}")
