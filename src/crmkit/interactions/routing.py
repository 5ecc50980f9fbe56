"""Inbound routing: which record an email, call, chat or social message goes to.

`route` tries its rules in order; the first that matches decides the `Route`.
Rules are data: a tuple of named `Rule` objects that a host reorders, drops
(`omitting`) or replaces (`replacing`). `DEFAULT_ROUTING` holds, in order:

1. ``thread``: the message continues a resolved thread (`crmkit.interactions.threading.resolve`)
   whose record is a case, opportunity, lead or complaint → that record;
2. ``open_case``: a known contact with an open case → that case (with several,
   the most recently updated; equal times go to the smallest id);
3. ``complaint``: the text holds a complaint word (`COMPLAINT_WORDS`: whole
   words, any case) → a new complaint;
4. ``open_opportunity``: a known contact with an open opportunity → that
   opportunity (chosen like cases);
5. ``new_case``: a known contact → a new case;
6. ``new_lead``: anyone else → a new lead.

A *known contact* is ``inbound.contact_id``, else ``context.contact_id``.
A `Route` with ``record_id`` None means "create a new record". `route` returns
None only when custom rules all decline; the default rules always route.

>>> from datetime import UTC, datetime
>>> context = Context(open_cases=[("C-1", datetime(2026, 3, 1, tzinfo=UTC))], contact_id="c-1")
>>> found = route(Inbound("email", "ann@example.com", "c-1", None, "Any news?"), context)
>>> found.target.value, found.record_id, found.rule
('case', 'C-1', 'open_case')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum

import attrs

from crmkit.interactions.threading import Resolution
from crmkit.kernel.checks import aware, items, of_type, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL
from crmkit.kernel.ids import AccountId, ContactId, check_id
from crmkit.kernel.text import clean_line, clean_text, clean_token


class Channel(StrEnum):
    """How the message came in."""

    EMAIL = "email"
    CALL = "call"
    CHAT = "chat"
    SOCIAL = "social"


class Target(StrEnum):
    """The kind of record a message goes to."""

    CASE = "case"
    OPPORTUNITY = "opportunity"
    LEAD = "lead"
    COMPLAINT = "complaint"


COMPLAINT_WORDS: tuple[str, ...] = (
    "complaint",
    "complaints",
    "complain",
    "refund",
    "refunds",
    "broken",
    "unacceptable",
    "disappointed",
    "chargeback",
    "ombudsman",
)
"""Words that make a message a complaint by default; matched as whole words, any case."""

_to_channel = to_enum(Channel, "channel")
_to_target = to_enum(Target, "target")


def _channel(value: object) -> Channel:
    return _to_channel(value)


def _target(value: object) -> Target:
    return _to_target(value)


def _sender(value: object) -> str:
    return clean_line(value, "sender", max_len=320, personal=True, allow_empty=True)


def _contact(value: object) -> ContactId | None:
    return None if value is None else ContactId(check_id(value, "contact_id"))


def _account(value: object) -> AccountId | None:
    return None if value is None else AccountId(check_id(value, "account_id"))


def _text(value: object) -> str:
    return clean_text(value, "text", personal=True)


@attrs.frozen
class Inbound:
    """One inbound message or call, as routing sees it.

    Attributes:
        channel: ``email``, ``call``, ``chat`` or ``social``.
        sender: The email address, phone number or handle; empty when withheld (personal data).
        contact_id: The contact the sender was matched to, or None.
        thread: The resolved thread (emails), or None.
        text: What it says: for an email, its subject and body (personal data).
    """

    channel: Channel = attrs.field(converter=_channel)
    sender: str = attrs.field(converter=_sender, metadata=PERSONAL, repr=False)
    contact_id: ContactId | None = attrs.field(default=None, converter=_contact)
    thread: Resolution | None = attrs.field(
        default=None, validator=of_type(Resolution, optional=True)
    )
    text: str = attrs.field(default="", converter=_text, metadata=PERSONAL, repr=False)


def _record_id(value: object) -> str:
    return check_id(value, "id")


@attrs.frozen
class OpenRecord:
    """An open case or opportunity of the sender.

    Attributes:
        id: The record's id.
        updated_at: When it last changed.
    """

    id: str = attrs.field(converter=_record_id)
    updated_at: datetime = attrs.field(validator=aware())


def _open(value: object, field: str) -> tuple[OpenRecord, ...]:
    found: list[OpenRecord] = []
    for index, item in enumerate(items(value, field)):
        if isinstance(item, OpenRecord):
            found.append(item)
            continue
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValidationError(f"{field}[{index}]", "must be an OpenRecord or (id, updated_at)")
        try:
            found.append(OpenRecord(item[0], item[1]))
        except ValidationError as exc:
            raise exc.at(f"{field}[{index}]") from None
    return tuple(found)


def _open_cases(value: object) -> tuple[OpenRecord, ...]:
    return _open(value, "open_cases")


def _open_opportunities(value: object) -> tuple[OpenRecord, ...]:
    return _open(value, "open_opportunities")


@attrs.frozen
class Context:
    """What the host knows about the sender, looked up before routing.

    ``open_cases`` and ``open_opportunities`` take `OpenRecord` objects or
    ``(id, updated_at)`` pairs.

    Attributes:
        open_cases: The sender's open cases.
        open_opportunities: The sender's open opportunities.
        contact_id: The sender's contact, when ``Inbound.contact_id`` is not set.
        account_id: The sender's account (for custom rules; the defaults do not use it).
    """

    open_cases: tuple[OpenRecord, ...] = attrs.field(default=(), converter=_open_cases)
    open_opportunities: tuple[OpenRecord, ...] = attrs.field(
        default=(), converter=_open_opportunities
    )
    contact_id: ContactId | None = attrs.field(default=None, converter=_contact)
    account_id: AccountId | None = attrs.field(default=None, converter=_account)


NO_CONTEXT = Context()
"""Nothing is known about the sender."""


def _optional_id(value: object) -> str | None:
    return None if value is None else check_id(value, "record_id")


def _reason(value: object) -> str:
    return clean_line(value, "reason")


@attrs.frozen
class Match:
    """What a rule decided.

    Attributes:
        target: The kind of record.
        record_id: The existing record, or None to create a new one.
        reason: Why, in one line without personal data.
    """

    target: Target = attrs.field(converter=_target)
    record_id: str | None = attrs.field(converter=_optional_id)
    reason: str = attrs.field(converter=_reason)


def _rule_name(value: object) -> str:
    return clean_token(value, "rule")


@attrs.frozen
class Route:
    """Where a message goes, and which rule sent it there.

    Attributes:
        target: ``case``, ``opportunity``, ``lead`` or ``complaint``.
        record_id: The existing record, or None to create a new one.
        rule: The name of the rule that decided.
        reason: Why, in one line without personal data.
    """

    target: Target = attrs.field(converter=_target)
    record_id: str | None = attrs.field(converter=_optional_id)
    rule: str = attrs.field(converter=_rule_name)
    reason: str = attrs.field(converter=_reason)

    @property
    def creates(self) -> bool:
        """Whether the host must create a new record."""
        return self.record_id is None


Decide = Callable[[Inbound, Context], Match | None]
"""A rule's test: a `Match`, or None to let the next rule decide."""


