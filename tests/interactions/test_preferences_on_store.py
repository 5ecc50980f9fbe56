"""Channel preferences on the store: the notifier chooses the channel and says why it cannot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmkit import Crm, Email, FakeClock, Principal
from crmkit.app.notifier import Refusal
from crmkit.interactions.preferences import ChannelPreferences
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.parties.values import Phone
from crmkit.ports.notify import Message
from crmkit.ports.storage import DocumentStore

EVENING = datetime(2026, 3, 3, 19, 0, tzinfo=UTC)  # 20:00 in Berlin, outside contact hours
ANNA = Principal("u-anna")


@pytest.fixture
def crm(any_store: DocumentStore) -> Crm:
    return Crm(any_store, clock=FakeClock(EVENING), ids=SequentialIds("r"))


def _bob(crm: Crm, prefs: ChannelPreferences) -> str:
    with crm.unit_of_work(ANNA) as uow:
        bob = uow.contacts.create(
            "Berg", first_name="Bob", emails=[Email("bob@example.com")],
            phones=[Phone("+4930123456")], time_zone="Europe/Berlin",
        )  # fmt: skip
        uow.contacts.set_preferences(bob.id, prefs)
    return bob.id


def test_the_notifier_follows_the_preferences(crm: Crm) -> None:
    bob = _bob(crm, ChannelPreferences(service=("phone", "email")))
    with crm.unit_of_work(ANNA) as uow:
        choice = uow.notifications.choose(bob, "service")
        sent = uow.notifications.send(
            channel=None, purpose="service", key="k-1", party_id=bob, text="Your case is solved"
        )
        assert uow.contacts.preferences(bob).service[0].value == "phone"
    assert choice.channel.value == "email"  # the phone is outside contact hours at 20:00
    assert [str(skip) for skip in choice.skipped] == ["phone: outside contact hours"]
    assert isinstance(sent, Message)
    assert sent.channel == "email"


def test_a_refusal_says_why_for_every_channel(crm: Crm) -> None:
    bob = _bob(crm, ChannelPreferences(marketing=("email",), do_not_email=True))
    with crm.unit_of_work(ANNA) as uow:
        refused = uow.notifications.send(
            channel=None, purpose="marketing", key="k-2", party_id=bob, text="Offer"
        )
    assert isinstance(refused, Refusal)
    assert refused.reason.startswith("no channel: email: ")
    assert "phone" in refused.reason
    assert "bob@example.com" not in refused.reason


def test_choosing_needs_a_contact(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        with pytest.raises(ValidationError, match="channel"):
            uow.notifications.send(channel=None, purpose="service", key="k", to="x@y.z", text="t")
        with pytest.raises(ValidationError, match="preferences"):
            uow.contacts.set_preferences(_bob(crm, ChannelPreferences()), "phone")  # type: ignore[arg-type]
