"""Domain events: immutable facts, named in the past tense.

Each event class has a stable ``event_type`` name and a ``schema_version``,
so that stored events can be upcast when a class changes shape. Events carry
the id of the aggregate, the aggregate's version after the change, the time
(from the injected clock) and the acting principal's id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

import attrs

from crmkit.kernel.errors import ValidationError

PERSONAL: Final[Mapping[str, bool]] = {"personal": True}
"""attrs field metadata that marks a field as personal data (never shown in errors)."""


def is_personal(field: attrs.Attribute[Any]) -> bool:
    """Whether an attrs field was declared with ``metadata=PERSONAL``."""
    return bool(field.metadata.get("personal", False))


@attrs.frozen
class Stamp:
    """Who makes a change and when: passed to every command.

    Attributes:
        at: The time of the change (timezone-aware, from the injected clock).
        actor: Id of the acting principal.
    """

    at: datetime
    actor: str


@attrs.frozen(kw_only=True)
class DomainEvent:
    """Base class of every domain event.

    Attributes:
        aggregate_id: Id of the aggregate that changed.
        version: The aggregate's version after the change.
        occurred_at: When it happened (timezone-aware, from the injected clock).
        actor: Id of the principal who caused it.
    """

    event_type: ClassVar[str] = "domain_event"
    schema_version: ClassVar[int] = 1
    aggregate_kind: ClassVar[str] = ""

    aggregate_id: str
    version: int
    occurred_at: datetime
    actor: str

    def summary(self) -> str:
        """One line for the customer timeline; subclasses say more."""
        return self.event_type.replace("_", " ")

    def subjects(self) -> tuple[str, ...]:
        """Ids of the records whose timeline shows this event."""
        return (self.aggregate_id,)

    def stream_kind(self) -> str:
        """The kind of the record that changed (events that any kind may raise say which)."""
        return self.aggregate_kind


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the stored data of an event at schema version N into version N + 1."""


class EventRegistry:
    """The event classes an application knows, by their stable type names.

    Built explicitly by the composition root from each context's ``EVENTS``;
    crmkit keeps no global registry.
    """

    def __init__(self, classes: Iterable[type[DomainEvent]] = ()) -> None:
        self._classes: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        for cls in classes:
            self.register(cls)

    def register(self, cls: type[DomainEvent], upcasters: Mapping[int, Upcaster] = {}) -> None:
        """Add an event class; ``upcasters[n]`` lifts stored data from version n to n + 1."""
        known = self._classes.get(cls.event_type)
        if known is not None and known is not cls:
            raise ValueError(f"event type {cls.event_type!r} is registered twice")
        self._classes[cls.event_type] = cls
        for version, upcast in upcasters.items():
            self._upcasters[cls.event_type, version] = upcast

    def __iter__(self) -> Iterator[type[DomainEvent]]:
        return iter(self._classes.values())

    def lookup(self, event_type: object) -> type[DomainEvent]:
        """The class registered for ``event_type``."""
        cls = self._classes.get(event_type) if isinstance(event_type, str) else None
        if cls is None:
            raise ValidationError("type", "must be a registered event type", event_type)
        return cls

    def upcast(self, event_type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Lift stored event data from ``version`` to the class's current schema version."""
        target = self.lookup(event_type).schema_version
        while version < target:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise ValidationError(
                    "schema_version",
                    f"no upcaster for {event_type} from version {version}",
                    version,
                )
            data = step(data)
            version += 1
        if version > target:
            raise ValidationError(
                "schema_version", f"is newer than this crmkit knows ({target})", version
            )
        return data
