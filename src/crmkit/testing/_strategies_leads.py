"""Hypothesis strategies for leads: sources, capture inputs, leads, lead events and routing data.

Every value is built through the public constructors, so it is valid and
normalised exactly as crmkit stores it.
"""

from __future__ import annotations

import string
import typing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

import attrs
from hypothesis import strategies as st

from crmkit.kernel.directory import Directory, User
from crmkit.kernel.events import DomainEvent
from crmkit.parties.values import Email, Phone
from crmkit.sales.assignment import Territory
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead import Lead
from crmkit.sales.lead_events import EVENTS as LEAD_EVENTS, LeadChanged
from crmkit.sales.lead_values import CHANNELS, LeadSource, LeadStatus
from crmkit.sales.qualification import QualificationCriteria, Rule, RuleKind

E = TypeVar("E", bound=DomainEvent)

_ALNUM = string.ascii_lowercase + string.digits
_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Café Zoë", "Łódź Tech", "東京")
_QUESTIONS = ("budget", "authority", "need", "timeline")
_CHANGEABLE = (
    "city",
    "company",
    "country",
    "description",
    "email",
    "first_name",
    "last_name",
    "phone",
    "region",
    "title",
    "website",
)


@cache
def _ids() -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16)


@cache
def _words() -> st.SearchStrategy[str]:
    return st.sampled_from(_WORDS) | st.text(string.ascii_letters, min_size=1, max_size=12)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@cache
def _times() -> st.SearchStrategy[datetime]:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    return st.integers(0, 10**8).map(lambda seconds: start + timedelta(seconds=seconds))


@cache
def lead_emails() -> st.SearchStrategy[Email]:
    """Email addresses at free-mail and business domains."""
    local = st.text(_ALNUM, min_size=1, max_size=8)
    domain = st.sampled_from(("gmail.com", "GMX.de", "acme.example", "globex.co.uk"))
    return st.builds(lambda name, host: Email(f"{name}@{host}"), local, domain)


@cache
def lead_phones() -> st.SearchStrategy[Phone]:
    """Phone numbers in E.164 form."""
    return st.from_regex(r"\+[1-9][0-9]{7,12}", fullmatch=True).map(Phone)


@cache
def answers() -> st.SearchStrategy[dict[str, str]]:
    """Qualification answers: BANT questions with numbers and words."""
    value = st.sampled_from(("10000", "0", "decision_maker", "now", "lots", "CRM"))
    return st.dictionaries(st.sampled_from(_QUESTIONS), value, max_size=4)


@cache
def lead_sources() -> st.SearchStrategy[LeadSource]:
    """Lead sources over the usual channels, some with a campaign and UTM tags."""
    return st.builds(
        LeadSource,
        st.sampled_from(CHANNELS),
        campaign_id=_optional(_ids()),
        utm_source=_optional(st.sampled_from(("google", "newsletter", "linkedin"))),
        utm_medium=_optional(st.sampled_from(("cpc", "email", "social"))),
        utm_campaign=_optional(_words()),
        utm_term=_optional(_words()),
        utm_content=_optional(_words()),
    )


def _fields() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "first_name": _optional(_words()),
        "last_name": _optional(_words()),
        "email": _optional(lead_emails()),
        "phone": _optional(lead_phones()),
        "company": _optional(_words()),
        "title": _optional(st.sampled_from(("CEO", "CTO", "Buyer"))),
        "website": _optional(st.just("https://example.com")),
        "country": _optional(st.sampled_from(("DE", "AT", "FR", "US"))),
        "region": _optional(st.sampled_from(("Bavaria", "Tyrol", "California"))),
        "city": _optional(_words()),
        "description": _optional(st.text(string.ascii_letters + " \n", max_size=40)),
        "source": lead_sources(),
        "owner_id": _optional(_ids()),
        "tags": st.lists(st.sampled_from(("vip", "hot", "north")), max_size=3).map(tuple),
        "answers": answers(),
    }


@cache
def lead_inputs() -> st.SearchStrategy[LeadInput]:
    """Valid capture inputs (each has a last name, email, phone or company)."""
    fields = {**_fields(), "company": _words()}
    return st.builds(LeadInput, **fields)


def _lead(status: LeadStatus, created: datetime, later: int, **fields: Any) -> Lead:
    converted = status is LeadStatus.CONVERTED
    opportunity_id = fields.pop("opportunity_id")
    return Lead(
        fields.pop("id"),
        fields.pop("version"),
        created,
        created + timedelta(seconds=later),
        status,
        disqualify_reason="no budget" if status is LeadStatus.DISQUALIFIED else None,
        account_id="a-1" if converted else None,
        contact_id="c-1" if converted else None,
        opportunity_id=opportunity_id if converted else None,
        **fields,
    )


