"""What the notifier kit's tests share: the observed message, hooks, strategies, comparisons.

`DeliveredMessage` is public through `crmkit.testing.notify`; the rest is
private to the kit.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Literal

import attrs
from hypothesis import strategies as st

from crmkit.ports.notify import Message

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crmkit.ports.notify import Channel

FailureKind = Literal["temporary", "permanent"]
"""Which failure `NotifierContract.make_failing_channel` is asked to produce."""


@attrs.frozen
class DeliveredMessage:
    """One message as the receiving end of a channel observed it.

    A field the channel does not carry (a webhook has no subject) is None and
    is not compared.

    Attributes:
        key: The idempotency key exactly as sent, read back by the receiver
            (SMTP: an ``Idempotency-Key`` header; webhook: the ``webhook-id`` header).
        to: The recipient the receiver saw (an address, a URL ...), or None.
        subject: The subject line, or None.
        text: The plain-text body (for a webhook: the payload), or None.
        html: The HTML body, or None.
    """

    key: str
    to: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None


class NotifyHooks:
    """Declares the hooks that `NotifierContract` defines, for the test groups' type checks."""

    if TYPE_CHECKING:
        carries_subject: bool
        carries_html: bool

        def make_channel(self) -> Channel: ...

        def delivered(self, channel: Channel) -> Sequence[DeliveredMessage]: ...

        def make_failing_channel(self, kind: FailureKind) -> Channel | None: ...

        def recipient(self) -> str: ...

        def body(self, text: str) -> str: ...


_serial = itertools.count(1)
_serial_lock = threading.Lock()


def new_key(prefix: str = "contract") -> str:
    """A key no other test of this process used: ASCII letters, digits, ``:`` and ``-``."""
    with _serial_lock:
        return f"{prefix}:{next(_serial)}-{threading.get_ident() % 10_000}"


def build(hooks: NotifyHooks, channel: Channel, key: str, **fields: object) -> Message:
    """A message over ``channel`` to the test recipient; ``text`` passes through `body`."""
    text = hooks.body(str(fields.pop("text", f"Hello, this is {key}.")))
    defaults: dict[str, object] = {"subject": f"Subject {key}", "html": None}
    defaults.update(fields)
    return Message(key, channel.name, hooks.recipient(), text=text, **defaults)  # type: ignore[arg-type]


def normal_text(value: str | None) -> str | None:
    """Text as compared: CRLF read as LF, trailing white space dropped."""
    return None if value is None else value.replace("\r\n", "\n").rstrip()


def normal_line(value: str | None) -> str | None:
    """A subject as compared: runs of white space read as one space (headers fold)."""
    return None if value is None else " ".join(value.split())


def matches(seen: DeliveredMessage, sent: Message, hooks: NotifyHooks) -> list[str]:
    """The fields the receiver saw differently from what was sent (empty when all agree)."""
    wrong = []
    if seen.to is not None and seen.to != sent.to:
        wrong.append("to")
    if hooks.carries_subject and normal_line(seen.subject) != normal_line(sent.subject):
        wrong.append("subject")
    if seen.text is not None and normal_text(seen.text) != normal_text(sent.text):
        wrong.append("text")
    if hooks.carries_html and normal_text(seen.html) != normal_text(sent.html):
        wrong.append("html")
    return wrong


_WORDS = st.characters(categories=("L", "N", "P", "S"), exclude_characters="\r\n\x85")
words = st.lists(st.text(_WORDS, min_size=1, max_size=12), min_size=1, max_size=6)
"""Words of letters, digits, punctuation and symbols from all of Unicode."""
subjects = words.map(" ".join)
"""Single-line subjects."""
texts = st.lists(words.map(" ".join), min_size=1, max_size=4).map("\n".join)
"""Multi-line bodies (LF line ends, no trailing white space)."""
