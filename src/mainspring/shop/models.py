"""The shop's tables: the catalogue (categories, products, variants, images), carts, coupons,
orders and payments.

Money is an integer amount of minor units (cents) with its ISO 4217 currency, never a float.
Stock lives on the variant and only ever changes through one conditional ``UPDATE`` (see
``orders/repository.py``), guarded by a ``CHECK (stock >= 0)`` as the last line of defence.
Product attributes are a JSON document (JSONB with a GIN index on PostgreSQL), validated
against the category's attribute schema on the way in. Full-text search over products cannot
be declared here (SQLite FTS5 table and triggers, a PostgreSQL GIN expression index): the
migration creates it and ``register_unmanaged`` hides it from autogenerate.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mainspring.core.db import (
    Base,
    IdMixin,
    JSONDocument,
    TimestampMixin,
    register_unmanaged,
    utcnow,
)

SEARCH_PREFIX = "shop_products_fts"
"""Name prefix of the hand-made search objects (FTS5 table and triggers, the GIN index)."""
ATTRIBUTES_INDEX = "shop_products_attributes_gin"
"""The GIN index (jsonb_path_ops) on product attributes, PostgreSQL only: made by the migration."""
register_unmanaged(SEARCH_PREFIX, ATTRIBUTES_INDEX)

ORDER_STATUSES = (
    "pending_payment",
    "paid",
    "fulfilled",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
)
PAYMENT_STATUSES = ("pending", "succeeded", "failed", "cancelled")
COUPON_KINDS = ("percent", "fixed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Category(IdMixin, TimestampMixin, Base):
    """A node of the category tree. ``path`` is the materialised path of slugs
    (``/clothing/shirts/``): a subtree is ``path LIKE '/clothing/%'``, one index range scan.
    ``attribute_schema`` declares the attributes its products carry (see catalog/attributes.py).
    """

    __tablename__ = "shop_categories"

    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("shop_categories.id"), default=None, index=True
    )
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    attribute_schema: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class Product(IdMixin, TimestampMixin, Base):
    """A product, sold as one or more variants. ``price_from`` (the cheapest variant's price),
    ``in_stock`` and ``sold_count`` are kept by the service so that the catalogue sorts and
    filters on indexed columns of one table."""

    __tablename__ = "shop_products"
    __table_args__ = (
        Index("ix_shop_products_listing_price", "published", "price_from"),
        Index("ix_shop_products_listing_created", "published", "created_at"),
        Index("ix_shop_products_listing_sold", "published", "sold_count"),
    )

    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shop_categories.id", ondelete="RESTRICT"), index=True
    )
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    published: Mapped[bool] = mapped_column(default=False)
    currency: Mapped[str] = mapped_column(String(3))
    price_from: Mapped[int | None] = mapped_column(Integer, default=None)
    in_stock: Mapped[bool] = mapped_column(default=False)
    sold_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Variant(IdMixin, TimestampMixin, Base):
    """A sellable unit: SKU, price in minor units of the product's currency, stock."""

    __tablename__ = "shop_variants"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock"),
        CheckConstraint("price >= 0", name="price"),
        # Low-stock report.
        Index("ix_shop_variants_stock", "stock"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shop_products.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    price: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class ProductImage(IdMixin, Base):
    """An image of a product, by URL, in display order."""

    __tablename__ = "shop_product_images"
    __table_args__ = (Index("ix_shop_product_images_product", "product_id", "position"),)

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shop_products.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(String(2048))
    alt: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Cart(IdMixin, TimestampMixin, Base):
    """A cart: a signed-in user's (``user_id``) or a guest's (``token_hash``, the SHA-256 of
    the opaque token the guest holds). It expires ``expires_at``; every change extends it."""

    __tablename__ = "shop_carts"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (token_hash IS NULL)", name="owner"),
        Index("ix_shop_carts_expires_at", "expires_at"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, default=None
    )
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    expires_at: Mapped[datetime] = mapped_column()


class CartLine(IdMixin, Base):
    """A variant and a quantity in a cart. No price: prices are read at checkout."""

    __tablename__ = "shop_cart_lines"
    __table_args__ = (
        UniqueConstraint("cart_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity"),
    )

    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shop_carts.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shop_variants.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Coupon(IdMixin, TimestampMixin, Base):
    """A discount code: ``percent`` (value 1-100) or ``fixed`` (value in minor units of
    ``currency``), valid between ``starts_at`` and ``ends_at``, with optional limits in total
    and per user. ``used_count`` only grows through a conditional ``UPDATE``."""

    __tablename__ = "shop_coupons"
    __table_args__ = (
        CheckConstraint(_in("kind", COUPON_KINDS), name="kind"),
        CheckConstraint("used_count >= 0", name="used_count"),
    )

    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    starts_at: Mapped[datetime | None] = mapped_column(default=None)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    max_uses: Mapped[int | None] = mapped_column(Integer, default=None)
    max_uses_per_user: Mapped[int | None] = mapped_column(Integer, default=None)
    used_count: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=True)


class CouponUse(Base):
    """How many times a user has used a coupon: the per-user limit is one conditional upsert."""

    __tablename__ = "shop_coupon_uses"

    coupon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shop_coupons.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    uses: Mapped[int] = mapped_column(Integer, default=0)


class Order(IdMixin, TimestampMixin, Base):
    """An order: its lines' prices were copied from the catalogue at checkout. ``status``
    changes only along the state machine (orders/states.py), by conditional ``UPDATE``.
    ``reserved_until``: the stock is held until then for the payment to arrive."""

    __tablename__ = "shop_orders"
    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        Index("ix_shop_orders_user_created", "user_id", "created_at"),
        Index("ix_shop_orders_status_created", "status", "created_at"),
        # Revenue reports scan paid orders by payment time.
        Index("ix_shop_orders_paid_at", "paid_at"),
        Index("ix_shop_orders_reserved_until", "status", "reserved_until"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(24), default="pending_payment")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(Integer)
    discount: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("shop_coupons.id", ondelete="SET NULL"), default=None
    )
    email: Mapped[str] = mapped_column(String(254))
    reserved_until: Mapped[datetime | None] = mapped_column(default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


class OrderLine(IdMixin, Base):
    """A line of an order, with the product's name and price as they were at checkout."""

    __tablename__ = "shop_order_lines"
    __table_args__ = (
        Index("ix_shop_order_lines_order", "order_id"),
        Index("ix_shop_order_lines_product", "product_id"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shop_orders.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("shop_variants.id", ondelete="SET NULL"), default=None
    )
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("shop_products.id", ondelete="SET NULL"), default=None
    )
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(330))
    unit_price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(Integer)


class Payment(IdMixin, TimestampMixin, Base):
    """A payment attempt for an order through a provider (``manual``, ``stripe``).
    ``provider_ref`` is the provider's id (a PaymentIntent id)."""

    __tablename__ = "shop_payments"
    __table_args__ = (
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        UniqueConstraint("provider", "provider_ref"),
        Index("ix_shop_payments_order", "order_id"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shop_orders.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)
    client_secret: Mapped[str | None] = mapped_column(String(255), default=None)


class Refund(IdMixin, Base):
    """A full or partial refund of a payment."""

    __tablename__ = "shop_refunds"
    __table_args__ = (Index("ix_shop_refunds_payment", "payment_id"),)

    payment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shop_payments.id", ondelete="CASCADE")
    )
    amount: Mapped[int] = mapped_column(Integer)
    provider_ref: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """A provider event already processed: its id is the key, so a redelivered event is a
    no-op (``INSERT ... ON CONFLICT DO NOTHING``)."""

    __tablename__ = "shop_webhook_events"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
