"""Full-text search over one kind's search field, pushed down where a store can.

A kind declares at most one search field (``IndexField(..., search=True)``, a
single-valued ``text`` field); its value is free text that the record type
computes from the record (names, emails, phones ...). A `SearchQuery` finds
the documents whose search text holds every word of the query, ranked, a page
at a time. `run_search` is the reference semantics, a single streaming pass
with memory bounded by the page size; a store that can search itself (SQLite
with FTS5) offers the optional `Searching` capability and must return exactly
what `run_search` returns. The `search` helper uses the capability when the
store has it and otherwise streams the store's query pages through
`run_search`, with the scope conditions applied by the store query.

Words. `terms` folds text the same way on both sides: case-folded, NFKD with
combining marks dropped (``Müller`` is ``muller``, ``ß`` is ``ss``), then split
into runs of letters and digits; anything else separates words (`terms`; a
document's words longer than `MAX_WORD` are not indexed). A phone
number ``+49 30 1234`` in a document is the words ``49``, ``30`` and ``1234``,
so the record types index phone numbers as one run of digits (plus the
national forms, see `crmkit.app.search_text`); in a query, neighbouring
all-digit words are run together (`search_terms`), so ``+49 30 1234``,
``4930 1234`` and ``49301234`` all ask for the word ``49301234`` (or a
word it starts).

Levels. Each query term ``q`` meets a document at the best of these levels:

* 3, *exact*: a word of the document equals ``q``;
* 2, *prefix*: a word starts with ``q`` (``q`` of `MIN_PREFIX` or more characters);
* 1, *typo* (only when `SearchQuery.fuzzy`): a word is one edit away from ``q``
  (`variants`: a letter deleted, inserted, replaced or two neighbours
  swapped), for a ``q`` of `MIN_FUZZY` or more letters and no digits.

A document is a hit when every term meets it at level 1 or more (2 or more
without ``fuzzy``). Its score is the sum of its terms' levels.

Why not bm25. BM25 (and PostgreSQL's ``ts_rank``) weigh words by corpus
statistics: scores change whenever any document changes, they count every
tenant's documents in a shared index, and no Python fallback reproduces
them exactly. The level sum depends on the document and the query only, so
the store, the fallback and the conformance kit agree to the last hit, and
a keyset cursor on (score, id) stays exact while other documents change.

Order and pages: score descending, then id ascending (binary order).
`SearchQuery.after` holds the last hit's (score, id) and the next page
starts strictly after it.

>>> terms("Anna-Lena Müller, +49 30 1234")
('anna', 'lena', 'muller', '49', '30', '1234')
>>> from crmkit.ports.storage import Document
>>> docs = [
...     Document("contact", "c1", 1, "{}", {"words": "anna muller"}),
...     Document("contact", "c2", 1, "{}", {"words": "annabel mullerova"}),
...     Document("contact", "c3", 1, "{}", {"words": "hanna moller"}),
... ]
>>> [(h.id, h.score) for h in run_search(SearchQuery("contact", "Anna Müller"), docs, "words")]
[('c1', 6), ('c2', 4)]
>>> [(h.id, h.score) for h in run_search(SearchQuery("contact", "ann mull"), docs, "words")]
[('c1', 4), ('c2', 4)]
>>> fuzzy = SearchQuery("contact", "hanna muller", fuzzy=True)
>>> [(h.id, h.score) for h in run_search(fuzzy, docs, "words")]
[('c1', 4), ('c3', 4)]
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Final, Protocol, runtime_checkable

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.ports.query import MAX_LIMIT, Condition, Keyset, Query, check_query
from crmkit.ports.storage import Document, DocumentStore, KindSpec, StoreSchema

MAX_TEXT: Final = 200
"""The longest query text, in characters."""
MAX_TERMS: Final = 8
"""The most words a query may hold."""
MAX_TERM: Final = 64
"""The longest word a query may hold."""
MAX_WORD: Final = 200
"""Longer words of a document are not indexed (PostgreSQL refuses lexemes past 2 KB)."""
MAX_SEARCH_LIMIT: Final = 1000
"""The largest page a store search may ask for."""
MIN_PREFIX: Final = 2
"""Shorter terms match whole words only (a one-letter prefix matches too much to rank)."""
MIN_FUZZY: Final = 4
"""Shorter terms are never matched with a typo (too many words are one edit away)."""
EXACT, PREFIX, TYPO = 3, 2, 1
"""The levels at which a term meets a document."""

_WORD = re.compile(r"[^\W_]+")
_PLAIN = re.compile(r"[a-z0-9]{1,200}(?: [a-z0-9]{1,200})*")  # 200: MAX_WORD
_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz"


def fold(text: str) -> str:
    """``text`` case-folded, compatibility-decomposed and without combining marks."""
    if text.isascii():  # most names and every email and phone: nothing to decompose
        return text.lower()
    for _ in range(3):  # a fixed point: casefold and NFKD can each undo the other once
        folded = unicodedata.normalize("NFKD", text.casefold())
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
        if folded == text:
            break
        text = folded
    return text


def terms(text: str) -> tuple[str, ...]:
    """The words of ``text`` after `fold`, in order, each once."""
    return tuple(dict.fromkeys(_WORD.findall(fold(text))))


def indexed(text: str) -> tuple[str, ...]:
    """The words of a document's search text that are indexed: `terms` of at most `MAX_WORD`.

    A word may come twice (no store cares); text that is already folded ASCII
    words joined by spaces, as the record types write it, is only split.
    """
    if _PLAIN.fullmatch(text):
        return tuple(text.split(" "))
    return tuple(word for word in terms(text) if len(word) <= MAX_WORD)


def normalized(text: str) -> str:
    """The words of ``text`` joined by single spaces."""
    return " ".join(terms(text))


@lru_cache(maxsize=1024)
def variants(term: str) -> frozenset[str]:
    """Every word one edit from ``term``: a letter deleted, inserted, replaced, or a swap.

    Inserted and replacing letters come from ``a`` to ``z`` plus the term's own
    letters, so the set is finite and both sides of the store agree on it.
    Empty for a term shorter than `MIN_FUZZY` or holding anything but letters.
    """
    if len(term) < MIN_FUZZY or not term.isalpha():
        return frozenset()
    letters = sorted(set(_ALPHABET) | set(term))
    found: set[str] = set()
    for i in range(len(term) + 1):
        head, tail = term[:i], term[i:]
        found.update(head + ch + tail for ch in letters)
        if tail:
            found.add(head + tail[1:])
            found.update(head + ch + tail[1:] for ch in letters)
        if len(tail) > 1:
            found.add(head + tail[1] + tail[0] + tail[2:])
    found.discard(term)
    return frozenset(found)


@attrs.frozen
class SearchKey:
    """Where the previous page ended: its last hit's score and id.

    Attributes:
        score: The last hit's score.
        id: The last hit's id.
    """

    score: int
    id: str


@attrs.frozen
class SearchQuery:
    """Documents of one kind whose search text holds every word of ``text``, ranked.

    Attributes:
        kind: The kind to search; it must declare a search field.
        text: The words to find (at most `MAX_TEXT` characters, `MAX_TERMS` words).
        where: Conditions that must all hold as well (the access scope, say).
        limit: Page size, 1 to `MAX_SEARCH_LIMIT`.
        after: Start after this hit (keyset pagination), or from the best hit.
        fuzzy: Whether a term may also meet a word one typo away (level 1).
    """

    kind: str
    text: str
    where: tuple[Condition, ...] = ()
    limit: int = 20
    after: SearchKey | None = None
    fuzzy: bool = False


@attrs.frozen
class Hit:
    """One document a search found.

    Attributes:
        kind: Its kind.
        id: Its id.
        score: The sum of the levels at which the query's terms met it.
    """

    kind: str
    id: str
    score: int


def check_search(spec: KindSpec, query: SearchQuery) -> tuple[str, ...]:
    """Raise `ValidationError` unless ``query`` fits the kind; the query's terms."""
    if not isinstance(query, SearchQuery):
        raise ValidationError("query", "must be a SearchQuery", query)
    if spec.search_field is None:
        raise ValidationError("kind", "has no search field", query.kind)
    if not isinstance(query.where, tuple):
        raise ValidationError("where", "must be a tuple of conditions", query.where)
    if isinstance(query.limit, bool) or not isinstance(query.limit, int):
        raise ValidationError("limit", "must be an integer", query.limit)
    if not 1 <= query.limit <= MAX_SEARCH_LIMIT:
        raise ValidationError("limit", f"must be between 1 and {MAX_SEARCH_LIMIT}", query.limit)
    check_query(spec, Query(query.kind, query.where))  # the kind and every condition
    if not isinstance(query.fuzzy, bool):
        raise ValidationError("fuzzy", "must be True or False", query.fuzzy)
    after = query.after
    if after is not None and (
        not isinstance(after, SearchKey)
        or type(after.score) is not int
        or not isinstance(after.id, str)
    ):
        raise ValidationError("after", "must be a SearchKey of an int score and an id", after)
    return search_terms(query.text)


