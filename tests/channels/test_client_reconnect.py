"""The Python client keeps reconnecting through the handshake failures a restarting deployment produces (issue
10): a replica that drops the TCP connection before any HTTP answer (``InvalidMessage``) and one that refuses the
handshake with 403 because it closed the socket before accepting it (draining, or its database restarting during
the token lookup). Before, either ended the client's reader task silently: its posts timed out and its stream
stopped for good. A fake server stands in for the replicas, so these run without a database."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from channels.client import ChorusClient, ConnectionLost

HELLO = {"v": 1, "type": "hello", "member": "a", "kind": "agent", "max_message_bytes": 8192, "backlog": 1000,
         "may_post": True, "max_subscriptions": 1000}


class FakeReplica:
    """Says hello and answers pings; ``refuse`` handshakes are answered 403, and the first connection is closed
    with 1012 (a restart) right after hello when ``drop_first``."""

    def __init__(self, refuse: int = 0, drop_first: bool = False) -> None:
        self.refuse = refuse
        self.drop_first = drop_first
        self.accepted = 0
        self.refused = 0

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.accepted and self.refused < self.refuse:
            self.refused += 1
            return conn.respond(HTTPStatus.FORBIDDEN, "")
        return None

    async def handler(self, conn: ServerConnection) -> None:
        self.accepted += 1
        await conn.send(json.dumps(HELLO))
        if self.drop_first and self.accepted == 1:
            await conn.close(1012, "restarting")
            return
        async for raw in conn:
            frame = json.loads(raw)
            await conn.send(json.dumps({"v": 1, "type": "pong", "ref": frame.get("ref")}))


@contextlib.asynccontextmanager
async def fake(replica: FakeReplica) -> AsyncIterator[str]:
    async with serve(replica.handler, "127.0.0.1", 0, process_request=replica.process_request) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws"


@contextlib.asynccontextmanager
async def hangs_up() -> AsyncIterator[str]:
    """A listener that accepts TCP and closes it before any HTTP response (a replica dying mid-handshake)."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"
    finally:
        server.close()
        await server.wait_closed()


async def until(check: Any, limit_s: float = 10.0) -> None:
    for _ in range(int(limit_s / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not hold in time")


async def ping_until_it_fails(c: ChorusClient) -> None:
    """Ping until the client raises something other than a dropped connection (which a caller retries)."""
    for _ in range(500):
        with contextlib.suppress(ConnectionLost):
            await c.ping()
        await asyncio.sleep(0.02)


def client(urls: list[str], **kw: Any) -> ChorusClient:
    return ChorusClient(urls, token="t", backoff_initial=0.01, backoff_max=0.05, request_timeout=10.0, **kw)


async def test_a_hang_up_before_the_http_answer_is_retried_on_the_next_url() -> None:
    replica = FakeReplica()
    async with hangs_up() as bad, fake(replica) as good, client([bad, good]) as c:
        assert (await c.ping())["type"] == "pong"


async def test_reconnect_survives_hang_ups_and_403_refusals() -> None:
    replica = FakeReplica(refuse=3, drop_first=True)
    async with hangs_up() as bad, fake(replica) as good, client([good, bad]) as c:
        # the server restarts (1012); the reconnect meets a hang-up and three 403s, then is accepted again
        await until(lambda: c.reconnects == 1 and replica.accepted == 2)
        assert (await c.ping())["type"] == "pong"
        assert replica.refused == 3 and replica.accepted == 2 and c.reconnects == 1


async def test_the_first_connect_still_fails_fast_on_refused_credentials() -> None:
    replica = FakeReplica(refuse=1)
    replica.accepted = 1  # refuse the very first handshake
    async with fake(replica) as good:
        with pytest.raises(PermissionError):
            await client([good]).connect()


async def test_refusals_that_last_past_the_limit_end_the_client_and_callers_are_told() -> None:
    replica = FakeReplica(refuse=10_000, drop_first=True)
    async with fake(replica) as good, client([good], refused_retry_s=0.3) as c:
        with pytest.raises(PermissionError):  # when the reader gives up, a caller gets the reason, not a timeout
            await ping_until_it_fails(c)
        with pytest.raises(PermissionError):
            await c.ping()
        assert isinstance(await asyncio.wait_for(c._frames.get(), 5), PermissionError)


async def test_an_unexpected_reader_failure_is_reported_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    replica = FakeReplica(drop_first=True)
    async with fake(replica) as good, client([good]) as c:
        async def broken(reconnecting: bool = False) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(c, "_open", broken)
        with pytest.raises(RuntimeError, match="boom"):
            await ping_until_it_fails(c)
