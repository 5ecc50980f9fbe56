"""Knowledge articles: keyword extraction, search terms, ranking, events, serialisation."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.service.knowledge import (
    MAX_KEYWORDS,
    STOP_WORDS,
    ArticleStatus,
    KnowledgeArticle,
    keywords_of,
    rank,
    search_terms,
)
from crmkit.service.knowledge_events import EVENTS
from crmkit.testing._strategies_complaints import article_texts, articles

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_conv = make_converter()


def at(minutes: int = 0) -> Stamp:
    return Stamp(START + timedelta(minutes=minutes), "u-writer")


def round_trips(value: object) -> None:
    cls = type(value)
    data = _conv.unstructure(value)
    assert structure(_conv, data, cls) == value
    assert Loaders().load(cls, json.loads(dumps(data))) == value


# --- keywords ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("How do I reset my password?", ("password", "reset")),
        ("PASSWORD password Password", ("password",)),
        ("Straße STRASSE", ("strasse",)),  # case folding
        ("ﬁle ＦＩＬＥ", ("file",)),  # NFKC: ligature and full-width letters
        ("e-mail snake_case_word", ("case", "mail", "snake", "word")),
        ("Café cafe\u0301", ("café",)),  # composed and decomposed forms agree
        ("the and for with 42 ab abc", ("abc",)),
        ("2026 invoices", ("2026", "invoices")),
        ("x" * 41 + " ok " + "y" * 40, ("y" * 40,)),
    ],
)
def test_keywords_of(text: str, expected: tuple[str, ...]) -> None:
    assert keywords_of(text) == expected


def test_keywords_are_capped_keeping_the_first_words() -> None:
    words = [f"word{n:03d}" for n in range(100, 0, -1)]
    kept = keywords_of(" ".join(words))
    assert len(kept) == MAX_KEYWORDS
    assert set(kept) == set(words[:MAX_KEYWORDS])
    assert list(kept) == sorted(kept)
    assert keywords_of("alpha beta gamma", limit=2) == ("alpha", "beta")


def test_keyword_functions_refuse_bad_input() -> None:
    with pytest.raises(ValidationError):
        keywords_of(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        keywords_of("x", limit=0)
    with pytest.raises(ValidationError):
        search_terms(b"query")  # type: ignore[arg-type]


@settings(max_examples=200)
@given(article_texts())
def test_keywords_are_normal_unique_sorted_and_bounded(text: str) -> None:
    kept = keywords_of(text)
    assert list(kept) == sorted(set(kept))
    assert len(kept) <= MAX_KEYWORDS
    for word in kept:
        assert 3 <= len(word) <= 40
        assert word not in STOP_WORDS
        assert keywords_of(word) == (word,)  # normalising again changes nothing
    assert search_terms(text) == kept


def test_search_terms_of_stop_words_are_empty() -> None:
    assert search_terms("how do I") == ()
    assert search_terms("Printer OFFLINE?") == ("offline", "printer")


# --- the article and ranking ---


def test_title_tags_and_body_make_the_keywords_and_title_weighs_double() -> None:
    printer, _ = KnowledgeArticle.draft(
        "kb-1", "Printer offline", at(), body="Restart the spooler.", tags=["Hardware"]
    )
    assert printer.keywords == ("hardware", "offline", "printer", "restart", "spooler")
    assert printer.title_keywords == ("offline", "printer")
    other, _ = KnowledgeArticle.draft(
        "kb-2", "Spooler errors", at(), body="A printer that is offline needs a restart."
    )
    terms = search_terms("printer offline restart")
    assert (rank(printer, terms), rank(other, terms)) == (5, 3)
    assert sorted([other, printer], key=lambda a: -rank(a, terms))[0] is printer
    assert rank(printer, ["printer", "printer"]) == 2
    assert rank(printer, search_terms("invoice")) == 0
    with pytest.raises(ValidationError):
        rank(printer, "printer")
    with pytest.raises(ValidationError):
        rank(printer, [1])  # type: ignore[list-item]


def test_long_bodies_keep_title_and_tag_keywords() -> None:
    body = " ".join(f"filler{n:03d}" for n in range(200))
    article, _ = KnowledgeArticle.draft("kb-3", "Zebra printer", at(), body=body, tags=["zulu"])
    assert len(article.keywords) == MAX_KEYWORDS
    assert {"zebra", "printer", "zulu"} <= set(article.keywords)


def test_edit_publish_archive_restore() -> None:
    article, drafted = KnowledgeArticle.draft("kb-4", "Refunds", at())
    with pytest.raises(InvalidTransition, match="'publish': the article has no body"):
        article.publish(at(1))
    article, edited = article.edit(at(1), body="Refunds take five days.")
    assert "days" in article.keywords
    with pytest.raises(ValidationError, match="change nothing"):
        article.edit(at(2), title="Refunds")
    article, published = article.publish(at(2))
    assert (article.status, article.published_at) == (ArticleStatus.PUBLISHED, at(2).at)
    article, live_edit = article.edit(at(3), title="Refund times")
    assert article.status is ArticleStatus.PUBLISHED
    article, archived = article.archive(at(4))
    with pytest.raises(InvalidTransition, match="article in state 'archived' cannot 'edit'"):
        article.edit(at(5), title="x")
    article, restored = article.restore(at(5))
    assert article.status is ArticleStatus.DRAFT
    assert article.published_at == at(2).at  # when it was last published
    events = [drafted, edited, published, live_edit, archived, restored]
    assert KnowledgeArticle.replay(events) == article
    assert [e.summary() for e in events] == [
        "article drafted: Refunds", "article edited: Refunds", "article published",
        "article edited: Refund times", "article archived", "article restored",
    ]  # fmt: skip
    for event in events:
        round_trips(event)
    round_trips(article)


def test_bad_article_input_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        KnowledgeArticle.draft("kb-5", "", at())
    assert info.value.field == "title"
    with pytest.raises(ValidationError) as info:
        KnowledgeArticle.draft("kb-5", "Title", at(), body=7)  # type: ignore[arg-type]
    assert info.value.field == "body"
    with pytest.raises(ValidationError) as info:
        KnowledgeArticle.draft("kb 5", "Title", at())
    assert info.value.field == "id"


def test_events_are_unique_and_of_kind_article() -> None:
    assert len({cls.event_type for cls in EVENTS}) == len(EVENTS)
    assert {cls.aggregate_kind for cls in EVENTS} == {"article"}


@settings(max_examples=60)
@given(articles(), st.sampled_from(("publish", "archive", "edit")))
def test_articles_round_trip(article: KnowledgeArticle, command: str) -> None:
    round_trips(article)
    stamp = Stamp(article.created_at + timedelta(minutes=1), "u-1")
    event: DomainEvent
    if command == "publish" and article.body:
        article, event = article.publish(stamp)
    elif command == "edit":
        article, event = article.edit(stamp, title=article.title + " v2")
    else:
        article, event = article.archive(stamp)
    round_trips(article)
    round_trips(event)
