"""The accounts module's domain errors, each rendered as problem+json with its status and code.

Messages are chosen so that none reveals whether an account exists: a wrong password and an
unknown account are the same ``InvalidCredentials``; an unknown, expired and used link are the
same ``InvalidLink``. Usernames are public (profiles show them), so ``UnknownUser`` and
``UsernameTaken`` say plainly that a username is free or taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mainspring.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Unauthorized,
    UnknownReference,
    UnprocessableEntity,
)


class InvalidCredentials(Unauthorized):
    code, title = "invalid-credentials", "Invalid Credentials"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("The email, username or password is incorrect.", **kwargs)


class InvalidRefreshToken(Unauthorized):
    code, title = "invalid-refresh-token", "Invalid Refresh Token"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("The refresh token is invalid, expired or already used.", **kwargs)


class InvalidGrant(BadRequest):
    """The OAuth 2.0 token endpoint's refusal (RFC 6749 section 5.2): a problem that also
    carries the ``error`` member OAuth clients look for."""

    code, title = "invalid-grant", "Invalid Grant"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="invalid_grant", error_description=detail)


class UnsupportedGrantType(BadRequest):
    code, title = "unsupported-grant-type", "Unsupported Grant Type"

    def __init__(self) -> None:
        detail = "grant_type must be `password` or `refresh_token`."
        super().__init__(detail, error="unsupported_grant_type", error_description=detail)


class InvalidLink(BadRequest):
    code, title = "invalid-link", "Invalid Link"

    def __init__(self) -> None:
        super().__init__("The link is invalid, has expired or was already used; ask for a new one.")


class AccountDisabled(Forbidden):
    code, title = "account-disabled", "Account Disabled"

    def __init__(self) -> None:
        super().__init__("This account is disabled.")


class EmailNotVerified(Forbidden):
    code, title = "email-not-verified", "Email Not Verified"

    def __init__(self) -> None:
        super().__init__("Verify your email address first; ask for a new link if needed.")


class WrongPassword(Forbidden):
    code, title = "wrong-password", "Wrong Password"

    def __init__(self) -> None:
        super().__init__("The password is incorrect.")


class CsrfRejected(Forbidden):
    code, title = "csrf-rejected", "CSRF Check Failed"

    def __init__(self) -> None:
        super().__init__("Refreshing with the cookie needs the X-CSRF-Token header.")


class WeakPassword(UnprocessableEntity):
    """A password the policy refuses: a 422 problem naming the ``password`` field."""

    code, title = "weak-password", "Weak Password"

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(
            f"The password {reason}.",
            errors=[{"field": field, "message": f"The password {reason}.", "type": "weak"}],
        )


class UsernameTaken(Conflict):
    code, title = "username-taken", "Username Taken"

    def __init__(self) -> None:
        super().__init__(
            "This username is taken.",
            errors=[{"field": "body.username", "message": "taken", "type": "unique"}],
        )


class EmailTaken(Conflict):
    """Only where revealing it is acceptable (an administrator, the RealWorld adapter); public
    registration answers the same whether or not the address is known."""

    code, title = "email-taken", "Email Taken"

    def __init__(self) -> None:
        super().__init__(
            "This email address is taken.",
            errors=[{"field": "body.email", "message": "taken", "type": "unique"}],
        )


class UnknownUser(UnknownReference):
    """A username in a request body that names no account (a project member to add, the other
    person of a conversation): the one class every module raises for it (409, see
    ``UnknownReference``)."""

    code, title = "unknown-user", "Unknown User"

    def __init__(self, username: str, field: str = "body.username") -> None:
        super().__init__(field, f"No account has the username {username[:64]!r}.")


class LastAdmin(Conflict):
    code, title = "last-admin", "Last Administrator"

    def __init__(self) -> None:
        super().__init__("The last administrator cannot be demoted, disabled or deleted.")


class InvalidOidcState(BadRequest):
    """A provider's callback whose ``state`` is unknown, used, expired, for another provider or
    from another browser: one answer for all, so a probe learns nothing."""

    code, title = "invalid-oidc-state", "Invalid Sign-In Attempt"

    def __init__(self) -> None:
        super().__init__(
            "The sign-in attempt is unknown, expired, already used, or was started in another "
            "browser; start again."
        )


class InvalidTicket(BadRequest):
    code, title = "invalid-ticket", "Invalid Ticket"

    def __init__(self) -> None:
        super().__init__(
            "The ticket is invalid, expired, already used, or was issued to another browser; "
            "sign in again."
        )


class RedirectNotAllowed(UnprocessableEntity):
    code, title = "redirect-not-allowed", "Redirect Not Allowed"

    def __init__(self) -> None:
        super().__init__(
            "redirect_to is not under an allowed URL (MAINSPRING_OIDC_REDIRECT_ALLOWLIST).",
            errors=[{"field": "body.redirect_to", "message": "not allowed", "type": "allow_list"}],
        )


class LastSignInMethod(Conflict):
    code, title = "last-sign-in-method", "Last Sign-In Method"

    def __init__(self) -> None:
        super().__init__(
            "This is your only way to sign in: set a password (with 'Forgot password') or link "
            "another provider first."
        )


class TwoFactorRequired(Forbidden):
    """The first factor was right, and the account has a second one: no session yet.

    ``mfa_token`` is the single-use, short-lived challenge to send back with a code to
    ``POST /api/v1/auth/login/two-factor``; ``methods`` lists what that code may be.
    """

    code, title = "mfa-required", "Two-Factor Sign-In Required"

    def __init__(self, mfa_token: str, methods: Sequence[str], expires_in: int) -> None:
        super().__init__(
            "Enter a code from your authenticator app (or a recovery code) to finish signing in.",
            mfa_token=mfa_token,
            methods=list(methods),
            expires_in=expires_in,
        )


class InvalidTwoFactorChallenge(Unauthorized):
    code, title = "invalid-mfa-token", "Invalid Two-Factor Challenge"

    def __init__(self) -> None:
        super().__init__(
            "The sign-in challenge is invalid, expired or already used; sign in again."
        )


class InvalidTwoFactorCode(Unauthorized):
    """A wrong code at the second sign-in step (no session: 401, like a wrong password)."""

    code, title = "invalid-two-factor-code", "Invalid Two-Factor Code"

    def __init__(self) -> None:
        super().__init__("The code is incorrect or was already used.")


class WrongTwoFactorCode(Forbidden):
    """A wrong code from a signed-in user confirming a change (403, like ``WrongPassword``: the
    access token is fine, so a client must not take it for a reason to refresh)."""

    code, title = "wrong-two-factor-code", "Wrong Two-Factor Code"

    def __init__(self) -> None:
        super().__init__("The code is incorrect or was already used.")


class TwoFactorAlreadyEnabled(Conflict):
    code, title = "two-factor-enabled", "Two-Factor Sign-In Enabled"

    def __init__(self) -> None:
        super().__init__("Two-factor sign-in is already enabled; disable it first.")


class TwoFactorNotEnabled(Conflict):
    code, title = "two-factor-not-enabled", "Two-Factor Sign-In Not Enabled"

    def __init__(self, detail: str = "Two-factor sign-in is not enabled.") -> None:
        super().__init__(detail)
