"""Pagination: keyset cursors for feeds and page numbers for catalogues, with ``Link`` headers.

A keyset cursor holds the sort-key values of the last item served, signed with the secret key so
that a client can neither forge nor tamper with it, and encoded as opaque base64url. The next
page is ``WHERE (k1, k2) < (v1, v2) ORDER BY k1 DESC, k2 DESC LIMIT n``: an index range scan
that costs the same on page 1 and on page 10 000, and stays stable while rows are inserted.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import orjson
from fastapi import Depends, Query, Request, Response
from sqlalchemy import Select, and_, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from starlette.datastructures import URL

from mainspring.core.errors import BadRequest
from mainspring.core.schemas import CursorPage, Page

T = TypeVar("T")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


# --- the list dependency ------------------------------------------------------------------------
# A list endpoint declares ``listing: CursorSliceDep`` (``?limit=&cursor=``) or
# ``listing: PageSliceDep`` (``?page=&page_size=``). The handler passes that ONE object to the
# service and the repository, which read ``limit``/``offset`` and call ``keyset_page`` /
# ``offset_page`` with it; the handler answers ``listing.respond(items, next_cursor)`` (or
# ``listing.respond(items, total)``), which builds the envelope and the ``Link`` header. The
# cursor codec lives inside the cursor slice: no other signature carries it.


_ANY_CURSOR_PAGE = CursorPage[Any]
_ANY_PAGE = Page[Any]
"""The envelopes ``respond`` builds, parametrised once: pydantic keeps its parametrised
generics in a weak cache, so ``CursorPage[Any]`` written inline was rebuilt (a whole model
class, about a millisecond) on every list request once the previous one was collected."""


@dataclass(frozen=True)
class _LinkTarget:
    request: Request
    response: Response


@dataclass(frozen=True)
class CursorSlice:
    """A keyset slice: at most ``limit`` items after the (signed, opaque) ``cursor``."""

    limit: int
    cursor: str | None
    codec: CursorCodec = field(repr=False, compare=False)
    links: _LinkTarget | None = field(default=None, repr=False, compare=False)

    def after(self) -> list[Any] | None:
        """The sort-key values the cursor names (400 on a forged or foreign cursor)."""
        if not self.cursor:
            return None
        return self.codec.decode(self.cursor)

    def cursor_for(self, values: Sequence[Any]) -> str:
        return self.codec.encode(values)

    def bound(self, *names: str) -> dict[str, Any]:
        """The slice as bound parameters of a statement built once (docs/architecture.md, "How
        a read path is built"): ``size``, the limit plus one (a row left over means there is a
        next slice), and after a cursor its values under ``names``, the statement's parameters
        for the sort keys in order (400 for a cursor of another list)."""
        parameters: dict[str, Any] = {"size": self.limit + 1}
        after = self.after()
        if after is not None:
            if len(after) != len(names):
                raise BadRequest("The cursor does not belong to this list.")
            parameters.update(zip(names, after, strict=True))
        return parameters

    def respond(self, items: Sequence[T], next_cursor: str | None) -> CursorPage[T]:
        """The envelope ``{"items", "next_cursor"}`` and its ``Link: rel="next"`` header."""
        if self.links is not None:
            set_cursor_links(self.links.request, self.links.response, next_cursor)
        return _ANY_CURSOR_PAGE.model_construct(items=list(items), next_cursor=next_cursor)


@dataclass(frozen=True)
class PageSlice:
    """A numbered page: ``page_size`` items from ``offset``, with the total count."""

    page: int = 1
    page_size: int = DEFAULT_LIMIT
    links: _LinkTarget | None = field(default=None, repr=False, compare=False)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size

    def respond(self, items: Sequence[T], total: int) -> Page[T]:
        """The envelope ``{"items", "total", "page", "page_size"}`` and its ``Link`` header."""
        if self.links is not None:
            set_page_links(self.links.request, self.links.response, self, total)
        return _ANY_PAGE.model_construct(
            items=list(items), total=total, page=self.page, page_size=self.page_size
        )


async def get_cursor_slice(
    request: Request,
    response: Response,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per slice (at most 100).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="The `next_cursor` of the previous slice."),
    ] = None,
) -> CursorSlice:
    codec: CursorCodec = request.app.state.cursor_codec
    return CursorSlice(limit, cursor, codec, _LinkTarget(request, response))


async def get_page_slice(
    request: Request,
    response: Response,
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page (at most 100).")
    ] = DEFAULT_LIMIT,
) -> PageSlice:
    return PageSlice(page, page_size, _LinkTarget(request, response))


CursorSliceDep = Annotated[CursorSlice, Depends(get_cursor_slice)]
"""``?limit=&cursor=``: the slice a keyset list asks for."""
PageSliceDep = Annotated[PageSlice, Depends(get_page_slice)]
"""``?page=&page_size=``: the page a numbered list asks for."""


# --- cursors ------------------------------------------------------------------------------------


class CursorCodec:
    """Signs and verifies opaque cursors (HMAC-SHA256, truncated to 16 bytes)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"mainspring-cursor:" + secret.encode()).digest()

    def encode(self, values: Sequence[Any]) -> str:
        payload = orjson.dumps([_tag(v) for v in values])
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac + payload).rstrip(b"=").decode()

    def decode(self, cursor: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            mac, payload = raw[:16], raw[16:]
            expected = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(mac, expected):
                raise ValueError("bad signature")
            return [_untag(item) for item in orjson.loads(payload)]
        except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
            raise BadRequest("The cursor is invalid; start again without it.") from exc


def _tag(value: Any) -> list[Any]:
    if isinstance(value, datetime):
        return ["dt", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["uuid", str(value)]
    if value is None or isinstance(value, bool | int | float | str):
        return ["v", value]
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def _untag(item: list[Any]) -> Any:
    kind, value = item
    if kind == "dt":
        return datetime.fromisoformat(value)
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "v":
        return value
    raise ValueError(kind)


@dataclass(frozen=True)
class SortKey:
    """A column of a keyset order; the last key must be unique (usually the primary key)."""

    column: InstrumentedAttribute[Any]
    descending: bool = True

    @property
    def name(self) -> str:
        return self.column.key


def _after(keys: Sequence[SortKey], values: Sequence[Any]) -> Any:
    """The WHERE clause selecting rows strictly after ``values`` in the order of ``keys``."""
    if len(values) != len(keys):
        raise BadRequest("The cursor does not belong to this list.")
    if all(k.descending for k in keys) or not any(k.descending for k in keys):
        row = tuple_(*(k.column for k in keys))
        return row < tuple_(*values) if keys[0].descending else row > tuple_(*values)
    # Mixed directions: (a > x) OR (a = x AND b < y) ...
    clauses = []
    for i, key in enumerate(keys):
        equal = [keys[j].column == values[j] for j in range(i)]
        step = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*equal, step))
    return or_(false(), *clauses)


