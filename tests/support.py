"""Test helpers: run the real app under uvicorn on a free loopback port, in the test's own event loop.

Running in the same loop lets the test and the server share one database pool; real sockets mean WebSocket and
HTTP tests exercise what users get.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from workspace.wsdirect import uvicorn_options


@dataclass
class LiveServer:
    app: Any
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30, **kwargs)


@contextlib.asynccontextmanager
async def live_server(app: Any, host: str = "127.0.0.1", port: int = 0, direct: bool = True
                      ) -> AsyncIterator[LiveServer]:
    """``direct=False`` serves WebSockets with uvicorn's stock sans-I/O protocol (fan-out through ASGI sends only)."""
    options = uvicorn_options() if direct else {"ws": "websockets-sansio", "ws_per_message_deflate": False}
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2, **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
            raise RuntimeError("the test server stopped during start-up")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(app=app, host=host, port=port)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
