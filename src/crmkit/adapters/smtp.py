"""An email `Channel` over SMTP, with the standard library's `smtplib`.

Each send opens one connection (plain, STARTTLS or implicit TLS), sends one
``multipart/alternative`` message (text, plus HTML when the message has it)
and closes the connection: simple, thread-safe and robust to servers that drop
idle connections.

The ``Message-ID`` is derived from the idempotency key, so a message sent
twice (at-least-once delivery) carries the same id, and an ``Idempotency-Key``
header carries the key itself. Marketing mail gets ``List-Unsubscribe`` (and
``List-Unsubscribe-Post`` for one-click, RFC 8058, when an ``https`` link is
given) from ``message.metadata["list_unsubscribe"]``.

Failures map to the port's types: connection errors, timeouts and ``4xx``
replies are `TemporaryFailure`; ``5xx`` replies are `PermanentFailure`.
Reasons carry the SMTP code and enhanced status code, never an address.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Literal

from crmkit.kernel.clock import Clock, SystemClock
from crmkit.kernel.errors import ValidationError
from crmkit.ports.notify import Message, PermanentFailure, TemporaryFailure

Security = Literal["none", "starttls", "ssl"]
"""How the connection is protected: not at all, upgraded with STARTTLS, or TLS from the start."""

UNSUBSCRIBE = "list_unsubscribe"
"""The metadata key of a message's unsubscribe links (comma-separated URIs)."""

_SECURITY = ("none", "starttls", "ssl")
_ENHANCED = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")
_URI = re.compile(r"^(https?://|mailto:)[^\s<>,\"]+$", re.IGNORECASE)


def message_id(key: str, domain: str) -> str:
    """The ``Message-ID`` for idempotency key ``key``: the same key gives the same id.

    >>> message_id("order-7", "example.com") == message_id("order-7", "example.com")
    True
    >>> message_id("order-7", "example.com").endswith("@example.com>")
    True
    """
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def unsubscribe_headers(value: str) -> dict[str, str]:
    """``List-Unsubscribe`` (and one-click ``List-Unsubscribe-Post``) for comma-separated URIs.

    >>> unsubscribe_headers("https://example.com/u/1, mailto:u@example.com")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'List-Unsubscribe': '<https://example.com/u/1>, <mailto:u@example.com>',
     'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click'}
    """
    uris = [part.strip().removeprefix("<").removesuffix(">") for part in value.split(",")]
    if not uris or not all(_URI.match(uri) for uri in uris):
        raise ValidationError(UNSUBSCRIBE, "must be http(s) or mailto URIs, comma-separated")
    headers = {"List-Unsubscribe": ", ".join(f"<{uri}>" for uri in uris)}
    if any(uri.lower().startswith("https://") for uri in uris):
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def _reply(code: int, text: bytes | str | None, what: str) -> TemporaryFailure | PermanentFailure:
    """The failure for an SMTP reply: 4xx temporary, anything else permanent."""
    raw = text.encode(errors="replace") if isinstance(text, str) else (text or b"")
    found = _ENHANCED.match(raw)
    reason = f"{what}: {code}" + (f" {found[1].decode()}" if found else "")
    return TemporaryFailure(reason) if 400 <= code < 500 else PermanentFailure(reason)


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye after a send; the message is delivered whatever QUIT answers."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


