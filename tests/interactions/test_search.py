"""``uow.search``: prefix, typo and phone fixtures, scope in the store, keyset pages, bad input."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from crmkit import Crm, FakeClock, Principal
from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.records import ACCOUNTS, CASES, CONTACTS, LEADS, OPPORTUNITIES
from crmkit.app.search import SearchHit
from crmkit.kernel.directory import Directory, User
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.parties.values import Email, Phone
from crmkit.ports.access import Action
from crmkit.ports.storage import ChangeSet, Document, Put
from crmkit.security.defaults import default_policy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROLES = ("admin", "sales_manager", "sales_rep", "service_agent", "marketer", "read_only")
USERS = (
    User("u-anna", teams=("north",)),
    User("u-bo", teams=("north",)),
    User("u-cy", teams=("south",)),
    User("u-dee", teams=("south",)),
)
POLICY = default_policy(Directory(USERS))
ADMIN = Principal("u-admin", roles={"admin"})
RTYPES = {t.kind: t for t in (CONTACTS, ACCOUNTS, LEADS, OPPORTUNITIES, CASES)}
# Surnames that are one another's prefixes, accented forms and one-edit typos.
NAMES = ("Müller", "Mueller", "Muller", "Möller", "Müllerova", "Smith", "Smyth", "Schmidt")
FIRST = ("Anna", "Hanna", "Jon", "John")


def _seed(crm: Crm) -> None:
    """Records of every searchable kind, owned round-robin by the users (and by nobody)."""
    owners = (*(u.id for u in USERS), None)
    with crm.unit_of_work(ADMIN) as uow:
        for i in range(20):
            owner = owners[i % len(owners)]
            last, first = NAMES[i % len(NAMES)], FIRST[i % len(FIRST)]
            contact = uow.contacts.create(
                last,
                first_name=first,
                emails=[Email(f"{first}.{i}@example.com")],
                phones=[Phone(f"+49 30 55{i:04d}")],
                owner_id=owner,
            )
            if i % 2 == 0:
                uow.accounts.create(f"{last} GmbH", owner_id=owner)
            lead = uow.leads.capture(first_name=first, last_name=last, company=f"{last} AG")
            if owner is not None:
                uow.leads.assign(lead.id, owner)
            uow.opportunities.open(
                f"{last} renewal", amount=Money.of("100", "EUR"), close_date=date(2026, 4, 1),
                owner_id=owner,
            )  # fmt: skip
        uow.cases.open(
            "Printer broken at Müller", "It jams.", type="incident", number="CS-2026-0042",
            contact_id=contact.id,
        )  # fmt: skip


def _sqlite_crm(folder: str) -> Crm:
    crm = Crm(
        SqliteStore(Path(folder) / "crm.db"), clock=FakeClock(T0), ids=SequentialIds("r"),
        access=POLICY,
    )  # fmt: skip
    _seed(crm)
    return crm


_FOLDER = tempfile.TemporaryDirectory()
SQLITE = _sqlite_crm(_FOLDER.name)
MEMORY = Crm(MemoryStore(), clock=FakeClock(T0), ids=SequentialIds("r"), access=POLICY)
_seed(MEMORY)


@pytest.fixture(params=["sqlite", "memory"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    return SQLITE if request.param == "sqlite" else MEMORY


def _all(crm: Crm, who: Principal, text: str, limit: int = 100, **kw: object) -> list[SearchHit]:
    hits: list[SearchHit] = []
    cursor = None
    with crm.unit_of_work(who) as uow:
        while True:
            page = uow.search(text, limit=limit, cursor=cursor, **kw)  # type: ignore[arg-type]
            hits += page.items
            cursor = page.next_cursor
            if cursor is None:
                return hits


def test_both_stores_give_the_same_hits() -> None:
    for text in ("müller", "mull", "smyht", "anna smith", "030 550", "2026 0042", "schmid"):
        assert _all(SQLITE, ADMIN, text) == _all(MEMORY, ADMIN, text)


def test_prefix_and_accents(crm: Crm) -> None:
    with crm.unit_of_work(ADMIN) as uow:
        exact = uow.search("MÜLLER", kinds=("contact",), limit=100)
        # Müller and Muller fold to "muller" (exact, 3); Müllerova starts with it (prefix, 2).
        assert {hit.title.split()[-1] for hit in exact if hit.score == 3} == {"Müller", "Muller"}
        assert {hit.title.split()[-1] for hit in exact if hit.score == 2} == {"Müllerova"}
        prefix = uow.search("smy", kinds=("account",), limit=100)
        assert [hit.title for hit in prefix] == ["Smyth GmbH"] * len(prefix)
        assert prefix.items


def test_misspellings_find_the_name(crm: Crm) -> None:
    with crm.unit_of_work(ADMIN) as uow:
        # "smiht" (a swap) is not a word or prefix of any record: typos are tried.
        hits = uow.search("smiht", kinds=("contact",), limit=100)
        assert hits.items
        assert all(hit.score == 1 for hit in hits)
        assert {hit.title.split()[-1] for hit in hits} == {"Smith"}
        # An exact name with enough hits never pays for typos: no Smyth among Smith's.
        page = uow.search("smith", limit=3)
        assert len(page) == 3
        assert all(hit.score == 3 for hit in page)
        assert not uow.search("smiht", fuzzy=False).items


def test_phone_and_case_number(crm: Crm) -> None:
    with crm.unit_of_work(ADMIN) as uow:
        national = uow.search("030 55 0003", kinds=("contact",))
        international = uow.search("+49 30 550003", kinds=("contact",))
        assert [h.id for h in national] == [h.id for h in international]
        assert len(national) == 1
        case = uow.search("cs-2026-0042")
        assert [hit.kind for hit in case] == ["case"]
        assert case.items[0].title == "CS-2026-0042 Printer broken at Müller"


principals = st.builds(
    lambda user, roles: Principal(user.id, roles=roles, teams=user.teams),
    st.sampled_from(USERS),
    st.frozensets(st.sampled_from(ROLES), max_size=2),
)


@cache
def _index(kind: str, id: str) -> dict[str, object]:
    rtype = RTYPES[kind]
    with SQLITE.unit_of_work(ADMIN) as uow:
        return rtype.index(uow.get(rtype, id))  # type: ignore[no-any-return]


@cache
def _everything(text: str) -> tuple[SearchHit, ...]:
    return tuple(_all(SQLITE, ADMIN, text, fuzzy=True))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    who=principals,
    text=st.sampled_from(("müller", "mull", "smiht", "anna", "renewal", "gmbh", "jon m")),
    limit=st.sampled_from((1, 4, 100)),
)
def test_no_hit_outside_the_scope(who: Principal, text: str, limit: int) -> None:
    """Every hit is readable by the principal, and every readable match is a hit (full pages)."""
    allowed = [
        hit
        for hit in _everything(text)
        if POLICY.can(who, hit.kind, Action.READ, _index(hit.kind, hit.id))
    ]
    for crm in (SQLITE, MEMORY):
        seen = _all(crm, who, text, limit=limit, fuzzy=True)
        assert [(h.kind, h.id) for h in seen] == [(h.kind, h.id) for h in allowed]
        with crm.unit_of_work(who) as uow:
            first = uow.search(text, limit=limit, fuzzy=True)
            assert len(first) == min(limit, len(allowed))  # pages are never short


@settings(max_examples=25, deadline=None)
@given(
    text=st.sampled_from(("m", "mu", "müller", "anna", "jon smith", "gmbh", "renewal ag")),
    limit=st.integers(1, 7),
    fuzzy=st.sampled_from((None, True, False)),
)
def test_pages_cover_every_hit_once(text: str, limit: int, fuzzy: bool | None) -> None:
    whole = _all(SQLITE, ADMIN, text, limit=100, fuzzy=fuzzy)
    paged = _all(SQLITE, ADMIN, text, limit=limit, fuzzy=fuzzy)
    if fuzzy is None and len(whole) >= limit:  # auto: the first page decides on typos
        whole = _all(SQLITE, ADMIN, text, limit=100, fuzzy=False)
        assert paged == whole or len(whole) < limit
    elif fuzzy is not None:
        assert paged == whole
    assert len({(h.kind, h.id) for h in paged}) == len(paged)
    keys = [(-h.score, h.id) for h in paged]
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(keys))  # best first across pages


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "?!"}, "text"),
        ({"text": 42}, "text"),
        ({"text": "x" * 201}, "text"),
        ({"text": "a b c d e f g h i"}, "text"),
        ({"text": "anna", "kinds": ()}, "kinds"),
        ({"text": "anna", "kinds": ("quote",)}, "kinds"),
        ({"text": "anna", "kinds": "contact"}, "kinds"),
        ({"text": "anna", "kinds": ("contact", "contact")}, "kinds"),
        ({"text": "anna", "limit": 0}, "limit"),
        ({"text": "anna", "limit": 101}, "limit"),
        ({"text": "anna", "limit": "5"}, "limit"),
        ({"text": "anna", "fuzzy": "yes"}, "fuzzy"),
        ({"text": "anna", "cursor": "not-a-cursor"}, "cursor"),
        ({"text": "anna", "cursor": 5}, "cursor"),
    ],
)
def test_bad_input_names_the_field(crm: Crm, call: dict[str, object], field: str) -> None:
    with crm.unit_of_work(ADMIN) as uow:
        with pytest.raises(ValidationError) as caught:
            uow.search(**call)  # type: ignore[arg-type]
        assert caught.value.field == field


def test_a_cursor_belongs_to_its_search(crm: Crm) -> None:
    with crm.unit_of_work(ADMIN) as uow:
        cursor = uow.search("anna", limit=1).next_cursor
        assert cursor is not None
        with pytest.raises(ValidationError, match="another search"):
            uow.search("hanna", limit=1, cursor=cursor)
        with pytest.raises(ValidationError) as caught:
            uow.search("anna", limit=1, cursor=cursor, fuzzy=True)
        assert caught.value.field == "cursor"


def test_an_old_record_is_found_once_saved_again() -> None:
    """Backfill: a record stored before search existed is indexed when it is written again."""
    with tempfile.TemporaryDirectory() as folder:
        crm = Crm(SqliteStore(Path(folder) / "crm.db"), clock=FakeClock(T0), ids=SequentialIds("r"))
        with crm.unit_of_work(ADMIN) as uow:
            contact = uow.contacts.create("Zygmunt", first_name="Ola")
        conn = crm.store._conn()  # type: ignore[attr-defined]
        conn.execute("DELETE FROM srch_fts_contact")  # as if written by an older crmkit
        conn.execute("DELETE FROM srch_map_contact")
        with crm.unit_of_work(ADMIN) as uow:
            assert not uow.search("zygmunt").items
        doc = crm.store.get(crm.tenant, "contact", contact.id)
        assert doc is not None  # a reindex job writes each document again, index recomputed:
        again = Document("contact", doc.id, doc.version + 1, doc.body, CONTACTS.index(contact))
        crm.store.commit(crm.tenant, ChangeSet((Put(again, doc.version),)))
        with crm.unit_of_work(ADMIN) as uow:
            assert [hit.id for hit in uow.search("zygmunt")] == [contact.id]
        crm.close()


def test_postgres_gives_the_same_hits(postgres_schemas: Callable[[], str]) -> None:
    """The tsvector pushdown, through the unit of work, scoped, beside SQLite's FTS5."""
    from crmkit.adapters.postgres import PostgresStore

    crm = Crm(
        PostgresStore(postgres_schemas()), clock=FakeClock(T0), ids=SequentialIds("r"),
        access=POLICY,
    )  # fmt: skip
    try:
        _seed(crm)
        rep = Principal("u-bo", roles={"sales_rep"}, teams={"north"})
        for who in (ADMIN, rep):
            for text in ("müller", "mull", "smyht", "anna smith", "030 550", "2026 0042"):
                assert _all(crm, who, text, limit=3) == _all(SQLITE, who, text, limit=3)
    finally:
        crm.close()