@cache
def leads() -> st.SearchStrategy[Lead]:
    """Leads in every status and version, some merged into another lead."""
    return st.builds(
        _lead,
        st.sampled_from(list(LeadStatus)),
        _times(),
        st.integers(0, 10**6),
        id=_ids(),
        version=st.integers(1, 10_000),
        score=_optional(st.integers(0, 100)),
        opportunity_id=_optional(_ids()),
        merged_into=_optional(_ids()),
        **_fields(),
    )


@cache
def _by_name() -> dict[str, st.SearchStrategy[Any]]:
    """Event fields whose name says more than their type."""
    return {
        "aggregate_id": _ids(),
        "actor": _ids(),
        "version": st.integers(1, 10_000),
        "occurred_at": _times(),
        "fields": st.lists(st.sampled_from(_CHANGEABLE), min_size=1, max_size=3, unique=True).map(
            lambda names: tuple(sorted(names))
        ),
        "score": _optional(st.integers(0, 100)),
        "reason": st.sampled_from(("no budget", "competitor", "duplicate")),
        "into": _ids(),
        "account_id": _ids(),
        "contact_id": _ids(),
        "opportunity_id": _optional(_ids()),
        **_fields(),
    }


def lead_events_of(cls: type[E]) -> st.SearchStrategy[E]:
    """Events of one lead event class, every field drawn to fit."""
    names = {f.name for f in attrs.fields(cls)}
    hints = typing.get_type_hints(cls)
    known = _by_name()
    missing = sorted(name for name in names if name not in known)
    if missing:
        raise TypeError(f"no strategy for {cls.__name__}.{missing[0]}: {hints[missing[0]]}")
    fields = {name: known[name] for name in names}
    if cls is LeadChanged:  # values of unchanged fields stay None, as `update` leaves them
        built: st.SearchStrategy[Any] = st.builds(cls, **fields)
        return built.map(_only_changed)
    return st.builds(cls, **fields)


def _only_changed(event: Any) -> Any:
    keep: dict[str, Any] = {
        name: getattr(event, name) if name in event.fields else None for name in _CHANGEABLE
    }
    return attrs.evolve(event, **keep)


@cache
def lead_events() -> st.SearchStrategy[DomainEvent]:
    """Events of every lead event class."""
    return st.one_of([lead_events_of(cls) for cls in LEAD_EVENTS])


@cache
def directory_users() -> st.SearchStrategy[User]:
    """Users with a few teams, territories, skills, a capacity or none, some inactive."""
    names = st.lists(st.sampled_from(("a", "b", "c")), max_size=2).map(tuple)
    return st.builds(
        User,
        st.sampled_from([f"u-{i}" for i in range(8)]),
        teams=names,
        territories=names,
        skills=names,
        capacity=_optional(st.integers(0, 5)),
        active=st.booleans(),
    )


@cache
def directories() -> st.SearchStrategy[Directory]:
    """Directories of up to eight users, each id once."""
    users = st.lists(directory_users(), max_size=8, unique_by=lambda user: user.id)
    return users.map(lambda found: Directory(tuple(found)))


@cache
def territories() -> st.SearchStrategy[Territory]:
    """Territories over a few countries and regions, with a team or named users."""
    return st.builds(
        Territory,
        st.sampled_from(("a", "b", "c", "dach", "west")),
        countries=st.lists(st.sampled_from(("DE", "AT", "FR")), max_size=2).map(tuple),
        regions=st.lists(st.sampled_from(("Bavaria", "Tyrol")), max_size=1).map(tuple),
        team=_optional(st.sampled_from(("a", "b"))),
        users=st.lists(st.sampled_from([f"u-{i}" for i in range(8)]), max_size=3).map(tuple),
    )


@cache
def qualification_criteria() -> st.SearchStrategy[QualificationCriteria]:
    """Criteria of up to four rules over the BANT questions."""
    question = st.sampled_from(_QUESTIONS)
    rule = st.one_of(
        st.builds(Rule, question, st.just(RuleKind.REQUIRED)),
        st.builds(
            Rule,
            question,
            st.just(RuleKind.ONE_OF),
            st.lists(st.sampled_from(("now", "CRM", "decision_maker")), min_size=1).map(tuple),
        ),
        st.builds(
            Rule,
            question,
            st.just(RuleKind.AT_LEAST),
            threshold=st.integers(-10, 10**6).map(Decimal),
        ),
    )
    return st.lists(rule, max_size=4).map(lambda rules: QualificationCriteria(tuple(rules)))
