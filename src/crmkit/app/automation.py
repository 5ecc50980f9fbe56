"""Automation: the host's rules (`crmkit.extension.rules`) run inside the unit of work.

``Crm(rules=..., templates=...)`` gives the CRM its rules. After the
projections and policies of each event, the unit of work asks `Automation`
which enabled rules on that event type fire for the facts
``{"event": ..., "record": ...}`` (both as JSON-ready data) and runs their
actions at once, through the same services a user would call:

* `CreateTask` plans a task on the record, due in ``due_in_days``;
* `LogActivity` logs an activity on the record;
* `AssignOwner` calls the service's ``assign``; with a ``round_robin`` list the
  owner is picked by the record's id, so one record always gets the same one;
* `SetField` calls the service's ``update`` with one field, or ``set_custom``
  for a ``custom.<name>`` field (validated through the host's specs);
* `Transition` calls the service's command of that name (``work``, ``pause``...);
* `Notify` sends a message through the notifier, which checks consent: a
  refused message is not queued, and the rule goes on.

Actions act as the rule: the events they raise name ``rule:<id>`` as their
actor, so the timeline, the event log and the audit trail record which rule
took each action. They commit with the command that raised the event, or not
at all. Rules whose actions raise events that fire rules again stop at the
unit of work's depth limit with `PolicyLoop`, and the whole unit rolls back.
"""

from __future__ import annotations

import inspect
import zlib
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from crmkit.activities.activity import RecordRef
from crmkit.app.notifier import Template
from crmkit.app.records import RECORD_TYPES, RecordType
from crmkit.extension.rule_actions import (
    AssignOwner,
    CreateTask,
    LogActivity,
    Notify,
    SetField,
    Transition,
)
from crmkit.extension.rules import Firing, Rule, explain
from crmkit.kernel.checks import items
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent
from crmkit.kernel.principal import ActorKind, Principal

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

__all__ = ["Automation"]

_TYPES: dict[str, RecordType[Any]] = {t.kind: t for t in RECORD_TYPES}
# The service of each kind, as the unit of work names it.
_SERVICES = {
    "contact": "contacts",
    "account": "accounts",
    "lead": "leads",
    "opportunity": "opportunities",
    "quote": "quotes",
    "contract": "contracts",
    "complaint": "complaints",
    "case": "cases",
    "campaign": "campaigns",
}


class Automation:
    """The host's rules and the message templates their notifications use."""

    def __init__(self, rules: Iterable[Rule] = (), templates: Mapping[str, Template] = {}) -> None:
        listed = items(rules, "rules")
        for index, rule in enumerate(listed):
            if not isinstance(rule, Rule):
                raise ValidationError(f"rules[{index}]", "must be a Rule", type(rule).__name__)
            for action in rule.then:
                if isinstance(action, Notify) and action.template_key not in templates:
                    raise ValidationError(
                        f"rules[{index}]", "names a template that is not given", action.template_key
                    )
        self.rules: tuple[Rule, ...] = listed
        self.templates = dict(templates)
        self._events = frozenset(rule.on for rule in listed if rule.enabled)

    def __bool__(self) -> bool:
        return bool(self._events)

    def reacts_to(self, event: DomainEvent) -> bool:
        """Whether an enabled rule is on ``event``'s type."""
        return event.event_type in self._events

    def facts(self, event: DomainEvent, uow: UnitOfWork) -> dict[str, object]:
        """What conditions and templates read: the event and its record, as JSON-ready data."""
        conv = uow.converter
        rtype = _TYPES.get(event.stream_kind())
        record = None if rtype is None else uow.get_or_none(rtype, event.aggregate_id)
        return {
            "event": conv.unstructure(event),
            "record": {} if record is None else conv.unstructure(record),
        }

    def react(self, event: DomainEvent, uow: UnitOfWork) -> None:
        """Run the actions of every rule that fires for ``event``, as that rule."""
        if not self.reacts_to(event):
            return
        for firing in explain(self.rules, event.event_type, self.facts(event, uow)):
            rule = Principal(f"rule:{firing.rule_id}", kind=ActorKind.RULE)
            with uow.acting_as(rule):
                for index, action in enumerate(firing.actions):
                    self._run(firing, index, action, event, uow)

    def _run(
        self, firing: Firing, index: int, action: object, event: DomainEvent, uow: UnitOfWork
    ) -> None:
        kind, id = event.stream_kind(), event.aggregate_id
        about = [RecordRef(kind, id)]
        if isinstance(action, CreateTask):
            due = uow.stamp().at + timedelta(days=action.due_in_days)
            uow.activities.plan("task", action.subject, about, due, owner_id=action.owner)
        elif isinstance(action, LogActivity):
            uow.activities.log(action.kind, action.subject, about)
        elif isinstance(action, AssignOwner):
            owners = action.round_robin
            owner = action.owner_id if not owners else owners[zlib.crc32(id.encode()) % len(owners)]
            _command(uow, kind, "assign", firing)(id, owner)
        elif isinstance(action, SetField) and action.field.startswith("custom."):
            name = action.field.removeprefix("custom.")
            _command(uow, kind, "set_custom", firing)(id, {name: action.value})
        elif isinstance(action, SetField):
            _command(uow, kind, "update", firing)(id, **{action.field: action.value})
        elif isinstance(action, Transition):
            _command(uow, kind, action.command, firing)(id)
        elif isinstance(action, Notify):
            found, party = action.to.lookup(self.facts(event, uow))
            if found and isinstance(party, str):
                uow.notifications.send(
                    channel=action.channel,
                    purpose=action.purpose,
                    # The action's index keeps two notify actions of one rule apart.
                    key=f"rule:{firing.rule_id}:{index}:{kind}:{id}:{event.version}",
                    party_id=party,
                    template=self.templates[action.template_key],
                )


def _command(uow: UnitOfWork, kind: str, name: str, firing: Firing) -> Callable[..., object]:
    service = getattr(uow, _SERVICES.get(kind, ""), None)
    command = getattr(service, name, None) if not name.startswith("_") else None
    if not callable(command):
        raise ValidationError(
            f"rules[{firing.rule_id}]", f"{kind} records have no command {name!r}", name
        )
    checked: Callable[..., object] = command

    def call(*args: object, **kwargs: object) -> object:
        # Bind first: a command that needs more (``lose`` needs a reason) or a field
        # that ``update`` does not take is the rule's error, not a TypeError from the service.
        try:
            inspect.signature(checked).bind(*args, **kwargs)
        except TypeError as exc:
            raise ValidationError(
                f"rules[{firing.rule_id}]", f"{kind} command {name!r} cannot run: {exc}", name
            ) from None
        return checked(*args, **kwargs)

    return call
