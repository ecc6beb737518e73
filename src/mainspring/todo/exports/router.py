"""``/api/v1/projects/{project_id}/tasks.csv`` and ``tasks.xlsx``, and the iCalendar feeds of
due dates."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Request, Response

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.deps import ReadSessionDep, SessionDep, SettingsDep
from mainspring.core.errors import problem_responses
from mainspring.todo.deps import ExportLimit
from mainspring.todo.exports.schemas import CalendarFeed
from mainspring.todo.exports.service import export_service
from mainspring.todo.exports.workbook import MEDIA_TYPE as XLSX
from mainspring.todo.tasks.filters import TaskFilters, task_conditions

router = APIRouter(prefix="/projects", tags=["task manager: exports"])
ExportFilters = Annotated[TaskFilters, Depends(task_conditions)]
"""The task list's filters that choose tasks inside a project (not ``project_id``, ``sort``)."""


class CSVResponse(Response):
    media_type = "text/csv"


class XLSXResponse(Response):
    media_type = XLSX


class CalendarResponse(Response):
    media_type = "text/calendar"


@router.get(
    "/calendar/{token}.ics",
    response_class=CalendarResponse,
    summary="A project's due dates (iCalendar)",
    responses={
        200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
        **problem_responses(404),
    },
)
async def calendar_feed(
    session: ReadSessionDep,
    settings: SettingsDep,
    token: str = Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$"),
) -> CalendarResponse:
    """The secret iCalendar feed of a project's due dates, for calendar applications (no
    `Authorization` header: the URL is the credential). 404 once revoked."""
    host = urlsplit(settings.public_url).hostname or "mainspring"
    body = await export_service.calendar(session, token, host=host)
    return CalendarResponse(body, headers={"Cache-Control": "private, max-age=300"})


@router.get(
    "/{project_id}/tasks.csv",
    response_class=CSVResponse,
    summary="Export a project's tasks (CSV)",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problem_responses(401, 404, 429),
    },
)
async def export_csv(
    project_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    filters: ExportFilters,
    quota: ExportLimit,
) -> CSVResponse:
    """The project's tasks as CSV (RFC 4180, UTF-8), one row per task in creation order, for
    spreadsheets: every task, or those the task list's filters choose (`column_id`, `done`,
    `assignee`, `label`, `priority`, `due_before`, `due_after`, `overdue`, `q`). Cells that a
    spreadsheet would run as a formula are prefixed with `'`. At most 30 exports a minute
    per user (`MAINSPRING_TODO_EXPORT_LIMIT`, with the XLSX export)."""
    _, body = await export_service.csv(session, principal.user_id, project_id, filters)
    disposition = f'attachment; filename="tasks-{project_id}.csv"'
    return CSVResponse(body, headers={"Content-Disposition": disposition, **quota.headers()})


@router.get(
    "/{project_id}/tasks.xlsx",
    response_class=XLSXResponse,
    summary="Export a project's tasks (Excel)",
    responses={
        200: {
            "description": "An Excel workbook (`.xlsx`): one sheet named after the project.",
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(401, 404, 429),
    },
)
async def export_xlsx(
    project_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    filters: ExportFilters,
    quota: ExportLimit,
) -> XLSXResponse:
    """The project's tasks as an Excel workbook, chosen by the same filters as the CSV export:
    its columns, one row per task in creation order, with typed cells (times as UTC
    date-times, numbers as numbers, `done` as a boolean) under a bold, frozen header row.
    Text is always stored as text, never as a formula: a title such as `=HYPERLINK(...)` is
    shown as written, and stays text if edited. At most 30 exports a minute per user
    (`MAINSPRING_TODO_EXPORT_LIMIT`, with the CSV export)."""
    _, body = await export_service.xlsx(session, principal.user_id, project_id, filters)
    disposition = f'attachment; filename="tasks-{project_id}.xlsx"'
    return XLSXResponse(body, headers={"Content-Disposition": disposition, **quota.headers()})


@router.post(
    "/{project_id}/calendar-feed",
    status_code=201,
    summary="Create your calendar feed URL",
    responses=problem_responses(401, 404),
)
async def create_calendar_feed(
    project_id: uuid.UUID,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> CalendarFeed:
    """A secret URL of the project's due dates for your calendar application. It is shown
    only now; creating another one revokes this one."""
    feed = await export_service.create_feed(session, principal.user_id, project_id)
    path = request.app.url_path_for("calendar_feed", token=feed.token)
    url = settings.public_url.rstrip("/") + str(path)
    response.headers["Location"] = url
    return CalendarFeed(url=url, created_at=feed.created_at)


@router.delete(
    "/{project_id}/calendar-feed",
    status_code=204,
    summary="Revoke your calendar feed URL",
    responses=problem_responses(401, 404),
)
async def revoke_calendar_feed(
    project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Your feed URL of this project stops working (nothing happens if you had none)."""
    await export_service.revoke_feed(session, principal.user_id, project_id)
