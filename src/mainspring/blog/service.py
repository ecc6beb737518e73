"""The blog's rules: who may see and change what, how an article is published, how it is listed.

Services take the request's session and never commit (the session dependency does, once, after
the handler). Authorisation is decided here, on the object, for every access:

- a published article is seen by everyone; a draft or a scheduled article only by its author
  and moderators, and for anyone else it does not exist (404, not 403: no enumeration);
- an article is changed or deleted by its author or a moderator;
- a comment is edited by its author only, and deleted by its author or a moderator;
- comments and favorites go to published articles only.

Both the blog API and the RealWorld adapter call these services, so the two APIs cannot
disagree on a rule. Reads return the response schemas the repository builds; every write ends
with that same read, and marks what it changed as stale in the cache once it commits
(``caching.articles_changed``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from mainspring.blog import schemas
from mainspring.blog.caching import articles_changed
from mainspring.blog.errors import (
    ArticleNotFound,
    ArticleNotPublished,
    AuthorNotFound,
    CommentNotFound,
    ConcurrentEdit,
    InvalidReply,
    InvalidSchedule,
    NoSchedule,
    NotTheAuthor,
    TagNotFound,
)
from mainspring.blog.filters import ArticleFilter
from mainspring.blog.models import Article, ArticleStatus, Comment
from mainspring.blog.repository import (
    NEWEST_DRAFTS_FIRST,
    NEWEST_FIRST,
    ArticleRepository,
    CommentRepository,
    TagRepository,
)
from mainspring.blog.repository import articles as articles_repository
from mainspring.blog.slugs import candidates, derived_from, slugify
from mainspring.blog.tags import normalize_tag
from mainspring.core.auth import Principal, Viewer
from mainspring.core.conditional import Conditional
from mainspring.core.db import Reader, utcnow
from mainspring.core.markdown import render_markdown
from mainspring.core.pagination import CursorSlice, PageSlice
from mainspring.social.notifications.service import notification_service

MODERATE = "content:moderate"
ATOM_ENTRIES = 20


@dataclass(frozen=True)
class ArticleDraft:
    """What an author writes to create an article."""

    title: str
    description: str
    body: str
    tags: list[str]
    status: ArticleStatus = ArticleStatus.DRAFT
    publish_at: datetime | None = None


class ArticleChanges(TypedDict, total=False):
    """An update with merge semantics: only the keys present change."""

    title: str
    description: str
    body: str
    tags: list[str]
    status: ArticleStatus
    publish_at: datetime | None
    refresh_slug: bool


def _may_manage(author_id: uuid.UUID, viewer: Viewer) -> bool:
    return viewer.is_user(author_id) or viewer.can(MODERATE)


class ArticleService:
    """Articles: writing, publishing, reading and listing them, favorites."""

    # --- reading ---

    async def visible(self, session: AsyncSession, slug: str, viewer: Viewer) -> Article:
        """The article row at ``slug`` if the caller may see it (for a write, which changes
        it); ``ArticleNotFound`` otherwise."""
        article = await ArticleRepository(session).by_slug(slug)
        if article is None or (
            article.status != ArticleStatus.PUBLISHED and not _may_manage(article.author_id, viewer)
        ):
            raise ArticleNotFound(f"No article is published at {slug!r}.")
        return article

    async def get(self, session: AsyncSession, slug: str, viewer: Viewer) -> schemas.Article:
        """The article at ``slug`` as ``viewer`` sees it: published, or their own draft (or
        anyone's, for a moderator). Two statements."""
        article = await ArticleRepository(session).article(viewer.user_id, slug=slug)
        if article is None or (
            article.status != ArticleStatus.PUBLISHED and not _may_manage(article.author_id, viewer)
        ):
            raise ArticleNotFound(f"No article is published at {slug!r}.")
        return article

    async def page(
        self,
        session: AsyncSession,
        filters: ArticleFilter,
        listing: CursorSlice,
        viewer: Viewer,
        *,
        status: ArticleStatus = ArticleStatus.PUBLISHED,
    ) -> tuple[list[schemas.ArticleSummary], str | None]:
        """Published articles matching ``filters``, newest first; or, with another ``status``,
        the caller's own drafts or scheduled articles (newest first by creation)."""
        repository = ArticleRepository(session)
        where = repository.conditions(filters)
        keys = NEWEST_FIRST
        if status != ArticleStatus.PUBLISHED:
            if viewer.user_id is None:
                return [], None
            where.append(Article.author_id == viewer.user_id)
            keys = NEWEST_DRAFTS_FIRST
        where.append(Article.status == status)
        return await repository.keyset(where, keys=keys, listing=listing, viewer_id=viewer.user_id)

    async def feed(
        self, reader: Reader, listing: CursorSlice, principal: Principal
    ) -> tuple[list[schemas.ArticleSummary], str | None]:
        """Published articles by the authors the caller follows, newest first."""
        return await articles_repository.feed(reader, principal.user_id, listing)

    async def window(
        self,
        session: AsyncSession,
        filters: ArticleFilter,
        *,
        offset: int,
        limit: int,
        viewer: Viewer,
    ) -> tuple[list[schemas.ArticleSummary], int]:
        """Published articles by offset, with the total count (the RealWorld API's lists)."""
        repository = ArticleRepository(session)
        where = [*repository.conditions(filters), Article.status == ArticleStatus.PUBLISHED]
        return await repository.window(where, offset=offset, limit=limit, viewer_id=viewer.user_id)

    async def latest_by_author(
        self, session: AsyncSession, username: str
    ) -> tuple[str, list[schemas.Article]]:
        """The author's exact username and their latest published articles (an Atom feed)."""
        repository = ArticleRepository(session)
        author = await repository.author(username)
        if author is None:
            raise AuthorNotFound(f"No user is called {username!r}.")
        author_id, exact_username = author
        where = [Article.author_id == author_id, Article.status == ArticleStatus.PUBLISHED]
        return exact_username, await repository.latest(where, limit=ATOM_ENTRIES)

    async def latest_by_tag(
        self, session: AsyncSession, tag: str
    ) -> tuple[str, list[schemas.Article]]:
        """The tag's normalized name and its latest published articles (an Atom feed)."""
        name = normalize_tag(tag)
        if not await TagRepository(session).exists(name):
            raise TagNotFound(f"No article was ever tagged {tag!r}.")
        repository = ArticleRepository(session)
        where = [*repository.conditions(ArticleFilter(tag=name))]
        where.append(Article.status == ArticleStatus.PUBLISHED)
        return name, await repository.latest(where, limit=ATOM_ENTRIES)

    # --- writing ---

    async def create(
        self, session: AsyncSession, principal: Principal, draft: ArticleDraft
    ) -> schemas.Article:
        repository = ArticleRepository(session)
        now = utcnow()
        article = Article(
            author_id=principal.user_id,
            slug=await self._free_slug(repository, slugify(draft.title)),
            title=draft.title,
            description=draft.description,
            body=draft.body,
            body_html=render_markdown(draft.body),
        )
        _set_status(article, draft.status, draft.publish_at, now)
        await repository.add(article)
        await repository.set_tags(article.id, draft.tags)
        articles_changed(session, article.slug)
        return await self._read(repository, article.id, principal)

    async def update(
        self,
        session: AsyncSession,
        slug: str,
        principal: Principal,
        changes: ArticleChanges,
        *,
        conditional: Conditional | None = None,
    ) -> schemas.Article:
        """Apply ``changes``; with ``conditional``, only if its ``If-Match`` names the state
        the caller sees now (412 otherwise)."""
        repository = ArticleRepository(session)
        article = await self.managed(session, slug, principal)
        await self._check(repository, article, principal, conditional)
        old_slug = article.slug
        if "title" in changes:
            article.title = changes["title"]
            if changes.get("refresh_slug"):
                article.slug = await self._refreshed_slug(repository, article)
        if "description" in changes:
            article.description = changes["description"]
        if "body" in changes and changes["body"] != article.body:
            article.body = changes["body"]
            article.body_html = render_markdown(article.body)
        if "status" in changes or "publish_at" in changes:
            status = ArticleStatus(changes.get("status", article.status))
            # A schedule stays only while the article stays scheduled.
            kept = article.publish_at if status == ArticleStatus.SCHEDULED else None
            # Both sent: the body itself must be consistent (422, as its schema says); one
            # alone: the article's own status or schedule decides (409).
            both = "status" in changes and "publish_at" in changes
            _set_status(
                article,
                status,
                changes.get("publish_at", kept),
                utcnow(),
                refusal=InvalidSchedule if both else NoSchedule,
            )
        if "tags" in changes:
            await repository.set_tags(article.id, changes["tags"])
            article.updated_at = utcnow()  # the tags are part of the article: a new version
        await _flush(session)
        articles_changed(session, old_slug, article.slug)
        return await self._read(repository, article.id, principal)

    async def delete(
        self,
        session: AsyncSession,
        slug: str,
        principal: Principal,
        *,
        conditional: Conditional | None = None,
    ) -> None:
        repository = ArticleRepository(session)
        article = await self.managed(session, slug, principal)
        await self._check(repository, article, principal, conditional)
        await session.delete(article)
        await _flush(session)
        articles_changed(session, article.slug)

    async def favorite(
        self, session: AsyncSession, slug: str, principal: Principal, *, on: bool
    ) -> schemas.Article:
        """Favorite (``on``) or unfavorite the article; doing it twice changes nothing."""
        article = await self.published(session, slug, principal)
        repository = ArticleRepository(session)
        if on:
            changed = await repository.add_favorite(principal.user_id, article.id)
        else:
            changed = await repository.remove_favorite(principal.user_id, article.id)
        if changed:  # the count moved: every list and the article show it
            articles_changed(session, article.slug)
        return await self._read(repository, article.id, principal)

    async def publish_due(self, session: AsyncSession) -> int:
        """Publish the scheduled articles whose time has come (the background schedule)."""
        slugs = await ArticleRepository(session).publish_due(utcnow())
        if slugs:
            articles_changed(session, *slugs)
        return len(slugs)

    # --- access ---

    async def _read(
        self, repository: ArticleRepository, article_id: uuid.UUID, principal: Principal
    ) -> schemas.Article:
        """The end of every write: the article as the writer now sees it (the GET's read)."""
        article = await repository.article(principal.user_id, article_id=article_id)
        assert article is not None  # we hold the row: it was just written
        return article

    async def _check(
        self,
        repository: ArticleRepository,
        article: Article,
        principal: Principal,
        conditional: Conditional | None,
    ) -> None:
        """412 unless the request's ``If-Match`` (if any) names the state the caller sees."""
        if conditional is not None and conditional.if_match is not None:
            conditional.check((await self._read(repository, article.id, principal)).etag)

    async def managed(self, session: AsyncSession, slug: str, principal: Principal) -> Article:
        """The article at ``slug`` if the caller may change it (its author or a moderator)."""
        article = await self.visible(session, slug, Viewer(principal))
        if not _may_manage(article.author_id, Viewer(principal)):
            raise NotTheAuthor("Only the author or a moderator may change this article.")
        return article

    async def published(self, session: AsyncSession, slug: str, principal: Principal) -> Article:
        """The visible article at ``slug``, which must be published (comments, favorites)."""
        article = await self.visible(session, slug, Viewer(principal))
        if article.status != ArticleStatus.PUBLISHED:
            raise ArticleNotPublished("Publish the article first.")
        return article

    async def _free_slug(self, repository: ArticleRepository, base: str) -> str:
        """``base`` or, when taken, ``base`` with a random suffix. Two writers racing on one
        title may still pick the same free slug; the unique index then refuses the second
        (409, retry) rather than giving two articles one slug."""
        for candidate in candidates(base):
            if not await repository.slug_taken(candidate):
                return candidate
        raise AssertionError("unreachable: candidates() is endless")

    async def _refreshed_slug(self, repository: ArticleRepository, article: Article) -> str:
        base = slugify(article.title)
        if derived_from(article.slug, base):
            return article.slug  # already this title's slug: links keep working
        return await self._free_slug(repository, base)


def _set_status(
    article: Article,
    status: ArticleStatus,
    publish_at: datetime | None,
    now: datetime,
    *,
    refusal: type[InvalidSchedule | NoSchedule] = InvalidSchedule,
) -> None:
    """Apply a status with its times: published now, scheduled, or back to draft. A schedule
    already past is kept as it is: the schedule's next run publishes it, dated ``publish_at``
    (a time that passed while the request travelled is no error)."""
    if status == ArticleStatus.SCHEDULED:
        if publish_at is None:
            raise refusal(
                "A scheduled article needs a publish_at.",
                errors=[{"field": "publish_at", "message": "required with status 'scheduled'"}],
            )
        article.publish_at, article.published_at = publish_at, None
    elif publish_at is not None:
        raise refusal(
            "publish_at is for scheduled articles only.",
            errors=[{"field": "publish_at", "message": "only with status 'scheduled'"}],
        )
    elif status == ArticleStatus.PUBLISHED:
        if article.status != ArticleStatus.PUBLISHED or article.published_at is None:
            article.published_at = now
        article.publish_at = None
    else:
        article.publish_at = article.published_at = None
    article.status = status


async def _flush(session: AsyncSession) -> None:
    """Write the changes now; a version another request wrote in between is a conflict."""
    try:
        await session.flush()
    except StaleDataError as exc:
        raise ConcurrentEdit("The article was changed at the same time; try again.") from exc


class CommentService:
    """Comments and their replies (one level deep)."""

    async def page(
        self, session: AsyncSession, slug: str, listing: CursorSlice, viewer: Viewer
    ) -> tuple[list[schemas.Comment], str | None]:
        article = await article_service.visible(session, slug, viewer)
        return await CommentRepository(session).threads(
            article.id, listing=listing, viewer_id=viewer.user_id
        )

    async def latest(
        self, session: AsyncSession, slug: str, viewer: Viewer, *, limit: int
    ) -> list[schemas.Comment]:
        """The article's latest comments, newest first (the RealWorld API's list)."""
        article = await article_service.visible(session, slug, viewer)
        return await CommentRepository(session).latest(
            article.id, limit=limit, viewer_id=viewer.user_id
        )

    async def create(
        self,
        session: AsyncSession,
        slug: str,
        principal: Principal,
        body: str,
        *,
        parent_id: uuid.UUID | None = None,
    ) -> schemas.Comment:
        article = await article_service.published(session, slug, principal)
        comments = CommentRepository(session)
        thread_number: int | None = None
        if parent_id is not None:
            parent = await comments.in_article(article.id, parent_id)
            if parent is None or parent.parent_id is not None:
                raise InvalidReply(
                    "Replies go to a top-level comment of the same article.",
                    errors=[{"field": "parent_id", "message": "not a top-level comment here"}],
                )
            thread_number = parent.number
        number = await ArticleRepository(session).next_comment_number(article.id)
        comment = Comment(
            article_id=article.id,
            author_id=principal.user_id,
            parent_id=parent_id,
            number=number,
            thread_number=thread_number or number,
            body=body,
            body_html=render_markdown(body),
        )
        await comments.add(comment)
        if article.author_id != principal.user_id:
            await notification_service.notify(
                session,
                recipient_id=article.author_id,
                actor_id=principal.user_id,
                kind="article_comment",
                subject_type="article",
                subject_id=article.id,
                data={"slug": article.slug, "title": article.title, "comment_id": str(comment.id)},
            )
        return await comments.comment(comment.id, principal.user_id)

    async def update(
        self,
        session: AsyncSession,
        slug: str,
        comment_id: uuid.UUID,
        principal: Principal,
        body: str,
    ) -> schemas.Comment:
        comment = await self._find(session, slug, comment_id, principal)
        if comment.author_id != principal.user_id:
            raise NotTheAuthor("Only its author may edit a comment.")
        comment.body, comment.body_html = body, render_markdown(body)
        await session.flush()
        return await CommentRepository(session).comment(comment.id, principal.user_id)

    async def delete(
        self, session: AsyncSession, slug: str, comment_id: uuid.UUID, principal: Principal
    ) -> None:
        """Delete a comment (and, for a top-level comment, its replies)."""
        comment = await self._find(session, slug, comment_id, principal)
        await self._delete(session, comment, principal)

    async def delete_numbered(
        self, session: AsyncSession, slug: str, number: int, principal: Principal
    ) -> None:
        """Delete the comment numbered ``number`` in the article (the RealWorld comment id)."""
        article = await article_service.visible(session, slug, Viewer(principal))
        comment = await CommentRepository(session).by_number(article.id, number)
        if comment is None:
            raise CommentNotFound(f"The article has no comment {number}.")
        await self._delete(session, comment, principal)

    async def _find(
        self, session: AsyncSession, slug: str, comment_id: uuid.UUID, principal: Principal
    ) -> Comment:
        article = await article_service.visible(session, slug, Viewer(principal))
        comment = await CommentRepository(session).in_article(article.id, comment_id)
        if comment is None:
            raise CommentNotFound("The article has no such comment.")
        return comment

    async def _delete(self, session: AsyncSession, comment: Comment, principal: Principal) -> None:
        if comment.author_id != principal.user_id and not principal.can(MODERATE):
            raise NotTheAuthor("Only its author or a moderator may delete a comment.")
        await CommentRepository(session).delete(comment)


class TagService:
    async def usage(
        self, session: AsyncSession, listing: PageSlice
    ) -> tuple[list[schemas.TagUsage], int]:
        """Tags of published articles, the most used first, with their counts."""
        return await TagRepository(session).usage(listing)


article_service = ArticleService()
comment_service = CommentService()
tag_service = TagService()
