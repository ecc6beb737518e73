"""Conditional reads of single resources: ``ETag`` and ``If-None-Match`` (RFC 9110).

A post or a profile is shown differently to each viewer (``liked``, ``following``...), and its
counters move without the resource itself changing, so there is no version column to name it.
Its ``ETag`` is a digest of the representation this viewer receives: a client that sends it
back in ``If-None-Match`` gets ``304 Not Modified`` (no body) while nothing it would see has
changed.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Header, Response
from pydantic import BaseModel

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the `If-None-Match` ETag is still current."}
}

IfNoneMatch = Annotated[
    str | None,
    Header(max_length=1024, description="The `ETag` you hold; 304 when it is still current."),
]


def etag_of(model: BaseModel) -> str:
    """A strong validator of the representation: the digest of its JSON."""
    return '"' + hashlib.sha256(model.model_dump_json().encode()).hexdigest()[:32] + '"'


def conditional(model: BaseModel, response: Response, if_none_match: str | None) -> Response | None:
    """Set the ``ETag`` of ``model``; answer 304 when ``If-None-Match`` names it (None: send
    the model). The representation depends on who asks, so caches must key on the token."""
    etag = etag_of(model)
    response.headers["ETag"] = etag
    response.headers["Vary"] = "Authorization"
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        if "*" in tags or etag in tags:
            return Response(status_code=304, headers={"ETag": etag, "Vary": "Authorization"})
    return None
