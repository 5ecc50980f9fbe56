"""Hypothesis strategies for every public crmkit domain type.

Each strategy builds its values through the public constructors, so every
value it yields is valid and normalised exactly as crmkit would store it.
The strategies are small and fast; combine them in a host's own tests:

>>> from hypothesis import given, settings
>>> from crmkit.testing.strategies import contacts
>>> @settings(max_examples=5)
... @given(contacts())
... def test_a_contact_has_a_last_name(contact):
...     assert contact.last_name
>>> test_a_contact_has_a_last_name()

Each function caches the strategy it builds (hypothesis validates a strategy
once per object), so calling it again is free.

Instants use fixed UTC offsets (not `ZoneInfo` zones): an aware datetime in
a zone's DST gap or fold never compares equal to the same instant in another
zone, which would make lossless round trips impossible to state.
"""

from __future__ import annotations

import string
import typing
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from functools import cache
from typing import Any, Final, TypeVar

import attrs
from hypothesis import strategies as st

from crmkit.activities.activity import (
    ACTIVITY_LIFECYCLE,
    EVENTS as ACTIVITY_EVENTS,
    Activity,
    ActivityKind,
    ActivityLogged,
    ActivityMoved,
    ActivityStatus,
    Direction,
    RecordRef,
)
from crmkit.activities.timeline import TimelineEntry
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.money import MINOR_UNITS, Money
from crmkit.kernel.principal import ActorKind, Principal
from crmkit.kernel.text import clean_line, clean_text
from crmkit.parties.account import Account
from crmkit.parties.consent import Channel, ConsentRecord, Purpose
from crmkit.parties.contact import AccountRole, Contact
from crmkit.parties.events import EVENTS as PARTY_EVENTS
from crmkit.parties.party import PartyStatus
from crmkit.parties.values import Address, ContactPointKind, Email, Phone

E = TypeVar("E", bound=DomainEvent)
N = TypeVar("N", bound=Enum)

MAX_MINOR: Final = 2**63 - 1
"""The largest amount of minor units `Money` holds (a signed 64-bit integer)."""

EVENT_CLASSES: Final[tuple[type[DomainEvent], ...]] = (*PARTY_EVENTS, *ACTIVITY_EVENTS)
"""Every event class of crmkit's bounded contexts."""

TIME_ZONES: Final = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham")
"""IANA zone keys that `contacts` gives people."""

_LOCAL = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-" + "éøü"
_ALNUM = string.ascii_lowercase + string.digits
_DAY = 24 * 60 * 60
_LINE_CHARS = st.characters(exclude_categories=("Cc", "Cs"))
_TEXT_CHARS = st.characters(exclude_categories=("Cc", "Cs"), include_characters="\t\n\r")


@cache
def lines(max_size: int = 30) -> st.SearchStrategy[str]:
    """Non-empty single-line text as crmkit stores it (stripped, NFC, no controls).

    NFC can lengthen a string up to three times, so ``max_size`` is kept well
    below the limit of the field the text is for.
    """
    return (
        st.text(_LINE_CHARS, min_size=1, max_size=max_size)
        .filter(lambda text: text.strip() != "")
        .map(lambda text: clean_line(text, "text", max_len=4 * max_size))
    )


@cache
def texts(max_size: int = 200) -> st.SearchStrategy[str]:
    """Free text as crmkit stores it (may be empty or span several lines)."""
    return st.text(_TEXT_CHARS, max_size=max_size).map(
        lambda text: clean_text(text, "text", max_len=4 * max_size)
    )


@cache
def ids() -> st.SearchStrategy[str]:
    """Record ids: 1 to 24 printable ASCII characters without spaces."""
    return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=24)


@cache
def tokens() -> st.SearchStrategy[str]:
    """Machine names: lower-case ASCII letters, digits and ``_``, starting with a letter."""
    return st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


@cache
def utc_offsets() -> st.SearchStrategy[timezone]:
    """Fixed UTC offsets, whole seconds, strictly between -24 and +24 hours (and UTC itself)."""
    return st.just(UTC) | st.integers(-_DAY + 1, _DAY - 1).map(
        lambda seconds: timezone(timedelta(seconds=seconds))
    )


