"""One-time tokens mailed as links (verify, reset, email change).

*Consuming* one is a single conditional ``UPDATE ... WHERE used_at IS NULL``: the database
decides who wins, so a link works once even under concurrent use.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from sqlalchemy import ColumnElement, and_, delete, or_, select, update

from mainspring.accounts.models import AccountToken
from mainspring.core.repository import RepositoryBase


def _live(digest: str, purpose: str, now: datetime) -> ColumnElement[bool]:
    return and_(
        AccountToken.token_hash == digest,
        AccountToken.purpose == purpose,
        AccountToken.used_at.is_(None),
        AccountToken.expires_at > now,
    )


class AccountTokenRepository(RepositoryBase[AccountToken]):
    model: ClassVar[type[AccountToken]] = AccountToken

    async def peek(self, digest: str, purpose: str, now: datetime) -> tuple[uuid.UUID, str] | None:
        """A live token's ``(user_id, email)`` without using it up (None when it is unknown,
        expired or used): what a request reads before deciding to do costly work, then
        ``consume``s in its transaction."""
        row = (
            await self.session.execute(
                select(AccountToken.user_id, AccountToken.email).where(_live(digest, purpose, now))
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def consume(
        self, digest: str, purpose: str, now: datetime
    ) -> tuple[uuid.UUID, str] | None:
        """Use up a live token: ``(user_id, email)``, or None when it is unknown, expired or
        already used. One statement: of two concurrent uses, one wins."""
        row = (
            await self.session.execute(
                update(AccountToken)
                .where(_live(digest, purpose, now))
                .values(used_at=now)
                .returning(AccountToken.user_id, AccountToken.email)
                .execution_options(synchronize_session=False)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def purge(self, *, ended_before: datetime) -> None:
        """Delete the tokens used or expired before ``ended_before``."""
        await self.session.execute(
            delete(AccountToken).where(
                or_(AccountToken.used_at < ended_before, AccountToken.expires_at < ended_before)
            )
        )

    async def delete_of_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(AccountToken).where(AccountToken.user_id == user_id))

    async def retire(self, user_id: uuid.UUID, purposes: Sequence[str], now: datetime) -> None:
        """Use up every live token of these purposes: only the newest link ever works."""
        await self.session.execute(
            update(AccountToken)
            .where(
                AccountToken.user_id == user_id,
                AccountToken.purpose.in_(purposes),
                AccountToken.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
