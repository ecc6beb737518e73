"""Every query of the shortener. Reads select the columns their response shows and build the
response schema once per row; a page runs a fixed number of statements whatever its size."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.db import utcnow
from mainspring.core.pagination import PageSlice, offset_page
from mainspring.shortener import schemas
from mainspring.shortener.lookup import Snapshot
from mainspring.shortener.models import Click, Link, LinkTag

TOP_SHARES = 10


@dataclass(frozen=True)
class LinkFilter:
    """An owner's list: search text, a tag, an order."""

    query: str | None = None
    tag: str | None = None
    sort: schemas.LinkSort = schemas.LinkSort.NEWEST


@dataclass(frozen=True)
class OwnedLink:
    """A link's representation with what authorisation and ETags need beside it."""

    id: uuid.UUID
    owner_id: uuid.UUID | None
    version: int
    link: schemas.Link


_COLUMNS = (
    Link.id,
    Link.owner_id,
    Link.version,
    Link.code,
    Link.target_url,
    Link.title,
    Link.redirect_type,
    Link.expires_at,
    Link.max_clicks,
    Link.clicks,
    (Link.password_hash.is_not(None)).label("protected"),
    Link.enabled,
    Link.preview_title,
    Link.preview_status,
    Link.created_at,
    Link.updated_at,
)


def status_of(
    *, enabled: bool, expires_at: datetime | None, max_clicks: int | None, clicks: int
) -> schemas.LinkStatus:
    if not enabled:
        return schemas.LinkStatus.DISABLED
    if expires_at is not None and expires_at <= utcnow():
        return schemas.LinkStatus.EXPIRED
    if max_clicks is not None and clicks >= max_clicks:
        return schemas.LinkStatus.EXHAUSTED
    return schemas.LinkStatus.ACTIVE


