"""The catalogue's rules: the category tree, attribute validation, products and variants.

Everyone reads published products; staff (``deps.Staff``) read unpublished ones and change the
catalogue. A product's bookkeeping columns (``price_from``, ``in_stock``, ``version``) are
recomputed by one statement after every change to its variants. Every write here makes the
cached anonymous answers it changes stale once it commits (``caching.py`` lists them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.auth import Viewer
from mainspring.core.pagination import PageSlice
from mainspring.shop.catalog import attributes as attribute_rules
from mainspring.shop.catalog import caching, repository, schemas
from mainspring.shop.catalog.filters import ProductFilters
from mainspring.shop.errors import (
    CategoryCycle,
    CategoryInUse,
    CategoryNotFound,
    ImageNotFound,
    InvalidAttributes,
    ProductNotFound,
    SkuTaken,
    SlugTaken,
    UnknownCategory,
    VariantNotFound,
)
from mainspring.shop.models import Category, Product, ProductImage, Variant
from mainspring.shop.roles import is_staff


class CategoryService:
    async def page(
        self, session: AsyncSession, listing: PageSlice
    ) -> tuple[list[schemas.Category], int]:
        return await repository.category_page(session, listing)

    async def get(self, session: AsyncSession, category_id: uuid.UUID) -> schemas.Category:
        category = await repository.category_by_id(session, category_id)
        if category is None:
            raise CategoryNotFound
        return schemas.Category.model_validate(category)

    async def _parent_path(self, session: AsyncSession, parent_id: uuid.UUID | None) -> str:
        if parent_id is None:
            return "/"
        parent = await repository.category_by_id(session, parent_id)
        if parent is None:
            raise UnknownCategory
        return parent.path

    async def create(self, session: AsyncSession, data: schemas.CategoryCreate) -> schemas.Category:
        if await repository.category_by_slug(session, data.slug) is not None:
            raise SlugTaken("Another category already has this slug.")
        path = await self._parent_path(session, data.parent_id) + data.slug + "/"
        category = Category(
            slug=data.slug,
            name=data.name,
            parent_id=data.parent_id,
            path=path,
            attribute_schema={
                name: spec.model_dump() for name, spec in data.attribute_schema.items()
            },
        )
        session.add(category)
        await session.flush()
        caching.categories_changed(session)
        return schemas.Category.model_validate(category)

    async def update(
        self, session: AsyncSession, category_id: uuid.UUID, data: schemas.CategoryUpdate
    ) -> schemas.Category:
        category = await repository.category_by_id(session, category_id)
        if category is None:
            raise CategoryNotFound
        sent = data.model_fields_set
        if data.name is not None:
            category.name = data.name
        if data.attribute_schema is not None:
            category.attribute_schema = {
                name: spec.model_dump() for name, spec in data.attribute_schema.items()
            }
        if "parent_id" in sent and data.parent_id != category.parent_id:
            new_parent = await self._parent_path(session, data.parent_id)
            if new_parent.startswith(category.path):
                raise CategoryCycle
            old_path = category.path
            new_path = new_parent + category.slug + "/"
            category.parent_id = data.parent_id
            await session.flush()
            await repository.move_subtree(session, old_path, new_path)
            await session.refresh(category)
        await session.flush()
        caching.categories_changed(session)
        return schemas.Category.model_validate(category)

    async def delete(self, session: AsyncSession, category_id: uuid.UUID) -> None:
        category = await repository.category_by_id(session, category_id)
        if category is None:
            raise CategoryNotFound
        if await repository.category_in_use(session, category_id):
            raise CategoryInUse
        await session.delete(category)
        await session.flush()
        caching.categories_changed(session)

    async def validate_attributes(
        self, session: AsyncSession, category_id: uuid.UUID, values: dict[str, Any]
    ) -> dict[str, Any]:
        category = await repository.category_by_id(session, category_id)
        if category is None:
            raise InvalidAttributes(
                "The category does not exist.",
                errors=[{"loc": ["body", "category_id"], "msg": "no such category"}],
            )
        path = await repository.categories_on_path(session, category.path)
        schema = attribute_rules.merged(c.attribute_schema for c in path)
        return attribute_rules.validate(schema, values)


class ProductService:
    async def page(
        self, session: AsyncSession, filters: ProductFilters, listing: PageSlice
    ) -> tuple[list[schemas.ProductSummary], int, schemas.Facets]:
        clauses = await repository.filter_clauses(session, filters)
        if clauses is None:
            return [], 0, repository.empty_facets()
        items, total = await repository.product_page(session, clauses, filters.sort, listing)
        facets = await repository.facets(session, clauses)
        return items, total, facets

    async def get(self, session: AsyncSession, key: str, viewer: Viewer) -> schemas.Product:
        """A published product by slug or id; staff also see unpublished ones (404 for others)."""
        product_id = _as_id(key)
        if product_id is not None:
            product = await repository.product_detail(session, product_id=product_id)
        else:
            product = await repository.product_detail(session, slug=key)
        if product is None or not (product.published or is_staff(viewer)):
            raise ProductNotFound
        return product

    async def detail(self, session: AsyncSession, product_id: uuid.UUID) -> schemas.Product:
        product = await repository.product_detail(session, product_id=product_id)
        if product is None:
            raise ProductNotFound
        return product

    async def create(self, session: AsyncSession, data: schemas.ProductCreate) -> schemas.Product:
        values = await category_service.validate_attributes(
            session, data.category_id, dict(data.attributes)
        )
        if await repository.slug_exists(session, data.slug):
            raise SlugTaken("Another product already has this slug.")
        skus = [variant.sku for variant in data.variants]
        if len(set(skus)) != len(skus) or await repository.sku_exists(session, skus):
            raise SkuTaken
        product = Product(
            slug=data.slug,
            name=data.name,
            description=data.description,
            category_id=data.category_id,
            currency=data.currency,
            attributes=values,
            published=data.published,
        )
        session.add(product)
        await session.flush()
        session.add_all(
            Variant(
                product_id=product.id,
                sku=v.sku,
                name=v.name,
                price=v.price,
                stock=v.stock,
                options=dict(v.options),
            )
            for v in data.variants
        )
        session.add_all(
            ProductImage(product_id=product.id, url=str(image.url), alt=image.alt, position=i)
            for i, image in enumerate(data.images)
        )
        await session.flush()
        await repository.refresh_products(session, [product.id])
        caching.products_changed(session, [(product.id, product.slug)], lists=True)
        return await self.detail(session, product.id)

    async def _load(self, session: AsyncSession, product_id: uuid.UUID) -> Product:
        product = await repository.product_entity(session, product_id)
        if product is None:
            raise ProductNotFound
        return product

    async def update(
        self, session: AsyncSession, product_id: uuid.UUID, data: schemas.ProductUpdate
    ) -> schemas.Product:
        product = await self._load(session, product_id)
        for field in ("name", "description", "published"):
            value = getattr(data, field)
            if value is not None:
                setattr(product, field, value)
        if data.category_id is not None or data.attributes is not None:
            category_id = data.category_id or product.category_id
            attributes = data.attributes if data.attributes is not None else product.attributes
            product.attributes = await category_service.validate_attributes(
                session, category_id, dict(attributes)
            )
            product.category_id = category_id
        product.version += 1
        await session.flush()
        caching.products_changed(session, [(product.id, product.slug)], lists=True)
        return await self.detail(session, product_id)

    async def delete(self, session: AsyncSession, product_id: uuid.UUID) -> None:
        """Delete a product. Orders keep their lines (name, SKU and price were copied)."""
        product = await self._load(session, product_id)
        caching.products_changed(session, [(product.id, product.slug)], lists=True)
        await session.delete(product)
        await session.flush()

    async def add_variant(
        self, session: AsyncSession, product_id: uuid.UUID, data: schemas.VariantCreate
    ) -> schemas.Product:
        await self._load(session, product_id)
        if await repository.sku_exists(session, [data.sku]):
            raise SkuTaken
        session.add(
            Variant(
                product_id=product_id,
                sku=data.sku,
                name=data.name,
                price=data.price,
                stock=data.stock,
                options=dict(data.options),
            )
        )
        await session.flush()
        await self._refresh(session, [product_id])
        return await self.detail(session, product_id)

    async def update_variant(
        self,
        session: AsyncSession,
        product_id: uuid.UUID,
        variant_id: uuid.UUID,
        data: schemas.VariantUpdate,
    ) -> schemas.Product:
        variant = await repository.variant_entity(session, product_id, variant_id)
        if variant is None:
            raise VariantNotFound
        for field in ("name", "price", "stock", "options"):
            value = getattr(data, field)
            if value is not None:
                setattr(variant, field, dict(value) if field == "options" else value)
        await session.flush()
        await self._refresh(session, [product_id])
        return await self.detail(session, product_id)

    async def delete_variant(
        self, session: AsyncSession, product_id: uuid.UUID, variant_id: uuid.UUID
    ) -> None:
        variant = await repository.variant_entity(session, product_id, variant_id)
        if variant is None:
            raise VariantNotFound
        await session.delete(variant)
        await session.flush()
        await self._refresh(session, [product_id])

    async def refresh(self, session: AsyncSession, product_ids: set[uuid.UUID]) -> None:
        """Recompute the cheapest price and the in-stock flag after stock moved (a checkout,
        a cancellation, a reservation released): the products' cached answers are stale."""
        await self._refresh(session, product_ids)

    async def _refresh(self, session: AsyncSession, product_ids: Iterable[uuid.UUID]) -> None:
        """Recompute the products' bookkeeping columns after their variants changed; their
        cached answers are stale, and the lists too if a price or in-stock flag moved."""
        refreshed = await repository.refresh_products(session, list(product_ids))
        caching.products_changed(
            session,
            [(product.id, product.slug) for product in refreshed],
            lists=any(product.listed for product in refreshed),
        )

    async def sold(self, session: AsyncSession, products: Iterable[caching.Product]) -> None:
        """``products`` sold more (their ``sold_count``, counted by the order's payment)."""
        caching.products_sold(session, products)

    async def add_image(
        self, session: AsyncSession, product_id: uuid.UUID, data: schemas.ImageCreate
    ) -> schemas.Product:
        product = await self._load(session, product_id)
        position = await repository.next_image_position(session, product_id)
        session.add(
            ProductImage(product_id=product_id, url=str(data.url), alt=data.alt, position=position)
        )
        product.version += 1
        await session.flush()
        caching.products_changed(session, [(product.id, product.slug)], lists=True)
        return await self.detail(session, product_id)

    async def delete_image(
        self, session: AsyncSession, product_id: uuid.UUID, image_id: uuid.UUID
    ) -> None:
        image = await repository.image_entity(session, product_id, image_id)
        if image is None:
            raise ImageNotFound
        product = await self._load(session, product_id)
        await session.delete(image)
        product.version += 1
        await session.flush()
        caching.products_changed(session, [(product.id, product.slug)], lists=True)


category_service = CategoryService()
product_service = ProductService()


def _as_id(key: str) -> uuid.UUID | None:
    """``key`` as an id if it is one in canonical form (``8-4-4-4-12`` hex), else None."""
    try:
        product_id = uuid.UUID(key)
    except ValueError:
        return None
    return product_id if str(product_id) == key else None
