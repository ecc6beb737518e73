"""The order state machine: the only legal transitions, and who may make them.

```
pending_payment -> paid -> fulfilled -> shipped -> delivered
       |            |          |           |          |
       v            +----------+-----------+----------+--> refunded
   cancelled
```

- ``paid`` comes only from a payment (``payments/``), ``refunded`` only from a full refund.
- ``cancelled`` only before payment: by the customer, by staff, or by the reservation expiry
  (``background.py``); it gives the stock and the coupon use back. A paid order is refunded,
  not cancelled.
- staff move paid orders along ``fulfilled``, ``shipped``, ``delivered``.

Every change is one conditional ``UPDATE ... WHERE status = :current``: two requests racing to
move one order cannot both succeed.
"""

from __future__ import annotations

from typing import Literal

from mainspring.shop.errors import IllegalTransition

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_payment": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"fulfilled", "refunded"}),
    "fulfilled": frozenset({"shipped", "refunded"}),
    "shipped": frozenset({"delivered", "refunded"}),
    "delivered": frozenset({"refunded"}),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}

StaffTarget = Literal["fulfilled", "shipped", "delivered", "cancelled"]
"""The transitions staff make by hand; ``paid`` and ``refunded`` come from payments."""


def require_legal(current: str, target: str) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
