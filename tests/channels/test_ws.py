"""The /ws protocol over real sockets, as contract tests over the memory and Redis brokers and SQLite and
PostgreSQL: ordering, resume without loss or duplicates, idempotent retry, slow-consumer resync, label
enforcement, typed errors, and sockets closed on logout, kill switch and shutdown."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import websockets

from channels import services as ch
from channels.client import ChorusClient
from tests.channels.wshelp import hub_of, raw_socket, recv_until, running, send, setup, token_agent
from tests.sso.helpers import human_session
from workspace.actor import Actor
from workspace.db import Database
from workspace.hooks import hooks


@pytest.fixture(params=["memory", "redis"])
def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture(params=["direct", "asgi"])
def ws_path(request: pytest.FixtureRequest) -> str:
    """How live events reach sockets: direct writes by the channel's relay, or ASGI sends only (other servers)."""
    return str(request.param)


async def test_ordering_and_resume_lose_and_duplicate_nothing(db: Database, tmp_path: Path, broker_url: str,
                                                              ws_path: str) -> None:
    _, channel, (poster, reader) = await setup()
    async with running(db, tmp_path, broker_url, direct=ws_path == "direct") as server:
        url = f"{server.ws_url}/ws"
        async with ChorusClient(url, token=poster.token) as p, ChorusClient(url, token=reader.token) as r:
            await r.subscribe("ops", after_seq=0)
            acks = [await p.post("ops", f"m{i}") for i in range(1, 31)]
            assert [a["seq"] for a in acks] == list(range(1, 31))
            got = [await r.next_frame() for _ in range(30)]
            assert [(f["seq"], f["message"]["body"]) for f in got] == [(i, f"m{i}") for i in range(1, 31)]
        # the reader is gone; more is posted; it comes back with the last seq it saw
        for i in range(31, 41):
            await ch.post_message(poster.actor, channel["id"], f"m{i}", f"svc-{i}")
        async with ChorusClient(url, token=reader.token) as r2:
            await r2.subscribe(channel["id"], after_seq=30)
            p2 = ChorusClient(url, token=poster.token)
            async with p2:
                await p2.post("ops", "m41")
            got = [await r2.next_frame() for _ in range(11)]
            assert [f["seq"] for f in got] == list(range(31, 42))
            with pytest.raises(TimeoutError):
                await r2.next_frame(wait_s=0.3)  # and nothing twice
        direct = hub_of(server).direct_deliveries
        assert (direct > 0) if ws_path == "direct" else (direct == 0), f"{direct} direct deliveries on {ws_path}"


async def test_idempotent_retry_over_the_socket(db: Database, tmp_path: Path, broker_url: str) -> None:
    _, channel, (poster, _) = await setup()
    async with running(db, tmp_path, broker_url) as server:
        ws = await raw_socket(server, poster.headers)
        frame = {"type": "post", "channel": "ops", "body": "once", "client_msg_id": "retry-me"}
        await send(ws, frame)
        first = await recv_until(ws, "ack")
        await send(ws, frame)
        second = await recv_until(ws, "ack")
        await ws.close()
    assert first["seq"] == second["seq"] == 1 and first["id"] == second["id"]
    assert first["client_msg_id"] == "retry-me"
    assert [m["body"] for m in await ch.list_messages(poster.actor, channel["id"])] == ["once"]


