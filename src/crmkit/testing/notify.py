"""The notifier conformance kit: the tests every notification `Channel` must pass.

Its import path is public and never moves. A channel author subclasses
`NotifierContract` in a test module, with a real receiving end (a test SMTP
server, a test HTTP server ...) on loopback:

```python
from crmkit.testing.notify import DeliveredMessage, NotifierContract

class TestMyChannel(NotifierContract):
    def make_channel(self) -> Channel:
        return MyChannel(host="127.0.0.1", port=self.server.port)

    def delivered(self, channel: Channel) -> list[DeliveredMessage]:
        return [DeliveredMessage(key=..., to=..., subject=..., text=...)
                for request in self.server.received]
```

**What the receiver must observe.** Every message a channel delivers reaches
the receiving end exactly once per `send`, and the receiver can read its
idempotency key exactly as sent: for SMTP an ``Idempotency-Key`` header (a
``Message-ID`` derived from the key as well is welcome), for a webhook the
``webhook-id`` header of the Standard Webhooks specification. That key is
what a consumer deduplicates by, since delivery is at least once.

The kit then checks that:

* a send returns a non-empty receipt, and the message arrives once with its key;
* subject, text and HTML round-trip for any Unicode text (compared up to CRLF
  against LF line ends, trailing white space, and folded runs of white space
  in the subject);
* a batch of distinct keys arrives once each, also when four threads share one
  channel;
* a failing send raises `TemporaryFailure` or `PermanentFailure` with a reason,
  never another exception (through `make_failing_channel`, skipped when the
  author does not implement it);
* a `crmkit.app.dispatcher.Dispatcher` over a store delivers a queued batch
  exactly once per key, and records failures as retries or dead letters.

The kit's keys are ASCII (letters, digits, ``:`` and ``-``).
"""

# The tests live in crmkit.testing._notify_tests; what they share (the
# observed message, strategies, comparisons) in crmkit.testing._notify_data.

from __future__ import annotations

from collections.abc import Sequence

from crmkit.ports.notify import Channel
from crmkit.testing._notify_data import DeliveredMessage, FailureKind
from crmkit.testing._notify_tests import ChannelTests, DispatchTests

__all__ = ["DeliveredMessage", "FailureKind", "NotifierContract"]


class NotifierContract(DispatchTests, ChannelTests):
    """The conformance tests of a notification channel; implement the two required hooks.

    Attributes:
        carries_subject: Whether the receiver sees the subject (False for a webhook).
        carries_html: Whether the receiver sees the HTML body (False for a webhook).
    """

    carries_subject: bool = True
    carries_html: bool = True

    def make_channel(self) -> Channel:
        """A working channel whose deliveries `delivered` can observe."""
        raise NotImplementedError("implement make_channel() in your NotifierContract subclass")

    def delivered(self, channel: Channel) -> Sequence[DeliveredMessage]:
        """Everything the receiving end of ``channel`` has observed so far, oldest first."""
        raise NotImplementedError("implement delivered() in your NotifierContract subclass")

    def make_failing_channel(self, kind: FailureKind) -> Channel | None:
        """Optionally, a channel whose sends fail with a ``kind`` failure.

        For example an SMTP server that is down (temporary) or refuses the
        recipient (permanent), or a webhook answering 503 or 400. Return None
        (the default) to skip the failure tests.
        """
        return None

    def recipient(self) -> str:
        """The ``to`` of the kit's messages: an address or URL the receiver accepts."""
        return "anna@example.com"

    def body(self, text: str) -> str:
        """The message text the kit sends for ``text``; a webhook returns JSON holding it."""
        return text
