"""Who is shop staff: the accounts roles ``moderator`` and ``admin`` (``core.auth.Role``).
Staff manage the catalogue, coupons and orders; everyone browses. Services ask ``is_staff``;
routes use ``deps.Staff``."""

from __future__ import annotations

from mainspring.core.auth import Principal, Role, Viewer

STAFF_ROLE = Role.MODERATOR
"""The least trusted role that counts as shop staff (admins are staff too)."""


def is_staff(who: Principal | Viewer | None) -> bool:
    principal = who.principal if isinstance(who, Viewer) else who
    return principal is not None and principal.has_role(STAFF_ROLE)
