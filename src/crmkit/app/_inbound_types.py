"""The records of `crmkit.app.inbound`: a message that came in, and what was done with it.

Private to `crmkit.app.inbound`, which re-exports `InboundMessage` and `InboundResult`.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from crmkit.activities.activity import Activity, RecordRef
from crmkit.interactions.routing import Channel
from crmkit.interactions.threading import NOT_FOUND, InboundEmail, Resolution
from crmkit.kernel.checks import aware, of_type, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL
from crmkit.kernel.ids import check_id
from crmkit.kernel.text import LINE_MAX, clean_line, clean_text

_to_channel = to_enum(Channel, "channel")


def _channel(value: object) -> Channel:
    return _to_channel(value)


def _sender(value: object) -> str:
    return clean_line(value, "sender", max_len=320, personal=True, allow_empty=True)


def _subject(value: object) -> str:
    # An email subject may be 998 characters; records keep one line of LINE_MAX.
    text = clean_line(value, "subject", max_len=998, personal=True, allow_empty=True)
    return text[:LINE_MAX].rstrip()


def _body(value: object) -> str:
    return clean_text(value, "body", personal=True)


def _contact_id(value: object) -> str | None:
    return None if value is None else check_id(value, "contact_id")


def _name(value: object) -> str | None:
    return None if value is None else clean_line(value, "name", personal=True)


@attrs.frozen
class InboundMessage:
    """An email, call, chat or social message that came in.

    Build an email with `of_email`, which takes the sender, subject and time
    from its headers.

    Attributes:
        channel: ``email``, ``call``, ``chat`` or ``social``.
        sender: The email address, phone number (E.164) or handle; empty when
            withheld (personal data).
        subject: One line about it; cut to 200 characters (personal data).
        body: What it says: the email body, the call notes, the chat (personal data).
        email: The threading headers of an email; only for channel ``email``.
        occurred_at: When it came in; default: now.
        contact_id: The sender's contact, when the host already knows it.
        name: The sender's name, for a new lead (personal data).
    """

    channel: Channel = attrs.field(converter=_channel)
    sender: str = attrs.field(converter=_sender, metadata=PERSONAL, repr=False)
    subject: str = attrs.field(default="", converter=_subject, metadata=PERSONAL, repr=False)
    body: str = attrs.field(default="", converter=_body, metadata=PERSONAL, repr=False)
    email: InboundEmail | None = attrs.field(
        default=None, validator=of_type(InboundEmail, optional=True)
    )
    occurred_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    contact_id: str | None = attrs.field(default=None, converter=_contact_id)
    name: str | None = attrs.field(default=None, converter=_name, metadata=PERSONAL, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.email is not None and self.channel is not Channel.EMAIL:
            raise ValidationError("email", "only a message of channel email has email headers")

    @classmethod
    def of_email(
        cls,
        email: InboundEmail,
        *,
        body: str = "",
        contact_id: str | None = None,
        name: str | None = None,
    ) -> InboundMessage:
        """An email message from its headers: sender ``From``, its subject, ``received_at``."""
        if not isinstance(email, InboundEmail):
            raise ValidationError("email", "must be an InboundEmail", email)
        return cls(
            Channel.EMAIL,
            email.from_address or "",
            email.subject,
            body,
            email,
            email.received_at,
            contact_id,
            name,
        )


@attrs.frozen
class InboundResult:
    """What `Inbox.receive` did with a message, and why.

    Attributes:
        activity: The inbound activity logged (or, for a duplicate, the one logged before).
        record: The case, opportunity, lead or complaint it went to.
        created: Whether that record was created for this message.
        rule: The routing rule that decided, or None for a duplicate.
        reason: Why, in one line without personal data.
        contact_id: The sender's contact, or None when unknown.
        thread: How the email's thread was found (all None when it was not).
        thread_activity_id: The earlier activity the thread was found through, if any.
        duplicate: Whether the email was logged before (same ``Message-ID``): nothing changed.
        contact_created: Whether a contact was created for an unknown sender (a new
            complaint needs a customer).
    """

    activity: Activity
    record: RecordRef
    created: bool
    rule: str | None
    reason: str
    contact_id: str | None = None
    thread: Resolution = NOT_FOUND
    thread_activity_id: str | None = None
    duplicate: bool = False
    contact_created: bool = False