def _link(row: Any, tags: list[str], short_base: str) -> schemas.Link:
    return schemas.Link.model_validate(
        {
            "code": row.code,
            "short_url": short_base + row.code,
            "url": row.target_url,
            "title": row.title,
            "tags": tags,
            "redirect_type": row.redirect_type,
            "expires_at": row.expires_at,
            "max_clicks": row.max_clicks,
            "clicks": row.clicks,
            "protected": row.protected,
            "enabled": row.enabled,
            "status": status_of(
                enabled=row.enabled,
                expires_at=row.expires_at,
                max_clicks=row.max_clicks,
                clicks=row.clicks,
            ),
            "preview": {"title": row.preview_title, "status": row.preview_status},
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


class LinkRepository:
    # --- reads ------------------------------------------------------------------------------

    async def snapshot(self, session: AsyncSession, key: str) -> Snapshot | None:
        """What a redirect needs, by code key (one statement)."""
        row = (
            await session.execute(
                select(
                    Link.id,
                    Link.code,
                    Link.target_url,
                    Link.redirect_type,
                    Link.expires_at,
                    Link.max_clicks,
                    (Link.password_hash.is_not(None)).label("protected"),
                    Link.enabled,
                ).where(Link.code_key == key)
            )
        ).one_or_none()
        if row is None:
            return None
        return Snapshot.of(
            id=row.id,
            code=row.code,
            url=row.target_url,
            status=row.redirect_type,
            expires_at=row.expires_at,
            max_clicks=row.max_clicks,
            protected=row.protected,
            enabled=row.enabled,
        )

    async def owned(self, session: AsyncSession, key: str, short_base: str) -> OwnedLink | None:
        """One link's representation (two statements: the link, its tags)."""
        row = (await session.execute(select(*_COLUMNS).where(Link.code_key == key))).one_or_none()
        if row is None:
            return None
        tags = await self._tags(session, [row.id])
        return OwnedLink(row.id, row.owner_id, row.version, _link(row, tags[row.id], short_base))

    async def page(
        self,
        session: AsyncSession,
        owner_id: uuid.UUID,
        filters: LinkFilter,
        listing: PageSlice,
        short_base: str,
    ) -> tuple[list[schemas.Link], int]:
        """An owner's links (three statements: count, page, the page's tags)."""
        stmt: Select[Any] = select(*_COLUMNS).where(Link.owner_id == owner_id)  # type: ignore[assignment]
        if filters.tag:
            stmt = stmt.where(
                exists().where(LinkTag.link_id == Link.id, LinkTag.tag == filters.tag)
            )
        if filters.query:
            pattern = "%" + _escape_like(filters.query.lower()) + "%"
            stmt = stmt.where(
                or_(
                    Link.code_key.like(pattern, escape="\\"),
                    func.lower(Link.title).like(pattern, escape="\\"),
                    func.lower(Link.target_url).like(pattern, escape="\\"),
                )
            )
        column = Link.clicks if filters.sort.value.endswith("clicks") else Link.created_at
        descending = filters.sort.value.startswith("-")
        order = (column.desc(), Link.id.desc()) if descending else (column.asc(), Link.id.asc())
        rows, total = await offset_page(session, stmt.order_by(*order), listing, scalars=False)
        tags = await self._tags(session, [row.id for row in rows])
        return [_link(row, tags[row.id], short_base) for row in rows], total

    async def _tags(
        self, session: AsyncSession, ids: Sequence[uuid.UUID]
    ) -> defaultdict[uuid.UUID, list[str]]:
        tags: defaultdict[uuid.UUID, list[str]] = defaultdict(list)
        if ids:
            rows = await session.execute(
                select(LinkTag.link_id, LinkTag.tag)
                .where(LinkTag.link_id.in_(ids))
                .order_by(LinkTag.link_id, LinkTag.tag)
            )
            for link_id, tag in rows.all():
                tags[link_id].append(tag)
        return tags

    async def key_taken(self, session: AsyncSession, key: str) -> bool:
        return bool(await session.scalar(select(exists().where(Link.code_key == key))))

    async def password_hash(self, session: AsyncSession, key: str) -> str | None:
        hashed: str | None = await session.scalar(
            select(Link.password_hash).where(Link.code_key == key)
        )
        return hashed

    async def stats(
        self, session: AsyncSession, link_id: uuid.UUID, start: date, end: date
    ) -> dict[str, Any]:
        """Clicks of a link between two days, inclusive (four statements on
        ``(link_id, day)``)."""
        in_range = (Click.link_id == link_id, Click.day >= start, Click.day <= end)
        days = (
            await session.execute(
                select(Click.day, func.count(), func.count(func.distinct(Click.visitor)))
                .where(*in_range)
                .group_by(Click.day)
                .order_by(Click.day)
            )
        ).all()

        async def shares(column: Any) -> list[dict[str, Any]]:
            rows = await session.execute(
                select(column, func.count().label("n"))
                .where(*in_range)
                .group_by(column)
                .order_by(func.count().desc(), column)
                .limit(TOP_SHARES)
            )
            return [{"name": name or "direct", "clicks": n} for name, n in rows.all()]

        return {
            "by_day": [{"day": d, "clicks": n, "uniques": u} for d, n, u in days],
            "clicks": sum(n for _, n, _ in days),
            "uniques": sum(u for _, _, u in days),
            "referrers": await shares(Click.referrer_host),
            "devices": await shares(Click.device),
            "browsers": await shares(Click.browser),
        }

    # --- writes -----------------------------------------------------------------------------

    async def for_update(self, session: AsyncSession, key: str) -> Link | None:
        link: Link | None = await session.scalar(select(Link).where(Link.code_key == key))
        return link

    async def add(self, session: AsyncSession, link: Link, tags: Sequence[str]) -> None:
        session.add(link)
        await session.flush()
        await self.set_tags(session, link.id, tags, replace=False)

    async def set_tags(
        self, session: AsyncSession, link_id: uuid.UUID, tags: Sequence[str], *, replace: bool
    ) -> None:
        if replace:
            await session.execute(delete(LinkTag).where(LinkTag.link_id == link_id))
        if tags:
            await session.execute(
                insert(LinkTag), [{"link_id": link_id, "tag": tag} for tag in tags]
            )

    async def remove(self, session: AsyncSession, link: Link) -> None:
        await session.delete(link)
        await session.flush()

    async def consume_click(self, session: AsyncSession, link_id: uuid.UUID) -> bool:
        """Count one redirect of a link with a click limit, if the limit allows it: one
        conditional UPDATE, atomic under concurrency on both databases."""
        result = await session.execute(
            update(Link)
            .where(
                Link.id == link_id,
                Link.max_clicks.is_not(None),
                Link.clicks < Link.max_clicks,
            )
            .values(
                clicks=Link.clicks + 1,
                last_clicked_at=utcnow(),
                updated_at=Link.updated_at,  # a click is no edit
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def clicks_left(self, session: AsyncSession, link_id: uuid.UUID) -> bool:
        return bool(
            await session.scalar(
                select(exists().where(Link.id == link_id, Link.clicks < Link.max_clicks))
            )
        )

    async def set_preview(
        self, session: AsyncSession, link_id: uuid.UUID, title: str | None, status: str
    ) -> None:
        await session.execute(
            update(Link)
            .where(Link.id == link_id)
            .values(preview_title=title, preview_status=status)
            .execution_options(synchronize_session=False)
        )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


link_repository = LinkRepository()
