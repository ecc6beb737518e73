"""What each member role may do. Every service method asks these questions; nothing else
decides.

| action                                          | owner | editor | viewer |
| ----------------------------------------------- | ----- | ------ | ------ |
| read the project, its tasks, comments, history  | yes   | yes    | yes    |
| export CSV, own calendar feed, leave            | yes   | yes    | yes    |
| create, change, move, delete tasks; comment     | yes   | yes    | no     |
| rename, archive, delete the project; members    | yes   | no     | no     |

A non-member can do nothing, and is told the project does not exist.
"""

from __future__ import annotations

from enum import StrEnum

from mainspring.todo.errors import RoleForbids


class Role(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


def can_edit_tasks(role: str) -> bool:
    return role in (Role.OWNER, Role.EDITOR)


def can_manage_project(role: str) -> bool:
    return role == Role.OWNER


def require_task_editor(role: str) -> None:
    if not can_edit_tasks(role):
        raise RoleForbids("Viewers can read this project but not change it.")


def require_owner(role: str) -> None:
    if not can_manage_project(role):
        raise RoleForbids("Only the project's owners can change its settings and members.")
