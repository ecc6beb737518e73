"""The shortener's domain errors: each is a kernel error (its HTTP status) with its own code.

A request that breaks the published schema is refused with 422 by validation, before any of
these; what the schema cannot judge (where a URL points, whether an alias is a reserved word,
whether a time has passed, what an uploaded file holds) is refused here with 400, 403, 404,
409 or 410, never 422 (docs/architecture.md, "How the OpenAPI document is kept honest")."""

from __future__ import annotations

from mainspring.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)


class LinkNotFound(NotFound):
    """No link with this code (or one the caller may not manage)."""

    code, title = "link-not-found", "Link Not Found"


class LinkGone(Gone):
    """The link exists but redirects no more: expired, disabled or used up."""

    code, title = "link-gone", "Link Gone"


class AliasTaken(Conflict):
    code, title = "alias-taken", "Alias Taken"


class AliasReserved(Conflict):
    """The alias is a reserved word or the first segment of one of the service's routes: taken
    by the service itself, as ``AliasTaken`` is by another link."""

    code, title = "alias-reserved", "Alias Reserved"


class TargetRefused(BadRequest):
    """The target URL has the published shape (``http(s)://host...``) but cannot be a target:
    it points where links may not (a private, loopback, link-local or metadata address, an
    intranet name, a blocked domain, this service's own host), or it does not parse (a bad
    port, host name or IPv6 address), or it is longer than 2 048 characters once normalised."""

    code, title = "target-refused", "Target Refused"


class AnonymousCreationDisabled(Unauthorized):
    code, title = "sign-in-required", "Sign-In Required"


class NotTheOwner(Forbidden):
    code, title = "not-the-owner", "Not The Owner"


class CodesExhausted(ServiceUnavailable):
    """Random codes kept colliding: the code space of this length is nearly full."""

    code, title = "codes-exhausted", "Codes Exhausted"


class InvalidImport(BadRequest):
    """The CSV import cannot be read at all (its rows are reported one by one otherwise)."""

    code, title = "invalid-import", "Invalid Import"


class InvalidExpiry(BadRequest):
    """An ``expires_at`` that has already passed."""

    code, title = "invalid-expiry", "Invalid Expiry"


class InvalidRange(BadRequest):
    """A statistics range that ends before it starts, or spans too many days."""

    code, title = "invalid-range", "Invalid Range"


class WrongPassword(Forbidden):
    code, title = "wrong-password", "Wrong Password"