class SmtpChannel:
    """Sends email through an SMTP server. See the module docs for the failure mapping.

    Attributes:
        name: The channel name messages use to pick it (``email`` by default).
        host: The SMTP server's host name or address.
        port: Its port (25, 587 for STARTTLS, 465 for implicit TLS ...).
        sender: The ``From`` address, for example ``Shop <news@shop.example>``.
        security: ``none``, ``starttls`` (the default) or ``ssl``.
        timeout: Seconds each socket operation may take.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        name: str = "email",
        clock: Clock | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in _SECURITY:
            raise ValidationError("security", f"must be one of {', '.join(_SECURITY)}", security)
        if (username is None) != (password is None):
            raise ValidationError("password", "username and password go together")
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ValidationError("timeout", "must be a positive number of seconds", timeout)
        address = parseaddr(sender)[1]
        if "@" not in address or "\n" in sender or "\r" in sender:
            raise ValidationError("sender", "must be an email address", sender)
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.security: Security = security
        self.timeout = float(timeout)
        self._domain = address.rpartition("@")[2]
        self._login = None if username is None or password is None else (username, password)
        # Loading the system's CA certificates is slow: do it once, not per message.
        self._context = ssl_context
        if self._context is None and security != "none":
            self._context = ssl.create_default_context()
        self._clock: Clock = clock or SystemClock()
        self._local_hostname = local_hostname

    def build(self, message: Message) -> EmailMessage:
        """The email for ``message``; a header that cannot be encoded raises `PermanentFailure`."""
        mail = EmailMessage()
        try:
            mail["From"] = self.sender
            mail["To"] = message.to
            if len(mail["To"].addresses) != 1:
                raise PermanentFailure("bad message: the recipient must be one address")
            mail["Subject"] = message.subject
            mail["Date"] = format_datetime(self._clock.now())
            mail["Message-ID"] = message_id(message.key, self._domain)
            mail["Idempotency-Key"] = message.key
            if message.purpose == "marketing" and UNSUBSCRIBE in message.metadata:
                for header, value in unsubscribe_headers(message.metadata[UNSUBSCRIBE]).items():
                    mail[header] = value
            mail.set_content(message.text)
            if message.html is not None:
                mail.add_alternative(message.html, subtype="html")
        except ValidationError as exc:
            raise PermanentFailure(f"bad message: {exc.field}: {exc.rule}") from None
        except (ValueError, TypeError, IndexError) as exc:
            raise PermanentFailure(f"bad message: {type(exc).__name__}") from None
        return mail

    def send(self, message: Message) -> str:
        """Send ``message``; return ``smtp:250 <Message-ID>`` or raise a `DeliveryFailure`."""
        mail = self.build(message)
        try:
            smtp = self._connect()
            try:
                smtp.send_message(mail)  # one recipient: refusing it raises
            except BaseException:
                smtp.close()
                raise
            _quit(smtp)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b""))
            raise _reply(code, text, "recipient refused") from None
        except smtplib.SMTPAuthenticationError as exc:
            # Wrong credentials are the operator's to fix, not the message's fault.
            raise TemporaryFailure(f"authentication failed: {exc.smtp_code}") from None
        except smtplib.SMTPSenderRefused as exc:
            raise _reply(exc.smtp_code, exc.smtp_error, "sender refused") from None
        except smtplib.SMTPDataError as exc:
            raise _reply(exc.smtp_code, exc.smtp_error, "message refused") from None
        except smtplib.SMTPResponseException as exc:
            raise _reply(exc.smtp_code, exc.smtp_error, "server refused") from None
        except smtplib.SMTPNotSupportedError:
            raise PermanentFailure("the server cannot take an international address") from None
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError, timeouts, resets ...
            raise TemporaryFailure(f"connection failed: {type(exc).__name__}") from None
        return f"smtp:250 {mail['Message-ID']}"

    def _connect(self) -> smtplib.SMTP:
        """An open, secured and logged-in connection."""
        if self._local_hostname is None:
            self._local_hostname = socket.getfqdn()
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self._local_hostname,
                timeout=self.timeout,
                context=self._context,
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout
            )
        try:
            if self.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise TemporaryFailure("the server does not offer STARTTLS")
                smtp.starttls(context=self._context)
                smtp.ehlo()
            if self._login is not None:
                smtp.ehlo_or_helo_if_needed()
                if not smtp.has_extn("auth"):
                    raise TemporaryFailure("the server does not offer AUTH")
                smtp.login(*self._login)
        except BaseException:
            smtp.close()
            raise
        return smtp
