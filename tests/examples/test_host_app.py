"""The example Flask host (examples/host_app) over real HTTP, on a fresh SQLite file.

Each test starts the application with werkzeug's server on a free port of
127.0.0.1 in a background thread and calls it with ``http.client``.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug.serving import make_server

import crmkit
from crmkit import FakeClock, Principal, SequentialIds
from crmkit.security.defaults import default_policy

HOST_APP = Path(__file__).resolve().parents[2] / "examples" / "host_app"


def _load_host_app() -> ModuleType:
    """The example package, imported from its folder (examples/ is not on sys.path)."""
    name = "crmkit_example_host_app"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, HOST_APP / "__init__.py", submodule_search_locations=[str(HOST_APP)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


host_app = _load_host_app()

REP = {"X-User": "u-anna", "X-Roles": "sales_rep"}
Reply = tuple[int, dict[str, str], Any]


class Client:
    """Calls one running server; every call is a new connection."""

    def __init__(self, port: int) -> None:
        self.port = port

    def call(
        self,
        method: str,
        path: str,
        payload: object = None,
        headers: dict[str, str] | None = None,
        *,
        raw: str | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            sent = dict(REP if headers is None else headers)
            data = raw if raw is not None else None if payload is None else json.dumps(payload)
            if data is not None:
                sent.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            text = response.read().decode()
            return response.status, dict(response.getheaders()), json.loads(text) if text else None
        finally:
            conn.close()


@contextmanager
def serving(app: Any) -> Iterator[Client]:
    """``app`` served on a free port of 127.0.0.1 until the block ends."""
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Client(server.server_port)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[crmkit.Crm]:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=timedelta(seconds=1))
    with crmkit.open(
        f"sqlite:///{tmp_path / 'host.db'}",
        clock=clock,
        ids=SequentialIds("h"),
        access=default_policy(),
    ) as opened:
        yield opened


@pytest.fixture
def client(crm: crmkit.Crm) -> Iterator[Client]:
    with serving(host_app.create_app(crm)) as running:
        yield running


def _count(crm: crmkit.Crm, kind: str) -> int:
    with crm.unit_of_work(Principal("u-admin", roles={"admin"})) as uow:
        service = uow.contacts if kind == "contact" else uow.leads
        return len(service.find(limit=100))


BOB = {"last_name": "Berg", "first_name": "Bob", "emails": [{"address": "bob@acme.example"}]}


def test_create_and_read_a_contact(client: Client) -> None:
    status, headers, created = client.call("POST", "/contacts", BOB)
    assert status == 201
    assert created["last_name"] == "Berg"
    assert created["owner_id"] == "u-anna"  # the caller owns what it creates
    assert headers["ETag"] == '"1"'
    assert headers["Location"] == f"/contacts/{created['id']}"
    status, headers, read = client.call("GET", headers["Location"])
    assert (status, read, headers["ETag"]) == (200, created, '"1"')
    status, _, listed = client.call("GET", "/contacts")
    assert status == 200
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert listed["next_cursor"] is None


def test_capture_read_and_work_a_lead(client: Client) -> None:
    lead = {"company": "ACME GmbH", "email": {"address": "anna@acme.example"}}
    status, headers, created = client.call("POST", "/leads", lead)
    assert (status, created["status"], created["company"]) == (201, "new", "ACME GmbH")
    status, _, read = client.call("GET", headers["Location"])
    assert (status, read) == (200, created)
    status, headers, worked = client.call("POST", f"/leads/{created['id']}/work")
    assert (status, worked["status"], headers["ETag"]) == (200, "working", '"2"')
    status, _, refused = client.call("POST", f"/leads/{created['id']}/work")
    assert status == 409
    assert refused["error"] == "invalid_transition"
    assert (refused["state"], refused["command"]) == ("working", "work")


def test_unknown_ids_give_404(client: Client) -> None:
    for path, kind in (("/contacts/h-nope", "contact"), ("/leads/h-nope", "lead")):
        status, _, problem = client.call("GET", path)
        assert (status, problem["error"], problem["kind"], problem["id"]) == (
            404,
            "not_found",
            kind,
            "h-nope",
        )
    status, _, problem = client.call("GET", "/contacts/h-nope/timeline")
    assert status == 404
    status, _, problem = client.call("GET", "/no/such/route")
    assert (status, problem["error"]) == (404, "not_found")


def test_bad_input_gives_422_naming_the_field_and_never_the_value(client: Client) -> None:
    bad = {"last_name": "Berg", "emails": [{"address": "bob-at-acme"}]}
    status, headers, problem = client.call("POST", "/contacts", bad)
    assert status == 422
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["field"] == "emails[0].address"
    assert "email address" in problem["rule"]
    assert "bob-at-acme" not in json.dumps(problem)
    status, _, problem = client.call("POST", "/leads", {"company": "ACME", "email": "a@b.example"})
    assert (status, problem["field"]) == (422, "email")
    assert "a@b.example" not in json.dumps(problem)
    status, _, problem = client.call("POST", "/contacts", {"last_name": "Berg", "nickname": "B"})
    assert (status, problem["field"]) == (422, "nickname")
    status, _, problem = client.call("POST", "/contacts", [1, 2])
    assert (status, problem["field"]) == (422, "body")
    status, _, problem = client.call("GET", "/contacts?limit=many")
    assert (status, problem["field"]) == (422, "limit")
    status, _, _ = client.call("POST", "/contacts", raw="{not json")
    assert status == 422


def test_a_stale_patch_gives_409_and_changes_nothing(client: Client) -> None:
    _, headers, created = client.call("POST", "/contacts", BOB)
    path = headers["Location"]
    status, headers, changed = client.call(
        "PATCH", path, {"title": "Buyer"}, {**REP, "If-Match": '"1"'}
    )
    assert (status, changed["title"], headers["ETag"]) == (200, "Buyer", '"2"')
    status, _, problem = client.call("PATCH", path, {"title": "CEO"}, {**REP, "If-Match": '"1"'})
    assert status == 409
    assert (problem["error"], problem["id"], problem["expected"]) == (
        "conflict",
        created["id"],
        1,
    )
    _, headers, read = client.call("GET", path)
    assert (read["title"], headers["ETag"]) == ("Buyer", '"2"')
    status, _, problem = client.call("PATCH", path, {"title": "CEO"})
    assert (status, problem["error"]) == (428, "precondition_required")
    status, _, problem = client.call("PATCH", path, {"title": "CEO"}, {**REP, "If-Match": "two"})
    assert (status, problem["field"]) == (422, "If-Match")
    status, headers, read = client.call("PATCH", path, {"title": "CEO"}, {**REP, "If-Match": "*"})
    assert (status, read["title"], headers["ETag"]) == (200, "CEO", '"3"')


def test_a_retried_post_returns_the_first_result(client: Client, crm: crmkit.Crm) -> None:
    retry = {**REP, "Idempotency-Key": "form-7f3a"}
    first = client.call("POST", "/contacts", BOB, retry)
    second = client.call("POST", "/contacts", BOB, retry)
    assert first[0] == second[0] == 201
    assert first[2] == second[2]
    assert "Idempotent-Replayed" not in first[1]
    assert second[1]["Idempotent-Replayed"] == "true"
    assert _count(crm, "contact") == 1
    lead = {"company": "ACME GmbH"}
    one = client.call("POST", "/leads", lead, retry)  # keys are per kind
    two = client.call("POST", "/leads", lead, retry)
    assert (one[0], two[0], one[2]) == (201, 201, two[2])
    assert _count(crm, "lead") == 1
    client.call("POST", "/contacts", BOB, {**REP, "Idempotency-Key": "form-other"})
    assert _count(crm, "contact") == 2


def test_the_timeline_pages_with_a_cursor(client: Client) -> None:
    _, headers, created = client.call("POST", "/contacts", BOB)
    path = headers["Location"]
    for version, title in enumerate(("Buyer", "Head of buying", "CEO"), start=1):
        status, _, _ = client.call(
            "PATCH", path, {"title": title}, {**REP, "If-Match": f'"{version}"'}
        )
        assert status == 200
    status, _, first = client.call("GET", f"{path}/timeline?limit=3")
    assert status == 200
    assert len(first["items"]) == 3
    assert first["next_cursor"]
    status, _, rest = client.call("GET", f"{path}/timeline?limit=3&cursor={first['next_cursor']}")
    assert status == 200
    assert rest["next_cursor"] is None
    entries = first["items"] + rest["items"]
    assert len({entry["id"] for entry in entries}) == 4
    assert [entry["occurred_at"] for entry in entries] == sorted(
        (entry["occurred_at"] for entry in entries), reverse=True
    )
    assert entries[-1]["event_type"] == "contact_created"
    assert all(created["id"] in entry["subjects"] for entry in entries)
    status, _, problem = client.call("GET", f"{path}/timeline?cursor=garbage")
    assert (status, problem["field"]) == (422, "cursor")


def test_the_principal_comes_from_the_request(client: Client) -> None:
    _, headers, _ = client.call("POST", "/contacts", BOB)
    reader = {"X-User": "u-ray", "X-Roles": "read_only"}
    status, _, _ = client.call("GET", headers["Location"], headers=reader)
    assert status == 200
    status, _, problem = client.call("POST", "/contacts", BOB, reader)
    assert (status, problem["error"]) == (403, "forbidden")
    status, _, problem = client.call("PATCH", headers["Location"], {"title": "X"}, {
        **reader, "If-Match": '"1"'
    })  # fmt: skip
    assert status == 403
    status, headers, problem = client.call("GET", "/contacts", headers={})
    assert (status, problem["error"]) == (401, "unauthorized")


def test_unexpected_errors_leak_nothing(crm: crmkit.Crm) -> None:
    app = host_app.create_app(crm)

    def boom() -> str:
        raise RuntimeError("secret: connection string postgres://u:pw@db")

    app.add_url_rule("/boom", view_func=boom)
    with serving(app) as client:
        status, _, problem = client.call("GET", "/boom")
    assert (status, problem) == (500, {"error": "internal", "message": "internal error"})


def test_the_module_runs_as_a_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.host_app", "--help"],
        cwd=HOST_APP.parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--db" in result.stdout
    assert "127.0.0.1" in result.stdout
