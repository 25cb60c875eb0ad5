"""Several replicas on one PostgreSQL and one Redis behave as one; a Redis restart loses nothing.

Needs CHORUS_TEST_POSTGRES_URL and CHORUS_TEST_REDIS_URL (the fixtures skip without them and fail when they are
set but unreachable). The second replica is a real ``chorus serve`` process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from channels import services as ch
from channels.client import ChorusClient
from tests.channels.wshelp import running, setup
from tests.support import serve_process
from workspace.db import Database


@contextlib.asynccontextmanager
async def chorus_serve(tmp_path: Path, database_url: str, broker_url: str) -> AsyncIterator[str]:
    """A second replica: ``chorus serve`` in its own process; yields its base URL."""
    env = {**os.environ, "CHORUS_DATABASE_URL": database_url, "CHORUS_BROKER_URL": broker_url,
           "CHORUS_DATA_DIR": str(tmp_path / "replica"),
           "CHORUS_RUN_WORKERS_IN_PROCESS": "false", "CHORUS_POST_RATE_PER_S": "10000",
           "CHORUS_POST_BURST": "10000", "CHORUS_WRITE_RATE_PER_S": "10000", "CHORUS_WRITE_BURST": "10000",
           "CHORUS_MAX_SOCKETS_PER_TOKEN": "0", "CHORUS_LOG_LEVEL": "WARNING", "PYTHONWARNINGS": "ignore"}
    async with serve_process(env, tmp_path / "replica.log", ready_s=30) as base:
        yield base


async def test_two_server_processes_behave_as_one(db: Database, database_url: str, redis_url: str,
                                                   tmp_path: Path) -> None:
    if db.is_sqlite:
        pytest.skip("replicas share PostgreSQL; SQLite is the one-process embedded mode")
    postgres_url = database_url
    _, channel, (a, b) = await setup()
    async with running(db, tmp_path, redis_url) as here, chorus_serve(tmp_path, postgres_url, redis_url) as there:
        there_ws = there.replace("http://", "ws://") + "/ws"
        async with ChorusClient(there_ws, token=b.token) as far, ChorusClient(f"{here.ws_url}/ws",
                                                                              token=b.token) as near:
            await far.subscribe("ops", after_seq=0)
            await near.subscribe("ops", after_seq=0)
            async with ChorusClient(f"{here.ws_url}/ws", token=a.token) as poster:
                for i in range(1, 21):
                    await poster.post("ops", f"here {i}")  # posted on this process ...
            async with httpx.AsyncClient(base_url=there, headers={"Authorization": f"Bearer {a.token}"}) as rest:
                for i in range(21, 31):  # ... and on the other one, over REST
                    res = await rest.post(f"/api/channels/{channel['id']}/messages",
                                          json={"body": f"there {i}", "client_msg_id": f"t{i}"})
                    assert res.status_code == 201, res.text
            far_seqs = [(await far.next_frame())["seq"] for _ in range(30)]
            near_seqs = [(await near.next_frame())["seq"] for _ in range(30)]
    assert far_seqs == list(range(1, 31)), "a client on the other process received every post, in order"
    assert near_seqs == list(range(1, 31)), "and a client here received the other process's posts"


def _redis_cmd(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def _redis_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def redis_restarter(url: str) -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """stop() and start() the local redis-server; whatever happens, Redis is running again afterwards."""
    host, port = _redis_cmd(url)
    if host not in ("127.0.0.1", "localhost") or not shutil.which("redis-server"):
        pytest.fail(f"the Redis restart test needs a local redis-server to restart; {url} is not one")

    def stop() -> None:
        subprocess.run(["redis-cli", "-h", host, "-p", str(port), "shutdown", "nosave"], check=False,
                       capture_output=True, timeout=10)

    def start() -> None:
        if not _redis_up(url):
            subprocess.run(["redis-server", "--daemonize", "yes", "--bind", host, "--port", str(port),
                            "--save", "", "--appendonly", "no"], check=True, capture_output=True, timeout=10)

    try:
        yield stop, start
    finally:
        start()
        for _ in range(100):
            if _redis_up(url):
                break
            time.sleep(0.05)


async def _wait(predicate: Callable[[], bool], limit_s: float = 20.0) -> None:
    async with asyncio.timeout(limit_s):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_redis_restart_mid_stream_loses_nothing(db: Database, redis_url: str, tmp_path: Path) -> None:
    _, channel, (a, b) = await setup()
    with redis_restarter(redis_url) as (stop, start):
        async with running(db, tmp_path, redis_url) as server, \
                ChorusClient(f"{server.ws_url}/ws", token=b.token) as reader:
            await reader.subscribe("ops", after_seq=0)
            got: list[int] = []
            for i in range(1, 11):
                await ch.post_message(a.actor, channel["id"], f"before {i}", f"b{i}")
            got += [(await reader.next_frame())["seq"] for _ in range(10)]
            stop()
            await _wait(lambda: not _redis_up(redis_url))
            for i in range(11, 21):  # committed while the broker is down: their events are lost, not the posts
                await ch.post_message(a.actor, channel["id"], f"during {i}", f"d{i}")
            start()
            await _wait(lambda: _redis_up(redis_url))
            for i in range(21, 31):
                await ch.post_message(a.actor, channel["id"], f"after {i}", f"a{i}")
            got += [(await reader.next_frame(wait_s=30))["seq"] for _ in range(20)]
            with pytest.raises(TimeoutError):
                await reader.next_frame(wait_s=0.5)
    assert got == list(range(1, 31)), "every message once, in order, across the Redis restart"
