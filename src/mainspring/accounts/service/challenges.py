"""The challenge of the second sign-in step: a signed, stateless, single-use token.

``two_factor.py`` explains why the challenge is a token rather than a row. This module makes
and reads it: a JWT signed with HS256 under a key derived for this purpose alone (``totp.py``),
with its own ``typ`` (``mfa+jwt``) and audience, so it never passes for an access token (those
are EdDSA ``at+jwt``) and an access token never passes for it. Its claims:

=======  ================================================================================
``sub``  the user
``amr``  the first factor's methods (RFC 8176), which the session will carry
``exp``  ``iat`` + ``two_factor_challenge_ttl_seconds`` (default 5 minutes)
``jti``  random: two challenges are never the same string
``n``    the credential's ``answered_challenges`` when issued; answering spends it
``bnd``  ``binding``: a digest of when the password changed and when the credential was
         made, so a password reset or a new authenticator kills outstanding challenges
=======  ================================================================================
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from mainspring.accounts.errors import InvalidTwoFactorChallenge
from mainspring.accounts.models import TotpCredential, User
from mainspring.accounts.service.totp import derived_key
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.security import new_token

CHALLENGE_TYPE = "mfa+jwt"
CHALLENGE_AUDIENCE = "mainspring:two-factor-challenge"
CHALLENGE_ALGORITHM = "HS256"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Challenge:
    """What a valid ``mfa_token`` says (see the module docstring)."""

    user_id: uuid.UUID
    methods: tuple[str, ...]
    answered: int
    binding: str

    def is_live_for(self, user: User, credential: TotpCredential) -> bool:
        """Whether no challenge was answered since this one was issued, and the password and
        the credential are the ones it was issued for."""
        return (
            credential.user_id == self.user_id
            and credential.answered_challenges == self.answered
            and binding(user, credential) == self.binding
        )


def _micros(moment: datetime | None) -> str:
    return "-" if moment is None else str((moment - _EPOCH) // timedelta(microseconds=1))


def binding(user: User, credential: TotpCredential) -> str:
    """The digest a challenge carries of the account's state: when the password changed, when
    the credential was made."""
    facts = f"{user.id}|{_micros(user.password_changed_at)}|{_micros(credential.created_at)}"
    return hashlib.sha256(facts.encode()).hexdigest()[:32]


def issue_challenge(
    settings: Settings, user: User, credential: TotpCredential, methods: Sequence[str]
) -> str:
    """A signed challenge for ``user``'s second step, valid for the configured time."""
    now = utcnow()
    claims = {
        "iss": settings.jwt_issuer,
        "aud": CHALLENGE_AUDIENCE,
        "sub": str(user.id),
        "jti": new_token(16),
        "iat": now,
        "exp": now + timedelta(seconds=settings.two_factor_challenge_ttl_seconds),
        "amr": list(methods),
        "n": credential.answered_challenges,
        "bnd": binding(user, credential),
    }
    return jwt.encode(
        claims,
        derived_key(settings, "challenge"),
        algorithm=CHALLENGE_ALGORITHM,
        headers={"typ": CHALLENGE_TYPE},
    )


def read_challenge(settings: Settings, token: str) -> Challenge:
    """The claims of a genuine, unexpired challenge; ``InvalidTwoFactorChallenge`` otherwise."""
    try:
        if jwt.get_unverified_header(token).get("typ") != CHALLENGE_TYPE:
            raise InvalidTwoFactorChallenge()
        claims = jwt.decode(
            token,
            derived_key(settings, "challenge"),
            algorithms=[CHALLENGE_ALGORITHM],
            audience=CHALLENGE_AUDIENCE,
            issuer=settings.jwt_issuer,
            options={"require": ["iss", "aud", "sub", "jti", "iat", "exp", "amr", "n", "bnd"]},
        )
        return Challenge(
            user_id=uuid.UUID(claims["sub"]),
            methods=tuple(str(method) for method in claims["amr"]),
            answered=int(claims["n"]),
            binding=str(claims["bnd"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidTwoFactorChallenge() from exc
