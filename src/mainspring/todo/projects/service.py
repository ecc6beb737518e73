"""Projects and their members: who may see and change what, the last-owner rule, the inbox.

Every method takes the request's session and the caller's user id, checks the caller's role
(``roles.py``) and never commits: the request's unit of work does.
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import UnknownUser
from mainspring.core.errors import NotFound
from mainspring.core.mail import send_mail
from mainspring.core.pagination import PageSlice
from mainspring.todo.columns.repository import ColumnRepository
from mainspring.todo.errors import (
    AlreadyMember,
    InboxIsPersonal,
    LastOwner,
    ProjectArchived,
    ProjectNotFound,
    RoleForbids,
)
from mainspring.todo.exports.repository import CalendarFeedRepository
from mainspring.todo.models import Project, ProjectMember
from mainspring.todo.projects import schemas
from mainspring.todo.projects.repository import ProjectRepository
from mainspring.todo.roles import Role, require_owner, require_task_editor
from mainspring.todo.tasks.repository import TaskRepository

INBOX_NAME = "Inbox"


class ProjectService:
    # --- access ---------------------------------------------------------------------------

    async def access(
        self, session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID, *, lock: bool
    ) -> tuple[Project, str]:
        """The project and the caller's role; 404 for a non-member (whether or not it exists)."""
        found = await ProjectRepository(session).with_role(project_id, user_id, lock=lock)
        if found is None:
            raise ProjectNotFound()
        return found

    async def for_task_changes(
        self, session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
    ) -> Project:
        """The project, locked, if the caller may change its tasks now (403 for a viewer,
        409 while it is archived)."""
        project, role = await self.access(session, user_id, project_id, lock=True)
        require_task_editor(role)
        if project.archived:
            raise ProjectArchived()
        return project

    # --- projects -------------------------------------------------------------------------

    async def inbox(self, session: AsyncSession, user_id: uuid.UUID) -> Project:
        """The user's personal inbox, created on first use.

        Two first requests at once may both try to create it: the unique ``inbox_of_id`` lets
        one win; the other's insert fails inside a savepoint and it reads the winner's row.
        """
        repository = ProjectRepository(session)
        inbox = await repository.inbox_of(user_id)
        if inbox is not None:
            return inbox
        try:
            async with session.begin_nested():
                inbox = Project(name=INBOX_NAME, inbox_of_id=user_id, created_by_id=user_id)
                session.add(inbox)
                await session.flush()
                session.add(ProjectMember(project_id=inbox.id, user_id=user_id, role=Role.OWNER))
                await session.flush()
                await ColumnRepository(session).add_defaults([inbox.id])
        except IntegrityError:
            inbox = await repository.inbox_of(user_id)
            if inbox is None:
                raise
        return inbox

    async def page(
        self, session: AsyncSession, user_id: uuid.UUID, *, archived: bool, listing: PageSlice
    ) -> tuple[list[schemas.Project], int]:
        await self.inbox(session, user_id)
        return await ProjectRepository(session).page_of_member(
            user_id, archived=archived, listing=listing
        )

    async def create(
        self, session: AsyncSession, user_id: uuid.UUID, data: schemas.ProjectCreate
    ) -> schemas.Project:
        """A new project, owned by the caller, on the default board (To do, In progress,
        Done: ``models.DEFAULT_COLUMNS``)."""
        project = Project(name=data.name, description=data.description, created_by_id=user_id)
        session.add(project)
        await session.flush()
        session.add(ProjectMember(project_id=project.id, user_id=user_id, role=Role.OWNER))
        await session.flush()
        await ColumnRepository(session).add_defaults([project.id])
        return await self.get(session, user_id, project.id)

    async def get(
        self, session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
    ) -> schemas.Project:
        """The project as the caller sees it (one statement); 404 for a non-member."""
        project = await ProjectRepository(session).view(project_id, user_id)
        if project is None:
            raise ProjectNotFound()
        return project

    async def update(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        data: schemas.ProjectUpdate,
    ) -> schemas.Project:
        project, role = await self.access(session, user_id, project_id, lock=True)
        require_owner(role)
        if data.name is not None:
            project.name = data.name
        if data.description is not None:
            project.description = data.description
        if data.archived is not None:
            if data.archived and project.is_inbox:
                raise InboxIsPersonal()
            project.archived = data.archived
        await session.flush()
        return await self.get(session, user_id, project_id)

    async def delete(
        self, session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
    ) -> None:
        """Delete the project with its tasks, comments and history (foreign keys cascade)."""
        project, role = await self.access(session, user_id, project_id, lock=True)
        require_owner(role)
        if project.is_inbox:
            raise InboxIsPersonal()
        await session.delete(project)
        await session.flush()

    # --- members --------------------------------------------------------------------------

    async def members(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        listing: PageSlice,
    ) -> tuple[list[schemas.Member], int]:
        await self.access(session, user_id, project_id, lock=False)
        return await ProjectRepository(session).members_page(project_id, listing)

    async def member(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        member_id: uuid.UUID,
    ) -> schemas.Member:
        await self.access(session, user_id, project_id, lock=False)
        return await _member(session, project_id, member_id)

    async def add_member(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        data: schemas.MemberInvite,
    ) -> schemas.Member:
        project, role = await self.access(session, user_id, project_id, lock=True)
        require_owner(role)
        if project.is_inbox:
            raise InboxIsPersonal()
        repository = ProjectRepository(session)
        username = data.username or ""
        user = await repository.find_user(username)
        if user is None:
            raise UnknownUser(username)
        if await repository.is_member(project_id, user.id):
            raise AlreadyMember()
        member = ProjectMember(project_id=project_id, user_id=user.id, role=data.role)
        session.add(member)
        await session.flush()
        inviter = await repository.username_of(user_id)
        await send_mail(
            session,
            to=user.email,
            template="todo/added_to_project",
            context={
                "name": user.display_name,
                "inviter": inviter,
                "project": project.name,
                "role": data.role.value,
            },
        )
        return await _member(session, project_id, user.id)

    async def change_role(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        member_id: uuid.UUID,
        data: schemas.MemberUpdate,
    ) -> schemas.Member:
        _, role = await self.access(session, user_id, project_id, lock=True)
        require_owner(role)
        repository = ProjectRepository(session)
        member = await repository.member(project_id, member_id)
        if member is None:
            raise NotFound("This user is not a member of the project.")
        demoted = member.role == Role.OWNER and data.role != Role.OWNER
        if demoted and await repository.owner_count(project_id) <= 1:
            raise LastOwner()
        member.role = data.role
        await session.flush()
        return await _member(session, project_id, member_id)

    async def remove_member(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        member_id: uuid.UUID,
    ) -> None:
        """An owner removes anyone; any member removes themselves (leaves). The member's tasks
        there are unassigned and their calendar feed stops working."""
        _, role = await self.access(session, user_id, project_id, lock=True)
        if member_id != user_id and role != Role.OWNER:
            raise RoleForbids("Only the project's owners can remove other members.")
        repository = ProjectRepository(session)
        member = await repository.member(project_id, member_id)
        if member is None:
            raise NotFound("This user is not a member of the project.")
        if member.role == Role.OWNER and await repository.owner_count(project_id) <= 1:
            raise LastOwner()
        await TaskRepository(session).unassign(project_id, member_id, actor_id=user_id)
        await CalendarFeedRepository(session).remove(project_id, member_id)
        await session.delete(member)
        await session.flush()


async def _member(
    session: AsyncSession, project_id: uuid.UUID, member_id: uuid.UUID
) -> schemas.Member:
    """The member as ``GET`` shows them: every path ends with this read."""
    member = await ProjectRepository(session).member_view(project_id, member_id)
    if member is None:
        raise NotFound("This user is not a member of the project.")
    return member


project_service = ProjectService()
