"""Accounts and contacts: creation, changes, links, consent history and archiving."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from crmkit import (
    Account,
    AccountRole,
    Channel,
    ConsentRecord,
    ConsentStatus,
    Contact,
    Email,
    InvalidTransition,
    Phone,
    Purpose,
    ValidationError,
)
from crmkit.kernel.events import Stamp
from crmkit.parties.consent import consent_status
from crmkit.parties.events import (
    AccountChanged,
    AccountCreated,
    ConsentRecorded,
    ContactChanged,
    ContactCreated,
    ContactLinked,
    ContactUnlinked,
)
from crmkit.parties.party import PartyStatus
from crmkit.testing.strategies import accounts, consent_records, contacts

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def stamp(minutes: int = 0) -> Stamp:
    return Stamp(T0 + timedelta(minutes=minutes), "u-1")


def new_contact(**kwargs: object) -> Contact:
    contact, _ = Contact.create("c-1", stamp(), last_name="Berg", first_name="Anna", **kwargs)  # type: ignore[arg-type]
    return contact


def test_create_account() -> None:
    account, event = Account.create(
        "a-1",
        "  ACME GmbH ",
        stamp(),
        emails=[Email("info@acme.example")],
        tags=("Key", "key", "Manufacturing"),
    )
    assert (account.id, account.version, account.name) == ("a-1", 1, "ACME GmbH")
    assert account.status is PartyStatus.ACTIVE
    assert account.created_at == account.updated_at == T0
    assert account.tags == ("key", "manufacturing")
    assert account.emails == (Email("info@acme.example"),)
    assert isinstance(event, AccountCreated)
    assert (event.aggregate_id, event.version, event.actor, event.name) == (
        "a-1",
        1,
        "u-1",
        "ACME GmbH",
    )
    assert event.summary() == "account ACME GmbH created"


def test_create_contact() -> None:
    contact, event = Contact.create(
        "c-1",
        stamp(),
        last_name="Berg",
        first_name="Anna",
        phones=(Phone("+49 30 1234567"),),
        time_zone="Europe/Berlin",
    )
    assert contact.name == "Anna Berg"
    assert contact.email is None
    assert contact.time_zone == "Europe/Berlin"
    assert isinstance(event, ContactCreated)
    assert event.name == "Anna Berg"
    assert Contact.create("c-2", stamp(), last_name="Prince")[0].name == "Prince"


def test_update_changes_only_what_is_given_and_reports_the_fields() -> None:
    account, _ = Account.create("a-1", "ACME", stamp(), industry="Tools")
    changed, event = account.update(stamp(5), name="ACME AG", website="https://acme.example")
    assert (changed.name, changed.website, changed.industry) == (
        "ACME AG",
        "https://acme.example",
        "Tools",
    )
    assert changed.version == 2
    assert changed.updated_at == T0 + timedelta(minutes=5)
    assert changed.created_at == T0
    assert isinstance(event, AccountChanged)
    assert event.fields == ("name", "website")
    assert event.summary() == "changed name, website"


def test_update_validates_through_the_constructor() -> None:
    contact = new_contact()
    with pytest.raises(ValidationError) as info:
        contact.update(stamp(), last_name="\x00")
    assert info.value.field == "last_name"
    with pytest.raises(ValidationError) as info:
        contact.update(stamp(), time_zone="Mars/Base")
    assert info.value.field == "time_zone"
    with pytest.raises(ValidationError) as info:
        contact.update(stamp(), emails=("anna@example.com",))  # type: ignore[arg-type]
    assert info.value.field == "emails[0]"
    assert "anna@example.com" not in str(info.value)


def test_a_change_that_changes_nothing_is_refused() -> None:
    contact = new_contact()
    with pytest.raises(ValidationError, match="change nothing"):
        contact.update(stamp(), last_name="Berg")
    with pytest.raises(ValidationError, match="change nothing"):
        contact.update(stamp())
    with pytest.raises(ValidationError, match="change nothing"):
        contact.assign(None, stamp())


def test_tags_owner() -> None:
    account, _ = Account.create("a-1", "ACME", stamp())
    account, event = account.tag(["VIP", "Key"], stamp())
    assert account.tags == ("key", "vip")
    assert event.fields == ("tags",)
    account, _ = account.untag(["vip"], stamp())
    assert account.tags == ("key",)
    with pytest.raises(ValidationError, match="change nothing"):
        account.untag(["vip"], stamp())
    account, event = account.assign("u-9", stamp())
    assert account.owner_id == "u-9"
    assert event.fields == ("owner_id",)
    with pytest.raises(ValidationError) as info:
        account.assign("u 9", stamp())
    assert info.value.field == "owner_id"
    assert account.version == 4


def test_archived_parties_refuse_changes_but_keep_consent() -> None:
    contact, archived = new_contact().archive(stamp(1))
    assert contact.status is PartyStatus.ARCHIVED
    assert archived.event_type == "contact_archived"
    for command, call in [
        ("change", lambda: contact.update(stamp(), last_name="Other")),
        ("change", lambda: contact.tag(["vip"], stamp())),
        ("change", lambda: contact.assign("u-2", stamp())),
        ("link", lambda: contact.link("a-1", "buyer", stamp())),
        ("unlink", lambda: contact.unlink("a-1", stamp())),
        ("archive", lambda: contact.archive(stamp())),
    ]:
        with pytest.raises(InvalidTransition) as info:
            call()
        assert (info.value.aggregate, info.value.state, info.value.command) == (
            "contact",
            "archived",
            command,
        )
    opted_out, event = contact.record_consent("email", "marketing", False, "phone call", stamp(2))
    assert opted_out.consent_for("email", "marketing") is ConsentStatus.WITHDRAWN
    assert isinstance(event, ConsentRecorded)
    restored, event = opted_out.restore(stamp(3))
    assert restored.status is PartyStatus.ACTIVE
    assert restored.version == 4
    assert event.event_type == "contact_restored"
    with pytest.raises(InvalidTransition):
        restored.restore(stamp())


def test_links_replace_roles_and_keep_one_primary() -> None:
    contact = new_contact()
    contact, event = contact.link("a-1", "buyer", stamp(), primary=True)
    assert isinstance(event, ContactLinked)
    assert event.subjects() == ("c-1", "a-1")
    contact, _ = contact.link("a-2", "cfo", stamp(), primary=True)
    assert contact.accounts == (
        AccountRole("a-1", "buyer", False),
        AccountRole("a-2", "cfo", True),
    )
    assert contact.account_ids == ("a-2", "a-1")
    contact, _ = contact.link("a-1", "champion", stamp())
    assert contact.accounts == (AccountRole("a-2", "cfo", True), AccountRole("a-1", "champion"))
    contact, event = contact.unlink("a-2", stamp())
    assert isinstance(event, ContactUnlinked)
    assert event.subjects() == ("c-1", "a-2")
    assert contact.account_ids == ("a-1",)
    with pytest.raises(ValidationError) as info:
        contact.unlink("a-2", stamp())
    assert info.value.field == "account_id"
    with pytest.raises(ValidationError) as info:
        contact.link("a-3", "", stamp())
    assert info.value.field == "role"


def test_consent_history_keeps_every_record_and_the_latest_wins() -> None:
    contact = new_contact()
    assert contact.consent_for(Channel.EMAIL, Purpose.MARKETING) is ConsentStatus.UNKNOWN
    contact, _ = contact.record_consent("email", "marketing", True, "web form", stamp(1))
    contact, _ = contact.record_consent("sms", "marketing", True, "web form", stamp(2))
    contact, event = contact.record_consent("email", "marketing", False, "unsubscribe", stamp(3))
    assert [(r.channel, r.granted) for r in contact.consent] == [
        (Channel.EMAIL, True),
        (Channel.SMS, True),
        (Channel.EMAIL, False),
    ]
    assert contact.consent_for("email", "marketing") is ConsentStatus.WITHDRAWN
    assert contact.consent_for("sms", "marketing") is ConsentStatus.GRANTED
    assert contact.consent_for("email", "sales") is ConsentStatus.UNKNOWN
    assert event.summary() == "opted out of marketing by email (unsubscribe)"
    with pytest.raises(ValidationError) as info:
        contact.consent_for("pigeon", "marketing")
    assert info.value.field == "channel"


def test_consent_given_earlier_counts_by_when_it_was_given() -> None:
    contact = new_contact()
    contact, _ = contact.record_consent("email", "sales", False, "call", stamp(10))
    # An opt-in given on paper before the opt-out, recorded later, does not override it.
    contact, _ = contact.record_consent(
        "email", "sales", True, "paper form", stamp(20), given_at=T0
    )
    assert contact.consent[-1].at == T0
    assert contact.consent_for("email", "sales") is ConsentStatus.WITHDRAWN


@given(st.lists(consent_records(), max_size=8), st.sampled_from(Channel), st.sampled_from(Purpose))
def test_consent_status_is_the_latest_record_by_time(
    history: list[ConsentRecord], channel: Channel, purpose: Purpose
) -> None:
    status = consent_status(tuple(history), channel, purpose)
    relevant = [r for r in history if (r.channel, r.purpose) == (channel, purpose)]
    if not relevant:
        assert status is ConsentStatus.UNKNOWN
        return
    latest_at = max(r.at for r in relevant)
    latest = [r for r in relevant if r.at == latest_at][-1]  # ties: the later record wins
    assert status is (ConsentStatus.GRANTED if latest.granted else ConsentStatus.WITHDRAWN)


@given(contacts())
def test_generated_contacts_are_consistent(contact: Contact) -> None:
    assert sum(role.primary for role in contact.accounts) <= 1
    assert len(set(contact.account_ids)) == len(contact.accounts)
    assert contact.updated_at >= contact.created_at


@given(accounts(), st.sampled_from(["archive", "restore"]))
def test_archive_and_restore_follow_the_table_for_any_account(
    account: Account, command: str
) -> None:
    allowed = account.status is (
        PartyStatus.ACTIVE if command == "archive" else PartyStatus.ARCHIVED
    )
    if allowed:
        new, event = getattr(account, command)(stamp())
        assert new.version == event.version == account.version + 1
        assert new.status is not account.status
    else:
        with pytest.raises(InvalidTransition):
            getattr(account, command)(stamp())


def test_update_of_a_contact_reports_its_own_event_type() -> None:
    _, event = new_contact().update(stamp(), title="CFO")
    assert isinstance(event, ContactChanged)
    assert event.event_type == "contact_changed"
