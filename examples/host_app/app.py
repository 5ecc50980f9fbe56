"""The application factory and the routes: contacts, leads and the customer timeline.

Every request that touches crmkit opens exactly one unit of work for its
principal. The ``with`` block commits when it ends without an error (and
rolls back otherwise), and the response is built after it, so a client never
hears of a change that was not committed.
"""

from __future__ import annotations

import attrs
from flask import Blueprint, Flask, Response, url_for

from crmkit import ConcurrencyConflict, Crm, LeadInput
from crmkit.app.records import CONTACTS, LEADS

from .errors import problem
from .identity import CRM_EXTENSION, current_crm, unit_of_work
from .payloads import (
    ContactChanges,
    NewContact,
    body,
    cursor_arg,
    idempotency_key,
    if_match,
    int_arg,
    page,
    record,
    require_if_match,
)

MAX_BODY_BYTES = 1 << 20
"""Larger request bodies are refused with 413 before they are read."""

api = Blueprint("crm", __name__)


def create_app(crm: Crm) -> Flask:
    """A Flask application serving ``crm``, the host's one `Crm` (its composition root).

    The application does not own ``crm``: whoever opened it closes it.
    """
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[CRM_EXTENSION] = crm
    app.register_blueprint(api)
    app.register_error_handler(Exception, problem)  # the one handler, Flask's errors included
    return app


def _check_version(kind: str, id: str, current: int) -> None:
    """Refuse a write based on a version other than ``current`` (the one just read).

    crmkit checks, when the unit of work commits, that the record is still at the
    version this request read; this check ties that version to the one the client
    read, which crmkit cannot know.
    """
    expected = if_match()
    if expected is not None and expected != current:
        raise ConcurrencyConflict(kind, id, expected)


# --- contacts ------------------------------------------------------------------------


@api.post("/contacts")
def create_contact() -> Response:
    """Create a contact; a retry with the same ``Idempotency-Key`` gets the first one."""
    new = body(NewContact)
    with unit_of_work() as uow:
        contact = uow.contacts.create(
            new.last_name,
            first_name=new.first_name,
            title=new.title,
            emails=new.emails,
            phones=new.phones,
            addresses=new.addresses,
            owner_id=new.owner_id or uow.principal.id,
            tags=new.tags,
            time_zone=new.time_zone,
            account_id=new.account_id,
            role=new.role,
            idempotency_key=idempotency_key(),
        )
        replayed = contact.id not in {c.id for c in uow.staged(CONTACTS)}
        view = uow.contacts.view(contact.id)
    return record(view, 201, location=url_for(".get_contact", id=contact.id), replayed=replayed)


@api.get("/contacts")
def list_contacts() -> Response:
    """Active contacts by name, a keyset page at a time (``?limit=&cursor=``)."""
    with unit_of_work() as uow:
        found = uow.contacts.find(limit=int_arg("limit", 50), cursor=cursor_arg())
        views = [uow.contacts.view(contact.id) for contact in found]
    return page(views, found.next_cursor)


@api.get("/contacts/<id>")
def get_contact(id: str) -> Response:
    """One contact, with its version as the ``ETag``."""
    with unit_of_work() as uow:
        view = uow.contacts.view(id)
    return record(view)


@api.patch("/contacts/<id>")
def update_contact(id: str) -> Response:
    """Change a contact; ``If-Match`` must carry the version the client read (428 without)."""
    require_if_match()  # a blind overwrite must say so: If-Match: *
    changes = body(ContactChanges)
    with unit_of_work() as uow:
        _check_version(CONTACTS.kind, id, uow.contacts.get(id).version)
        contact = uow.contacts.update(id, **changes.given())
        view = uow.contacts.view(contact.id)
    return record(view)


@api.get("/contacts/<id>/timeline")
def contact_timeline(id: str) -> Response:
    """The contact's timeline, newest first; pass ``next_cursor`` back as ``?cursor=``."""
    with unit_of_work() as uow:
        uow.contacts.view(id)  # 404 for an unknown contact, 403 for one out of reach
        entries = current_crm().timeline(
            id, uow.principal, limit=int_arg("limit", 20), cursor=cursor_arg()
        )
        items = [uow.converter.unstructure(entry) for entry in entries]
    return page(items, entries.next_cursor)


# --- leads ---------------------------------------------------------------------------


@api.post("/leads")
def capture_lead() -> Response:
    """Capture a lead (the fields of `LeadInput`); ``Idempotency-Key`` makes it retry-safe."""
    data = body(LeadInput)
    with unit_of_work() as uow:
        if data.owner_id is None:
            data = attrs.evolve(data, owner_id=uow.principal.id)
        lead = uow.leads.capture(data, idempotency_key=idempotency_key())
        replayed = lead.id not in {staged.id for staged in uow.staged(LEADS)}
        view = uow.leads.view(lead.id)
    return record(view, 201, location=url_for(".get_lead", id=lead.id), replayed=replayed)


@api.get("/leads/<id>")
def get_lead(id: str) -> Response:
    """One lead, with its version as the ``ETag``."""
    with unit_of_work() as uow:
        view = uow.leads.view(id)
    return record(view)


@api.post("/leads/<id>/work")
def work_lead(id: str) -> Response:
    """Start working a lead (409 if its state does not allow it); ``If-Match`` optional."""
    with unit_of_work() as uow:
        _check_version(LEADS.kind, id, uow.leads.get(id).version)
        lead = uow.leads.work(id)
        view = uow.leads.view(lead.id)
    return record(view)