def _decide(instance: object, attribute: attrs.Attribute[Decide], value: object) -> None:
    if not callable(value):
        raise ValidationError("decide", "must be callable", value)


@attrs.frozen
class Rule:
    """A named routing rule.

    Attributes:
        name: A machine name, unique within a rule list.
        decide: Returns a `Match`, or None when the rule does not apply.
    """

    name: str = attrs.field(converter=_rule_name)
    decide: Decide = attrs.field(validator=_decide)


def known_contact(inbound: Inbound, context: Context) -> ContactId | None:
    """The sender's contact: ``inbound.contact_id``, else ``context.contact_id``."""
    return inbound.contact_id if inbound.contact_id is not None else context.contact_id


def latest(records: Iterable[OpenRecord]) -> OpenRecord | None:
    """The most recently updated record; equal times go to the smallest id; None when empty."""
    best: OpenRecord | None = None
    for record in records:
        if (
            best is None
            or record.updated_at > best.updated_at
            or (record.updated_at == best.updated_at and record.id < best.id)
        ):
            best = record
    return best


def _thread(inbound: Inbound, context: Context) -> Match | None:
    thread = inbound.thread
    if thread is None or thread.record is None:
        return None
    if thread.record.kind not in Target._value2member_map_:
        return None  # a thread on another kind of record (a contact ...) says nothing here
    return Match(thread.record.kind, thread.record.id, f"continues the thread by {thread.by}")


def _open_record(
    records: Callable[[Context], tuple[OpenRecord, ...]], target: Target, what: str
) -> Decide:
    def decide(inbound: Inbound, context: Context) -> Match | None:
        if known_contact(inbound, context) is None:
            return None
        found = records(context)
        chosen = latest(found)
        if chosen is None:
            return None
        return Match(target, chosen.id, f"most recently updated open {what} ({len(found)} open)")

    return decide


def _cases(context: Context) -> tuple[OpenRecord, ...]:
    return context.open_cases


def _opportunities(context: Context) -> tuple[OpenRecord, ...]:
    return context.open_opportunities


