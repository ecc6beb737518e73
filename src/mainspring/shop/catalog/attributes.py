"""Per-category attribute schemas, and the validation of product attributes against them.

A category declares the attributes its products carry (size, colour, material...), each with a
type (``string``, ``number``, ``boolean``), optionally the allowed values and whether it is
required. A product's attributes are validated against its category's schema merged with its
ancestors' (a sub-category adds attributes, never removes them): unknown names, wrong types,
values outside the list and missing required attributes are refused (409) with one error per
attribute. This is the document-store step: the document's shape is free per category, yet
every stored document is known to be valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from mainspring.core.schemas import Flag, Input
from mainspring.shop.errors import InvalidAttributes

MAX_ATTRIBUTES = 32
AttributeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
AttributeValue = Annotated[str, StringConstraints(min_length=1, max_length=100)] | float | bool
"""A value as stored: a short string, a number or a boolean."""


class AttributeSpec(Input):
    """One attribute a category's products carry."""

    type: Literal["string", "number", "boolean"] = "string"
    values: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = Field(
        None, max_length=100, description="The allowed values of a `string` attribute."
    )
    required: Flag = False


AttributeSchema = Annotated[
    dict[AttributeName, AttributeSpec],
    Field(max_length=MAX_ATTRIBUTES, examples=[{"colour": {"values": ["red", "blue"]}}]),
]
Attributes = Annotated[
    dict[AttributeName, AttributeValue],
    Field(max_length=MAX_ATTRIBUTES, examples=[{"colour": "red", "organic": True}]),
]


def merged(schemas: Iterable[Mapping[str, Any]]) -> dict[str, AttributeSpec]:
    """The schemas of a category's path, root first, as one (later ones win)."""
    result: dict[str, AttributeSpec] = {}
    for schema in schemas:
        for name, spec in schema.items():
            result[name] = AttributeSpec.model_validate(spec)
    return result


def _type_error(spec: AttributeSpec, value: Any) -> str | None:
    if spec.type == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if spec.type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if not isinstance(value, str):
        return "must be a string"
    if spec.values is not None and value not in spec.values:
        return f"must be one of {', '.join(spec.values)}"
    return None


def validate(schema: Mapping[str, AttributeSpec], attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``attributes`` if ``schema`` accepts them, else ``InvalidAttributes`` listing each fault."""
    errors: list[dict[str, Any]] = []
    for name, value in attributes.items():
        spec = schema.get(name)
        problem = (
            "is not an attribute of this category" if spec is None else _type_error(spec, value)
        )
        if problem is not None:
            errors.append({"loc": ["body", "attributes", name], "msg": f"{name} {problem}"})
    for name, spec in schema.items():
        if spec.required and name not in attributes:
            errors.append({"loc": ["body", "attributes", name], "msg": f"{name} is required"})
    if errors:
        raise InvalidAttributes(
            "The attributes do not match the category's attribute schema.", errors=errors
        )
    return dict(attributes)
