"""Probes: integers beyond what the database holds and NUL characters are refused with a clear error (what was
wrong, what to do), on each engine, over the WebSocket and REST, and nothing with a NUL is stored. A WebSocket
``channel`` of 10**30 is not an ``internal_error``, an ``after_seq`` of 2**63 does not loop, and an ``after_seq``
beyond the channel's newest message is ``validation_failed``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from tests.security.conftest import Target

HUGE = 10**30
INT64_OVER = 2**63
INT32_OVER = 2**31 + 7  # fits SQLite's integers, not PostgreSQL's int4 id columns
NUL = "before\x00after"


async def _frames(ws: Any, want: int, timeout: float = 10) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len(out) < want:
            frame = json.loads(await ws.recv())
            if frame["type"] not in ("message", "hello", "subscribed"):
                out.append(frame)
    return out


async def _my_channel(target: Target) -> dict[str, Any]:
    async with target.server.client(headers={"authorization": f"Bearer {target.ceo_token}"}) as http:
        mine = (await http.get("/api/channels", params={"mine": "true"})).json()
    assert mine, "the CEO agent is a member of some channel"
    channel: dict[str, Any] = mine[0]
    return channel


def _clear(error: dict[str, Any]) -> None:
    assert error["type"] == "error", error
    assert error["code"] != "internal_error", error
    assert "Traceback" not in error["message"] and len(error["message"]) > 30, error


async def test_websocket_integers_are_bounded(target: Target) -> None:
    channel = await _my_channel(target)
    async with websockets.connect(f"{target.server.ws_url}/ws?token={target.ceo_token}", compression=None) as ws:
        json.loads(await ws.recv())  # hello
        await ws.send(json.dumps({"type": "subscribe", "channel": HUGE, "ref": "huge"}))
        await ws.send(json.dumps({"type": "subscribe", "channel": INT32_OVER, "ref": "int32"}))
        await ws.send(json.dumps({"type": "subscribe", "channel": channel["id"], "after_seq": INT64_OVER,
                                  "ref": "loop"}))
        await ws.send(json.dumps({"type": "post", "channel": channel["id"], "body": "hello", "client_msg_id": "t1",
                                  "thread_of": HUGE}))
        await ws.send(json.dumps({"type": "react", "message_id": HUGE, "kind": "vote", "value": "up",
                                  "ref": "react"}))
        errors = await _frames(ws, 5)
        by_ref = {e["ref"]: e for e in errors}
        for ref in ("huge", "int32", "loop", "t1", "react"):
            _clear(by_ref[ref])
        assert by_ref["huge"]["code"] in ("invalid_frame", "validation_failed", "not_found"), by_ref["huge"]
        await ws.send(json.dumps({"type": "subscribe", "channel": channel["id"],
                                  "after_seq": channel["last_seq"] + 5, "ref": "ahead"}))
        ahead = (await _frames(ws, 1))[0]
        assert ahead["code"] == "validation_failed" and ahead["ref"] == "ahead", ahead
        assert str(channel["last_seq"]) in ahead["message"], ahead
        await ws.send(json.dumps({"type": "ping", "ref": "alive"}))
        assert (await _frames(ws, 1))[0]["type"] == "pong", "the socket stays open after refused frames"


async def test_websocket_nul_is_refused_and_not_stored(target: Target) -> None:
    channel = await _my_channel(target)
    async with websockets.connect(f"{target.server.ws_url}/ws?token={target.ceo_token}", compression=None) as ws:
        json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "post", "channel": channel["id"], "body": NUL, "client_msg_id": "nul-1"}))
        error = (await _frames(ws, 1))[0]
        _clear(error)
        assert error["code"] in ("invalid_frame", "validation_failed") and "NUL" in error["message"], error
    async with target.server.client(headers={"authorization": f"Bearer {target.ceo_token}"}) as http:
        page = (await http.get(f"/api/channels/{channel['id']}/messages", params={"after_seq": 0,
                                                                                  "limit": 1000})).json()
    assert not [m for m in page["messages"] if "\x00" in m["body"] or "before" in m["body"]]


async def test_rest_integers_are_bounded(target: Target) -> None:
    channel = await _my_channel(target)
    async with target.server.client(headers={"authorization": f"Bearer {target.ceo_token}"}) as http:
        for path, params in ((f"/api/channels/{HUGE}", None), (f"/api/channels/{INT64_OVER}", None),
                             (f"/api/channels/{INT32_OVER}", None), (f"/api/messages/{HUGE}", None),
                             (f"/api/channels/{channel['id']}/messages", {"after_seq": HUGE}),
                             (f"/api/channels/{channel['id']}/messages", {"before_seq": INT64_OVER})):
            res = await http.get(path, params=params)
            assert res.status_code in (400, 404), (path, params, res.status_code, res.text)
            if res.status_code == 400:
                assert res.json()["detail"], res.text
        res = await http.post(f"/api/channels/{channel['id']}/messages",
                              json={"body": "a reply", "client_msg_id": "r-huge", "thread_of": HUGE})
        assert res.status_code in (400, 404), res.text
        res = await http.post(f"/api/channels/{channel['id']}/messages",
                              json={"body": "a reply", "client_msg_id": "r-int32", "thread_of": INT32_OVER})
        assert res.status_code in (400, 404), res.text
    async with target.client("tara") as http:
        res = await http.post(f"/api/channels/{channel['id']}/members", json={"member_ids": [HUGE]})
        assert res.status_code in (400, 404), res.text
        res = await http.get(f"/api/admin/agents/{INT32_OVER}")
        assert res.status_code in (400, 404), res.text


async def test_rest_nul_is_refused_everywhere_and_not_stored(target: Target) -> None:
    channel = await _my_channel(target)
    async with target.server.client(headers={"authorization": f"Bearer {target.ceo_token}"}) as http:
        res = await http.post(f"/api/channels/{channel['id']}/messages", json={"body": NUL, "client_msg_id": "n1"})
        assert res.status_code == 400 and "NUL" in res.json()["detail"], res.text
        ok = await http.post(f"/api/channels/{channel['id']}/messages", json={"body": "plain", "client_msg_id": "n2"})
        assert ok.status_code == 201, ok.text
        res = await http.patch(f"/api/messages/{ok.json()['id']}", json={"body": NUL})
        assert res.status_code == 400 and "NUL" in res.json()["detail"], res.text
        page = (await http.get(f"/api/channels/{channel['id']}/messages", params={"limit": 1000})).json()
        assert not [m for m in page["messages"] if "\x00" in m["body"]]
    async with target.client("tara") as http:
        attempts = [
            ("post", "/api/channels", {"name": "nul-room", "label": "internal", "topic": NUL}),
            ("post", "/api/admin/documents", {"title": "Plan\x00B", "body": "text", "label": "internal"}),
            ("post", "/api/admin/documents", {"title": "Plan C", "body": NUL, "label": "internal"}),
            ("post", "/api/admin/kill-switches", {"agent": "nobody\x00", "reason": "x"}),
            ("post", "/api/admin/scenarios", {"yaml": NUL_SCENARIO}),
        ]
        for method, path, body in attempts:
            res = await getattr(http, method)(path, json=body)
            assert res.status_code == 400, (path, res.status_code, res.text)
            assert "NUL" in res.json()["detail"], (path, res.text)
        assert (await http.patch("/api/admin/roles/Chief%20Executive%00Officer",
                                 json={"label": "internal"})).status_code in (400, 404)
        channels = (await http.get("/api/channels")).json()
        assert "nul-room" not in {c["name"] for c in channels}
        titles = {d["title"] for d in (await http.get("/api/admin/documents")).json()}
        assert not [t for t in titles if "\x00" in t or t in ("Plan\x00B", "Plan C")]
        roles = {r["name"] for r in (await http.get("/api/admin/roles")).json()}
        assert "Night Porter" not in roles and not [r for r in roles if "\x00" in r]


NUL_SCENARIO = """\
version: 1
name: Night shift
labels:
  tiers: [public, internal, confidential, restricted]
org:
  - role: "Night Porter"
    department: ops
    count: 1
    label: {tier: internal}
    traits: ["calm\\0steady"]
    goals: ["lock up"]
    concerns: ["keys"]
channels:
  - name: night-desk
    topic: Nights
    label: {tier: internal}
    members: {all: true}
"""
