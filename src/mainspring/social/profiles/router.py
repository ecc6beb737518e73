"""``/api/v1/profiles``: profiles, follows, blocks, followers and following."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from mainspring.core.auth import CurrentPrincipal, ViewerDep
from mainspring.core.conditional import NOT_MODIFIED, ConditionalDep
from mainspring.core.deps import CursorSliceDep, ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.schemas import CursorPage
from mainspring.social.profiles.service import (
    block_service,
    follow_service,
    profile_etag,
    profile_service,
)
from mainspring.social.schemas import Profile, ProfileUpdate

router = APIRouter(prefix="/profiles", tags=["social: profiles"])

Username = Annotated[
    str, Path(min_length=1, max_length=32, description="A username (any case).", examples=["ada"])
]


@router.get("/me", summary="Your own profile", responses=problem_responses(401, 404))
async def my_profile(session: ReadSessionDep, principal: CurrentPrincipal) -> Profile:
    """Your profile with its counts, as others see it (404 once your account is deleted,
    while its access token has not expired)."""
    return await profile_service.get_profile_by_id(session, principal.user_id)


@router.patch("/me", summary="Set your bio and image", responses=problem_responses(401, 404))
async def update_my_profile(
    body: ProfileUpdate, session: SessionDep, principal: CurrentPrincipal
) -> Profile:
    """Merge semantics: the fields you send are set (null clears one), the others are kept.
    The image is an `https://` URL: the service stores it and never fetches it."""
    changes = body.model_dump(exclude_unset=True)
    return await profile_service.update_details(session, principal.user_id, changes)


@router.get("/me/blocks", summary="The users you blocked", responses=problem_responses(400, 401))
async def my_blocks(
    session: ReadSessionDep,
    listing: CursorSliceDep,
    principal: CurrentPrincipal,
) -> CursorPage[Profile]:
    """Most recently blocked first; keyset-paginated. Only you see this list."""
    items, next_cursor = await block_service.blocked(session, principal.user_id, listing)
    return listing.respond(items, next_cursor)


@router.get(
    "/{username}",
    summary="A profile",
    response_model=Profile,
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_profile(
    username: Username,
    session: ReadSessionDep,
    viewer: ViewerDep,
    conditional: ConditionalDep,
) -> Profile | Response:
    """Username, display name, bio, image, the counts of followers, following and posts, and,
    for a signed-in viewer, whether the viewer follows or blocks this user. With its `ETag`:
    send it back in `If-None-Match` for a 304 while nothing you would see changed."""
    profile = await profile_service.get_profile(session, username, viewer)
    if conditional.fresh(profile_etag(profile)):
        return conditional.not_modified()
    return profile


@router.put(
    "/{username}/follow",
    summary="Follow a user",
    responses=problem_responses(401, 403, 404, 409),
)
async def follow(username: Username, session: SessionDep, principal: CurrentPrincipal) -> Profile:
    """Idempotent: following twice follows once, and notifies the user once. 403 when the user
    blocked you, 409 when you blocked the user (unblock first) or for yourself."""
    return await follow_service.follow(session, principal.user_id, username)


@router.delete(
    "/{username}/follow", summary="Unfollow a user", responses=problem_responses(401, 404)
)
async def unfollow(username: Username, session: SessionDep, principal: CurrentPrincipal) -> Profile:
    """Idempotent: unfollowing a user you do not follow changes nothing."""
    return await follow_service.unfollow(session, principal.user_id, username)


@router.put("/{username}/block", summary="Block a user", responses=problem_responses(401, 404, 409))
async def block(username: Username, session: SessionDep, principal: CurrentPrincipal) -> Profile:
    """The user can no longer follow you, reply to, quote, repost or like your posts, mention
    you with a notification or read your timeline, and you no longer see each other's posts.
    Follows between you end. 409 for yourself."""
    return await block_service.block(session, principal.user_id, username)


@router.delete("/{username}/block", summary="Unblock a user", responses=problem_responses(401, 404))
async def unblock(username: Username, session: SessionDep, principal: CurrentPrincipal) -> Profile:
    """Lift a block (follows ended by it do not come back)."""
    return await block_service.unblock(session, principal.user_id, username)


@router.get(
    "/{username}/followers",
    summary="Who follows a user",
    responses=problem_responses(400, 401, 404),
)
async def followers(
    username: Username,
    session: ReadSessionDep,
    listing: CursorSliceDep,
    viewer: ViewerDep,
) -> CursorPage[Profile]:
    """Most recent followers first; keyset-paginated (`?limit=&cursor=`)."""
    items, next_cursor = await profile_service.followers(session, username, viewer, listing)
    return listing.respond(items, next_cursor)


@router.get(
    "/{username}/following",
    summary="Whom a user follows",
    responses=problem_responses(400, 401, 404),
)
async def following(
    username: Username,
    session: ReadSessionDep,
    listing: CursorSliceDep,
    viewer: ViewerDep,
) -> CursorPage[Profile]:
    """Most recently followed first; keyset-paginated (`?limit=&cursor=`)."""
    items, next_cursor = await profile_service.following(session, username, viewer, listing)
    return listing.respond(items, next_cursor)
