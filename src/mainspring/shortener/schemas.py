"""Request and response models of the shortener: the response schemas are the read model."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from mainspring.core.schemas import SPACE, DateTime, Flag, Input, Integer, Schema
from mainspring.shortener.codes import CODE_PATTERN
from mainspring.shortener.models import (
    CODE_MAX,
    CODE_MIN,
    PREVIEW_TITLE_MAX,
    TAG_MAX,
    TAGS_PER_LINK_MAX,
    TITLE_MAX,
    URL_MAX,
)

RedirectType = Literal[301, 302, 307, 308]
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""Text without control characters (PostgreSQL refuses NUL in text; none belongs in a title)."""
URL_PATTERN = (
    rf"^[{SPACE}]*[Hh][Tt][Tt][Pp][Ss]?://[^{SPACE}\x00-\x1f\x7f/?#@\\]+"
    rf"(?:[/?#][^\x00-\x1f\x7f]*)?[{SPACE}]*$"
)
"""The shape of a target URL, published so that a client knows it before it asks: ``http``
or ``https`` (any case), ``://``, an authority without credentials (no ``@``), then a path,
query or fragment; no control characters; the spaces around it are stripped. What the shape
cannot say (a host that is no domain name, a bad port, a private or blocked destination) is
refused by ``targets.py`` with a 400 ``target-refused`` problem."""
URL_DESCRIPTION = (
    "The target: http or https, at most 2 048 characters once normalised. A schema-valid URL "
    "that points where links may not (a private, loopback, link-local or metadata address, an "
    "intranet name, a blocked domain, this service) or that does not parse is refused with "
    "400 `target-refused`."
)
PASSWORD_MIN = 4
PASSWORD_MAX = 128


def _tags(tags: list[str]) -> list[str]:
    """Lower case, trimmed, duplicates dropped (first kept), in the order given."""
    return list(dict.fromkeys(tag.strip().lower() for tag in tags))


Tag = Annotated[str, Field(min_length=1, max_length=TAG_MAX, pattern=r"^[A-Za-z0-9 _.-]+$")]
Tags = Annotated[
    list[Tag], Field(max_length=TAGS_PER_LINK_MAX, examples=[["launch", "newsletter"]])
]


class LinkStatus(StrEnum):
    """Whether the link redirects now, and if not, why."""

    ACTIVE = "active"
    EXPIRED = "expired"
    DISABLED = "disabled"
    EXHAUSTED = "exhausted"


class LinkCreate(Input):
    url: str = Field(
        max_length=URL_MAX,
        pattern=URL_PATTERN,
        description=URL_DESCRIPTION,
        examples=["https://example.com/spring/sale?utm_source=newsletter"],
    )
    alias: str | None = Field(
        None,
        min_length=CODE_MIN,
        max_length=CODE_MAX,
        pattern=CODE_PATTERN,
        description="A custom code (3-64 of A-Z a-z 0-9 _ -), unique regardless of case; "
        "a random base62 code when absent.",
        examples=["spring-sale"],
    )
    title: str | None = Field(
        None, max_length=TITLE_MAX, pattern=PRINTABLE, examples=["Spring sale"]
    )
    tags: Annotated[Tags, AfterValidator(_tags)] = Field(default_factory=list)
    expires_at: DateTime | None = Field(
        None, description="After this instant the link answers 410.", examples=[None]
    )
    max_clicks: Integer | None = Field(
        None, ge=1, le=1_000_000_000, description="Redirects allowed; then 410.", examples=[None]
    )
    redirect_type: RedirectType = Field(302, description="The redirect's status code.")
    password: SecretStr | None = Field(
        None,
        min_length=PASSWORD_MIN,
        max_length=PASSWORD_MAX,
        description="Visitors type it in an interstitial form first (stored hashed).",
    )
    enabled: Flag = True


class LinkUpdate(Input):
    """Merge semantics: absent fields stay; `null` clears `title`, `expires_at`, `max_clicks`
    and `password`."""

    url: str | None = Field(
        None, max_length=URL_MAX, pattern=URL_PATTERN, description=URL_DESCRIPTION
    )
    title: str | None = Field(None, max_length=TITLE_MAX, pattern=PRINTABLE)
    tags: Annotated[Tags, AfterValidator(_tags)] | None = None
    expires_at: DateTime | None = None
    max_clicks: Integer | None = Field(None, ge=1, le=1_000_000_000)
    redirect_type: RedirectType | None = None
    password: SecretStr | None = Field(None, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    enabled: Flag | None = None


class Preview(Schema):
    title: str | None = Field(None, max_length=PREVIEW_TITLE_MAX, examples=["Spring sale"])
    status: Literal["pending", "ok", "failed", "refused", "none"] = Field(
        description="`pending` until fetched; `none`: the target has no HTML title; "
        "`refused`: the SSRF guard refused a hop."
    )


class Link(Schema):
    code: str = Field(examples=["spring-sale"])
    short_url: str = Field(examples=["http://127.0.0.1:8000/spring-sale"])
    url: str = Field(examples=["https://example.com/spring/sale?utm_source=newsletter"])
    title: str | None
    tags: list[str]
    redirect_type: int = Field(examples=[302])
    expires_at: datetime | None
    max_clicks: int | None
    clicks: int = Field(description="Redirects so far (written within a second or so).")
    protected: bool = Field(description="Whether a password is asked first.")
    enabled: bool
    status: LinkStatus
    preview: Preview
    created_at: datetime
    updated_at: datetime


class LinkSort(StrEnum):
    NEWEST = "-created_at"
    OLDEST = "created_at"
    MOST_CLICKED = "-clicks"
    LEAST_CLICKED = "clicks"


class DayCount(Schema):
    day: date
    clicks: int
    uniques: int


class Share(Schema):
    name: str = Field(examples=["mobile"])
    clicks: int


class Stats(Schema):
    code: str
    start: date
    end: date
    clicks: int = Field(description="Clicks in the range.")
    uniques: int = Field(
        description="Unique visitors per day (address and user agent), summed over the range."
    )
    total_clicks: int = Field(description="Every click of the link, whatever the range.")
    by_day: list[DayCount] = Field(description="Days with clicks, oldest first.")
    referrers: list[Share] = Field(description="Top referrer hosts (`direct`: none).")
    devices: list[Share]
    browsers: list[Share]


class ImportRow(Schema):
    row: int = Field(description="Line number in the CSV (the header is line 1).")
    ok: bool
    code: str | None = None
    short_url: str | None = None
    error: str | None = Field(None, description="Why the row was refused.")


class ImportReport(Schema):
    created: int
    failed: int
    rows: list[ImportRow]


class QrFormat(StrEnum):
    SVG = "svg"
    PNG = "png"


class QrErrorLevel(StrEnum):
    L = "L"
    M = "M"
    Q = "Q"
    H = "H"
