"""Passwords: the policy (NIST SP 800-63B, OWASP ASVS V2.1), and how a request hashes and
checks them without holding the database.

**The policy.** Length is what makes a password strong, so the policy asks for at least 8
characters, accepts long passphrases (up to 128: well past the 64 NIST asks to allow) with any
Unicode character, and never truncates. There are no composition rules ("one digit, one
symbol"): they push people to ``Password1!``. Instead a password is refused when it is a known
common password (the 30 000 most frequent passwords of leaked databases, from zxcvbn's frequency
list) or when it is the user's own username or email address.

**No connection held while hashing.** An Argon2id hash or verification takes tens of
milliseconds of CPU (longer in a storm, queued for the hasher's threads). A request that ran
one inside its transaction would hold a pooled connection all that time and, on SQLite, the
write lock (read-write transactions begin ``IMMEDIATE``), so every other write would queue
behind it. The request's session (``core/deps.py``) takes its connection at its first
statement, not when it opens; so every path that hashes or verifies does it *before* its
transaction's first statement:

* a new password (registration, change, reset) is checked against the policy and hashed by
  ``hash_new_password`` first, then written;
* a password to verify (sign-in, and the re-authentication that guards a password or email
  change, an account deletion, a second factor's enrolment or removal) is checked against the
  account as ``read_account`` reads it, in a short read of its own on the primary (a replica
  could still hold a changed password's old hash), by ``verify_password`` once that read has
  ended. The request's transaction then reads the account again to
  write with it, and ``PasswordCheck.holds_for`` accepts it only if the password was right
  *and* the account's hash is still the one it was checked against: a password changed in
  between refuses the request, as a wrong one would.

Uniqueness (a username, an email address) stays with the request's transaction and the
database's unique indexes: what was read before the hash only decides whether to hash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache

from mainspring.accounts.errors import WeakPassword
from mainspring.accounts.models import User
from mainspring.accounts.repository import UserRepository
from mainspring.core.db import Database
from mainspring.core.passwords import PasswordHasher, normalize_password


@cache
def common_passwords() -> frozenset[str]:
    """The common-password list, loaded once on first use (imported here, not at start-up:
    zxcvbn's lists weigh 13 MiB in every worker and are read only when a password is set)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(
    password: str, *, username: str, email: str, field: str = "body.password"
) -> None:
    """Raise ``WeakPassword`` (422, naming ``field``) when the policy refuses ``password``."""
    folded = normalize_password(password).casefold()
    if folded in common_passwords():
        raise WeakPassword("is too common: it appears in lists of leaked passwords", field)
    personal = {username.casefold(), email.casefold(), email.partition("@")[0].casefold()}
    if folded in personal:
        raise WeakPassword("must not be your username or email address", field)


async def hash_new_password(
    hasher: PasswordHasher,
    password: str,
    *,
    username: str,
    email: str,
    field: str = "body.password",
) -> str:
    """The hash of a new ``password`` that the policy accepts (``WeakPassword`` otherwise).

    Call it before the request's transaction runs its first statement (module docstring)."""
    check_password(password, username=username, email=email, field=field)
    return await hasher.hash(password)


AccountFinder = Callable[[UserRepository], Awaitable[User | None]]


async def read_account(database: Database, find: AccountFinder) -> User | None:
    """The account ``find`` looks up, read on a connection of its own on the primary, returned
    to the pool when this returns (the row stays readable, detached)."""
    async with database.read_session(fresh=True) as reader:
        return await find(UserRepository(reader))


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked, with no connection held, against ``account`` as read before."""

    account: User | None
    valid: bool
    upgraded: str | None = None
    """A new hash when the stored one should be upgraded (bcrypt, weaker Argon2id)."""

    def holds_for(self, user: User | None) -> bool:
        """Whether the check stands for ``user`` as the request's transaction reads it: the
        password was right, and the account's hash has not changed since it was read."""
        return (
            self.valid
            and self.account is not None
            and user is not None
            and user.id == self.account.id
            and user.password_hash == self.account.password_hash
        )


async def verify_password(
    hasher: PasswordHasher, account: User | None, password: str
) -> PasswordCheck:
    """Verify ``password`` against the account ``read_account`` gave. No account (or one
    without a password) still runs one verification, against a dummy hash, so that the
    answer takes the same time either way."""
    valid, upgraded = await hasher.verify(password, account.password_hash if account else None)
    return PasswordCheck(account, valid, upgraded)
