"""The shortener's HTTP API.

``router`` (under ``/api/v1``): link management at ``/links``. ``redirect_router`` (at the
root, or under ``MAINSPRING_SHORTENER_PREFIX``): ``GET|HEAD /{code}`` follows a link and
``POST /{code}`` answers its password form. Most redirects never reach ``redirect_router``: the
fast path (``redirects.py``) answers plain links from memory first.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Form, Query, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from mainspring.core.auth import CurrentPrincipal, ViewerDep
from mainspring.core.conditional import NOT_MODIFIED, ConditionalDep
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.pagination import PageSliceDep
from mainspring.core.schemas import Page
from mainspring.shortener import qr, schemas
from mainspring.shortener.deps import (
    Code,
    CreationQuota,
    LinkFilterDep,
    PasswordQuota,
    VisitDep,
)
from mainspring.shortener.errors import WrongPassword
from mainspring.shortener.interstitial import interstitial
from mainspring.shortener.runtime import ShortenerDep
from mainspring.shortener.schemas import QrErrorLevel, QrFormat
from mainspring.shortener.service import link_service
from mainspring.shortener.visits import PasswordRequired, Redirect, redirect_service


class CodeRoute(APIRoute):
    """A ``/{code}`` route that never matches a reserved word (every top-level route segment
    is one): ``POST /healthz`` stays the health route's 405, not this route's 422."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            code = str(child.get("path_params", {}).get("code", ""))
            shortener = getattr(scope["app"].state, "shortener", None)
            if shortener is not None and shortener.is_reserved(code.lower()):
                return Match.NONE, {}
        return match, child


router = APIRouter(prefix="/links", tags=["shortener"], route_class=IdempotentRoute)
redirect_router = APIRouter(tags=["shortener: redirects"], route_class=CodeRoute)

CSV_MAX = 1_000_000
QR_CACHE = "public, max-age=86400"
REDIRECT_RESPONSES: dict[int | str, dict[str, object]] = {
    301: {"description": "Moved Permanently (the link's redirect type)."},
    302: {"description": "Found: the default redirect type."},
    307: {"description": "Temporary Redirect."},
    308: {"description": "Permanent Redirect."},
    200: {"description": "The password form (HTML).", "content": {"text/html": {}}},
}


def _host(request: Request) -> str | None:
    return request.url.hostname


@router.post(
    "",
    status_code=201,
    summary="Shorten a URL",
    responses=problem_responses(400, 401, 409, 422, 429, 503),
)
async def create_link(
    payload: schemas.LinkCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    shortener: ShortenerDep,
    viewer: ViewerDep,
    _quota: CreationQuota,
    _idempotency: IdempotencyDep,
) -> schemas.Link:
    """A short link to `url`: under `alias`, or a random base62 code. Anonymous callers may
    create links when the service allows it (they cannot manage them afterwards). The target's
    title is fetched in the background (`preview`). Honours `Idempotency-Key`."""
    view = await link_service.create(
        session, shortener, viewer, payload, request_host=_host(request)
    )
    response.headers["Location"] = f"/api/v1/links/{view.link.code}"
    response.headers["ETag"] = view.etag
    return view.link


@router.get("", summary="My links", responses=problem_responses(401))
async def list_links(
    session: ReadSessionDep,
    shortener: ShortenerDep,
    principal: CurrentPrincipal,
    filters: LinkFilterDep,
    listing: PageSliceDep,
) -> Page[schemas.Link]:
    """The caller's links, newest first by default (or by clicks), searched by `q`, filtered
    by `tag`, by page."""
    items, total = await link_service.page(session, shortener, principal, filters, listing)
    return listing.respond(items, total)


@router.post(
    "/import",
    summary="Create links from a CSV file",
    responses=problem_responses(400, 401, 422, 429),
)
async def import_links(
    body: Annotated[
        str,
        Body(
            media_type="text/csv",
            max_length=CSV_MAX,
            examples=["url,alias,tags\nhttps://example.com/a,launch,news;spring\n"],
        ),
    ],
    request: Request,
    session: SessionDep,
    shortener: ShortenerDep,
    principal: CurrentPrincipal,
    _quota: CreationQuota,
) -> schemas.ImportReport:
    """One link per row of a `text/csv` body: a header line naming the columns (`url`, and
    any of `alias`, `title`, `tags` separated by `;`, `expires_at`, `max_clicks`,
    `redirect_type`, `password`), then the rows. Each row is created or refused on its own;
    the report says which, with the reason."""
    return await link_service.import_csv(
        session, shortener, principal, body, request_host=_host(request)
    )


