"""Administration of users: search, disable and enable, roles.

Disabling a user or changing their role ends all their sessions at once (their access tokens
stop working on the next request, see ``states.py``): a disabled user is out now, and a demoted
admin does not keep admin powers until their token expires.

There is always an administrator: the last enabled admin cannot be demoted, disabled or
deleted. The check locks the admin rows (``UserRepository.lock_active_admins``), so two admins
demoting each other at the same moment cannot both succeed.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import LastAdmin
from mainspring.accounts.models import User
from mainspring.accounts.repository import UserRepository
from mainspring.accounts.schemas import AdminUser
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.context import AccountsContext
from mainspring.accounts.service.sessions import session_service
from mainspring.core.auth import Principal, Role
from mainspring.core.db import utcnow
from mainspring.core.errors import NotFound
from mainspring.core.pagination import PageSlice


class AdminService:
    async def search(
        self,
        session: AsyncSession,
        listing: PageSlice,
        *,
        query: str | None,
        role: Role | None,
    ) -> tuple[list[AdminUser], int]:
        return await UserRepository(session).search(listing, query=query, role=role)

    async def view(self, session: AsyncSession, user_id: uuid.UUID) -> AdminUser:
        """A user as administrators see it (404 when unknown or deleted)."""
        user = await UserRepository(session).admin_view(user_id)
        if user is None:
            raise NotFound(UserRepository.not_found)
        return user

    async def get(self, session: AsyncSession, user_id: uuid.UUID) -> User:
        """The user to change (404 when unknown or deleted)."""
        user = await UserRepository(session).get(user_id)
        if user.deleted_at is not None:
            raise NotFound(UserRepository.not_found)
        return user

    async def disable(
        self, session: AsyncSession, ctx: AccountsContext, admin: Principal, user_id: uuid.UUID
    ) -> AdminUser:
        user = await self.get(session, user_id)
        if user.disabled_at is None:
            await self.keep_an_admin(session, user)
            user.disabled_at = utcnow()
            await session_service.revoke_user(session, ctx, user.id, reason="disabled")
            await audit_service.record(
                session,
                EventKind.USER_DISABLED,
                ctx.client,
                user_id=user.id,
                actor_id=admin.user_id,
            )
        return await self._after_write(session, user)

    async def enable(
        self, session: AsyncSession, ctx: AccountsContext, admin: Principal, user_id: uuid.UUID
    ) -> AdminUser:
        user = await self.get(session, user_id)
        if user.disabled_at is not None:
            user.disabled_at = None
            await audit_service.record(
                session, EventKind.USER_ENABLED, ctx.client, user_id=user.id, actor_id=admin.user_id
            )
        return await self._after_write(session, user)

    async def set_role(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        admin: Principal,
        user_id: uuid.UUID,
        role: Role,
    ) -> AdminUser:
        user = await self.get(session, user_id)
        if user.role != role.value:
            if role != Role.ADMIN:
                await self.keep_an_admin(session, user)
            previous, user.role = user.role, role.value
            await session_service.revoke_user(session, ctx, user.id, reason="role_changed")
            await audit_service.record(
                session,
                EventKind.ROLE_CHANGED,
                ctx.client,
                user_id=user.id,
                actor_id=admin.user_id,
                previous=previous,
                role=role.value,
            )
        return await self._after_write(session, user)

    async def _after_write(self, session: AsyncSession, user: User) -> AdminUser:
        """A write answers the read ``GET /users/{id}`` makes, of the flushed row."""
        await session.flush()
        return await self.view(session, user.id)

    async def keep_an_admin(self, session: AsyncSession, user: User) -> None:
        """Refuse to take the last enabled admin away."""
        if user.role == Role.ADMIN.value and user.disabled_at is None:
            admins = await UserRepository(session).lock_active_admins()
            if admins == [user.id]:
                raise LastAdmin()


admin_service = AdminService()
