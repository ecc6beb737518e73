"""Two-factor sign-in with an authenticator app (TOTP, RFC 6238) and recovery codes.

**Enrolment.** A signed-in user, re-entering their password, gets a new secret, its
``otpauth://`` URI and a QR code of it (``enrol``). The credential stays *pending* until a first
valid code proves the app holds the secret (``confirm``); that enables it and hands out ten
single-use recovery codes, shown once. A pending enrolment may be restarted (a new secret
replaces it); an enabled one must be disabled first. Regenerating the recovery codes needs a
valid code and retires the old ones. Disabling needs the password and a valid code, and deletes
the secret and the codes. An administrator may remove a user's second factor for a support case
(the user is told by mail). What the cryptography does is in ``totp.py``.

**Sign-in.** Every first factor (the password login, the OAuth password grant, an identity
provider's callback) ends in ``sign_in``, the door to a session. Without a confirmed credential
it opens the session. With one, it answers ``TwoFactorRequired`` (403) carrying a *challenge*,
the ``mfa_token``; the client sends it back with a code to ``complete``, which opens the session
with the first factor's methods plus ``otp`` and ``mfa`` (RFC 8176 ``amr``).

**Why the challenge is a signed token, not a row** (``challenges.py`` makes and reads it).
Raising ``TwoFactorRequired`` rolls the request's transaction back, so a challenge row would
have to be written through the aftermath (a second transaction, whose failure could only be
logged, after the client was promised a token) and purged later. Instead the challenge is
stateless: a JWT (HS256 under a key derived for this purpose alone, its own ``typ`` and
audience, so it never passes for an access token) naming the user, the first factor's
methods, its expiry (``two_factor_challenge_ttl_seconds``) and two facts about the account
when it was issued:

* ``n``, the credential's ``answered_challenges`` count. The second step spends the challenge
  by raising that count in the same conditional ``UPDATE`` that records the accepted code
  (``TotpCredentialRepository.accept``), inside the transaction that opens the session. So the
  single use is recorded if and only if the sign-in succeeds; of two requests answering one
  challenge at once, the database lets one through; and answering a challenge spends every other
  challenge outstanding for the account (a second pending sign-in must start again);
* ``bnd``, a digest of when the password last changed and when the credential was created: a
  challenge dies when the password changes (a reset) or the second factor is replaced.

**Codes and attempts.** A TOTP code is accepted for one step either side of now, and once: the
step of an accepted code is recorded (``last_used_step``), and a code of that step or an older
one is refused, whether at sign-in or to confirm a change. Wrong codes count against a
per-account limit (``two_factor_limit_per_account``, default 5 per 5 minutes) and the per-address
login limit; once either is spent, 429 with ``Retry-After``, even for a right code. A used
recovery code is spent, recorded in the audit log and announced to the owner by mail. Every
failure is recorded (``two_factor_failed``), never the code.

Password reset does not sign in and leaves the second factor in place, so the next sign-in
still asks for a code.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import (
    InvalidTwoFactorChallenge,
    InvalidTwoFactorCode,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorRequired,
    WrongTwoFactorCode,
)
from mainspring.accounts.models import TotpCredential, User
from mainspring.accounts.repository import (
    RecoveryCodeRepository,
    TotpCredentialRepository,
    UserRepository,
)
from mainspring.accounts.schemas import (
    TwoFactorAdminView,
    TwoFactorEnrolment,
    TwoFactorStatusView,
)
from mainspring.accounts.service.admin import admin_service
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.challenges import issue_challenge, read_challenge
from mainspring.accounts.service.context import AccountsContext
from mainspring.accounts.service.links import notify
from mainspring.accounts.service.login import LOGIN_IP
from mainspring.accounts.service.profile import profile_service
from mainspring.accounts.service.sessions import IssuedTokens, session_service
from mainspring.accounts.service.totp import (
    UnreadableSecret,
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    qr_code,
    recovery_code_digest,
    seal,
    unseal,
)
from mainspring.core.auth import Principal
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.errors import MainspringError, NotFound

logger = structlog.get_logger("mainspring.accounts")

SECOND_FACTOR_METHODS = ("otp", "mfa")
"""What a session's ``amr`` gains from the second step (RFC 8176)."""
CHALLENGE_METHODS = ("totp", "recovery_code")
"""What the second step accepts, as told to the client in ``TwoFactorRequired.methods``."""
TWO_FACTOR_ACCOUNT = "two-factor-account"