async def test_slow_consumer_gets_resync_and_resumes_from_the_database(db: Database, tmp_path: Path,
                                                                      ws_path: str) -> None:
    _, channel, (poster, reader) = await setup()
    total = 300
    async with running(db, tmp_path, "memory://", direct=ws_path == "direct", CHORUS_WS_BACKLOG="4",
                       CHORUS_MAX_MESSAGE_BYTES="65536") as server:
        # no keepalive: this reader deliberately reads nothing while 300 posts go out, so a pong would wait behind
        # the unread frames and a slow run (PostgreSQL under load) closed the socket on a ping timeout
        ws = await raw_socket(server, reader.headers, max_queue=1, ping_interval=None)
        await send(ws, {"type": "subscribe", "channel": channel["id"], "after_seq": 0})
        await recv_until(ws, "subscribed")
        body = "x" * 60_000  # 18 MB in all: more than the socket buffers hold, so the server's backlog overflows
        for i in range(1, total + 1):
            await ch.post_message(poster.actor, channel["id"], body, f"s{i}")
            # a post on SQLite waits for nothing: let it reach the socket while the reader is not reading yet
            await asyncio.sleep(0.001)
        seen: list[int] = []
        resyncs = 0
        async with asyncio.timeout(60):
            while len(seen) < total:
                frame = json.loads(await ws.recv())
                if frame["type"] == "message":
                    seen.append(frame["seq"])
                elif frame["type"] == "resync":
                    resyncs += 1
                    assert frame["channel"] == channel["id"]
                    resume = seen[-1] if seen else 0  # the resync can come before the first message
                    await send(ws, {"type": "subscribe", "channel": channel["id"], "after_seq": resume})
        await ws.close()
    assert resyncs >= 1, "the bounded backlog overflowed, so the server must have asked for a resync"
    assert seen == list(range(1, total + 1)), "after resync, nothing lost and nothing duplicated"


async def test_labels_are_enforced_on_subscribe_and_post(db: Database, tmp_path: Path) -> None:
    w, channel, (member, _) = await setup(label="internal/ops")
    sales = await token_agent(w, "acct-17", "internal/sales")
    outsider = await token_agent(w, "ops-x", "internal/ops")
    async with running(db, tmp_path, "memory://") as server:
        ws = await raw_socket(server, sales.headers)
        await send(ws, {"type": "subscribe", "channel": "ops", "after_seq": 0, "ref": "s1"})
        err = await recv_until(ws, "error")
        assert err["code"] == "forbidden" and err["ref"] == "s1"
        assert err["message"] == ("this channel is above the clearance of agent 'acct-17' (internal/sales); ask an "
                                  "admin if your work needs it")
        await send(ws, {"type": "post", "channel": "ops", "body": "hi", "client_msg_id": "p1"})
        err = await recv_until(ws, "error")
        assert err["code"] == "forbidden" and err["ref"] == "p1" and "above the clearance" in err["message"]
        ws2 = await raw_socket(server, outsider.headers)
        await send(ws2, {"type": "post", "channel": "ops", "body": "hi", "client_msg_id": "p2"})
        err = await recv_until(ws2, "error")
        assert "not a member of channel 'ops'" in err["message"]
        await ws.close()
        await ws2.close()
    assert await ch.list_messages(member.actor, channel["id"]) == []


async def test_people_observe_read_only(db: Database, tmp_path: Path) -> None:
    _, channel, (poster, _) = await setup()
    person = await human_session("ann", label="internal")
    async with running(db, tmp_path, "memory://") as server:
        ws = await raw_socket(server, {"cookie": person.headers["cookie"]})
        await send(ws, {"type": "subscribe", "channel": "ops"})
        await recv_until(ws, "subscribed")
        await ch.post_message(poster.actor, channel["id"], "agents talk", "a1")
        frame = await recv_until(ws, "message")
        assert frame["message"]["body"] == "agents talk" and frame["message"]["author"] == "ops-1"
        await send(ws, {"type": "post", "channel": "ops", "body": "me too", "client_msg_id": "h1"})
        err = await recv_until(ws, "error")
        assert err["code"] == "forbidden" and "read-only" in err["message"]
        await ws.close()


