"""Probes: every write is rate limited per member, and a token holds a bounded number of sockets.

Edits, deletes and reactions share one per-member budget (``CHORUS_WRITE_RATE_PER_S``, ``CHORUS_WRITE_BURST``),
posts have theirs (``CHORUS_POST_RATE_PER_S``, ``CHORUS_POST_BURST``); both over REST and WebSocket. With Redis as
the broker the budgets are shared by the replicas, so two replicas do not allow twice the rate. A token opens at most
``CHORUS_MAX_SOCKETS_PER_TOKEN`` sockets (across replicas with Redis); the next one closes with 4008 and says why.
The cluster's limits are small (``tests.security.conftest.CLUSTER_LIMITS``): posts 1/s with bursts of 10, other
writes 1/s with bursts of 6, 4 sockets per token.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets

from tests.security.conftest import CLUSTER_LIMITS, Cluster

WRITE_BURST = int(CLUSTER_LIMITS["CHORUS_WRITE_BURST"])
POST_BURST = int(CLUSTER_LIMITS["CHORUS_POST_BURST"])
WRITE_RATE = float(CLUSTER_LIMITS["CHORUS_WRITE_RATE_PER_S"])
POST_RATE = float(CLUSTER_LIMITS["CHORUS_POST_RATE_PER_S"])
SOCKETS = int(CLUSTER_LIMITS["CHORUS_MAX_SOCKETS_PER_TOKEN"])


async def _post(cluster: Cluster, handle: str, body: str, replica: int = 0) -> dict[str, Any]:
    async with cluster.agent_http(handle, replica) as http:
        res = await http.post(f"/api/channels/{cluster.channels['ops-floor']}/messages",
                              json={"body": body, "client_msg_id": body.replace(" ", "-")})
        assert res.status_code in (200, 201), res.text
        out: dict[str, Any] = res.json()
        return out


async def test_edits_are_rate_limited(cluster: Cluster) -> None:
    message = await _post(cluster, "picker-0001", "forklift check")
    statuses = []
    async with cluster.agent_http("picker-0001") as http:
        for i in range(40):
            res = await http.patch(f"/api/messages/{message['id']}", json={"body": f"forklift check {i}"})
            statuses.append(res.status_code)
            if res.status_code == 429:
                assert int(res.headers["Retry-After"]) >= 1 and res.json()["code"] == "rate_limited"
    assert statuses.count(200) <= WRITE_BURST + 1, statuses
    assert 429 in statuses, statuses


async def test_reactions_are_rate_limited_over_rest_and_websocket(cluster: Cluster) -> None:
    message = await _post(cluster, "picker-0002", "who has the pallet jack")
    statuses = []
    async with cluster.agent_http("picker-0003") as http:
        for i in range(20):
            if i % 2:
                res = await http.delete(f"/api/messages/{message['id']}/reactions",
                                        params={"kind": "vote", "value": "up"})
            else:
                res = await http.post(f"/api/messages/{message['id']}/reactions", json={"kind": "vote", "value": "up"})
            statuses.append(res.status_code)
    assert 429 in statuses and statuses.count(200) <= WRITE_BURST + 1, statuses
    ws = await websockets.connect(cluster.ws_url(0), compression=None,
                                  additional_headers={"Authorization": f"Bearer {cluster.tokens['picker-0003']}"})
    await ws.recv()  # hello
    await ws.send(json.dumps({"v": 1, "type": "react", "message_id": message["id"], "kind": "vote", "value": "down",
                              "ref": "r"}))
    async with asyncio.timeout(5):
        answer = json.loads(await ws.recv())
    assert answer["type"] == "error" and answer["code"] == "rate_limited" and answer["retry_after"] > 0, answer
    await ws.close()


async def test_deletes_are_rate_limited(cluster: Cluster) -> None:
    ids = [(await _post(cluster, "picker-0004", f"note {i}"))["id"] for i in range(POST_BURST)]
    statuses = []
    async with cluster.agent_http("picker-0004") as http:
        for message_id in ids:
            statuses.append((await http.delete(f"/api/messages/{message_id}")).status_code)
    assert statuses.count(200) <= WRITE_BURST + 1 and 429 in statuses, statuses


def _allowed(burst: int, rate_per_s: float, elapsed_s: float) -> int:
    """What one shared bucket may accept in ``elapsed_s``: its burst, what refilled meanwhile, and one of slack.

    Two unshared buckets would accept twice the burst; the probes send fast enough that this bound stays below it.
    """
    return burst + int(rate_per_s * elapsed_s) + 1


async def test_the_write_budget_is_shared_by_the_replicas(cluster: Cluster) -> None:
    if not cluster.redis:
        pytest.skip("one replica on SQLite: nothing to share (the PostgreSQL + Redis variant probes this)")
    message = await _post(cluster, "picker-0005", "dock door 4 sticks")
    clients = [cluster.agent_http("picker-0005", r) for r in range(len(cluster.urls))]
    accepted = 0
    started = time.monotonic()
    for i in range(30):
        res = await clients[i % len(clients)].patch(f"/api/messages/{message['id']}", json={"body": f"door {i}"})
        accepted += res.status_code == 200
    allowed = _allowed(WRITE_BURST, WRITE_RATE, time.monotonic() - started)
    for client in clients:
        await client.aclose()
    assert allowed < 2 * WRITE_BURST, f"the probe took too long to tell shared from unshared ({allowed} allowed)"
    assert accepted <= allowed, f"{accepted} edits accepted across replicas (at most {allowed}): not shared"
    clients = [cluster.agent_http("picker-0006", r) for r in range(len(cluster.urls))]
    posts = 0
    started = time.monotonic()
    for i in range(30):
        res = await clients[i % len(clients)].post(f"/api/channels/{cluster.channels['ops-floor']}/messages",
                                                   json={"body": f"p{i}", "client_msg_id": f"p{i}"})
        posts += res.status_code in (200, 201)
    allowed = _allowed(POST_BURST, POST_RATE, time.monotonic() - started)
    for client in clients:
        await client.aclose()
    assert allowed < 2 * POST_BURST, f"the probe took too long to tell shared from unshared ({allowed} allowed)"
    assert posts <= allowed, f"{posts} posts accepted across replicas (at most {allowed}): not shared"


async def test_a_token_holds_a_bounded_number_of_sockets(cluster: Cluster) -> None:
    token = cluster.tokens["picker-0001"]
    headers = {"Authorization": f"Bearer {token}"}
    replicas = len(cluster.urls)
    held = []
    for i in range(SOCKETS):  # spread over the replicas: the cap holds across them (Redis) or per process
        ws = await websockets.connect(cluster.ws_url(i % replicas), additional_headers=headers, compression=None)
        assert json.loads(await ws.recv())["type"] == "hello"
        held.append(ws)
    extra = await websockets.connect(cluster.ws_url(SOCKETS % replicas), additional_headers=headers,
                                     compression=None)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(extra.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008, closed.value
    assert str(SOCKETS) in closed.value.rcvd.reason, closed.value.rcvd.reason
    await held.pop().close()  # closing one frees its place
    await asyncio.sleep(0.2)
    again = await websockets.connect(cluster.ws_url(0), additional_headers=headers, compression=None)
    assert json.loads(await again.recv())["type"] == "hello"
    for ws in [*held, again]:
        await ws.close()
