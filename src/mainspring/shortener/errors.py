"""The shortener's domain errors: each is a kernel error (its HTTP status) with its own code."""

from __future__ import annotations

from mainspring.core.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    UnprocessableEntity,
)


class LinkNotFound(NotFound):
    """No link with this code (or one the caller may not manage)."""

    code, title = "link-not-found", "Link Not Found"


class LinkGone(Gone):
    """The link exists but redirects no more: expired, disabled or used up."""

    code, title = "link-gone", "Link Gone"


class AliasTaken(Conflict):
    code, title = "alias-taken", "Alias Taken"


class AliasReserved(UnprocessableEntity):
    """The alias is a reserved word or the first segment of one of the service's routes."""

    code, title = "alias-reserved", "Alias Reserved"


class TargetRefused(UnprocessableEntity):
    """The target URL is malformed, not http(s), too long, or points where links may not."""

    code, title = "target-refused", "Target Refused"


class AnonymousCreationDisabled(Unauthorized):
    code, title = "sign-in-required", "Sign-In Required"


class NotTheOwner(Forbidden):
    code, title = "not-the-owner", "Not The Owner"


class CodesExhausted(ServiceUnavailable):
    """Random codes kept colliding: the code space of this length is nearly full."""

    code, title = "codes-exhausted", "Codes Exhausted"


class InvalidImport(UnprocessableEntity):
    """The CSV import cannot be read at all (its rows are reported one by one otherwise)."""

    code, title = "invalid-import", "Invalid Import"


class InvalidExpiry(UnprocessableEntity):
    code, title = "invalid-expiry", "Invalid Expiry"


class InvalidRange(UnprocessableEntity):
    code, title = "invalid-range", "Invalid Range"


class WrongPassword(Forbidden):
    code, title = "wrong-password", "Wrong Password"