async def test_bad_frames_get_typed_errors_and_the_socket_stays_open(db: Database, tmp_path: Path) -> None:
    _, _, (poster, _) = await setup()
    async with running(db, tmp_path, "memory://", CHORUS_MAX_MESSAGE_BYTES="100", CHORUS_POST_RATE_PER_S="0.001",
                       CHORUS_POST_BURST="1") as server:
        ws = await raw_socket(server, poster.headers)
        cases = [
            ("{not json", "malformed_frame", None),
            ('["a"]', "malformed_frame", None),
            ('{"type": "shout", "ref": "r1"}', "unknown_frame", "r1"),
            ('{"type": "ping", "v": 2, "ref": "r2"}', "unsupported_version", "r2"),
            ('{"type": "subscribe", "ref": "r3"}', "invalid_frame", "r3"),
            ('{"type": "post", "channel": "ops", "body": "' + "y" * 101 + '", "client_msg_id": "big"}',
             "too_large", "big"),
            ('{"type": "post", "channel": "nope", "body": "x", "client_msg_id": "c1"}', "not_found", "c1"),
        ]
        for text, code, ref in cases:
            await ws.send(text)
            err = await recv_until(ws, "error")
            assert (err["code"], err["ref"]) == (code, ref), (text, err)
        await ws.send(b"\x00binary")
        assert (await recv_until(ws, "error"))["code"] == "malformed_frame"
        await send(ws, {"type": "post", "channel": "ops", "body": "ok", "client_msg_id": "ok1"})
        assert (await recv_until(ws, "ack"))["seq"] == 1
        await send(ws, {"type": "post", "channel": "ops", "body": "again", "client_msg_id": "ok2"})
        limited = await recv_until(ws, "error")
        assert limited["code"] == "rate_limited" and limited["retry_after"] > 0 and limited["ref"] == "ok2"
        await send(ws, {"type": "ping", "ref": "still-here"})
        assert (await recv_until(ws, "pong"))["ref"] == "still-here"
        await ws.close()


async def test_reactions_edits_and_deletes_reach_subscribers(db: Database, tmp_path: Path) -> None:
    _, channel, (a, b) = await setup()
    async with running(db, tmp_path, "memory://") as server, \
            ChorusClient(f"{server.ws_url}/ws", token=b.token) as reader:
        await reader.subscribe("ops", after_seq=0)
        msg = await ch.post_message(a.actor, channel["id"], "vote on this", "v1")
        assert (await reader.next_frame())["seq"] == 1
        ack = await reader.react(msg["id"], "vote", "up")
        assert ack["reactions"]["up"] == 1
        reaction = await reader.next_frame()
        assert reaction["type"] == "reaction" and reaction["member"] == "ops-2" and reaction["value"] == "up"
        await ch.edit_message(a.actor, msg["id"], "vote on this (edited)")
        edited = await reader.next_frame()
        assert edited["update"] and edited["message"]["body"] == "vote on this (edited)"
        await ch.delete_message(a.actor, msg["id"])
        deleted = await reader.next_frame()
        assert deleted["message"]["deleted"] and deleted["seq"] == 1


async def test_sockets_close_on_session_end_kill_switch_and_shutdown(db: Database, tmp_path: Path) -> None:
    w, _, (a, b) = await setup()
    person = await human_session("ann", label="internal")
    async with running(db, tmp_path, "memory://") as server:
        agent_ws = await raw_socket(server, a.headers)
        person_ws = await raw_socket(server, {"cookie": person.headers["cookie"]})
        other_ws = await raw_socket(server, b.headers)
        await hooks.emit("session.ended", session_id=str(person.session_ref), member_id=person.member_id,
                         reason="logout")
        await hooks.emit("member.deactivated", workspace_id=w.ws, member_ids=[a.actor.member_id], reason="kill")
        for ws in (agent_ws, person_ws):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await recv_until(ws, "never")
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
        await send(other_ws, {"type": "ping", "ref": "p"})
        assert (await recv_until(other_ws, "pong"))["ref"] == "p"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_until(other_ws, "never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012, "shutdown says: reconnect and resume"


async def test_person_may_post_when_allowed(db: Database, tmp_path: Path) -> None:
    w, channel, _ = await setup()
    person = await human_session("bob", label="internal")
    async with running(db, tmp_path, "memory://", CHORUS_HUMANS_MAY_POST="true") as server:
        await ch.join_channel(await _actor_of(w.ws, person.member_id), channel["id"])
        ws = await raw_socket(server, {"cookie": person.headers["cookie"]})
        await send(ws, {"type": "post", "channel": "ops", "body": "hello agents", "client_msg_id": "h"})
        assert (await recv_until(ws, "ack"))["seq"] == 1
        await ws.close()


async def _actor_of(ws_id: int, member_id: int) -> Actor:
    from workspace.services import actor_for_member, get_member

    return await actor_for_member(await get_member(ws_id, member_id))
