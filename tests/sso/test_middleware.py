"""The authentication middleware in the real app under uvicorn: bearer tokens, session cookies, anonymous."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sso.services_tokens import issue_agent_token, revoke_agent_tokens
from tests.sso.helpers import agent_token_for, create_agent_member, human_session
from tests.support import LiveServer, live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.services import ensure_workspace, system_actor
from workspace.settings import Settings


@pytest.fixture
async def server(db: Database, tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false"})
    async with live_server(create_app(settings, database=db)) as srv:
        yield srv


async def test_anonymous_is_refused_and_public_routes_work(server: LiveServer) -> None:
    async with server.client() as http:
        resp = await http.get("/auth/me")
        assert resp.status_code == 401 and resp.headers["content-type"].startswith("application/problem+json")
        assert "sign in" in resp.json()["detail"]
        assert (await http.get("/healthz", headers={"Authorization": "Bearer chorus_at_bogus"})).status_code == 200
        assert (await http.get("/healthz", headers={"cookie": "chorus_session=stale"})).status_code == 200


async def test_session_cookie_gives_the_person(server: LiveServer) -> None:
    await ensure_workspace()
    s = await human_session("sam", ["security", "employee"], "confidential")
    async with server.client() as http:
        resp = await http.get("/auth/me", headers=s.headers)
        assert resp.status_code == 200
        body = resp.json()
        assert (body["handle"], body["roles"], body["clearance"]) == ("sam", ["employee", "security"],
                                                                      "confidential")
        assert body["dev_login"] is False and body["csrf_token"] == s.csrf_token
        resp = await http.get("/auth/me", headers={"cookie": f"chorus_session={s.cookie}x"})
        assert resp.status_code == 401 and "unknown" in resp.json()["detail"]


async def test_agent_token_is_refused_on_human_routes_and_revocation_is_immediate(server: LiveServer) -> None:
    ws = await ensure_workspace()
    agent_id = await create_agent_member("acct-1")
    token = await agent_token_for(agent_id)
    async with server.client() as http:
        resp = await http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 403 and "acct-1" in resp.json()["detail"]
        await revoke_agent_tokens(await system_actor(ws), agent_id)
        resp = await http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401 and "revoked" in resp.json()["detail"]
        fresh = await issue_agent_token(await system_actor(ws), agent_id)
        resp = await http.get("/auth/me", headers={"Authorization": f"Bearer {fresh}"})
        assert resp.status_code == 403


async def test_a_cross_site_websocket_with_the_session_cookie_is_refused(server: LiveServer) -> None:
    import websockets

    await ensure_workspace()
    s = await human_session("sam", ["employee"], "internal")
    cookie = {"cookie": f"chorus_session={s.cookie}"}
    evil = await websockets.connect(f"{server.ws_url}/ws", compression=None,
                                    additional_headers={**cookie, "Origin": "https://evil.example"})
    with pytest.raises(websockets.ConnectionClosed) as refused:  # PROTOCOL.md: credentials refused -> 4401
        await asyncio.wait_for(evil.recv(), 10)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
    assert "origin" in refused.value.rcvd.reason
    same = f"http://{server.host}:{server.port}"
    ws = await websockets.connect(f"{server.ws_url}/ws", additional_headers={**cookie, "Origin": same},
                                  compression=None)
    await ws.close()
