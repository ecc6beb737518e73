"""Merge semantics of PATCH bodies (RFC 7396): a field left out stays as it is, a field sent
takes the value sent, and ``null`` clears it. Fields that have no "empty" value (a title, a
status, a position) cannot be cleared, so a ``null`` for them is refused (422) rather than
ignored, and the OpenAPI document says so: such a field is declared with ``optional()``,
which keeps it out of ``required`` and drops ``null`` from its schema (optional, not
nullable), while ``refuse_nulls`` refuses the ``null`` the schema does not allow."""

from __future__ import annotations

from typing import Any

from pydantic import Field


def refuse_nulls(data: Any, fields: tuple[str, ...]) -> Any:
    """A ``mode="before"`` model validator's body: fail when one of ``fields`` is ``null``."""
    if isinstance(data, dict):
        nulled = [name for name in fields if name in data and data[name] is None]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null")
    return data


def _without_null(schema: dict[str, Any]) -> None:
    """The field's JSON schema without its ``null`` alternative (``X | None`` -> ``X``)."""
    alternatives = schema.pop("anyOf", None)
    if alternatives is None:
        return
    kept = [part for part in alternatives if part.get("type") != "null"]
    if len(kept) == 1:
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept
    if schema.get("default", ...) is None:
        del schema["default"]


def optional(**field: Any) -> Any:
    """A PATCH field that may be left out but not sent as ``null`` (list it in the model's
    ``refuse_nulls`` too): ``title: Title | None = optional(examples=[...])``."""
    return Field(None, json_schema_extra=_without_null, **field)
