"""The nightly purge of ended sessions and used or expired one-time tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from mainspring.accounts.models import AccountToken, AuthSession, RefreshToken
from mainspring.core.background import enqueue
from mainspring.core.db import utcnow
from tests.accounts.helpers import create_user
from tests.fixtures.jobs import DrainJobs

pytestmark = pytest.mark.anyio


async def test_purge_keeps_what_may_still_be_used(app: FastAPI, drain_jobs: DrainJobs) -> None:
    user = await create_user(app)
    now = utcnow()
    long_ago = now - timedelta(days=8)
    async with app.state.db.session() as session:
        sessions = {
            "live": AuthSession(user_id=user.id, expires_at=now + timedelta(days=1)),
            "revoked long ago": AuthSession(
                user_id=user.id, expires_at=now + timedelta(days=1), revoked_at=long_ago
            ),
            "revoked yesterday": AuthSession(
                user_id=user.id, expires_at=now + timedelta(days=1), revoked_at=now - timedelta(1)
            ),
            "expired long ago": AuthSession(user_id=user.id, expires_at=long_ago),
            "idle for weeks": AuthSession(
                user_id=user.id,
                expires_at=now + timedelta(days=1),
                last_used_at=now - timedelta(30),
            ),
        }
        session.add_all(sessions.values())
        await session.flush()
        session.add(RefreshToken(session_id=sessions["expired long ago"].id, token_hash="a" * 64))
        tokens = {
            "live": AccountToken(
                user_id=user.id,
                purpose="reset",
                token_hash="b" * 64,
                email=user.email,
                expires_at=now + timedelta(hours=1),
            ),
            "used long ago": AccountToken(
                user_id=user.id,
                purpose="verify",
                token_hash="c" * 64,
                email=user.email,
                expires_at=now + timedelta(hours=1),
                used_at=long_ago,
            ),
            "expired long ago": AccountToken(
                user_id=user.id,
                purpose="verify",
                token_hash="d" * 64,
                email=user.email,
                expires_at=long_ago,
            ),
        }
        session.add_all(tokens.values())
        await enqueue(session, "accounts.purge_expired", {"slot": now.isoformat()})

    assert [outcome.status for outcome in await drain_jobs()] == ["done"]
    async with app.state.db.read_session() as session:
        left = set((await session.scalars(select(AuthSession.id))).all())
        left_tokens = set((await session.scalars(select(AccountToken.id))).all())
        refresh_tokens = (await session.scalars(select(RefreshToken.id))).all()
    assert left == {sessions["live"].id, sessions["revoked yesterday"].id}
    assert left_tokens == {tokens["live"].id}
    assert refresh_tokens == []
