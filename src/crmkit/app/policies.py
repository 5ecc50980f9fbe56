"""Policies: handlers that react to a domain event inside the unit of work that raised it.

A policy turns one fact into the next step of a process, such as "a quote
was accepted, so draft its contract". It runs while the unit of work is still
open, so everything it stages commits with the event that caused it, or not
at all. Policies may raise events that trigger other policies; a chain deeper
than `MAX_DEPTH` stops with `PolicyLoop` instead of running forever.

Side effects outside the store (email, webhooks) do not belong here: queue
them in the outbox, which sends them after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final

from crmkit.kernel.errors import CrmError, ValidationError
from crmkit.kernel.events import DomainEvent

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

Handler = Callable[[DomainEvent, "UnitOfWork"], None]
"""A policy: called with the event and the open unit of work."""

MAX_DEPTH: Final = 8
"""How deep policies may trigger one another within one command."""


class PolicyLoop(CrmError):
    """Policies triggered one another deeper than `MAX_DEPTH`: most likely a loop."""


class Policies:
    """The policies of a CRM, by the event type they react to, run in registration order."""

    def __init__(self, handlers: Iterable[tuple[type[DomainEvent], Handler]] = ()) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        for event_class, handler in handlers:
            self.on(event_class, handler)

    def on(self, event_class: type[DomainEvent], handler: Handler) -> None:
        """Run ``handler`` for every ``event_class`` event raised in a unit of work."""
        if not (isinstance(event_class, type) and issubclass(event_class, DomainEvent)):
            raise ValidationError("event_class", "must be a DomainEvent class", event_class)
        if not callable(handler):
            raise ValidationError("handler", "must be callable", handler)
        self._handlers.setdefault(event_class.event_type, []).append(handler)

    def for_event(self, event: DomainEvent) -> tuple[Handler, ...]:
        """The handlers of ``event``'s type."""
        return tuple(self._handlers.get(event.event_type, ()))

    def including(self, handlers: Iterable[tuple[type[DomainEvent], Handler]]) -> Policies:
        """A copy of these policies with ``handlers`` added after them."""
        copy = Policies()
        copy._handlers = {name: list(found) for name, found in self._handlers.items()}
        for event_class, handler in handlers:
            copy.on(event_class, handler)
        return copy
