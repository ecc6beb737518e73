"""Demo data for the chat: public rooms everyone is in, a private staff room, a direct
conversation, and ``size`` messages spread over them.

Rows are written directly (a seed session has no pub/sub to announce anything to), keeping
what the services keep: each room's messages are numbered 1..n and its ``last_seq`` is n,
bodies come with their rendered HTML, senders are members, read marks lie within 0..n.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.chat.models import Member, Message, Room
from mainspring.core.db import utcnow, uuid7
from mainspring.core.markdown import render_markdown

LINES = (
    "Good morning!",
    "Has anyone tried the **new build**?",
    "Deploy is done, all green.",
    "Lunch at noon?",
    "See the docs: `docs/chat.md`",
    "I'll take that one.",
    "Can someone review my change?",
    "Thanks, looks good to me.",
    "Back in 10 minutes.",
    "_Reminder_: retro at 4pm.",
)


async def seed_demo(
    session: AsyncSession, users: Sequence[User], rng: random.Random, size: int
) -> None:
    """Rooms for the demo users and ``size`` messages."""
    if len(users) < 2:
        return
    staff = [u for u in users if u.role in ("moderator", "admin")] or list(users[:2])
    demo = users[0]
    rooms: list[tuple[Room, list[User]]] = [
        (Room(id=uuid7(), kind="public", name="general", topic="Everything"), list(users)),
        (Room(id=uuid7(), kind="public", name="random", topic="Off topic"), list(users[::2])),
        (Room(id=uuid7(), kind="private", name="staff", topic="Moderators"), [demo, *staff]),
    ]
    other = users[1]
    low, high = sorted((demo.id, other.id), key=str)
    direct = Room(
        id=uuid7(),
        kind="direct",
        name=", ".join(sorted((demo.username, other.username), key=str.lower)),
        direct_key=f"{low}:{high}",
    )
    rooms.append((direct, [demo, other]))
    for room, members in rooms:
        room.created_by_id = members[0].id
        session.add(room)
    await session.flush()
    counts = {room.id: 0 for room, _ in rooms}
    start = utcnow() - timedelta(minutes=size + 1)
    for i in range(size):
        room, members = rooms[rng.randrange(len(rooms))]
        counts[room.id] += 1
        body = rng.choice(LINES)
        session.add(
            Message(
                room_id=room.id,
                seq=counts[room.id],
                sender_id=rng.choice(members).id,
                client_id=f"seed-{i}",
                body=body,
                body_html=render_markdown(body),
                created_at=start + timedelta(minutes=i),
            )
        )
    for room, members in rooms:
        room.last_seq = counts[room.id]
        seen: set[object] = set()
        for index, user in enumerate(members):
            if user.id in seen:
                continue
            seen.add(user.id)
            role = "owner" if index == 0 or room.kind == "direct" else "member"
            session.add(
                Member(
                    room_id=room.id,
                    user_id=user.id,
                    role=role,
                    last_read_seq=rng.randint(0, room.last_seq),
                )
            )
    await session.flush()