@cache
def aware_datetimes(
    min_value: datetime = datetime(1900, 1, 1), max_value: datetime = datetime(2200, 1, 1)
) -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes with fixed UTC offsets, between two naive bounds."""
    return st.datetimes(min_value, max_value, timezones=utc_offsets())


@cache
def stamps() -> st.SearchStrategy[Stamp]:
    """Stamps (time and actor) as a unit of work passes them to commands."""
    return st.builds(Stamp, aware_datetimes(), ids())


@cache
def currencies() -> st.SearchStrategy[str]:
    """Active ISO 4217 currency codes."""
    return st.sampled_from(sorted(MINOR_UNITS))


@cache
def money(
    currency: st.SearchStrategy[str] | None = None,
    *,
    min_minor: int = -MAX_MINOR,
    max_minor: int = MAX_MINOR,
) -> st.SearchStrategy[Money]:
    """Amounts of money, from a number of minor units within the bounds."""
    return st.builds(Money.from_minor, st.integers(min_minor, max_minor), currency or currencies())


def _members(enum: type[N]) -> st.SearchStrategy[N]:
    return st.sampled_from(list(enum))


@cache
def emails() -> st.SearchStrategy[Email]:
    """Email addresses, some with non-ASCII local parts and upper-case domains."""
    local = st.lists(st.text(_LOCAL, min_size=1, max_size=8), min_size=1, max_size=3)
    label = st.lists(
        st.text(_ALNUM + string.ascii_uppercase, min_size=1, max_size=8), min_size=1, max_size=2
    )
    domain = st.lists(label.map("-".join), min_size=1, max_size=2)
    tld = st.text(string.ascii_letters, min_size=2, max_size=6)
    return st.builds(
        lambda parts, names, top, kind: Email(f"{'.'.join(parts)}@{'.'.join(names)}.{top}", kind),
        local,
        domain,
        tld,
        _members(ContactPointKind),
    )


@cache
def phones() -> st.SearchStrategy[Phone]:
    """Phone numbers in E.164 form (8 to 15 digits)."""
    return st.builds(
        lambda digits, kind: Phone(f"+{digits}", kind),
        st.integers(10**7, 10**15 - 1),
        _members(ContactPointKind),
    )


@cache
def addresses() -> st.SearchStrategy[Address]:
    """Postal addresses with one to three street lines."""
    postal = st.text(_ALNUM.upper() + " -", min_size=1, max_size=10).filter(str.strip)
    return st.builds(
        Address,
        st.lists(lines(), min_size=1, max_size=3),
        lines(),
        st.text(string.ascii_uppercase, min_size=2, max_size=2),
        st.none() | postal,
        st.none() | lines(),
        _members(ContactPointKind),
    )


@cache
def tags() -> st.SearchStrategy[tuple[str, ...]]:
    """Up to four tags, as a list a caller would pass (the aggregate folds and sorts them)."""
    return st.lists(lines(15), max_size=4).map(tuple)


@cache
def consent_records() -> st.SearchStrategy[ConsentRecord]:
    """Single opt-ins and opt-outs."""
    return st.builds(
        ConsentRecord,
        _members(Channel),
        _members(Purpose),
        st.booleans(),
        aware_datetimes(),
        lines(),
    )


@cache
def account_roles() -> st.SearchStrategy[AccountRole]:
    """A contact's role at an account."""
    return st.builds(AccountRole, ids(), lines(20), st.booleans())


@cache
def record_refs() -> st.SearchStrategy[RecordRef]:
    """References to records of crmkit's kinds and of other, host-defined kinds."""
    kinds = st.sampled_from(("contact", "account", "activity", "opportunity")) | tokens()
    return st.builds(RecordRef, kinds, ids())


@cache
def principals() -> st.SearchStrategy[Principal]:
    """Users, rules and jobs with a few roles and teams."""
    names = st.frozensets(ids(), max_size=3)
    return st.builds(Principal, ids(), names, names, _members(ActorKind))


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@cache
def _times() -> st.SearchStrategy[tuple[datetime, datetime]]:
    """A creation time and a later (or equal) time of the last change."""
    return st.tuples(aware_datetimes(), st.integers(0, 10**8)).map(
        lambda pair: (pair[0], pair[0] + timedelta(seconds=pair[1]))
    )


