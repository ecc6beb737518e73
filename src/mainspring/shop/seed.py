"""Demo data for the shop: a category tree with attribute schemas, ``size`` products with
variants, stock and images, a welcome coupon, and a few paid orders so the reports have
something to show.

Everything goes through the services, so every rule holds (attributes validated against their
category, stock reserved by checkout, orders paid along the state machine).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.core.config import Settings
from mainspring.shop.cart.schemas import LineCreate
from mainspring.shop.cart.service import cart_service
from mainspring.shop.catalog import schemas as catalog
from mainspring.shop.catalog.attributes import AttributeSpec
from mainspring.shop.catalog.service import category_service, product_service
from mainspring.shop.coupons.schemas import CouponCreate
from mainspring.shop.coupons.service import coupon_service
from mainspring.shop.orders.schemas import CheckoutCreate
from mainspring.shop.orders.service import order_service

COLOURS = ["black", "white", "blue", "red", "green"]
SIZES = ["S", "M", "L", "XL"]
MATERIALS = ["cotton", "linen", "wool"]
TREE = {
    "clothing": (
        "Clothing",
        {"colour": AttributeSpec(values=COLOURS), "material": AttributeSpec(values=MATERIALS)},
        {"shirts": "Shirts", "jumpers": "Jumpers"},
    ),
    "home": (
        "Home",
        {"colour": AttributeSpec(values=COLOURS), "dishwasher_safe": AttributeSpec(type="boolean")},
        {"mugs": "Mugs", "lamps": "Lamps"},
    ),
}
ADJECTIVES = ("Classic", "Everyday", "Soft", "Sturdy", "Bright", "Quiet", "Northern", "Little")
NOUNS = {
    "shirts": "shirt",
    "jumpers": "jumper",
    "mugs": "mug",
    "lamps": "lamp",
}


async def seed_demo(
    session: AsyncSession, users: Sequence[User], rng: random.Random, size: int
) -> None:
    """``size`` products over the category tree, a coupon, and a few paid orders."""
    leaves: list[tuple[str, catalog.Category]] = []
    for slug, (name, schema, children) in TREE.items():
        parent = await category_service.create(
            session, catalog.CategoryCreate(slug=slug, name=name, attribute_schema=schema)
        )
        for child_slug, child_name in children.items():
            child = await category_service.create(
                session,
                catalog.CategoryCreate(slug=child_slug, name=child_name, parent_id=parent.id),
            )
            leaves.append((slug, child))
    variant_ids: list[uuid.UUID] = []
    for i in range(size):
        root, category = leaves[i % len(leaves)]
        noun = NOUNS[category.slug]
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(COLOURS)} {noun}"
        attributes: dict[str, str | float | bool] = {"colour": name.split()[1]}
        if root == "clothing":
            attributes["material"] = rng.choice(MATERIALS)
            sizes = SIZES
        else:
            attributes["dishwasher_safe"] = rng.random() < 0.5
            sizes = [""]
        base = rng.randrange(8, 120) * 100 - 1
        product = await product_service.create(
            session,
            catalog.ProductCreate(
                slug=f"{noun}-{i + 1}",
                name=name,
                description=f"A {name.lower()}, made to last. Demo product number {i + 1}.",
                category_id=category.id,
                currency="EUR",
                attributes=attributes,
                published=rng.random() < 0.95,
                variants=[
                    catalog.VariantCreate(
                        sku=f"{noun.upper()}-{i + 1}{'-' + s if s else ''}",
                        name=s,
                        price=base + (200 if s == "XL" else 0),
                        stock=rng.choice([0, 2, 5, 20, 100]),
                        options={"size": s} if s else {},
                    )
                    for s in sizes
                ],
                images=[catalog.ImageCreate(url=f"https://images.example.com/{noun}-{i + 1}.jpg")],
            ),
        )
        if product.published:
            variant_ids.extend(v.id for v in product.variants if v.stock >= 5)
    await coupon_service.create(
        session,
        CouponCreate(code="WELCOME10", kind="percent", value=10, max_uses_per_user=1),
    )
    settings = Settings()
    for user in list(users)[: min(len(users), 6)]:
        if not variant_ids:
            break
        for variant_id in rng.sample(variant_ids, k=min(2, len(variant_ids))):
            await cart_service.add_line(
                session, settings, user.id, None, LineCreate(variant_id=variant_id, quantity=1)
            )
        order = await order_service.checkout(
            session, settings, user.id, CheckoutCreate(), notify=False
        )
        if rng.random() < 0.8:
            entity = await order_service.entity(session, order.id)
            await order_service.mark_paid(session, entity, notify=False)
