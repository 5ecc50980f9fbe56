"""Hypothesis strategies for duplicate detection (`crmkit.parties.dedupe`).

Names, emails, phones and companies are drawn from small pools so that
generated candidates often share something, which is what dedupe tests need.
For large realistic data sets use `crmkit.testing.dedupe_data.generate_contacts`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from hypothesis import strategies as st

from crmkit.parties.matching import Candidate

_NAMES = ("Anna Berg", "Berg, Anna", "ANNA  BERG", "Anne Berg", "Zoë O'Brien", "Li Wu", "", "Jo")
_EMAILS = ("anna.berg@gmail.com", "AnnaBerg+x@googlemail.com", "anna@acme.example", "li@wu.cn")
_PHONES = ("+49 30 12345678", "030 12345678", "+44 20 7946 0958", "+1 415 555 0100")
_COMPANIES = ("ACME GmbH", "Acme Inc.", "Wu Trading Ltd", "Globex")


@cache
def dedupe_candidates() -> st.SearchStrategy[Candidate]:
    """Candidates of any kind whose names, emails, phones and companies often overlap."""
    return st.builds(
        Candidate,
        st.text("abcdef0123", min_size=1, max_size=6),
        st.sampled_from(("lead", "contact", "account")),
        st.sampled_from(_NAMES) | st.text(min_size=0, max_size=12).filter(_printable),
        st.lists(st.sampled_from(_EMAILS), max_size=2).map(tuple),
        st.lists(st.sampled_from(_PHONES), max_size=2).map(tuple),
        st.none() | st.sampled_from(_COMPANIES),
        created_at=st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
        filled=st.integers(0, 10),
    )


@cache
def dedupe_clusters(max_size: int = 6) -> st.SearchStrategy[list[Candidate]]:
    """Non-empty lists of candidates with distinct ids, as a cluster of duplicates is."""
    return st.lists(dedupe_candidates(), min_size=1, max_size=max_size, unique_by=lambda c: c.id)


def _printable(text: str) -> bool:
    return all(ch.isprintable() and not "\ud800" <= ch <= "\udfff" for ch in text)