def _party_fields() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "version": st.integers(1, 10_000),
        "times": _times(),
        "status": _members(PartyStatus),
        "emails": st.lists(emails(), max_size=2).map(tuple),
        "phones": st.lists(phones(), max_size=2).map(tuple),
        "addresses": st.lists(addresses(), max_size=2).map(tuple),
        "owner_id": _optional(ids()),
        "tags": tags(),
    }


def _account(
    id: str, name: str, times: tuple[datetime, datetime], version: int, **fields: Any
) -> Account:
    return Account(id, version, name, times[0], times[1], **fields)


@cache
def accounts() -> st.SearchStrategy[Account]:
    """Accounts in any state and version."""
    return st.builds(
        _account,
        ids(),
        lines(),
        website=_optional(lines()),
        industry=_optional(lines()),
        parent_id=_optional(ids()),
        **_party_fields(),
    )


def _contact(
    id: str,
    first_name: str,
    last_name: str,
    times: tuple[datetime, datetime],
    version: int,
    accounts: list[AccountRole],
    **fields: Any,
) -> Contact:
    # At most one primary account, as `Contact.link` keeps it.
    roles = tuple(attrs.evolve(r, primary=r.primary and i == 0) for i, r in enumerate(accounts))
    return Contact(id, version, first_name, last_name, times[0], times[1], accounts=roles, **fields)


@cache
def contacts() -> st.SearchStrategy[Contact]:
    """Contacts in any state and version, with account roles and consent history."""
    return st.builds(
        _contact,
        ids(),
        st.just("") | lines(),
        lines(),
        title=_optional(lines()),
        accounts=st.lists(account_roles(), max_size=3, unique_by=lambda role: role.account_id),
        consent=st.lists(consent_records(), max_size=3).map(tuple),
        time_zone=_optional(st.sampled_from(TIME_ZONES)),
        **_party_fields(),
    )


@cache
def activities() -> st.SearchStrategy[Activity]:
    """Activities of every kind, in every status."""
    return st.builds(
        Activity,
        ids(),
        st.integers(1, 10_000),
        _members(ActivityKind),
        lines(),
        _members(ActivityStatus),
        aware_datetimes(),
        st.lists(record_refs(), min_size=1, max_size=3, unique=True).map(tuple),
        aware_datetimes(),
        body=texts(),
        direction=_optional(_members(Direction)),
        duration_minutes=_optional(st.integers(0, 100_000)),
        owner_id=_optional(ids()),
        message_id=_optional(lines()),
    )


@cache
def timeline_entries() -> st.SearchStrategy[TimelineEntry]:
    """Timeline entries for any event type."""
    return st.builds(
        TimelineEntry,
        ids(),
        aware_datetimes(),
        st.lists(ids(), min_size=1, max_size=3, unique=True).map(tuple),
        st.sampled_from([cls.event_type for cls in EVENT_CLASSES]),
        record_refs(),
        lines(100),
        ids(),
    )


_CHANGEABLE = ("addresses", "emails", "first_name", "industry", "last_name", "name", "owner_id")


@cache
def _by_name() -> dict[str, st.SearchStrategy[Any]]:
    """Event fields whose name says more than their type."""
    return {
        "aggregate_id": ids(),
        "account_id": ids(),
        "actor": ids(),
        "version": st.integers(1, 10_000),
        "fields": st.lists(st.sampled_from(_CHANGEABLE), min_size=1, max_size=3, unique=True).map(
            lambda names: tuple(sorted(names))
        ),
    }


@cache
def _by_type() -> dict[object, st.SearchStrategy[Any]]:
    """Every other event field, by its type."""
    return {
        str: lines(),
        str | None: _optional(ids()),
        bool: st.booleans(),
        datetime: aware_datetimes(),
        ConsentRecord: consent_records(),
        tuple[RecordRef, ...]: st.lists(record_refs(), min_size=1, max_size=3, unique=True).map(
            tuple
        ),
    }


def _field_strategy(cls: type[DomainEvent], name: str, hint: object) -> st.SearchStrategy[Any]:
    if name in _by_name():
        return _by_name()[name]
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _members(hint)
    if hint in _by_type():
        return _by_type()[hint]
    raise TypeError(f"no strategy for {cls.__name__}.{name} of type {hint}")


