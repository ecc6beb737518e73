"""Fixtures of the shop's tests: staff (a moderator) and customers, from the shared
``new_user`` factory of ``tests/fixtures/users.py``."""

from __future__ import annotations

import pytest

from mainspring.core.auth import Role
from tests.fixtures.users import NewUser, SignedInUser


@pytest.fixture
async def staff(new_user: NewUser) -> SignedInUser:
    return await new_user("stella", role=Role.MODERATOR)


@pytest.fixture
async def customer(new_user: NewUser) -> SignedInUser:
    return await new_user("carla")
