"""Every query of the catalogue: categories, the filtered product list with its facets,
product details, and the bookkeeping columns of products.

Reads select the columns a response shows and build each response schema once. The list is
five statements whatever the page size: the count, the page, and three facet queries (category
counts, attribute value counts, stock and price range), each one grouped SQL statement.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    exists,
    func,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.db import dialect_of
from mainspring.core.pagination import PageSlice, offset_page
from mainspring.shop.catalog import schemas, search
from mainspring.shop.catalog.filters import ProductFilters
from mainspring.shop.models import Category, Product, ProductImage, Variant

MAX_FACET_ROWS = 200


# --- categories ---------------------------------------------------------------------------------


async def category_by_id(session: AsyncSession, category_id: uuid.UUID) -> Category | None:
    return await session.get(Category, category_id)


async def category_by_slug(session: AsyncSession, slug: str) -> Category | None:
    return await session.scalar(select(Category).where(Category.slug == slug))


async def categories_on_path(session: AsyncSession, path: str) -> list[Category]:
    """The category of ``path`` and its ancestors, root first."""
    parts = [part for part in path.strip("/").split("/") if part]
    prefixes = ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
    rows = await session.scalars(select(Category).where(Category.path.in_(prefixes)))
    return sorted(rows, key=lambda category: len(category.path))


async def category_page(
    session: AsyncSession, listing: PageSlice
) -> tuple[list[schemas.Category], int]:
    stmt = select(Category).order_by(Category.path)
    rows, total = await offset_page(session, stmt, listing)
    return [schemas.Category.model_validate(row) for row in rows], total


async def category_in_use(session: AsyncSession, category_id: uuid.UUID) -> bool:
    child = exists().where(Category.parent_id == category_id)
    product = exists().where(Product.category_id == category_id)
    return bool(await session.scalar(select(or_(child, product))))


async def move_subtree(session: AsyncSession, old_path: str, new_path: str) -> None:
    """Rewrite the paths of every category under ``old_path`` (one ``UPDATE``)."""
    await session.execute(
        update(Category)
        .where(Category.path.startswith(old_path, autoescape=True))
        .values(path=new_path + func.substr(Category.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    )


# --- product list -------------------------------------------------------------------------------


def _attribute_candidates(value: str) -> list[Any]:
    """The JSON values ``value`` may stand for: the string itself, and a number or a boolean
    if it reads as one (``?attr=organic:true`` matches ``true`` and ``"true"``)."""
    candidates: list[Any] = [value]
    if value in ("true", "false"):
        candidates.append(value == "true")
    else:
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if number == number and abs(number) != float("inf"):  # not NaN or infinite
                candidates.append(int(number) if number.is_integer() else number)
    return candidates


def _attribute_clause(dialect: str, name: str, value: str) -> ColumnElement[bool]:
    candidates = _attribute_candidates(value)
    if dialect == "postgresql":
        # Imported here: a SQLite process never imports the PostgreSQL dialect (core/db.py).
        from sqlalchemy.dialects.postgresql import JSONB

        # Containment (@>) is what the jsonb_path_ops GIN index serves.
        document = type_coerce(Product.attributes, JSONB)
        return or_(*(document.contains({name: candidate}) for candidate in candidates))
    extracted = func.json_extract(Product.attributes, f'$."{name}"')
    plain = [c for c in candidates if not isinstance(c, bool)]
    clauses: list[ColumnElement[bool]] = [extracted.in_(plain)]
    clauses += [
        func.json_type(Product.attributes, f'$."{name}"') == ("true" if c else "false")
        for c in candidates
        if isinstance(c, bool)
    ]
    return or_(*clauses)


async def filter_clauses(
    session: AsyncSession, filters: ProductFilters
) -> list[ColumnElement[bool]] | None:
    """The WHERE clauses of ``filters`` over published products; None when nothing can
    match (an unknown category)."""
    dialect = dialect_of(session)
    clauses: list[ColumnElement[bool]] = [Product.published.is_(True)]
    if filters.category is not None:
        path = await session.scalar(select(Category.path).where(Category.slug == filters.category))
        if path is None:
            return None
        subtree = select(Category.id).where(Category.path.startswith(path, autoescape=True))
        clauses.append(Product.category_id.in_(subtree))
    if filters.min_price is not None:
        clauses.append(Product.price_from >= filters.min_price)
    if filters.max_price is not None:
        clauses.append(Product.price_from <= filters.max_price)
    if filters.in_stock is not None:
        clauses.append(Product.in_stock.is_(filters.in_stock))
    if filters.currency is not None:
        clauses.append(Product.currency == filters.currency)
    for name, value in filters.attributes:
        clauses.append(_attribute_clause(dialect, name, value))
    if filters.q is not None:
        clauses.append(search.PRODUCTS.matches(dialect, filters.q))
    return clauses


def _order(sort: str) -> list[Any]:
    orders: dict[str, list[Any]] = {
        "newest": [Product.created_at.desc()],
        "price": [Product.price_from.asc()],
        "-price": [Product.price_from.desc()],
        "best_selling": [Product.sold_count.desc()],
        "name": [Product.name.asc()],
    }
    return [*orders[sort], Product.id.desc()]


_first_image = (
    select(ProductImage.url)
    .where(ProductImage.product_id == Product.id)
    .order_by(ProductImage.position, ProductImage.id)
    .limit(1)
    .correlate(Product)
    .scalar_subquery()
)


def _summary(row: Any) -> schemas.ProductSummary:
    return schemas.ProductSummary.model_construct(
        id=row.id,
        slug=row.slug,
        name=row.name,
        category=schemas.CategoryRef.model_construct(
            id=row.category_id, slug=row.category_slug, name=row.category_name
        ),
        currency=row.currency,
        price_from=row.price_from,
        in_stock=row.in_stock,
        attributes=row.attributes,
        image_url=row.image_url,
        created_at=row.created_at,
    )


async def product_page(
    session: AsyncSession, clauses: Sequence[ColumnElement[bool]], sort: str, listing: PageSlice
) -> tuple[list[schemas.ProductSummary], int]:
    stmt: Select[Any] = (
        select(
            Product.id,
            Product.slug,
            Product.name,
            Product.category_id,
            Category.slug.label("category_slug"),
            Category.name.label("category_name"),
            Product.currency,
            Product.price_from,
            Product.in_stock,
            Product.attributes,
            _first_image.label("image_url"),
            Product.created_at,
        )
        .join(Category, Category.id == Product.category_id)
        .where(*clauses)
        .order_by(*_order(sort))
    )
    rows, total = await offset_page(session, stmt, listing, scalars=False)
    return [_summary(row) for row in rows], total


async def facets(session: AsyncSession, clauses: Sequence[ColumnElement[bool]]) -> schemas.Facets:
    """Category counts, attribute value counts, and the stock and price range of the products
    matching ``clauses``: three grouped statements."""
    dialect = dialect_of(session)
    category_rows = await session.execute(
        select(Category.slug, Category.name, func.count(Product.id))
        .join(Product, Product.category_id == Category.id)
        .where(*clauses)
        .group_by(Category.slug, Category.name)
        .order_by(func.count(Product.id).desc(), Category.slug)
        .limit(MAX_FACET_ROWS)
    )
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB  # as in _attribute_clause

        pairs = func.jsonb_each_text(type_coerce(Product.attributes, JSONB)).table_valued(
            "key", "value"
        )
    else:
        pairs = func.json_each(Product.attributes).table_valued("key", "value")
    count = func.count()
    attribute_rows = await session.execute(
        select(pairs.c.key, pairs.c.value, count)
        .select_from(Product)
        .join(pairs, true())
        .where(*clauses)
        .group_by(pairs.c.key, pairs.c.value)
        .order_by(pairs.c.key, count.desc(), pairs.c.value)
        .limit(MAX_FACET_ROWS)
    )
    stats = (
        await session.execute(
            select(
                func.count().filter(Product.in_stock.is_(True)),
                func.min(Product.price_from),
                func.max(Product.price_from),
            ).where(*clauses)
        )
    ).one()
    attributes: dict[str, list[schemas.FacetValue]] = {}
    for key, value, n in attribute_rows:
        text = value if isinstance(value, str) else json.dumps(value)
        if dialect != "postgresql" and isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        attributes.setdefault(key, []).append(
            schemas.FacetValue.model_construct(value=text, count=n)
        )
    return schemas.Facets.model_construct(
        categories=[
            schemas.CategoryFacet.model_construct(slug=slug, name=name, count=n)
            for slug, name, n in category_rows
        ],
        attributes=attributes,
        in_stock=int(stats[0] or 0),
        price_min=stats[1],
        price_max=stats[2],
    )


def empty_facets() -> schemas.Facets:
    return schemas.Facets.model_construct(
        categories=[], attributes={}, in_stock=0, price_min=None, price_max=None
    )


# --- one product --------------------------------------------------------------------------------


async def product_detail(
    session: AsyncSession, *, product_id: uuid.UUID | None = None, slug: str | None = None
) -> schemas.Product | None:
    """A product with its variants and images (three statements), published or not."""
    where = Product.id == product_id if product_id is not None else Product.slug == slug
    row = (
        await session.execute(
            select(Product, Category.slug, Category.name)
            .join(Category, Category.id == Product.category_id)
            .where(where)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        return None
    product, category_slug, category_name = row
    variants = await session.scalars(
        select(Variant).where(Variant.product_id == product.id).order_by(Variant.price, Variant.sku)
    )
    images = await session.scalars(
        select(ProductImage)
        .where(ProductImage.product_id == product.id)
        .order_by(ProductImage.position, ProductImage.id)
    )
    return schemas.Product.model_construct(
        id=product.id,
        slug=product.slug,
        name=product.name,
        description=product.description,
        category=schemas.CategoryRef.model_construct(
            id=product.category_id, slug=category_slug, name=category_name
        ),
        currency=product.currency,
        attributes=product.attributes,
        published=product.published,
        price_from=product.price_from,
        in_stock=product.in_stock,
        sold_count=product.sold_count,
        version=product.version,
        variants=[
            schemas.Variant.model_construct(
                id=v.id,
                sku=v.sku,
                name=v.name,
                price=v.price,
                currency=product.currency,
                stock=v.stock,
                options=v.options,
            )
            for v in variants
        ],
        images=[
            schemas.Image.model_construct(id=i.id, url=i.url, alt=i.alt, position=i.position)
            for i in images
        ],
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


async def product_entity(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    return await session.get(Product, product_id)


async def variant_entity(
    session: AsyncSession, product_id: uuid.UUID, variant_id: uuid.UUID
) -> Variant | None:
    return await session.scalar(
        select(Variant).where(Variant.id == variant_id, Variant.product_id == product_id)
    )


async def image_entity(
    session: AsyncSession, product_id: uuid.UUID, image_id: uuid.UUID
) -> ProductImage | None:
    return await session.scalar(
        select(ProductImage).where(
            ProductImage.id == image_id, ProductImage.product_id == product_id
        )
    )


async def sku_exists(session: AsyncSession, skus: Sequence[str]) -> bool:
    return bool(await session.scalar(select(exists().where(Variant.sku.in_(list(skus))))))


async def slug_exists(session: AsyncSession, slug: str) -> bool:
    return bool(await session.scalar(select(exists().where(Product.slug == slug))))


async def next_image_position(session: AsyncSession, product_id: uuid.UUID) -> int:
    top = await session.scalar(
        select(func.max(ProductImage.position)).where(ProductImage.product_id == product_id)
    )
    return 0 if top is None else int(top) + 1


@dataclass(frozen=True)
class Refreshed:
    """A product whose bookkeeping columns were recomputed: ``listed`` when ``price_from`` or
    ``in_stock`` moved (what the list shows, filters and sorts on besides the product's own
    columns)."""

    id: uuid.UUID
    slug: str
    listed: bool


async def refresh_products(
    session: AsyncSession, product_ids: Sequence[uuid.UUID]
) -> list[Refreshed]:
    """Recompute ``price_from`` and ``in_stock`` of ``product_ids`` from their variants, in
    one ``UPDATE`` with correlated sub-queries, and bump their version. The rows are locked
    first (``FOR UPDATE``, in id order; SQLite's write lock does the same), so that their
    values before and after are this transaction's own, whatever else commits meanwhile."""
    if not product_ids:
        return []
    ids = sorted(set(product_ids))
    before = {
        row.id: (row.price_from, row.in_stock)
        for row in await session.execute(
            select(Product.id, Product.price_from, Product.in_stock)
            .where(Product.id.in_(ids))
            .order_by(Product.id)
            .with_for_update()
        )
    }
    cheapest = (
        select(func.min(Variant.price))
        .where(Variant.product_id == Product.id)
        .correlate(Product)
        .scalar_subquery()
    )
    stocked = exists().where(Variant.product_id == Product.id, Variant.stock > 0).correlate(Product)
    after = await session.execute(
        update(Product)
        .where(Product.id.in_(ids))
        .values(price_from=cheapest, in_stock=stocked, version=Product.version + 1)
        .returning(Product.id, Product.slug, Product.price_from, Product.in_stock)
        .execution_options(synchronize_session=False)
    )
    return [
        Refreshed(row.id, row.slug, before.get(row.id) != (row.price_from, row.in_stock))
        for row in after
    ]
