"""The shop's domain errors, each with its HTTP status and a stable ``code``.

Someone else's order, cart line or payment answers 404, never 403: a customer cannot even learn
that it exists. 409 is for a request the current state refuses (no stock left, an illegal
order transition, a spent coupon, attributes the category's schema refuses, a payment provider
this deployment has not configured), and for an id or code in the body that names nothing
(``Unknown*``: the URL's resource exists, so not a 404); 422 only for a request that breaks the
OpenAPI document.
"""

from __future__ import annotations

from mainspring.core.errors import (
    BadRequest,
    Conflict,
    NotFound,
    ServiceUnavailable,
    UnknownReference,
)


class CategoryNotFound(NotFound):
    code = "category-not-found"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "No category has this id or slug.")


class ProductNotFound(NotFound):
    code = "product-not-found"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "No product has this id or slug.")


class VariantNotFound(NotFound):
    code = "variant-not-found"

    def __init__(self) -> None:
        super().__init__("No published product variant has this id.")


class ImageNotFound(NotFound):
    code = "image-not-found"

    def __init__(self) -> None:
        super().__init__("The product has no image with this id.")


class CartLineNotFound(NotFound):
    code = "cart-line-not-found"

    def __init__(self) -> None:
        super().__init__("Your cart has no line with this id.")


class CartNotFound(NotFound):
    code = "cart-not-found"

    def __init__(self) -> None:
        super().__init__("No cart has this token, or it expired.")


class OrderNotFound(NotFound):
    code = "order-not-found"

    def __init__(self) -> None:
        super().__init__("The order does not exist or is not yours.")


class PaymentNotFound(NotFound):
    code = "payment-not-found"

    def __init__(self) -> None:
        super().__init__("The order has no payment with this id.")


class CouponNotFound(NotFound):
    code = "coupon-not-found"

    def __init__(self) -> None:
        super().__init__("No coupon has this code.")


class SlugTaken(Conflict):
    code = "slug-taken"


class SkuTaken(Conflict):
    code = "sku-taken"

    def __init__(self) -> None:
        super().__init__("Another variant already has this SKU.")


class CouponCodeTaken(Conflict):
    code = "coupon-code-taken"

    def __init__(self) -> None:
        super().__init__("Another coupon already has this code.")


class CategoryInUse(Conflict):
    code = "category-in-use"

    def __init__(self) -> None:
        super().__init__("The category still has sub-categories or products.")


class CategoryCycle(Conflict):
    code = "category-cycle"

    def __init__(self) -> None:
        super().__init__("A category cannot be moved under itself or one of its descendants.")


class InvalidAttributes(Conflict):
    """Product attributes that the category's attribute schema refuses: the request is well
    formed, the category's current schema refuses it (so 409, with one error per attribute)."""

    code = "invalid-attributes"


class CurrencyMismatch(Conflict):
    code = "currency-mismatch"


class CartEmpty(Conflict):
    code = "cart-empty"

    def __init__(self) -> None:
        super().__init__("Your cart is empty: add a product before checking out.")


class CartTooLarge(Conflict):
    code = "cart-too-large"


class OutOfStock(Conflict):
    """Not enough stock for a line: nothing was reserved and no order was made."""

    code = "out-of-stock"


class Unavailable(Conflict):
    """A cart line whose product was unpublished since it was added."""

    code = "product-unavailable"


class IllegalTransition(Conflict):
    code = "illegal-transition"

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"An order that is {current} cannot become {target}.")


class CouponInvalid(Conflict):
    """A coupon that exists but cannot be used now: expired, not yet valid, inactive, its
    limits reached, or in another currency."""

    code = "coupon-invalid"


class PaymentRefused(Conflict):
    code = "payment-refused"


class RefundTooLarge(Conflict):
    code = "refund-too-large"


class ProviderNotConfigured(Conflict):
    """A provider this deployment has not configured (e.g. `stripe` without its secret key)."""

    code = "payment-provider-not-configured"


class WebhookNotConfigured(NotFound):
    """A webhook endpoint whose signing secret is not set: it does not exist here."""

    code = "webhook-not-configured"


class ProviderUnavailable(ServiceUnavailable):
    """The payment provider could not be reached or answered an error: try again later."""

    code = "payment-provider-unavailable"


class InvalidSignature(BadRequest):
    code = "invalid-webhook-signature"

    def __init__(self, detail: str = "The webhook signature does not verify.") -> None:
        super().__init__(detail)


class InvalidWindow(BadRequest):
    code = "invalid-report-window"

    def __init__(self) -> None:
        super().__init__("`since` must be before `until`, at most three years apart.")


class InvalidCouponWindow(BadRequest):
    code = "invalid-coupon-window"

    def __init__(self) -> None:
        super().__init__("`ends_at` must be after `starts_at`.")


# --- ids and codes in a request body that name nothing (409) --------------------------------


class UnknownVariant(UnknownReference):
    code = "unknown-variant"

    def __init__(self) -> None:
        super().__init__("body.variant_id", "No published product variant has this id.")


class UnknownCategory(UnknownReference):
    code = "unknown-category"

    def __init__(self) -> None:
        super().__init__("body.parent_id", "No category has this id.")


class UnknownCoupon(UnknownReference):
    code = "unknown-coupon"

    def __init__(self) -> None:
        super().__init__("body.coupon_code", "No coupon has this code.")
