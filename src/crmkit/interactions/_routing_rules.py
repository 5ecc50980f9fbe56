"""The default routing rules and the helpers they share.

Private to `crmkit.interactions.routing`, which re-exports every public name here
and documents the rules' order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from crmkit.kernel.checks import items
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import ContactId
from crmkit.kernel.text import clean_line

from ._routing_types import Context, Decide, Inbound, Match, OpenRecord, Rule, Target

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

    >>> from crmkit.interactions.routing import NO_CONTEXT
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
"""The default rules, in the order the docs of `crmkit.interactions.routing` give."""