@router.get(
    "/{code}",
    summary="One of my links",
    response_model=schemas.Link,
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_link(
    code: Code,
    session: ReadSessionDep,
    shortener: ShortenerDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> schemas.Link | Response:
    """The link with its click count, status and preview; `ETag` / `If-None-Match`."""
    view = await link_service.get(session, shortener, principal, code)
    if conditional.fresh(view.etag):
        return conditional.not_modified()
    return view.link


@router.patch(
    "/{code}",
    summary="Change a link",
    responses=problem_responses(400, 401, 404, 412, 422),
)
async def update_link(
    code: Code,
    changes: schemas.LinkUpdate,
    request: Request,
    session: SessionDep,
    shortener: ShortenerDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> schemas.Link:
    """Merge `changes` into the link; every process stops serving the old version at once
    (this one) or within moments (the others, through pub/sub). `If-Match` is honoured."""
    view = await link_service.update(
        session,
        shortener,
        principal,
        code,
        changes,
        if_match=conditional.check,
        request_host=_host(request),
    )
    conditional.stamp(view.etag)
    return view.link


@router.delete(
    "/{code}",
    status_code=204,
    summary="Delete a link",
    responses=problem_responses(401, 404, 412),
)
async def delete_link(
    code: Code,
    session: SessionDep,
    shortener: ShortenerDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> Response:
    """Delete the link and its clicks; its code answers 404 from now on."""
    await link_service.delete(session, shortener, principal, code, if_match=conditional.check)
    return Response(status_code=204)


@router.get(
    "/{code}/stats",
    summary="Click statistics of a link",
    responses=problem_responses(400, 401, 404, 422),
)
async def link_stats(
    code: Code,
    session: ReadSessionDep,
    shortener: ShortenerDep,
    principal: CurrentPrincipal,
    start: Annotated[
        date | None, Query(description="First UTC day (default: 29 days before end).")
    ] = None,
    end: Annotated[date | None, Query(description="Last UTC day (default: today).")] = None,
) -> schemas.Stats:
    """Clicks and unique visitors in the range, by day, with the top referrers, devices and
    browsers."""
    return await link_service.stats(session, shortener, principal, code, start, end)


@router.get(
    "/{code}/qr",
    summary="QR code of a short link",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}, "image/png": {}}, "description": "The QR code."},
        **problem_responses(404),
    },
)
async def link_qr(
    code: Code,
    session: ReadSessionDep,
    shortener: ShortenerDep,
    format: Annotated[QrFormat, Query(description="`svg` or `png`.")] = QrFormat.SVG,
    scale: Annotated[int, Query(ge=1, le=40, description="Pixels per module.")] = 4,
    border: Annotated[int, Query(ge=0, le=16, description="Quiet zone, in modules.")] = 4,
    error: Annotated[
        QrErrorLevel, Query(description="Error correction: L, M, Q or H (most robust).")
    ] = QrErrorLevel.M,
) -> Response:
    """The short URL as a QR code. Public: it encodes nothing the short URL does not."""
    url = await link_service.qr_target(session, shortener, code)
    image = qr.render(url, format, scale=scale, border=border, error=error)
    return Response(image, media_type=qr.MEDIA_TYPES[format], headers={"Cache-Control": QR_CACHE})


# --- redirects ----------------------------------------------------------------------------------


def _answer(result: Redirect | PasswordRequired, request: Request) -> Response:
    if isinstance(result, PasswordRequired):
        return interstitial(request.url.path, head=request.method == "HEAD")
    response = Response(status_code=result.status)
    response.raw_headers = result.headers
    return response


@redirect_router.get(
    "/{code}",
    summary="Follow a short link",
    response_class=Response,
    responses={**REDIRECT_RESPONSES, **problem_responses(404, 410)},
)
async def follow_link(
    code: Code,
    request: Request,
    session: SessionDep,
    shortener: ShortenerDep,
    visit: VisitDep,
) -> Response:
    """Redirect to the link's target with its redirect type, or show the password form.
    404 for an unknown code, 410 for a link expired, disabled or used up. HEAD is answered
    alike and counts no click."""
    result = await redirect_service.follow(session, shortener, code, visit)
    return _answer(result, request)


# HEAD: the same handler, documented as its own operation (the document lists every method the
# path serves, as the 405's Allow header does).
redirect_router.add_api_route(
    "/{code}",
    follow_link,
    methods=["HEAD"],
    summary="Check a short link (no click counted)",
    description="The headers GET would answer (Location, Cache-Control), without a body and "
    "without counting a click.",
    response_class=Response,
    responses={**REDIRECT_RESPONSES, **problem_responses(404, 410)},
)


@redirect_router.post(
    "/{code}",
    summary="Open a password-protected link",
    response_class=Response,
    responses={
        303: {"description": "See Other: the target."},
        403: {"description": "Wrong password: the form again.", "content": {"text/html": {}}},
        **problem_responses(404, 410, 429),
    },
)
async def unlock_link(
    code: Code,
    password: Annotated[str, Form(min_length=1, max_length=128)],
    request: Request,
    session: SessionDep,
    shortener: ShortenerDep,
    visit: VisitDep,
    _quota: PasswordQuota,
) -> Response:
    """The password form's target: 303 to the link's target with the right password, the
    form again (403) with a wrong one. Limited per link and client address."""
    try:
        result = await redirect_service.unlock(session, shortener, code, password, visit)
    except WrongPassword:
        return interstitial(request.url.path, wrong=True)
    return _answer(result, request)
