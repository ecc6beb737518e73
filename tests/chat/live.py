"""A real server for the WebSocket tests, and a small client of the chat protocol."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

WAIT_SECONDS = 10.0


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """``app`` (already started) served by uvicorn on a free port, in the test's event loop;
    yields ``ws://127.0.0.1:<port>``."""
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", log_config=None, ws_per_message_deflate=False
    )  # as `mainspring serve` runs it
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        listening.close()


class ChatClient:
    """One socket: ``await expect("ack")`` returns the next message of that type, keeping the
    others it reads on the way in ``seen``."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.seen: list[dict[str, Any]] = []

    async def send(self, **message: Any) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(
            await asyncio.wait_for(self.socket.recv(), WAIT_SECONDS)
        )
        return message

    async def expect(self, kind: str, **match: Any) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
                return message
            self.seen.append(message)

    async def messages(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` ``message`` events' messages (other events are kept in ``seen``)."""
        return [(await self.expect("message"))["message"] for _ in range(count)]


@asynccontextmanager
async def chat(base: str, token: str, **kwargs: Any) -> AsyncIterator[ChatClient]:
    """A signed-in socket, past its ``ready`` message."""
    async with connect(
        f"{base}/api/v1/chat/ws",
        additional_headers={"Authorization": f"Bearer {token}"},
        **kwargs,
    ) as socket:
        client = ChatClient(socket)
        assert (await client.receive())["type"] == "ready"
        yield client