def events_of(cls: type[E]) -> st.SearchStrategy[E]:
    """Events of one class, every field drawn to fit its type."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: _field_strategy(cls, f.name, hints[f.name]) for f in attrs.fields(cls)}
    if issubclass(cls, ActivityLogged):  # logged (done) or planned, never cancelled
        fields["status"] = st.sampled_from((ActivityStatus.DONE, ActivityStatus.PLANNED))
    if issubclass(cls, ActivityMoved):  # the status is where the command leads
        command = st.sampled_from(ACTIVITY_LIFECYCLE.commands)
        return command.flatmap(
            lambda name: st.builds(
                cls,
                **{
                    **fields,
                    "command": st.just(name),
                    "status": st.just(ACTIVITY_LIFECYCLE.target(ActivityStatus.PLANNED, name)),
                },
            )
        )
    return st.builds(cls, **fields)


@cache
def domain_events(
    classes: tuple[type[DomainEvent], ...] = EVENT_CLASSES,
) -> st.SearchStrategy[DomainEvent]:
    """Events of every class in ``classes`` (by default every crmkit event class)."""
    return st.one_of([events_of(cls) for cls in classes])


# --- sales, service, scoring and duplicates: built beside their modules, offered here.
# Imported last because some of them build on the strategies above.

from crmkit.testing._strategies_calendar import (  # noqa: E402
    business_calendars as business_calendars,
    business_durations as business_durations,
    calendar_instants as calendar_instants,
    holiday_sets as holiday_sets,
    weekly_hours as weekly_hours,
)
from crmkit.testing._strategies_campaigns import (  # noqa: E402
    campaign_members as campaign_members,
    campaigns as campaigns,
    touches as touches,
)
from crmkit.testing._strategies_cases import (  # noqa: E402
    case_histories as case_histories,
    csats as csats,
    service_cases as service_cases,
)
from crmkit.testing._strategies_complaints import (  # noqa: E402
    articles as articles,
    complaints as complaints,
    resolutions as resolutions,
    root_causes as root_causes,
)
from crmkit.testing._strategies_contracts import (  # noqa: E402
    amendments as amendments,
    billing_periods as billing_periods,
    contract_amounts as contract_amounts,
    contracts as contracts,
    drafted_contracts as drafted_contracts,
    start_dates as start_dates,
    terms as terms,
    uplifts as uplifts,
    whole_terms as whole_terms,
)
from crmkit.testing._strategies_dedupe import (  # noqa: E402
    dedupe_candidates as dedupe_candidates,
    dedupe_clusters as dedupe_clusters,
)
from crmkit.testing._strategies_journeys import (  # noqa: E402
    journeys as journeys,
    recipients as recipients,
    triggers as triggers,
)
from crmkit.testing._strategies_leads import (  # noqa: E402
    answers as answers,
    directories as directories,
    directory_users as directory_users,
    lead_events as lead_events,
    lead_inputs as lead_inputs,
    lead_sources as lead_sources,
    leads as leads,
    qualification_criteria as qualification_criteria,
    territories as territories,
)
from crmkit.testing._strategies_opportunities import (  # noqa: E402
    opportunities as opportunities,
    opportunity_events as opportunity_events,
    opportunity_lines as opportunity_lines,
    pipelines as pipelines,
    probabilities as probabilities,
)
from crmkit.testing._strategies_quotes import (  # noqa: E402
    price_lists as price_lists,
    products as products,
    quote_lines as quote_lines,
    quotes as quotes,
    tax_rates as tax_rates,
)
from crmkit.testing._strategies_scoring import (  # noqa: E402
    features as features,
    histories as histories,
    naive_bayes_models as naive_bayes_models,
    rule_scorers as rule_scorers,
    scores as scores,
)
from crmkit.testing._strategies_segments import (  # noqa: E402
    profiles as profiles,
    segments as segments,
)
from crmkit.testing._strategies_sla import (  # noqa: E402
    sla_clocks as sla_clocks,
    sla_policies as sla_policies,
    sla_policy_sets as sla_policy_sets,
    sla_targets as sla_targets,
)
