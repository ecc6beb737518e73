"""The catalogue list's query parameters, parsed once into ``ProductFilters``.

``?category=shirts`` (the category and its whole subtree), ``?min_price=&max_price=`` (minor
units, on the cheapest variant), ``?attr=colour:blue&attr=size:M`` (every pair required),
``?in_stock=true``, ``?q=`` (full-text), ``?currency=EUR`` and ``?sort=`` over an allow-list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query
from pydantic import StringConstraints

SORTS = ("newest", "price", "-price", "best_selling", "name")
Sort = Literal["newest", "price", "-price", "best_selling", "name"]
MAX_ATTRIBUTE_FILTERS = 8
AttributeFilter = Annotated[str, StringConstraints(max_length=140, pattern=r"^[^:]+:.+$")]
"""``name:value``: a name without a colon, a colon, a value (which may hold colons)."""


@dataclass(frozen=True)
class ProductFilters:
    category: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    in_stock: bool | None = None
    q: str | None = None
    currency: str | None = None
    sort: Sort = "newest"


def _pairs(raw: list[str]) -> tuple[tuple[str, str], ...]:
    """``AttributeFilter`` strings (already validated) as ``(name, value)`` pairs."""
    return tuple((name, value) for name, _, value in (item.partition(":") for item in raw))


async def product_filters(
    category: Annotated[
        str | None, Query(max_length=64, description="A category slug: it and its subtree.")
    ] = None,
    min_price: Annotated[int | None, Query(ge=0, le=10**10, description="Minor units.")] = None,
    max_price: Annotated[int | None, Query(ge=0, le=10**10, description="Minor units.")] = None,
    attr: Annotated[
        list[AttributeFilter] | None,
        Query(
            max_length=MAX_ATTRIBUTE_FILTERS,
            description="`name:value`, repeatable; every pair must match.",
            examples=["colour:blue"],
        ),
    ] = None,
    in_stock: Annotated[bool | None, Query(description="Only products you can buy now.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Full-text search.")] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    sort: Annotated[
        Sort, Query(description="`newest`, `price`, `-price`, `best_selling`, `name`.")
    ] = ("newest"),
) -> ProductFilters:
    return ProductFilters(
        category=category,
        min_price=min_price,
        max_price=max_price,
        attributes=_pairs(attr or []),
        in_stock=in_stock,
        q=q or None,
        currency=currency,
        sort=sort,
    )


ProductFiltersDep = Annotated[ProductFilters, Depends(product_filters)]
