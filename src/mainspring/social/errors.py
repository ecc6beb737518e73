"""The social module's domain errors; each renders as problem+json with its own ``code``."""

from __future__ import annotations

from mainspring.core.errors import Conflict, Forbidden, NotFound, UnknownReference


class Blocked(Forbidden):
    """A block stands between the viewer and the user (403, ``blocked``)."""

    code, title = "blocked", "Blocked"


class NotYourPost(Forbidden):
    """Only its author deletes a post (403, ``not-your-post``)."""

    code, title = "not-your-post", "Not Your Post"


class SelfInteraction(Conflict):
    """Following or blocking oneself (409, ``self-interaction``): the request is well-formed,
    who sends it makes it impossible (a 422 says a request breaks the document)."""

    code, title = "self-interaction", "Not With Yourself"


class UnblockFirst(Conflict):
    """Following a user one blocks: unblock first (409, ``unblock-first``)."""

    code, title = "unblock-first", "Unblock First"


class ProfileNotFound(NotFound):
    code, title = "profile-not-found", "Profile Not Found"


class PostNotFound(NotFound):
    code, title = "post-not-found", "Post Not Found"


class UnknownPost(UnknownReference):
    """A post id in a request body (``reply_to_id``, ``quote_of_id``) that names no post: 409,
    since the URL's resource exists (an unknown id in the path is ``PostNotFound``)."""

    code, title = "unknown-post", "Unknown Post"

    def __init__(self, field: str) -> None:
        super().__init__(field, "There is no such post.")


class NotificationNotFound(NotFound):
    code, title = "notification-not-found", "Notification Not Found"
