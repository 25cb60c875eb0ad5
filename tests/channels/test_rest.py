"""The REST API over real HTTP on SQLite and PostgreSQL: problem details, cursor pagination by seq, idempotent
posts (201 then 200), 429 + Retry-After, 413, admin-only routes, threads, reactions, edits; the OpenAPI schema;
and the compliance export."""

from __future__ import annotations

import io
import json
from pathlib import Path

from channels import services as ch
from channels.cli import write_export
from tests.channels.wshelp import running, setup, token_agent
from tests.sso.helpers import human_session
from workspace.db import Database


async def test_rest_flow(db: Database, tmp_path: Path) -> None:
    w, channel, (a, b) = await setup()
    admin = await human_session("root", roles=("admin",), label="restricted/ops+sales+finance")
    sales = await token_agent(w, "acct-17", "internal/sales")
    async with running(db, tmp_path, "memory://", CHORUS_MAX_MESSAGE_BYTES="64") as server, \
            server.client(headers=a.headers) as agent_a, server.client(headers=b.headers) as agent_b, \
            server.client(headers=admin.headers) as root, server.client(headers=sales.headers) as sales_c:
        made = await root.post("/api/channels", json={"name": "ops-floor", "label": "internal/ops", "topic": "t"})
        assert made.status_code == 201, made.text
        assert made.json()["label"] == "internal/ops"
        refused = await agent_a.post("/api/channels", json={"name": "x", "label": "internal"})
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
        res = await sales_c.post(f"/api/channels/{made.json()['id']}/join")
        assert res.status_code == 403
        assert res.json()["detail"] == ("this channel is above the clearance of agent 'acct-17' (internal/sales); "
                                        "ask an admin if your work needs it")

        url = f"/api/channels/{channel['id']}/messages"
        first = await agent_a.post(url, json={"body": "hello @ops-2", "client_msg_id": "r-1"})
        again = await agent_a.post(url, json={"body": "hello @ops-2", "client_msg_id": "r-1"})
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"] and first.json()["mentions"] == ["ops-2"]
        big = await agent_a.post(url, json={"body": "z" * 65, "client_msg_id": "big"})
        assert big.status_code == 413 and "65 bytes; the limit is 64" in big.json()["detail"]
        for i in range(2, 8):
            assert (await agent_b.post(url, json={"body": f"m{i}", "client_msg_id": f"b{i}"})).status_code == 201
        page = (await agent_a.get(url, params={"after_seq": 0, "limit": 3})).json()
        assert [m["seq"] for m in page["messages"]] == [1, 2, 3] and page["has_more"]
        page2 = (await agent_a.get(url, params={"after_seq": page["next_after_seq"], "limit": 10})).json()
        assert [m["seq"] for m in page2["messages"]] == [4, 5, 6, 7] and not page2["has_more"]
        bad = await agent_a.get(url, params={"limit": 0})
        assert bad.status_code == 400 and bad.json()["code"] == "validation_failed"

        root_id = first.json()["id"]
        reply = await agent_b.post(url, json={"body": "re", "client_msg_id": "re-1", "thread_of": root_id})
        thread = (await agent_a.get(f"/api/messages/{root_id}/thread")).json()
        assert [m["id"] for m in thread["messages"]] == [root_id, reply.json()["id"]]
        vote = await agent_b.post(f"/api/messages/{root_id}/reactions", json={"kind": "vote", "value": "up"})
        flip = await agent_b.post(f"/api/messages/{root_id}/reactions", json={"kind": "vote", "value": "down"})
        eyes = await agent_b.post(f"/api/messages/{root_id}/reactions", json={"kind": "emoji", "value": "eyes"})
        assert vote.json()["reactions"]["up"] == 1
        assert flip.json()["reactions"] == {"up": 0, "down": 1, "emoji": {}}, "one vote per member"
        assert eyes.json()["reactions"]["emoji"] == {"eyes": 1}
        undo = await agent_b.delete(f"/api/messages/{root_id}/reactions", params={"kind": "emoji", "value": "eyes"})
        assert undo.json()["reactions"]["emoji"] == {}
        edited = await agent_a.patch(f"/api/messages/{root_id}", json={"body": "hello (edited)"})
        assert edited.json()["body"] == "hello (edited)"
        not_mine = await agent_b.patch(f"/api/messages/{root_id}", json={"body": "mine now"})
        assert not_mine.status_code == 403
        gone = await agent_a.delete(f"/api/messages/{root_id}")
        assert gone.json()["deleted"] and gone.json()["seq"] == 1

    async with running(db, tmp_path, "memory://", CHORUS_POST_RATE_PER_S="0.01", CHORUS_POST_BURST="1") as server, \
            server.client(headers=a.headers) as agent_a:
        ok = await agent_a.post(url, json={"body": "one", "client_msg_id": "l1"})
        limited = await agent_a.post(url, json={"body": "two", "client_msg_id": "l2"})
        assert ok.status_code == 201 and limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1 and limited.json()["retry_after"] > 0


async def test_openapi_documents_the_channels_api(db: Database, tmp_path: Path) -> None:
    async with running(db, tmp_path, "memory://") as server, server.client() as client:
        schema = (await client.get("/schema/openapi.json")).json()
    post = schema["paths"]["/api/channels/{channel_id}/messages"]["post"]
    assert post["tags"] == ["channels"] and "idempotent" in post["summary"]
    params = {p["name"] for p in schema["paths"]["/api/channels/{channel_id}/messages"]["get"]["parameters"]}
    assert {"after_seq", "limit", "before_seq"} <= params


async def test_export_messages_jsonl(db: Database) -> None:
    _, channel, (a, b) = await setup(label="internal/ops")
    root = await ch.post_message(a.actor, channel["id"], "first", "e1")
    await ch.post_message(b.actor, channel["id"], "reply", "e2", thread_of=root["id"])
    out = io.StringIO()
    assert await write_export(out, "default", "ops") == 2
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["channel"], r["seq"], r["author"], r["body"], r["label"]) for r in rows] == [
        ("ops", 1, "ops-1", "first", "internal/ops"), ("ops", 2, "ops-2", "reply", "internal/ops")]
    assert rows[1]["thread_of"] == root["id"] and rows[1]["thread_of_seq"] == 1
    assert rows[0]["created_at"].startswith("20") and rows[0]["edited_at"] is None
