"""Test helpers: run the real app under uvicorn on a free loopback port, in the test's own event loop; and
:func:`unavailable`, the one way a test says that something it needs is missing.

Running in the same loop lets the test and the server share one database pool; real sockets mean WebSocket and
HTTP tests exercise what users get.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
import uvicorn

from workspace.wsdirect import uvicorn_options

SKIP_GROUPS = ("PostgreSQL", "Redis", "OIDC provider", "browser", "local-llm", "LLM endpoint")
"""What a test may need that a machine may lack. ``make test`` ends with one line per group: how many tests skipped
for want of it, and why (``pytest_terminal_summary`` in tests/conftest.py)."""
REQUIRE_ALL = os.environ.get("CHORUS_TEST_REQUIRE_ALL", "") not in ("", "0")
"""CI sets it: then a missing PostgreSQL, Redis, OIDC provider, browser or local LLM fails the test."""


def skip_reason(group: str, why: str) -> str:
    """The skip reason of a test that lacks ``group`` (one of :data:`SKIP_GROUPS`): ``"<group>: <why>"``."""
    assert group in SKIP_GROUPS, group
    return f"{group}: {why}"


def unavailable(group: str, why: str, *, required: bool = False) -> NoReturn:
    """Skip this test for want of ``group``; fail it instead under CHORUS_TEST_REQUIRE_ALL (or ``required``: e.g. a
    server the environment names explicitly but that does not answer)."""
    __tracebackhide__ = True  # report the caller's line, not this one
    if required or REQUIRE_ALL:
        pytest.fail(f"{group} is required here (CHORUS_TEST_REQUIRE_ALL or an explicit setting) but {why}")
    pytest.skip(reason=skip_reason(group, why))


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
    options = uvicorn_options() if direct else {"ws": "websockets-sansio", "ws_per_message_deflate": False,
                                                "proxy_headers": False}
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_process(env: dict[str, str], log_path: Path, ready_s: float = 60) -> AsyncIterator[str]:
    """``chorus serve`` in its own process (a replica of the deployment ``env`` describes) on a free loopback port,
    its output in ``log_path``; yields its base URL once ``/readyz`` answers, and stops it (TERM, then KILL) after."""
    port = free_port()
    env = {**env, "CHORUS_PORT": str(port), "CHORUS_HOST": "127.0.0.1"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", "from workspace.app import main; main()", "serve"], env=env,
                                cwd=Path(__file__).resolve().parents[1], stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=2) as client:
                for _ in range(int(ready_s * 10)):
                    if proc.poll() is not None:
                        raise RuntimeError(f"chorus serve exited: {log_path.read_text()[-3000:]}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError(f"chorus serve did not become ready in {ready_s:.0f} s")
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
