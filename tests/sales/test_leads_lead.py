"""The Lead aggregate's reads and edge cases: features, filled fields, updates, merges, events."""

from datetime import UTC, datetime, timedelta

import pytest

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.parties.values import Email
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead import LEAD_LIFECYCLE, Lead
from crmkit.sales.lead_events import LeadConverted, LeadMerged
from crmkit.sales.lead_values import LeadSource, LeadStatus
from crmkit.sales.qualification import NO_CRITERIA

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def stamp(minutes: int = 0) -> Stamp:
    return Stamp(T0 + timedelta(minutes=minutes), "u-1")


def captured(**fields: object) -> tuple[Lead, DomainEvent]:
    data = LeadInput(**{"company": "Acme", **fields})  # type: ignore[arg-type]
    return Lead.capture("l-1", data, stamp())


def test_features_are_categorical_and_read_only_what_the_lead_has() -> None:
    lead, _ = captured(
        email="anna@GMail.com",
        title="CTO",
        country="at",
        source=LeadSource("web", utm_source="google", utm_medium="cpc"),
        answers={"budget": "1000", "need": "CRM"},
    )
    assert lead.features() == {
        "channel": "web",
        "utm_source": "google",
        "utm_medium": "cpc",
        "country": "AT",
        "has_title": "yes",
        "has_company": "yes",
        "has_phone": "no",
        "email_domain": "free",
        "q_budget": "1000",
        "q_need": "CRM",
    }
    business, _ = captured(email="anna@acme.example")
    assert business.features()["email_domain"] == "business"
    assert captured()[0].features()["email_domain"] is None


def test_filled_fields_counts_optional_values() -> None:
    bare, _ = captured()
    assert bare.filled_fields() == 1  # the company
    rich, _ = captured(
        first_name="Anna", email="anna@acme.example", tags=["vip"], answers={"need": "CRM"}
    )
    assert rich.filled_fields() == 5
    scored, _ = rich.rescore(70, stamp(1))
    assert scored.filled_fields() == 6


def test_update_changes_clears_and_refuses_no_ops() -> None:
    lead, first = captured(title="CTO", email="anna@acme.example")
    changed, event = lead.update(stamp(1), title="", city="Wien", email="ANNA@acme.example")
    assert (changed.title, changed.city, changed.email) == (
        None,
        "Wien",
        Email("ANNA@acme.example"),
    )
    assert event.fields == ("city", "email", "title")
    assert event.summary() == "changed city, email, title"
    assert Lead.replay([first, event]) == changed
    with pytest.raises(ValidationError, match="change nothing"):
        changed.update(stamp(2), city="Wien")
    with pytest.raises(ValidationError, match="country"):
        changed.update(stamp(2), country="Austria")
    with pytest.raises(ValidationError) as info:
        changed.update(stamp(2), email="not-an-address")
    assert info.value.personal
    assert "not-an-address" not in str(info.value)


def test_commands_need_an_aware_stamp_and_valid_values() -> None:
    lead, _ = captured()
    with pytest.raises(ValidationError, match=r"stamp\.at"):
        lead.work(Stamp(datetime(2026, 1, 1), "u-1"))
    for call in (
        lambda: lead.rescore(101, stamp()),
        lambda: lead.rescore(True, stamp()),
        lambda: lead.assign("has space", stamp()),
        lambda: lead.answer({"budget": 5}, stamp()),  # type: ignore[dict-item]
        lambda: lead.merge_into("l-1", stamp()),
    ):
        with pytest.raises(ValidationError):
            call()


def test_merged_lead_refuses_everything_but_unmerge() -> None:
    lead, first = captured()
    merged, event = lead.merge_into("l-2", stamp(1))
    assert isinstance(event, LeadMerged)
    assert event.subjects() == ("l-1", "l-2")
    with pytest.raises(InvalidTransition) as info:
        merged.tag(["vip"], stamp(2))
    assert (info.value.state, info.value.command, info.value.reason) == (
        "new",
        "tag",
        "merged into l-2",
    )
    back, again = merged.unmerge(stamp(2))
    assert back.merged_into is None
    assert Lead.replay([first, event, again]) == back


def test_converted_lead_refuses_every_change_and_shows_on_related_timelines() -> None:
    lead, first = captured()
    events = [first]
    lead, worked = lead.work(stamp(1))
    lead, qualified = lead.qualify(NO_CRITERIA, stamp(2))
    lead, converted = lead.convert(
        stamp(3), account_id="a-1", contact_id="c-1", opportunity_id="o-1"
    )
    events += [worked, qualified, converted]
    assert isinstance(events[-1], LeadConverted)
    assert events[-1].subjects() == ("l-1", "a-1", "c-1", "o-1")
    assert "opportunity o-1" in events[-1].summary()
    assert LEAD_LIFECYCLE.is_final(lead.status)
    for call in (
        lambda: lead.update(stamp(4), city="Wien"),
        lambda: lead.assign("u-2", stamp(4)),
        lambda: lead.rescore(5, stamp(4)),
        lambda: lead.merge_into("l-2", stamp(4)),
        lambda: lead.recycle(stamp(4)),
    ):
        with pytest.raises(InvalidTransition):
            call()
    assert Lead.replay(events) == lead


def test_replay_refuses_broken_streams() -> None:
    lead, first = captured()
    _worked, second = lead.work(stamp(1))
    with pytest.raises(ValidationError):
        Lead.replay([])
    with pytest.raises(ValidationError):
        Lead.replay([second])
    with pytest.raises(ValidationError):
        Lead.replay([first, second, second])


def test_summaries_hold_no_personal_data() -> None:
    lead, first = captured(first_name="Zelda", last_name="Quux", email="zelda@quux.example")
    _, changed = lead.update(stamp(1), first_name="Zora")
    for event in (first, changed):
        text = event.summary()
        assert "Zelda" not in text
        assert "Zora" not in text
        assert "quux" not in text.lower()


def test_lifecycle_shape() -> None:
    assert LEAD_LIFECYCLE.initial is LeadStatus.NEW
    assert LEAD_LIFECYCLE.final == {LeadStatus.CONVERTED}
    assert LEAD_LIFECYCLE.next_states(LeadStatus.DISQUALIFIED) == {"recycle": LeadStatus.RECYCLED}
    assert "convert" in LEAD_LIFECYCLE.to_mermaid()
