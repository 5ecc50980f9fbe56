"""Knowledge articles: answers the service team writes once and finds again.

An article is drafted, published and archived; an archived article can be
restored to a draft. Drafts and published articles can be edited: editing a
published article changes it in place (it stays published, and the event
history keeps every version); an archived one must be restored first.

Each article keeps ``keywords``: the normalised words of its title, tags and
body (`keywords_of`), at most 64. Stores index them as a multi-valued field, so
a search asks the store for articles with any of the query's `search_terms`
and orders the results with `rank` (title words count double).

>>> from datetime import UTC, datetime
>>> from crmkit.kernel.events import Stamp
>>> stamp = Stamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u-writer")
>>> article, _ = KnowledgeArticle.draft(
...     "kb-1", "Resetting your password", stamp,
...     body="Open the login page and choose 'Forgot password'.", tags=["account"],
... )
>>> article.keywords
('account', 'choose', 'forgot', 'login', 'open', 'page', 'password', 'resetting')
>>> rank(article, search_terms("forgot my password"))
3
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, NewType, Self

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, of_type, tuple_of, version
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.text import clean_line, clean_text
from crmkit.parties.values import clean_tags
from crmkit.service.knowledge_events import (
    ArticleArchived,
    ArticleDrafted,
    ArticleEdited,
    ArticleEvent,
    ArticlePublished,
    ArticleRestored,
)

__all__ = [
    "ARTICLE_LIFECYCLE",
    "MAX_KEYWORDS",
    "STOP_WORDS",
    "ArticleId",
    "ArticleStatus",
    "KnowledgeArticle",
    "keywords_of",
    "rank",
    "search_terms",
]

ArticleId = NewType("ArticleId", str)
"""Id of a `KnowledgeArticle`."""

MAX_KEYWORDS = 64
"""Most keywords an article (or a query) keeps."""
_MAX_WORD = 40  # longer "words" are hashes, URLs or tokens nobody types into a search box
_MIN_WORD = 3
_SPLIT = re.compile(r"[\W_]+")

_STOP = """
    about above after again all also and any are because been before being below between both
    but can could did does doing down during each few for from further had has have having her
    here hers herself him himself his how into its itself just more most myself nor not now off
    once only other our ours ourselves out over own same she should some such than that the their
    theirs them themselves then there these they this those through too under until very was
    were what when where which while who whom why will with would you your yours yourself
    yourselves aren couldn didn doesn don hadn hasn haven isn shouldn wasn weren won wouldn
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP.split())
"""English words too common to search for, and the stems of contractions (``don`` of ``don't``)."""


def _words(text: str, limit: int) -> tuple[str, ...]:
    # NFKC folds compatibility forms (ﬁ, full-width letters); case folding can undo NFC.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    seen: dict[str, None] = {}
    for word in _SPLIT.split(folded):
        if _MIN_WORD <= len(word) <= _MAX_WORD and word not in STOP_WORDS and word not in seen:
            seen[word] = None
            if len(seen) == limit:
                break
    return tuple(sorted(seen))


def keywords_of(text: str, limit: int = MAX_KEYWORDS) -> tuple[str, ...]:
    """The normalised words of ``text``: NFKC, case-folded, split on non-word characters.

    Stop words (`STOP_WORDS`) and words shorter than 3 or longer than 40
    characters are dropped. The first ``limit`` distinct words (in order of
    appearance) are kept, then sorted.

    >>> keywords_of("The Printer is OFFLINE; printer won't print!")
    ('offline', 'print', 'printer')
    """
    if not isinstance(text, str):
        raise ValidationError("text", "must be a string", text)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError("limit", "must be a positive integer", limit)
    return _words(text, limit)


def search_terms(query: str) -> tuple[str, ...]:
    """The terms of a search query, normalised exactly as `keywords_of` normalises articles.

    A query of stop words only has no terms: ``search_terms("how do I") == ()``.
    """
    if not isinstance(query, str):
        raise ValidationError("query", "must be a string", query)
    return _words(query, MAX_KEYWORDS)


