"""The shortener's rules: creating, reading, changing and deleting links, their stats and CSV
imports. Services return response schemas and never commit.

Who may manage a link: its owner, and moderators (``content:moderate``), who handle abuse.
Anonymous links (when ``MAINSPRING_SHORTENER_ANONYMOUS_CREATE`` allows them) have no owner:
only moderators manage them. Anyone else gets 404, never 403: codes of other people's links
reveal nothing through the management API.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.auth import Principal, Viewer
from mainspring.core.background import enqueue
from mainspring.core.conditional import make_etag
from mainspring.core.db import utcnow
from mainspring.core.errors import MainspringError
from mainspring.core.pagination import PageSlice
from mainspring.shortener import schemas
from mainspring.shortener.codes import code_key, random_code
from mainspring.shortener.errors import (
    AliasReserved,
    AliasTaken,
    AnonymousCreationDisabled,
    CodesExhausted,
    InvalidExpiry,
    InvalidImport,
    InvalidRange,
    LinkNotFound,
)
from mainspring.shortener.models import Link
from mainspring.shortener.repository import LinkFilter, OwnedLink, link_repository
from mainspring.shortener.runtime import Shortener

FETCH_PREVIEW = "shortener.fetch_preview"
CODE_ATTEMPTS = 6
STATS_DEFAULT_DAYS = 30
STATS_MAX_DAYS = 366
IMPORT_COLUMNS = (
    "url", "alias", "title", "tags", "expires_at", "max_clicks", "redirect_type", "password",
)  # fmt: skip


@dataclass(frozen=True)
class LinkView:
    """A link's representation and its ETag."""

    link: schemas.Link
    etag: str


def link_etag(owned: OwnedLink) -> str:
    """The state the caller sees: the version, plus what changes without an edit (the click
    counter, the preview)."""
    return make_etag(owned.version, owned.link.clicks, owned.link.preview.status)


