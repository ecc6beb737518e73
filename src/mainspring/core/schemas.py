"""Schema bases shared by every module's request and response models."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Schema(BaseModel):
    """Response models: built from ORM objects (``from_attributes``), explicit fields only."""

    model_config = ConfigDict(from_attributes=True)


class Input(BaseModel):
    """Request models: unknown fields are refused (422), so nothing is mass-assigned."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Page(Schema, Generic[T]):
    """A page of a filtered catalogue: ``?page=&page_size=`` with the total count."""

    items: list[T]
    total: int = Field(ge=0, description="Items matching the filters, over all pages.")
    page: int = Field(ge=1)
    page_size: int = Field(ge=1, le=100)


class CursorPage(Schema, Generic[T]):
    """A slice of a feed: ``?limit=&cursor=``; ``next_cursor`` is null on the last slice."""

    items: list[T]
    next_cursor: str | None = Field(
        None, description="Opaque cursor for the next slice; null when there is none."
    )


class Status(Schema):
    status: str
