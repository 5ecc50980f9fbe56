"""Writing the rows of a CSV import: duplicates, ids kept, and one create command per kind.

Private to `crmkit.app.imports`, which re-exports `OnDuplicateRow` and `RECORD_TYPES`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from crmkit.activities.activity import ActivityStatus
from crmkit.app.record_type import RecordType
from crmkit.app.records import ACCOUNTS, ACTIVITIES, CONTACTS, LEADS, OPPORTUNITIES
from crmkit.extension.csv_columns import columns
from crmkit.extension.csv_format import RowData, RowError
from crmkit.kernel.errors import CrmError, ValidationError
from crmkit.ports.query import In
from crmkit.sales.capture import LeadInput
from crmkit.sales.opportunity import Opportunity

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork


class OnDuplicateRow(StrEnum):
    """What an import does with a row that matches a stored record."""

    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"


RECORD_TYPES: Final[Mapping[str, RecordType[Any]]] = {
    "contact": CONTACTS,
    "account": ACCOUNTS,
    "lead": LEADS,
    "opportunity": OPPORTUNITIES,
    "activity": ACTIVITIES,
}
"""The record type each import kind writes (and `crmkit.app.exports` reads)."""


def refusal(kind: str, row: int, exc: CrmError) -> RowError:
    """A row the store refused, as a `RowError` (no value: it may be personal)."""
    if isinstance(exc, ValidationError):
        column = exc.field if exc.field in columns(kind) else None
        return RowError(row, column, None, exc.rule)
    return RowError(row, None, None, str(exc))


def _key(kind: str, values: Mapping[str, Any]) -> str | None:
    """The duplicate key of a row without an id: its email, or an account's name."""
    if kind in ("contact", "lead"):
        email = values.get("email")
        return None if email is None else f"email:{email.key}"
    if kind == "account":
        return f"name:{str(values['name']).casefold()}"
    return None


def _record_key(kind: str, record: Any) -> str | None:
    if kind == "contact":
        return f"email:{record.emails[0].key}" if record.emails else None
    if kind == "lead":
        return None if record.email is None else f"email:{record.email.key}"
    return f"name:{record.name.casefold()}"


def stored(uow: UnitOfWork, kind: str, rows: list[RowData]) -> dict[str, Any]:
    """Stored records the batch's rows may duplicate, by ``id:<id>`` and by `_key`.

    Two queries a batch (ids, then emails or names), not one a row.
    """
    rtype = RECORD_TYPES[kind]
    ids = tuple(dict.fromkeys(str(d.values["id"]) for d in rows if "id" in d.values))
    found: dict[str, Any] = {}
    if ids:
        for record in uow.find_all(rtype, (In("id", ids),), keep=False):
            found[f"id:{record.id}"] = record
    keys = [_key(kind, d.values) for d in rows if "id" not in d.values]
    values = tuple(dict.fromkeys(k.partition(":")[2] for k in keys if k is not None))
    if values:
        field = "name" if kind == "account" else "email"
        for record in uow.find_all(rtype, (In(field, values),), keep=False):
            found.setdefault(_record_key(kind, record) or "", record)
    return found


def write_row(
    uow: UnitOfWork,
    kind: str,
    data: RowData,
    policy: OnDuplicateRow,
    found: dict[str, Any],
) -> str:
    """Write one row; ``created``, ``updated`` or ``skipped``.

    ``found`` holds the stored records the batch may duplicate; the rows
    written are added to it, so that a later row of the batch sees them.
    """
    values = dict(data.values)
    given = values.pop("id", None)
    key = f"id:{given}" if given is not None else _key(kind, values)
    duplicate = None if key is None else found.get(key)
    if duplicate is not None and policy is not OnDuplicateRow.CREATE:
        if policy is OnDuplicateRow.SKIP:
            return "skipped"
        changes = _fields(kind, values, duplicate)
        if not changes:
            return "skipped"
        service = uow.contacts if kind == "contact" else uow.accounts
        found[key or ""] = service.update(duplicate.id, **changes)
        return "updated"
    keep = None if given is None or f"id:{given}" in found else str(given)
    with _keeping_id(uow, keep):
        record = _create(uow, kind, values)
    if keep is not None and record.id != keep:
        raise CrmError(f"the {kind} of row {data.row} was not given its id {keep!r}")
    found[f"id:{record.id}"] = record
    if key is not None and given is None:
        found.setdefault(key, record)
    return "created"


