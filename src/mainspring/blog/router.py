"""The blog API: ``/api/v1/articles`` (with comments, favorites, Atom feeds) and ``/api/v1/tags``.

Handlers are thin: they read the request, call a service with the request's session and shape
the answer. Lists are keyset-paginated (``?limit=&cursor=``, ``Link: rel="next"``), except the
tag list, a ranking, which pages by number. A single article carries an ``ETag``: a client
revalidates with ``If-None-Match`` (304) and guards its edits with ``If-Match`` (412).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, cast
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import USERNAME_MAX
from mainspring.blog import caching, schemas
from mainspring.blog.atom import ATOM_MEDIA_TYPE, article_feed
from mainspring.blog.deps import ArticleFilterDep, ArticleQuota, CommentQuota, Publisher
from mainspring.blog.errors import ArticleNotFound
from mainspring.blog.models import TAG_MAX, ArticleStatus
from mainspring.blog.service import (
    ArticleChanges,
    ArticleDraft,
    article_service,
    comment_service,
    tag_service,
)
from mainspring.core import cached_answers
from mainspring.core.auth import ANONYMOUS, CurrentPrincipal, ViewerDep
from mainspring.core.cache import CachedBytes
from mainspring.core.conditional import NOT_MODIFIED, ConditionalDep
from mainspring.core.config import Settings
from mainspring.core.deps import (
    CursorSliceDep,
    PageSliceDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.pagination import cursor_link, set_cursor_links
from mainspring.core.schemas import CursorPage, Page

router = APIRouter(tags=["blog"], route_class=IdempotentRoute)

Slug = Annotated[str, Path(max_length=200, examples=["how-to-train-your-dragon"])]
CommentId = Annotated[uuid.UUID, Path(description="The comment's id.")]
ATOM_FEED: dict[int | str, dict[str, object]] = {
    200: {
        "description": "An Atom 1.0 feed of the latest published articles.",
        "content": {ATOM_MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}
ArticlePage = CursorPage[schemas.ArticleSummary]
_PAGE_JSON = TypeAdapter(ArticlePage)
_ARTICLE_JSON = TypeAdapter(schemas.Article)


# --- articles -----------------------------------------------------------------------------------


@router.get(
    "/articles",
    summary="List articles",
    response_model=ArticlePage,
    responses={**NOT_MODIFIED, **problem_responses(400, 401)},
)
async def list_articles(
    request: Request,
    viewer: ViewerDep,
    filters: ArticleFilterDep,
    listing: CursorSliceDep,
    conditional: ConditionalDep,
    status: Annotated[
        ArticleStatus,
        Query(description="`draft` and `scheduled` list the caller's own articles."),
    ] = ArticleStatus.PUBLISHED,
) -> ArticlePage | Response:
    """Published articles, newest first, filtered by tag, author, favorited-by user and a
    full-text query. With `status=draft` or `status=scheduled`: the caller's own unpublished
    articles, newest first (empty for an anonymous caller). Published lists carry an `ETag`
    (304 on `If-None-Match`); anonymous ones are cached (`Cache-Control: public, max-age=5`),
    a signed-in reader's are the same with the reader's flags (`private, no-cache`)."""
    if status != ArticleStatus.PUBLISHED:  # the caller's own drafts: nothing shared
        async with cached_answers.read_session(request) as session:
            items, next_cursor = await article_service.page(
                session, filters, listing, viewer, status=status
            )
        conditional.response.headers["Cache-Control"] = cached_answers.PRIVATE
        return listing.respond(items, next_cursor)

    async def load(session: AsyncSession) -> CachedBytes:
        items, next_cursor = await article_service.page(session, filters, listing, ANONYMOUS)
        page = ArticlePage(items=items, next_cursor=next_cursor)
        return CachedBytes(
            _PAGE_JSON.dump_json(page), {"next_cursor": next_cursor, **caching.ids_meta(items)}
        )

    key = cached_answers.digest_key("blog-articles", filters, listing.limit, listing.cursor)
    cached = await caching.lookup(request, key, [caching.ARTICLES_TAG], load, caching.PAGE_FLAGS)
    set_cursor_links(request, conditional.response, cached.meta["next_cursor"])
    if viewer.user_id is None:
        return cached_answers.respond(cached, conditional)
    overlay = caching.PAGE_FLAGS(viewer.user_id)
    return await cached_answers.respond_private(request, cached, conditional, overlay)


@router.get(
    "/articles/feed",
    summary="Articles by the authors I follow",
    response_model=ArticlePage,
    responses={**NOT_MODIFIED, **problem_responses(400, 401)},
)
async def feed(
    request: Request,
    principal: CurrentPrincipal,
    listing: CursorSliceDep,
    conditional: ConditionalDep,
) -> ArticlePage | Response:
    """Published articles by the users the caller follows, newest first. The answer is the
    caller's own (`Cache-Control: private, no-cache`) with an `ETag` (304 on `If-None-Match`)
    that moves when an article, an author or whom the caller follows changes."""

    async def load(session: AsyncSession) -> CachedBytes:
        items, next_cursor = await article_service.feed(session, listing, principal)
        page = ArticlePage(items=items, next_cursor=next_cursor)
        return CachedBytes(_PAGE_JSON.dump_json(page), {"next_cursor": next_cursor})

    def link(cached: CachedBytes) -> str | None:
        return cursor_link(request, cached.meta["next_cursor"])

    key = cached_answers.digest_key("blog-feed", listing.limit, listing.cursor)
    cached = await caching.lookup_feed(request, principal.user_id, key, load, link)
    set_cursor_links(request, conditional.response, cached.meta["next_cursor"])
    return cached_answers.respond_own(cached, conditional)


@router.post(
    "/articles",
    status_code=201,
    summary="Write an article",
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def create_article(
    payload: schemas.ArticleCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
    _publisher: Publisher,
    _quota: ArticleQuota,
    _idempotency: IdempotencyDep,
) -> schemas.Article:
    """Create an article from Markdown. Its slug comes from the title (made unique); it is a
    `draft` unless `status` says `published`, or `scheduled` with a future `publish_at`.
    Honours `Idempotency-Key`."""
    draft = ArticleDraft(
        title=payload.title,
        description=payload.description,
        body=payload.body,
        tags=payload.tags,
        status=payload.status,
        publish_at=payload.publish_at,
    )
    article = await article_service.create(session, principal, draft)
    conditional.response.headers["Location"] = f"/api/v1/articles/{quote(article.slug)}"
    conditional.stamp(article.etag)
    return article


@router.get(
    "/articles/{slug}",
    summary="Read an article",
    response_model=schemas.Article,
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_article(
    slug: Slug,
    request: Request,
    viewer: ViewerDep,
    conditional: ConditionalDep,
) -> schemas.Article | Response:
    """A published article (or the caller's own draft), with its `ETag` (304 on
    `If-None-Match`). Anonymous answers are cached (`Cache-Control: public, max-age=5`); a
    signed-in reader's are the same with the reader's flags (`private, no-cache`)."""

    async def load(session: AsyncSession) -> CachedBytes:
        article = await article_service.get(session, slug, ANONYMOUS)
        return CachedBytes(_ARTICLE_JSON.dump_json(article), caching.article_meta(article))

    key = f"blog-article:{slug}"
    try:
        cached = await caching.lookup_article(request, key, slug, load, caching.ARTICLE_FLAGS)
    except ArticleNotFound:
        if viewer.user_id is None:
            raise
        # Not published: the reader's own draft (or any, for a moderator) is read for them.
        async with cached_answers.read_session(request) as session:
            article = await article_service.get(session, slug, viewer)
        conditional.response.headers["Cache-Control"] = cached_answers.PRIVATE
        if conditional.fresh(article.etag):
            return conditional.not_modified()
        return article
    if viewer.user_id is None:
        return cached_answers.respond(cached, conditional)
    overlay = caching.ARTICLE_FLAGS(viewer.user_id)
    return await cached_answers.respond_private(request, cached, conditional, overlay)


@router.patch(
    "/articles/{slug}",
    summary="Change an article",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 429),
)
async def update_article(
    slug: Slug,
    payload: schemas.ArticleUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
    _publisher: Publisher,
    _quota: ArticleQuota,
) -> schemas.Article:
    """Change the fields sent (merge semantics), by the author or a moderator. The slug stays
    the same unless `refresh_slug` is true. With `If-Match`, only if the article is unchanged
    (412 otherwise)."""
    changes = cast(ArticleChanges, payload.model_dump(exclude_unset=True))
    article = await article_service.update(
        session, slug, principal, changes, conditional=conditional
    )
    conditional.stamp(article.etag)
    return article


@router.delete(
    "/articles/{slug}",
    status_code=204,
    summary="Delete an article",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_article(
    slug: Slug, session: SessionDep, principal: CurrentPrincipal, conditional: ConditionalDep
) -> None:
    """Delete the article with its comments and favorites, by the author or a moderator. With
    `If-Match`, only if the article is unchanged (412 otherwise)."""
    await article_service.delete(session, slug, principal, conditional=conditional)


@router.put(
    "/articles/{slug}/favorite",
    summary="Favorite an article",
    responses=problem_responses(401, 404, 409),
)
async def favorite(
    slug: Slug, session: SessionDep, principal: CurrentPrincipal, conditional: ConditionalDep
) -> schemas.Article:
    """Add the article to the caller's favorites (again: no change)."""
    article = await article_service.favorite(session, slug, principal, on=True)
    conditional.stamp(article.etag)
    return article