async def keyset_page(
    session: AsyncSession,
    stmt: Select[Any],
    keys: Sequence[SortKey],
    listing: CursorSlice,
    *,
    key_of: Callable[[Any], Sequence[Any]] | None = None,
    scalars: bool = True,
) -> tuple[list[Any], str | None]:
    """Run ``stmt`` ordered by ``keys`` after ``listing.cursor``; return the rows and the next
    cursor.

    ``key_of(row)`` gives a row's sort values; by default they are read as attributes named
    after the sort columns.
    """
    after = listing.after()
    if after is not None:
        stmt = stmt.where(_after(keys, after))
    stmt = stmt.order_by(*(k.column.desc() if k.descending else k.column.asc() for k in keys))
    stmt = stmt.limit(listing.limit + 1)
    result = await session.execute(stmt)
    rows = list(result.scalars().all() if scalars else result.all())
    has_more = len(rows) > listing.limit
    rows = rows[: listing.limit]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        values = key_of(last) if key_of else [getattr(last, k.name) for k in keys]
        next_cursor = listing.cursor_for(values)
    return rows, next_cursor


async def offset_page(
    session: AsyncSession,
    stmt: Select[Any],
    listing: PageSlice,
    *,
    scalars: bool = True,
) -> tuple[list[Any], int]:
    """Run ``stmt`` for one page and count every row matching it, in one statement
    (``with_total``, ``rows_and_total``). ``scalars``: the rows' first column (an ORM entity);
    otherwise the rows, with ``PAGE_TOTAL`` as their last."""
    count = select(func.count()).select_from(stmt.order_by(None).subquery())
    page = with_total(stmt, count).offset(listing.offset).limit(listing.page_size)
    rows, total = await rows_and_total(session, page, count, listing.offset)
    return ([row[0] for row in rows] if scalars else rows), total


