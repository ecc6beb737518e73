"""Request and response models of the accounts API.

Requests are ``Input`` models: an unknown field (``role``, ``is_verified``, ``id``...) is refused
with 422, so nothing can be mass-assigned. Responses are built field by field from explicit
schemas: no password hash, token digest or another user's email can leave by accident.

Emails and usernames are normalised here, at the edge: an email is trimmed and lower-cased, a
username keeps its spelling but is compared lower-cased (``User.username_key``).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, StringConstraints

from mainspring.accounts.models import EMAIL_MAX, USERNAME_MAX
from mainspring.core.auth import Role
from mainspring.core.schemas import SPACE, Flag, Input, Schema

PASSWORD_MIN = 8
PASSWORD_MAX = 128  # long passphrases welcome; the bound only caps the hashing work per request
TOKEN_MAX = 128

# Not in an address: a second "@", spaces, control characters, and the characters that make
# a quoted or bracketed form (which a mail header parser would split or refuse). Spaces are
# spelled out (``SPACE``), never ``\s``: the document's ECMA 262, Python's ``re`` and the
# fuzzer (schemathesis reads it as ASCII only) mean different characters by it. Nor U+0130
# (capital I with dot): it is the one character whose lower case is longer (``"\u0130"``
# lower-cased is "i" + U+0307), so an address the pattern allowed could fail it, or outgrow
# ``EMAIL_MAX``, once lower-cased. Without it, lower-casing keeps the length and never makes a
# character the pattern refuses, so the published pattern and ``normalize_email`` accept
# exactly the same strings.
_NOT_IN_EMAIL = rf'@{SPACE}\x00-\x1f\x7f-\x9f\u0130"(),:;<>\[\]\\'
_EMAIL = re.compile(rf"^[^{_NOT_IN_EMAIL}]{{1,64}}@[^{_NOT_IN_EMAIL}.]+(\.[^{_NOT_IN_EMAIL}.]+)+$")
USERNAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}$"


def normalize_email(value: str) -> str:
    """Check an address's shape (``local@domain.tld``) as sent, then trim and lower-case it.

    The shape is checked before lower-casing, as the document's ``pattern`` is: lower-casing
    keeps an address the pattern allows within it (see ``_NOT_IN_EMAIL``). Whether the address
    really exists is proven by the verification mail, not by a regex.
    """
    email = value.strip()
    if not _EMAIL.match(email):
        raise ValueError("not a valid email address")
    return email.lower()


Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=EMAIL_MAX),
    AfterValidator(normalize_email),
    # The shape ``normalize_email`` checks, told to clients too (its message stays the error).
    Field(examples=["ada@example.com"], json_schema_extra={"pattern": _EMAIL.pattern}),
]
Username = Annotated[
    str,
    StringConstraints(pattern=USERNAME_PATTERN, max_length=USERNAME_MAX),
    Field(
        description="3-32 letters, digits, `_`, `.` or `-`; unique whatever the case.",
        examples=["ada_l"],
    ),
]
Password = Annotated[
    str,
    # Never trimmed: every character counts, and nothing is cut off.
    StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, strip_whitespace=False),
    Field(
        description=f"{PASSWORD_MIN}-{PASSWORD_MAX} characters; not a common password, not the "
        "username or email.",
        examples=["correct horse battery staple"],
    ),
]
CurrentPassword = Annotated[
    str,
    StringConstraints(min_length=1, max_length=PASSWORD_MAX, strip_whitespace=False),
    Field(examples=["correct horse battery staple"]),
]
DisplayName = Annotated[
    str, StringConstraints(min_length=1, max_length=100), Field(examples=["Ada Lovelace"])
]
OneTimeToken = Annotated[
    str,
    StringConstraints(min_length=16, max_length=TOKEN_MAX),
    Field(description="The token from the link in the mail."),
]


# --- requests -----------------------------------------------------------------------------------


class RegisterRequest(Input):
    email: Email
    username: Username
    password: Password
    display_name: DisplayName | None = Field(
        None, description="Shown next to your content; defaults to the username."
    )


class LoginRequest(Input):
    identifier: Annotated[
        str,
        StringConstraints(min_length=1, max_length=EMAIL_MAX),
        Field(description="Email address or username.", examples=["ada@example.com"]),
    ]
    password: CurrentPassword
    cookie: Flag = Field(
        False,
        description="Browser clients: receive the refresh token as an HttpOnly cookie (and a "
        "CSRF token) instead of in the body.",
    )


class RefreshRequest(Input):
    refresh_token: Annotated[str, StringConstraints(min_length=16, max_length=TOKEN_MAX)] | None = (
        Field(None, description="Omit to use the refresh cookie (then send `X-CSRF-Token`).")
    )


class TokenForm(Input):
    """The OAuth 2.0 token request (RFC 6749 sections 4.3 and 6), form-encoded: the password
    grant with `username` and `password`, or the refresh-token grant with `refresh_token`.

    The fields stay optional in the model, so a request missing one is refused the OAuth way
    (400 `invalid_grant`, `unsupported_grant_type` for another grant), not with a 422; the
    schema tells clients which fields each grant needs (``oneOf`` on ``grant_type``).
    """

    schema_rules: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {
                "properties": {
                    "grant_type": {"const": "password"},
                    "username": {"minLength": 1},
                },
                "required": ["grant_type", "username", "password"],
            },
            {
                "properties": {
                    "grant_type": {"const": "refresh_token"},
                    "refresh_token": {"minLength": 1},
                },
                "required": ["grant_type", "refresh_token"],
            },
        ]
    }

    grant_type: Annotated[str, StringConstraints(max_length=32)] = Field(
        examples=["password"], description="`password` or `refresh_token`."
    )
    username: Annotated[str, StringConstraints(max_length=EMAIL_MAX)] | None = Field(
        None, description="Email address or username (password grant)."
    )
    password: CurrentPassword | None = None
    refresh_token: Annotated[str, StringConstraints(max_length=TOKEN_MAX)] | None = None
    scope: Annotated[str, StringConstraints(max_length=256)] = Field(
        "", description="Accepted and ignored: access is governed by roles, not scopes."
    )
    client_id: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        None, description="Accepted and ignored: this server has no registered clients."
    )


class EmailRequest(Input):
    email: Email


class TokenRequest(Input):
    token: OneTimeToken


class ResetPasswordRequest(Input):
    token: OneTimeToken
    new_password: Password


class ChangePasswordRequest(Input):
    current_password: CurrentPassword
    new_password: Password


class ChangeEmailRequest(Input):
    new_email: Email
    password: CurrentPassword


class PasswordConfirmation(Input):
    password: CurrentPassword


class ProfileUpdate(Input):
    display_name: DisplayName


class RoleChange(Input):
    role: Role = Field(examples=["moderator"])


# --- responses ----------------------------------------------------------------------------------


class TokenResponse(Schema):
    """OAuth 2.0 token response (RFC 6749 section 5.1)."""

    access_token: str = Field(description="EdDSA-signed JWT for `Authorization: Bearer`.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.", examples=[900])
    refresh_token: str | None = Field(
        None, description="Opaque, single use; null when it was set as a cookie."
    )
    csrf_token: str | None = Field(
        None, description="Cookie clients: send it as `X-CSRF-Token` when refreshing."
    )


class Accepted(Schema):
    """The answer to a request whose outcome is told by mail, never in the response."""

    status: Literal["accepted"] = "accepted"
    detail: str


class Me(Schema):
    """Your own account."""

    id: uuid.UUID
    email: str
    username: str
    display_name: str
    role: Role
    email_verified: bool
    created_at: datetime
    two_factor_enabled: bool = Field(
        description="Whether signing in asks for a code from an authenticator app."
    )


class SessionView(Schema):
    """One of your sessions (a signed-in device)."""

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool = Field(description="The session this request is made from.")


class AdminUser(Schema):
    """A user as administrators see it."""

    id: uuid.UUID
    email: str
    username: str
    display_name: str
    role: Role
    email_verified: bool
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class SecurityEventView(Schema):
    """An entry of the audit log."""

    id: uuid.UUID
    kind: str = Field(examples=["login_succeeded"])
    created_at: datetime
    user_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]


# --- identity providers (OIDC) ------------------------------------------------------------------


class OidcStartForm(Input):
    """What the browser posts to start signing in through a provider (a form: the browser then
    follows the 303 to the provider)."""

    redirect_to: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        description="Your page to come back to, with `?ticket=` (or `?linked=`, `?error=`); "
        "it must be under an entry of MAINSPRING_OIDC_REDIRECT_ALLOWLIST.",
        examples=["https://app.example.com/signed-in"],
    )
    access_token: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = Field(
        None,
        description="To link the provider to your account instead of signing in, when the "
        "`Authorization` header cannot be sent (a form; RFC 6750 section 2.2).",
    )


class OidcExchangeRequest(Input):
    ticket: Annotated[str, StringConstraints(min_length=16, max_length=TOKEN_MAX)] = Field(
        description="The `ticket` the provider's callback put in your page's URL."
    )
    cookie: Flag = Field(
        False, description="As at `/login`: receive the refresh token as an HttpOnly cookie."
    )


class IdentityProviderView(Schema):
    """A provider people can sign in with."""

    name: str = Field(examples=["google"], description="Used in `/auth/oidc/{name}/authorize`.")
    display_name: str = Field(examples=["Google"])


class IdentityView(Schema):
    """One of your accounts at an identity provider, linked to this account."""

    id: uuid.UUID
    provider: str = Field(examples=["google"])
    display_name: str = Field(examples=["Google"])
    email: str | None = Field(description="The address the provider asserted when linked.")
    created_at: datetime
    last_login_at: datetime | None


# --- two-factor sign-in -------------------------------------------------------------------------

TotpCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6}$"),
    Field(description="The 6-digit code your authenticator app shows.", examples=["492039"]),
]
RecoveryCodeText = Annotated[
    str,
    StringConstraints(
        min_length=10, max_length=32, pattern=r"^[0-9A-Za-z](?:[0-9A-Za-z -]*[0-9A-Za-z])?$"
    ),
    Field(
        description="One of your recovery codes; case, spaces and dashes do not matter.",
        examples=["7kq2m-x9d4r"],
    ),
]


class SecondFactor(Input):
    """A proof of the second factor: a `code` from the app, or else a `recovery_code` (exactly
    one of them)."""

    exactly_one_of: ClassVar[tuple[str, ...]] = ("code", "recovery_code")

    code: TotpCode | None = None
    recovery_code: RecoveryCodeText | None = None


class TwoFactorLoginRequest(SecondFactor):
    mfa_token: Annotated[
        str, StringConstraints(min_length=16, max_length=2048, pattern=r"^[A-Za-z0-9_.-]+$")
    ] = Field(description="The `mfa_token` of the `mfa-required` answer to the first step.")
    cookie: Flag = Field(
        False, description="As at `/login`: receive the refresh token as an HttpOnly cookie."
    )


class TwoFactorConfirmRequest(Input):
    code: TotpCode


class TwoFactorDisableRequest(SecondFactor):
    password: CurrentPassword


class TwoFactorEnrolment(Schema):
    """A new authenticator to add to your app; shown once."""

    secret: str = Field(
        description="The shared secret (base32), for typing into the app by hand.",
        examples=["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"],
    )
    provisioning_uri: str = Field(
        description="The `otpauth://` URI the app reads.",
        examples=[
            "otpauth://totp/Mainspring:ada%40example.com"
            "?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Mainspring"
        ],
    )
    qr_code: str = Field(
        description="A QR code of the URI, as an SVG `data:` URI for an `<img src>`.",
        examples=["data:image/svg+xml;charset=utf-8,%3Csvg%20xmlns..."],
    )


class RecoveryCodes(Schema):
    """Single-use codes that stand in for the app when it is lost; shown once."""

    recovery_codes: list[str] = Field(examples=[["7kq2m-x9d4r", "c3vn8-0wtah"]])


class TwoFactorStatusView(Schema):
    """Your second factor."""

    enabled: bool
    pending: bool = Field(description="An enrolment waits for its first code.")
    enabled_at: datetime | None
    recovery_codes_left: int = Field(ge=0, examples=[10])


class TwoFactorAdminView(Schema):
    """A user's second factor as administrators see it: on or off, nothing else."""

    enabled: bool
