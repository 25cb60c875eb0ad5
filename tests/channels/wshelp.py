"""Helpers for the WebSocket and REST tests: the real app under uvicorn with the memory or Redis broker, agents
with real tokens (sso), raw protocol sockets, and waiting for frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from channels import services as ch
from channels.fanout import ChorusChannelsPlugin
from channels.ws import Hub
from tests.channels.helpers import World, world
from tests.sso.helpers import agent_token_for
from tests.support import LiveServer, live_server
from workspace.actor import Actor
from workspace.app import create_app
from workspace.db import Database
from workspace.services import actor_for_member, get_member
from workspace.settings import Settings
from workspace.telemetry import Telemetry


def app_settings(tmp_path: Path, broker_url: str, **env: str) -> Settings:
    base = {"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false",
            "CHORUS_BROKER_URL": broker_url, "CHORUS_POST_RATE_PER_S": "10000", "CHORUS_POST_BURST": "10000",
            "CHORUS_WRITE_RATE_PER_S": "10000", "CHORUS_WRITE_BURST": "10000", "CHORUS_MAX_SOCKETS_PER_TOKEN": "0"}
    base.update(env)
    return Settings.from_env(base)


@contextlib.asynccontextmanager
async def running(db: Database, tmp_path: Path, broker_url: str, direct: bool = True,
                  telemetry: Telemetry | None = None, **env: str) -> AsyncIterator[LiveServer]:
    """The app under uvicorn; ``direct=False`` without the direct fan-out writes (every event through ASGI)."""
    env.setdefault("CHORUS_DATABASE_URL", db.settings.url.reveal())  # the broker namespace derives from it
    app = create_app(app_settings(tmp_path, broker_url, **env), database=db, telemetry=telemetry)
    async with live_server(app, direct=direct) as server:
        yield server


def hub_of(server: LiveServer) -> Hub:
    """The /ws hub of a running app (found through the fan-out plugin's start-up callbacks)."""
    plugin = server.app.plugins.get(ChorusChannelsPlugin)
    hubs = [cb.__self__ for cb in plugin.on_started if isinstance(getattr(cb, "__self__", None), Hub)]
    assert len(hubs) == 1 and isinstance(hubs[0], Hub)
    return hubs[0]


@dataclass
class Agent:
    actor: Actor
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def token_agent(w: World, handle: str, label: str = "internal") -> Agent:
    from tests.channels.helpers import agent

    actor = await agent(w, handle, label)
    assert actor.member_id is not None
    token = await agent_token_for(actor.member_id)
    return Agent(await actor_for_member(await get_member(w.ws, actor.member_id)), token)


async def setup(name: str = "ops", label: str = "internal", n: int = 2) -> tuple[World, dict[str, Any], list[Agent]]:
    """A workspace, a channel and ``n`` member agents with tokens."""
    w = await world()
    channel = await ch.create_channel(w.system, name, "", w.system.scheme.parse(label))
    agents = [await token_agent(w, f"{name}-{i}", label) for i in range(1, n + 1)]
    await ch.add_members_bulk(w.system, channel["id"], [int(a.actor.member_id or 0) for a in agents])
    return w, channel, agents


async def raw_socket(server: LiveServer, headers: dict[str, str], **kwargs: Any) -> ClientConnection:
    ws = await websockets.connect(f"{server.ws_url}/ws", additional_headers=headers, compression=None, **kwargs)
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello", hello
    return ws


async def recv_until(ws: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next frame of type ``kind`` (frames of other types before it are dropped)."""
    async with asyncio.timeout(timeout):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps({"v": 1, **frame}))
