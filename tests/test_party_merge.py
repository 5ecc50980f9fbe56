"""Folding duplicates into a survivor, retiring them, and undoing both."""

from datetime import UTC, datetime, timedelta

import pytest

from crmkit import Account, Contact, Email, InvalidTransition, Phone, ValidationError
from crmkit.activities.activity import Activity, ActivityKind, ActivityRelinked, RecordRef
from crmkit.kernel.events import Stamp
from crmkit.parties.merge import absorb, absorbed, revert
from crmkit.parties.party import PartyStatus

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def stamp(minutes: int = 0) -> Stamp:
    return Stamp(T0 + timedelta(minutes=minutes), "u-1")


def contact(id: str, **fields: object) -> Contact:
    made, _ = Contact.create(id, stamp(), last_name="Berg", **fields)  # type: ignore[arg-type]
    return made


def test_the_survivor_keeps_its_values_and_takes_only_what_it_lacks() -> None:
    survivor = contact("c-1", first_name="Anna", emails=(Email("anna@acme.example"),))
    survivor, _ = survivor.link("a-1", "buyer", stamp(), primary=True)
    duplicate = contact(
        "c-2",
        first_name="Anne",
        title="CFO",
        emails=(Email("ANNA@acme.example"), Email("anna@home.example")),
        phones=(Phone("+4930123456"),),
        tags=("vip",),
    )
    duplicate, _ = duplicate.link("a-2", "payer", stamp(), primary=True)
    merged, event = absorb(survivor, [duplicate], stamp(1))
    assert event is not None
    assert merged.first_name == "Anna"  # kept
    assert merged.title == "CFO"  # filled
    assert [e.key for e in merged.emails] == ["anna@acme.example", "anna@home.example"]
    assert merged.phones == (Phone("+4930123456"),)
    assert merged.account_ids == ("a-1", "a-2")
    assert [r.primary for r in merged.accounts] == [True, False]
    assert set(event.fields) == {"title", "emails", "phones", "tags", "accounts"}
    assert merged.version == survivor.version + 1


def test_consent_histories_merge_in_time_order_so_a_later_opt_out_wins() -> None:
    survivor, _ = contact("c-1").record_consent("email", "marketing", True, "form", stamp(1))
    duplicate, _ = contact("c-2").record_consent("email", "marketing", False, "unsub", stamp(5))
    merged, _ = absorb(survivor, [duplicate], stamp(9))
    assert merged.consent_for("email", "marketing").value == "withdrawn"
    assert [r.at for r in merged.consent] == sorted(r.at for r in merged.consent)


def test_nothing_to_take_gives_no_event() -> None:
    survivor = contact("c-1", title="CFO")
    same, event = absorb(survivor, [contact("c-2")], stamp(1))
    assert event is None
    assert same is survivor


def test_revert_gives_back_the_values_before_the_merge() -> None:
    survivor = contact("c-1")
    duplicate = contact("c-2", title="CFO", phones=(Phone("+4930123456"),))
    merged, event = absorb(survivor, [duplicate], stamp(1))
    assert event is not None
    undone, back = revert(merged, survivor, event.fields, stamp(2))
    assert (undone.title, undone.phones) == (survivor.title, survivor.phones)
    assert set(back.fields) == set(event.fields)


def test_accounts_absorb_and_refuse_mixed_kinds_and_themselves() -> None:
    survivor, _ = Account.create("a-1", "Acme", stamp())
    duplicate, _ = Account.create("a-2", "ACME GmbH", stamp(), website="https://acme.example")
    merged, _ = absorb(survivor, [duplicate], stamp(1))
    assert merged.website == "https://acme.example"
    assert merged.name == "Acme"
    with pytest.raises(ValidationError, match="duplicates"):
        absorb(survivor, [survivor], stamp(1))
    with pytest.raises(ValidationError, match="duplicate"):
        absorbed(survivor, contact("c-1"))  # type: ignore[type-var]


def test_a_merged_party_is_archived_points_at_its_survivor_and_only_unmerge_brings_it_back() -> (
    None
):
    duplicate = contact("c-2")
    merged, event = duplicate.merge_into("c-1", stamp(1))
    assert (merged.status, merged.merged_into, event.into) == (PartyStatus.ARCHIVED, "c-1", "c-1")
    assert set(event.subjects()) == {"c-1", "c-2"}
    with pytest.raises(InvalidTransition, match="restore"):
        merged.restore(stamp(2))
    with pytest.raises(InvalidTransition, match="merge"):
        merged.merge_into("c-3", stamp(2))
    back, undone = merged.unmerge(stamp(2))
    assert (back.status, back.merged_into, undone.into) == (PartyStatus.ACTIVE, None, "c-1")
    with pytest.raises(InvalidTransition, match="unmerge"):
        back.unmerge(stamp(3))
    archived, _ = back.archive(stamp(3))
    with pytest.raises(InvalidTransition, match="not merged"):
        archived.unmerge(stamp(4))
    with pytest.raises(ValidationError, match="survivor_id"):
        back.merge_into("c-2", stamp(4))


def test_an_activity_follows_its_record_when_duplicates_merge() -> None:
    activity, _ = Activity.log(
        "act-1",
        ActivityKind.CALL,
        "Intro call",
        (RecordRef("contact", "c-2"), RecordRef("account", "a-1")),
        stamp(),
    )
    moved, event = activity.relink("c-2", RecordRef("contact", "c-1"), stamp(1))
    assert [ref.id for ref in moved.links] == ["c-1", "a-1"]
    assert isinstance(event, ActivityRelinked)
    assert set(event.subjects()) == {"act-1", "c-1", "a-1", "c-2"}
    again, _ = moved.relink("c-1", RecordRef("account", "a-1"), stamp(2))
    assert [ref.id for ref in again.links] == ["a-1"]  # no link twice
    with pytest.raises(ValidationError, match="old_id"):
        activity.relink("c-9", RecordRef("contact", "c-1"), stamp(1))


def test_a_role_moves_to_the_surviving_account_and_a_role_there_wins() -> None:
    person, _ = contact("c-1").link("a-2", "buyer", stamp(), primary=True)
    moved, event = person.move_role("a-2", "a-1", stamp(1))
    assert [(r.account_id, r.role, r.primary) for r in moved.accounts] == [("a-1", "buyer", True)]
    assert (event.account_id, event.moved_from) == ("a-1", "a-2")
    assert set(event.subjects()) == {"c-1", "a-1", "a-2"}
    both, _ = person.link("a-1", "payer", stamp(1))
    kept, _ = both.move_role("a-2", "a-1", stamp(2))
    assert [(r.account_id, r.role) for r in kept.accounts] == [("a-1", "payer")]
    with pytest.raises(ValidationError, match="old_account_id"):
        person.move_role("a-9", "a-1", stamp(1))
