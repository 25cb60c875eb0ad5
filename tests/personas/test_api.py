"""The personas HTTP API in the real app under uvicorn: admin-only routes, token issue/rotate/revoke with last-used
times, kill switch, label changes, document ingest, scenario import, preview, and context search as an agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.personas.helpers import Acme, load_acme
from tests.sso.helpers import HumanSession, human_session
from tests.support import LiveServer, live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.settings import Settings

TOP = "restricted/ops+finance+legal"


@pytest.fixture
async def server(db: Database, tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false"})
    async with live_server(create_app(settings, database=db)) as srv:
        yield srv


async def _admin(acme: Acme) -> HumanSession:
    return await human_session("ada", ("admin", "employee"), TOP, workspace_id=acme.ws)


async def test_admin_routes_refuse_anonymous_people_without_the_role_and_agents(server: LiveServer) -> None:
    acme = await load_acme()
    employee = await human_session("eve", ("employee",), TOP, workspace_id=acme.ws)
    async with server.client() as http:
        assert (await http.get("/api/admin/agents")).status_code == 401
        resp = await http.get("/api/admin/agents", headers=employee.headers)
        assert resp.status_code == 403 and "admin" in resp.json()["detail"]
        admin = await _admin(acme)
        picker = (await http.get("/api/admin/agents", params={"role": "Picker"}, headers=admin.headers)).json()
        agent_id = picker["agents"][0]["member_id"]
        token = (await http.post(f"/api/admin/agents/{agent_id}/tokens", headers=admin.headers)).json()["token"]
        resp = await http.get("/api/admin/agents", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 403


async def test_tokens_issue_rotate_revoke_and_last_used(server: LiveServer) -> None:
    acme = await load_acme()
    admin = await _admin(acme)
    async with server.client() as http:
        listing = (await http.get("/api/admin/agents", params={"limit": 5}, headers=admin.headers)).json()
        assert len(listing["agents"]) == 5 and listing["next_after"] == listing["agents"][-1]["member_id"]
        agent = listing["agents"][0]
        base = f"/api/admin/agents/{agent['member_id']}/tokens"
        first = (await http.post(base, headers=admin.headers)).json()
        assert first["handle"] == agent["handle"] and first["token"].startswith("chorus_at_")
        bearer = {"Authorization": f"Bearer {first['token']}"}
        resp = await http.get("/api/context/search", params={"channel": "ops-floor", "q": "scanner batteries"},
                              headers=bearer)
        assert resp.status_code == 200, resp.text
        assert resp.json()["chunks"][0]["title"] == "Scanner fleet"
        meta = (await http.get(base, headers=admin.headers)).json()
        assert len(meta) == 1 and meta[0]["last_used_at"] is not None and "token" not in meta[0]

        second = (await http.post(base, headers=admin.headers)).json()  # rotation
        assert (await http.get("/api/context/search", params={"channel": "lobby", "q": "badges"},
                               headers=bearer)).status_code == 401
        bearer = {"Authorization": f"Bearer {second['token']}"}
        assert (await http.get("/api/context/search", params={"channel": "lobby", "q": "badges"},
                               headers=bearer)).status_code == 200
        resp = await http.delete(base, headers=admin.headers)
        assert resp.status_code == 200 and resp.json() == {"revoked": 1}
        resp = await http.get("/api/context/search", params={"channel": "lobby", "q": "badges"}, headers=bearer)
        assert resp.status_code == 401 and "revoked" in resp.json()["detail"]


async def test_kill_switch_labels_documents_preview_and_import(server: LiveServer) -> None:
    acme = await load_acme()
    admin = await _admin(acme)
    async with server.client() as http:
        agents = (await http.get("/api/admin/agents", params={"role": "Counsel"}, headers=admin.headers)).json()
        counsel = agents["agents"][0]
        token = (await http.post(f"/api/admin/agents/{counsel['member_id']}/tokens", headers=admin.headers)).json()
        bearer = {"Authorization": f"Bearer {token['token']}"}
        resp = await http.post("/api/admin/kill-switches", json={"department": "legal", "reason": "test"},
                               headers=admin.headers)
        assert resp.status_code == 201 and resp.json()["members"] == 2
        resp = await http.get("/api/context/search", params={"channel": "lobby", "q": "badges"}, headers=bearer)
        assert resp.status_code == 403 and "kill switch" in resp.json()["detail"]
        resp = await http.post("/api/admin/kill-switches/revive", json={"department": "legal"},
                               headers=admin.headers)
        assert resp.json()["members"] == 2
        assert (await http.get("/api/context/search", params={"channel": "lobby", "q": "badges"},
                               headers=bearer)).status_code == 200

        resp = await http.post("/api/admin/documents", headers=admin.headers, json={
            "title": "Board minutes", "label": "confidential/finance",
            "body": "Acme board minutes. The board approved the budget for the new Dover depot."})
        assert resp.status_code == 201 and resp.json()["created"] is True
        bad = await http.post("/api/admin/documents", headers=admin.headers,
                              json={"title": "x", "body": "y", "label": "secret"})
        assert bad.status_code == 400 and "unknown tier 'secret'" in bad.json()["detail"]
        preview = (await http.get(f"/api/admin/agents/{counsel['member_id']}/preview", params={"channel": "money"},
                                  headers=admin.headers)).json()
        assert [d["title"] for d in preview["documents"]] == ["Visitor handbook", "Carrier contract",
                                                              "Board minutes"]

        resp = await http.patch(f"/api/admin/agents/{counsel['member_id']}", json={"label": "internal/ops"},
                                headers=admin.headers)
        assert resp.status_code == 200 and resp.json()["removed_from"] == {"boardroom": 1, "money": 1}
        resp = await http.patch("/api/admin/roles/Greeter", json={"label": "internal"}, headers=admin.headers)
        assert resp.status_code == 200 and resp.json()["agents"] == 2
        roles = {r["name"]: r for r in (await http.get("/api/admin/roles", headers=admin.headers)).json()}
        assert roles["Greeter"]["label"] == "internal" and roles["Picker"]["agents"] == 6

        upload = "version: 1\nname: Tiny\norg:\n  - role: Clerk\n    department: ops\n    count: 3\n" \
                 "    label: {tier: internal}\nchannels:\n  - name: clerks\n    topic: Clerks\n" \
                 "    label: {tier: internal}\n    members: {roles: [Clerk]}\n"
        resp = await http.post("/api/admin/scenarios", json={"yaml": upload}, headers=admin.headers)
        assert resp.status_code == 201 and resp.json()["agents_created"] == 3
        broken = upload.replace("roles: [Clerk]", "roles: [Clark]")
        resp = await http.post("/api/admin/scenarios", json={"yaml": broken}, headers=admin.headers)
        assert resp.status_code == 400
        assert resp.json()["errors"][0]["location"] == "upload.yaml:12"
        assert "unknown role 'Clark'" in resp.json()["errors"][0]["message"]
