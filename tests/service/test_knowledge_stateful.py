"""A stateful test of knowledge articles, driven through the real commands.

Random edits, publications, archivings and restorations: accepted commands add
one to the version and yield one event with that version; refused ones raise
`InvalidTransition` naming the state and the command (or `ValidationError` for
an edit that changes nothing) and leave the article as it was. Replay gives the
article back, and its keywords always equal those of its current text. A
steering rule publishes drafts (giving an empty body text first), so random
seeds reach every state.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.serialization import make_converter
from crmkit.service.knowledge import (
    ARTICLE_LIFECYCLE,
    ArticleStatus,
    KnowledgeArticle,
    keywords_of,
)
from crmkit.service.knowledge_events import (
    ArticleArchived,
    ArticleDrafted,
    ArticleEdited,
    ArticlePublished,
    ArticleRestored,
)

STATEFUL = settings(max_examples=200, stateful_step_count=25, deadline=None)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TITLES = ("Reset a password", "Printer offline", "Refund policy")
BODIES = ("", "Open settings and choose reset.", "Check the cable; restart the printer.")
TAGS: tuple[tuple[str, ...], ...] = ((), ("howto",), ("Billing", "faq"))
_S = ArticleStatus
_conv = make_converter()


class ArticleMachine(RuleBasedStateMachine):
    """Commands on one article."""

    visited: ClassVar[set[ArticleStatus]] = set()

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.log: list[DomainEvent] = []

    def stamp(self) -> Stamp:
        self.now += timedelta(minutes=1)
        return Stamp(self.now, "u-writer")

    def accepted(self, old: KnowledgeArticle, new: KnowledgeArticle, event: Any, kind: Any) -> None:
        assert type(event) is kind
        assert new.version == old.version + 1 == event.version
        assert event.aggregate_id == new.id == old.id
        assert event.subjects() == (new.id,)
        self.article = new
        self.log.append(event)
        assert KnowledgeArticle.replay(self.log) == new
        self.visited.add(new.status)

    def refused(self, call: Any, command: str, error: type[Exception] = InvalidTransition) -> None:
        before = _conv.unstructure(self.article)
        with pytest.raises(error) as info:
            call()
        if isinstance(info.value, InvalidTransition):
            assert info.value.aggregate == "article"
            assert info.value.state == self.article.status.value
            assert info.value.command == command
        assert _conv.unstructure(self.article) == before

    def command(self, command: str, call: Any, kind: Any, guard: str | None = None) -> None:
        old = self.article
        if not ARTICLE_LIFECYCLE.can(old.status, command) or guard is not None:
            self.refused(lambda: call(self.stamp()), command)
            return
        new, event = call(self.stamp())
        assert new.status is ARTICLE_LIFECYCLE.target(old.status, command)
        self.accepted(old, new, event, kind)

    @initialize(title=st.sampled_from(TITLES), body=st.sampled_from(BODIES))
    def draft(self, title: str, body: str) -> None:
        article, event = KnowledgeArticle.draft("kb-1", title, self.stamp(), body=body)
        assert isinstance(event, ArticleDrafted)
        assert (article.version, article.status) == (1, _S.DRAFT)
        self.article, self.log = article, [event]
        self.visited.add(article.status)

    @rule(
        title=st.none() | st.sampled_from(TITLES),
        body=st.none() | st.sampled_from(BODIES),
        tags=st.none() | st.sampled_from(TAGS),
    )
    def edit(self, title: str | None, body: str | None, tags: tuple[str, ...] | None) -> None:
        old = self.article

        def call() -> Any:
            return old.edit(self.stamp(), title=title, body=body, tags=tags)

        after = (
            old.title if title is None else title,
            old.body if body is None else body,
            old.tags if tags is None else tuple(sorted(t.casefold() for t in tags)),
        )
        if not ARTICLE_LIFECYCLE.can(old.status, "edit"):
            self.refused(call, "edit")
        elif after == (old.title, old.body, old.tags):
            self.refused(call, "edit", ValidationError)
        else:
            new, event = call()
            assert new.status is old.status
            assert (new.title, new.body, new.tags) == after
            self.accepted(old, new, event, ArticleEdited)

    @rule()
    def publish(self) -> None:
        guard = None if self.article.body else "no body"
        self.command("publish", self.article.publish, ArticlePublished, guard)
        if self.article.status is _S.PUBLISHED:
            assert self.article.published_at is not None

    @rule()
    def archive(self) -> None:
        self.command("archive", self.article.archive, ArticleArchived)

    @rule()
    def restore(self) -> None:
        self.command("restore", self.article.restore, ArticleRestored)

    @precondition(lambda self: self.article.status is _S.DRAFT)
    @rule()
    def steer_to_publication(self) -> None:
        """Publish the draft, writing a body first when it has none."""
        if not self.article.body:
            self.edit(None, BODIES[1], None)
        self.publish()

    @invariant()
    def keywords_follow_the_text(self) -> None:
        a = self.article
        assert a.keywords == keywords_of("\n".join((a.title, *a.tags, a.body)))
        assert [e.version for e in self.log] == list(range(1, a.version + 1))


def test_random_commands_keep_the_article_lifecycle() -> None:
    ArticleMachine.visited = set()
    run_state_machine_as_test(ArticleMachine, settings=STATEFUL)
    assert ArticleMachine.visited == ARTICLE_LIFECYCLE.reachable() == set(ArticleStatus)


def test_no_article_state_is_final() -> None:
    assert ARTICLE_LIFECYCLE.final == frozenset()
    assert ARTICLE_LIFECYCLE.next_states(ArticleStatus.ARCHIVED) == {"restore": ArticleStatus.DRAFT}
