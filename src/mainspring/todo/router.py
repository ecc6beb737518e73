"""The task manager's routes: ``/projects`` (projects, members, invitations, exports) and
``/tasks`` (tasks, their checklists, comments and history). ``mainspring/api.py`` includes
each of ``routers``."""

from __future__ import annotations

from fastapi import APIRouter

from mainspring.todo.columns.router import router as columns_router
from mainspring.todo.comments.router import router as comments_router
from mainspring.todo.exports.router import router as exports_router
from mainspring.todo.invitations.router import router as invitations_router
from mainspring.todo.projects.router import router as projects_router
from mainspring.todo.subtasks.router import router as subtasks_router
from mainspring.todo.tasks.router import router as tasks_router

routers: tuple[APIRouter, ...] = (
    tasks_router,  # first: the task list is the hot path, and routes are matched in order
    subtasks_router,
    comments_router,
    exports_router,  # before projects: /projects/calendar/{token}.ics, not /projects/{id}/...
    invitations_router,  # before projects: /projects/invitations/accept
    columns_router,
    projects_router,
)
"""In the order ``mainspring/api.py`` includes them (each one itself: see there)."""
