"""A stateful test of whole units of work on ``crmkit.open("memory://")``.

Each step runs one unit of work with a few random commands (creates, changes,
links, consent, archiving, activities). Some units fail midway, either in the
host's code or with a command the lifecycle refuses, and must leave no trace.
After every step, every committed record reloads equal to a model the test
keeps, and the event log and timeline hold exactly the events of committed
units: per record, versions 1, 2, ... with one timeline entry each.
"""

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

import crmkit
from crmkit import FakeClock, InvalidTransition, NotFound, Principal, RecordRef, SequentialIds
from crmkit.app.unit_of_work import UnitOfWork
from crmkit.ports.query import Query

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACCOUNT_NAMES = ("ACME", "Globex", "Initech", "Umbrella")
LAST_NAMES = ("Berg", "Prince", "Stark", "Wayne")
TAGS = ("vip", "key", "north")
ROLES = ("buyer", "cfo")
PRINCIPALS = (Principal("u-anna"), Principal("u-carl"))

Model = dict[str, dict[str, dict[str, Any]]]  # kind -> id -> fields


class Boom(Exception):
    """The host's own code failed in the middle of a unit of work."""


def _account_ids(contact: dict[str, Any]) -> list[str]:
    """A contact's accounts, primary first (as `Contact.account_ids` orders them)."""
    return [a for a, _, _ in sorted(contact["links"], key=lambda link: not link[2])]