def complaint_rule(words: Iterable[str] = COMPLAINT_WORDS, *, name: str = "complaint") -> Rule:
    """A rule that sends text holding any of ``words`` (whole words, any case) to a new complaint.

    A word may be a phrase: its spaces match any white space.

    >>> rule = complaint_rule(["money back", "refund"])
    >>> rule.decide(Inbound("chat", "", text="I want my MONEY  back"), NO_CONTEXT).reason
    "text contains 'money back'"
    """
    cleaned = tuple(
        dict.fromkeys(
            clean_line(word, f"words[{index}]").lower()
            for index, word in enumerate(items(words, "words"))
        )
    )
    if not cleaned:
        raise ValidationError("words", "must name at least one word")
    alternatives = "|".join(
        r"\s+".join(map(re.escape, word.split())) for word in sorted(cleaned, key=len, reverse=True)
    )
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    def decide(inbound: Inbound, context: Context) -> Match | None:
        found = pattern.search(inbound.text)
        if found is None:
            return None
        word = " ".join(found[0].lower().split())
        return Match(Target.COMPLAINT, None, f"text contains {word!r}")

    return Rule(name, decide)


def _new_case(inbound: Inbound, context: Context) -> Match | None:
    if known_contact(inbound, context) is None:
        return None
    return Match(Target.CASE, None, "a known contact without open records")


def _new_lead(inbound: Inbound, context: Context) -> Match | None:
    return Match(Target.LEAD, None, "an unknown sender")


THREAD = Rule("thread", _thread)
"""Rule 1: a resolved thread goes to its record."""
OPEN_CASE = Rule("open_case", _open_record(_cases, Target.CASE, "case"))
"""Rule 2: a known contact's most recently updated open case."""
COMPLAINT = complaint_rule()
"""Rule 3: complaint words (`COMPLAINT_WORDS`) make a new complaint."""
OPEN_OPPORTUNITY = Rule(
    "open_opportunity", _open_record(_opportunities, Target.OPPORTUNITY, "opportunity")
)
"""Rule 4: a known contact's most recently updated open opportunity."""
NEW_CASE = Rule("new_case", _new_case)
"""Rule 5: a known contact gets a new case."""
NEW_LEAD = Rule("new_lead", _new_lead)
"""Rule 6: anyone else becomes a new lead."""

DEFAULT_ROUTING: tuple[Rule, ...] = (
    THREAD,
    OPEN_CASE,
    COMPLAINT,
    OPEN_OPPORTUNITY,
    NEW_CASE,
    NEW_LEAD,
)
"""The default rules, in the order the module docs give."""


def _rules(value: object) -> tuple[Rule, ...]:
    rules = items(value, "rules")
    names: set[str] = set()
    for index, rule in enumerate(rules):
        if not isinstance(rule, Rule):
            raise ValidationError(f"rules[{index}]", "must be a Rule", rule)
        if rule.name in names:
            raise ValidationError(f"rules[{index}]", "names must be unique", rule.name)
        names.add(rule.name)
    return rules


def route(
    inbound: Inbound, context: Context = NO_CONTEXT, rules: Iterable[Rule] = DEFAULT_ROUTING
) -> Route | None:
    """The route the first matching rule gives, or None when no rule matches."""
    if not isinstance(inbound, Inbound):
        raise ValidationError("inbound", "must be an Inbound", inbound)
    if not isinstance(context, Context):
        raise ValidationError("context", "must be a Context", context)
    checked = _rules(rules)
    contacts = {inbound.contact_id, context.contact_id} - {None}
    if len(contacts) > 1:
        raise ValidationError("context.contact_id", "must match inbound.contact_id")
    for index, rule in enumerate(checked):
        match = rule.decide(inbound, context)
        if match is None:
            continue
        if not isinstance(match, Match):
            raise ValidationError(f"rules[{index}]", "decide must return a Match or None", match)
        return Route(match.target, match.record_id, rule.name, match.reason)
    return None


def replacing(rules: Iterable[Rule], rule: Rule) -> tuple[Rule, ...]:
    """``rules`` with the rule of the same name as ``rule`` replaced by it.

    >>> strict = replacing(DEFAULT_ROUTING, complaint_rule(["refund"]))
    >>> [r.name for r in strict] == [r.name for r in DEFAULT_ROUTING]
    True
    """
    checked = _rules(rules)
    if not isinstance(rule, Rule):
        raise ValidationError("rule", "must be a Rule", rule)
    if all(old.name != rule.name for old in checked):
        raise ValidationError("rule", "names no rule in the list", rule.name)
    return tuple(rule if old.name == rule.name else old for old in checked)


def omitting(rules: Iterable[Rule], *names: str) -> tuple[Rule, ...]:
    """``rules`` without the rules called ``names``.

    >>> [r.name for r in omitting(DEFAULT_ROUTING, "complaint", "new_lead")]
    ['thread', 'open_case', 'open_opportunity', 'new_case']
    """
    checked = _rules(rules)
    present = {rule.name for rule in checked}
    for index, name in enumerate(names):
        if name not in present:
            raise ValidationError(f"names[{index}]", "names no rule in the list", name)
    return tuple(rule for rule in checked if rule.name not in names)
