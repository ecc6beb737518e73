"""Dependencies of the accounts module, and the ones other modules use to know the caller.

For other modules:

* ``CurrentPrincipal`` / ``OptionalPrincipal`` (from ``core/auth.py``): the caller's id, session
  and role, without a query. Enough for most handlers: ``principal.user_id`` is the foreign key.
* ``CurrentUser``: the caller's ``User`` row, loaded through the request's read-write session.
* ``require_role(Role.MODERATOR)``, ``require_permission("content:moderate")`` (``core/auth.py``).
* ``require_verified_email("publish")``: 403 until the email is verified, if the action is listed
  in ``MAINSPRING_VERIFIED_EMAIL_REQUIRED_FOR``.

For the accounts handlers, ``AccountsContextDep`` gathers the security tools and the request's
client and aftermath (see ``service/context.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from mainspring.accounts.errors import EmailNotVerified
from mainspring.accounts.models import User
from mainspring.accounts.service.context import AccountsContext, Aftermath, Client
from mainspring.accounts.service.profile import profile_service
from mainspring.core.auth import CurrentPrincipal, Principal, require_permission
from mainspring.core.deps import SessionDep, get_database, get_settings
from mainspring.core.ratelimit import client_ip

USER_AGENT_MAX = 256


async def get_client(request: Request) -> Client:
    agent = request.headers.get("user-agent")
    return Client(ip=client_ip(request), user_agent=agent[:USER_AGENT_MAX] if agent else None)


async def get_aftermath(request: Request) -> AsyncIterator[Aftermath]:
    """An ``Aftermath`` whose writes run once the request's unit of work has ended.

    This dependency has the default ``"request"`` scope while the session has the
    ``"function"`` scope, so its exit code runs after the session's: after the rollback of a
    failed request and before its error response is sent (after the response of a successful
    one, which rarely queues anything).
    """
    aftermath = Aftermath()
    try:
        yield aftermath
    finally:
        await aftermath.run(await get_database(request))


async def get_accounts_context(
    request: Request,
    client: Annotated[Client, Depends(get_client)],
    aftermath: Annotated[Aftermath, Depends(get_aftermath)],
) -> AccountsContext:
    state = request.app.state
    return AccountsContext(
        settings=await get_settings(request),
        database=await get_database(request),
        hasher=state.password_hasher,
        keyring=state.keyring,
        limiter=state.ratelimiter,
        states=state.session_states,
        client=client,
        aftermath=aftermath,
    )


AccountsContextDep = Annotated[AccountsContext, Depends(get_accounts_context)]


async def get_current_user(principal: CurrentPrincipal, session: SessionDep) -> User:
    """The caller's ``User`` row (401 if it is gone or no longer active).

    It is read through the request's read-write session, whose transaction (and connection,
    and on SQLite the write lock) is then held until the response. A handler that checks a
    password takes ``CurrentPrincipal`` instead: see ``service/passwords.py``."""
    return await profile_service.account(session, principal.user_id)


CurrentUser = Annotated[User, Depends(get_current_user)]

AdminPrincipal = Annotated[Principal, Depends(require_permission("users:manage"))]
AuditorPrincipal = Annotated[Principal, Depends(require_permission("audit:read"))]


def require_verified_email(action: str) -> Callable[[Request, User], Awaitable[User]]:
    """A dependency giving the current user, refused with 403 ``email-not-verified`` when
    ``action`` is one of ``MAINSPRING_VERIFIED_EMAIL_REQUIRED_FOR`` and the email is not
    verified yet."""

    async def dependency(request: Request, user: CurrentUser) -> User:
        settings = await get_settings(request)
        if action in settings.verified_email_required_for and not user.is_verified:
            raise EmailNotVerified()
        return user

    return dependency
