"""Automation rules run in the unit of work: as the rule, atomically, within the depth limit,
and never around consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmkit import Crm, Email, FakeClock, Principal
from crmkit.adapters.memory import MemoryStore
from crmkit.app.notifier import Template
from crmkit.app.policies import PolicyLoop
from crmkit.app.records import ACTIVITIES, LEADS
from crmkit.extension.rules import rules_from_list
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.testing.faults import every_step_is_atomic

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = Principal("u-anna", roles={"admin"})
RULES = rules_from_list(
    [
        {
            "id": "big-company", "name": "Follow up leads from companies", "on": "lead_captured",
            "when": {"type": "exists", "field": "record.company"},
            "then": [
                {"type": "assign_owner", "round_robin": ["u-bo", "u-cy"]},
                {"type": "create_task", "subject": "Call ${record.company}", "due_in_days": 2,
                 "owner": "u-bo"},
                {"type": "transition", "command": "work"},
            ],
        },
    ]
)  # fmt: skip


def _crm(rules: object = RULES, **kw: object) -> Crm:
    clock = FakeClock(T0, tick=timedelta(seconds=1))
    return Crm(MemoryStore(), clock=clock, ids=SequentialIds("r"), rules=rules, **kw)  # type: ignore[arg-type]


def test_a_rule_acts_on_the_event_as_itself() -> None:
    crm = _crm()
    with crm.unit_of_work(ANNA) as uow:
        lead = uow.leads.capture(last_name="Berg", company="ACME")
        plain = uow.leads.capture(last_name="Solo")
    with crm.unit_of_work(ANNA) as uow:
        done = uow.get(LEADS, lead.id)
        (task,) = uow.find(ACTIVITIES).items
        assert uow.get(LEADS, plain.id).status.value == "new"  # the condition did not hold
    assert done.owner_id in ("u-bo", "u-cy")
    assert done.status.value == "working"
    assert (task.subject, task.owner_id) == ("Call ACME", "u-bo")
    assert task.occurred_at.date() == (T0 + timedelta(days=2)).date()  # the task is due in 2 days
    actors = {event.event_type: event.actor for _, event in crm.events()}
    assert actors["lead_captured"] == "u-anna"
    assert actors["lead_assigned"] == actors["activity_logged"] == "rule:big-company"


def test_rules_that_trigger_each_other_stop_at_the_depth_limit() -> None:
    loop = rules_from_list(
        [
            {"id": "ping", "name": "Tag on tag", "on": "lead_tagged", "when": None,
             "then": [{"type": "log_activity", "kind": "note", "subject": "again"},
                      {"type": "transition", "command": "nurture"}]},
            {"id": "pong", "name": "Work on nurture", "on": "lead_nurtured", "when": None,
             "then": [{"type": "transition", "command": "work"}]},
            {"id": "back", "name": "Nurture on work", "on": "lead_worked", "when": None,
             "then": [{"type": "transition", "command": "nurture"}]},
        ]
    )  # fmt: skip
    crm = _crm(loop)
    with crm.unit_of_work(ANNA) as uow:
        lead = uow.leads.capture(last_name="Berg")
    before = len(crm.events())
    with pytest.raises(PolicyLoop), crm.unit_of_work(ANNA) as uow:
        uow.leads.tag(lead.id, "vip")
    assert len(crm.events()) == before  # nothing committed


def test_a_fault_in_any_action_leaves_the_store_as_it_was() -> None:
    crm = _crm()
    assert every_step_is_atomic(crm, lambda uow: uow.leads.capture(last_name="B", company="X")) >= 4


def test_a_notification_goes_nowhere_without_consent() -> None:
    rules = rules_from_list(
        [{"id": "hello", "name": "Welcome", "on": "contact_created", "when": None,
          "then": [{"type": "notify", "channel": "email", "purpose": "marketing",
                    "template_key": "welcome", "to": "record.id"}]}]
    )  # fmt: skip
    crm = _crm(rules, templates={"welcome": Template("Welcome", "Hello $first_name")})
    with crm.unit_of_work(ANNA) as uow:
        uow.contacts.create("Berg", first_name="Bob", emails=[Email("bob@example.com")])
    assert crm.store.claim_outbox(crm.tenant, now=2**62, limit=10, lease=1) == []


def test_bad_rules_are_refused_when_the_crm_is_made() -> None:
    rules = rules_from_list(
        [{"id": "x", "name": "X", "on": "lead_captured", "when": None,
          "then": [{"type": "notify", "channel": "email", "purpose": "sales",
                    "template_key": "missing", "to": "record.id"}]}]
    )  # fmt: skip
    with pytest.raises(ValidationError, match="template"):
        _crm(rules)
    odd = rules_from_list(
        [{"id": "y", "name": "Y", "on": "lead_captured", "when": None,
          "then": [{"type": "transition", "command": "teleport"}]}]
    )  # fmt: skip
    crm = _crm(odd)
    with pytest.raises(ValidationError, match="teleport"), crm.unit_of_work(ANNA) as uow:
        uow.leads.capture(last_name="Berg")
