"""The accounts suite's helpers: an authenticator app for two-factor tests.

Users for tests (``SignedInUser``, ``signed_in_user``...) live in ``tests/fixtures/users.py``,
shared by every module's tests; they are re-exported here for the accounts suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pyotp

from tests.fixtures.users import (
    PASSWORD,
    SignedInUser,
    create_user,
    sign_in,
    signed_in_user,
    unique_name,
)

__all__ = [
    "PASSWORD",
    "Authenticator",
    "SignedInUser",
    "create_user",
    "enable_two_factor",
    "sign_in",
    "signed_in_user",
    "unique_name",
]


@dataclass
class Authenticator:
    """A user's authenticator app: real TOTP codes from the provisioning URI the API gave.

    The server accepts a code once, and only for the current 30-second step or one either
    side, so ``fresh_code`` hands out the current step's code, then the next step's: two codes
    per step, which is all a test needs (use a recovery code for more).
    """

    totp: pyotp.TOTP
    recovery_codes: list[str] = field(default_factory=list)
    last_step: int | None = None

    def fresh_code(self) -> str:
        current = self.totp.timecode(datetime.now(UTC))
        step = current if self.last_step is None else max(current, self.last_step + 1)
        assert step <= current + 1, "a test may use two codes per 30-second step"
        self.last_step = step
        return self.totp.generate_otp(step)

    def wrong_code(self) -> str:
        """A code the server cannot accept now (none of the steps it would look at)."""
        current = self.totp.timecode(datetime.now(UTC))
        valid = {self.totp.generate_otp(step) for step in range(current - 2, current + 3)}
        return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)


async def enable_two_factor(client: httpx.AsyncClient, user: SignedInUser) -> Authenticator:
    """Enrol and confirm an authenticator for the signed-in ``user`` through the API."""
    enrolment = await client.post(
        "/api/v1/users/me/two-factor/enrolment",
        json={"password": user.password},
        headers=user.headers,
    )
    assert enrolment.status_code == 201, enrolment.text
    totp = pyotp.parse_uri(enrolment.json()["provisioning_uri"])
    assert isinstance(totp, pyotp.TOTP)
    app = Authenticator(totp)
    confirmed = await client.post(
        "/api/v1/users/me/two-factor/confirm", json={"code": app.fresh_code()}, headers=user.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    app.recovery_codes = confirmed.json()["recovery_codes"]
    return app
