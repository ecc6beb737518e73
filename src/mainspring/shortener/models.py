"""The shortener's tables: links, their tags, and their clicks.

- ``short_links``: one row per link. ``code`` is the code as created (shown in short URLs),
  ``code_key`` its lower-case form: the unique key every lookup uses, so codes and aliases are
  unique regardless of case (``/AbC`` and ``/abc`` are one link). ``clicks`` is a counter cache
  of the click rows, advanced by the click flush (and, for links with ``max_clicks``, at the
  redirect itself by a conditional UPDATE). An owner's lists read
  ``(owner_id, created_at, id)`` and ``(owner_id, clicks, id)``.
- ``short_link_tags``: the owner's tags, ``(tag, link_id)`` indexed for the tag filter.
- ``short_link_clicks``: one row per redirect: when (and the UTC ``day``), the referrer's host,
  the browser family and device class, and ``visitor``, an HMAC of address and user agent
  under a salt of the day (never the address itself). Stats read ``(link_id, day)``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mainspring.core.db import Base, IdMixin, TimestampMixin, utcnow

CODE_MIN = 3
CODE_MAX = 64
URL_MAX = 2048
TITLE_MAX = 200
TAG_MAX = 40
TAGS_PER_LINK_MAX = 10
PREVIEW_TITLE_MAX = 300
REFERRER_MAX = 255
REDIRECT_TYPES = (301, 302, 307, 308)


class Link(IdMixin, TimestampMixin, Base):
    """A short link: ``/{code}`` redirects to ``target_url`` while it is active."""

    __tablename__ = "short_links"
    __table_args__ = (
        CheckConstraint("redirect_type IN (301, 302, 307, 308)", name="redirect_type"),
        CheckConstraint("max_clicks IS NULL OR max_clicks >= 1", name="max_clicks"),
        Index("ix_short_links_owner_created", "owner_id", "created_at", "id"),
        Index("ix_short_links_owner_clicks", "owner_id", "clicks", "id"),
    )

    code: Mapped[str] = mapped_column(String(CODE_MAX))
    code_key: Mapped[str] = mapped_column(String(CODE_MAX), unique=True)
    target_url: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    title: Mapped[str | None] = mapped_column(String(TITLE_MAX), default=None)
    redirect_type: Mapped[int] = mapped_column(Integer, default=302)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    max_clicks: Mapped[int | None] = mapped_column(Integer, default=None)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    last_clicked_at: Mapped[datetime | None] = mapped_column(default=None)
    preview_title: Mapped[str | None] = mapped_column(String(PREVIEW_TITLE_MAX), default=None)
    preview_status: Mapped[str] = mapped_column(String(16), default="pending")
    version: Mapped[int] = mapped_column(Integer, default=1)


class LinkTag(Base):
    """One tag of a link (lower case)."""

    __tablename__ = "short_link_tags"
    __table_args__ = (Index("ix_short_link_tags_tag", "tag", "link_id"),)

    link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("short_links.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(TAG_MAX), primary_key=True)


class Click(IdMixin, Base):
    """One redirect served. No address is stored: ``visitor`` is a keyed hash of the day."""

    __tablename__ = "short_link_clicks"
    __table_args__ = (Index("ix_short_link_clicks_link_day", "link_id", "day"),)

    link_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("short_links.id", ondelete="CASCADE"))
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow)
    day: Mapped[date] = mapped_column(Date)
    referrer_host: Mapped[str | None] = mapped_column(String(REFERRER_MAX), default=None)
    browser: Mapped[str] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(16))
    visitor: Mapped[str] = mapped_column(String(32))
