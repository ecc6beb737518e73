"""Users: look-ups for sign-in and registration, the reads of my account and of the
administrators' views, and the lock that keeps an administrator."""

from __future__ import annotations

import builtins
import uuid
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, exists, or_, select

from mainspring.accounts.models import TotpCredential, User
from mainspring.accounts.schemas import AdminUser, Me
from mainspring.core.auth import Role
from mainspring.core.pagination import PageSlice, offset_page
from mainspring.core.repository import RepositoryBase


def two_factor_on() -> ColumnElement[bool]:
    """``EXISTS`` a confirmed authenticator of the user of the enclosing query."""
    return exists().where(
        TotpCredential.user_id == User.id, TotpCredential.confirmed_at.is_not(None)
    )


_PROFILE_COLUMNS: tuple[Any, ...] = (
    User.id,
    User.email,
    User.username,
    User.display_name,
    User.role,
    User.email_verified_at.is_not(None).label("email_verified"),
    User.created_at,
)
_ADMIN_COLUMNS: tuple[Any, ...] = (
    *_PROFILE_COLUMNS,
    User.disabled_at.is_not(None).label("disabled"),
    User.last_login_at,
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class UserRepository(RepositoryBase[User]):
    model: ClassVar[type[User]] = User
    not_found = "No such user."

    async def by_email(self, email: str) -> User | None:
        user: User | None = await self.session.scalar(select(User).where(User.email == email))
        return user

    async def by_username(self, username: str) -> User | None:
        user: User | None = await self.session.scalar(
            select(User).where(User.username_key == username.lower())
        )
        return user

    async def by_identifier(self, identifier: str) -> User | None:
        """An email address (it has an ``@``) or a username, already normalised."""
        if "@" in identifier:
            return await self.by_email(identifier)
        return await self.by_username(identifier)

    async def username_taken(self, username: str) -> bool:
        found = await self.session.scalar(
            select(User.id).where(User.username_key == username.lower())
        )
        return found is not None

    async def email_taken(self, email: str) -> bool:
        found = await self.session.scalar(select(User.id).where(User.email == email))
        return found is not None

    # --- reads: the response schemas, column by column -------------------------------------

    async def me(self, user_id: uuid.UUID) -> Me | None:
        """My account (``GET /users/me``): one statement, the second factor an ``EXISTS``.
        None when the account is disabled or deleted."""
        row = (
            await self.session.execute(
                select(*_PROFILE_COLUMNS, two_factor_on().label("two_factor_enabled")).where(
                    User.id == user_id, User.disabled_at.is_(None), User.deleted_at.is_(None)
                )
            )
        ).first()
        return Me.model_validate(row, from_attributes=True) if row else None

    async def admin_view(self, user_id: uuid.UUID) -> AdminUser | None:
        """A user as administrators see it (``GET /users/{id}``); None when deleted."""
        row = (
            await self.session.execute(
                select(*_ADMIN_COLUMNS).where(User.id == user_id, User.deleted_at.is_(None))
            )
        ).first()
        return AdminUser.model_validate(row, from_attributes=True) if row else None

    async def search(
        self, listing: PageSlice, *, query: str | None, role: Role | None
    ) -> tuple[builtins.list[AdminUser], int]:
        """One page of users, newest first, filtered by role and by a prefix of the username or
        email, and the number of matches (two statements)."""
        stmt = select(*_ADMIN_COLUMNS).where(User.deleted_at.is_(None))
        if role is not None:
            stmt = stmt.where(User.role == role.value)
        if query:
            prefix = _escape_like(query.lower()) + "%"
            stmt = stmt.where(
                or_(
                    User.username_key.like(prefix, escape="\\"),
                    User.email.like(prefix, escape="\\"),
                )
            )
        stmt = stmt.order_by(User.created_at.desc(), User.id.desc())
        rows, total = await offset_page(self.session, stmt, listing, scalars=False)
        return [AdminUser.model_validate(row, from_attributes=True) for row in rows], total

    # --- keeping an administrator ---------------------------------------------------------------

    async def lock_active_admins(self) -> builtins.list[uuid.UUID]:
        """The ids of the enabled admins, locked until the transaction ends (PostgreSQL
        ``FOR UPDATE``; SQLite already serialises writers). Two admins demoting each other at
        once are thereby serialised, and the second sees the first's change."""
        rows = await self.session.scalars(
            select(User.id)
            .where(
                User.role == Role.ADMIN.value,
                User.disabled_at.is_(None),
                User.deleted_at.is_(None),
            )
            .with_for_update()
        )
        return list(rows.all())