@router.delete(
    "/articles/{slug}/favorite",
    summary="Unfavorite an article",
    responses=problem_responses(401, 404, 409),
)
async def unfavorite(
    slug: Slug, session: SessionDep, principal: CurrentPrincipal, conditional: ConditionalDep
) -> schemas.Article:
    """Remove the article from the caller's favorites; answers the article with its count."""
    article = await article_service.favorite(session, slug, principal, on=False)
    conditional.stamp(article.etag)
    return article


# --- comments -----------------------------------------------------------------------------------


@router.get(
    "/articles/{slug}/comments", summary="List comments", responses=problem_responses(400, 401, 404)
)
async def list_comments(
    slug: Slug,
    session: ReadSessionDep,
    viewer: ViewerDep,
    listing: CursorSliceDep,
) -> CursorPage[schemas.Comment]:
    """The article's comments thread by thread, oldest first, each reply right under its
    comment."""
    comments, next_cursor = await comment_service.page(session, slug, listing, viewer)
    return listing.respond(comments, next_cursor)


@router.post(
    "/articles/{slug}/comments",
    status_code=201,
    summary="Comment on an article",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
async def create_comment(
    slug: Slug,
    payload: schemas.CommentCreate,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    _publisher: Publisher,
    _quota: CommentQuota,
    _idempotency: IdempotencyDep,
) -> schemas.Comment:
    """Comment on a published article, or reply (`parent_id`) to one of its top-level
    comments. The article's author is notified. Honours `Idempotency-Key`."""
    comment = await comment_service.create(
        session, slug, principal, payload.body, parent_id=payload.parent_id
    )
    response.headers["Location"] = f"/api/v1/articles/{quote(slug)}/comments/{comment.id}"
    return comment


@router.patch(
    "/articles/{slug}/comments/{comment_id}",
    summary="Edit a comment",
    responses=problem_responses(401, 403, 404, 429),
)
async def update_comment(
    slug: Slug,
    comment_id: CommentId,
    payload: schemas.CommentUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    _publisher: Publisher,
    _quota: CommentQuota,
) -> schemas.Comment:
    """Change a comment's text; only its author may."""
    return await comment_service.update(session, slug, comment_id, principal, payload.body)


@router.delete(
    "/articles/{slug}/comments/{comment_id}",
    status_code=204,
    summary="Delete a comment",
    responses=problem_responses(401, 403, 404),
)
async def delete_comment(
    slug: Slug, comment_id: CommentId, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Delete a comment and its replies; its author or a moderator may."""
    await comment_service.delete(session, slug, comment_id, principal)


# --- tags and feeds -----------------------------------------------------------------------------


@router.get("/tags", summary="Tags in use", responses=problem_responses())
async def list_tags(session: ReadSessionDep, listing: PageSliceDep) -> Page[schemas.TagUsage]:
    """Tags of published articles, the most used first, with how many articles use each."""
    tags, total = await tag_service.usage(session, listing)
    return listing.respond(tags, total)


def _atom(
    settings: Settings, articles: Sequence[schemas.Article], title: str, path: str
) -> Response:
    """An Atom 1.0 feed of ``articles`` whose own address is ``path`` under the public URL."""
    public = settings.public_url.rstrip("/")
    feed = article_feed(articles, title=title, self_url=f"{public}{path}", public_url=public)
    return Response(feed, media_type=ATOM_MEDIA_TYPE)


@router.get(
    "/articles/authors/{username}.atom",
    summary="Atom feed of an author",
    response_class=Response,
    responses={**ATOM_FEED, **problem_responses(404)},
)
async def author_feed(
    username: Annotated[str, Path(max_length=USERNAME_MAX, examples=["alice"])],
    session: ReadSessionDep,
    settings: SettingsDep,
) -> Response:
    """The author's 20 latest published articles as an Atom 1.0 feed."""
    name, articles = await article_service.latest_by_author(session, username)
    return _atom(settings, articles, f"Articles by {name}", f"/api/v1/articles/authors/{name}.atom")


@router.get(
    "/tags/{tag}.atom",
    summary="Atom feed of a tag",
    response_class=Response,
    responses={**ATOM_FEED, **problem_responses(404)},
)
async def tag_feed(
    tag: Annotated[str, Path(max_length=TAG_MAX, examples=["dragons"])],
    session: ReadSessionDep,
    settings: SettingsDep,
) -> Response:
    """The 20 latest published articles with this tag as an Atom 1.0 feed."""
    name, articles = await article_service.latest_by_tag(session, tag)
    return _atom(settings, articles, f"Articles tagged {name}", f"/api/v1/tags/{quote(name)}.atom")
