"""Shop: catalogue (categories, products, variants, images), carts, coupons, orders, payments.

Hand-made, outside the models (their name prefixes are registered as unmanaged): product
search (SQLite FTS5 table ``shop_products_fts`` kept by triggers; PostgreSQL GIN expression
index ``shop_products_fts_gin``) and, on PostgreSQL, the GIN index ``shop_products_attributes_gin``
(``jsonb_path_ops``) that serves attribute containment filters.

Revision ID: 0015_shop
Revises: 0014_todo
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mainspring.core.db

revision: str = "0015_shop"
down_revision: str | None = "0014_todo"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


POSTGRES_INDEXES = (
    """CREATE INDEX shop_products_fts_gin ON shop_products
    USING gin (to_tsvector('simple', name || ' ' || description))""",
    """CREATE INDEX shop_products_attributes_gin ON shop_products
    USING gin (attributes jsonb_path_ops)""",
)
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE shop_products_fts USING fts5(name, description)",
    """CREATE TRIGGER shop_products_fts_insert AFTER INSERT ON shop_products BEGIN
        INSERT INTO shop_products_fts (rowid, name, description)
        VALUES (new.rowid, new.name, new.description);
    END""",
    """CREATE TRIGGER shop_products_fts_update AFTER UPDATE OF name, description ON shop_products
    BEGIN
        UPDATE shop_products_fts SET name = new.name, description = new.description
        WHERE rowid = old.rowid;
    END""",
    """CREATE TRIGGER shop_products_fts_delete AFTER DELETE ON shop_products BEGIN
        DELETE FROM shop_products_fts WHERE rowid = old.rowid;
    END""",
)


def _create_unmanaged() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_INDEXES:
            op.execute(statement)
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)


def _drop_unmanaged() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS shop_products_attributes_gin")
        op.execute("DROP INDEX IF EXISTS shop_products_fts_gin")
    else:
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS shop_products_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS shop_products_fts")


def upgrade() -> None:
    op.create_table(
        "shop_categories",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("attribute_schema", mainspring.core.db.JSONDocument, nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["shop_categories.id"],
            name=op.f("fk_shop_categories_parent_id_shop_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_categories")),
        sa.UniqueConstraint("path", name=op.f("uq_shop_categories_path")),
        sa.UniqueConstraint("slug", name=op.f("uq_shop_categories_slug")),
    )
    with op.batch_alter_table("shop_categories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shop_categories_parent_id"), ["parent_id"], unique=False
        )

    op.create_table(
        "shop_coupons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("starts_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("max_uses_per_user", sa.Integer(), nullable=True),
        sa.Column("used_count", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('percent', 'fixed')", name=op.f("ck_shop_coupons_kind")),
        sa.CheckConstraint("used_count >= 0", name=op.f("ck_shop_coupons_used_count")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_shop_coupons_code")),
    )
    op.create_table(
        "shop_webhook_events",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("received_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name=op.f("pk_shop_webhook_events")),
    )
    op.create_table(
        "shop_carts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (token_hash IS NULL)", name=op.f("ck_shop_carts_owner")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_shop_carts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_carts")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_shop_carts_token_hash")),
        sa.UniqueConstraint("user_id", name=op.f("uq_shop_carts_user_id")),
    )
    with op.batch_alter_table("shop_carts", schema=None) as batch_op:
        batch_op.create_index("ix_shop_carts_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "shop_coupon_uses",
        sa.Column("coupon_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["shop_coupons.id"],
            name=op.f("fk_shop_coupon_uses_coupon_id_shop_coupons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_shop_coupon_uses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("coupon_id", "user_id", name=op.f("pk_shop_coupon_uses")),
    )
    op.create_table(
        "shop_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", sa.Integer(), nullable=False),
        sa.Column("discount", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("reserved_until", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paid_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refunded_amount", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending_payment', 'paid', 'fulfilled', 'shipped', 'delivered', "
            "'cancelled', 'refunded')",
            name=op.f("ck_shop_orders_status"),
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["shop_coupons.id"],
            name=op.f("fk_shop_orders_coupon_id_shop_coupons"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_shop_orders_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_orders")),
    )
    with op.batch_alter_table("shop_orders", schema=None) as batch_op:
        batch_op.create_index("ix_shop_orders_paid_at", ["paid_at"], unique=False)
        batch_op.create_index(
            "ix_shop_orders_reserved_until", ["status", "reserved_until"], unique=False
        )
        batch_op.create_index(
            "ix_shop_orders_status_created", ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_shop_orders_user_created", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "shop_products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("attributes", mainspring.core.db.JSONDocument, nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price_from", sa.Integer(), nullable=True),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.Column("sold_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["shop_categories.id"],
            name=op.f("fk_shop_products_category_id_shop_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_products")),
        sa.UniqueConstraint("slug", name=op.f("uq_shop_products_slug")),
    )
    with op.batch_alter_table("shop_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shop_products_category_id"), ["category_id"], unique=False
        )
        batch_op.create_index(
            "ix_shop_products_listing_created", ["published", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_shop_products_listing_price", ["published", "price_from"], unique=False
        )
        batch_op.create_index(
            "ix_shop_products_listing_sold", ["published", "sold_count"], unique=False
        )

    op.create_table(
        "shop_payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_ref", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refunded_amount", sa.Integer(), nullable=False),
        sa.Column("client_secret", sa.String(length=255), nullable=True),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_shop_payments_status"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop_orders.id"],
            name=op.f("fk_shop_payments_order_id_shop_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_payments")),
        sa.UniqueConstraint(
            "provider", "provider_ref", name=op.f("uq_shop_payments_provider_provider_ref")
        ),
    )
    with op.batch_alter_table("shop_payments", schema=None) as batch_op:
        batch_op.create_index("ix_shop_payments_order", ["order_id"], unique=False)

    op.create_table(
        "shop_product_images",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("alt", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["shop_products.id"],
            name=op.f("fk_shop_product_images_product_id_shop_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_product_images")),
    )
    with op.batch_alter_table("shop_product_images", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shop_product_images_product", ["product_id", "position"], unique=False
        )

    op.create_table(
        "shop_variants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("options", mainspring.core.db.JSONDocument, nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price >= 0", name=op.f("ck_shop_variants_price")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_shop_variants_stock")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["shop_products.id"],
            name=op.f("fk_shop_variants_product_id_shop_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_variants")),
        sa.UniqueConstraint("sku", name=op.f("uq_shop_variants_sku")),
    )
    with op.batch_alter_table("shop_variants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shop_variants_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index("ix_shop_variants_stock", ["stock"], unique=False)

    op.create_table(
        "shop_cart_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cart_id", sa.Uuid(), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shop_cart_lines_quantity")),
        sa.ForeignKeyConstraint(
            ["cart_id"],
            ["shop_carts.id"],
            name=op.f("fk_shop_cart_lines_cart_id_shop_carts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["shop_variants.id"],
            name=op.f("fk_shop_cart_lines_variant_id_shop_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_cart_lines")),
        sa.UniqueConstraint(
            "cart_id", "variant_id", name=op.f("uq_shop_cart_lines_cart_id_variant_id")
        ),
    )
    with op.batch_alter_table("shop_cart_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shop_cart_lines_variant_id"), ["variant_id"], unique=False
        )

    op.create_table(
        "shop_order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=True),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=330), nullable=False),
        sa.Column("unit_price", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("line_total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop_orders.id"],
            name=op.f("fk_shop_order_lines_order_id_shop_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["shop_products.id"],
            name=op.f("fk_shop_order_lines_product_id_shop_products"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["shop_variants.id"],
            name=op.f("fk_shop_order_lines_variant_id_shop_variants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_order_lines")),
    )
    with op.batch_alter_table("shop_order_lines", schema=None) as batch_op:
        batch_op.create_index("ix_shop_order_lines_order", ["order_id"], unique=False)
        batch_op.create_index("ix_shop_order_lines_product", ["product_id"], unique=False)

    op.create_table(
        "shop_refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("provider_ref", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["shop_payments.id"],
            name=op.f("fk_shop_refunds_payment_id_shop_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_refunds")),
    )
    with op.batch_alter_table("shop_refunds", schema=None) as batch_op:
        batch_op.create_index("ix_shop_refunds_payment", ["payment_id"], unique=False)

    _create_unmanaged()


def downgrade() -> None:
    _drop_unmanaged()
    with op.batch_alter_table("shop_refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_refunds_payment")

    op.drop_table("shop_refunds")
    with op.batch_alter_table("shop_order_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_order_lines_product")
        batch_op.drop_index("ix_shop_order_lines_order")

    op.drop_table("shop_order_lines")
    with op.batch_alter_table("shop_cart_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_cart_lines_variant_id"))

    op.drop_table("shop_cart_lines")
    with op.batch_alter_table("shop_variants", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_variants_stock")
        batch_op.drop_index(batch_op.f("ix_shop_variants_product_id"))

    op.drop_table("shop_variants")
    with op.batch_alter_table("shop_product_images", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_product_images_product")

    op.drop_table("shop_product_images")
    with op.batch_alter_table("shop_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_payments_order")

    op.drop_table("shop_payments")
    with op.batch_alter_table("shop_products", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_products_listing_sold")
        batch_op.drop_index("ix_shop_products_listing_price")
        batch_op.drop_index("ix_shop_products_listing_created")
        batch_op.drop_index(batch_op.f("ix_shop_products_category_id"))

    op.drop_table("shop_products")
    with op.batch_alter_table("shop_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_orders_user_created")
        batch_op.drop_index("ix_shop_orders_status_created")
        batch_op.drop_index("ix_shop_orders_reserved_until")
        batch_op.drop_index("ix_shop_orders_paid_at")

    op.drop_table("shop_orders")
    op.drop_table("shop_coupon_uses")
    with op.batch_alter_table("shop_carts", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_carts_expires_at")

    op.drop_table("shop_carts")
    op.drop_table("shop_webhook_events")
    op.drop_table("shop_coupons")
    with op.batch_alter_table("shop_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_categories_parent_id"))

    op.drop_table("shop_categories")
