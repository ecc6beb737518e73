"""The RealWorld ("Conduit") API over Mainspring's own services and tables.

Any RealWorld front end runs on Mainspring by pointing it at this router's prefix
(``MAINSPRING_REALWORLD_PREFIX``, ``/realworld/api`` by default). Nothing here holds a rule of
its own: users are accounts (registered and signed in by the accounts services, the RealWorld
``token`` being the access JWT), profiles and follows are the social module's, and articles,
comments, favorites and tags are the blog's, read and written through the blog's services. A
change made through one API is seen at once through the other.

The routes speak RealWorld at their edge (``RealWorldRoute``): ``Token`` authorization,
``{"errors": {"body": [...]}}`` errors. They are left out of Mainspring's OpenAPI document:
their contract is the RealWorld specification, and the official Postman collection checks it
(``tests/realworld/run_newman.sh``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.blog import caching
from mainspring.blog.deps import ArticleQuota, CommentQuota, Publisher
from mainspring.blog.errors import ArticleNotFound
from mainspring.blog.filters import ArticleFilter
from mainspring.blog.models import ArticleStatus
from mainspring.blog.schemas import ArticleSummary
from mainspring.blog.service import (
    ArticleChanges,
    ArticleDraft,
    article_service,
    comment_service,
    tag_service,
)
from mainspring.blog.tags import normalize_tags
from mainspring.core import cached_answers
from mainspring.core.auth import ANONYMOUS, CurrentPrincipal, Viewer, ViewerDep
from mainspring.core.cache import CachedBytes
from mainspring.core.conditional import ConditionalDep
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.pagination import MAX_LIMIT, PageSlice
from mainspring.realworld import schemas
from mainspring.realworld.route import RealWorldRoute
from mainspring.realworld.users import router as users_router
from mainspring.social.profiles.service import follow_service, profile_service
from mainspring.social.schemas import Profile

router = APIRouter(route_class=RealWorldRoute, include_in_schema=False)
router.include_router(users_router)

Slug = Annotated[str, Path(max_length=200)]
Username = Annotated[str, Path(max_length=32)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, description="At most 100 are returned.")]


def _profile(profile: Profile) -> schemas.ProfileResponse:
    return schemas.ProfileResponse(
        profile=schemas.Profile(
            username=profile.username,
            bio=profile.bio,
            image=profile.image,
            following=profile.following,
        )
    )


# --- profiles -----------------------------------------------------------------------------------


@router.get("/profiles/{username}", summary="Get a profile")
async def get_profile(
    username: Username, session: ReadSessionDep, viewer: ViewerDep
) -> schemas.ProfileResponse:
    """A user's profile; `following` says whether the caller follows them."""
    return _profile(await profile_service.get_profile(session, username, viewer.user_id))


@router.post("/profiles/{username}/follow", summary="Follow a user")
async def follow(
    username: Username, session: SessionDep, principal: CurrentPrincipal
) -> schemas.ProfileResponse:
    """Follow the user (the social module's follow: they are notified once)."""
    return _profile(await follow_service.follow(session, principal.user_id, username))


@router.delete("/profiles/{username}/follow", summary="Unfollow a user")
async def unfollow(
    username: Username, session: SessionDep, principal: CurrentPrincipal
) -> schemas.ProfileResponse:
    """Stop following the user."""
    return _profile(await follow_service.unfollow(session, principal.user_id, username))


# --- articles -----------------------------------------------------------------------------------


def _articles(articles: list[ArticleSummary], total: int) -> schemas.ArticlesResponse:
    return schemas.ArticlesResponse(
        articles=[schemas.ArticleInList.of(article) for article in articles], articles_count=total
    )


async def _window(
    session: AsyncSession, filters: ArticleFilter, offset: int, limit: int, viewer: Viewer
) -> tuple[schemas.ArticlesResponse, list[ArticleSummary]]:
    """The answer of a list, and the articles it shows."""
    articles, total = await article_service.window(
        session, filters, offset=offset, limit=min(limit, MAX_LIMIT), viewer=viewer
    )
    return _articles(articles, total), articles


