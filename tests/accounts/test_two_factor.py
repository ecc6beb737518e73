"""Two-factor sign-in (TOTP): enrolment, the second step, recovery codes, limits, removal.

Codes are real: computed by pyotp from the provisioning URI the API hands out, as an
authenticator app would (``Authenticator`` in helpers.py).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from mainspring.accounts.models import AuthSession, RecoveryCode, SecurityEvent, TotpCredential
from mainspring.accounts.service.totp import derived_key, unseal
from mainspring.app import create_app
from mainspring.core.auth import Role
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from tests.accounts.conftest import Mailbox
from tests.accounts.helpers import (
    Authenticator,
    SignedInUser,
    enable_two_factor,
    sign_in,
    signed_in_user,
)
from tests.conftest import empty_tables

pytestmark = pytest.mark.anyio

LOGIN = "/api/v1/auth/login"
SECOND_STEP = "/api/v1/auth/login/two-factor"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/users/me"
MINE = "/api/v1/users/me/two-factor"
ENROL = f"{MINE}/enrolment"
CONFIRM = f"{MINE}/confirm"
CODES = f"{MINE}/recovery-codes"


async def first_step(client: httpx.AsyncClient, user: SignedInUser, **extra: Any) -> str:
    """Sign in with the password; the answer must be ``mfa-required``: its ``mfa_token``."""
    response = await client.post(
        LOGIN, json={"identifier": user.email, "password": user.password, **extra}
    )
    assert response.status_code == 403, response.text
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["type"] == "urn:mainspring:problem:mfa-required"
    assert body["methods"] == ["totp", "recovery_code"]
    assert "access_token" not in body
    assert "refresh_token" not in response.text
    return str(body["mfa_token"])


async def second_step(client: httpx.AsyncClient, mfa_token: str, **proof: Any) -> httpx.Response:
    return await client.post(SECOND_STEP, json={"mfa_token": mfa_token, **proof})


async def user_with_two_factor(
    app: FastAPI, client: httpx.AsyncClient, **fields: Any
) -> tuple[SignedInUser, Authenticator]:
    user = await signed_in_user(app, client, **fields)
    return user, await enable_two_factor(client, user)


async def events(app: FastAPI, user_id: uuid.UUID, kind: str | None = None) -> list[SecurityEvent]:
    async with app.state.db.read_session() as session:
        stmt = select(SecurityEvent).where(SecurityEvent.user_id == user_id)
        if kind is not None:
            stmt = stmt.where(SecurityEvent.kind == kind)
        return list((await session.scalars(stmt.order_by(SecurityEvent.created_at))).all())


async def live_sessions(app: FastAPI, user_id: uuid.UUID) -> int:
    async with app.state.db.read_session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        )
        return int(count or 0)


# --- enrolment ----------------------------------------------------------------------------------


async def test_enrol_confirm_then_sign_in_takes_a_second_step(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user = await signed_in_user(app, client)
    enrolment = await client.post(ENROL, json={"password": user.password}, headers=user.headers)
    assert enrolment.status_code == 201
    assert enrolment.headers["cache-control"] == "no-store"
    assert enrolment.headers["location"] == MINE
    body = enrolment.json()
    assert set(body) == {"secret", "provisioning_uri", "qr_code"}
    assert len(body["secret"]) == 32  # 160 bits of base32
    assert body["qr_code"].startswith("data:image/svg+xml")
    totp = pyotp.parse_uri(body["provisioning_uri"])
    assert isinstance(totp, pyotp.TOTP)
    assert totp.secret == body["secret"]
    assert (totp.issuer, totp.name) == ("Mainspring", user.email)
    # Pending: sign-in does not ask for a code yet.
    pending = (await client.get(MINE, headers=user.headers)).json()
    assert (pending["enabled"], pending["pending"]) == (False, True)
    await sign_in(client, user)

    app_codes = Authenticator(totp)
    confirmed = await client.post(
        CONFIRM, json={"code": app_codes.fresh_code()}, headers=user.headers
    )
    assert confirmed.status_code == 200
    assert confirmed.headers["cache-control"] == "no-store"
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    status = (await client.get(MINE, headers=user.headers)).json()
    assert status["enabled"] is True
    assert status["pending"] is False
    assert status["recovery_codes_left"] == 10
    assert status["enabled_at"] is not None
    assert (await client.get(ME, headers=user.headers)).json()["two_factor_enabled"] is True

    sessions_before = await live_sessions(app, user.id)
    mfa_token = await first_step(client, user)
    assert await live_sessions(app, user.id) == sessions_before  # no session yet
    finished = await second_step(client, mfa_token, code=app_codes.fresh_code())
    assert finished.status_code == 200, finished.text
    assert finished.headers["cache-control"] == "no-store"
    tokens = finished.json()
    assert set(tokens) >= {"access_token", "refresh_token", "expires_in", "token_type"}
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    me = await client.get(ME, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["id"] == str(user.id)
    [on] = [mail for mail in await mailbox.to(user.email) if "is on" in mail.subject]
    assert body["secret"] not in on.text


async def test_enrolment_needs_the_password_restarts_while_pending_and_conflicts_once_on(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await signed_in_user(app, client)
    wrong = await client.post(ENROL, json={"password": "not my password"}, headers=user.headers)
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong-password")
    unconfirmed = await client.post(CONFIRM, json={"code": "123456"}, headers=user.headers)
    assert (unconfirmed.status_code, unconfirmed.json()["code"]) == (409, "two-factor-not-enabled")

    first = (
        await client.post(ENROL, json={"password": user.password}, headers=user.headers)
    ).json()
    second = (
        await client.post(ENROL, json={"password": user.password}, headers=user.headers)
    ).json()
    assert first["secret"] != second["secret"]
    # The first secret was replaced: its codes no longer confirm.
    stale = Authenticator(pyotp.TOTP(first["secret"]))
    refused = await client.post(CONFIRM, json={"code": stale.fresh_code()}, headers=user.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "wrong-two-factor-code")
    current = Authenticator(pyotp.TOTP(second["secret"]))
    ok = await client.post(CONFIRM, json={"code": current.fresh_code()}, headers=user.headers)
    assert ok.status_code == 200
    again = await client.post(ENROL, json={"password": user.password}, headers=user.headers)
    assert (again.status_code, again.json()["code"]) == (409, "two-factor-enabled")
    reconfirm = await client.post(
        CONFIRM, json={"code": current.fresh_code()}, headers=user.headers
    )
    assert reconfirm.status_code == 409


async def test_the_secret_is_stored_sealed_and_the_codes_as_keyed_digests(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await signed_in_user(app, client)
    enrolment = await client.post(ENROL, json={"password": user.password}, headers=user.headers)
    secret = enrolment.json()["secret"]
    codes = (
        await client.post(
            CONFIRM,
            json={"code": Authenticator(pyotp.TOTP(secret)).fresh_code()},
            headers=user.headers,
        )
    ).json()["recovery_codes"]
    async with app.state.db.read_session() as session:
        credential = await session.get(TotpCredential, user.id)
        digests = list(
            await session.scalars(
                select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)
            )
        )
    assert credential is not None
    assert secret not in credential.secret_encrypted
    assert secret.lower() not in credential.secret_encrypted.lower()
    assert credential.secret_encrypted.startswith("v1.")
    assert unseal(app.state.settings, user.id, credential.secret_encrypted) == secret
    assert len(digests) == 10
    for code in codes:
        assert all(code not in digest and code.replace("-", "") not in digest for digest in digests)


async def test_two_factor_inputs_are_validated(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await signed_in_user(app, client)
    for body in (
        {"code": "12345"},
        {"code": "abcdef"},
        {"code": "123456", "extra": True},
    ):
        assert (await client.post(CONFIRM, json=body, headers=user.headers)).status_code == 422
    for proof in ({}, {"code": "123456", "recovery_code": "7kq2m-x9d4r"}):
        answer = await client.post(SECOND_STEP, json={"mfa_token": "x" * 40, **proof})
        assert answer.status_code == 422


# --- the second step ----------------------------------------------------------------------------


async def test_a_wrong_code_is_401_and_opens_no_session(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    sessions = await live_sessions(app, user.id)
    mfa_token = await first_step(client, user)
    wrong = await second_step(client, mfa_token, code=authenticator.wrong_code())
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid-two-factor-code"
    assert "access_token" not in wrong.text
    wrong_recovery = await second_step(client, mfa_token, recovery_code="00000-00000")
    assert wrong_recovery.status_code == 401
    assert await live_sessions(app, user.id) == sessions
    failures = await events(app, user.id, "two_factor_failed")
    assert [event.details["reason"] for event in failures] == ["wrong_code", "wrong_recovery_code"]
    # The challenge survives wrong codes (within the limits): the right code still works.
    ok = await second_step(client, mfa_token, code=authenticator.fresh_code())
    assert ok.status_code == 200


async def test_a_code_is_accepted_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    code = authenticator.fresh_code()
    assert (await second_step(client, await first_step(client, user), code=code)).status_code == 200
    replayed = await second_step(client, await first_step(client, user), code=code)
    assert (replayed.status_code, replayed.json()["code"]) == (401, "invalid-two-factor-code")
    [replay] = await events(app, user.id, "two_factor_failed")
    assert replay.details == {"reason": "replayed_code"}


async def test_a_challenge_works_once_and_answering_one_spends_the_others(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    older, newer = await first_step(client, user), await first_step(client, user)
    assert older != newer
    assert (await second_step(client, newer, code=authenticator.fresh_code())).status_code == 200
    for token in (newer, older):
        spent = await second_step(client, token, recovery_code=authenticator.recovery_codes[0])
        assert (spent.status_code, spent.json()["code"]) == (401, "invalid-mfa-token")
    # A refused challenge did not spend the recovery code: it still works on a new challenge.
    ok = await second_step(
        client, await first_step(client, user), recovery_code=authenticator.recovery_codes[0]
    )
    assert ok.status_code == 200


async def test_concurrent_answers_to_one_challenge_yield_one_session(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    mfa_token = await first_step(client, user)
    sessions = await live_sessions(app, user.id)
    answers = await asyncio.gather(
        second_step(client, mfa_token, code=authenticator.fresh_code()),
        *(
            second_step(client, mfa_token, recovery_code=code)
            for code in authenticator.recovery_codes[:4]
        ),
    )
    assert sorted(answer.status_code for answer in answers) == [200, 401, 401, 401, 401]
    assert await live_sessions(app, user.id) == sessions + 1


async def test_an_expired_or_forged_challenge_is_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    claims = jwt.decode(await first_step(client, user), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300  # the default lifetime
    key = derived_key(app.state.settings, "challenge")
    headers = {"typ": "mfa+jwt"}
    past = utcnow() - timedelta(minutes=10)
    expired = jwt.encode(
        {**claims, "iat": past, "exp": past + timedelta(minutes=5)}, key, "HS256", headers=headers
    )
    forged = jwt.encode(claims, b"another key entirely, of 32 bytes", "HS256", headers=headers)
    unsigned = jwt.encode(claims, "", "none", headers=headers)
    for token in (expired, forged, unsigned, user.access_token):
        refused = await second_step(client, token, code=authenticator.wrong_code())
        assert (refused.status_code, refused.json()["code"]) == (401, "invalid-mfa-token")
    assert not await events(app, user.id, "two_factor_failed")  # refused before any code check
    # The challenge is not an access token either.
    mfa_token = await first_step(client, user)
    as_access = await client.get(ME, headers={"Authorization": f"Bearer {mfa_token}"})
    assert as_access.status_code == 401


async def test_the_cookie_option_works_at_the_second_step(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    mfa_token = await first_step(client, user, cookie=True)
    finished = await client.post(
        SECOND_STEP,
        json={"mfa_token": mfa_token, "code": authenticator.fresh_code(), "cookie": True},
    )
    assert finished.status_code == 200
    assert finished.json()["refresh_token"] is None
    assert finished.json()["csrf_token"]
    cookie = finished.headers["set-cookie"].lower()
    assert "mainspring_refresh=" in cookie
    assert "httponly" in cookie
    assert "path=/api/v1/auth" in cookie


async def test_the_oauth_password_grant_issues_no_tokens_to_a_two_factor_account(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    granted = await client.post(
        TOKEN, data={"grant_type": "password", "username": user.username, "password": user.password}
    )
    assert granted.status_code == 403
    body = granted.json()
    assert (body["code"], body["error"]) == ("mfa-required", "mfa_required")
    assert "access_token" not in body
    finished = await second_step(client, body["mfa_token"], code=authenticator.fresh_code())
    assert finished.status_code == 200


async def test_wrong_codes_are_throttled_per_account(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    mfa_token = await first_step(client, user)
    for _ in range(5):  # the default: 5 wrong codes per 5 minutes per account
        wrong = await second_step(client, mfa_token, code=authenticator.wrong_code())
        assert wrong.status_code == 401
    locked = await second_step(client, mfa_token, code=authenticator.fresh_code())
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 300
    assert locked.json()["code"] == "rate-limited"
    [lockout] = await events(app, user.id, "login_locked")
    assert lockout.details["factor"] == "two_factor"
    # A signed-in session cannot be used to keep guessing either.
    guess = await client.post(
        CODES, json={"code": authenticator.wrong_code()}, headers=user.headers
    )
    assert guess.status_code == 429


@pytest.fixture
async def strict_ip_app(settings: Settings) -> Any:
    application = create_app(settings.model_copy(update={"login_limit_per_ip": "3/minute"}))
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await empty_tables(application)


async def test_wrong_codes_count_against_the_login_limit_per_address(
    strict_ip_app: FastAPI, client_address: str
) -> None:
    transport = httpx.ASGITransport(app=strict_ip_app, client=(client_address, 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        user, authenticator = await user_with_two_factor(strict_ip_app, client)
        mfa_token = await first_step(client, user)
        for _ in range(3):
            wrong = await second_step(client, mfa_token, code=authenticator.wrong_code())
            assert wrong.status_code == 401
        refused = await client.post(
            LOGIN, json={"identifier": user.email, "password": user.password}
        )
        assert refused.status_code == 429


# --- recovery codes -----------------------------------------------------------------------------


async def test_a_recovery_code_works_once_and_its_owner_is_told(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    code = authenticator.recovery_codes[3]
    typed = f"  {code.upper().replace('-', ' ')} "  # case, spaces and dashes do not matter
    used = await second_step(client, await first_step(client, user), recovery_code=typed)
    assert used.status_code == 200
    claims = jwt.decode(used.json()["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    again = await second_step(client, await first_step(client, user), recovery_code=code)
    assert (again.status_code, again.json()["code"]) == (401, "invalid-two-factor-code")
    status = (await client.get(MINE, headers=user.headers)).json()
    assert status["recovery_codes_left"] == 9
    [notice] = [m for m in await mailbox.to(user.email) if "recovery code" in m.subject.lower()]
    assert "9 left" in notice.text
    assert code not in notice.text
    [event] = await events(app, user.id, "recovery_code_used")
    assert event.details == {"codes_left": 9}


async def test_regenerating_recovery_codes_needs_a_code_and_retires_the_old_ones(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    wrong = await client.post(
        CODES, json={"code": authenticator.wrong_code()}, headers=user.headers
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong-two-factor-code")
    regenerated = await client.post(
        CODES, json={"code": authenticator.fresh_code()}, headers=user.headers
    )
    assert regenerated.status_code == 200
    assert regenerated.headers["cache-control"] == "no-store"
    new_codes = regenerated.json()["recovery_codes"]
    assert len(new_codes) == 10
    assert not set(new_codes) & set(authenticator.recovery_codes)
    old = await second_step(
        client, await first_step(client, user), recovery_code=authenticator.recovery_codes[0]
    )
    assert old.status_code == 401
    new = await second_step(client, await first_step(client, user), recovery_code=new_codes[0])
    assert new.status_code == 200
    assert [m for m in await mailbox.to(user.email) if "were replaced" in m.subject]
    assert len(await events(app, user.id, "recovery_codes_regenerated")) == 1


# --- turning it off -----------------------------------------------------------------------------


async def test_disabling_needs_the_password_and_a_code(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    no_code = await client.request(
        "DELETE", MINE, json={"password": user.password}, headers=user.headers
    )
    assert no_code.status_code == 422
    used = authenticator.last_step
    wrong_password = await client.request(
        "DELETE",
        MINE,
        json={"password": "not my password", "code": authenticator.fresh_code()},
        headers=user.headers,
    )
    assert (wrong_password.status_code, wrong_password.json()["code"]) == (403, "wrong-password")
    authenticator.last_step = used  # the password was refused first: the code was not used
    wrong_code = await client.request(
        "DELETE",
        MINE,
        json={"password": user.password, "code": authenticator.wrong_code()},
        headers=user.headers,
    )
    assert (wrong_code.status_code, wrong_code.json()["code"]) == (403, "wrong-two-factor-code")
    disabled = await client.request(
        "DELETE",
        MINE,
        json={"password": user.password, "code": authenticator.fresh_code()},
        headers=user.headers,
    )
    assert disabled.status_code == 204
    async with app.state.db.read_session() as session:
        assert await session.get(TotpCredential, user.id) is None
        assert not list(
            await session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id))
        )
    await sign_in(client, user)  # the password alone again
    status = (await client.get(MINE, headers=user.headers)).json()
    assert status == {
        "enabled": False,
        "pending": False,
        "enabled_at": None,
        "recovery_codes_left": 0,
    }
    assert [m for m in await mailbox.to(user.email) if "is off" in m.subject]
    again = await client.request(
        "DELETE",
        MINE,
        json={"password": user.password, "code": authenticator.wrong_code()},
        headers=user.headers,
    )
    assert again.status_code == 409


async def test_a_password_reset_does_not_bypass_the_second_factor(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    stale_challenge = await first_step(client, user)
    await client.post("/api/v1/auth/password/forgot", json={"email": user.email})
    token = await mailbox.link_token(user.email, "/reset-password")
    user.password = "a brand new passphrase"
    reset = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": user.password}
    )
    assert reset.status_code == 204
    assert "access_token" not in reset.text
    # A challenge from before the reset died with the old password.
    stale = await second_step(
        client, stale_challenge, recovery_code=authenticator.recovery_codes[0]
    )
    assert (stale.status_code, stale.json()["code"]) == (401, "invalid-mfa-token")
    mfa_token = await first_step(client, user)  # the new password, and still the second step
    assert (
        await second_step(client, mfa_token, code=authenticator.fresh_code())
    ).status_code == 200


# --- administration and account deletion --------------------------------------------------------


async def test_an_admin_sees_whether_it_is_on_and_can_remove_it(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user, _ = await user_with_two_factor(app, client)
    admin = await signed_in_user(app, client, role=Role.ADMIN)
    path = f"/api/v1/users/{user.id}/two-factor"
    view = await client.get(path, headers=admin.headers)
    assert view.json() == {"enabled": True}
    assert (await client.get(path, headers=user.headers)).status_code == 403
    assert (await client.delete(path, headers=user.headers)).status_code == 403
    unknown = await client.delete(f"/api/v1/users/{uuid.uuid4()}/two-factor", headers=admin.headers)
    assert unknown.status_code == 404

    removed = await client.delete(path, headers=admin.headers)
    assert removed.status_code == 204
    assert (await client.get(path, headers=admin.headers)).json() == {"enabled": False}
    assert (await client.delete(path, headers=admin.headers)).status_code == 409
    await sign_in(client, user)  # the password alone
    [notice] = [m for m in await mailbox.to(user.email) if "administrator" in m.subject.lower()]
    assert user.username in notice.text
    [event] = await events(app, user.id, "two_factor_removed")
    assert event.actor_id == admin.id


async def test_deleting_the_account_removes_the_secret_and_the_codes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, _ = await user_with_two_factor(app, client)
    deleted = await client.request(
        "DELETE", ME, json={"password": user.password}, headers=user.headers
    )
    assert deleted.status_code == 204
    async with app.state.db.read_session() as session:
        assert await session.get(TotpCredential, user.id) is None
        left = await session.scalar(
            select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id)
        )
    assert left == 0


async def test_security_events_tell_the_story_without_secrets(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, authenticator = await user_with_two_factor(app, client)
    mfa_token = await first_step(client, user)
    await second_step(client, mfa_token, code=authenticator.wrong_code())
    await second_step(client, mfa_token, recovery_code=authenticator.recovery_codes[0])
    kinds = [event.kind for event in await events(app, user.id)]
    for kind in (
        "two_factor_enrolment_started",
        "two_factor_enabled",
        "two_factor_challenged",
        "two_factor_failed",
        "recovery_code_used",
    ):
        assert kind in kinds
    assert kinds.count("login_succeeded") == 2  # the first sign-in, then the second step's
    async with app.state.db.read_session() as session:
        credential = await session.get(TotpCredential, user.id)
    assert credential is not None
    logged = str([event.details for event in await events(app, user.id)])
    for secret in (
        authenticator.totp.secret,
        credential.secret_encrypted,
        *authenticator.recovery_codes,
        mfa_token,
    ):
        assert secret not in logged


async def test_rotating_the_secret_key_makes_enrolled_authenticators_unusable(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, client_address: str
) -> None:
    """What docs/security.md says: sealed secrets and recovery-code digests are bound to the
    secret key; after a rotation, an administrator removes the second factor and the user
    enrols again."""
    user, authenticator = await user_with_two_factor(app, client)
    rotated = create_app(
        settings.model_copy(update={"secret_key": SecretStr("another-secret-key-" * 3)})
    )
    transport = httpx.ASGITransport(app=rotated, client=(client_address, 2))
    async with (
        rotated.router.lifespan_context(rotated),
        httpx.AsyncClient(transport=transport, base_url="http://t") as other,
    ):
        mfa_token = await first_step(other, user)
        refused = await second_step(other, mfa_token, code=authenticator.fresh_code())
        assert refused.status_code == 401
        refused = await second_step(other, mfa_token, recovery_code=authenticator.recovery_codes[0])
        assert refused.status_code == 401
        admin = await signed_in_user(rotated, other, role=Role.ADMIN)
        removed = await other.delete(f"/api/v1/users/{user.id}/two-factor", headers=admin.headers)
        assert removed.status_code == 204
        await sign_in(other, user)  # the password alone, until the user enrols again
        await enable_two_factor(other, user)


async def test_the_realworld_login_does_not_skip_the_second_factor(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, _ = await user_with_two_factor(app, client)
    refused = await client.post(
        "/realworld/api/users/login",
        json={"user": {"email": user.email, "password": user.password}},
    )
    assert refused.status_code == 403
    assert "token" not in refused.json()
    assert "two-factor" in refused.text or "authenticator" in refused.text
