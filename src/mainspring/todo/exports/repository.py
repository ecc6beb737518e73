"""Queries of calendar feeds: a member's feed of a project, and the feed behind a token."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, delete, select

from mainspring.core.repository import RepositoryBase
from mainspring.todo.models import CalendarFeed, Project, ProjectMember


class CalendarFeedRepository(RepositoryBase[CalendarFeed]):
    model = CalendarFeed

    async def remove(self, project_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(CalendarFeed).where(
                CalendarFeed.project_id == project_id, CalendarFeed.user_id == user_id
            )
        )

    async def project_of_token(self, token_hash: str) -> Project | None:
        """The project of the feed with this token hash, if its owner is still a member."""
        project: Project | None = await self.session.scalar(
            select(Project)
            .join(CalendarFeed, CalendarFeed.project_id == Project.id)
            .join(
                ProjectMember,
                and_(
                    ProjectMember.project_id == CalendarFeed.project_id,
                    ProjectMember.user_id == CalendarFeed.user_id,
                ),
            )
            .where(CalendarFeed.token_hash == token_hash)
        )
        return project
