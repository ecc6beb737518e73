"""Roles and permissions, administration of users, the audit log, ``users create-admin``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from typer.testing import CliRunner

from mainspring.accounts.deps import require_verified_email
from mainspring.accounts.models import User
from mainspring.cli import app as cli
from mainspring.core.auth import (
    CurrentPrincipal,
    OptionalPrincipal,
    Principal,
    Role,
    require_permission,
    require_role,
)
from tests.accounts.helpers import SignedInUser, create_user, sign_in, signed_in_user

pytestmark = pytest.mark.anyio

USERS = "/api/v1/users"
EVENTS = "/api/v1/auth/security-events"


@pytest.fixture
async def admin(app: FastAPI, client: httpx.AsyncClient) -> SignedInUser:
    return await signed_in_user(app, client, role=Role.ADMIN)


# --- the kernel's dependencies ------------------------------------------------------------------


@pytest.fixture
def guarded(app: FastAPI) -> FastAPI:
    @app.get("/_test/anyone")
    async def anyone(principal: OptionalPrincipal) -> dict[str, str | None]:
        return {"user": str(principal.user_id) if principal else None}

    @app.get("/_test/signed-in")
    async def signed_in(principal: CurrentPrincipal) -> dict[str, str]:
        return {"role": principal.role.value}

    @app.get("/_test/moderators")
    async def moderators(
        principal: Annotated[Principal, Depends(require_role(Role.MODERATOR))],
    ) -> dict[str, str]:
        return {"role": principal.role.value}

    @app.get("/_test/auditors")
    async def auditors(
        principal: Annotated[Principal, Depends(require_permission("audit:read"))],
    ) -> dict[str, str]:
        return {"role": principal.role.value}

    return app


async def test_roles_and_permissions(guarded: FastAPI, client: httpx.AsyncClient) -> None:
    people = {role: await signed_in_user(guarded, client, role=role) for role in Role}
    expected = {
        Role.USER: (200, 200, 403, 403),
        Role.MODERATOR: (200, 200, 200, 403),
        Role.ADMIN: (200, 200, 200, 200),
    }
    for role, statuses in expected.items():
        answers = [
            (await client.get(path, headers=people[role].headers)).status_code
            for path in (
                "/_test/anyone",
                "/_test/signed-in",
                "/_test/moderators",
                "/_test/auditors",
            )
        ]
        assert tuple(answers) == statuses, role
    anonymous = [
        (await client.get(path)).status_code
        for path in ("/_test/anyone", "/_test/signed-in", "/_test/moderators")
    ]
    assert anonymous == [200, 401, 401]
    bad = await client.get("/_test/anyone", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401  # a bad token is refused, never taken as anonymous


async def test_actions_can_require_a_verified_email(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    @app.post("/_test/publish")
    async def publish(user: Annotated[User, Depends(require_verified_email("publish"))]) -> None:
        return None

    @app.post("/_test/comment")
    async def comment(user: Annotated[User, Depends(require_verified_email("comment"))]) -> None:
        return None

    app.state.settings = app.state.settings.model_copy(
        update={"verified_email_required_for": ["publish"]}
    )
    unverified = await signed_in_user(app, client, verified=False)
    verified = await signed_in_user(app, client, verified=True)
    refused = await client.post("/_test/publish", headers=unverified.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "email-not-verified")
    assert (await client.post("/_test/publish", headers=verified.headers)).status_code == 200
    assert (await client.post("/_test/comment", headers=unverified.headers)).status_code == 200


def test_unknown_permissions_fail_when_declared() -> None:
    with pytest.raises(ValueError, match="unknown permission"):
        require_permission("users:mange")


# --- administration -----------------------------------------------------------------------------


async def test_only_admins_list_users_and_see_emails(
    app: FastAPI, client: httpx.AsyncClient, admin: SignedInUser
) -> None:
    moderator = await signed_in_user(app, client, role=Role.MODERATOR)
    user = await signed_in_user(app, client)
    assert (await client.get(USERS, headers=user.headers)).status_code == 403
    assert (await client.get(USERS, headers=moderator.headers)).status_code == 403
    assert (await client.get(f"{USERS}/{admin.id}", headers=user.headers)).status_code == 403
    listing = await client.get(USERS, headers=admin.headers)
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 3
    assert {item["email"] for item in body["items"]} == {admin.email, moderator.email, user.email}
    assert "password" not in listing.text
    assert "argon2" not in listing.text


async def test_search_filter_and_paginate_users(
    app: FastAPI, client: httpx.AsyncClient, admin: SignedInUser
) -> None:
    for index in range(7):
        await create_user(app, username=f"zed_{index}_{admin.username[-6:]}")
    await create_user(app, username=f"mod_{admin.username[-6:]}", role=Role.MODERATOR)

    found = await client.get(USERS, params={"q": "ZED_"}, headers=admin.headers)
    assert found.json()["total"] == 7
    moderators = await client.get(USERS, params={"role": "moderator"}, headers=admin.headers)
    assert [item["role"] for item in moderators.json()["items"]] == ["moderator"]
    wildcard = await client.get(USERS, params={"q": "%"}, headers=admin.headers)
    assert wildcard.json()["total"] == 0  # LIKE wildcards are matched literally

    counts = set()
    names: list[str] = []
    for page in (1, 2, 3):
        response = await client.get(
            USERS, params={"page": page, "page_size": 3, "q": "zed_"}, headers=admin.headers
        )
        counts.add(response.headers["x-db-statements"])
        names += [item["username"] for item in response.json()["items"]]
        assert 'rel="last"' in response.headers["link"]
    assert len(names) == len(set(names)) == 7
    big = await client.get(USERS, params={"page_size": 100}, headers=admin.headers)
    counts.add(big.headers["x-db-statements"])
    assert len(counts) == 1  # no N+1: the same statements for 3 rows or 9


async def test_disabling_a_user_locks_them_out_at_once(
    app: FastAPI, client: httpx.AsyncClient, admin: SignedInUser
) -> None:
    user = await signed_in_user(app, client)
    assert (await client.get(f"{USERS}/me", headers=user.headers)).status_code == 200
    disabled = await client.post(f"{USERS}/{user.id}/disable", headers=admin.headers)
    assert (disabled.status_code, disabled.json()["disabled"]) == (200, True)
    assert (await client.get(f"{USERS}/me", headers=user.headers)).status_code == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refresh.status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"identifier": user.email, "password": user.password}
    )
    assert (login.status_code, login.json()["code"]) == (403, "account-disabled")

    enabled = await client.post(f"{USERS}/{user.id}/enable", headers=admin.headers)
    assert (enabled.status_code, enabled.json()["disabled"]) == (200, False)
    assert (await sign_in(client, user)).access_token


async def test_a_role_change_applies_at_once(
    app: FastAPI, client: httpx.AsyncClient, admin: SignedInUser
) -> None:
    user = await signed_in_user(app, client)
    promoted = await client.put(
        f"{USERS}/{user.id}/role", json={"role": "admin"}, headers=admin.headers
    )
    assert (promoted.status_code, promoted.json()["role"]) == (200, "admin")
    assert (await client.get(USERS, headers=user.headers)).status_code == 401  # old session
    await sign_in(client, user)
    assert (await client.get(USERS, headers=user.headers)).status_code == 200

    demoted = await client.put(
        f"{USERS}/{user.id}/role", json={"role": "user"}, headers=admin.headers
    )
    assert demoted.status_code == 200
    assert (await client.get(USERS, headers=user.headers)).status_code == 401
    await sign_in(client, user)
    assert (await client.get(USERS, headers=user.headers)).status_code == 403
    bad = await client.put(f"{USERS}/{user.id}/role", json={"role": "root"}, headers=admin.headers)
    assert bad.status_code == 422


async def test_the_last_admin_cannot_demote_or_disable_themselves(
    app: FastAPI, client: httpx.AsyncClient, admin: SignedInUser
) -> None:
    demote = await client.put(
        f"{USERS}/{admin.id}/role", json={"role": "moderator"}, headers=admin.headers
    )
    assert (demote.status_code, demote.json()["code"]) == (409, "last-admin")
    disable = await client.post(f"{USERS}/{admin.id}/disable", headers=admin.headers)
    assert (disable.status_code, disable.json()["code"]) == (409, "last-admin")
    assert (await client.get(USERS, headers=admin.headers)).status_code == 200

    second = await create_user(app, role=Role.ADMIN)
    demote = await client.put(
        f"{USERS}/{admin.id}/role", json={"role": "moderator"}, headers=admin.headers
    )
    assert demote.status_code == 200
    assert (await client.get(USERS, headers=admin.headers)).status_code == 401
    second = await sign_in(client, second)
    listing = await client.get(USERS, params={"role": "admin"}, headers=second.headers)
    assert [item["id"] for item in listing.json()["items"]] == [str(second.id)]


async def test_unknown_users_are_404(client: httpx.AsyncClient, admin: SignedInUser) -> None:
    missing = "01a1fc8e-0000-7000-8000-000000000000"
    assert (await client.get(f"{USERS}/{missing}", headers=admin.headers)).status_code == 404
    disable = await client.post(f"{USERS}/{missing}/disable", headers=admin.headers)
    assert disable.status_code == 404


# --- the audit log ------------------------------------------------------------------------------


async def test_security_events_for_admins_and_for_oneself(
    app: FastAPI, client: httpx.AsyncClient, admin: SignedInUser
) -> None:
    user = await signed_in_user(app, client)
    await client.post(
        "/api/v1/auth/login", json={"identifier": user.email, "password": "wrong guess"}
    )
    await client.put(f"{USERS}/{user.id}/role", json={"role": "moderator"}, headers=admin.headers)

    assert (await client.get(EVENTS, headers=user.headers)).status_code == 401  # session ended
    user = await sign_in(client, user)
    assert (await client.get(EVENTS, headers=user.headers)).status_code == 403

    mine = await client.get(f"{USERS}/me/security-events", headers=user.headers)
    kinds = [event["kind"] for event in mine.json()["items"]]
    assert kinds == ["login_succeeded", "role_changed", "login_failed", "login_succeeded"]

    all_events = await client.get(EVENTS, params={"limit": 2}, headers=admin.headers)
    assert all_events.status_code == 200
    assert len(all_events.json()["items"]) == 2
    assert 'rel="next"' in all_events.headers["link"]
    changes = await client.get(
        EVENTS, params={"kind": "role_changed", "user_id": str(user.id)}, headers=admin.headers
    )
    [change] = changes.json()["items"]
    assert change["actor_id"] == str(admin.id)
    assert change["details"] == {"previous": "user", "role": "moderator"}

    everything = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(EVENTS, params=params, headers=admin.headers)).json()
        everything += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    text = str(everything)
    for secret in (user.password, admin.password, user.refresh_token, admin.access_token):
        assert secret not in text


# --- the command line ---------------------------------------------------------------------------


def test_cli_creates_an_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mainspring.core import migrations
    from tests.conftest import make_settings

    database = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    migrations.upgrade(make_settings(database))
    for name in [name for name in os.environ if name.startswith("MAINSPRING_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAINSPRING_DATABASE_URL", database)
    monkeypatch.setenv("MAINSPRING_PASSWORD_HASH_MEMORY_KIB", "64")
    runner = CliRunner()
    args = ["users", "create-admin", "--email", "Root@Example.com", "--username", "boss"]
    result = runner.invoke(cli, args, input="the admin passphrase\nthe admin passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Administrator boss created" in result.output
    assert "the admin passphrase" not in result.output
    again = runner.invoke(cli, args, input="the admin passphrase\nthe admin passphrase\n")
    assert again.exit_code == 1
    assert "taken" in again.output
    weak = runner.invoke(
        cli,
        ["users", "create-admin", "--email", "b@example.com", "--username", "boss2"],
        env={"MAINSPRING_ADMIN_PASSWORD": "password"},
    )
    assert weak.exit_code == 1
    assert "too common" in weak.output


@pytest.mark.parametrize("path", [EVENTS, f"{USERS}/me/security-events"])
async def test_event_lists_cost_the_same_statements_at_any_size(
    app: FastAPI, client: httpx.AsyncClient, admin: SignedInUser, path: str
) -> None:
    for _ in range(6):  # six more sign-ins: six more events of the admin's own
        await sign_in(client, SignedInUser(admin.id, admin.email, admin.username, admin.password))
    await client.get(path, headers=admin.headers)  # the session state is cached from here on
    counts = set()
    for limit in (1, 3, 100):
        response = await client.get(path, params={"limit": limit}, headers=admin.headers)
        assert response.status_code == 200
        assert len(response.json()["items"]) == min(limit, 7)
        assert response.json()["items"][0]["kind"] == "login_succeeded"
        counts.add(response.headers["x-db-statements"])
    assert len(counts) == 1
