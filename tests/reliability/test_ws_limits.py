"""WebSocket limits over real sockets (SQLite, memory broker): a client subscribing to thousands of channels hits
the per-connection cap with a typed error and keeps what it has; a client that stops reading is sent ``resync``
when its bounded backlog overflows while readers beside it get every message, and it then resumes losing nothing.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from channels import protocol
from channels import services as ch
from tests.channels.wshelp import raw_socket, recv_until, running, send, setup
from workspace import audit
from workspace.db import Database

CHANNELS = 1200


async def test_subscribing_to_thousands_of_channels_hits_the_cap_and_nothing_else_breaks(
        sqlite_db: Database, tmp_path: Path) -> None:
    w, first, (greedy, other) = await setup()
    internal = w.system.scheme.parse("internal")
    async with sqlite_db.transaction():  # one write transaction: the channels are set-up, not the subject
        channels = [first] + [await ch.create_channel(w.system, f"many-{i:04d}", "", internal)
                              for i in range(CHANNELS - 1)]
    limit = protocol.MAX_SUBSCRIPTIONS
    async with running(sqlite_db, tmp_path, "memory://") as server:
        ws = await raw_socket(server, greedy.headers)
        for i, channel in enumerate(channels):  # pipelined, as a greedy client would
            await send(ws, {"type": "subscribe", "channel": channel["id"], "after_seq": 0, "ref": f"s{i}"})
        answers: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(120):
            while len(answers) < len(channels):
                frame = json.loads(await ws.recv())
                if frame["type"] in ("subscribed", "error"):
                    answers[frame["ref"]] = frame
        kinds = [answers[f"s{i}"]["type"] for i in range(len(channels))]
        assert kinds == ["subscribed"] * limit + ["error"] * (len(channels) - limit), "the first 1,000 succeed"
        refused = answers[f"s{limit}"]
        assert refused["code"] == "too_many_subscriptions" and refused["limit"] == limit
        assert f"{limit}" in refused["message"] and "unsubscribe" in refused["message"]

        # the socket is open and its existing subscriptions still deliver
        await ch.post_message(greedy.actor, first["id"], "still here", "k1")
        message = await recv_until(ws, "message")
        assert (message["channel"], message["seq"]) == (first["id"], 1)
        # the limit is on channels followed at once: after an unsubscribe, a refused channel can be followed
        await send(ws, {"type": "unsubscribe", "channel": channels[1]["id"], "ref": "u1"})
        assert (await recv_until(ws, "unsubscribed"))["channel"] == channels[1]["id"]
        await send(ws, {"type": "subscribe", "channel": channels[-1]["id"], "ref": "late"})
        assert (await recv_until(ws, "subscribed"))["ref"] == "late"

        # another client on the same replica is unaffected, and the replica is ready
        peer = await raw_socket(server, other.headers)
        await send(ws, {"type": "ping", "ref": "p"})
        await recv_until(ws, "pong")
        await send(peer, {"type": "subscribe", "channel": first["id"], "after_seq": 0, "ref": "peer"})
        await recv_until(peer, "subscribed")
        assert (await recv_until(peer, "message"))["message"]["body"] == "still here"
        async with server.client() as http:
            assert (await http.get("/readyz")).json() == {"status": "ready"}
        await ws.close()
        await peer.close()
    assert (await audit.verify()).ok


async def _small_buffer_socket(server_url: str, headers: dict[str, str]) -> ClientConnection:
    """A client socket with a 4 KiB receive buffer and a one-frame queue: when it stops reading, the server's
    sends block after a few hundred KiB instead of disappearing into kernel buffers."""
    host, port = server_url.removeprefix("ws://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    ws = await websockets.connect(f"{server_url}/ws", sock=sock, additional_headers=headers, compression=None,
                                  max_queue=1)
    assert json.loads(await ws.recv())["type"] == "hello"
    return ws


async def _read_all(ws: ClientConnection, channel_id: int, total: int, sent_at: dict[int, float],
                    latencies: list[float]) -> list[int]:
    seen: list[int] = []
    resyncs = 0
    while not seen or seen[-1] < total:
        frame = json.loads(await ws.recv())
        if frame["type"] == "message" and frame["channel"] == channel_id:
            seen.append(frame["seq"])
            latencies.append(time.monotonic() - sent_at.get(frame["seq"], time.monotonic()))
        elif frame["type"] == "resync":
            resyncs += 1
    assert resyncs == 0, "a reader that keeps up is never asked to resync"
    return seen


async def test_a_reader_that_stops_reading_gets_resync_and_never_slows_the_others(sqlite_db: Database,
                                                                                  tmp_path: Path) -> None:
    _, channel, agents = await setup(n=5)
    poster, slow_agent, fast = agents[0], agents[1], agents[2:]
    total, body = 300, "z" * 40_000  # 12 MB: far more than a stalled socket's buffers hold
    latencies: list[float] = []
    sent_at: dict[int, float] = {}
    async with running(sqlite_db, tmp_path, "memory://", CHORUS_WS_BACKLOG="8",
                       CHORUS_MAX_MESSAGE_BYTES="65536") as server:
        slow = await _small_buffer_socket(server.ws_url, slow_agent.headers)
        await send(slow, {"type": "subscribe", "channel": channel["id"], "after_seq": 0, "ref": "slow"})
        assert (await recv_until(slow, "subscribed"))["ref"] == "slow"
        readers: list[ClientConnection] = []
        for agent in fast:
            ws = await raw_socket(server, agent.headers)
            await send(ws, {"type": "subscribe", "channel": channel["id"], "after_seq": 0})
            await recv_until(ws, "subscribed")
            readers.append(ws)
        reading = [asyncio.create_task(_read_all(ws, channel["id"], total, sent_at, latencies)) for ws in readers]
        posting = await raw_socket(server, poster.headers)
        for i in range(1, total + 1):  # posted over the protocol, one ack at a time, while the slow one sleeps
            await send(posting, {"type": "post", "channel": channel["id"], "body": body, "client_msg_id": f"b{i}"})
            ack = await recv_until(posting, "ack")
            sent_at[ack["seq"]] = time.monotonic()
        async with asyncio.timeout(120):
            streams = await asyncio.gather(*reading)
        # the fast readers have everything, in order, once, while the slow one has not read a single frame yet
        assert all(s == list(range(1, total + 1)) for s in streams)

        seen, resyncs = await _resume_slow(slow, channel["id"], total)
        for ws in [*readers, posting, slow]:
            await ws.close()
    latencies.sort()
    print(f"fast readers: {len(latencies)} deliveries, p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms; slow reader: {resyncs} resync(s)")
    assert resyncs >= 1, "the slow reader's bounded backlog overflowed, so the server asked it to resync"
    assert seen == list(range(1, total + 1)), "after resync the slow reader has every seq exactly once"
    stored = await ch.read_messages(channel, after_seq=0, limit=1000)
    assert [m["seq"] for m in stored] == list(range(1, total + 1))


async def _resume_slow(ws: ClientConnection, channel_id: int, total: int) -> tuple[list[int], int]:
    """Start reading at last: what was buffered, then ``resync``, then resubscribe after the last seq seen."""
    seen: list[int] = []
    resyncs = 0
    async with asyncio.timeout(120):
        while not seen or seen[-1] < total:
            frame = json.loads(await ws.recv())
            if frame["type"] == "message" and frame["channel"] == channel_id:
                seen.append(frame["seq"])
            elif frame["type"] == "resync":
                resyncs += 1
                assert frame["channel"] == channel_id and frame["after_seq"] == (seen[-1] if seen else 0)
                await send(ws, {"type": "subscribe", "channel": channel_id,
                                "after_seq": seen[-1] if seen else 0})
    return seen, resyncs
