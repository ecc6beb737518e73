"""Board columns: the owners define a project's columns (name, colour, WIP limit, which count
as done), reorder, archive and delete them; every member reads them.

Every change holds the project's row lock, the same lock every change of the project's tasks
holds (``tasks/service.py``): so a column's positions stay 0..n-1, a task never enters a
column while it is being archived or deleted, and a WIP limit is never exceeded by writers
racing each other.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.conditional import Conditional, make_etag
from mainspring.core.db import utcnow
from mainspring.core.pagination import PageSlice
from mainspring.todo.columns import schemas
from mainspring.todo.columns.repository import ColumnRepository
from mainspring.todo.errors import (
    ColumnArchived,
    ColumnNotEmpty,
    ColumnNotFound,
    InvalidReference,
    LastColumn,
    ProjectArchived,
    TooMany,
    WipLimitReached,
)
from mainspring.todo.models import BoardColumn, Project
from mainspring.todo.projects.service import project_service
from mainspring.todo.roles import require_owner


def column_etag(column: schemas.Column) -> str:
    """A column's ETag: its ``updated_at`` and its task count (which moves of tasks change)."""
    return make_etag(column.updated_at.isoformat(), column.task_count)


class ColumnService:
    # --- reading --------------------------------------------------------------------------

    async def page(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        listing: PageSlice,
    ) -> tuple[list[schemas.Column], int]:
        await project_service.access(session, user_id, project_id, lock=False)
        return await ColumnRepository(session).board_page(project_id, listing)

    async def get(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        column_id: uuid.UUID,
    ) -> schemas.Column:
        await project_service.access(session, user_id, project_id, lock=False)
        return await _read(session, project_id, column_id)

    # --- writing (owners) -----------------------------------------------------------------

    async def create(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        data: schemas.ColumnCreate,
    ) -> schemas.Column:
        await self._owned(session, user_id, project_id)
        board = await ColumnRepository(session).of_project(project_id)
        if len(board) >= schemas.MAX_COLUMNS:
            raise TooMany(f"A board has at most {schemas.MAX_COLUMNS} columns.")
        column = BoardColumn(
            project_id=project_id,
            name=data.name,
            colour=data.colour,
            wip_limit=data.wip_limit,
            is_done=data.is_done,
            position=len(board),
        )
        session.add(column)
        position = len(board) if data.position is None else min(data.position, len(board))
        _renumber([*board[:position], column, *board[position:]])
        await session.flush()
        return await _read(session, project_id, column.id)

    async def update(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        column_id: uuid.UUID,
        data: schemas.ColumnUpdate,
        conditional: Conditional,
    ) -> schemas.Column:
        """Rename, recolour, limit, flag as done, move on the board, archive or restore;
        ``If-Match`` (honoured when sent) is checked under the project's lock."""
        await self._owned(session, user_id, project_id)
        conditional.check(column_etag(await _read(session, project_id, column_id)))
        repository = ColumnRepository(session)
        board = await repository.of_project(project_id)
        column = _find(board, column_id)
        shown_before = (column.name, column.is_done)
        if data.name is not None:
            column.name = data.name
        if data.colour is not None:
            column.colour = data.colour
        if "wip_limit" in data.model_fields_set:
            column.wip_limit = data.wip_limit
        if data.archived is True and column.archived_at is None:
            if not any(c.archived_at is None for c in board if c.id != column.id):
                raise LastColumn()
            column.archived_at = utcnow()
        elif data.archived is False:
            column.archived_at = None
        if data.position is not None:
            others = [c for c in board if c.id != column.id]
            others.insert(min(data.position, len(others)), column)
            _renumber(others)
        if data.is_done is not None and data.is_done != column.is_done:
            column.is_done = data.is_done
            await repository.touch_tasks(
                project_id,
                column.id,
                done_since=utcnow() if data.is_done else None,
                reopened=not data.is_done,
            )
        elif (column.name, column.is_done) != shown_before:
            await repository.touch_tasks(project_id, column.id)
        await session.flush()
        return await _read(session, project_id, column.id)

    async def delete(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        column_id: uuid.UUID,
        move_tasks_to: uuid.UUID | None,
    ) -> None:
        """Delete a column; its tasks, if any, go to the end of ``move_tasks_to`` (409
        ``column-not-empty`` without it). The board keeps an open column."""
        await self._owned(session, user_id, project_id)
        repository = ColumnRepository(session)
        board = await repository.of_project(project_id)
        column = _find(board, column_id)
        if not any(c.archived_at is None for c in board if c.id != column.id):
            raise LastColumn()
        count = await repository.task_count(project_id, column.id)
        if count and move_tasks_to is None:
            raise ColumnNotEmpty(count)
        if count and move_tasks_to is not None:
            target = next((c for c in board if c.id == move_tasks_to), None)
            if target is None or target.id == column.id:
                raise InvalidReference("move_tasks_to", "Name another column of the same project.")
            if target.archived_at is not None:
                raise ColumnArchived()
            size = await repository.task_count(project_id, target.id)
            if target.wip_limit is not None and size + count > target.wip_limit:
                raise WipLimitReached(target.name, target.wip_limit)
            await repository.move_tasks(project_id, column, target, actor_id=user_id, now=utcnow())
        await session.delete(column)
        await session.flush()
        _renumber([c for c in board if c.id != column.id])
        await session.flush()

    async def _owned(
        self, session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
    ) -> Project:
        """The project, locked (the lock its task changes take), if the caller owns it."""
        project, role = await project_service.access(session, user_id, project_id, lock=True)
        require_owner(role)
        if project.archived:
            raise ProjectArchived()
        return project


async def _read(
    session: AsyncSession, project_id: uuid.UUID, column_id: uuid.UUID
) -> schemas.Column:
    """The column as ``GET`` shows it: every path ends with this read."""
    column = await ColumnRepository(session).view(project_id, column_id)
    if column is None:
        raise ColumnNotFound()
    return column


def _find(board: list[BoardColumn], column_id: uuid.UUID) -> BoardColumn:
    for column in board:
        if column.id == column_id:
            return column
    raise ColumnNotFound()


def _renumber(ordered: list[BoardColumn]) -> None:
    """Positions 0..n-1 in this order (only the columns that moved are written)."""
    for position, column in enumerate(ordered):
        if column.position != position:
            column.position = position


column_service = ColumnService()
