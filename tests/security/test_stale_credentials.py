"""Probes: a credential taken away stops working at once, everywhere. Revoking an agent's tokens (admin API),
rotating them (``chorus agents token`` from another process) and the kill switch (``chorus agents kill`` from
another process) close the agent's open sockets on every replica with 4001 within a second, and its token is refused
by every replica's next request; other agents' sockets carry on. A member switched off cannot read, even with an
Actor obtained before. A socket whose credentials are refused closes with 4401 (not an HTTP 403 at the handshake),
and a channel above an agent's clearance is refused without its name or label.

On SQLite the cluster is one replica with the embedded memory broker (a CLI command reaches it through the
database); on PostgreSQL two replicas in two processes share Redis.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.security.conftest import Cluster

CLOSE_WITHIN_S = 1.0
"""PROTOCOL.md: a revoked, rotated or switched-off credential closes its sockets within a second."""


async def open_socket(cluster: Cluster, replica: int, token: str) -> ClientConnection:
    ws = await websockets.connect(cluster.ws_url(replica), additional_headers={"Authorization": f"Bearer {token}"},
                                  compression=None)
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello", hello
    return ws


async def close_code(ws: ClientConnection, within_s: float) -> int | None:
    """The close code the server sends within ``within_s`` seconds (None: still open)."""
    try:
        async with asyncio.timeout(within_s):
            while True:
                await ws.recv()
    except TimeoutError:
        return None
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else -1


async def still_works(ws: ClientConnection) -> bool:
    await ws.send(json.dumps({"v": 1, "type": "ping", "ref": "alive"}))
    async with asyncio.timeout(5):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == "pong":
                return bool(frame["ref"] == "alive")


async def sockets_everywhere(cluster: Cluster, token: str) -> list[ClientConnection]:
    return [await open_socket(cluster, r, token) for r in range(len(cluster.urls))]


async def assert_all_closed(sockets: list[ClientConnection], since: float) -> None:
    codes = await asyncio.gather(*(close_code(ws, max(0.05, since + CLOSE_WITHIN_S - time.monotonic()))
                                   for ws in sockets))
    assert codes == [4001] * len(sockets), f"close codes per replica within {CLOSE_WITHIN_S} s: {codes}"


async def refused_everywhere(cluster: Cluster, token: str) -> None:
    for replica in range(len(cluster.urls)):
        async with cluster.http(replica, headers={"Authorization": f"Bearer {token}"}) as http:
            res = await http.get(f"/api/channels/{cluster.channels['lobby']}/messages")
            assert res.status_code in (401, 403), (replica, res.status_code, res.text)


async def test_revoking_an_agents_tokens_closes_its_sockets_on_every_replica(cluster: Cluster) -> None:
    victim, bystander = "picker-0001", "picker-0002"
    sockets = await sockets_everywhere(cluster, cluster.tokens[victim])
    others = await sockets_everywhere(cluster, cluster.tokens[bystander])
    async with cluster.admin_http(0) as http:
        started = time.monotonic()
        res = await http.delete(f"/api/admin/agents/{cluster.member_ids[victim]}/tokens")
        assert res.status_code == 200 and res.json()["revoked"] == 1, res.text
    await assert_all_closed(sockets, started)
    await refused_everywhere(cluster, cluster.tokens[victim])
    assert all([await still_works(ws) for ws in others])
    for ws in others:
        await ws.close()


async def test_rotating_a_token_from_the_cli_closes_the_old_tokens_sockets(cluster: Cluster) -> None:
    victim = "picker-0003"
    old = cluster.tokens[victim]
    sockets = await sockets_everywhere(cluster, old)
    done = await cluster.chorus("agents", "token", victim)
    started = time.monotonic()
    assert done.returncode == 0, done.stderr
    new = done.stdout.strip().splitlines()[-1]
    assert new.startswith("chorus_at_") and new != old
    await assert_all_closed(sockets, started)
    await refused_everywhere(cluster, old)
    fresh = await sockets_everywhere(cluster, new)  # the new token works on every replica
    assert all([await still_works(ws) for ws in fresh])
    for ws in fresh:
        await ws.close()


async def test_the_kill_switch_from_the_cli_closes_the_agents_sockets_everywhere(cluster: Cluster) -> None:
    victim, bystander = "picker-0004", "picker-0005"
    sockets = await sockets_everywhere(cluster, cluster.tokens[victim])
    others = await sockets_everywhere(cluster, cluster.tokens[bystander])
    done = await cluster.chorus("agents", "kill", "--agent", victim, "--reason", "probe")
    started = time.monotonic()
    assert done.returncode == 0 and "1 agent(s) switched off" in done.stdout, done.stderr
    await assert_all_closed(sockets, started)
    await refused_everywhere(cluster, cluster.tokens[victim])
    assert all([await still_works(ws) for ws in others])
    for ws in others:
        await ws.close()


async def test_the_kill_switch_from_the_admin_api_closes_the_agents_sockets_everywhere(cluster: Cluster) -> None:
    victim = "picker-0006"
    sockets = await sockets_everywhere(cluster, cluster.tokens[victim])
    async with cluster.admin_http(len(cluster.urls) - 1) as http:  # the last replica: the others hear of it
        started = time.monotonic()
        res = await http.post("/api/admin/kill-switches", json={"agent": victim, "reason": "probe"})
        assert res.status_code in (200, 201), res.text
    await assert_all_closed(sockets, started)
    await refused_everywhere(cluster, cluster.tokens[victim])


@pytest.mark.parametrize("credential", ["unknown token", "revoked token", "no credential", "garbage cookie"])
async def test_a_refused_websocket_closes_with_4401(cluster: Cluster, credential: str) -> None:
    headers: dict[str, str] = {}
    if credential == "unknown token":
        headers["Authorization"] = "Bearer chorus_at_" + "x" * 43
    elif credential == "revoked token":
        victim = "picker-0002"
        async with cluster.admin_http() as http:
            assert (await http.delete(f"/api/admin/agents/{cluster.member_ids[victim]}/tokens")).status_code == 200
        headers["Authorization"] = f"Bearer {cluster.tokens[victim]}"
    elif credential == "garbage cookie":
        headers["Cookie"] = "chorus_session=not-a-session"
    for replica in range(len(cluster.urls)):
        try:
            ws = await websockets.connect(cluster.ws_url(replica), additional_headers=headers, compression=None)
        except websockets.InvalidStatus as exc:
            pytest.fail(f"the handshake was refused with HTTP {exc.response.status_code}; PROTOCOL.md says 4401")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401, closed.value
        assert closed.value.rcvd.reason, "the close reason says what to do"


async def test_the_python_client_gives_up_on_refused_credentials(cluster: Cluster) -> None:
    """channels/client.py reads the 4401 close as a refusal (not a transient failure to retry forever)."""
    from channels.client import ChorusClient

    refused = ChorusClient(cluster.ws_url(0), token="chorus_at_" + "y" * 43, backoff_initial=0.01, backoff_max=0.05)
    with pytest.raises(PermissionError, match="4401: unknown agent token"):
        await asyncio.wait_for(refused.connect(), 10)


async def test_a_channel_above_clearance_is_refused_without_its_name_or_label(cluster: Cluster) -> None:
    boardroom = cluster.channels["boardroom"]
    words = ("boardroom", "restricted", "Steering", "legal", "finance")
    async with cluster.agent_http("picker-0001") as http:
        res = await http.get(f"/api/channels/{boardroom}/messages")
        assert res.status_code == 403, res.text
        assert not [w for w in words if w in res.text], res.text
        res = await http.post(f"/api/channels/{boardroom}/messages", json={"body": "hi", "client_msg_id": "x1"})
        assert res.status_code == 403 and not [w for w in words if w in res.text], res.text
    ws = await open_socket(cluster, 0, cluster.tokens["picker-0001"])
    for frame in ({"type": "subscribe", "channel": boardroom, "ref": "s"},
                  {"type": "post", "channel": boardroom, "body": "hi", "client_msg_id": "x2", "ref": "p"}):
        await ws.send(json.dumps({"v": 1, **frame}))
        async with asyncio.timeout(5):
            answer = json.loads(await ws.recv())
        assert answer["type"] == "error" and answer["code"] == "forbidden", answer
        assert not [w for w in words if w in answer["message"]], answer
    await ws.close()


async def test_a_switched_off_member_cannot_read_with_an_actor_from_before(cluster: Cluster) -> None:
    """Service level (the socket and token cache are closed by the probes above): every read path checks that
    the member is still active, so an Actor held across the kill (a request in flight, a cached token on a replica
    the broker could not reach) reads nothing."""
    from channels.services import access_channel, get_message, list_messages, post_message, search_messages
    from personas.services_control import kill
    from workspace.errors import Forbidden
    from workspace.services import actor_for_member, get_member, system_actor

    victim = "picker-0005"
    actor = await actor_for_member(await get_member(cluster.workspace_id, cluster.member_ids[victim]))
    message = await post_message(actor, "ops-floor", "scanner 3 is back", "before-kill")
    assert (await access_channel(actor, "ops-floor"))["name"] == "ops-floor"
    await kill(await system_actor(cluster.workspace_id), agent=victim, reason="probe")
    reads = {
        "access_channel": access_channel(actor, "ops-floor"),
        "history": list_messages(actor, "ops-floor"),
        "one message": get_message(actor, int(message["id"])),
        "search": search_messages(actor, "scanner"),
    }
    for what, read in reads.items():
        with pytest.raises(Forbidden, match=r"switched off|deactivated"):
            await read
        assert what

