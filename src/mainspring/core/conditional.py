"""Conditional requests (RFC 9110 section 13): ``ETag``, ``If-None-Match`` and ``If-Match``.

One helper for every module. A single resource answers with an ``ETag`` that names the state of
what *this* caller sees: the row's ``version`` (or ``updated_at``), plus whatever else changes
the representation without changing the row (a counter, the viewer's own flags). The tag is
*weak* (``W/"..."``): it names a state of the resource, not the bytes of one rendering, which
may change with a new release while the resource does not.

- A read hands the tag to ``Conditional.fresh(etag)``: when the client's ``If-None-Match`` names
  it, the handler answers ``conditional.not_modified()`` (304, no body); otherwise the tag goes
  on the response.
- A write calls ``Conditional.check(etag)`` (or ``check(etag, required=True)`` where a blind
  overwrite must never happen): 412 when ``If-Match`` names another state, 428 when it is
  required and missing.

``If-Match`` is compared on the opaque tag, ``W/`` ignored. RFC 9110 asks for the strong
comparison there, under which a weak tag never matches; our tags name versions of the resource
(never a byte range to splice), so the only thing ``If-Match`` protects is a lost update, and a
version detects that exactly. docs/architecture.md records this choice.

A representation that depends on the caller also says so to caches: ``Vary: Authorization``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Response

from mainspring.core.errors import PreconditionFailed, PreconditionRequired

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the `If-None-Match` ETag is still current."}
}
"""The 304 answer, for a read handler's ``responses=``."""


def make_etag(*parts: object) -> str:
    """A weak ETag of ``parts`` (a version, ``updated_at``, counters, the viewer's flags).

    A lone integer stays readable (``W/"7"``); anything else is digested to 22 characters."""
    if len(parts) == 1 and isinstance(parts[0], int) and not isinstance(parts[0], bool):
        return f'W/"{parts[0]}"'
    state = ":".join(_text(part) for part in parts)
    return 'W/"' + hashlib.blake2b(state.encode(), digest_size=16).hexdigest()[:22] + '"'


def _text(part: object) -> str:
    if isinstance(part, datetime):
        return part.isoformat()
    if isinstance(part, bool):
        return "1" if part else "0"
    return str(part)


def _opaque(tags: str) -> set[str]:
    """The opaque tags of an ``If-(None-)Match`` header, ``W/`` dropped; ``*`` kept."""
    return {tag.strip().removeprefix("W/") for tag in tags.split(",") if tag.strip()}


def matches(header: str | None, etag: str) -> bool:
    """Whether ``header`` (``If-None-Match`` or ``If-Match``) names ``etag``, or is ``*``."""
    if not header:
        return False
    tags = _opaque(header)
    return "*" in tags or etag.removeprefix("W/") in tags


@dataclass
class Conditional:
    """The request's validators and the response they shape; see the module's docstring."""

    if_none_match: str | None
    if_match: str | None
    response: Response
    vary: bool = field(default=True)

    def fresh(self, etag: str) -> bool:
        """Put ``etag`` on the response; True when the client's copy is current (answer 304)."""
        self._stamp(self.response, etag)
        return matches(self.if_none_match, etag)

    def not_modified(self) -> Response:
        """The 304 for a ``fresh`` hit: no body, the same validators."""
        response = Response(status_code=304)
        self._stamp(response, self.response.headers["ETag"])
        return response

    def check(self, etag: str, *, required: bool = False) -> None:
        """Before a write: 412 when ``If-Match`` names another state than ``etag``; 428 when
        ``required`` and the client sent no ``If-Match``."""
        if self.if_match is None:
            if required:
                raise PreconditionRequired(
                    "Send `If-Match` with the ETag you read: this resource is never "
                    "overwritten blindly."
                )
            return
        if not matches(self.if_match, etag):
            raise PreconditionFailed(
                "The resource changed since you read it; read it again and retry."
            )

    def stamp(self, etag: str) -> None:
        """Put the new ``etag`` on the response of a write."""
        self._stamp(self.response, etag)

    def _stamp(self, response: Response, etag: str) -> None:
        response.headers["ETag"] = etag
        if self.vary:
            response.headers["Vary"] = "Authorization"


async def get_conditional(
    response: Response,
    if_none_match: Annotated[
        str | None,
        Header(
            max_length=1024,
            description="The `ETag` you hold: 304 without a body while it is current.",
        ),
    ] = None,
    if_match: Annotated[
        str | None,
        Header(
            max_length=1024,
            description="Change only this state (the `ETag` you read): 412 when it changed.",
        ),
    ] = None,
) -> Conditional:
    return Conditional(if_none_match=if_none_match, if_match=if_match, response=response)


ConditionalDep = Annotated[Conditional, Depends(get_conditional)]
"""``If-None-Match`` / ``If-Match`` of the request, and the response their ``ETag`` goes on."""
