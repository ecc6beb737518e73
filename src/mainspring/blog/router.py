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

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from mainspring.accounts.models import USERNAME_MAX
from mainspring.blog import schemas
from mainspring.blog.atom import ATOM_MEDIA_TYPE, article_feed
from mainspring.blog.deps import (
    ArticleFilterDep,
    ArticleQuota,
    CommentQuota,
    IfMatch,
    IfNoneMatch,
    Publisher,
    etag_matches,
)
from mainspring.blog.models import TAG_MAX, ArticleStatus
from mainspring.blog.records import ArticleRecord
from mainspring.blog.service import (
    ArticleChanges,
    ArticleDraft,
    article_service,
    comment_service,
    tag_service,
)
from mainspring.core.auth import CurrentPrincipal, OptionalPrincipal
from mainspring.core.config import Settings
from mainspring.core.deps import CursorSliceDep, ReadSessionDep, SessionDep, SettingsDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.pagination import (
    PageParams,
    page_params,
    set_page_links,
)
from mainspring.core.schemas import CursorPage, Page

router = APIRouter(tags=["blog"], route_class=IdempotentRoute)

Slug = Annotated[str, Path(max_length=200, examples=["how-to-train-your-dragon"])]
CommentId = Annotated[uuid.UUID, Path(description="The comment's id.")]
NOT_MODIFIED: dict[int | str, dict[str, str]] = {
    304: {"description": "Not Modified: the `If-None-Match` ETag is still current."}
}
ATOM_FEED: dict[int | str, dict[str, object]] = {
    200: {
        "description": "An Atom 1.0 feed of the latest published articles.",
        "content": {ATOM_MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}


def _summaries(records: list[ArticleRecord]) -> list[schemas.ArticleSummary]:
    return [schemas.ArticleSummary.model_validate(record) for record in records]


def _article(response: Response, record: ArticleRecord) -> schemas.Article:
    response.headers["ETag"] = record.etag
    return schemas.Article.model_validate(record)


# --- articles -----------------------------------------------------------------------------------


@router.get("/articles", summary="List articles", responses=problem_responses(400, 401))
async def list_articles(
    session: ReadSessionDep,
    principal: OptionalPrincipal,
    filters: ArticleFilterDep,
    listing: CursorSliceDep,
    status: Annotated[
        ArticleStatus,
        Query(description="`draft` and `scheduled` list the caller's own articles."),
    ] = ArticleStatus.PUBLISHED,
) -> CursorPage[schemas.ArticleSummary]:
    """Published articles, newest first, filtered by tag, author, favorited-by user and a
    full-text query. With `status=draft` or `status=scheduled`: the caller's own unpublished
    articles, newest first (empty for an anonymous caller)."""
    records, next_cursor = await article_service.page(
        session, filters, listing.params, listing.codec, principal, status=status
    )
    return listing.page(_summaries(records), next_cursor)


@router.get(
    "/articles/feed",
    summary="Articles by the authors I follow",
    responses=problem_responses(400, 401),
)
async def feed(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    listing: CursorSliceDep,
) -> CursorPage[schemas.ArticleSummary]:
    """Published articles by the users the caller follows, newest first."""
    records, next_cursor = await article_service.feed(
        session, listing.params, listing.codec, principal
    )
    return listing.page(_summaries(records), next_cursor)


@router.post(
    "/articles",
    status_code=201,
    summary="Write an article",
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def create_article(
    payload: schemas.ArticleCreate,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
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
    record = await article_service.create(session, principal, draft)
    response.headers["Location"] = f"/api/v1/articles/{quote(record.slug)}"
    return _article(response, record)


@router.get(
    "/articles/{slug}",
    summary="Read an article",
    response_model=schemas.Article,
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_article(
    slug: Slug,
    response: Response,
    session: ReadSessionDep,
    principal: OptionalPrincipal,
    if_none_match: IfNoneMatch = None,
) -> schemas.Article | Response:
    """A published article (or the caller's own draft), with its `ETag`."""
    record = await article_service.get(session, slug, principal)
    if etag_matches(if_none_match, record.etag):
        return Response(status_code=304, headers={"ETag": record.etag})
    return _article(response, record)


@router.patch(
    "/articles/{slug}",
    summary="Change an article",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 429),
)
async def update_article(
    slug: Slug,
    payload: schemas.ArticleUpdate,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    _publisher: Publisher,
    _quota: ArticleQuota,
    if_match: IfMatch = None,
) -> schemas.Article:
    """Change the fields sent (merge semantics), by the author or a moderator. The slug stays
    the same unless `refresh_slug` is true. With `If-Match`, only if the article is unchanged."""
    changes = cast(ArticleChanges, payload.model_dump(exclude_unset=True))
    record = await article_service.update(session, slug, principal, changes, if_match=if_match)
    return _article(response, record)


@router.delete(
    "/articles/{slug}",
    status_code=204,
    summary="Delete an article",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_article(
    slug: Slug, session: SessionDep, principal: CurrentPrincipal, if_match: IfMatch = None
) -> None:
    """Delete the article with its comments and favorites, by the author or a moderator."""
    await article_service.delete(session, slug, principal, if_match=if_match)


@router.put(
    "/articles/{slug}/favorite",
    summary="Favorite an article",
    responses=problem_responses(401, 404, 409),
)
async def favorite(
    slug: Slug, response: Response, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Article:
    """Add the article to the caller's favorites (again: no change)."""
    return _article(response, await article_service.favorite(session, slug, principal, on=True))


@router.delete(
    "/articles/{slug}/favorite",
    summary="Unfavorite an article",
    responses=problem_responses(401, 404, 409),
)
async def unfavorite(
    slug: Slug, response: Response, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Article:
    """Remove the article from the caller's favorites; answers the article with its count."""
    return _article(response, await article_service.favorite(session, slug, principal, on=False))


# --- comments -----------------------------------------------------------------------------------


@router.get(
    "/articles/{slug}/comments", summary="List comments", responses=problem_responses(400, 401, 404)
)
async def list_comments(
    slug: Slug,
    session: ReadSessionDep,
    principal: OptionalPrincipal,
    listing: CursorSliceDep,
) -> CursorPage[schemas.Comment]:
    """The article's comments thread by thread, oldest first, each reply right under its
    comment."""
    records, next_cursor = await comment_service.page(
        session, slug, listing.params, listing.codec, principal
    )
    return listing.page([schemas.Comment.model_validate(r) for r in records], next_cursor)


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
    record = await comment_service.create(
        session, slug, principal, payload.body, parent_id=payload.parent_id
    )
    response.headers["Location"] = f"/api/v1/articles/{quote(slug)}/comments/{record.id}"
    return schemas.Comment.model_validate(record)


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
    record = await comment_service.update(session, slug, comment_id, principal, payload.body)
    return schemas.Comment.model_validate(record)


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
async def list_tags(
    request: Request,
    response: Response,
    session: ReadSessionDep,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[schemas.TagUsage]:
    """Tags of published articles, the most used first, with how many articles use each."""
    records, total = await tag_service.usage(session, page)
    set_page_links(request, response, page, total)
    items = [schemas.TagUsage.model_validate(record) for record in records]
    return Page(items=items, total=total, page=page.page, page_size=page.page_size)


def _atom(settings: Settings, records: Sequence[ArticleRecord], title: str, path: str) -> Response:
    """An Atom 1.0 feed of ``records`` whose own address is ``path`` under the public URL."""
    public = settings.public_url.rstrip("/")
    feed = article_feed(records, title=title, self_url=f"{public}{path}", public_url=public)
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
    name, records = await article_service.latest_by_author(session, username)
    return _atom(settings, records, f"Articles by {name}", f"/api/v1/articles/authors/{name}.atom")


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
    name, records = await article_service.latest_by_tag(session, tag)
    return _atom(settings, records, f"Articles tagged {name}", f"/api/v1/tags/{quote(name)}.atom")
