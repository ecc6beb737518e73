"""Real-time chat: rooms, direct messages, history, presence, across several server instances.

- ``rooms/``: rooms (public, private), direct messages (one per pair) and small groups; members
  with roles (owner, moderator, member), invitations, joining, leaving, kicks and bans.
- ``messages/``: messages (persisted with a per-room sequence number, deduplicated by a
  client-generated id), edits, deletions, replies, reactions, mentions, history and search.
- ``live/``: the WebSocket protocol (``/api/v1/chat/ws``), presence, and the fan-out of live
  events through the kernel pub/sub.
- ``static/``: the web client served at ``/chat``.

docs/chat.md is the guide: the data model, the endpoints and every WebSocket message type.
"""
