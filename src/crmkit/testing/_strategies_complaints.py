"""Hypothesis strategies for complaints and knowledge articles.

Every value is built through the public constructors and commands, so it is
valid and normalised exactly as crmkit would store it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from hypothesis import strategies as st

from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money
from crmkit.service.complaint import (
    Complaint,
    ComplaintSeverity,
    IntakeChannel,
    Resolution,
    ResolutionType,
    RootCause,
)
from crmkit.service.knowledge import KnowledgeArticle

_IDS = st.from_regex(r"[a-z]{1,3}-[0-9]{1,4}", fullmatch=True)
_TOKENS = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_WORDS = (
    "printer", "offline", "password", "reset", "invoice", "refund", "delivery", "parcel",
    "damaged", "login", "error", "the", "and", "a", "to", "Ünïcode", "ﬁle", "e-mail",
)  # fmt: skip


def _stamps() -> st.SearchStrategy[Stamp]:
    return st.builds(
        Stamp,
        st.integers(0, 500 * 24 * 60).map(lambda m: _START + timedelta(minutes=m)),
        _IDS,
    )


def _lines() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8).map(" ".join)


@cache
def root_causes() -> st.SearchStrategy[RootCause]:
    """Root causes with a token category and an optional note."""
    return st.builds(RootCause, _TOKENS, st.none() | _lines())


@cache
def resolutions() -> st.SearchStrategy[Resolution]:
    """Valid resolutions: refunds and credits with an amount, apologies without one."""

    def build(kind: ResolutionType, cents: int, with_amount: bool, note: str | None) -> Resolution:
        needs = kind in (ResolutionType.REFUND, ResolutionType.CREDIT)
        allowed = kind is not ResolutionType.APOLOGY
        amount = Money.from_minor(cents, "EUR") if needs or (allowed and with_amount) else None
        return Resolution(kind, amount, note)

    return st.builds(
        build,
        st.sampled_from(ResolutionType),
        st.integers(1, 1_000_000),
        st.booleans(),
        st.none() | _lines(),
    )


@cache
def complaints() -> st.SearchStrategy[Complaint]:
    """Newly received complaints from a contact, an account or both."""

    def receive(
        id: str, stamp: Stamp, channel: IntakeChannel, subject: str, severity: ComplaintSeverity,
        category: str, who: int, product: str | None, order: str | None,
    ) -> Complaint:  # fmt: skip
        contact = "c-1" if who in (0, 2) else None
        account = "a-1" if who in (1, 2) else None
        complaint, _ = Complaint.receive(
            id, stamp, channel=channel, subject=subject, description=subject + "\nDetails.",
            category=category, severity=severity, contact_id=contact, account_id=account,
            product_id=product, order_ref=order,
        )  # fmt: skip
        return complaint

    return st.builds(
        receive,
        _IDS,
        _stamps(),
        st.sampled_from(IntakeChannel),
        _lines(),
        st.sampled_from(ComplaintSeverity),
        _TOKENS,
        st.integers(0, 2),
        st.none() | _IDS,
        st.none() | _IDS,
    )


@cache
def article_texts() -> st.SearchStrategy[str]:
    """Article-like text: common words, stop words, odd Unicode and punctuation."""
    return st.lists(st.sampled_from(_WORDS) | st.text(max_size=12), max_size=40).map(" ".join)


@cache
def articles() -> st.SearchStrategy[KnowledgeArticle]:
    """Newly drafted knowledge articles."""

    def draft(id: str, stamp: Stamp, title: str, body: str, tags: list[str]) -> KnowledgeArticle:
        article, _ = KnowledgeArticle.draft(id, title, stamp, body=body, tags=tags)
        return article

    return st.builds(
        draft,
        _IDS,
        _stamps(),
        _lines(),
        st.lists(st.sampled_from(_WORDS), max_size=30).map(" ".join),
        st.lists(_TOKENS, max_size=3),
    )
