"""The task manager's domain errors, each with its HTTP status and a stable ``code``.

Projects and tasks the caller cannot see answer 404, never 403: a non-member cannot even
learn that they exist. 403 is for members whose role does not allow the change.
"""

from __future__ import annotations

from mainspring.core.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    TooManyRequests,
)


class ProjectNotFound(NotFound):
    code = "project-not-found"

    def __init__(self) -> None:
        super().__init__("The project does not exist or you are not one of its members.")


class TaskNotFound(NotFound):
    code = "task-not-found"

    def __init__(self) -> None:
        super().__init__("The task does not exist or you are not a member of its project.")


class NotFoundInTask(NotFound):
    """A subtask or comment id that does not belong to the task of the path."""

    code = "not-found"


class RoleForbids(Forbidden):
    code = "role-forbids"


class ProjectArchived(Conflict):
    code = "project-archived"

    def __init__(self) -> None:
        super().__init__("The project is archived: unarchive it to change its tasks.")


class LastOwner(Conflict):
    code = "last-owner"

    def __init__(self) -> None:
        super().__init__("A project keeps at least one owner: make someone else owner first.")


class AlreadyMember(Conflict):
    code = "already-member"

    def __init__(self) -> None:
        super().__init__("This user is already a member of the project.")


class InboxIsPersonal(Conflict):
    code = "inbox-is-personal"

    def __init__(self) -> None:
        super().__init__("Your inbox is personal: it cannot be shared, archived or deleted.")


class TooMany(Conflict):
    """A bounded collection (subtasks of a task) is full."""

    code = "limit-reached"


class InvalidReference(Conflict):
    """A field names something that exists but cannot be used here (an assignee who is not a
    member of the project, a destination project where the caller cannot edit). The request
    is well-formed (a 422 says it is not, as its schema does): the project's state refuses it."""

    code = "invalid-reference"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, errors=[{"field": field, "message": message, "type": self.code}])


class StaleVersion(PreconditionFailed):
    code = "stale-version"

    def __init__(self, current_etag: str) -> None:
        super().__init__(
            "The task changed since you read it: reload it, reapply your change and retry.",
            headers={"ETag": current_etag},
        )


class IfMatchRequired(PreconditionRequired):
    code = "if-match-required"

    def __init__(self) -> None:
        super().__init__(
            "Send the task's ETag in If-Match (or `If-Match: *` to overwrite whatever changed)."
        )


# --- board columns ------------------------------------------------------------------------------


class ColumnNotFound(NotFound):
    code = "column-not-found"

    def __init__(self) -> None:
        super().__init__("The project has no such column.")


class WipLimitReached(Conflict):
    """A task may not enter a column that holds its work-in-progress limit already."""

    code = "wip-limit-reached"

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(
            f"The column {name!r} holds its limit of {limit} tasks: finish or move one first, "
            "or raise the limit."
        )


class ColumnArchived(Conflict):
    code = "column-archived"

    def __init__(self) -> None:
        super().__init__("The column is archived: it takes no new task until it is restored.")


class ColumnNotEmpty(Conflict):
    code = "column-not-empty"

    def __init__(self, count: int) -> None:
        super().__init__(f"The column holds {count} tasks: say where they go with `move_tasks_to`.")


class LastColumn(Conflict):
    code = "last-column"

    def __init__(self) -> None:
        super().__init__("A board keeps at least one column that is not archived.")


# --- invitations ---------------------------------------------------------------------------------


class InvitationNotFound(NotFound):
    code = "invitation-not-found"

    def __init__(self) -> None:
        super().__init__("This invitation does not exist (check the link you followed).")


class AlreadyInvited(Conflict):
    code = "already-invited"

    def __init__(self) -> None:
        super().__init__(
            "This address already has an open invitation to the project: resend or revoke it."
        )


class InvitationAccepted(Conflict):
    code = "invitation-accepted"

    def __init__(self) -> None:
        super().__init__("This invitation has already been accepted; it works only once.")


class InvitationRevoked(Gone):
    code = "invitation-revoked"

    def __init__(self) -> None:
        super().__init__("This invitation was revoked by the project's owners.")


class InvitationExpired(Gone):
    code = "invitation-expired"

    def __init__(self) -> None:
        super().__init__("This invitation has expired: ask the project's owners to resend it.")


class ResendTooSoon(TooManyRequests):
    code = "resend-too-soon"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"This invitation was mailed moments ago; it can be resent in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
