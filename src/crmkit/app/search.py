"""Search across contacts, accounts, leads, opportunities and cases: ``uow.search``.

``uow.search("anna mül")`` finds the records whose names, email addresses,
phone numbers or company (see `crmkit.app.search_text`) hold every word of
the text, as whole words, as prefixes or, when asked, with one typo, ranked
by `crmkit.ports.search` levels, a keyset page at a time:

* **Scope in the store.** Each kind is searched with the principal's read
  scope (`crmkit.app.guard.Guard.narrow_view`) as conditions of the store's
  search, which the SQLite adapter applies in the same statement: pages are
  never short, and a hit outside the scope is never read. Hits show ids and
  a title (name, or number and subject), not whole records: a principal
  from whom some fields of a kind are hidden still finds its records, and
  reads them through the kind's service (``uow.opportunities.view``).
* **Ranking across kinds.** Each kind returns its best ``limit + 1`` hits
  after the cursor; they are merged by score (descending), then the kind's
  place in ``kinds``, then id. Scores depend on the record and the query
  only, so the order is total and stable.
* **Keyset pages.** The opaque cursor holds the last hit's (score, kind, id),
  whether typos were on, and a digest of the words and kinds; a cursor of
  another search raises `ValidationError`. Pages cover every hit once, even
  while other records change (a changed record moves to its new place).
* **Typos only when needed.** With ``fuzzy=None`` (the default) the first
  page searches exact words and prefixes, and only when that finds fewer
  than ``limit`` hits does it search again with typos: exact and prefix
  searches never pay for the typo expansion. ``fuzzy=True`` or ``False``
  decides it up front; later pages keep the first page's choice.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import TYPE_CHECKING, Any, Final

import attrs

from crmkit.app.paging import Page, decode
from crmkit.app.record_type import RecordType
from crmkit.app.search_text import TITLES
from crmkit.kernel.errors import ValidationError
from crmkit.ports.search import Hit, SearchKey, SearchQuery, search, search_terms
from crmkit.ports.storage import KindSpec

if TYPE_CHECKING:
    from crmkit.app.crm import Crm
    from crmkit.app.guard import Guard

__all__ = ["KINDS", "MAX_SEARCH_PAGE", "Search", "SearchHit"]

KINDS: Final = ("contact", "account", "lead", "opportunity", "case")
"""The kinds `Search` looks in by default, in this order on equal scores."""
MAX_SEARCH_PAGE: Final = 100
"""The largest page `Search` returns."""


@attrs.frozen
class SearchHit:
    """One record a search found.

    Attributes:
        kind: Its kind (``contact``, ``account``, ``lead``, ``opportunity`` or ``case``).
        id: Its id.
        score: How well it matched (see `crmkit.ports.search`); higher is better.
        title: What to show for it: a name, or a case's number and subject.
    """

    kind: str
    id: str
    score: int
    title: str


@cache
def _types() -> dict[str, tuple[RecordType[Any], KindSpec]]:
    """The searchable record types with their storage specs, built once per process."""
    from crmkit.app.records import RECORD_TYPES  # records imports the services' modules

    return {
        t.kind: (t, t.spec()) for t in RECORD_TYPES if t.search is not None and t.kind in TITLES
    }


class Search:
    """``uow.search``: call it with the words to find."""

    def __init__(self, crm: Crm, guard: Guard) -> None:
        self._crm = crm
        self._guard = guard
        self._types = _types()

    def __call__(
        self,
        text: str,
        *,
        kinds: tuple[str, ...] = KINDS,
        limit: int = 20,
        cursor: str | None = None,
        fuzzy: bool | None = None,
    ) -> Page[SearchHit]:
        """The best ``limit`` records in scope matching ``text``, after ``cursor``.

        Raises `ValidationError` naming ``text``, ``kinds``, ``limit``, ``fuzzy``
        or ``cursor`` for bad input.
        """
        words = search_terms(text)
        rtypes = self._kinds(kinds)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise ValidationError("limit", "must be an integer", limit)
        if not 1 <= limit <= MAX_SEARCH_PAGE:
            raise ValidationError("limit", f"must be 1 to {MAX_SEARCH_PAGE}", limit)
        if fuzzy is not None and not isinstance(fuzzy, bool):
            raise ValidationError("fuzzy", "must be True, False or None", fuzzy)
        digest = _digest(words, kinds)
        if cursor is not None:
            last, typos = _decode(cursor, digest, len(kinds))
            if fuzzy is not None and fuzzy != typos:
                raise ValidationError("cursor", "belongs to a search with other typo settings")
            hits = self._merged(text, rtypes, limit, last, typos)
        elif fuzzy is None:
            typos = False
            hits = self._merged(text, rtypes, limit, None, False)
            if len(hits) < limit:
                typos = True
                hits = self._merged(text, rtypes, limit, None, True)
        else:
            typos = fuzzy
            hits = self._merged(text, rtypes, limit, None, fuzzy)
        more = len(hits) > limit
        hits = hits[:limit]
        next_cursor = _encode(hits[-1], digest, typos) if more else None
        return Page(tuple(self._hit(rtypes[place][0], hit) for _, place, hit in hits), next_cursor)

    def _kinds(self, kinds: object) -> list[tuple[RecordType[Any], KindSpec]]:
        if not isinstance(kinds, tuple) or not kinds:
            raise ValidationError("kinds", "must be a non-empty tuple of kind names", kinds)
        if len(set(kinds)) != len(kinds):
            raise ValidationError("kinds", "names a kind twice", kinds)
        found = []
        for kind in kinds:
            entry = self._types.get(kind) if isinstance(kind, str) else None
            if entry is None:
                raise ValidationError(
                    "kinds", f"must name searchable kinds ({', '.join(KINDS)})", kind
                )
            found.append(entry)
        return found

    def _merged(
        self,
        text: str,
        rtypes: list[tuple[RecordType[Any], KindSpec]],
        limit: int,
        last: tuple[int, int, str] | None,
        fuzzy: bool,
    ) -> list[tuple[int, int, Hit]]:
        """Up to ``limit + 1`` hits of every kind after ``last``, as (-score, place, hit)."""
        crm = self._crm
        merged: list[tuple[int, int, Hit]] = []
        for place, (rtype, spec) in enumerate(rtypes):
            where = self._guard.narrow_view(rtype.kind, ())
            if where is None:  # nothing of this kind in scope
                continue
            query = SearchQuery(rtype.kind, text, where, limit + 1, _after(last, place), fuzzy)
            for hit in search(crm.store, crm.tenant, query, spec):
                merged.append((-hit.score, place, hit))
        merged.sort(key=lambda row: (row[0], row[1], row[2].id))
        return merged[: limit + 1]

    def _hit(self, rtype: RecordType[Any], hit: Hit) -> SearchHit:
        crm = self._crm
        doc = crm.store.get(crm.tenant, rtype.kind, hit.id)
        # Deleted between the search and this read: show the id rather than fail the page.
        title = hit.id if doc is None else TITLES[rtype.kind](decode(crm.loaders, rtype, doc))
        return SearchHit(rtype.kind, hit.id, hit.score, title)


def _after(last: tuple[int, int, str] | None, place: int) -> SearchKey | None:
    """Where kind number ``place`` resumes after the merged order's (score, place, id)."""
    if last is None:
        return None
    score, last_place, id = last
    if place == last_place:
        return SearchKey(score, id)
    if place > last_place:  # its hits of the same score come after the last one
        return SearchKey(score, "")
    return SearchKey(score - 1, "")  # its hits of the same score came before: lower only


def _digest(words: tuple[str, ...], kinds: tuple[str, ...]) -> str:
    return hashlib.sha256(repr((words, kinds)).encode()).hexdigest()[:16]


def _encode(row: tuple[int, int, Hit], digest: str, fuzzy: bool) -> str:
    _, place, hit = row
    payload = [hit.score, place, hit.id, fuzzy, digest]
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: object, digest: str, kinds: int) -> tuple[tuple[int, int, str], bool]:
    if not isinstance(cursor, str):
        raise ValidationError("cursor", "must be a string from an earlier page", cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score, place, id, fuzzy, seen = json.loads(raw)
    except (ValueError, TypeError):
        raise ValidationError("cursor", "is not a cursor crmkit made") from None
    if seen != digest:
        raise ValidationError("cursor", "belongs to another search")
    if (
        type(score) is not int
        or type(place) is not int
        or not 0 <= place < kinds
        or not isinstance(id, str)
        or not isinstance(fuzzy, bool)
    ):
        raise ValidationError("cursor", "is not a cursor crmkit made")
    return (score, place, id), fuzzy
