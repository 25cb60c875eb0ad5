"""The target of the security probes: the real app under uvicorn on a free port (``tests/support.py``), serving a
small Meridian workspace on each engine, with people of two clearances in each role, and the ``chorus`` CLI in its
own process against the same database.

The probes talk to it only as outsiders do: HTTP with a session cookie or an agent token, and the CLI. Data is set
up through the real services, never by raw inserts (except where a probe plays an attacker with database access).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from personas.scenario import builtin_scenario, load_scenario
from personas.services_agents import page_agents
from personas.services_load import load_scenario_into
from sso import services_tokens
from tests.sso.helpers import HumanSession, agent_token_for, human_session
from tests.support import LiveServer, live_server, serve_process
from tests.ui.conftest import browser, ui  # noqa: F401 (fixtures of the browser probe, test_csp_browser.py)
from workspace.app import create_app
from workspace.db import Database
from workspace.services import ensure_workspace, get_scheme, system_actor
from workspace.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AGENTS = 60
"""Meridian scaled down: every role (the restricted CEO and VP Sales included) and channel, a few agents each."""
CEO_ROLE = "Chief Executive Officer"
CEO_CONCERN = "board meeting preparation"
"""One of the CEO role's concerns (restricted persona text, meridian.yaml)."""


@dataclass
class Target:
    """The running server and who may sign in to it.

    People: ``ivan`` (admin, internal), ``tara`` (admin, top label), ``sid`` (security, internal), ``sue`` (security,
    top label). ``ceo`` is an agent row of the restricted CEO role and ``ceo_token`` its token (system-issued)."""

    server: LiveServer
    workspace_id: int
    top_label: str
    people: dict[str, HumanSession]
    ceo: dict[str, Any]
    ceo_token: str
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, who: str | None = None, **kwargs: Any) -> Any:
        """An HTTP client signed in as ``who`` (cookie, and the CSRF header for writes), or anonymous."""
        if who is None:
            return self.server.client(**kwargs)
        person = self.people[who]
        return self.server.client(cookies=person.cookies, headers={"x-csrf-token": person.csrf_token}, **kwargs)

    async def chorus(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await chorus(list(args), self.env)


def cli_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}
    env.update({"CHORUS_DATABASE_URL": database_url, "CHORUS_DATA_DIR": str(data_dir), "CHORUS_LOG_LEVEL": "WARNING",
                "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)})
    return env


def run_chorus(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The ``chorus`` command in its own process, as an operator runs it."""
    return subprocess.run([sys.executable, "-c", "from workspace.app import main; main()", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180, check=False)


async def chorus(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """:func:`run_chorus`, waited for in a thread: a server may run in this event loop, and its sealer must keep
    going (else SQLite's write lock can stay with a transaction that the blocked loop cannot finish)."""
    return await asyncio.to_thread(run_chorus, args, env)


def last_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output (exit {done.returncode}): {done.stderr[-2000:]}"
    out: dict[str, Any] = json.loads(lines[-1])
    return out


async def seed(workspace_id: int) -> tuple[str, dict[str, HumanSession], dict[str, Any], str]:
    system = await system_actor(workspace_id)
    await load_scenario_into(system, load_scenario(builtin_scenario("meridian")), agents=AGENTS)
    top = str((await get_scheme(workspace_id)).top())
    people = {
        "ivan": await human_session("ivan", ("admin",), "internal", workspace_id=workspace_id),
        "tara": await human_session("tara", ("admin",), top, workspace_id=workspace_id),
        "sid": await human_session("sid", ("security",), "internal", workspace_id=workspace_id),
        "sue": await human_session("sue", ("security",), top, workspace_id=workspace_id),
    }
    ceo = (await page_agents(workspace_id, role=CEO_ROLE, limit=1))[0]
    return top, people, ceo, await agent_token_for(int(ceo["member_id"]))


@pytest.fixture
async def target(db: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Target]:
    services_tokens.forget_cached()
    ws = await ensure_workspace()
    top, people, ceo, token = await seed(ws)
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_DATABASE_URL": database_url,
                                  "CHORUS_RUN_WORKERS_IN_PROCESS": "false", "CHORUS_DEV_LOGIN": "true"})
    async with live_server(create_app(settings, database=db)) as server:
        yield Target(server, ws, top, people, ceo, token, cli_env(database_url, tmp_path))
    services_tokens.forget_cached()


# -- a cluster: one replica on SQLite (memory broker), two on PostgreSQL (Redis broker) ---------------------------

CLUSTER_LIMITS = {"CHORUS_POST_RATE_PER_S": "1", "CHORUS_POST_BURST": "10", "CHORUS_WRITE_RATE_PER_S": "1",
                  "CHORUS_WRITE_BURST": "6", "CHORUS_MAX_SOCKETS_PER_TOKEN": "4"}
"""Small limits, the same on every replica, so the probes reach them quickly."""
PICKERS = tuple(f"picker-{i:04d}" for i in range(1, 7))
"""Agents of the Acme scenario (internal/ops): members of #lobby and #ops-floor, below #boardroom."""


@dataclass
class Cluster:
    """The replicas of one deployment (``urls``: one on SQLite with the embedded memory broker, two processes on
    PostgreSQL with Redis), the ``chorus`` CLI's environment for it, an admin with the top clearance (``admin``)
    and a token per picker agent (``tokens``, ``member_ids`` by handle)."""

    urls: list[str]
    env: dict[str, str]
    workspace_id: int
    admin: HumanSession
    tokens: dict[str, str]
    member_ids: dict[str, int]
    channels: dict[str, int]
    redis: bool

    def ws_url(self, replica: int) -> str:
        return self.urls[replica].replace("http://", "ws://", 1) + "/ws"

    def http(self, replica: int = 0, **kwargs: Any) -> Any:
        import httpx

        return httpx.AsyncClient(base_url=self.urls[replica], timeout=30, **kwargs)

    def agent_http(self, handle: str, replica: int = 0) -> Any:
        return self.http(replica, headers={"Authorization": f"Bearer {self.tokens[handle]}"})

    def admin_http(self, replica: int = 0) -> Any:
        return self.http(replica, cookies=self.admin.cookies, headers={"x-csrf-token": self.admin.csrf_token})

    async def chorus(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await chorus(list(args), self.env)


@contextlib.asynccontextmanager
async def serve_replica(env: dict[str, str], log_path: Path) -> AsyncIterator[str]:
    """``chorus serve`` in its own process (another replica of the deployment ``env`` describes); yields its URL."""
    async with serve_process({**env, "CHORUS_RUN_WORKERS_IN_PROCESS": "false"}, log_path) as base:
        yield base


async def _forget_redis_limits(redis_url: str, namespace: str) -> None:
    """Rate-limit and socket-count keys of an earlier test (same database URL, ids restarted) must not carry over."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=f"{namespace}:*"):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
async def cluster(db: Database, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
                  ) -> AsyncIterator[Cluster]:
    from channels.fanout import broker_namespace
    from channels.services import list_channels
    from tests.personas.helpers import load_acme

    redis_url = "" if db.is_sqlite else str(request.getfixturevalue("redis_url"))
    broker = redis_url or "memory://"
    if redis_url:
        await _forget_redis_limits(redis_url, broker_namespace(database_url))
    services_tokens.forget_cached()
    acme = await load_acme()
    admin = await human_session("tara", ("admin",), str(acme.system.scheme.top()), workspace_id=acme.ws)
    agents = {a["handle"]: int(a["member_id"]) for a in await page_agents(acme.ws, limit=100)}
    member_ids = {h: agents[h] for h in PICKERS}
    tokens = {h: await agent_token_for(m) for h, m in member_ids.items()}
    channels = {c["name"]: int(c["id"]) for c in await list_channels(acme.system)}
    env = {**cli_env(database_url, tmp_path / "cli"), "CHORUS_BROKER_URL": broker, **CLUSTER_LIMITS}
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path / "a"), "CHORUS_DATABASE_URL": database_url,
                                  "CHORUS_BROKER_URL": broker, "CHORUS_RUN_WORKERS_IN_PROCESS": "false",
                                  **CLUSTER_LIMITS})
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(live_server(create_app(settings, database=db)))
        urls = [first.url]
        if redis_url:
            replica_env = {**env, "CHORUS_DATA_DIR": str(tmp_path / "b"), "CHORUS_LOG_LEVEL": "WARNING"}
            urls.append(await stack.enter_async_context(serve_replica(replica_env, tmp_path / "replica-b.log")))
        yield Cluster(urls, env, acme.ws, admin, tokens, member_ids, channels, bool(redis_url))
    services_tokens.forget_cached()
