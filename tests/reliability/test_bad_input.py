"""Hostile and broken input against the real app over real sockets (SQLite, memory broker): oversized, deeply
nested and invalid-UTF-8 bodies, fuzzed WebSocket frames (hypothesis), and attempts to reach what the caller does
not belong to (agent token on admin routes, forged cookie, another workspace's ids, a channel above the label).
Every refusal is a typed answer (problem details or an error frame), the socket stays open, nothing is
half-written, and the audit trail still verifies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels import services as ch
from tests.channels.helpers import world
from tests.channels.wshelp import raw_socket, recv_until, running, send, setup, token_agent
from tests.sso.helpers import human_session
from workspace import audit
from workspace.db import Database
from workspace.services import system_actor
from workspace.tables import AuditEvent

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                  max_size=4), max_leaves=12)
FIELDS = st.sampled_from(["channel", "after_seq", "body", "client_msg_id", "thread_of", "message_id", "kind",
                          "value", "remove", "ref", "v", "extra"])
FRAMES = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["subscribe", "unsubscribe", "post", "react", "ping", "nope",
                                                    ""])}, optional={}).flatmap(
        lambda base: st.dictionaries(FIELDS, JSON, max_size=5).map(lambda extra: {**extra, **base})),
    JSON,
)


def _frames(n: int) -> list[Any]:
    """``n`` frames drawn by hypothesis (drawn up front: the socket conversation is async)."""
    out: list[Any] = []

    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(FRAMES)
    def draw(frame: Any) -> None:
        out.append(frame)

    draw()
    return out


async def test_fuzzed_frames_get_typed_answers_and_the_socket_stays_open(sqlite_db: Database,
                                                                         tmp_path: Path) -> None:
    _, channel, (a, _b) = await setup()
    before = await AuditEvent.count()
    acked: set[str] = set()
    async with running(sqlite_db, tmp_path, "memory://") as server:
        ws = await raw_socket(server, a.headers)
        for i, frame in enumerate(_frames(300)):
            ref = f"f{i}"
            if isinstance(frame, dict) and frame.get("type") == "post":
                frame = {**frame, "channel": channel["id"], "ref": ref}
            elif isinstance(frame, dict):
                frame = {**frame, "ref": ref}
            await ws.send(json.dumps(frame))
            await ws.send(json.dumps({"type": "ping", "ref": f"p{i}"}))
            while True:  # every frame is answered before the ping's pong; the socket never closes
                answer = json.loads(await ws.recv())
                if answer.get("type") == "pong" and answer.get("ref") == f"p{i}":
                    break
                if answer.get("type") == "error":
                    assert answer["code"] in {"malformed_frame", "unknown_frame", "unsupported_version",
                                              "invalid_frame", "too_large", "validation_failed", "forbidden",
                                              "not_found", "conflict", "rate_limited"}, answer
                    assert answer["message"]
                if answer.get("type") == "ack" and "client_msg_id" in answer:
                    acked.add(answer["client_msg_id"])
        for payload in ("x" * 70_000, b"\xff\xfe not utf-8", "[" * 30_000 + "]" * 30_000, "{\"type\": "):
            await ws.send(payload)
            answer = await recv_until(ws, "error")
            assert answer["code"] in {"too_large", "malformed_frame"}, answer
        await send(ws, {"type": "ping", "ref": "last"})
        assert (await recv_until(ws, "pong"))["ref"] == "last"
        await ws.close()
    stored = await ch.read_messages(channel, after_seq=0, limit=1000)
    assert {m["client_msg_id"] for m in stored} == acked, "exactly the acknowledged posts were stored"
    posted = await AuditEvent.count().where(AuditEvent.action == "message.posted")
    assert posted == len(acked) and await AuditEvent.count() >= before
    assert (await audit.verify()).ok


async def test_bad_http_bodies_are_problem_details(sqlite_db: Database, tmp_path: Path) -> None:
    _, channel, (a, _b) = await setup()
    url = f"/api/channels/{channel['id']}/messages"
    async with running(sqlite_db, tmp_path, "memory://") as server, server.client(headers=a.headers) as http:
        huge = await http.post(url, content=b'{"body": "' + b"x" * (2 * 1024 * 1024) + b'"}',
                               headers={"content-type": "application/json"})
        assert huge.status_code == 413 and huge.headers["content-type"].startswith("application/problem+json")
        assert huge.json()["code"] == "too_large"
        for bad in (b"[" * 100_000 + b"]" * 100_000, b'{"body": "\xff\xfe", "client_msg_id": "u1"}', b"{",
                    json.dumps({"body": {"nested": [1, [2, [3]]]}, "client_msg_id": "n1"}).encode()):
            res = await http.post(url, content=bad, headers={"content-type": "application/json"})
            assert res.status_code == 400, (bad[:40], res.status_code, res.text[:300])
            assert res.headers["content-type"].startswith("application/problem+json") and res.json()["detail"]
        too_long = await http.post(url, json={"body": "y" * 9000, "client_msg_id": "big"})
        assert too_long.status_code == 413 and too_long.json()["code"] == "too_large"
        assert (await http.get("/healthz")).status_code == 200
    assert await ch.read_messages(channel, after_seq=0) == [], "nothing was half-written"
    assert (await audit.verify()).ok


async def test_no_way_in_where_one_does_not_belong(sqlite_db: Database, tmp_path: Path) -> None:
    w, _channel, (a, _b) = await setup()
    secret = await ch.create_channel(w.system, "board", "", w.system.scheme.parse("confidential/finance"))
    admin = await human_session("ada", roles=("admin",), label="internal")
    other = await world("other-co")
    other_channel = await ch.create_channel(other.system, "theirs", "", other.system.scheme.parse("internal"))
    intruder = await token_agent(other, "their-agent")
    await ch.add_members_bulk(other.system, other_channel["id"], [int(intruder.actor.member_id or 0)])
    their_msg = await ch.post_message(intruder.actor, other_channel["id"], "their secret", "t1")
    async with running(sqlite_db, tmp_path, "memory://") as server:
        async with server.client(headers=a.headers) as agent_http:
            res = await agent_http.get("/api/admin/agents")
            assert res.status_code == 403 and "agent" in res.json()["detail"]
            res = await agent_http.get(f"/api/channels/{secret['id']}")
            assert res.status_code == 403 and "above the clearance" in res.json()["detail"]
            assert "confidential/finance" not in res.json()["detail"] and "board" not in res.json()["detail"]
            for path in (f"/api/channels/{other_channel['id']}", f"/api/messages/{their_msg['id']}",
                         f"/api/channels/{other_channel['id']}/messages"):
                res = await agent_http.get(path)
                assert res.status_code == 404, (path, res.status_code)
            res = await agent_http.post(f"/api/channels/{other_channel['id']}/messages",
                                        json={"body": "hi", "client_msg_id": "x1"})
            assert res.status_code == 404
        async with server.client(cookies=admin.cookies) as admin_http:
            for path in (f"/api/channels/{other_channel['id']}", f"/api/messages/{their_msg['id']}",
                         f"/api/admin/agents/{intruder.actor.member_id}"):
                res = await admin_http.get(path)
                assert res.status_code == 404, (path, res.status_code, res.text[:200])
        async with server.client(cookies={"chorus_session": "forged-" + "a" * 40}) as forged:
            res = await forged.get("/api/channels")
            assert res.status_code == 401 and res.json()["code"] == "not_authenticated"
        async with server.client(headers={"Authorization": "Bearer chorus_at_" + "b" * 43}) as fake:
            assert (await fake.get("/api/channels")).status_code == 401
        ws = await raw_socket(server, a.headers)
        await send(ws, {"type": "subscribe", "channel": other_channel["id"], "ref": "s1"})
        assert (await recv_until(ws, "error"))["code"] == "not_found"
        await send(ws, {"type": "subscribe", "channel": secret["id"], "ref": "s2"})
        assert (await recv_until(ws, "error"))["code"] == "forbidden"
        await ws.close()
        refused_ws = await websockets.connect(f"{server.ws_url}/ws",
                                              additional_headers={"cookie": "chorus_session=forged"})
        with pytest.raises(websockets.ConnectionClosed) as refused:  # PROTOCOL.md: credentials refused -> 4401
            await refused_ws.recv()
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
    assert len(await ch.read_messages(other_channel, after_seq=0)) == 1, "nothing was posted across workspaces"
    system = await system_actor(w.ws)
    assert system.workspace_id != other.ws
