"""Export, then import into a fresh store: equal records, in every column the file carries."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
from hypothesis import HealthCheck, event, given, settings, strategies as st

from crmkit import Crm, FakeClock, Principal
from crmkit.activities.activity import ActivityKind, RecordRef
from crmkit.adapters.memory import MemoryStore
from crmkit.app.imports import RECORD_TYPES
from crmkit.extension.csv_format import row_of
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money, minor_units
from crmkit.parties.values import Address, Email, Phone
from crmkit.sales.capture import LeadInput
from crmkit.sales.pipeline import DEFAULT_PIPELINE
from crmkit.testing._strategies_leads import leads

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal("u-admin", roles={"admin"})
ORDER = ("account", "contact", "lead", "opportunity", "activity")  # links point backwards

# Single-line text with the characters CSV files trip over: delimiters, quotes, escapes.
_CHARS = st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"])
LINE = st.text(st.sampled_from("ab Zé東,;\"\\'") | _CHARS, min_size=1, max_size=10).filter(
    lambda s: s.strip() != ""
)
TAGS = st.lists(st.sampled_from(["vip", "north", "a;b", "c\\d", "trade fair"]), max_size=3)
EMAILS = st.builds(lambda n: Email(f"p{n}@example.com"), st.integers(0, 5))


def _crm(prefix: str) -> Crm:
    clock = FakeClock(T0, tick=timedelta(seconds=1))
    return Crm(MemoryStore(), clock=clock, ids=SequentialIds(prefix))


@st.composite
def worlds(draw: st.DrawFn) -> Crm:
    """A source store with a few records of every kind, linked to one another."""
    crm = _crm("src")
    with crm.unit_of_work(ADMIN) as uow:
        accounts = [
            uow.accounts.create(
                draw(LINE),
                industry=draw(st.none() | LINE),
                emails=draw(st.lists(EMAILS, max_size=1)),
                tags=draw(TAGS),
            ).id
            for _ in range(draw(st.integers(0, 2)))
        ]
        contacts = []
        for _ in range(draw(st.integers(0, 3))):
            address = draw(st.none() | st.builds(Address, st.tuples(LINE), LINE, st.just("DE")))
            contacts.append(
                uow.contacts.create(
                    draw(LINE),
                    first_name=draw(st.just("") | LINE),
                    title=draw(st.none() | LINE),
                    emails=draw(st.lists(EMAILS, max_size=1)),
                    phones=draw(st.lists(st.just(Phone("+49 30 1234567")), max_size=1)),
                    addresses=[] if address is None else [address],
                    tags=draw(TAGS),
                    time_zone=draw(st.sampled_from([None, "Europe/Berlin", "UTC"])),
                    account_id=draw(st.none() | st.sampled_from(accounts or [None])),
                ).id
            )
        lead_ids = []
        for lead in draw(st.lists(leads(), max_size=2)):
            if lead.last_name or lead.email or lead.phone or lead.company:
                fields = {f.name: getattr(lead, f.name) for f in attrs.fields(LeadInput)}
                lead_ids.append(uow.leads.capture(LeadInput(**fields)).id)
        stages = [stage.key for stage in DEFAULT_PIPELINE.open_stages]
        opportunities = []
        for _ in range(draw(st.integers(0, 2))):
            currency = draw(st.sampled_from(["EUR", "JPY", "KWD"]))
            minor = draw(st.integers(0, 10**9))
            opportunities.append(
                uow.opportunities.open(
                    draw(LINE),
                    amount=Money(Decimal(minor).scaleb(-minor_units(currency)), currency),
                    close_date=draw(st.dates(date(2024, 1, 1), date(2030, 12, 31))),
                    account_id=draw(st.none() | st.sampled_from(accounts or [None])),
                    contact_ids=draw(st.lists(st.sampled_from(contacts or ["-"]), unique=True))
                    if contacts
                    else (),
                    stage=draw(st.sampled_from(stages)),
                ).id
            )
        refs = [
            *(RecordRef("account", i) for i in accounts),
            *(RecordRef("contact", i) for i in contacts),
            *(RecordRef("lead", i) for i in lead_ids),
            *(RecordRef("opportunity", i) for i in opportunities),
        ]
        for _ in range(draw(st.integers(0, 3)) if refs else 0):
            about = draw(st.lists(st.sampled_from(refs), min_size=1, max_size=2, unique=True))
            when = T0 + timedelta(minutes=draw(st.integers(-(10**6), 10**6)))
            shape = draw(st.sampled_from(["call", "note", "planned", "cancelled"]))
            if shape == "call":
                uow.activities.log(
                    ActivityKind.CALL, draw(LINE), about, occurred_at=when,
                    direction="outbound", duration_minutes=draw(st.integers(1, 90)),
                    outcome="connected", body=draw(st.just("") | LINE),
                )  # fmt: skip
            elif shape == "note":
                uow.activities.log(ActivityKind.NOTE, draw(LINE), about, occurred_at=when)
            else:
                planned = uow.activities.plan(ActivityKind.MEETING, draw(LINE), about, when)
                if shape == "cancelled":
                    uow.activities.cancel(planned.id)
    return crm


def _rows(crm: Crm, kind: str) -> dict[str, dict[str, str]]:
    with crm.unit_of_work(ADMIN) as uow:
        return {r.id: row_of(kind, r) for r in uow.find_all(RECORD_TYPES[kind], keep=False)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_an_export_imports_into_a_fresh_store_as_equal_records(source: Crm) -> None:
    target = _crm("dst")
    for kind in ORDER:
        out = io.BytesIO()
        count = source.exports.run(ADMIN, kind, out)
        report = target.imports.run(ADMIN, kind, out.getvalue())
        assert report.errors == (), (kind, report.errors, out.getvalue())
        assert (report.rows, report.created) == (count, count)
        assert _rows(target, kind) == _rows(source, kind), kind
        event(f"{kind}: {min(count, 2)}+ rows")


def test_an_export_streams_in_pages_and_reports_progress() -> None:
    crm = _crm("c")
    with crm.unit_of_work(ADMIN) as uow:
        for i in range(1_203):
            uow.contacts.create(f"Person{i}", emails=[Email(f"p{i}@example.com")])
    seen: list[int] = []
    out = io.BytesIO()
    assert crm.exports.run(ADMIN, "contact", out, bom=True, progress=seen.append) == 1_203
    assert seen == [500, 1_000, 1_203]
    text = out.getvalue().decode("utf-8-sig")
    assert text.startswith("id,first_name,last_name,")
    assert text.count("\r\n") == 1_204


def test_lead_answers_become_columns_and_read_back() -> None:
    crm = _crm("l")
    with crm.unit_of_work(ADMIN) as uow:
        uow.leads.capture(last_name="Berg", answers={"budget": "10000"})
        uow.leads.capture(company="ACME", answers={"timeline": "Q3"})
    out = io.BytesIO()
    crm.exports.run(ADMIN, "lead", out)
    header = out.getvalue().split(b"\r\n")[0].decode().split(",")
    assert header[-2:] == ["answers.budget", "answers.timeline"]
    target = _crm("t")
    assert target.imports.run(ADMIN, "lead", out.getvalue()).created == 2
    assert _rows(target, "lead") == _rows(crm, "lead")
