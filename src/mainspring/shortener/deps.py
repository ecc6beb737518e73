"""Request dependencies of the shortener: the list filter, the creation quota, the password
quota, and who follows a link."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response

from mainspring.core.auth import OptionalPrincipal
from mainspring.core.ratelimit import RateLimitState, client_ip, get_ratelimiter
from mainspring.shortener.codes import CODE_PATTERN
from mainspring.shortener.models import CODE_MAX, CODE_MIN, TAG_MAX
from mainspring.shortener.repository import LinkFilter
from mainspring.shortener.runtime import ShortenerDep
from mainspring.shortener.schemas import PRINTABLE, LinkSort
from mainspring.shortener.visits import Visit

Code = Annotated[
    str,
    Path(
        min_length=CODE_MIN,
        max_length=CODE_MAX,
        pattern=CODE_PATTERN,
        description="The link's code or alias (case does not matter).",
        examples=["spring-sale"],
    ),
]


def link_filter(
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=PRINTABLE,
            description="Text in the code, title or target URL.",
            examples=["sale"],
        ),
    ] = None,
    tag: Annotated[
        str | None,
        Query(
            min_length=1, max_length=TAG_MAX, pattern=PRINTABLE, description="Only with this tag."
        ),
    ] = None,
    sort: Annotated[LinkSort, Query(description="Order of the list.")] = LinkSort.NEWEST,
) -> LinkFilter:
    return LinkFilter(query=q, tag=tag.strip().lower() if tag else None, sort=sort)


LinkFilterDep = Annotated[LinkFilter, Depends(link_filter)]


async def creation_quota(
    request: Request,
    response: Response,
    shortener: ShortenerDep,
    principal: OptionalPrincipal,
) -> RateLimitState:
    """``MAINSPRING_SHORTENER_CREATE_LIMIT`` per user (per address for anonymous callers):
    a link, or a CSV import, is one hit."""
    who = ("user", str(principal.user_id)) if principal else ("ip", client_ip(request))
    limiter = await get_ratelimiter(request)
    state = await limiter.hit(
        shortener.config.create_limit, "shortener.create", *who, security=False
    )
    response.headers.update(state.headers())
    return state


CreationQuota = Annotated[RateLimitState, Depends(creation_quota)]


async def password_quota(
    request: Request, response: Response, shortener: ShortenerDep, code: Code
) -> RateLimitState:
    """``MAINSPRING_SHORTENER_PASSWORD_LIMIT`` attempts per link and client address; kept
    during a Redis outage (a brute-force guard)."""
    limiter = await get_ratelimiter(request)
    state = await limiter.hit(
        shortener.config.password_limit, "shortener.password", code.lower(), client_ip(request)
    )
    response.headers.update(state.headers())
    return state


PasswordQuota = Annotated[RateLimitState, Depends(password_quota)]


def visit(request: Request) -> Visit:
    headers = request.headers
    return Visit(
        method=request.method,
        address=client_ip(request),
        user_agent=headers.get("user-agent", ""),
        referrer=headers.get("referer", ""),
    )


VisitDep = Annotated[Visit, Depends(visit)]
