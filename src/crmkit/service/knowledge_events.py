"""Events of knowledge articles (`crmkit.service.knowledge`).

Article events show on the article's own timeline only; titles are not
personal data, so summaries name them.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from crmkit.kernel.events import DomainEvent


@attrs.frozen(kw_only=True)
class ArticleEvent(DomainEvent):
    """Base class of knowledge article events."""

    aggregate_kind: ClassVar[str] = "article"

    def summary(self) -> str:
        """Timeline line."""
        return "article " + self.event_type.removeprefix("article_").replace("_", " ")


@attrs.frozen(kw_only=True)
class ArticleDrafted(ArticleEvent):
    """An article was drafted.

    Attributes:
        title: Its title.
        body: Its text.
        tags: Case-folded tags, sorted.
        keywords: Its keywords (`crmkit.service.knowledge.keywords_of` of title, tags and body).
    """

    event_type: ClassVar[str] = "article_drafted"
    title: str
    body: str
    tags: tuple[str, ...]
    keywords: tuple[str, ...]

    def summary(self) -> str:
        """Timeline line."""
        return f"article drafted: {self.title}"


@attrs.frozen(kw_only=True)
class ArticleEdited(ArticleEvent):
    """An article's title, body or tags changed; carries all of them after the change.

    Attributes:
        title: The title.
        body: The text.
        tags: The tags.
        keywords: The keywords of the new text.
    """

    event_type: ClassVar[str] = "article_edited"
    title: str
    body: str
    tags: tuple[str, ...]
    keywords: tuple[str, ...]

    def summary(self) -> str:
        """Timeline line."""
        return f"article edited: {self.title}"


@attrs.frozen(kw_only=True)
class ArticlePublished(ArticleEvent):
    """An article was published."""

    event_type: ClassVar[str] = "article_published"


@attrs.frozen(kw_only=True)
class ArticleArchived(ArticleEvent):
    """An article was archived (withdrawn from search)."""

    event_type: ClassVar[str] = "article_archived"


@attrs.frozen(kw_only=True)
class ArticleRestored(ArticleEvent):
    """An archived article was restored to a draft."""

    event_type: ClassVar[str] = "article_restored"


EVENTS: tuple[type[DomainEvent], ...] = (
    ArticleDrafted,
    ArticleEdited,
    ArticlePublished,
    ArticleArchived,
    ArticleRestored,
)
