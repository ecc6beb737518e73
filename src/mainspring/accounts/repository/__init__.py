"""Every query of the accounts module, one file per sub-resource.

================  ===============================================================================
``users``         sign-in and registration look-ups; my account and the administrators' reads
``sessions``      sessions and refresh tokens: my devices, rotation, revocation
``tokens``        one-time tokens mailed as links
``audit``         the security event log
``identities``    links to identity providers, and sign-in attempts through them
``two_factor``    authenticators and recovery codes
================  ===============================================================================

Reads select the columns of the response schema and return it (``Me``, ``SessionView``...):
no entity is loaded on a read path. Writes load entities (``by_email``, ``get``...), which the
services change. Two kinds of statement deserve a note:

* *Consuming* a one-time or refresh token is a single conditional ``UPDATE ... WHERE used_at IS
  NULL``. The database decides who wins: of two requests presenting the same token at once,
  exactly one sees its row updated. No read-then-write race is left.
* Revocations ``UPDATE ... RETURNING`` the session ids they ended, so the session-state cache
  can be told about exactly those sessions.
"""

from mainspring.accounts.repository.audit import SecurityEventRepository
from mainspring.accounts.repository.identities import IdentityLinkRepository, OidcLoginRepository
from mainspring.accounts.repository.sessions import RefreshTokenRepository, SessionRepository
from mainspring.accounts.repository.tokens import AccountTokenRepository
from mainspring.accounts.repository.two_factor import (
    RecoveryCodeRepository,
    TotpCredentialRepository,
)
from mainspring.accounts.repository.users import UserRepository

__all__ = [
    "AccountTokenRepository",
    "IdentityLinkRepository",
    "OidcLoginRepository",
    "RecoveryCodeRepository",
    "RefreshTokenRepository",
    "SecurityEventRepository",
    "SessionRepository",
    "TotpCredentialRepository",
    "UserRepository",
]