def _aware(moment: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class LinkService:
    async def create(
        self,
        session: AsyncSession,
        shortener: Shortener,
        viewer: Viewer,
        payload: schemas.LinkCreate,
        *,
        request_host: str | None,
    ) -> LinkView:
        """A new link for ``viewer`` (anonymous when allowed), its preview fetch enqueued."""
        if viewer.anonymous and not shortener.config.anonymous_create:
            raise AnonymousCreationDisabled("Sign in to create links.")
        url = await shortener.policy.vet(payload.url, request_host=request_host)
        expires_at = _aware(payload.expires_at)
        if expires_at is not None and expires_at <= utcnow():
            raise InvalidExpiry("`expires_at` must be in the future.")
        password_hash = None
        if payload.password is not None:
            password_hash = await shortener.hasher.hash(payload.password.get_secret_value())
        fields: dict[str, Any] = {
            "target_url": url,
            "owner_id": viewer.user_id,
            "title": payload.title,
            "redirect_type": payload.redirect_type,
            "expires_at": expires_at,
            "max_clicks": payload.max_clicks,
            "password_hash": password_hash,
            "enabled": payload.enabled,
        }
        key = await self._insert(session, shortener, payload.alias, fields, payload.tags)
        await enqueue(session, FETCH_PREVIEW, {"key": key, "url": url})
        shortener.invalidator.changed_after_commit(session, key)  # a cached "unknown code"
        return await self._view(session, shortener, key)

    async def _insert(
        self,
        session: AsyncSession,
        shortener: Shortener,
        alias: str | None,
        fields: dict[str, Any],
        tags: list[str],
    ) -> str:
        """Insert the link under ``alias``, or under a fresh random code (retried on a
        collision, each attempt in a savepoint); returns its key."""
        for _ in range(1 if alias else CODE_ATTEMPTS):
            code = alias or random_code(shortener.config.code_length)
            key = code_key(code)
            if shortener.is_reserved(key):
                if alias:
                    raise AliasReserved(f"`{alias}` is reserved: choose another alias.")
                continue
            if await link_repository.key_taken(session, key):
                if alias:
                    raise AliasTaken(f"The alias `{alias}` is taken (aliases ignore case).")
                continue
            try:
                async with session.begin_nested():
                    await link_repository.add(
                        session, Link(code=code, code_key=key, **fields), tags
                    )
            except IntegrityError as exc:  # taken between our check and our insert
                if alias:
                    raise AliasTaken(
                        f"The alias `{alias}` is taken (aliases ignore case)."
                    ) from exc
                continue
            return key
        raise CodesExhausted("No free code was found; try again, or choose an alias.")

    async def _view(self, session: AsyncSession, shortener: Shortener, key: str) -> LinkView:
        owned = await link_repository.owned(session, key, shortener.short_base)
        if owned is None:
            raise LinkNotFound()
        return LinkView(owned.link, link_etag(owned))

    async def _managed(
        self, session: AsyncSession, shortener: Shortener, principal: Principal, code: str
    ) -> OwnedLink:
        owned = await link_repository.owned(session, code_key(code), shortener.short_base)
        if owned is None or not _may_manage(principal, owned.owner_id):
            raise LinkNotFound(f"You have no link `{code}`.")
        return owned

    async def get(
        self, session: AsyncSession, shortener: Shortener, principal: Principal, code: str
    ) -> LinkView:
        owned = await self._managed(session, shortener, principal, code)
        return LinkView(owned.link, link_etag(owned))

    async def page(
        self,
        session: AsyncSession,
        shortener: Shortener,
        principal: Principal,
        filters: LinkFilter,
        listing: PageSlice,
    ) -> tuple[list[schemas.Link], int]:
        """The caller's own links."""
        return await link_repository.page(
            session, principal.user_id, filters, listing, shortener.short_base
        )

    async def update(
        self,
        session: AsyncSession,
        shortener: Shortener,
        principal: Principal,
        code: str,
        changes: schemas.LinkUpdate,
        *,
        if_match: Any,
        request_host: str | None,
    ) -> LinkView:
        """Apply ``changes`` (merge semantics); ``if_match(etag)`` guards against lost
        updates. The link's caches are invalidated once the change commits."""
        owned = await self._managed(session, shortener, principal, code)
        if_match(link_etag(owned))
        link = await link_repository.for_update(session, code_key(code))
        if link is None:
            raise LinkNotFound()
        given = changes.model_fields_set
        if "url" in given and changes.url is not None:
            url = await shortener.policy.vet(changes.url, request_host=request_host)
            if url != link.target_url:
                link.target_url = url
                link.preview_title, link.preview_status = None, "pending"
                await enqueue(session, FETCH_PREVIEW, {"key": link.code_key, "url": url})
        if "title" in given:
            link.title = changes.title
        if "expires_at" in given:
            link.expires_at = _aware(changes.expires_at)
        if "max_clicks" in given:
            link.max_clicks = changes.max_clicks
        if "redirect_type" in given and changes.redirect_type is not None:
            link.redirect_type = changes.redirect_type
        if "enabled" in given and changes.enabled is not None:
            link.enabled = changes.enabled
        if "password" in given:
            secret = changes.password
            link.password_hash = (
                await shortener.hasher.hash(secret.get_secret_value()) if secret else None
            )
        if "tags" in given and changes.tags is not None:
            await link_repository.set_tags(session, link.id, changes.tags, replace=True)
        link.version += 1
        link.updated_at = utcnow()
        await session.flush()
        shortener.invalidator.changed_after_commit(session, link.code_key)
        return await self._view(session, shortener, link.code_key)

    async def delete(
        self,
        session: AsyncSession,
        shortener: Shortener,
        principal: Principal,
        code: str,
        *,
        if_match: Any,
    ) -> None:
        owned = await self._managed(session, shortener, principal, code)
        if_match(link_etag(owned))
        link = await link_repository.for_update(session, code_key(code))
        if link is not None:
            await link_repository.remove(session, link)
        shortener.invalidator.changed_after_commit(session, code_key(code))

    async def stats(
        self,
        session: AsyncSession,
        shortener: Shortener,
        principal: Principal,
        code: str,
        start: date | None,
        end: date | None,
    ) -> schemas.Stats:
        """Clicks between ``start`` and ``end`` (UTC days, inclusive; the last 30 days by
        default). Clicks still in a process's buffer (at most a second or so) are not in yet."""
        owned = await self._managed(session, shortener, principal, code)
        end = end or utcnow().date()
        start = start or end - timedelta(days=STATS_DEFAULT_DAYS - 1)
        if start > end:
            raise InvalidRange("`start` is after `end`.")
        if (end - start).days >= STATS_MAX_DAYS:
            raise InvalidRange(f"A range spans at most {STATS_MAX_DAYS} days.")
        figures = await link_repository.stats(session, owned.id, start, end)
        return schemas.Stats.model_validate(
            {
                "code": owned.link.code,
                "start": start,
                "end": end,
                "total_clicks": owned.link.clicks,
                **figures,
            }
        )

    async def qr_target(self, session: AsyncSession, shortener: Shortener, code: str) -> str:
        """The short URL a QR code encodes (404 for an unknown code)."""
        if not await link_repository.key_taken(session, code_key(code)):
            raise LinkNotFound()
        return shortener.short_url(code)

    async def import_csv(
        self,
        session: AsyncSession,
        shortener: Shortener,
        principal: Principal,
        text: str,
        *,
        request_host: str | None,
    ) -> schemas.ImportReport:
        """One link per CSV row, each in its own savepoint: a bad row is reported and the
        others are created. Columns: ``url`` (required), then any of ``alias``, ``title``,
        ``tags`` (separated by ``;``), ``expires_at``, ``max_clicks``, ``redirect_type``,
        ``password``."""
        if "\x00" in text:
            raise InvalidImport("The file holds NUL characters: it is not a CSV text file.")
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        try:
            columns = [name.strip().lower() for name in reader.fieldnames or []]
        except csv.Error as exc:
            raise InvalidImport(f"The file is not valid CSV: {exc}.") from exc
        if "url" not in columns or not set(columns) <= set(IMPORT_COLUMNS):
            raise InvalidImport(
                f"The first line names the columns: `url` and any of {', '.join(IMPORT_COLUMNS)}."
            )
        reader.fieldnames = columns
        viewer = Viewer(principal)
        rows: list[schemas.ImportRow] = []
        records = iter(enumerate(reader, start=2))
        while True:
            try:
                number, record = next(records)
            except StopIteration:
                break
            except csv.Error as exc:
                raise InvalidImport(f"The file is not valid CSV: {exc}.") from exc
            if len(rows) >= shortener.config.bulk_max_rows:
                raise InvalidImport(f"At most {shortener.config.bulk_max_rows} rows per import.")
            rows.append(
                await self._import_row(session, shortener, viewer, number, record, request_host)
            )
        created = sum(row.ok for row in rows)
        return schemas.ImportReport(created=created, failed=len(rows) - created, rows=rows)

    async def _import_row(
        self,
        session: AsyncSession,
        shortener: Shortener,
        viewer: Viewer,
        number: int,
        record: dict[str, Any],
        request_host: str | None,
    ) -> schemas.ImportRow:
        values: dict[str, Any] = {
            name: value.strip()
            for name, value in record.items()
            if isinstance(name, str) and isinstance(value, str) and value.strip()
        }
        if None in record:
            return schemas.ImportRow(row=number, ok=False, error="More cells than columns.")
        if "tags" in values:
            values["tags"] = [tag for tag in values["tags"].split(";") if tag.strip()]
        for name in ("max_clicks", "redirect_type"):  # CSV cells are text; JSON would be numbers
            if values.get(name, "").isdigit():
                values[name] = int(values[name])
        try:
            payload = schemas.LinkCreate.model_validate(values)
            async with session.begin_nested():
                view = await self.create(
                    session, shortener, viewer, payload, request_host=request_host
                )
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            return schemas.ImportRow(row=number, ok=False, error=f"{field}: {first['msg']}")
        except MainspringError as exc:
            return schemas.ImportRow(row=number, ok=False, error=exc.detail or exc.title)
        return schemas.ImportRow(
            row=number, ok=True, code=view.link.code, short_url=view.link.short_url
        )

    async def record_preview(
        self, session: AsyncSession, key: str, url: str, title: str | None, status: str
    ) -> None:
        """Store a fetched title, unless the link changed target (or went) meanwhile."""
        link = await link_repository.for_update(session, key)
        if link is not None and link.target_url == url:
            await link_repository.set_preview(session, link.id, title, status)


def _may_manage(principal: Principal, owner_id: uuid.UUID | None) -> bool:
    return owner_id == principal.user_id or principal.can("content:moderate")


link_service = LinkService()
