"""The accounts tables: users, their sessions and refresh tokens, one-time tokens, security events,
second factors (TOTP and recovery codes) and sign-in through identity providers (OIDC).

Secrets are never stored: a password is kept as its Argon2id hash, and every token (refresh,
verification, reset, email change) as the SHA-256 digest of a 256-bit random value.

A *session* is one sign-in on one device. It is the family of the refresh tokens issued to it:
each refresh uses a token up and issues its successor, and presenting a used token again revokes
the whole session. Access tokens carry the session id (``sid``), so revoking the session ends
them too.

Other modules reference ``users.id`` in their foreign keys and may join ``User`` for display
fields (``username``, ``display_name``). A deleted account is anonymised, not removed, so those
references stay valid (see ``service/profile.py``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mainspring.core.auth import Role
from mainspring.core.db import Base, IdMixin, TimestampMixin, utcnow

EMAIL_MAX = 254
USERNAME_MAX = 32
DIGEST_LENGTH = 64  # SHA-256, hex


class User(IdMixin, TimestampMixin, Base):
    """An account. ``email`` and ``username_key`` are stored normalised and are unique.

    ``username`` keeps the spelling the user chose; ``username_key`` is its lower-case form, so
    ``Alice`` and ``alice`` cannot both exist. ``password_hash`` is null for an account that
    signs in only through an identity provider (and for a deleted one).
    """

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_role_created_at", "role", "created_at"),)

    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX))
    username_key: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    role: Mapped[str] = mapped_column(String(16), default=Role.USER.value)
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True, sort_order=90)

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def is_active(self) -> bool:
        """Whether the account may sign in and act: neither disabled nor deleted."""
        return self.disabled_at is None and self.deleted_at is None


class AuthSession(IdMixin, Base):
    """One sign-in on one device: the ``sid`` of its access tokens, the family of its refresh
    tokens. It ends when revoked, after ``expires_at`` (absolute lifetime), or when unused for
    longer than the idle lifetime since ``last_used_at``."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    methods: Mapped[str] = mapped_column(
        String(64), default="pwd", doc="How the user signed in (RFC 8176 `amr`, space-separated)."
    )
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), default=None)


class RefreshToken(IdMixin, Base):
    """A refresh token of a session, by digest. ``used_at`` is set once, when it is exchanged."""

    __tablename__ = "auth_refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class AccountToken(IdMixin, Base):
    """A single-use, expiring token mailed to ``email``: proof that whoever holds it reads that
    mailbox. ``purpose`` says what it may do: ``verify`` the account's address, ``reset`` the
    password, or ``email`` (make ``email`` the account's new address)."""

    __tablename__ = "account_tokens"
    __table_args__ = (Index("ix_account_tokens_user_id_purpose", "user_id", "purpose"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class SecurityEvent(IdMixin, Base):
    """The audit log: who did what to which account, from where. Never a secret or a token.

    ``user_id`` is the account concerned (null for a failed login on an unknown identifier),
    ``actor_id`` who acted when it is someone else (an admin changing a role).
    """

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_security_events_kind_created_at", "kind", "created_at"),
    )

    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class TotpCredential(Base):
    """A user's authenticator app (RFC 6238 TOTP): at most one per account.

    The shared secret must be readable to check codes, so it cannot be hashed: it is stored
    encrypted (``secret_encrypted``, AES-GCM under a key derived from the secret key), so a
    leaked table or backup alone does not let anyone compute codes. The credential is
    *pending* until ``confirmed_at`` is set by a first valid code, and only a confirmed one is
    asked for at sign-in. ``last_used_step`` is the time step of the last accepted code: a code
    is accepted once, never replayed within its window. ``answered_challenges`` counts the
    sign-in challenges answered: a challenge carries the count it was issued at and is good only
    while the count is unchanged, so answering one spends it (see ``service/two_factor.py``).
    """

    __tablename__ = "totp_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(String(255))
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_step: Mapped[int | None] = mapped_column(default=None)
    answered_challenges: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecoveryCode(IdMixin, Base):
    """One of the single-use codes that stand in for the authenticator when it is lost.

    Stored as a keyed digest (HMAC-SHA-256 under the secret key): the code is random but short
    enough to type, so a plain digest of a leaked row could be reversed by trying them all.
    """

    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class IdentityLink(IdMixin, Base):
    """An account at an identity provider (``provider`` + its ``subject``) that signs in as
    ``user_id``. The pair is unique, and an account has at most one link per provider.
    ``email`` is what the provider asserted when the link was made (for the user's own view)."""

    __tablename__ = "identity_links"
    __table_args__ = (
        UniqueConstraint("provider", "subject"),
        UniqueConstraint("user_id", "provider"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class OidcLogin(IdMixin, Base):
    """One sign-in through an identity provider, from the POST that starts it to the exchange of
    its one-time ticket for tokens.

    * started: ``state_hash`` (digest of the ``state`` sent to the provider), ``browser_hash``
      (digest of the HttpOnly cookie set on the browser that started it: a callback from any
      other browser is refused), the ``nonce`` the ID token must carry, the PKCE
      ``code_verifier``, the allow-listed ``redirect_to``, and ``link_user_id`` when a signed-in
      user is linking a provider to their account;
    * completed: the callback checked everything and resolved ``user_id``; the browser is sent
      to ``redirect_to`` with a one-time ticket (``ticket_hash``);
    * exchanged: the front end traded the ticket for tokens (``exchanged_at``). Each step
      happens once, and the whole row expires at ``expires_at``.
    """

    __tablename__ = "oidc_logins"

    provider: Mapped[str] = mapped_column(String(32))
    state_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_to: Mapped[str] = mapped_column(String(2048))
    link_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    ticket_hash: Mapped[str | None] = mapped_column(
        String(DIGEST_LENGTH), unique=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    exchanged_at: Mapped[datetime | None] = mapped_column(default=None)


__all__ = [
    "AccountToken",
    "AuthSession",
    "IdentityLink",
    "OidcLogin",
    "RecoveryCode",
    "RefreshToken",
    "SecurityEvent",
    "TotpCredential",
    "User",
]