class Unit:
    """One unit of work in progress: the service calls and the model they should produce."""

    def __init__(self, uow: UnitOfWork, model: Model, data: st.DataObject) -> None:
        self.uow, self.model, self.data = uow, model, data
        self.returned: dict[str, Any] = {}
        self.created: list[str] = []

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.data.draw(strategy)

    def pick(self, kind: str, **where: Any) -> str | None:
        ids = [i for i, m in self.model[kind].items() if all(m[k] == v for k, v in where.items())]
        return self.draw(st.sampled_from(ids)) if ids else None

    def done(self, kind: str, obj: Any, new: bool = False) -> None:
        self.returned[obj.id] = obj
        if new:
            self.created.append(obj.id)
        assert obj.version == self.model[kind][obj.id]["version"]

    # --- commands the model allows ------------------------------------------

    def ops(self) -> list[Callable[[], bool]]:
        return [
            self.create_account,
            self.create_contact,
            self.rename,
            self.tag,
            self.link,
            self.unlink,
            self.consent,
            self.archive_or_restore,
            self.log_activity,
            self.plan_activity,
            self.move_activity,
        ]

    def create_account(self) -> bool:
        name, tags = (
            self.draw(st.sampled_from(ACCOUNT_NAMES)),
            self.draw(st.sets(st.sampled_from(TAGS))),
        )
        account = self.uow.accounts.create(name, tags=[t.upper() for t in tags])
        self.model["account"][account.id] = {
            "version": 1, "status": "active", "name": name, "tags": sorted(tags)
        }  # fmt: skip
        self.done("account", account, new=True)
        return True

    def create_contact(self) -> bool:
        account_id = self.draw(st.none() | st.sampled_from(sorted(self.model["account"]) or [None]))
        last_name = self.draw(st.sampled_from(LAST_NAMES))
        contact = self.uow.contacts.create(last_name, account_id=account_id, role="buyer")
        links = [] if account_id is None else [(account_id, "buyer", True)]
        self.model["contact"][contact.id] = {
            "version": 1 + len(links), "status": "active", "name": last_name, "tags": [],
            "links": links, "consent": [],
        }  # fmt: skip
        self.done("contact", contact, new=True)
        return True

    def rename(self) -> bool:
        kind = self.draw(st.sampled_from(["account", "contact"]))
        id = self.pick(kind, status="active")
        if id is None:
            return False
        model = self.model[kind][id]
        name = self.draw(
            st.sampled_from([n for n in (*ACCOUNT_NAMES, *LAST_NAMES) if n != model["name"]])
        )
        if kind == "account":
            obj = self.uow.accounts.update(id, name=name)
        else:
            obj = self.uow.contacts.update(id, last_name=name)
        model.update(name=name, version=model["version"] + 1)
        self.done(kind, obj)
        return True

    def tag(self) -> bool:
        kind = self.draw(st.sampled_from(["account", "contact"]))
        id = self.pick(kind, status="active")
        if id is None or len(self.model[kind][id]["tags"]) == len(TAGS):
            return False
        model = self.model[kind][id]
        tag = self.draw(st.sampled_from([t for t in TAGS if t not in model["tags"]]))
        obj = (self.uow.accounts if kind == "account" else self.uow.contacts).tag(id, tag)
        model.update(tags=sorted([*model["tags"], tag]), version=model["version"] + 1)
        self.done(kind, obj)
        return True

    def link(self) -> bool:
        contact_id = self.pick("contact", status="active")
        account_id = self.pick("account")
        if contact_id is None or account_id is None:
            return False
        role, primary = self.draw(st.sampled_from(ROLES)), self.draw(st.booleans())
        contact = self.uow.contacts.link(contact_id, account_id, role, primary=primary)
        model = self.model["contact"][contact_id]
        others = [(a, r, p and not primary) for a, r, p in model["links"] if a != account_id]
        model.update(links=[*others, (account_id, role, primary)], version=model["version"] + 1)
        self.done("contact", contact)
        return True

    def unlink(self) -> bool:
        linked = [
            i for i, m in self.model["contact"].items() if m["links"] and m["status"] == "active"
        ]
        if not linked:
            return False
        contact_id = self.draw(st.sampled_from(linked))
        model = self.model["contact"][contact_id]
        account_id = self.draw(st.sampled_from([a for a, _, _ in model["links"]]))
        contact = self.uow.contacts.unlink(contact_id, account_id)
        model.update(links=[link for link in model["links"] if link[0] != account_id])
        model["version"] += 1
        self.done("contact", contact)
        return True

    def consent(self) -> bool:
        contact_id = self.pick("contact")  # archived contacts too: an opt-out is never lost
        if contact_id is None:
            return False
        channel = self.draw(st.sampled_from(["email", "sms"]))
        granted = self.draw(st.booleans())
        contact = self.uow.contacts.record_consent(
            contact_id, channel, "marketing", granted=granted, source="form"
        )
        model = self.model["contact"][contact_id]
        model["consent"].append((channel, "marketing", granted))
        model["version"] += 1
        self.done("contact", contact)
        assert contact.consent_for(channel, "marketing").value == (
            "granted" if granted else "withdrawn"
        )
        return True

    def archive_or_restore(self) -> bool:
        kind = self.draw(st.sampled_from(["account", "contact"]))
        id = self.pick(kind)
        if id is None:
            return False
        model = self.model[kind][id]
        service = self.uow.accounts if kind == "account" else self.uow.contacts
        if model["status"] == "active":
            obj, model["status"] = service.archive(id), "archived"
        else:
            obj, model["status"] = service.restore(id), "active"
        model["version"] += 1
        self.done(kind, obj)
        return True

    def _about(self) -> tuple[list[RecordRef], list[str]] | None:
        refs = [RecordRef(kind, id) for kind in ("contact", "account") for id in self.model[kind]]
        if not refs:
            return None
        about = self.draw(st.lists(st.sampled_from(refs), min_size=1, max_size=2, unique=True))
        expected = [ref.id for ref in about]
        for ref in about:
            if ref.kind == "contact":
                expected += _account_ids(self.model["contact"][ref.id])
        return about, list(dict.fromkeys(expected))

    def log_activity(self) -> bool:
        about = self._about()
        if about is None:
            return False
        activity = self.uow.activities.log("call", "Call", about[0])
        self.model["activity"][activity.id] = {
            "version": 1, "status": "done", "name": "Call", "links": about[1]
        }  # fmt: skip
        self.done("activity", activity, new=True)
        return True

    def plan_activity(self) -> bool:
        about = self._about()
        if about is None:
            return False
        activity = self.uow.activities.plan("task", "Task", about[0], T0 + timedelta(days=7))
        self.model["activity"][activity.id] = {
            "version": 1, "status": "planned", "name": "Task", "links": about[1]
        }  # fmt: skip
        self.done("activity", activity, new=True)
        return True

    def move_activity(self) -> bool:
        id = self.pick("activity", status="planned")
        if id is None:
            return False
        command = self.draw(st.sampled_from(["complete", "cancel", "reschedule"]))
        model = self.model["activity"][id]
        if command == "reschedule":
            activity = self.uow.activities.reschedule(id, T0 + timedelta(days=9))
        else:
            activity = getattr(self.uow.activities, command)(id)
            model["status"] = "done" if command == "complete" else "cancelled"
        model["version"] += 1
        self.done("activity", activity)
        return True

    # --- a command the lifecycle refuses ------------------------------------------

    def refused(self) -> None:
        """Run a command the model says is not allowed; it must raise `InvalidTransition`."""
        choices: list[tuple[str, Callable[[], object]]] = []
        for kind, service in (("account", self.uow.accounts), ("contact", self.uow.contacts)):
            for id, model in self.model[kind].items():
                if model["status"] == "active":
                    choices.append(("restore", lambda s=service, i=id: s.restore(i)))
                else:
                    choices.append(("archive", lambda s=service, i=id: s.archive(i)))
                    choices.append(("change", lambda s=service, i=id: s.tag(i, "late")))
        for id, model in self.model["activity"].items():
            if model["status"] != "planned":
                choices.append(("complete", lambda i=id: self.uow.activities.complete(i)))
        if not choices:
            raise Boom
        command, call = self.draw(st.sampled_from(choices))
        with pytest.raises(InvalidTransition) as info:
            call()
        assert info.value.command == command
        raise info.value


class CrmMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        clock = FakeClock(T0, tick=timedelta(seconds=1))
        self.crm = crmkit.open("memory://", clock=clock, ids=SequentialIds("r"))
        self.model: Model = {"account": {}, "contact": {}, "activity": {}}
        self.last: dict[str, Any] = {}  # the object each committed record was last returned as
        self.failed: set[str] = set()  # ids created by units that did not commit
        self.positions = 0  # events in the log after the last committed unit

    @initialize(data=st.data())
    def seed(self, data: st.DataObject) -> None:
        """Start from two accounts and two contacts, so that most commands apply at once."""

        def body(unit: Unit) -> None:
            for op in (unit.create_account, unit.create_account) + (unit.create_contact,) * 2:
                op()

        self.run_unit(data, PRINCIPALS[0], body, None)

    @rule(
        data=st.data(),
        commands=st.integers(1, 4),
        failure=st.sampled_from([None, None, "boom", "refused"]),
        principal=st.sampled_from(PRINCIPALS),
    )
    def unit_of_work(
        self, data: st.DataObject, commands: int, failure: str | None, principal: Principal
    ) -> None:
        fail_at = data.draw(st.integers(0, commands)) if failure else None

        def body(unit: Unit) -> None:
            for i in range(commands + 1):
                if i == fail_at:
                    if failure == "boom":
                        raise Boom
                    unit.refused()
                if i < commands:
                    while not data.draw(st.sampled_from(unit.ops()))():
                        pass  # that command does not apply to the records there are; draw again

        self.run_unit(data, principal, body, failure)

    def run_unit(
        self,
        data: st.DataObject,
        principal: Principal,
        body: Callable[[Unit], None],
        failure: str | None,
    ) -> None:
        staged = copy.deepcopy(self.model)
        unit: Unit | None = None
        try:
            with self.crm.unit_of_work(principal) as uow:
                unit = Unit(uow, staged, data)
                body(unit)
        except (Boom, InvalidTransition):
            assert failure is not None
            if unit is not None:
                self.failed.update(unit.created)
            return
        assert failure is None
        assert unit is not None
        self.model = staged
        self.last.update(unit.returned)
        new_events = self.crm.events(after=self.positions, limit=100_000)
        assert all(event.actor == principal.id for _, event in new_events)
        self.positions += len(new_events)

    @invariant()
    def committed_records_reload_as_modelled(self) -> None:
        with self.crm.unit_of_work(PRINCIPALS[0]) as uow:
            for kind, service in (
                ("account", uow.accounts),
                ("contact", uow.contacts),
                ("activity", uow.activities),
            ):
                for id, model in self.model[kind].items():
                    obj = service.get(id)
                    assert obj == self.last[id]
                    assert (obj.version, obj.status.value) == (model["version"], model["status"])
                    if kind == "account":
                        assert (obj.name, list(obj.tags)) == (model["name"], model["tags"])
                    elif kind == "contact":
                        assert (obj.last_name, list(obj.tags)) == (model["name"], model["tags"])
                        links = [(r.account_id, r.role, r.primary) for r in obj.accounts]
                        assert links == model["links"]
                        consent = [
                            (c.channel.value, c.purpose.value, c.granted) for c in obj.consent
                        ]
                        assert consent == model["consent"]
                    else:
                        assert obj.subject == model["name"]
                        assert [ref.id for ref in obj.links] == model["links"]

    @invariant()
    def the_store_holds_exactly_what_committed_units_wrote(self) -> None:
        expected = {
            id: list(range(1, model["version"] + 1))
            for kind in self.model.values()
            for id, model in kind.items()
        }
        # The event log: per record, versions 1, 2, ... and nothing else.
        versions: dict[str, list[int]] = {}
        for _, event in self.crm.events(limit=100_000):
            versions.setdefault(event.aggregate_id, []).append(event.version)
        assert versions == expected
        # The timeline: one entry per event, under the record that changed.
        entries: dict[str, int] = {}
        for doc in self.crm.store.query(self.crm.tenant, Query("timeline", limit=10_000)):
            record = json.loads(doc.body)["record"]["id"]
            entries[record] = entries.get(record, 0) + 1
        assert entries == {id: len(v) for id, v in expected.items()}
        # Nothing a failed unit created is stored under any kind.
        for id in self.failed:
            for kind in self.model:
                assert self.crm.store.get(self.crm.tenant, kind, id) is None
        with self.crm.unit_of_work(PRINCIPALS[0]) as uow:
            for id in self.failed:
                with pytest.raises(NotFound):
                    uow.contacts.get(id)


def test_units_of_work_commit_everything_or_nothing() -> None:
    run_state_machine_as_test(
        CrmMachine, settings=settings(max_examples=100, stateful_step_count=10, deadline=None)
    )