class TwoFactorService:
    # --- signing in -----------------------------------------------------------------------------

    async def sign_in(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user: User,
        *,
        methods: Sequence[str],
    ) -> IssuedTokens:
        """The door every first factor goes through once its proof is checked.

        Opens a session (``session_service.start`` with ``methods``) unless ``user`` has a
        confirmed authenticator; then raises ``TwoFactorRequired`` with a challenge that
        remembers ``methods`` for ``complete``.
        """
        credential = await TotpCredentialRepository(session).confirmed_of(user.id)
        if credential is None:
            return await session_service.start(session, ctx, user, methods=methods)
        token = issue_challenge(ctx.settings, user, credential, methods)
        audit_service.record_anyway(
            ctx, EventKind.TWO_FACTOR_CHALLENGED, user_id=user.id, methods=list(methods)
        )
        raise TwoFactorRequired(
            token, CHALLENGE_METHODS, ctx.settings.two_factor_challenge_ttl_seconds
        )

    async def complete(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        mfa_token: str,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
    ) -> IssuedTokens:
        """The second step: check ``code`` (or ``recovery_code``) for the challenge
        ``mfa_token``, spend the challenge, open the session."""
        challenge = read_challenge(ctx.settings, mfa_token)
        user = await UserRepository(session).get_or_none(challenge.user_id)
        credential = await TotpCredentialRepository(session).confirmed_of(challenge.user_id)
        if (
            user is None
            or credential is None
            or not user.is_active
            or not challenge.is_live_for(user, credential)
        ):
            raise InvalidTwoFactorChallenge()
        await self._prove(
            session,
            ctx,
            user,
            credential,
            code=code,
            recovery_code=recovery_code,
            answered=challenge.answered,
        )
        await ctx.limiter.clear(ctx.settings.two_factor_limit_per_account, *_account(user))
        methods = [*challenge.methods, *SECOND_FACTOR_METHODS]
        return await session_service.start(session, ctx, user, methods=methods)

    # --- my authenticator -----------------------------------------------------------------------

    async def status(self, session: AsyncSession, user_id: uuid.UUID) -> TwoFactorStatusView:
        """Whether two-factor sign-in is on, since when, and how many recovery codes are left."""
        return await TotpCredentialRepository(session).status(user_id)

    async def enrol(
        self, session: AsyncSession, ctx: AccountsContext, user_id: uuid.UUID, password: str
    ) -> TwoFactorEnrolment:
        """Start (or restart) an enrolment with a new secret; 409 when one is enabled."""
        user = await profile_service.reauthenticate(session, ctx, user_id, password)
        credentials = TotpCredentialRepository(session)
        credential = await credentials.get_or_none(user.id)
        if credential is not None and credential.confirmed_at is not None:
            raise TwoFactorAlreadyEnabled()
        secret = new_secret()
        sealed = seal(ctx.settings, user.id, secret)
        if credential is None:
            await credentials.add(TotpCredential(user_id=user.id, secret_encrypted=sealed))
        else:
            credential.secret_encrypted = sealed
            credential.created_at = utcnow()
            credential.last_used_step = None
        await audit_service.record(
            session, EventKind.TWO_FACTOR_ENROLMENT_STARTED, ctx.client, user_id=user.id
        )
        uri = provisioning_uri(ctx.settings, secret, user.email)
        return TwoFactorEnrolment(secret=secret, provisioning_uri=uri, qr_code=qr_code(uri))

    async def confirm(
        self, session: AsyncSession, ctx: AccountsContext, user: User, code: str
    ) -> list[str]:
        """Enable the pending authenticator with its first valid code; return the recovery
        codes (the only time they are ever shown)."""
        credentials = TotpCredentialRepository(session)
        credential = await credentials.get_or_none(user.id)
        if credential is None or credential.confirmed_at is not None:
            raise TwoFactorNotEnabled("There is no pending enrolment to confirm; start one.")
        await self._check_limits(ctx, user)
        step = self._matching_step(ctx.settings, credential, code)
        if step is None:
            await self._failed(ctx, user, "wrong_code")
            raise WrongTwoFactorCode()
        if not await credentials.confirm(user.id, step=step, now=utcnow()):
            raise TwoFactorNotEnabled("There is no pending enrolment to confirm; start one.")
        codes = await self._replace_recovery_codes(session, ctx.settings, user)
        await notify(session, ctx.settings, user, "two_factor_enabled")
        await audit_service.record(
            session, EventKind.TWO_FACTOR_ENABLED, ctx.client, user_id=user.id
        )
        return codes

    async def regenerate_recovery_codes(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user: User,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
    ) -> list[str]:
        """New recovery codes for a valid code; every older one stops working."""
        credential = await self._enabled(session, user)
        await self._prove(session, ctx, user, credential, code=code, recovery_code=recovery_code)
        codes = await self._replace_recovery_codes(session, ctx.settings, user)
        await notify(session, ctx.settings, user, "recovery_codes_regenerated")
        await audit_service.record(
            session, EventKind.RECOVERY_CODES_REGENERATED, ctx.client, user_id=user.id
        )
        return codes

    async def disable(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user_id: uuid.UUID,
        password: str,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
    ) -> None:
        """Turn two-factor sign-in off (password and a valid code): the secret and the codes
        are deleted."""
        user = await profile_service.reauthenticate(session, ctx, user_id, password)
        credential = await self._enabled(session, user)
        await self._prove(session, ctx, user, credential, code=code, recovery_code=recovery_code)
        await TotpCredentialRepository(session).delete_of_user(user.id)
        await RecoveryCodeRepository(session).delete_of_user(user.id)
        await notify(session, ctx.settings, user, "two_factor_disabled")
        await audit_service.record(
            session, EventKind.TWO_FACTOR_DISABLED, ctx.client, user_id=user.id
        )

    # --- administration -------------------------------------------------------------------------

    async def admin_view(self, session: AsyncSession, user_id: uuid.UUID) -> TwoFactorAdminView:
        """Whether a user (404 if unknown) has two-factor sign-in: all administrators see of it."""
        view = await TotpCredentialRepository(session).admin_view(user_id)
        if view is None:
            raise NotFound(UserRepository.not_found)
        return view

    async def remove(
        self, session: AsyncSession, ctx: AccountsContext, admin: Principal, user_id: uuid.UUID
    ) -> None:
        """An administrator removes a user's authenticator (lost phone, support case): the user
        signs in with the password alone until they enrol again, and is told by mail. 404 for
        an unknown user, 409 when there is nothing to remove."""
        user = await admin_service.get(session, user_id)
        if not await TotpCredentialRepository(session).delete_of_user(user.id):
            raise TwoFactorNotEnabled()
        await RecoveryCodeRepository(session).delete_of_user(user.id)
        await notify(session, ctx.settings, user, "two_factor_removed")
        await audit_service.record(
            session,
            EventKind.TWO_FACTOR_REMOVED,
            ctx.client,
            user_id=user.id,
            actor_id=admin.user_id,
        )

    # --- proofs ---------------------------------------------------------------------------------

    async def _enabled(self, session: AsyncSession, user: User) -> TotpCredential:
        credential = await TotpCredentialRepository(session).confirmed_of(user.id)
        if credential is None:
            raise TwoFactorNotEnabled()
        return credential

    async def _prove(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user: User,
        credential: TotpCredential,
        *,
        code: str | None,
        recovery_code: str | None,
        answered: int | None = None,
    ) -> None:
        """Check a TOTP ``code`` or a ``recovery_code`` of ``user`` and use it up; at sign-in
        (``answered`` given) also spend the challenge. Wrong answers are throttled and logged;
        the error is ``InvalidTwoFactorCode`` (401) at sign-in, ``WrongTwoFactorCode`` (403)
        for a signed-in user."""
        wrong: MainspringError = (
            InvalidTwoFactorCode() if answered is not None else WrongTwoFactorCode()
        )
        await self._check_limits(ctx, user)
        credentials = TotpCredentialRepository(session)
        if code is not None:
            step = self._matching_step(ctx.settings, credential, code)
            if step is None or (
                credential.last_used_step is not None and step <= credential.last_used_step
            ):
                await self._failed(ctx, user, "wrong_code" if step is None else "replayed_code")
                raise wrong
            if not await credentials.accept(user.id, step=step, answered=answered):
                raise InvalidTwoFactorChallenge() if answered is not None else wrong
            return
        digest = recovery_code_digest(ctx.settings, user.id, recovery_code or "")
        if not await RecoveryCodeRepository(session).use(user.id, digest, utcnow()):
            await self._failed(ctx, user, "wrong_recovery_code")
            raise wrong
        if answered is not None and not await credentials.accept(
            user.id, step=None, answered=answered
        ):
            raise InvalidTwoFactorChallenge()
        left = await RecoveryCodeRepository(session).remaining(user.id)
        await notify(session, ctx.settings, user, "recovery_code_used", codes_left=left)
        await audit_service.record(
            session, EventKind.RECOVERY_CODE_USED, ctx.client, user_id=user.id, codes_left=left
        )

    def _matching_step(
        self, settings: Settings, credential: TotpCredential, code: str
    ) -> int | None:
        try:
            secret = unseal(settings, credential.user_id, credential.secret_encrypted)
        except UnreadableSecret:
            logger.error("totp_secret_unreadable", user_id=str(credential.user_id))
            return None
        return matching_step(secret, code, utcnow())

    async def _check_limits(self, ctx: AccountsContext, user: User) -> None:
        await ctx.limiter.check(
            ctx.settings.login_limit_per_ip, LOGIN_IP, ctx.client.ip or "unknown"
        )
        await ctx.limiter.check(ctx.settings.two_factor_limit_per_account, *_account(user))

    async def _failed(self, ctx: AccountsContext, user: User, reason: str) -> None:
        """Count a wrong code against both limits and log it; log a lockout when the account's
        quota is now spent."""
        audit_service.record_anyway(
            ctx, EventKind.TWO_FACTOR_FAILED, user_id=user.id, reason=reason
        )
        await ctx.limiter.hit(ctx.settings.login_limit_per_ip, LOGIN_IP, ctx.client.ip or "unknown")
        state = await ctx.limiter.hit(ctx.settings.two_factor_limit_per_account, *_account(user))
        if state.remaining == 0:
            audit_service.record_anyway(
                ctx,
                EventKind.LOGIN_LOCKED,
                user_id=user.id,
                factor="two_factor",
                retry_after=state.reset_after,
            )

    async def _replace_recovery_codes(
        self, session: AsyncSession, settings: Settings, user: User
    ) -> list[str]:
        codes = new_recovery_codes()
        digests = [recovery_code_digest(settings, user.id, code) for code in codes]
        await RecoveryCodeRepository(session).replace(user.id, digests)
        return codes


def _account(user: User) -> tuple[str, str]:
    """The limiter key of an account's wrong codes."""
    return TWO_FACTOR_ACCOUNT, str(user.id)


two_factor_service = TwoFactorService()
