"""Erasure: the one exception to an append-only event log and outbox.

A person may ask for their data to be erased. Their records are rewritten
without personal fields through an ordinary `ChangeSet`, but copies of the
data also sit in stored event bodies (append-only by rule) and in outbox
messages (rendered bodies, queued or sent). A store that offers the optional
`Erasing` capability rewrites those too, in the same transaction, and then
makes the old bytes unrecoverable from its own files where it can:

* `Erasing.erase` applies a change set exactly as `DocumentStore.commit`
  does, replaces the JSON body of each named stored event (its type, stream,
  version and position stay), and replaces the body of every outbox message
  of one party, whatever its status, with `ERASED_BODY`; all or nothing.
* `Erasing.outbox_of` lists every outbox message of a party, for a
  subject-access export and before an erasure.

`ERASED_BODY` does not structure as a `crmkit.ports.notify.Message`, so the
dispatcher dead-letters a pending message of an erased party as unreadable
when it next claims it: it is never sent. (A message that a dispatcher had
already claimed and read before the erasure committed may still go out
once; delivery is at least once.)

Like `crmkit.ports.aggregate.Aggregating`, the capability is structural and
checked with ``isinstance(store, Erasing)``; the storage conformance kit runs
its erasure tests on every store that has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Protocol, runtime_checkable

from crmkit.kernel.errors import ValidationError
from crmkit.ports.storage import ChangeSet, OutboxEntry

__all__ = ["ERASED_BODY", "Erasing", "check_erasure", "check_party"]

ERASED_BODY: Final = '{"erased":true}'
"""The body an erased outbox message keeps: valid JSON, but not a message.

It lacks every field a `crmkit.ports.notify.Message` needs, so the dispatcher
dead-letters the message as unreadable instead of sending it.
"""


@runtime_checkable
class Erasing(Protocol):
    """A store that can rewrite stored events and outbox messages to erase a person.

    Both methods are scoped by tenant, raise `ValidationError` for bad
    arguments and `StorageError` (or a child) for a driver failure, like the
    methods of `crmkit.ports.storage.DocumentStore`.
    """

    def erase(
        self, tenant: str, changes: ChangeSet, events: Mapping[str, str], party_id: str | None
    ) -> None:
        """Apply ``changes``, rewrite events and blank ``party_id``'s outbox, in one transaction.

        ``changes`` is applied exactly as `DocumentStore.commit` applies it
        (versions, unique values, event and outbox checks, the same errors in
        the same order). Then each stored event whose `EventRecord.id` is a key
        of ``events`` gets that value as its new body; its type, stream,
        version and position do not change. An id that names no event of the
        tenant (nor of ``changes``) raises `ValidationError` naming
        ``events``. Last, when ``party_id`` is not None, every outbox message
        of the tenant addressed to it (any status, those of ``changes``
        included) gets `ERASED_BODY` as its body; its status, attempts and
        receipt stay. When anything fails, nothing is written.

        After the commit the store removes the old bytes from its files where
        it can (SQLite zeroes freed space and truncates its write-ahead log);
        see each adapter for what remains, for example in server logs or
        backups.
        """
        ...

    def outbox_of(self, tenant: str, party_id: str) -> list[OutboxEntry]:
        """Every outbox message of the tenant addressed to ``party_id``, any status, by id."""
        ...


def check_erasure(changes: object, events: object, party_id: object) -> dict[str, str]:
    """Validate the arguments of `Erasing.erase`; the event bodies as a plain dict.

    Adapters call it first, so every store refuses the same bad input with
    the same `ValidationError` before anything is written.
    """
    if not isinstance(changes, ChangeSet):
        raise ValidationError("changes", "must be a ChangeSet", type(changes).__name__)
    if not isinstance(events, Mapping):
        raise ValidationError("events", "must map event ids to JSON bodies", type(events).__name__)
    bodies: dict[str, str] = {}
    for id, body in events.items():
        if not isinstance(id, str) or not isinstance(body, str):
            raise ValidationError("events", "must map event ids (str) to JSON bodies (str)", id)
        bodies[id] = body
    if party_id is not None and not isinstance(party_id, str):
        raise ValidationError("party_id", "must be a party id or None", type(party_id).__name__)
    return bodies


def check_party(party_id: object) -> str:
    """Validate the ``party_id`` of `Erasing.outbox_of`."""
    if not isinstance(party_id, str):
        raise ValidationError("party_id", "must be a party id", type(party_id).__name__)
    return party_id