class ArticleStatus(StrEnum):
    """Where an article is in `ARTICLE_LIFECYCLE`."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


_S = ArticleStatus

ARTICLE_LIFECYCLE: Lifecycle[ArticleStatus] = Lifecycle(
    "article",
    ArticleStatus,
    _S.DRAFT,
    [
        Transition("edit", _S.DRAFT, _S.DRAFT, guard="changes something"),
        Transition("edit", _S.PUBLISHED, _S.PUBLISHED, guard="changes something"),
        Transition("publish", _S.DRAFT, _S.PUBLISHED),
        Transition("archive", (_S.DRAFT, _S.PUBLISHED), _S.ARCHIVED),
        Transition("restore", _S.ARCHIVED, _S.DRAFT),
    ],
)
"""draft → published → archived → (restore) draft; drafts and published articles can be edited."""


def _article_id(value: object) -> ArticleId:
    return ArticleId(check_id(value, "id"))


def _title(value: object) -> str:
    return clean_line(value, "title")


def _body(value: object) -> str:
    return clean_text(value, "body")


def _tags(value: object) -> tuple[str, ...]:
    return clean_tags(value)


def _keywords(title: str, tags: tuple[str, ...], body: str) -> tuple[str, ...]:
    # Title and tags come first, so they survive the cap on a long body.
    return _words("\n".join((title, *tags, body)), MAX_KEYWORDS)


@attrs.frozen
class KnowledgeArticle(Replayable):
    """A knowledge base article.

    Attributes:
        id: The article's id.
        version: Grows by one with every change.
        created_at: When it was drafted.
        updated_at: When it last changed.
        title: Its title.
        body: Its text (plain text or the host's markup).
        status: Where it is in `ARTICLE_LIFECYCLE`.
        tags: Case-folded tags, sorted.
        keywords: Search keywords derived from title, tags and body (see `keywords_of`).
        published_at: When it was last published, if ever.
    """

    id: ArticleId = attrs.field(converter=_article_id)
    version: int = attrs.field(validator=version)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    title: str = attrs.field(converter=_title)
    body: str = attrs.field(converter=_body)
    status: ArticleStatus = attrs.field(default=_S.DRAFT, validator=of_type(ArticleStatus))
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    keywords: tuple[str, ...] = attrs.field(default=(), validator=tuple_of(str))
    published_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))

    @property
    def title_keywords(self) -> tuple[str, ...]:
        """The keywords of the title alone (they weigh double in `rank`)."""
        return _words(self.title, MAX_KEYWORDS)

    @classmethod
    def draft(
        cls,
        id: str,
        title: str,
        stamp: Stamp,
        *,
        body: str = "",
        tags: tuple[str, ...] | list[str] = (),
    ) -> tuple[KnowledgeArticle, ArticleDrafted]:
        """A new article, in draft."""
        if not isinstance(stamp, Stamp):
            raise ValidationError("stamp", "must be a Stamp", stamp)
        checked = cls(id, 1, stamp.at, stamp.at, title, body, tags=tags)
        event = ArticleDrafted(
            aggregate_id=checked.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            title=checked.title,
            body=checked.body,
            tags=checked.tags,
            keywords=_keywords(checked.title, checked.tags, checked.body),
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The first state, from `ArticleDrafted`."""
        if not isinstance(event, ArticleDrafted):
            raise ValidationError("events[0]", "must be ArticleDrafted", event.event_type)
        return cls(
            event.aggregate_id, 1, event.occurred_at, event.occurred_at, event.title,
            event.body, tags=event.tags, keywords=event.keywords,
        )  # fmt: skip

    def apply(self, event: DomainEvent) -> Self:
        """The state after one of this article's events."""
        step: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at}
        if isinstance(event, ArticleEdited):
            step.update(title=event.title, body=event.body, tags=event.tags)
            step["keywords"] = event.keywords
        elif isinstance(event, ArticlePublished):
            step.update(status=_S.PUBLISHED, published_at=event.occurred_at)
        elif isinstance(event, ArticleArchived):
            step["status"] = _S.ARCHIVED
        elif isinstance(event, ArticleRestored):
            step["status"] = _S.DRAFT
        else:
            raise ValidationError("event", "must be an article event", event.event_type)
        return self._evolve(**step)

    def _do(self, cls: type[ArticleEvent], stamp: Stamp, **data: Any) -> tuple[Self, Any]:
        if not isinstance(stamp, Stamp):
            raise ValidationError("stamp", "must be a Stamp", stamp)
        event = cls(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            **data,
        )
        return self.apply(event), event

    def edit(
        self,
        stamp: Stamp,
        *,
        title: str | None = None,
        body: str | None = None,
        tags: tuple[str, ...] | list[str] | None = None,
    ) -> tuple[KnowledgeArticle, ArticleEdited]:
        """Change the title, body or tags (None leaves one as it is); refused when archived."""
        ARTICLE_LIFECYCLE.target(self.status, "edit")
        new_title = self.title if title is None else _title(title)
        new_body = self.body if body is None else _body(body)
        new_tags = self.tags if tags is None else _tags(tags)
        if (new_title, new_body, new_tags) == (self.title, self.body, self.tags):
            raise ValidationError("changes", "change nothing")
        return self._do(
            ArticleEdited, stamp, title=new_title, body=new_body, tags=new_tags,
            keywords=_keywords(new_title, new_tags, new_body),
        )  # fmt: skip

    def publish(self, stamp: Stamp) -> tuple[KnowledgeArticle, ArticlePublished]:
        """Publish a draft; refused when its body is empty."""
        ARTICLE_LIFECYCLE.target(self.status, "publish")
        if not self.body:
            raise ARTICLE_LIFECYCLE.refuse(self.status, "publish", "the article has no body")
        return self._do(ArticlePublished, stamp)

    def archive(self, stamp: Stamp) -> tuple[KnowledgeArticle, ArticleArchived]:
        """Withdraw a draft or a published article."""
        ARTICLE_LIFECYCLE.target(self.status, "archive")
        return self._do(ArticleArchived, stamp)

    def restore(self, stamp: Stamp) -> tuple[KnowledgeArticle, ArticleRestored]:
        """Bring an archived article back as a draft."""
        ARTICLE_LIFECYCLE.target(self.status, "restore")
        return self._do(ArticleRestored, stamp)


def rank(article: KnowledgeArticle, terms: Iterable[str]) -> int:
    """How well ``article`` matches ``terms`` (from `search_terms`): 2 per title word, 1 per other.

    Sort a store's candidates by ``-rank(article, terms)``; 0 means no match.
    """
    if not isinstance(article, KnowledgeArticle):
        raise ValidationError("article", "must be a KnowledgeArticle", article)
    if isinstance(terms, str) or not isinstance(terms, Iterable):
        raise ValidationError("terms", "must be a list or tuple of terms", terms)
    wanted = tuple(terms)
    for index, term in enumerate(wanted):
        if not isinstance(term, str):
            raise ValidationError(f"terms[{index}]", "must be a string", term)
    title = set(article.title_keywords)
    keywords = set(article.keywords)
    score = 0
    for term in dict.fromkeys(wanted):
        if term in title:
            score += 2
        elif term in keywords:
            score += 1
    return score
