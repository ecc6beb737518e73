"""Request and response models of the catalogue: categories, products, variants, images."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AnyHttpUrl, Field, StringConstraints

from mainspring.core.schemas import Flag, Input, Integer, Page, Patch, Schema
from mainspring.shop.catalog.attributes import Attributes, AttributeSchema, AttributeSpec

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64)]
ProductSlug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=120)
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Currency = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 4217 code.")
]
Price = Annotated[
    Integer, Field(ge=0, le=100_000_000_00, description="Minor units of the currency (cents).")
]
Stock = Annotated[Integer, Field(ge=0, le=10_000_000)]
Options = Annotated[
    dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")],
        Annotated[str, StringConstraints(min_length=1, max_length=100)],
    ],
    Field(max_length=8, examples=[{"size": "M"}]),
]


# --- categories ---------------------------------------------------------------------------------


class CategoryCreate(Input):
    slug: Slug
    name: Name
    parent_id: uuid.UUID | None = None
    attribute_schema: AttributeSchema = Field(default_factory=dict)

    schema_rules: ClassVar[dict[str, Any]] = {
        "examples": [
            {
                "slug": "shirts",
                "name": "Shirts",
                "parent_id": None,
                "attribute_schema": {
                    "colour": {"type": "string", "values": ["white", "blue"]},
                    "size": {"type": "string", "values": ["S", "M", "L"], "required": True},
                },
            }
        ]
    }


class CategoryUpdate(Patch):
    not_null: ClassVar[tuple[str, ...]] = ("name", "attribute_schema")
    name: Name | None = None
    parent_id: uuid.UUID | None = None
    attribute_schema: AttributeSchema | None = None


class Category(Schema):
    id: uuid.UUID
    slug: str
    name: str
    parent_id: uuid.UUID | None
    path: str = Field(description="Slugs from the root: `/clothing/shirts/`.")
    attribute_schema: dict[str, AttributeSpec]


# --- products -----------------------------------------------------------------------------------


class VariantCreate(Input):
    sku: Sku
    name: Annotated[str, StringConstraints(max_length=120)] = ""
    price: Price
    stock: Stock = 0
    options: Options = Field(default_factory=dict)


class VariantUpdate(Patch):
    not_null: ClassVar[tuple[str, ...]] = ("name", "price", "stock", "options")
    name: Annotated[str, StringConstraints(max_length=120)] | None = None
    price: Price | None = None
    stock: Stock | None = None
    options: Options | None = None


class ImageCreate(Input):
    url: AnyHttpUrl
    alt: Annotated[str, StringConstraints(max_length=200)] = ""


class ProductCreate(Input):
    slug: ProductSlug
    name: Name
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    category_id: uuid.UUID
    currency: Currency
    attributes: Attributes = Field(default_factory=dict)
    published: Flag = False
    variants: list[VariantCreate] = Field(min_length=1, max_length=50)
    images: list[ImageCreate] = Field(default_factory=list, max_length=20)

    schema_rules: ClassVar[dict[str, Any]] = {
        "examples": [
            {
                "slug": "oxford-shirt",
                "name": "Oxford shirt",
                "description": "Woven cotton, button-down collar.",
                "category_id": "0192f3a0-0000-7000-8000-000000000001",
                "currency": "EUR",
                "attributes": {"colour": "blue", "size": "M"},
                "published": True,
                "variants": [{"sku": "OX-BLUE-M", "price": 4900, "stock": 25}],
                "images": [{"url": "https://img.example.com/ox.jpg", "alt": "Front"}],
            }
        ]
    }


class ProductUpdate(Patch):
    not_null: ClassVar[tuple[str, ...]] = (
        "name",
        "description",
        "category_id",
        "attributes",
        "published",
    )
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    category_id: uuid.UUID | None = None
    attributes: Attributes | None = None
    published: Flag | None = None


class Variant(Schema):
    id: uuid.UUID
    sku: str
    name: str
    price: int
    currency: str
    stock: int
    options: dict[str, str]


class Image(Schema):
    id: uuid.UUID
    url: str
    alt: str
    position: int


class CategoryRef(Schema):
    id: uuid.UUID
    slug: str
    name: str


class ProductSummary(Schema):
    """A product in the catalogue list."""

    id: uuid.UUID
    slug: str
    name: str
    category: CategoryRef
    currency: str
    price_from: int | None = Field(description="The cheapest variant's price, minor units.")
    in_stock: bool
    attributes: dict[str, Any]
    image_url: str | None
    created_at: datetime


class Product(Schema):
    """A product with its variants and images."""

    id: uuid.UUID
    slug: str
    name: str
    description: str
    category: CategoryRef
    currency: str
    attributes: dict[str, Any]
    published: bool
    price_from: int | None
    in_stock: bool
    sold_count: int
    version: int
    variants: list[Variant]
    images: list[Image]
    created_at: datetime
    updated_at: datetime


class FacetValue(Schema):
    value: str
    count: int


class CategoryFacet(Schema):
    slug: str
    name: str
    count: int


class Facets(Schema):
    """Counts within the current filters: how many products each refinement would keep."""

    categories: list[CategoryFacet]
    attributes: dict[str, list[FacetValue]]
    in_stock: int
    price_min: int | None
    price_max: int | None


class ProductPage(Page[ProductSummary]):
    facets: Facets
