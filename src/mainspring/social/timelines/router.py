"""Timelines: ``/api/v1/timeline`` (home), a user's posts, a hashtag's posts, trending hashtags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from mainspring.core.auth import CurrentPrincipal, ViewerDep
from mainspring.core.cache import CacheDep
from mainspring.core.deps import CursorSliceDep, DatabaseDep, ReadSessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.schemas import CursorPage
from mainspring.social.schemas import Post, Trending
from mainspring.social.timelines.service import timeline_service

router = APIRouter(tags=["social: timelines"])


@router.get("/timeline", summary="Your home timeline", responses=problem_responses(400, 401))
async def home_timeline(
    database: DatabaseDep,
    listing: CursorSliceDep,
    principal: CurrentPrincipal,
) -> CursorPage[Post]:
    """Posts, replies, quotes and reposts by you and the users you follow, newest first.
    Keyset-paginated: posts published while you page down never shift the next slice."""
    async with database.read_connection() as connection:
        items, next_cursor = await timeline_service.home(connection, principal.user_id, listing)
    return listing.respond(items, next_cursor)


@router.get(
    "/profiles/{username}/posts",
    summary="A user's timeline",
    responses=problem_responses(400, 401, 403, 404),
)
async def user_timeline(
    username: Annotated[str, Path(min_length=1, max_length=32, examples=["ada"])],
    session: ReadSessionDep,
    listing: CursorSliceDep,
    viewer: ViewerDep,
) -> CursorPage[Post]:
    """What the user posted, replied, quoted and reposted, newest first. 403 when a block
    stands between you and the user."""
    items, next_cursor = await timeline_service.of_user(session, username, viewer, listing)
    return listing.respond(items, next_cursor)


@router.get(
    "/hashtags/trending",
    summary="Trending hashtags",
    responses=problem_responses(),
)
async def trending(
    session: ReadSessionDep,
    cache: CacheDep,
    limit: Annotated[int, Query(ge=1, le=50, description="How many hashtags.")] = 10,
) -> Trending:
    """The hashtags used by the most posts over the last 24 hours, most used first. Counted at
    most once a minute: a new post shows up within a minute."""
    return await timeline_service.trending(session, cache, limit)


@router.get(
    "/hashtags/{tag}/posts",
    summary="A hashtag's timeline",
    responses=problem_responses(400, 401),
)
async def hashtag_timeline(
    tag: Annotated[
        str,
        Path(
            min_length=1,
            max_length=100,
            description="The tag, without `#`, any case.",
            examples=["python"],
        ),
    ],
    session: ReadSessionDep,
    listing: CursorSliceDep,
    viewer: ViewerDep,
) -> CursorPage[Post]:
    """Posts with `#tag` (compared case-insensitively), newest first; keyset-paginated."""
    items, next_cursor = await timeline_service.hashtag(session, tag, viewer, listing)
    return listing.respond(items, next_cursor)