def _create(uow: UnitOfWork, kind: str, values: dict[str, Any]) -> Any:
    # No idempotency keys: the batch and the import's progress commit together, so a
    # resumed import never writes a row twice, and a key per row cost a lookup per row.
    custom = values.pop("custom", {})
    if kind == "contact":
        return uow.contacts.create(
            str(values.pop("last_name")), custom=custom, **_contact_args(values)
        )
    if kind == "account":
        return uow.accounts.create(str(values.pop("name")), custom=custom, **_contact_args(values))
    if kind == "lead":
        return uow.leads.capture(LeadInput(**values), custom=custom)
    if kind == "opportunity":
        deal = _open(uow, values)
        return uow.opportunities.set_custom(deal.id, custom)
    return _activity(uow, values, custom)


def _open(uow: UnitOfWork, values: dict[str, Any]) -> Opportunity:
    """Open an opportunity as ``uow.opportunities.open`` does, with its lead and probability."""
    if values.get("account_id") is not None:
        uow.accounts.get(values["account_id"])
    for contact_id in values.get("contact_ids", ()):
        uow.contacts.get(contact_id)
    pipeline = uow.settings.pipeline(values.pop("pipeline_id", None))
    deal, event = Opportunity.open(
        uow.new_id(), str(values.pop("name")), pipeline, uow.stamp(), **values
    )
    return uow.save(OPPORTUNITIES, deal, event)


def _activity(uow: UnitOfWork, values: dict[str, Any], custom: dict[str, Any]) -> Any:
    """Log a done activity; plan a planned one (and cancel a cancelled one)."""
    status = values.pop("status", ActivityStatus.DONE)
    kind, subject, links = values.pop("kind"), values.pop("subject"), values.pop("links")
    if status is ActivityStatus.DONE:
        return uow.activities.log(kind, subject, links, custom=custom, **values)
    due = values.pop("occurred_at")
    planned = uow.activities.plan(kind, subject, links, due, custom=custom, **values)
    if status is ActivityStatus.CANCELLED and planned.status is ActivityStatus.PLANNED:
        return uow.activities.cancel(planned.id)
    return planned


@contextmanager
def _keeping_id(uow: UnitOfWork, id: str | None) -> Iterator[None]:
    """Make the next `UnitOfWork.new_id` of ``uow`` return ``id`` (when given).

    The create commands take their record's id from ``new_id`` first of all;
    the id of an imported row replaces that one id, and only that one.
    """
    if id is None:
        yield
        return
    original = uow.new_id
    given: list[str] = [id]

    def new_id() -> str:
        return given.pop() if given else original()

    uow.new_id = new_id  # type: ignore[method-assign]
    try:
        yield
    finally:
        del uow.new_id  # the instance attribute goes; the method shows through again


def _contact_args(values: dict[str, object]) -> dict[str, Any]:
    """A row's values as the keywords of ``create``: contact points become lists."""
    out: dict[str, Any] = dict(values)
    for single, many in (("email", "emails"), ("phone", "phones"), ("address", "addresses")):
        if single in out:
            out[many] = [out.pop(single)]
    return out


def _fields(kind: str, values: dict[str, object], found: Any) -> dict[str, Any]:
    """The row's fields that the stored record lacks (an update fills, it does not overwrite)."""
    args = _contact_args(values)
    allowed = {"first_name", "title", "time_zone"} if kind == "contact" else {"website", "industry"}
    return {k: v for k, v in args.items() if k in allowed and getattr(found, k, None) in (None, "")}