def check_search_in(schema: StoreSchema, query: SearchQuery) -> tuple[str, ...]:
    """`check_search` against the spec of the query's kind in ``schema`` (for stores)."""
    if not isinstance(query, SearchQuery):
        raise ValidationError("query", "must be a SearchQuery", query)
    return check_search(schema.kind(query.kind), query)


def search_terms(text: object) -> tuple[str, ...]:
    """The terms of a query text; `ValidationError` naming ``text`` when it has none or too many."""
    if not isinstance(text, str):
        raise ValidationError("text", "must be a string", text)
    if len(text) > MAX_TEXT:
        raise ValidationError("text", f"must be at most {MAX_TEXT} characters", text)
    found = _joined_digits(terms(text))
    if not found:
        raise ValidationError("text", "holds no letter or digit to search for", text)
    if len(found) > MAX_TERMS:
        raise ValidationError("text", f"may hold at most {MAX_TERMS} words", text)
    if any(len(term) > MAX_TERM for term in found):
        raise ValidationError("text", f"holds a word longer than {MAX_TERM} characters", text)
    return found


def _joined_digits(words: tuple[str, ...]) -> tuple[str, ...]:
    """Neighbouring all-digit words run together: ``+49 30 1234`` asks for ``49301234``."""
    out: list[str] = []
    for word in words:
        if out and word.isdigit() and out[-1].isdigit():
            out[-1] += word
        else:
            out.append(word)
    return tuple(dict.fromkeys(out))


