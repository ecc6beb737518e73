"""The password policy (NIST SP 800-63B, OWASP ASVS V2.1).

Length is what makes a password strong, so the policy asks for at least 8 characters, accepts
long passphrases (up to 128: well past the 64 NIST asks to allow) with any Unicode character,
and never truncates. There are no composition rules ("one digit, one symbol"): they push people
to ``Password1!``. Instead a password is refused when it is a known common password (the 30 000
most frequent passwords of leaked databases, from zxcvbn's frequency list) or when it is the
user's own username or email address.
"""

from __future__ import annotations

from functools import cache

from mainspring.accounts.errors import WeakPassword
from mainspring.core.passwords import normalize_password


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
