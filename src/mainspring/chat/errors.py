"""The chat's domain errors, each with its HTTP status and a stable ``code``.

A room the caller may not see (private, and not a member) answers 404, never 403: room ids
reveal nothing. 403 is for members whose role does not allow the action, and for the banned.
The WebSocket answers the same codes in ``{"type": "error", "code": ...}`` messages.
"""

from __future__ import annotations

from mainspring.core.errors import BadRequest, Conflict, Forbidden, NotFound


class RoomNotFound(NotFound):
    code = "room-not-found"

    def __init__(self) -> None:
        super().__init__("The room does not exist or you are not one of its members.")


class MessageNotFound(NotFound):
    code = "message-not-found"

    def __init__(self) -> None:
        super().__init__("The message does not exist in a room you belong to.")


class UserNotFound(NotFound):
    code = "user-not-found"

    def __init__(self) -> None:
        super().__init__("No user has this username.")


class NotAMember(Forbidden):
    code = "not-a-member"

    def __init__(self) -> None:
        super().__init__("Join the room first.")


class RoleForbids(Forbidden):
    code = "role-forbids"


class Banned(Forbidden):
    code = "banned"

    def __init__(self) -> None:
        super().__init__("You are banned from this room.")


class AlreadyMember(Conflict):
    code = "already-member"

    def __init__(self) -> None:
        super().__init__("This user is already a member of the room.")


class LastOwner(Conflict):
    code = "last-owner"

    def __init__(self) -> None:
        super().__init__("The room's last owner cannot leave: make someone else owner first.")


class RoomKindForbids(Conflict):
    code = "room-kind-forbids"


class InvalidReply(Conflict):
    code = "invalid-reply"

    def __init__(self) -> None:
        super().__init__("`reply_to_id` is not a message of this room.")


class InvalidAttachment(BadRequest):
    """A URL of the published shape (``http://`` or ``https://`` and no spaces) that still is
    not a URL: no host, a bad port, a malformed address."""

    code = "invalid-attachment"

    def __init__(self, url: str) -> None:
        super().__init__(f"Not a usable http or https URL: {url[:100]!r}.")