def _listed(document: Any) -> list[dict[str, Any]]:
    """The articles of a list's answer (for ``caching.flags``)."""
    articles: list[dict[str, Any]] = document["articles"]
    return articles


def _the_article(document: Any) -> list[dict[str, Any]]:
    """The article of an article's answer (for ``caching.flags``)."""
    return [document["article"]]


_LIST_FLAGS = caching.flags(_listed)
_ARTICLE_FLAGS = caching.flags(_the_article)


@router.get(
    "/articles/feed",
    summary="Articles by the users I follow",
    response_model=schemas.ArticlesResponse,
)
async def feed(
    request: Request,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
    offset: Offset = 0,
    limit: Limit = 20,
) -> schemas.ArticlesResponse | Response:
    """Published articles by the users the caller follows, newest first: the caller's own
    answer, kept per reader (``blog/caching.py``, ``lookup_feed``)."""
    filters = ArticleFilter(followed_by=principal.user_id)

    async def load(session: AsyncSession) -> CachedBytes:
        answer, _ = await _window(session, filters, offset, limit, Viewer(principal))
        return CachedBytes(answer.model_dump_json().encode())

    key = cached_answers.digest_key("realworld-feed", offset, min(limit, MAX_LIMIT))
    cached = await caching.lookup_feed(request, principal.user_id, key, load)
    return cached_answers.respond_own(cached, conditional)


@router.get("/articles", summary="List articles", response_model=schemas.ArticlesResponse)
async def list_articles(
    request: Request,
    viewer: ViewerDep,
    conditional: ConditionalDep,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    author: Annotated[str | None, Query(max_length=32)] = None,
    favorited: Annotated[str | None, Query(max_length=32)] = None,
    offset: Offset = 0,
    limit: Limit = 20,
) -> schemas.ArticlesResponse | Response:
    """Published articles, newest first, by tag, author or the user who favorited them: the
    blog's cached answer (``blog/caching.py``), with a signed-in reader's flags set on it."""
    filters = ArticleFilter(tag=tag, author=author, favorited_by=favorited)

    async def load(session: AsyncSession) -> CachedBytes:
        answer, articles = await _window(session, filters, offset, limit, ANONYMOUS)
        return CachedBytes(answer.model_dump_json().encode(), caching.ids_meta(articles))

    key = cached_answers.digest_key("realworld-articles", filters, offset, min(limit, MAX_LIMIT))
    cached = await caching.lookup(request, key, [caching.ARTICLES_TAG], load, _LIST_FLAGS)
    if viewer.user_id is None:
        return cached_answers.respond(cached, conditional)
    overlay = _LIST_FLAGS(viewer.user_id)
    return await cached_answers.respond_private(request, cached, conditional, overlay)


@router.post("/articles", status_code=201, summary="Create an article")
async def create_article(
    payload: schemas.NewArticleRequest,
    session: SessionDep,
    principal: CurrentPrincipal,
    _publisher: Publisher,
    _quota: ArticleQuota,
) -> schemas.ArticleResponse:
    """Publish an article at once (RealWorld has no drafts)."""
    article = payload.article
    draft = ArticleDraft(
        title=article.title,
        description=article.description,
        body=article.body,
        tags=normalize_tags(article.tag_list),
        status=ArticleStatus.PUBLISHED,
    )
    created = await article_service.create(session, principal, draft)
    return schemas.ArticleResponse(article=schemas.Article.of(created))


@router.get("/articles/{slug}", summary="Get an article", response_model=schemas.ArticleResponse)
async def get_article(
    slug: Slug,
    request: Request,
    viewer: ViewerDep,
    conditional: ConditionalDep,
) -> schemas.ArticleResponse | Response:
    """One article: the blog's cached answer (``blog/caching.py``), with a signed-in reader's
    flags set on it; the reader's own unpublished article is read for them."""

    async def load(session: AsyncSession) -> CachedBytes:
        article = await article_service.get(session, slug, ANONYMOUS)
        answer = schemas.ArticleResponse(article=schemas.Article.of(article))
        return CachedBytes(answer.model_dump_json().encode(), caching.article_meta(article))

    key = f"realworld-article:{slug}"
    try:
        cached = await caching.lookup_article(request, key, slug, load, _ARTICLE_FLAGS)
    except ArticleNotFound:
        if viewer.user_id is None:
            raise
        # Not published: the reader's own draft (or any, for a moderator) is read for them.
        async with cached_answers.read_session(request) as session:
            article = await article_service.get(session, slug, viewer)
        return schemas.ArticleResponse(article=schemas.Article.of(article))
    if viewer.user_id is None:
        return cached_answers.respond(cached, conditional)
    overlay = _ARTICLE_FLAGS(viewer.user_id)
    return await cached_answers.respond_private(request, cached, conditional, overlay)


