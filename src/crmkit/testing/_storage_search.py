"""The storage kit's tests of full-text search over the ``card`` kind's ``words`` field.

The tests open their stores with `SEARCH_SCHEMA` (`CONTRACT_SCHEMA` plus a
``card`` kind), so that the contract's own schema stays as it was. A store
that offers `crmkit.ports.search.Searching` must return exactly
`crmkit.ports.search.run_search`'s hits; a store that does not is searched by
the helper `crmkit.ports.search.search`, streaming its query pages, and the
same tests check that path. Hand-computed fixtures cover exact, prefix and
typo levels, accents, phone digits, conditions and tenants; the index must
follow updates and deletes; keyset pages cover every hit once; a Hypothesis
property compares random searches over random documents with the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.ports.query import Condition, Eq, In, matches
from crmkit.ports.search import Hit, Searching, SearchKey, SearchQuery, run_search, search, terms
from crmkit.ports.storage import ChangeSet, Delete, Document, DocumentStore, Put
from crmkit.testing._storage_data import SEARCH_SCHEMA, T1, T2, make_doc
from crmkit.testing._storage_hooks import ContractHooks

CARD = SEARCH_SCHEMA.kind("card")
_IDS = ("a", "b", "c", "d", "e", "f", "g", "B", "é")
# Words that are one another's prefixes, accented forms and one-edit typos.
_WORDS = (
    "anna", "ann", "hanna", "annabel", "Müller", "muller", "mueller", "moller", "smith",
    "smyth", "jon", "john", "+49 30 1234", "4930", "x", "ÅSA", "straße", "strasse", "日本",
)  # fmt: skip


def card(
    id: str, words: str | None, owner: str | None = None, level: int | None = None
) -> Document:
    """A ``card`` document with search text ``words``."""
    return make_doc(id, kind="card", words=words, owner=owner, level=level)


_FIXTURE = (
    card("a", "Anna Müller anna.mueller@example.com 4930123456", "u1", 1),
    card("b", "Annabel Mullerova", "u2", 2),
    card("c", "Hanna Möller", "u1", 3),
    card("d", None, "u1"),
    card("e", "Jon Smith ACME", None, 1),
)
_FIXTURE_CASES: list[tuple[SearchQuery, list[tuple[str, int]]]] = [
    # a: anna exact (3) + muller exact (3); b: annabel, mullerova are prefixes (2 + 2).
    (SearchQuery("card", "anna müller"), [("a", 6), ("b", 4)]),
    # prefix "ann": a, b (annabel), not c (hanna does not start with it); all level 2 ties by id.
    (SearchQuery("card", "ANN"), [("a", 2), ("b", 2)]),
    # typos: hanna = anna + h (1), moller = muller with o (1): a 1 + 3, c 3 + 1; b has no
    # word within one edit of hanna (annabel is two letters longer than anna).
    (SearchQuery("card", "hanna muller", fuzzy=True), [("a", 4), ("c", 4)]),
    # without typos only exact and prefix count: c alone has hanna.
    (SearchQuery("card", "hanna muller"), []),
    # phone digits, typed in groups, run together into a prefix of 4930123456.
    (SearchQuery("card", "+49 30 12"), [("a", 2)]),
    # conditions apply with the search: owner u1 only.
    (SearchQuery("card", "anna", (Eq("owner", "u1"),), fuzzy=True), [("a", 3), ("c", 1)]),
    (SearchQuery("card", "an", (In("level", (2, 3)),)), [("b", 2)]),
    # keyset: after (2, "a") come level-2 hits with a greater id, then lower scores.
    (SearchQuery("card", "ann", after=SearchKey(2, "a")), [("b", 2)]),
    (SearchQuery("card", "anna", after=SearchKey(3, "a"), fuzzy=True), [("b", 2), ("c", 1)]),
    # one-letter terms match whole words only; limit cuts the ranked list.
    (SearchQuery("card", "a"), []),
    (SearchQuery("card", "acme smith jon", limit=1), [("e", 9)]),
]

_BAD: list[Any] = [
    SearchQuery("note", "x"),  # no search field
    SearchQuery("missing", "x"),
    SearchQuery("card", ""),
    SearchQuery("card", "  -- "),
    SearchQuery("card", "x" * 201),
    SearchQuery("card", "a b c d e f g h i"),
    SearchQuery("card", cast(Any, 5)),
    SearchQuery("card", "x", limit=0),
    SearchQuery("card", "x", limit=cast(Any, True)),
    SearchQuery("card", "x", where=(Eq("owner", 1),)),
    SearchQuery("card", "x", where=cast(Any, [Eq("owner", "u1")])),
    SearchQuery("card", "x", after=cast(Any, (1, "a"))),
    SearchQuery("card", "x", fuzzy=cast(Any, "yes")),
    cast(Any, "card"),
]


def _pairs(hits: list[Hit]) -> list[tuple[str, int]]:
    return [(hit.id, hit.score) for hit in hits]


_words = st.one_of(
    st.sampled_from(_WORDS),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=5),
)
_text = st.lists(_words, max_size=4).map(" ".join)
_docs = st.lists(
    st.tuples(
        st.sampled_from(_IDS),
        st.none() | _text,
        st.sampled_from((None, "u1", "u2")),
        st.none() | st.integers(0, 3),
    ),
    unique_by=lambda row: row[0],
    max_size=8,
).map(lambda rows: [card(*row) for row in rows])


@st.composite
def search_queries(draw: st.DrawFn) -> SearchQuery:
    """A valid search on ``card``: 1 to 3 words or prefixes, maybe conditions and a keyset."""
    words = [draw(st.sampled_from(_WORDS)) for _ in range(draw(st.integers(1, 3)))]
    words = [word[: draw(st.integers(1, len(word)))] for word in words]
    if not terms(" ".join(words)):  # a prefix of "+49 ..." may hold no word at all
        words.append("anna")
    wheres: tuple[tuple[Condition, ...], ...] = (
        (),
        (Eq("owner", "u1"),),
        (In("level", (1, 2)),),
        (Eq("owner", None),),
    )
    where = draw(st.sampled_from(wheres))
    after = draw(st.none() | st.builds(SearchKey, st.integers(0, 9), st.sampled_from(_IDS)))
    limit = draw(st.sampled_from((1, 2, 5, 1000)))
    return SearchQuery("card", " ".join(words), where, limit, after, draw(st.booleans()))


class SearchTests(ContractHooks):
    """Full-text search, against `run_search` (stores opened with `SEARCH_SCHEMA`)."""

    @contextmanager
    def _searchable(self) -> Iterator[DocumentStore]:
        """A new store, opened with `SEARCH_SCHEMA` and closed afterwards."""
        store = self.make_store()
        try:
            store.open(SEARCH_SCHEMA)
            yield store
        finally:
            store.close()

    def _both_ways(self, store: DocumentStore, tenant: str, query: SearchQuery) -> list[Hit]:
        """The store's hits, checked to equal the streamed fallback's (pages of two)."""
        pushed = search(store, tenant, query, CARD)
        streamed = search(store, tenant, query, CARD, pushdown=False, page_size=2)
        assert pushed == streamed
        return pushed

    @pytest.mark.parametrize(("query", "hits"), _FIXTURE_CASES, ids=repr)
    def test_search_fixtures(self, query: SearchQuery, hits: list[tuple[str, int]]) -> None:
        """Hand-computed hits: exact, prefix and typo levels, digits, conditions, keysets."""
        with self._searchable() as store:
            store.commit(T1, ChangeSet(tuple(Put(doc, 0) for doc in _FIXTURE)))
            assert _pairs(self._both_ways(store, T1, query)) == hits
            selected = [d for d in _FIXTURE if all(matches(c, d) for c in query.where)]
            assert _pairs(run_search(query, selected, "words")) == hits

    def test_search_follows_writes_and_tenants(self) -> None:
        """Updates and deletes reach the index at once; another tenant's cards never show."""
        with self._searchable() as store:
            store.commit(T1, ChangeSet(tuple(Put(doc, 0) for doc in _FIXTURE)))
            store.commit(T2, ChangeSet((Put(card("z", "anna"), 0),)))
            renamed = Document("card", "a", 2, "{}", {"words": "Berta Schulz", "owner": "u1"})
            store.commit(T1, ChangeSet((Put(renamed, 1), Delete("card", "b", 1))))
            assert _pairs(self._both_ways(store, T1, SearchQuery("card", "anna"))) == []
            assert _pairs(self._both_ways(store, T1, SearchQuery("card", "schul"))) == [("a", 2)]
            assert _pairs(self._both_ways(store, T2, SearchQuery("card", "anna"))) == [("z", 3)]
            cleared = Document("card", "a", 3, "{}", {"owner": "u1"})
            store.commit(T1, ChangeSet((Put(cleared, 2),)))
            assert self._both_ways(store, T1, SearchQuery("card", "berta")) == []
            assert self._both_ways(store, "nobody", SearchQuery("card", "anna")) == []

    @pytest.mark.parametrize("query", _BAD, ids=repr)
    def test_invalid_searches_raise_validation_error(self, query: SearchQuery) -> None:
        """A search that does not fit the kind, or holds no word, is refused."""
        kind = getattr(query, "kind", "card")
        spec = SEARCH_SCHEMA.kind("note") if kind == "note" else CARD
        with self._searchable() as store:
            with pytest.raises(ValidationError):
                search(store, T1, query, spec)
            if isinstance(store, Searching):
                with pytest.raises(ValidationError):
                    store.search(T1, query)

    def test_searches_match_the_reference(self) -> None:
        """Random searches over random cards give exactly `run_search`'s hits, page by page."""
        counter = iter(range(10**9))
        with self._searchable() as store:

            @settings(deadline=None, max_examples=60)
            @given(docs=_docs, query=search_queries())
            def check(docs: list[Document], query: SearchQuery) -> None:
                tenant = f"s{next(counter)}"
                store.commit(tenant, ChangeSet(tuple(Put(doc, 0) for doc in docs)))
                selected = [d for d in docs if all(matches(c, d) for c in query.where)]
                expected = run_search(query, selected, "words")
                assert self._both_ways(store, tenant, query) == expected
                # Keyset pages of one cover every hit exactly once, in order.
                every = run_search(
                    SearchQuery("card", query.text, query.where, 1000, None, query.fuzzy),
                    selected,
                    "words",
                )
                seen: list[Hit] = []
                after: SearchKey | None = None
                while True:
                    page = search(
                        store,
                        tenant,
                        SearchQuery("card", query.text, query.where, 1, after, query.fuzzy),
                        CARD,
                    )
                    if not page:
                        break
                    seen += page
                    after = SearchKey(page[-1].score, page[-1].id)
                assert seen == every

            check()
