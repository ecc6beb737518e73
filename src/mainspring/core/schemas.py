"""Schema bases shared by every module's request and response models."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")


class Schema(BaseModel):
    """Response models: built from ORM objects (``from_attributes``), explicit fields only."""

    model_config = ConfigDict(from_attributes=True)


class Input(BaseModel):
    """Request models: unknown fields are refused (422), so nothing is mass-assigned."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Patch(Input):
    """A PATCH body with merge semantics (RFC 7396): a field left out stays as it is, a field
    sent takes the value sent, and ``null`` clears it.

    Fields that have no "empty" value (a title, a status) cannot be cleared: name them in
    ``not_null``. A ``null`` for them is refused (422) rather than ignored, and the OpenAPI
    document says so: they are optional but not nullable, so a generated client never sends
    what the server refuses. In Python they stay ``X | None = None`` (None: not sent)::

        class TaskUpdate(Patch):
            not_null: ClassVar[tuple[str, ...]] = ("title", "status")
            title: Title | None = None
            due_at: AwareDatetime | None = None   # null clears it
    """

    not_null: ClassVar[tuple[str, ...]] = ()

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra=lambda schema, model: _drop_null(schema, model),
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulled = [name for name in cls.not_null if name in data and data[name] is None]
            if nulled:
                raise ValueError(f"{', '.join(nulled)} cannot be null")
        return data


def _drop_null(schema: dict[str, Any], model: type[Any]) -> None:
    """Document ``model.not_null`` fields as optional but not nullable."""
    properties: dict[str, Any] = schema.get("properties", {})
    for name in getattr(model, "not_null", ()):
        prop = properties.get(name)
        if prop is None:
            continue
        if prop.get("default", ...) is None:
            del prop["default"]
        branches = prop.get("anyOf")
        if branches is None:
            continue
        kept = [branch for branch in branches if branch != {"type": "null"}]
        del prop["anyOf"]
        if len(kept) == 1:
            prop.update(kept[0])
        else:
            prop["anyOf"] = kept


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
