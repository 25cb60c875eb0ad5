"""Access control across the whole app: every route in the OpenAPI schema refuses anonymous callers and agent
tokens unless it is meant for them; the dev login's loopback rule; the security reviewers' audit API."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.routes import WebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sso.domain import is_loopback, parts
from sso.middleware import is_for_agents
from tests.sso.helpers import agent_token_for, create_agent_member, dev_form_token, human_session
from tests.support import LiveServer, live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.errors import ConfigError
from workspace.labels import LabelScheme
from workspace.services import ensure_workspace
from workspace.settings import Settings
from workspace.tables import AuditEvent

PUBLIC_EXACT = {"/healthz", "/readyz", "/auth/login", "/auth/callback", "/auth/backchannel-logout"}
PUBLIC_PREFIXES = ("/schema", "/auth/dev")
"""The only routes anonymous callers may reach. Adding one here is a security decision: say why in the commit."""
AGENT_PREFIXES = ("/api/channels", "/api/messages", "/api/context", "/ws")
"""Where agent routes (``tags=["agents"]`` or ``opt={"agents": True}``) may live: the channel and message API and an
agent's own scoped context. Agent tokens are refused everywhere else."""


ANY = "0.0.0.0"  # noqa: S104 (a bind address under test, not a bind)


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


def agent_routes(app: Any) -> set[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every HTTP handler marked for agents, read from the app itself (opt is not in
    the schema)."""
    out: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if is_for_agents(handler):
                out.update((m.upper(), route.path_format) for m in getattr(handler, "http_methods", ()))
    return out


def settings_for(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false", **env})


@pytest.fixture
async def server(db: Database, tmp_path: Path) -> AsyncIterator[LiveServer]:
    await ensure_workspace(scheme=LabelScheme(compartments=("finance",)))
    app = create_app(settings_for(tmp_path, CHORUS_DEV_LOGIN="true"), database=db)
    async with live_server(app) as srv:
        yield srv


async def test_every_route_refuses_anonymous_callers_and_agents_where_not_meant_for_them(server: LiveServer) -> None:
    token = await agent_token_for(await create_agent_member("walker-1"))
    for_agents = agent_routes(server.app)
    misplaced = sorted(f"{m} {p}" for m, p in for_agents if not p.startswith(AGENT_PREFIXES))
    assert not misplaced, f"routes open to agent tokens outside the agent API: {misplaced}"
    async with server.client() as http:
        schema = (await http.get("/schema/openapi.json")).json()
        checked: list[str] = []
        failures: list[str] = []
        for path, item in schema["paths"].items():
            url = re.sub(r"\{[^}]+\}", "1", path)
            for method in item:
                if method not in {"get", "post", "put", "patch", "delete"}:
                    continue
                name = f"{method.upper()} {path}"
                checked.append(name)
                body: Any = {} if method in {"post", "put", "patch"} else None
                if not is_public(path):
                    anon = await http.request(method, url, json=body)
                    if anon.status_code != 401:
                        failures.append(f"{name}: anonymous got {anon.status_code}, expected 401")
                if (method.upper(), path) not in for_agents and not is_public(path):
                    agent = await http.request(method, url, headers={"Authorization": f"Bearer {token}"},
                                               json=body)
                    if agent.status_code not in (401, 403):
                        failures.append(f"{name}: an agent token got {agent.status_code}, expected 401/403")
    assert {"GET /auth/me", "GET /api/audit", "POST /auth/logout", "GET /auth/login"} <= set(checked)
    assert not failures, "routes that let the wrong caller in:\n" + "\n".join(failures)


async def test_every_websocket_route_refuses_anonymous_callers(server: LiveServer) -> None:
    paths = [r.path_format for r in server.app.routes if isinstance(r, WebSocketRoute)]
    for path in paths:
        url = server.ws_url + re.sub(r"\{[^}]+\}", "1", path)
        with pytest.raises((InvalidStatus, ConnectionClosed)):  # refused at the handshake, or closed at once
            async with connect(url, open_timeout=10) as ws:
                await asyncio.wait_for(ws.recv(), timeout=10)


def test_dev_login_refuses_to_start_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"binds '0\.0\.0\.0', which is not a loopback address"):
        parts(settings_for(tmp_path, CHORUS_DEV_LOGIN="true", CHORUS_HOST=ANY))
    with pytest.raises(ConfigError, match="not a loopback"):
        create_app(settings_for(tmp_path, CHORUS_DEV_LOGIN="true", CHORUS_HOST="10.1.2.3"))
    assert parts(settings_for(tmp_path, CHORUS_HOST=ANY)).name == "sso"  # off: any bind is fine
    assert [is_loopback(h) for h in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost")] == [True] * 5
    assert [is_loopback(h) for h in (ANY, "::", "10.0.0.1", "chorus.example")] == [False] * 4


async def test_dev_login_picks_roles_and_clearance_and_is_audited(server: LiveServer) -> None:
    async with server.client() as http:
        form = await http.get("/auth/dev", params={"next": "/channels"})
        assert form.status_code == 200 and "Dev login is on" in form.text and 'name="clearance"' in form.text
        token = await dev_form_token(http)
        bad = await http.post("/auth/dev", data={"handle": "dana", "roles": ["admin"], "clearance": "secret",
                                                 "login_csrf": token})
        assert bad.status_code == 400 and "unknown tier" in bad.text
        done = await http.post("/auth/dev", data={"handle": "dana", "roles": ["admin", "security"],
                                                  "clearance": "confidential/finance", "next": "/channels",
                                                  "login_csrf": token})
        assert done.status_code == 303 and done.headers["location"] == "/channels"
        me = (await http.get("/auth/me")).json()
        assert (me["handle"], me["roles"], me["clearance"], me["dev_login"]) == (
            "dana", ["admin", "security"], "confidential/finance", True)
        offsite = await http.post("/auth/dev", data={"handle": "dana", "roles": ["employee"], "clearance": "internal",
                                                     "next": "//evil.example/x", "login_csrf": token})
        assert offsite.headers["location"] == "/"
    logins = await AuditEvent.select().where(AuditEvent.action == "login.dev").order_by(AuditEvent.id)
    assert len(logins) == 2 and '"picked_clearance":"confidential/finance"' in logins[0]["details"]
    demoted = await AuditEvent.select().where(AuditEvent.action == "member.roles_changed")
    assert len(demoted) == 1 and '"removed":["admin","security"]' in demoted[0]["details"]


async def test_without_oidc_or_dev_login_sign_in_says_what_to_configure(db: Database, tmp_path: Path) -> None:
    async with live_server(create_app(settings_for(tmp_path), database=db)) as srv, srv.client() as http:
        resp = await http.get("/auth/login")
        assert resp.status_code == 503 and "CHORUS_OIDC_ISSUER" in resp.text
        assert (await http.get("/auth/dev")).status_code == 404


async def test_audit_api_is_for_security_reviewers(server: LiveServer) -> None:
    reviewer = await human_session("sec", ["security"], "internal")
    employee = await human_session("emp", ["employee"], "internal")
    async with server.client() as http:
        assert (await http.get("/api/audit", headers=employee.headers)).status_code == 403
        page = (await http.get("/api/audit", params={"action": "login.*", "limit": 1},
                               headers=reviewer.headers)).json()
        assert [e["action"] for e in page["events"]] == ["login.dev"] and page["next_after_seq"] is not None
        nxt = (await http.get("/api/audit", params={"action": "login.*", "after_seq": page["next_after_seq"]},
                              headers=reviewer.headers)).json()
        assert [e["actor"]["handle"] for e in nxt["events"]] == ["emp"] and nxt["next_after_seq"] is None
        by_actor = (await http.get("/api/audit", params={"actor": "sec"}, headers=reviewer.headers)).json()
        assert {e["actor"]["handle"] for e in by_actor["events"]} == {"sec"}

        jsonl = await http.get("/api/audit/export", params={"format": "jsonl"}, headers=reviewer.headers)
        lines = [json.loads(line) for line in jsonl.text.splitlines()]
        assert jsonl.headers["content-type"].startswith("application/x-ndjson")
        assert [e["id"] for e in lines] == sorted(e["id"] for e in lines) and len(lines) >= 5
        csv_resp = await http.get("/api/audit/export", params={"format": "csv"}, headers=reviewer.headers)
        assert csv_resp.text.splitlines()[0].startswith("id,date,workspace_id,action")
        bad = await http.get("/api/audit/export", params={"format": "xml"}, headers=reviewer.headers)
        assert bad.status_code == 400 and "jsonl or csv" in bad.json()["detail"]

        verified = (await http.get("/api/audit/verify", headers=reviewer.headers)).json()
        assert verified["ok"] is True and verified["events"] >= 5 and verified["last_checkpoint"] is None
    exported = await AuditEvent.select().where(AuditEvent.action == "audit.exported")
    assert len(exported) == 2 and all(e["actor_handle"] == "sec" for e in exported)
