"""Schema bases shared by every module's request and response models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

T = TypeVar("T")

SPACE = r"\t\n\v\f\r\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
r"""The characters the validator strips and its patterns' ``\s`` means (Unicode White_Space,
in pydantic-core's Rust), spelled out for a pattern's character class: ``\s`` differs
between the document's dialect (ECMA 262: no U+0085, but U+FEFF) and Python's (U+001C-U+001F
too), so a published pattern never uses it."""

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
"""An RFC 3339 date-time, its offset included: what OpenAPI's ``format: date-time`` means."""


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and RFC3339.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with its offset, e.g. 2026-12-01T17:00:00Z")


DateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
"""A date-time in a request (body or query): an RFC 3339 string with its offset, exactly what
the document's ``format: date-time`` says. Pydantic's own ``datetime`` also takes a number (a
Unix time: ``?due_before=0.5``), a date without a time and a time without an offset, none of
which the document allows."""


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON integer, e.g. 3")
    return value


Integer = Annotated[int, BeforeValidator(_json_integer)]
"""An integer in a request body: a JSON number with no fraction, as the document's ``type:
integer`` says (``3`` and ``3.0`` alike: JSON Schema counts both as integers). Pydantic's own
``int`` also takes ``"3"`` and ``true``; its ``StrictInt`` refuses ``3.0``. Its bounds
(``Field(ge=1)``) are published by ``Input`` (``_publish_bounds``)."""


Flag = Annotated[bool, Strict()]
"""A boolean in a request body: JSON ``true`` or ``false`` only, as the document says
(``type: boolean``). Pydantic's own ``bool`` also takes ``"yes"``, ``"off"``, ``1``, ``"0"``..."""


class Schema(BaseModel):
    """Response models: built from ORM objects (``from_attributes``), explicit fields only."""

    model_config = ConfigDict(from_attributes=True)


class Input(BaseModel):
    """Request models: unknown fields are refused (422), so nothing is mass-assigned.

    An either/or rule between fields is declared once, as a class variable, and both enforced
    (422) and published in the OpenAPI document, so that a generated client knows it:

    - ``exactly_one_of = ("code", "recovery_code")``: exactly one of them is sent, not null
      (a ``oneOf`` whose branches each require one of them, non-null);
    - ``at_most_one_of = ("reply_to_id", "quote_of_id")``: at most one of them is sent
      non-null (a ``not`` of "all of them, non-null");
    - ``non_empty = True``: the body names at least one field, ``null`` included (a PATCH-like
      body that must change something: ``minProperties: 1``).

    In the first two a ``null`` counts as not sent, in the validator and in the schema alike.
    A rule of another shape, which the model or its service enforces, is published with
    ``schema_rules`` (JSON Schema keywords added to the model's schema, e.g. an ``anyOf``);
    set it rather than ``json_schema_extra``, which would replace what the kernel publishes.
    """

    exactly_one_of: ClassVar[tuple[str, ...]] = ()
    at_most_one_of: ClassVar[tuple[str, ...]] = ()
    non_empty: ClassVar[bool] = False
    schema_rules: ClassVar[dict[str, Any]] = {}

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra=lambda schema, model: _document_rules(schema, model),
    )

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        if self.exactly_one_of and len(self._sent(self.exactly_one_of)) != 1:
            raise ValueError(f"send exactly one of {_names(self.exactly_one_of)}")
        if self.at_most_one_of and len(self._sent(self.at_most_one_of)) > 1:
            raise ValueError(f"send at most one of {_names(self.at_most_one_of)}")
        if self.non_empty and not self.model_fields_set:
            raise ValueError("name at least one field")
        return self

    def _sent(self, names: tuple[str, ...]) -> list[str]:
        return [name for name in names if getattr(self, name) is not None]


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{name}`" for name in names)


NOT_NULL: dict[str, Any] = {"not": {"type": "null"}}


def _document_rules(schema: dict[str, Any], model: type[Any]) -> None:
    """Publish ``model``'s either/or rules (see ``Input``) in its JSON Schema, and what its
    whitespace stripping means for the length of its strings (``_non_blank``)."""
    fields = getattr(model, "model_fields", {})
    for name, prop in schema.get("properties", {}).items():
        field = fields.get(name)
        kept = field is not None and any(
            getattr(rule, "strip_whitespace", None) is False for rule in field.metadata
        )
        if not kept:  # a password keeps its spaces (``strip_whitespace=False``)
            _non_blank(prop)
        _publish_bounds(prop)
    schema.update(getattr(model, "schema_rules", {}))
    exactly: tuple[str, ...] = getattr(model, "exactly_one_of", ())
    at_most: tuple[str, ...] = getattr(model, "at_most_one_of", ())
    if exactly:
        schema["oneOf"] = [{"required": [name], "properties": {name: NOT_NULL}} for name in exactly]
    if getattr(model, "non_empty", False):
        schema["minProperties"] = 1
    if at_most:
        schema["not"] = {
            "required": list(at_most),
            "properties": dict.fromkeys(at_most, NOT_NULL),
        }


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
            due_at: DateTime | None = None   # null clears it
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


def _non_blank(prop: dict[str, Any]) -> None:
    """An ``Input`` strips its strings before it checks their length, so ``"\u00a0"`` is too
    short for a ``minLength: 1``. Say so: a string with a ``minLength`` also matches a pattern
    that counts from its first to its last non-space character. Items of lists and branches of
    ``anyOf`` (``X | None``) are strings of the body too."""
    for branch in prop.get("anyOf", ()):
        _non_blank(branch)
    if isinstance(prop.get("items"), dict):
        _non_blank(prop["items"])
    least = prop.get("minLength", 0)
    if prop.get("type") != "string" or least < 1:
        return
    solid = f"[^{SPACE}]"
    pattern = solid if least == 1 else rf"{solid}[\s\S]{{{least - 2},}}{solid}"
    if "pattern" in prop:
        prop.setdefault("allOf", []).append({"pattern": pattern})
    else:
        prop["pattern"] = pattern


def _drop_null(schema: dict[str, Any], model: type[Any]) -> None:
    """Document ``model.not_null`` fields as optional but not nullable (and its either/or
    rules, as every ``Input`` does)."""
    _document_rules(schema, model)
    properties: dict[str, Any] = schema.get("properties", {})
    for name in getattr(model, "not_null", ()):
        prop = properties.get(name)
        if prop is None:
            continue
        if prop.get("default", ...) is None:
            del prop["default"]
        without_null(prop)


def without_null(schema: dict[str, Any]) -> None:
    """Take the ``null`` branch out of an ``X | None`` schema (``anyOf: [{...}, {"type":
    "null"}]``), in place: what a ``not_null`` field and every request parameter publish."""
    branches = schema.get("anyOf")
    if branches is None:
        return
    kept = [branch for branch in branches if branch != {"type": "null"}]
    if len(kept) == len(branches):
        return
    del schema["anyOf"]
    if len(kept) == 1:
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _publish_bounds(prop: dict[str, Any]) -> None:
    """The bounds of an ``Integer`` in JSON Schema's words. Pydantic cannot put a bound that
    follows a validator (``Annotated[Integer, Field(ge=1)]``, ``Integer | None = Field(ge=1)``)
    into the integer's schema; it enforces it, and writes it as a raw ``ge``, which no client
    generator reads."""
    for branch in (prop, *prop.get("anyOf", ())):
        for raw, keyword in _BOUNDS.items():
            if raw in branch:
                branch[keyword] = branch.pop(raw)


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