PAGE_TOTAL = "page_total_"
"""The label of the count ``with_total`` adds to a page's rows."""


def with_total(page: Select[Any], count: Select[Any]) -> Select[Any]:
    """``page`` with ``count`` (a ``SELECT count(*)`` of every row it pages through) as its last
    column, ``PAGE_TOTAL``: an uncorrelated scalar subquery, which SQLite (``SCALAR SUBQUERY``)
    and PostgreSQL (an ``InitPlan``) evaluate once per statement. A numbered list's page and
    total in one round trip instead of two."""
    return page.add_columns(count.correlate(None).scalar_subquery().label(PAGE_TOTAL))


async def rows_and_total(
    reader: AsyncSession | AsyncConnection,
    page: Select[Any],
    count: Select[Any],
    offset: int,
    parameters: dict[str, Any] | None = None,
) -> tuple[list[Any], int]:
    """Run a ``with_total`` page: its rows and the total they carry. A page without rows runs
    ``count`` alone, past the first page only (to tell "past the end" from "nothing at all")."""
    rows = list((await reader.execute(page, parameters)).all())
    if rows:
        return rows, int(rows[0][-1])
    total = await reader.scalar(count, parameters) if offset else 0
    return [], int(total or 0)


# --- Link headers -------------------------------------------------------------------------------


def set_cursor_links(request: Request, response: Response, next_cursor: str | None) -> None:
    """``Link: <...?cursor=...>; rel="next"`` for a keyset slice."""
    if link := cursor_link(request, next_cursor):
        response.headers["Link"] = link


def cursor_link(request: Request, next_cursor: str | None) -> str | None:
    """The ``Link`` header's value for a keyset slice of ``request`` (None for the last)."""
    if not next_cursor:
        return None
    url = _url_for_more(request, "cursor") + urlencode({"cursor": next_cursor})
    return f'<{url}>; rel="next"'


def set_page_links(request: Request, response: Response, params: PageSlice, total: int) -> None:
    """``first``, ``prev``, ``next`` and ``last`` links for a numbered page: the request's URL
    with its other parameters as sent, then ``page`` and ``page_size``. The query is parsed and
    encoded once for all four (``URL.include_query_params`` parsed it again for each: about
    5 % of the task list's CPU)."""
    last = max(1, -(-total // params.page_size))
    links = {"first": 1, "last": last}
    if params.page > 1:
        links["prev"] = min(params.page - 1, last)
    if params.page < last:
        links["next"] = params.page + 1
    base = _url_for_more(request, "page", "page_size")
    response.headers["Link"] = ", ".join(
        f'<{base}page={page}&page_size={params.page_size}>; rel="{rel}"'
        for rel, page in links.items()
    )


def _url_for_more(request: Request, *replaced: str) -> str:
    """The request's URL without the query parameters ``replaced``, the others as sent, ready
    for more: ``...?a=1&`` or ``...?`` (what ``URL.include_query_params`` gives, parsed once).

    Kept per URL (``_more``): the same lists are asked for again and again, and building the
    request's URL, parsing its query and encoding it again cost more than the rest of the links
    (about 5 % of the task list's CPU)."""
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    server = scope.get("server")
    where = (
        scope.get("scheme", "http"),
        None if server is None else tuple(server),
        scope["path"],
        scope.get("query_string", b""),
        host,
    )
    return _more(where, replaced)


@functools.lru_cache(maxsize=1024)
def _more(where: tuple[Any, ...], replaced: tuple[str, ...]) -> str:
    """``_url_for_more`` of the URL that ``where`` (what Starlette builds a URL from) names."""
    scheme, server, path, query_string, host = where
    headers = [] if host is None else [(b"host", host)]
    scope = {
        "type": "http",
        "scheme": scheme,
        "server": server,
        "path": path,
        "query_string": query_string,
        "headers": headers,
    }
    url = URL(scope=scope)
    kept = urlencode(
        [
            (name, value)
            for name, value in parse_qsl(url.query, keep_blank_values=True)
            if name not in replaced
        ]
    )
    base = str(url.replace(query=""))
    return f"{base}?{kept}&" if kept else f"{base}?"
