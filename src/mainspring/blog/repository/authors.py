"""What a reader sees of an author, joined into every article and comment read: the
account's names, the social module's bio and image, and whether the reader follows them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row, Select, exists, false

from mainspring.accounts.models import User
from mainspring.social.models import Follow, ProfileDetails


def username_key(username: str) -> str:
    """How ``users.username_key`` stores a username: usernames are unique whatever the case."""
    return username.lower()


AUTHOR_COLUMNS: tuple[Any, ...] = (
    User.username,
    User.display_name,
    ProfileDetails.bio,
    ProfileDetails.image,
)
"""The author's profile: the account's names and the social module's bio and image."""


def with_author(stmt: Select[Any], author_id: Any) -> Select[Any]:
    return stmt.join(User, User.id == author_id).outerjoin(
        ProfileDetails, ProfileDetails.user_id == User.id
    )


def following(viewer_id: Any, author_id: Any) -> ColumnElement[bool]:
    """Whether ``viewer_id`` (a value or a bound parameter; None: anonymous) follows the author."""
    if viewer_id is None:
        return false()
    return exists().where(Follow.follower_id == viewer_id, Follow.followee_id == author_id)


def author_fields(row: Row[Any]) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "bio": row.bio,
        "image": row.image,
        "following": bool(row.following),
    }
