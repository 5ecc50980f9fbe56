"""The notifier: render a message, check consent and queue it in the outbox.

``uow.notifications.send(...)`` builds a `crmkit.ports.notify.Message` and
stages it with `UnitOfWork.queue`, so it is sent after, and only if, the unit
of work commits. Consent is checked here, when the message is queued, and again
by the `crmkit.app.dispatcher.Dispatcher` when it is sent. A message that
consent forbids is not queued: `Notifier.send` returns a `Refusal` instead.

The rules (`consent_refusal`), for a message to a contact:

* channels named like a consent channel (``email``, ``sms``, ``phone``,
  ``post``, ``messaging``) are checked; others (``webhook`` ...) are not;
* purpose ``marketing`` needs consent `GRANTED` for the channel;
* any other purpose is refused only when consent was `WITHDRAWN`.
"""

from __future__ import annotations

import html as html_lib
import string
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from crmkit.app.records import CONTACTS, PREFERENCES
from crmkit.interactions.preferences import ChannelPreferences, Choice, NoChannel, choose_channel
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_line, clean_text, clean_token
from crmkit.parties.consent import Channel as ConsentChannel, ConsentStatus, Purpose
from crmkit.parties.contact import Contact
from crmkit.ports.notify import Message

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

CONSENT_CHANNELS = frozenset(channel.value for channel in ConsentChannel)
"""Channel names that consent covers: a message over one to a contact is checked."""
_PURPOSES = frozenset(purpose.value for purpose in Purpose)


@attrs.frozen
class Refusal:
    """Why a message was not queued (consent, or no address for the channel).

    Attributes:
        reason: The reason, without personal data.
    """

    reason: str


@attrs.frozen
class Template:
    """A message template with `string.Template` placeholders (``$first_name``, ``${coupon}``).

    Attributes:
        subject: The subject line.
        text: The plain-text body.
        html: The HTML body, or None; values placed in it are HTML-escaped.

    >>> Template("Hi $first_name", "Your code: ${coupon}").render({"first_name": "Anna",
    ...     "coupon": "A-1"})
    ('Hi Anna', 'Your code: A-1', None)
    """

    subject: str
    text: str
    html: str | None = None

    def render(self, values: Mapping[str, str]) -> tuple[str, str, str | None]:
        """(subject, text, html), every placeholder filled; a missing one is a `ValidationError`."""
        escaped = {name: html_lib.escape(value) for name, value in values.items()}
        return (
            _fill(self.subject, values, "template.subject"),
            _fill(self.text, values, "template.text"),
            None if self.html is None else _fill(self.html, escaped, "template.html"),
        )


def _fill(source: str, values: Mapping[str, str], field: str) -> str:
    try:
        return string.Template(source).substitute(values)
    except KeyError as exc:
        raise ValidationError(field, f"has no value for placeholder ${exc.args[0]}") from None
    except ValueError as exc:
        raise ValidationError(field, f"is not a valid template: {exc}") from None


def consent_refusal(contact: Contact, channel: str, purpose: str) -> str | None:
    """Why consent forbids sending ``purpose`` over ``channel`` to ``contact``, or None.

    A purpose that consent does not know (not a `Purpose`) is refused on a
    consent channel: a misspelt ``marketting`` must not slip past the check.
    """
    if channel not in CONSENT_CHANNELS:
        return None
    if purpose not in _PURPOSES:
        return f"purpose {purpose!r} has no consent rules for channel {channel!r}"
    status = contact.consent_for(channel, purpose)
    if status is ConsentStatus.WITHDRAWN:
        return f"consent withdrawn for {purpose} by {channel}"
    if purpose == Purpose.MARKETING and status is not ConsentStatus.GRANTED:
        return f"no consent granted for {purpose} by {channel}"
    return None


def recipient(contact: Contact, channel: str) -> str | None:
    """The contact's main address for ``channel``: email, or a phone number for sms and phone."""
    if channel == "email":
        return None if contact.email is None else contact.email.address
    if channel in ("sms", "phone") and contact.phones:
        mobile = [p for p in contact.phones if p.kind == "mobile"]
        return (mobile or list(contact.phones))[0].number
    return None


def _reachable(contact: Contact) -> set[str]:
    """The channels the contact has an address for."""
    found = {"email"} if contact.emails else set()
    if contact.phones:
        found |= {"phone", "sms"}
    if contact.addresses:
        found.add("post")
    return found


