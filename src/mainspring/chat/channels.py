"""The pub/sub channels of the chat, shared by the services that publish and the live hub.

- ``chat.room.<room id>``: what every member connected to the room sees (messages, edits,
  deletions, reactions, typing, read receipts, presence, membership changes).
- ``chat.user.<user id>``: what concerns one person on every instance (a room added or
  removed, a mention).
"""

from __future__ import annotations

import uuid

ROOM_PREFIX = "chat.room."
USER_PREFIX = "chat.user."


def room_channel(room_id: uuid.UUID | str) -> str:
    return f"{ROOM_PREFIX}{room_id}"


def user_channel(user_id: uuid.UUID | str) -> str:
    return f"{USER_PREFIX}{user_id}"