# --- reference semantics ----------------------------------------------------


def level(term: str, words: frozenset[str], fuzzy: bool) -> int:
    """The level at which ``term`` meets a document whose words are ``words`` (0: not at all)."""
    if term in words:
        return EXACT
    if len(term) >= MIN_PREFIX and any(word.startswith(term) for word in words):
        return PREFIX
    if fuzzy and not variants(term).isdisjoint(words):
        return TYPO
    return 0


def score(found: tuple[str, ...], text: str | None, fuzzy: bool) -> int:
    """The score of a document with search text ``text`` (0: not a hit)."""
    if not text:
        return 0
    words = frozenset(indexed(text))
    total = 0
    for term in found:
        met = level(term, words, fuzzy)
        if met == 0:
            return 0
        total += met
    return total


def _after(key: SearchKey | None, score: int, id: str) -> bool:
    return key is None or score < key.score or (score == key.score and id > key.id)


def run_search(query: SearchQuery, docs: Iterable[Document], field: str) -> list[Hit]:
    """Apply a checked ``query`` to ``docs`` (those meeting ``query.where``) in one pass.

    ``field`` is the kind's search field. The reference every `Searching`
    store matches; memory stays bounded by ``query.limit``.
    """
    found = search_terms(query.text)

    def hits() -> Iterator[tuple[int, str]]:
        for doc in docs:
            value = doc.index.get(field)
            points = score(found, value if isinstance(value, str) else None, query.fuzzy)
            if points and _after(query.after, points, doc.id):
                yield (-points, doc.id)

    best = heapq.nsmallest(query.limit, hits())
    return [Hit(query.kind, id, -points) for points, id in best]


# --- the optional capability and the helper ----------------------------------


@runtime_checkable
class Searching(Protocol):
    """A store that searches itself, with exactly `run_search`'s hits.

    Like `DocumentStore.query`, `search` is scoped by tenant, applies
    `SearchQuery.where` in the store, raises `ValidationError` for a query
    that does not fit the kind (see `check_search`) and `StorageError` for a
    driver failure.
    """

    def search(self, tenant: str, query: SearchQuery) -> list[Hit]:
        """The hits of ``query`` among the tenant's documents, best first."""
        ...


def _pages(
    store: DocumentStore, tenant: str, query: SearchQuery, page_size: int
) -> Iterator[Document]:
    after: Keyset | None = None
    while True:
        page = store.query(tenant, Query(query.kind, query.where, (), page_size, after))
        yield from page
        if len(page) < page_size:
            return
        after = Keyset((), page[-1].id)


def search(
    store: DocumentStore,
    tenant: str,
    query: SearchQuery,
    spec: KindSpec,
    *,
    pushdown: bool = True,
    page_size: int = MAX_LIMIT,
) -> list[Hit]:
    """The hits of ``query``: from the store when it is `Searching`, else computed here.

    The fallback reads the documents meeting ``query.where`` from the store a
    page of ``page_size`` at a time (so the scope is applied by the store) and
    streams them through `run_search`: it reads every such document of the
    kind, which suits small stores and tests. ``pushdown=False`` forces it, to
    compare the two. ``spec`` is the kind's spec, as the store was opened with.
    """
    check_search(spec, query)
    if pushdown and isinstance(store, Searching):
        return store.search(tenant, query)
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise ValidationError("page_size", "must be an integer", page_size)
    if not 1 <= page_size <= MAX_LIMIT:
        raise ValidationError("page_size", f"must be between 1 and {MAX_LIMIT}", page_size)
    field = spec.search_field
    assert field is not None  # check_search refused a kind without one
    return run_search(query, _pages(store, tenant, query, page_size), field)
