"""The accounts module's domain errors, each rendered as problem+json with its status and code.

Messages are chosen so that none reveals whether an account exists: a wrong password and an
unknown account are the same ``InvalidCredentials``; an unknown, expired and used link are the
same ``InvalidLink``.
"""

from __future__ import annotations

from typing import Any

from mainspring.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Unauthorized,
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


class LastAdmin(Conflict):
    code, title = "last-admin", "Last Administrator"

    def __init__(self) -> None:
        super().__init__("The last administrator cannot be demoted, disabled or deleted.")
