"""Every query about projects, memberships and the users they name. Reads select the columns
of ``schemas.Project``/``schemas.Member`` and return those schemas; writes load entities."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, func, select

from mainspring.accounts.models import User
from mainspring.core.pagination import PageSlice, offset_page
from mainspring.core.repository import RepositoryBase
from mainspring.todo.models import Project, ProjectMember
from mainspring.todo.projects import schemas
from mainspring.todo.roles import Role

PROJECT_COLUMNS: tuple[Any, ...] = (
    Project.id,
    Project.name,
    Project.description,
    Project.archived,
    Project.inbox_of_id.is_not(None).label("is_inbox"),
    ProjectMember.role,
    Project.created_at,
    Project.updated_at,
)
MEMBER_COLUMNS: tuple[Any, ...] = (
    ProjectMember.user_id,
    User.username,
    ProjectMember.role,
    ProjectMember.created_at.label("joined_at"),
)


class ProjectRepository(RepositoryBase[Project]):
    model = Project

    async def with_role(
        self, project_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
    ) -> tuple[Project, str] | None:
        """The project and the user's role in it; None when it does not exist or the user is
        not a member. ``lock`` takes the project's row lock (PostgreSQL ``FOR UPDATE``; SQLite
        already serialises writers): every change that must see a consistent project (task
        positions, the last owner) holds it."""
        stmt = (
            select(Project, ProjectMember.role)
            .join(ProjectMember, _member_of(user_id))
            .where(Project.id == project_id)
        )
        if lock:
            stmt = stmt.with_for_update(of=Project).execution_options(populate_existing=True)
        row = (await self.session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    async def lock(self, project_id: uuid.UUID) -> Project | None:
        stmt = (
            select(Project)
            .where(Project.id == project_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        project: Project | None = await self.session.scalar(stmt)
        return project

    async def lock_many(
        self, project_ids: list[uuid.UUID], user_id: uuid.UUID
    ) -> dict[uuid.UUID, tuple[Project, str | None]]:
        """Lock several projects in id order (so that two writers cannot deadlock) and give
        each with the user's role (None for a non-member)."""
        rows = await self.session.execute(
            select(Project, ProjectMember.role)
            .outerjoin(ProjectMember, _member_of(user_id))
            .where(Project.id.in_(project_ids))
            .order_by(Project.id)
            .with_for_update(of=Project)
            .execution_options(populate_existing=True)
        )
        return {project.id: (project, role) for project, role in rows.all()}

    async def view(self, project_id: uuid.UUID, user_id: uuid.UUID) -> schemas.Project | None:
        """The project as ``user_id`` sees it (with their role); None for a non-member."""
        row = (
            await self.session.execute(
                select(*PROJECT_COLUMNS)
                .join(ProjectMember, _member_of(user_id))
                .where(Project.id == project_id)
            )
        ).first()
        return None if row is None else schemas.Project.model_validate(row, from_attributes=True)

    async def page_of_member(
        self, user_id: uuid.UUID, *, archived: bool, listing: PageSlice
    ) -> tuple[list[schemas.Project], int]:
        """The user's projects with their role: the inbox first, then by name."""
        stmt = (
            select(*PROJECT_COLUMNS)
            .join(ProjectMember, _member_of(user_id))
            .where(Project.archived.is_(archived))
            .order_by(Project.inbox_of_id.is_(None), Project.name, Project.id)
        )
        rows, total = await offset_page(self.session, stmt, listing, scalars=False)
        return [schemas.Project.model_validate(row, from_attributes=True) for row in rows], total

    async def inbox_of(self, user_id: uuid.UUID) -> Project | None:
        project: Project | None = await self.session.scalar(
            select(Project).where(Project.inbox_of_id == user_id)
        )
        return project

    # --- members --------------------------------------------------------------------------

    async def members_page(
        self, project_id: uuid.UUID, listing: PageSlice
    ) -> tuple[list[schemas.Member], int]:
        stmt = (
            select(*MEMBER_COLUMNS)
            .join(User, User.id == ProjectMember.user_id)
            .where(ProjectMember.project_id == project_id)
            .order_by(User.username)
        )
        rows, total = await offset_page(self.session, stmt, listing, scalars=False)
        return [schemas.Member.model_validate(row, from_attributes=True) for row in rows], total

    async def member_view(self, project_id: uuid.UUID, user_id: uuid.UUID) -> schemas.Member | None:
        row = (
            await self.session.execute(
                select(*MEMBER_COLUMNS)
                .join(User, User.id == ProjectMember.user_id)
                .where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id)
            )
        ).first()
        return None if row is None else schemas.Member.model_validate(row, from_attributes=True)

    async def member(self, project_id: uuid.UUID, user_id: uuid.UUID) -> ProjectMember | None:
        return await self.session.get(ProjectMember, (project_id, user_id))

    async def is_member(self, project_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        return await self.member(project_id, user_id) is not None

    async def owner_count(self, project_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(ProjectMember)
            .where(ProjectMember.project_id == project_id, ProjectMember.role == Role.OWNER)
        )
        return int(count or 0)

    async def username_of(self, user_id: uuid.UUID) -> str:
        username = await self.session.scalar(select(User.username).where(User.id == user_id))
        return username or ""

    async def find_user(self, username: str) -> User | None:
        """A live account by username, in any case (accounts stores ``username_key``
        lower-case and unique). Addresses are never looked up: see ``invitations/``."""
        user: User | None = await self.session.scalar(
            select(User).where(User.username_key == username.lower(), User.deleted_at.is_(None))
        )
        return user


def _member_of(user_id: uuid.UUID) -> Any:
    return and_(ProjectMember.project_id == Project.id, ProjectMember.user_id == user_id)
