"""Real servers on 127.0.0.1 for channel tests and the dispatch benchmark.

* `Mailbox` and `smtp_server`: an aiosmtpd SMTP server that records what it
  receives and can answer a scripted reply (``421 ...``) instead of accepting;
* `HookServer`: a threaded HTTP server that records requests and answers from
  a script of statuses and delays;
* `dropping_server`: a TCP server that accepts a connection and closes it;
* `tls_files`: a self-signed certificate for 127.0.0.1, made with ``openssl``.

Every server binds to 127.0.0.1 only and is shut down when its ``with``
block ends. Private: the tests and benchmarks use it, hosts should not.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from crmkit.adapters.webhook import SignatureError, verify

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tls_files(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 and localhost, in ``folder``."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context with the certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_context(cert: Path) -> ssl.SSLContext:
    """A client-side TLS context that trusts only the self-signed certificate."""
    return ssl.create_default_context(cafile=str(cert))


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts.

    Attributes:
        messages: The accepted messages, parsed, in arrival order.
        replies: Scripted replies to DATA: while any are left, each message
            gets the next one (for example ``421 4.3.2 try later``) instead of acceptance.
        refused: Recipients refused at RCPT with ``550 5.1.1``.
    """

    def __init__(self, replies: Iterable[str] = (), refused: Iterable[str] = ()) -> None:
        self.messages: list[EmailMessage] = []
        self.replies = deque(replies)
        self.refused = set(refused)
        self._lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        """Refuse the recipients in ``refused``; accept the others."""
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        """Keep the message, or answer the next scripted reply."""
        with self._lock:
            if self.replies:
                return self.replies.popleft()
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
        return "250 OK"

    def keys(self) -> Counter[str]:
        """How often each ``Idempotency-Key`` arrived."""
        with self._lock:
            return Counter(str(mail["Idempotency-Key"]) for mail in self.messages)


@contextmanager
def smtp_server(
    mailbox: Mailbox,
    *,
    port: int | None = None,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[int]:
    """Run an SMTP server for ``mailbox`` on 127.0.0.1; yield its port.

    With ``login`` (user, password) it requires AUTH, over TLS only.
    """
    port = port or free_port()
    auth: dict[str, Any] = {}
    if login is not None:
        expected = LoginPassword(login[0].encode(), login[1].encode())

        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            return AuthResult(success=data == expected, handled=False)  # False: reply 535

        auth = {"authenticator": check, "auth_required": True, "auth_require_tls": True}
    controller = Controller(
        mailbox,
        hostname=HOST,
        port=port,
        ssl_context=implicit_tls,
        tls_context=starttls,
        server_hostname="localhost",
        ready_timeout=30.0,
        **auth,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@dataclass(frozen=True)
class Request:
    """A request the `HookServer` received.

    Attributes:
        path: The request path.
        headers: Its headers, names in lower case.
        body: Its body.
        status: The status the server answered (or tried to, for a client that left).
    """

    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass(frozen=True)
class Reply:
    """What the `HookServer` answers: a status, after a delay in seconds."""

    status: int = 200
    delay: float = 0.0


class HookServer(http.server.ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that records POSTs and answers from a script.

    With ``verify_with`` (a secret) it checks each request's Standard Webhooks
    signature and answers 401 to a bad one, as a careful receiver does; with
    ``tls`` (a server context) it speaks HTTPS.

    Attributes:
        requests: Every request received, in arrival order.
        script: Replies still to give; once empty every request gets ``default``.
        default: The reply once the script is used up.
    """

    daemon_threads = True

    def __init__(
        self,
        script: Iterable[Reply] = (),
        *,
        default: Reply = Reply(),
        verify_with: bytes | str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__((HOST, 0), _HookHandler)
        self.scheme = "http" if tls is None else "https"
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.requests: list[Request] = []
        self.script = deque(script)
        self.default = default
        self.secret = verify_with
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def url(self) -> str:
        """The base URL, for example ``http://127.0.0.1:40123``."""
        return f"{self.scheme}://{HOST}:{self.server_address[1]}"

    def __enter__(self) -> HookServer:
        self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self.shutdown()
        self._thread.join(timeout=30)
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client that gave up on a slow reply is expected here."""


class _HookHandler(http.server.BaseHTTPRequestHandler):
    server: HookServer

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.server.lock:
            reply = self.server.script.popleft() if self.server.script else self.server.default
            if self.server.secret is not None:
                try:
                    verify(self.server.secret, headers, body)
                except (SignatureError, ValueError):
                    reply = Reply(401)
            self.server.requests.append(Request(self.path, headers, body, reply.status))
        time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            self.send_header("content-length", "0")
            self.end_headers()
        except OSError:
            pass  # the client timed out and left

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


@contextmanager
def dropping_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts each connection and closes it at once."""
    listener = socket.socket()
    # Its closed connections linger in TIME_WAIT: let a real server take the port next.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(16)
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=30)
        listener.close()
