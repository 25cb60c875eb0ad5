"""The kill switch closes the agent's sockets wherever it is issued: in the web process (memory broker), from a
``chorus agents kill`` in another process (Redis broker), and from ``chorus worker`` (its hub publishes the command).
A web process that hears of a kill through the broker also drops the agent's cached token at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from channels.fanout import broker_namespace
from personas.services_control import kill
from tests.channels.wshelp import raw_socket, recv_until, running, send
from tests.personas.helpers import load_acme
from tests.sso.helpers import agent_token_for
from workspace.app import run_worker
from workspace.db import Database
from workspace.hooks import hooks
from workspace.settings import Settings

KILLED = "counsel-0001"
BYSTANDER = "counsel-0002"


async def _closed_code(ws: ClientConnection) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_until(ws, "never", timeout=20)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def _cli(tmp_path: Path, database_url: str, broker_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHORUS_DATABASE_URL": database_url, "CHORUS_BROKER_URL": broker_url,
           "CHORUS_DATA_DIR": str(tmp_path / "cli"), "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-c", "from workspace.app import main; main()", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(params=["memory broker, kill in the web process", "redis broker, kill from the CLI"])
def broker_url(request: pytest.FixtureRequest) -> str:
    return "memory://" if request.param.startswith("memory") else str(request.getfixturevalue("redis_url"))


async def test_kill_switch_closes_the_agents_sockets(db: Database, tmp_path: Path, broker_url: str) -> None:
    acme = await load_acme()
    killed, bystander = await acme.agent(KILLED), await acme.agent(BYSTANDER)
    assert killed.member_id is not None and bystander.member_id is not None
    tokens = {h: await agent_token_for(a.member_id) for h, a in ((KILLED, killed), (BYSTANDER, bystander))
              if a.member_id is not None}
    from_cli = broker_url != "memory://"  # (a CLI beside the memory broker: tests/security/test_stale_credentials.py)
    async with running(db, tmp_path, broker_url) as server:
        victim = await raw_socket(server, {"Authorization": f"Bearer {tokens[KILLED]}"})
        other = await raw_socket(server, {"Authorization": f"Bearer {tokens[BYSTANDER]}"})
        assert victim.protocol.state is websockets.protocol.State.OPEN
        if from_cli:
            done = await asyncio.to_thread(_cli, tmp_path, db.settings.url.reveal(), broker_url,
                                           "agents", "kill", "--agent", KILLED, "--reason", "test")
            assert done.returncode == 0, done.stderr
            assert "1 agent(s) switched off" in done.stdout
        else:
            await kill(acme.system, agent=KILLED, reason="test")
        assert await _closed_code(victim) == 4001
        await send(other, {"type": "ping", "ref": "p"})
        assert (await recv_until(other, "pong"))["ref"] == "p"
        # The agent cannot come straight back with its token (the replica's token cache forgot it): 4401.
        again = await websockets.connect(f"{server.ws_url}/ws", compression=None,
                                         additional_headers={"Authorization": f"Bearer {tokens[KILLED]}"})
        assert await _closed_code(again) == 4401
        await other.close()


async def test_the_worker_publishes_a_kill_through_the_broker(db: Database, tmp_path: Path, redis_url: str) -> None:
    import redis.asyncio as aioredis

    database_url = db.settings.url.reveal()
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_DATABASE_URL": database_url,
                                  "CHORUS_BROKER_URL": redis_url})
    listener = aioredis.Redis.from_url(redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(f"{broker_namespace(database_url)}.control")
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, database=db, stop=stop))
    try:
        for _ in range(500):  # the worker's hub registers the control hooks once the broker plugin has started
            if hooks.has("session.ended"):
                break
            await asyncio.sleep(0.01)
        await hooks.emit("member.deactivated", workspace_id=1, member_ids=[41, 42], reason="kill_switch")
        command = None
        async with asyncio.timeout(10):
            while command is None:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    command = json.loads(bytes(message["data"]).split(b"\n", 1)[1])
        assert command["member_ids"] == [41, 42] and command["code"] == 4001
    finally:
        stop.set()
        assert await worker == 0
        with contextlib.suppress(Exception):
            await pubsub.aclose()
        await listener.aclose()
