"""``/api/v1/shop/categories`` and ``/api/v1/shop/products``: the catalogue. Everyone reads;
staff write. Thin handlers: parse, call the service, answer.

Anonymous reads are answered from the kernel cache (``caching.py``: what is kept, and which
writes make it stale) with ``Cache-Control: public, max-age=5``, an ``ETag`` and 304; a
signed-in reader's answer is read for them from the database and says ``private, no-cache``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core import cached_answers
from mainspring.core.auth import ANONYMOUS, ViewerDep
from mainspring.core.cache import CachedBytes
from mainspring.core.conditional import NOT_MODIFIED, ConditionalDep, make_etag
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.pagination import PageSlice, PageSliceDep, set_page_links
from mainspring.core.schemas import Page
from mainspring.shop.catalog import caching, schemas
from mainspring.shop.catalog.filters import ProductFilters, ProductFiltersDep
from mainspring.shop.catalog.service import category_service, product_service
from mainspring.shop.deps import Staff

router = APIRouter(tags=["shop: catalogue"])

# One URL per product, ``/products/{product}``, so that the document has one path item there
# (and ``Allow`` lists GET, PATCH and DELETE): reads take the slug or the id, writes the id
# (a slug changes with a rename; an id never does).
ProductKey = Annotated[
    str,
    Path(
        alias="product",
        max_length=120,
        pattern=r"^[a-z0-9-]+$",
        description="The product's slug, or its id.",
        examples=["linen-shirt"],
    ),
]
ProductId = Annotated[uuid.UUID, Path(alias="product", description="The product's id.")]
STAFF_WRITE = problem_responses(401, 403, 404, 409, 422)
CategoryPage = Page[schemas.Category]
_CATEGORY_PAGE_JSON = TypeAdapter(CategoryPage)
_CATEGORY_JSON = TypeAdapter(schemas.Category)
_PRODUCT_PAGE_JSON = TypeAdapter(schemas.ProductPage)
_PRODUCT_JSON = TypeAdapter(schemas.Product)


def product_etag(product: schemas.Product) -> str:
    return make_etag(product.version, product.updated_at)


@router.get(
    "/categories",
    summary="List categories",
    response_model=CategoryPage,
    responses={**NOT_MODIFIED, **problem_responses(401)},
)
async def list_categories(
    request: Request, viewer: ViewerDep, listing: PageSliceDep, conditional: ConditionalDep
) -> CategoryPage | Response:
    """Every category, in tree order (by path: a parent comes before its children).
    Anonymous answers are cached (`Cache-Control: public, max-age=5`, `ETag`, 304)."""
    if viewer.anonymous:

        async def load(session: AsyncSession) -> CachedBytes:
            items, total = await category_service.page(session, listing)
            page = CategoryPage(
                items=items, total=total, page=listing.page, page_size=listing.page_size
            )
            return CachedBytes(_CATEGORY_PAGE_JSON.dump_json(page), {"total": total})

        cached = await caching.lookup_categories(request, listing, load)
        set_page_links(request, conditional.response, listing, cached.meta["total"])
        return cached_answers.respond(cached, conditional)
    async with cached_answers.read_session(request) as session:  # a hit needs none
        items, total = await category_service.page(session, listing)
    conditional.response.headers["Cache-Control"] = cached_answers.PRIVATE
    return listing.respond(items, total)


@router.post(
    "/categories", status_code=201, summary="Create a category (staff)", responses=STAFF_WRITE
)
async def create_category(
    data: schemas.CategoryCreate,
    response: Response,
    request: Request,
    session: SessionDep,
    staff: Staff,
) -> schemas.Category:
    """A category under `parent_id` (or a root), with the attribute schema its products follow."""
    category = await category_service.create(session, data)
    response.headers["Location"] = str(
        request.app.url_path_for("get_category", category_id=category.id)
    )
    return category


@router.get(
    "/categories/{category_id}",
    summary="Get a category",
    response_model=schemas.Category,
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_category(
    category_id: uuid.UUID, request: Request, viewer: ViewerDep, conditional: ConditionalDep
) -> schemas.Category | Response:
    """A category with its attribute schema. Anonymous answers are cached (`Cache-Control:
    public, max-age=5`, `ETag`, 304)."""
    if viewer.anonymous:

        async def load(session: AsyncSession) -> CachedBytes:
            category = await category_service.get(session, category_id)
            return CachedBytes(_CATEGORY_JSON.dump_json(category))

        cached = await caching.lookup_category(request, category_id, load)
        return cached_answers.respond(cached, conditional)
    async with cached_answers.read_session(request) as session:  # a hit needs none
        category = await category_service.get(session, category_id)
    conditional.response.headers["Cache-Control"] = cached_answers.PRIVATE
    return category


@router.patch(
    "/categories/{category_id}", summary="Change a category (staff)", responses=STAFF_WRITE
)
async def update_category(
    category_id: uuid.UUID, data: schemas.CategoryUpdate, session: SessionDep, staff: Staff
) -> schemas.Category:
    """Rename, re-parent (the whole subtree moves) or change the attribute schema. A changed
    schema applies to products as they are next written."""
    return await category_service.update(session, category_id, data)


@router.delete(
    "/categories/{category_id}",
    status_code=204,
    summary="Delete a category (staff)",
    responses=STAFF_WRITE,
)
async def delete_category(category_id: uuid.UUID, session: SessionDep, staff: Staff) -> None:
    """Only an empty category (no sub-categories, no products) can be deleted (409)."""
    await category_service.delete(session, category_id)


@router.get(
    "/products",
    summary="Browse the catalogue",
    response_model=schemas.ProductPage,
    responses={**NOT_MODIFIED, **problem_responses(401, 422)},
)
async def list_products(
    request: Request,
    viewer: ViewerDep,
    filters: ProductFiltersDep,
    listing: PageSliceDep,
    conditional: ConditionalDep,
) -> schemas.ProductPage | Response:
    """Published products, filtered, searched and sorted, a page at a time, with the total and
    facet counts (categories, attribute values, in stock, price range) within the filters.
    Anonymous answers are cached (`Cache-Control: public, max-age=5`, `ETag`, 304)."""
    if viewer.anonymous:

        async def load(session: AsyncSession) -> CachedBytes:
            page = await _product_page(session, filters, listing)
            return CachedBytes(_PRODUCT_PAGE_JSON.dump_json(page), {"total": page.total})

        cached = await caching.lookup_products(request, filters, listing, load)
        set_page_links(request, conditional.response, listing, cached.meta["total"])
        return cached_answers.respond(cached, conditional)
    async with cached_answers.read_session(request) as session:  # a hit needs none
        page = await _product_page(session, filters, listing)
    set_page_links(request, conditional.response, listing, page.total)
    conditional.response.headers["Cache-Control"] = cached_answers.PRIVATE
    return page


async def _product_page(
    session: AsyncSession, filters: ProductFilters, listing: PageSlice
) -> schemas.ProductPage:
    items, total, facets = await product_service.page(session, filters, listing)
    return schemas.ProductPage.model_construct(
        items=items, total=total, page=listing.page, page_size=listing.page_size, facets=facets
    )


@router.post(
    "/products", status_code=201, summary="Create a product (staff)", responses=STAFF_WRITE
)
async def create_product(
    data: schemas.ProductCreate,
    response: Response,
    request: Request,
    session: SessionDep,
    staff: Staff,
) -> schemas.Product:
    """A product with its variants and images; its attributes must follow its category's
    attribute schema (409 with one error per attribute otherwise)."""
    product = await product_service.create(session, data)
    response.headers["Location"] = str(
        request.app.url_path_for("get_product", product=product.slug)
    )
    response.headers["ETag"] = product_etag(product)
    return product


@router.get(
    "/products/{product}",
    response_model=schemas.Product,
    summary="Get a product",
    responses={**NOT_MODIFIED, **problem_responses(404)},
)
async def get_product(
    key: ProductKey, request: Request, viewer: ViewerDep, conditional: ConditionalDep
) -> schemas.Product | Response:
    """A published product, by slug or id, with its variants (price, stock) and images; staff
    also see unpublished ones. `ETag`, and 304 to a current `If-None-Match`. Anonymous answers
    are cached (`Cache-Control: public, max-age=5`); every stock change is seen by the next."""
    if viewer.anonymous:

        async def load(session: AsyncSession) -> CachedBytes:
            product = await product_service.get(session, key, ANONYMOUS)
            return CachedBytes(_PRODUCT_JSON.dump_json(product), {"etag": product_etag(product)})

        cached = await caching.lookup_product(request, key, load)
        return cached_answers.respond(cached, conditional)
    async with cached_answers.read_session(request) as session:  # a hit needs none
        product = await product_service.get(session, key, viewer)
    conditional.response.headers["Cache-Control"] = cached_answers.PRIVATE
    if conditional.fresh(product_etag(product)):
        return conditional.not_modified()
    return product


@router.patch(
    "/products/{product}",
    summary="Change a product (staff)",
    responses={**STAFF_WRITE, **problem_responses(412)},
)
async def update_product(
    product_id: ProductId,
    data: schemas.ProductUpdate,
    session: SessionDep,
    staff: Staff,
    conditional: ConditionalDep,
) -> schemas.Product:
    """Merge semantics; `If-Match` guards against overwriting a newer version (412)."""
    conditional.check(product_etag(await product_service.detail(session, product_id)))
    product = await product_service.update(session, product_id, data)
    conditional.stamp(product_etag(product))
    return product


@router.delete(
    "/products/{product}",
    status_code=204,
    summary="Delete a product (staff)",
    responses=STAFF_WRITE,
)
async def delete_product(product_id: ProductId, session: SessionDep, staff: Staff) -> None:
    """Orders that sold it keep their lines (name, SKU and price were copied at checkout)."""
    await product_service.delete(session, product_id)


@router.post(
    "/products/{product_id}/variants",
    status_code=201,
    summary="Add a variant (staff)",
    responses=STAFF_WRITE,
)
async def add_variant(
    product_id: uuid.UUID, data: schemas.VariantCreate, session: SessionDep, staff: Staff
) -> schemas.Product:
    return await product_service.add_variant(session, product_id, data)


@router.patch(
    "/products/{product_id}/variants/{variant_id}",
    summary="Change a variant's price or stock (staff)",
    responses=STAFF_WRITE,
)
async def update_variant(
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    data: schemas.VariantUpdate,
    session: SessionDep,
    staff: Staff,
) -> schemas.Product:
    """A new price applies to carts at checkout; orders already placed keep theirs."""
    return await product_service.update_variant(session, product_id, variant_id, data)


@router.delete(
    "/products/{product_id}/variants/{variant_id}",
    status_code=204,
    summary="Delete a variant (staff)",
    responses=STAFF_WRITE,
)
async def delete_variant(
    product_id: uuid.UUID, variant_id: uuid.UUID, session: SessionDep, staff: Staff
) -> None:
    await product_service.delete_variant(session, product_id, variant_id)


@router.post(
    "/products/{product_id}/images",
    status_code=201,
    summary="Add an image (staff)",
    responses=STAFF_WRITE,
)
async def add_image(
    product_id: uuid.UUID, data: schemas.ImageCreate, session: SessionDep, staff: Staff
) -> schemas.Product:
    return await product_service.add_image(session, product_id, data)


@router.delete(
    "/products/{product_id}/images/{image_id}",
    status_code=204,
    summary="Remove an image (staff)",
    responses=STAFF_WRITE,
)
async def delete_image(
    product_id: uuid.UUID, image_id: uuid.UUID, session: SessionDep, staff: Staff
) -> None:
    await product_service.delete_image(session, product_id, image_id)


@router.get(
    "/staff/products/{product_id}",
    summary="Get a product by id (staff)",
    responses=problem_responses(401, 403, 404),
)
async def get_product_by_id(
    product_id: uuid.UUID, session: ReadSessionDep, staff: Staff
) -> schemas.Product:
    """Any product, published or not, with its stock: what the catalogue editor shows."""
    return await product_service.detail(session, product_id)
