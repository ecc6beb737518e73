"""RealWorld users: ``/users`` (register), ``/users/login`` and ``/user`` (me), on accounts.

A RealWorld user is a Mainspring account, and its ``token`` is the access JWT of a session that
``login`` or ``register`` opens through the accounts services, with the same brute-force limits,
password policy and audit log as the accounts API. The profile fields RealWorld shows next to
the account (``bio``, ``image``) are the social module's.

Two account changes RealWorld allows in ``PUT /user`` are refused here (422), because a stolen
token must not be enough to make them: a new email address (it takes effect once a link mailed
to it is used) and a new password (it needs the current one). Both remain available through
``/api/v1/users/me/email`` and ``/api/v1/users/me/password``. The username is permanent.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.deps import AccountsContextDep, CurrentUser
from mainspring.accounts.models import User
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.links import send_verification
from mainspring.accounts.service.login import login_service
from mainspring.accounts.service.registration import registration_service
from mainspring.accounts.service.sessions import session_service
from mainspring.accounts.service.two_factor import two_factor_service
from mainspring.core.deps import SessionDep
from mainspring.core.errors import UnprocessableEntity
from mainspring.realworld import schemas
from mainspring.realworld.route import RealWorldRoute
from mainspring.social.profiles.service import profile_service

router = APIRouter(route_class=RealWorldRoute)


async def _user(session: AsyncSession, user: User, token: str) -> schemas.UserResponse:
    profile = await profile_service.get_profile_by_id(session, user.id)
    return schemas.UserResponse(
        user=schemas.User(
            email=user.email,
            token=token,
            username=user.username,
            bio=profile.bio,
            image=profile.image,
        )
    )


def _presented_token(request: Request) -> str:
    """The access token of this request (``RealWorldRoute`` made any scheme ``Bearer``)."""
    return request.headers.get("authorization", "").partition(" ")[2]


def _refused(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(message, errors=[{"field": field, "message": message}])


@router.post("/users/login", summary="Log in")
async def login(
    payload: schemas.LoginRequest, session: SessionDep, ctx: AccountsContextDep
) -> schemas.UserResponse:
    """Sign in with email and password; answers the user with a fresh token. An account with
    two-factor sign-in is refused (403): RealWorld has no second step, the accounts API has."""
    user = await login_service.authenticate(session, ctx, payload.user.email, payload.user.password)
    tokens = await two_factor_service.sign_in(session, ctx, user, methods=("pwd",))
    return await _user(session, user, tokens.access_token)


@router.post("/users", status_code=201, summary="Register")
async def register(
    payload: schemas.NewUserRequest, session: SessionDep, ctx: AccountsContextDep
) -> schemas.UserResponse:
    """Create an account and sign it in. Unlike the accounts API's registration, a taken
    username or email is said plainly (422): the RealWorld protocol has no other way."""
    settings, data = ctx.settings, payload.user
    await ctx.limiter.hit(settings.register_limit_per_ip, "register-ip", ctx.client.ip or "")
    user = await registration_service.create_account(
        session, ctx.hasher, email=data.email, username=data.username, password=data.password
    )
    await send_verification(session, settings, user)
    await audit_service.record(session, EventKind.REGISTERED, ctx.client, user_id=user.id)
    tokens = await session_service.start(session, ctx, user)
    return await _user(session, user, tokens.access_token)


@router.get("/user", summary="Current user")
async def current_user(
    request: Request, user: CurrentUser, session: SessionDep
) -> schemas.UserResponse:
    """The signed-in user, with the token it presented."""
    return await _user(session, user, _presented_token(request))


@router.put("/user", summary="Update current user")
async def update_user(
    request: Request,
    payload: schemas.UpdateUserRequest,
    user: CurrentUser,
    session: SessionDep,
) -> schemas.UserResponse:
    """Set `bio` and `image`. The email, password and username can be sent unchanged (clients
    send back the whole user); a change to them is refused, see the module docstring."""
    changes = payload.user
    if changes.email is not None and changes.email != user.email:
        raise _refused("email", "change it through POST /api/v1/users/me/email (confirmed by mail)")
    if changes.password is not None:
        raise _refused("password", "change it through POST /api/v1/users/me/password")
    if changes.username is not None and changes.username.lower() != user.username_key:
        raise _refused("username", "a username cannot be changed")
    details = changes.model_dump(include={"bio", "image"}, exclude_unset=True)
    await profile_service.update_details(session, user.id, details)
    return await _user(session, user, _presented_token(request))
