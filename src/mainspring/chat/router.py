"""The chat's routes: REST under ``/api/v1/chat``, the WebSocket ``/api/v1/chat/ws``
(``mainspring/api.py`` includes each of ``routers``), and the web client at ``/chat``
(``page_router``, included by ``app.py`` outside the API prefix)."""

from __future__ import annotations

from fastapi import APIRouter

from mainspring.chat.live.client import router as page_router
from mainspring.chat.live.socket import chat_socket
from mainspring.chat.messages.router import router as messages_router
from mainspring.chat.rooms.router import router as rooms_router

socket_router = APIRouter()
socket_router.add_api_websocket_route("/chat/ws", chat_socket, name="chat_socket")
routers: tuple[APIRouter, ...] = (
    messages_router,  # /chat/rooms/{id}/messages... before /chat/rooms/{id}
    rooms_router,
    socket_router,
)
"""In the order ``mainspring/api.py`` includes them (each one itself: see there)."""

__all__ = ["page_router", "routers"]