@router.put("/articles/{slug}", summary="Update an article")
async def update_article(
    slug: Slug,
    payload: schemas.UpdateArticleRequest,
    session: SessionDep,
    principal: CurrentPrincipal,
    _publisher: Publisher,
    _quota: ArticleQuota,
) -> schemas.ArticleResponse:
    """Change the fields sent; the author or a moderator may. The slug does not change."""
    article, changes = payload.article, ArticleChanges()
    if article.title is not None:
        changes["title"] = article.title
    if article.description is not None:
        changes["description"] = article.description
    if article.body is not None:
        changes["body"] = article.body
    if article.tag_list is not None:
        changes["tags"] = normalize_tags(article.tag_list)
    updated = await article_service.update(session, slug, principal, changes)
    return schemas.ArticleResponse(article=schemas.Article.of(updated))


@router.delete("/articles/{slug}", status_code=204, summary="Delete an article")
async def delete_article(slug: Slug, session: SessionDep, principal: CurrentPrincipal) -> None:
    """Delete the article; the author or a moderator may."""
    await article_service.delete(session, slug, principal)


@router.post("/articles/{slug}/favorite", summary="Favorite an article")
async def favorite(
    slug: Slug, session: SessionDep, principal: CurrentPrincipal
) -> schemas.ArticleResponse:
    """Add the article to the caller's favorites."""
    article = await article_service.favorite(session, slug, principal, on=True)
    return schemas.ArticleResponse(article=schemas.Article.of(article))


@router.delete("/articles/{slug}/favorite", summary="Unfavorite an article")
async def unfavorite(
    slug: Slug, session: SessionDep, principal: CurrentPrincipal
) -> schemas.ArticleResponse:
    """Remove the article from the caller's favorites."""
    article = await article_service.favorite(session, slug, principal, on=False)
    return schemas.ArticleResponse(article=schemas.Article.of(article))


# --- comments and tags --------------------------------------------------------------------------


@router.get("/articles/{slug}/comments", summary="Comments of an article")
async def list_comments(
    slug: Slug, session: ReadSessionDep, viewer: ViewerDep
) -> schemas.CommentsResponse:
    """The article's 100 latest comments, newest first (RealWorld lists have no pages)."""
    comments = await comment_service.latest(session, slug, viewer, limit=MAX_LIMIT)
    return schemas.CommentsResponse(comments=[schemas.Comment.of(comment) for comment in comments])


@router.post("/articles/{slug}/comments", status_code=201, summary="Comment on an article")
async def create_comment(
    slug: Slug,
    payload: schemas.NewCommentRequest,
    session: SessionDep,
    principal: CurrentPrincipal,
    _publisher: Publisher,
    _quota: CommentQuota,
) -> schemas.CommentResponse:
    """Add a comment; the article's author is notified."""
    comment = await comment_service.create(session, slug, principal, payload.comment.body)
    return schemas.CommentResponse(comment=schemas.Comment.of(comment))


@router.delete("/articles/{slug}/comments/{id}", status_code=204, summary="Delete a comment")
async def delete_comment(
    slug: Slug,
    id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    principal: CurrentPrincipal,
) -> None:
    """Delete a comment by its number in the article; its author or a moderator may."""
    await comment_service.delete_numbered(session, slug, id, principal)


@router.get("/tags", summary="Tags")
async def list_tags(session: ReadSessionDep) -> schemas.TagsResponse:
    """The 100 most used tags of published articles, the most used first."""
    tags, _ = await tag_service.usage(session, PageSlice(page=1, page_size=MAX_LIMIT))
    return schemas.TagsResponse(tags=[tag.name for tag in tags])
