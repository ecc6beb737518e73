"""``/api/v1/posts``: write, read and delete posts; replies, likes and reposts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from mainspring.core.auth import CurrentPrincipal, ViewerDep
from mainspring.core.conditional import NOT_MODIFIED, ConditionalDep
from mainspring.core.deps import CursorSliceDep, ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.schemas import CursorPage
from mainspring.social.deps import PostingLimit
from mainspring.social.posts.service import post_etag, post_service
from mainspring.social.schemas import Post, PostCreate, Profile

router = APIRouter(prefix="/posts", tags=["social: posts"], route_class=IdempotentRoute)


def _location(post: Post) -> str:
    return f"/api/v1/posts/{post.id}"


@router.post(
    "",
    status_code=201,
    summary="Write a post, a reply or a quote",
    responses=problem_responses(401, 403, 409, 429),
    dependencies=[PostingLimit],
)
async def create_post(
    body: PostCreate,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
) -> Post:
    """Plain text of 1-280 characters; `#hashtags` and `@mentions` of existing users become
    links (`entities`) and mentioned users are notified. With `reply_to_id` it is a reply
    (the author replied to is notified), with `quote_of_id` a quote. 409 `unknown-post` when
    the post replied to or quoted does not exist, 403 when a block stands between you and its
    author. Honours `Idempotency-Key`. At most 30 posts a minute."""
    post = await post_service.create(session, principal.user_id, body)
    response.headers["Location"] = _location(post)
    return post


@router.get(
    "/{post_id}",
    summary="A post",
    response_model=Post,
    responses={**NOT_MODIFIED, **problem_responses(401, 403, 404)},
)
async def get_post(
    post_id: uuid.UUID,
    session: ReadSessionDep,
    viewer: ViewerDep,
    conditional: ConditionalDep,
) -> Post | Response:
    """The post with its counters and, for a signed-in viewer, whether the viewer liked or
    reposted it. A repost or a quote carries its `original`. With its `ETag`: send it back in
    `If-None-Match` for a 304 while nothing you would see changed."""
    post = await post_service.view(session, post_id, viewer)
    if conditional.fresh(post_etag(post)):
        return conditional.not_modified()
    return post


@router.delete(
    "/{post_id}",
    status_code=204,
    summary="Delete your post",
    responses=problem_responses(401, 403, 404),
)
async def delete_post(post_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> None:
    """Only the author (or a moderator) deletes a post. Its reposts and likes go with it;
    replies and quotes of it stay, with `reply_to_id` / `original` null."""
    await post_service.delete(session, post_id, principal)


@router.get(
    "/{post_id}/replies",
    summary="Replies to a post",
    responses=problem_responses(400, 401, 403, 404),
)
async def replies(
    post_id: uuid.UUID, session: ReadSessionDep, listing: CursorSliceDep, viewer: ViewerDep
) -> CursorPage[Post]:
    """Direct replies, oldest first (a thread reads top-down); keyset-paginated."""
    items, next_cursor = await post_service.replies(session, post_id, viewer, listing)
    return listing.respond(items, next_cursor)


@router.get(
    "/{post_id}/likes",
    summary="Who liked a post",
    responses=problem_responses(400, 401, 403, 404),
)
async def likes(
    post_id: uuid.UUID, session: ReadSessionDep, listing: CursorSliceDep, viewer: ViewerDep
) -> CursorPage[Profile]:
    """The profiles of the users who liked the post (its original, for a repost), most recent
    first; keyset-paginated. Users on the other side of a block from you are left out."""
    items, next_cursor = await post_service.likers(session, post_id, viewer, listing)
    return listing.respond(items, next_cursor)


@router.put("/{post_id}/like", summary="Like a post", responses=problem_responses(401, 403, 404))
async def like(
    post_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Post:
    """Idempotent; the author is notified once. Liking a repost likes its original, which is
    the post answered."""
    return await post_service.like(session, post_id, principal.user_id)


@router.delete(
    "/{post_id}/like", summary="Unlike a post", responses=problem_responses(401, 403, 404)
)
async def unlike(
    post_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Post:
    """Idempotent: unliking a post you do not like changes nothing."""
    return await post_service.unlike(session, post_id, principal.user_id)


@router.put(
    "/{post_id}/repost",
    summary="Repost a post",
    responses={
        **problem_responses(401, 403, 404),
        201: {"model": Post, "description": "Reposted: the new repost."},
    },
)
async def repost(
    post_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Post:
    """Puts the post on your timeline and your followers' home timelines; answers the repost
    (201 with its `Location` the first time, 200 with the same repost after). Reposting a
    repost reposts its original."""
    post, created = await post_service.repost(session, post_id, principal.user_id)
    if created:
        response.status_code = 201
        response.headers["Location"] = _location(post)
    return post


@router.delete(
    "/{post_id}/repost",
    status_code=204,
    summary="Undo your repost",
    responses=problem_responses(401, 403, 404),
)
async def unrepost(post_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> None:
    """Removes your repost of the post (`post_id` is the original or your repost)."""
    await post_service.unrepost(session, post_id, principal.user_id)