def _strings(value: object, field: str, check_keys: bool) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError(field, "must be a mapping of strings to strings", value)
    out: dict[str, str] = {}
    for name, item in value.items():
        key = clean_token(name, field) if check_keys else clean_line(name, field)
        if not isinstance(item, str):
            raise ValidationError(f"{field}.{key}", "must be a string", type(item).__name__)
        out[key] = item
    return out


class Notifier:
    """Queues messages in the outbox of one unit of work (``uow.notifications``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def choose(self, party_id: str, purpose: str) -> Choice | NoChannel:
        """The channel a message for ``purpose`` should go through to the contact, and why.

        Follows the contact's preferences (`crmkit.interactions.preferences`):
        their order for the purpose, then the default order; consent as `send`
        checks it, the do-not-call and do-not-email flags, the addresses the
        contact has, and for calls the contact hours in the contact's zone.
        """
        contact = self._uow.get(CONTACTS, party_id)
        with self._uow.trusted():  # the choice needs them, whoever sends
            record = self._uow.get_or_none(PREFERENCES, contact.id)
        prefs = ChannelPreferences() if record is None else record.preferences
        return choose_channel(
            prefs,
            contact.consent_for,
            purpose,
            available=_reachable(contact),
            now=self._uow.stamp().at,
            zone=contact.time_zone or "UTC",
        )

    def send(
        self,
        *,
        channel: str | None,
        purpose: str,
        key: str,
        party_id: str | None = None,
        to: str | None = None,
        subject: str = "",
        text: str | None = None,
        html: str | None = None,
        template: Template | None = None,
        data: Mapping[str, str] = {},
        metadata: Mapping[str, str] = {},
        not_before: datetime | None = None,
    ) -> Message | Refusal:
        """Render a message, check consent, and queue it; or return a `Refusal`.

        ``channel=None`` lets the contact's preferences choose (`choose`); when
        no channel is left, the `Refusal` lists every channel and why it was
        passed over.

        Pass either ``template`` (filled from ``data`` and the contact's
        ``first_name``, ``last_name``, ``name`` and ``email``; ``data`` wins) or
        ``text`` (and optionally ``subject`` and ``html``). The recipient is
        ``to``, or else the contact's main address for the channel. ``key`` is
        the idempotency key: a second message with it makes the commit raise
        `DuplicateRecord`. ``not_before`` delays sending. A ``party_id`` must
        name a contact (`NotFound` otherwise); bad input is a `ValidationError`.
        """
        purpose = clean_token(purpose, "purpose")
        if channel is None:
            if party_id is None:
                raise ValidationError("channel", "is needed when no party_id is given")
            chosen = self.choose(party_id, purpose)
            if isinstance(chosen, NoChannel):
                return Refusal("no channel: " + "; ".join(str(skip) for skip in chosen.reasons))
            channel = chosen.channel.value
        channel = clean_token(channel, "channel")
        key = clean_line(key, "key", max_len=200)
        values = _strings(data, "data", check_keys=False)
        meta = _strings(metadata, "metadata", check_keys=True)
        meta = {name: clean_line(value, f"metadata.{name}") for name, value in meta.items()}
        contact = None if party_id is None else self._uow.get(CONTACTS, party_id)
        if contact is not None:
            refused = consent_refusal(contact, channel, purpose)
            if refused is not None:
                return Refusal(refused)
            values = {
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "name": contact.name,
                "email": "" if contact.email is None else contact.email.address,
                **values,
            }
        if to is None:
            if contact is None:
                raise ValidationError("to", "is needed when no party_id is given")
            to = recipient(contact, channel)
            if to is None:
                return Refusal(f"the contact has no address for channel {channel!r}")
        if template is not None:
            # Duck-typed: a Template from a second import of this module must work too.
            if not callable(getattr(template, "render", None)):
                raise ValidationError("template", "must be a Template", template)
            if text is not None or html is not None or subject:
                raise ValidationError("template", "cannot be combined with subject, text or html")
            subject, text, html = template.render(values)
        elif text is None:
            raise ValidationError("text", "is needed when no template is given")
        message = Message(
            key=key,
            channel=channel,
            to=clean_line(to, "to", personal=True),
            subject=clean_line(subject, "subject", personal=True, allow_empty=True),
            text=clean_text(text, "text", personal=True),
            html=None if html is None else clean_text(html, "html", personal=True),
            purpose=purpose,
            party_id=party_id,
            metadata=meta,
        )
        self._uow.queue(message, not_before=not_before)
        return message
