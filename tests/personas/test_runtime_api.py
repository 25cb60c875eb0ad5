"""The runtime admin API in the real app under uvicorn, with the runtime job running inside the server (embedded
default): start a run, watch its live progress, see its posts arrive on a WebSocket as they are made, stop it;
budgets and spend; admin-only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from personas.scenario import builtin_scenario, load_scenario
from personas.services_load import load_scenario_into
from tests.sso.helpers import HumanSession, human_session
from tests.support import LiveServer, live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.services import ensure_workspace, system_actor
from workspace.settings import Settings

TOP = "restricted/manufacturing+quality+service+sales+engineering+supply+finance+legal+exec"


@pytest.fixture
async def server(db: Database, tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "true",
                                  "CHORUS_DATABASE_URL": db.settings.url.reveal()})
    async with live_server(create_app(settings, database=db)) as srv:
        yield srv


async def _setup() -> tuple[HumanSession, HumanSession]:
    ws = await ensure_workspace()
    await load_scenario_into(await system_actor(ws), load_scenario(builtin_scenario("meridian")), 60)
    admin = await human_session("ada", ("admin", "employee"), TOP, workspace_id=ws)
    employee = await human_session("eve", ("employee",), TOP, workspace_id=ws)
    return admin, employee


async def _until(http: httpx.AsyncClient, admin: HumanSession, run_id: int, done: Any) -> dict[str, Any]:
    for _ in range(1200):
        run: dict[str, Any] = (await http.get(f"/api/admin/runs/{run_id}", headers=admin.headers)).json()
        if done(run):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not get there: {run}")


async def test_a_run_started_through_the_api_posts_live_and_stops(server: LiveServer) -> None:
    admin, employee = await _setup()
    async with server.client() as http:
        assert (await http.post("/api/admin/runs", json={"rounds": 2})).status_code == 401
        refused = await http.post("/api/admin/runs", json={"rounds": 2}, headers=employee.headers)
        assert refused.status_code == 403
        bad = await http.post("/api/admin/runs", json={"rounds": 0}, headers=admin.headers)
        assert bad.status_code == 400 and bad.json()["code"] == "validation_failed"
        both = await http.post("/api/admin/runs", json={"rounds": 2, "continuous": True}, headers=admin.headers)
        assert both.status_code == 400 and "either rounds" in both.json()["detail"]

        async with websockets.connect(f"{server.ws_url}/ws", additional_headers=admin.ws_headers,
                                      compression=None) as sock:
            assert json.loads(await sock.recv())["type"] == "hello"
            await sock.send(json.dumps({"type": "subscribe", "channel": "town-hall"}))
            assert json.loads(await sock.recv())["type"] == "subscribed"
            started = await http.post("/api/admin/runs", json={"continuous": True, "seed": 4, "interval_s": 0.05},
                                      headers=admin.headers)
            assert started.status_code == 201, started.text
            run = started.json()
            assert run["status"] in ("pending", "running") and run["mode"] == "continuous"
            frame = json.loads(await asyncio.wait_for(sock.recv(), 60))  # a post of the run, as it happens
            assert frame["type"] == "message" and frame["message"]["author_kind"] == "agent"
        live = await _until(http, admin, run["id"], lambda r: r["rounds_done"] >= 2)
        assert live["status"] == "running" and live["turns"] > 0 and live["messages"] > 0
        assert live["tokens_in"] > 0
        stopped = await http.post(f"/api/admin/runs/{run['id']}/stop", headers=admin.headers)
        assert stopped.status_code == 200 and stopped.json()["stop_requested"] is True
        final = await _until(http, admin, run["id"], lambda r: r["status"] != "running")
        assert final["status"] == "stopped" and final["finished_at"] is not None
        again = await http.post(f"/api/admin/runs/{run['id']}/stop", headers=admin.headers)
        assert again.status_code == 409
        runs = (await http.get("/api/admin/runs", headers=admin.headers)).json()["runs"]
        assert [r["id"] for r in runs] == [run["id"]]
        resp = await http.get(f"/api/admin/runs/{run['id']}/turns", params={"limit": 1000}, headers=admin.headers)
        assert resp.status_code == 200, resp.text
        turns = resp.json()["turns"]
        posted = [t for t in turns if t["outcome"] == "posted"]
        assert posted and all(isinstance(t["documents"], list) and t["agent"] for t in posted)
        assert (await http.get("/api/admin/runs/999999", headers=admin.headers)).status_code == 404


async def test_budgets_and_spend_through_the_api(server: LiveServer) -> None:
    admin, _ = await _setup()
    async with server.client() as http:
        resp = await http.put("/api/admin/budgets", json={"scope": "department", "target": "nowhere",
                                                          "max_tokens": 10}, headers=admin.headers)
        assert resp.status_code == 404 and "nowhere" in resp.json()["detail"]
        resp = await http.put("/api/admin/budgets", json={"scope": "department", "target": "sales"},
                              headers=admin.headers)
        assert resp.status_code == 400
        resp = await http.put("/api/admin/budgets", json={"scope": "department", "target": "sales",
                                                          "max_tokens": 0}, headers=admin.headers)
        assert resp.status_code == 200, resp.text
        run = (await http.post("/api/admin/runs", json={"rounds": 2, "seed": 2}, headers=admin.headers)).json()
        final = await _until(http, admin, run["id"], lambda r: r["status"] not in ("pending", "running"))
        assert final["status"] == "completed" and final["rounds_done"] == 2
        spend = (await http.get("/api/admin/spend", headers=admin.headers)).json()["departments"]
        by_dept = {d["department"]: d for d in spend}
        assert "sales" not in by_dept or by_dept["sales"]["tokens_in"] == 0
        assert sum(d["tokens_in"] for d in spend) == final["tokens_in"] > 0
        budgets = (await http.get("/api/admin/budgets", headers=admin.headers)).json()["budgets"]
        assert budgets == [{"scope": "department", "target": "sales", "max_tokens": 0, "max_cost": None,
                            "used_tokens": 0, "used_cost": 0.0}]
        assert (await http.delete("/api/admin/budgets/department/sales", headers=admin.headers)).status_code == 204
        assert (await http.get("/api/admin/budgets", headers=admin.headers)).json()["budgets"] == []
