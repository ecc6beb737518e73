"""The second factor: authenticators (TOTP) and recovery codes.

Accepting a code, confirming an enrolment and spending a recovery code are each one conditional
``UPDATE``: of two concurrent requests, one wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import CursorResult

from mainspring.accounts.models import RecoveryCode, TotpCredential, User
from mainspring.accounts.repository.users import two_factor_on
from mainspring.accounts.schemas import TwoFactorAdminView, TwoFactorStatusView
from mainspring.core.repository import RepositoryBase


class TotpCredentialRepository(RepositoryBase[TotpCredential]):
    """A user's authenticator (the primary key is the user id: at most one each)."""

    model: ClassVar[type[TotpCredential]] = TotpCredential

    async def confirmed_of(self, user_id: uuid.UUID) -> TotpCredential | None:
        """The user's credential when it is confirmed, the one sign-in asks for."""
        found: TotpCredential | None = await self.session.scalar(
            select(TotpCredential).where(
                TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_not(None)
            )
        )
        return found

    async def status(self, user_id: uuid.UUID) -> TwoFactorStatusView:
        """My second factor (``GET /users/me/two-factor``): the credential and the count of
        unused recovery codes, in one statement."""
        left = (
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
            .scalar_subquery()
        )
        row = (
            await self.session.execute(
                select(TotpCredential.confirmed_at, left.label("left")).where(
                    TotpCredential.user_id == user_id
                )
            )
        ).first()
        if row is None:
            return TwoFactorStatusView(
                enabled=False, pending=False, enabled_at=None, recovery_codes_left=0
            )
        enabled = row.confirmed_at is not None
        return TwoFactorStatusView.model_validate(
            {
                "enabled": enabled,
                "pending": not enabled,
                "enabled_at": row.confirmed_at,
                "recovery_codes_left": row.left if enabled else 0,
            }
        )

    async def admin_view(self, user_id: uuid.UUID) -> TwoFactorAdminView | None:
        """Whether a user has two-factor sign-in, as administrators see it (None when there is
        no such user): one statement."""
        row = (
            await self.session.execute(
                select(two_factor_on().label("enabled")).where(
                    User.id == user_id, User.deleted_at.is_(None)
                )
            )
        ).first()
        return TwoFactorAdminView.model_validate(row, from_attributes=True) if row else None

    async def accept(
        self, user_id: uuid.UUID, *, step: int | None, answered: int | None = None
    ) -> bool:
        """Record an accepted code of time ``step`` (None for a recovery code) and, at sign-in,
        spend the challenge issued at ``answered``: one conditional ``UPDATE``. False when the
        step is not newer than the last accepted one (a replay) or the challenge was already
        answered; of two concurrent requests, one wins."""
        stmt = update(TotpCredential).where(
            TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_not(None)
        )
        if step is not None:
            stmt = stmt.where(
                or_(TotpCredential.last_used_step.is_(None), TotpCredential.last_used_step < step)
            ).values(last_used_step=step)
        if answered is not None:
            stmt = stmt.where(TotpCredential.answered_challenges == answered).values(
                answered_challenges=answered + 1
            )
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            stmt.execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def confirm(self, user_id: uuid.UUID, *, step: int, now: datetime) -> bool:
        """Enable a pending credential with the step of its first code; False when it is not
        pending (any more: of two concurrent confirmations, one wins)."""
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            update(TotpCredential)
            .where(TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_(None))
            .values(confirmed_at=now, last_used_step=step)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def delete_of_user(self, user_id: uuid.UUID) -> bool:
        """Delete the user's credential; False when there was none."""
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            delete(TotpCredential).where(TotpCredential.user_id == user_id)
        )
        return result.rowcount == 1


class RecoveryCodeRepository(RepositoryBase[RecoveryCode]):
    model: ClassVar[type[RecoveryCode]] = RecoveryCode

    async def use(self, user_id: uuid.UUID, digest: str, now: datetime) -> bool:
        """Spend an unused code of the user by digest; False when there is none. One
        conditional ``UPDATE``: of two concurrent uses of one code, one wins."""
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == digest,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def remaining(self, user_id: uuid.UUID) -> int:
        """How many unused codes the user has left."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        return int(count or 0)

    async def replace(self, user_id: uuid.UUID, digests: Sequence[str]) -> None:
        """Retire every code of the user and store these instead."""
        await self.delete_of_user(user_id)
        self.session.add_all(RecoveryCode(user_id=user_id, code_hash=d) for d in digests)
        await self.session.flush()

    async def delete_of_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
