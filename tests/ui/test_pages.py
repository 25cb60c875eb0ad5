"""The pages over plain HTTP (no browser): who may open which page, sign-in redirects, refusals as HTML pages,
CSRF on forms, and changes made through forms landing in the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from personas.services_agents import page_agents
from sso.services_sessions import CSRF_FIELD
from tests.sso.helpers import agent_token_for
from tests.support import LiveServer, live_server
from tests.ui.conftest import cleared_for_harbor, meridian
from workspace.app import create_app
from workspace.db import Database
from workspace.services import ensure_workspace, get_member, get_scheme
from workspace.settings import Settings
from workspace.tables import AuditEvent

PAGES = ["/", "/channels", "/channels/town-hall", "/admin/agents", "/admin/roles", "/admin/import", "/admin/runs",
         "/security/audit", "/security/verify", "/security/blocked", "/security/reads"]


@pytest.fixture
async def server(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[LiveServer]:
    await meridian(await ensure_workspace())
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false"})
    async with live_server(create_app(settings, database=sqlite_db)) as srv:
        yield srv


async def test_anonymous_browsers_are_sent_to_sign_in_and_come_back(server: LiveServer) -> None:
    async with server.client() as http:
        for path in [*PAGES, "/security/audit?action=login."]:
            res = await http.get(path)
            assert res.status_code == 303, (path, res.status_code)
            assert res.headers["location"].startswith("/auth/login?next=/"), path
        res = await http.get("/security/audit?action=login.")
        assert res.headers["location"] == "/auth/login?next=/security/audit?action=login."


async def test_each_role_reaches_its_pages_and_is_refused_the_others_with_a_page(server: LiveServer) -> None:
    from tests.sso.helpers import human_session

    top = str((await get_scheme(await ensure_workspace())).top())
    people = {"employee": await human_session("emma", ("employee",), "internal"),
              "admin": await human_session("adam", ("admin",), top),
              "security": await human_session("sara", ("security",), top)}
    allowed = {"employee": ("/", "/channels"), "admin": ("/", "/channels", "/admin"),
               "security": ("/", "/channels", "/security")}
    for role, session in people.items():
        async with server.client(cookies=session.cookies) as http:
            for path in PAGES:
                res = await http.get(path)
                ok = any(path == p if p == "/" else path.startswith(p) for p in allowed[role])
                assert res.status_code == (200 if ok else 403), (role, path, res.status_code)
                assert res.headers["content-type"].startswith("text/html"), (role, path)
                if not ok:
                    needs = {"admin": "administrators", "security": "security reviewers"}[path.split("/")[1]]
                    assert f"This page is for {needs}." in res.text, res.text
    async with server.client(cookies=people["employee"].cookies) as http:
        res = await http.get("/channels/exec-staff")
        assert res.status_code == 403
        assert "The channel is above your clearance; yours is internal." in res.text
        assert "restricted/exec" not in res.text, "a reader below a channel is not told its label"
        assert (await http.get("/channels/no-such-channel")).status_code == 404


async def test_agent_tokens_cannot_open_pages(server: LiveServer) -> None:
    agent = (await page_agents(await ensure_workspace(), limit=1))[0]
    token = await agent_token_for(agent["member_id"])
    async with server.client(headers={"Authorization": f"Bearer {token}"}) as http:
        for path in ("/channels", "/admin/agents", "/security/audit"):
            res = await http.get(path)
            assert res.status_code == 403, path
            assert "agent tokens reach only the agent API" in res.text


async def test_forms_need_the_csrf_token_and_their_changes_are_audited(server: LiveServer) -> None:
    from tests.sso.helpers import human_session

    ws = await ensure_workspace()
    admin = await human_session("adam", ("admin",), str((await get_scheme(ws)).top()))
    agent = (await page_agents(ws, role="Sales Representative", limit=1))[0]
    url = f"/admin/agents/{agent['member_id']}/label"
    async with server.client(cookies=admin.cookies) as http:
        refused = await http.post(url, data={"label": "public"})
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert refused.headers["content-type"].startswith("text/html")
        bad = await http.post(url, data={"label": "secret", CSRF_FIELD: admin.csrf_token})
        assert bad.status_code == 400 and "unknown tier &#39;secret&#39;" in bad.text
        done = await http.post(url, data={"label": "public", CSRF_FIELD: admin.csrf_token})
        assert done.status_code == 303 and done.headers["location"].endswith("?done=label")
    member = await get_member(ws, agent["member_id"])
    assert (member["label_level"], member["label_mask"]) == (0, 0)
    rows = await AuditEvent.select().where(AuditEvent.action == "agent.label_changed")
    assert [(r["actor_handle"], r["entity_id"]) for r in rows] == [("adam", str(agent["member_id"]))]


async def test_issued_tokens_are_shown_once_and_never_cached(server: LiveServer) -> None:
    from tests.sso.helpers import human_session

    ws = await ensure_workspace()
    admin = await human_session("adam", ("admin",), str((await get_scheme(ws)).top()))
    agent = (await page_agents(ws, limit=1))[0]
    async with server.client(cookies=admin.cookies) as http:
        res = await http.post(f"/admin/agents/{agent['member_id']}/tokens", data={CSRF_FIELD: admin.csrf_token})
        assert res.status_code == 200 and res.headers["cache-control"] == "no-store"
        found = re.search(r'id="new-token" readonly value="(chorus_at_[^"]+)"', res.text)
        assert found is not None, res.text
        again = await http.get(f"/admin/agents/{agent['member_id']}")
        assert found.group(1) not in again.text and 'id="new-token"' not in again.text
        assert found.group(1)[:16] in again.text  # the prefix identifies it in the token list


async def test_a_bad_audit_date_is_explained_on_the_page(server: LiveServer) -> None:
    from tests.sso.helpers import human_session

    sec = await human_session("sara", ("security",), "internal")
    async with server.client(cookies=sec.cookies) as http:
        res = await http.get("/security/audit", params={"since": "yesterday"})
        assert res.status_code == 400
        assert "since must be a date and time like 2026-11-21T12:30" in res.text


async def test_an_admin_starts_and_stops_a_run_and_sets_a_budget_from_the_runs_page(server: LiveServer) -> None:
    from tests.sso.helpers import human_session

    admin = await human_session("adam", ("admin",), str((await get_scheme(await ensure_workspace())).top()))
    async with server.client(cookies=admin.cookies) as http:
        bad = await http.post("/admin/runs", data={"mode": "rounds", "rounds": "0", CSRF_FIELD: admin.csrf_token})
        assert bad.status_code == 400 and "rounds must be between 1 and" in bad.text
        started = await http.post("/admin/runs", data={"mode": "rounds", "rounds": "3", "max_cost": "1.50",
                                                       CSRF_FIELD: admin.csrf_token})
        assert started.status_code == 303
        page = await http.get("/admin/runs")
        assert 'id="runs"' in page.text and "pending" in page.text and "/ $1.50" in page.text
        assert 'http-equiv="refresh"' not in page.text, "the page updates in place, never reloads"
        state = (await http.get("/admin/runs/state")).json()
        assert state["active"] is True and state["runs"][0]["status"] == "pending"
        run_id = int(re.search(r'action="/admin/runs/(\d+)/stop"', page.text).group(1))  # type: ignore[union-attr]
        assert (await http.post(f"/admin/runs/{run_id}/stop", data={CSRF_FIELD: admin.csrf_token})).status_code == 303
        budget = await http.post("/admin/budgets", data={"scope": "department", "target": "sales",
                                                         "max_tokens": "5000", CSRF_FIELD: admin.csrf_token})
        assert budget.status_code == 303
        page = await http.get("/admin/runs")
        assert "stopped" in page.text and 'id="budgets"' in page.text and "5,000" in page.text
    actions = {r["action"] for r in await AuditEvent.select(AuditEvent.action)}
    assert {"run.started", "run.stop_requested", "budget.set"} <= actions


async def test_the_agent_list_finds_agents_by_handle_prefix_and_status_in_the_query(server: LiveServer) -> None:
    from personas.services_control import kill
    from tests.sso.helpers import human_session
    from workspace.services import system_actor

    ws = await ensure_workspace()
    top = str((await get_scheme(ws)).top())
    admin = await human_session("adam", ("admin",), top)
    first = (await page_agents(ws, limit=1))[0]
    prefix = first["handle"].rsplit("-", 1)[0] + "-"
    await kill(await system_actor(ws), agent=first["handle"])
    async with server.client(cookies=admin.cookies) as http:
        res = await http.get("/admin/agents", params={"q": prefix[:-3]})
        assert res.status_code == 200
        handles = set(re.findall(r">([a-z][a-z0-9-]+-\d{4})<", res.text))
        assert handles, "a prefix lists the agents whose handle starts with it"
        assert all(h.startswith(prefix[:-3]) for h in handles)
        res = await http.get("/admin/agents", params={"status": "off"})
        assert re.findall(r">([a-z][a-z0-9-]+-\d{4})<", res.text) == [first["handle"]]
        res = await http.get("/admin/agents", params={"q": "zzz-nobody"})
        assert "No agent handle starts with" in res.text
    assert [a["handle"] for a in await page_agents(ws, active=False)] == [first["handle"]]
    assert all(a["handle"].startswith(prefix) for a in await page_agents(ws, handle_prefix=prefix))
    assert await page_agents(ws, handle_prefix="%") == [], "LIKE wildcards in the prefix are literal"


async def test_the_chain_check_starts_from_the_page_and_is_followed_through_the_api(server: LiveServer) -> None:
    import asyncio

    from tests.sso.helpers import human_session

    sec = await human_session("sara", ("security",), "internal")
    async with server.client(cookies=sec.cookies) as http:
        assert (await http.post("/security/verify")).status_code == 403, "a form post needs the CSRF token"
        started = await http.post("/security/verify", data={CSRF_FIELD: sec.csrf_token})
        assert started.status_code == 303 and started.headers["location"] == "/security/verify"
        for _ in range(200):
            body = (await http.get("/api/audit/verifications/latest")).json()
            if body["job"]["status"] != "running":
                break
            await asyncio.sleep(0.05)
        assert body["job"]["status"] == "done" and body["job"]["ok"] is True
        assert body["last_verified"]["id"] == body["job"]["id"] and body["job"]["started_by"] == "sara"
        page = await http.get("/security/verify")
        assert 'id="verify-ok"' in page.text and "started by sara" in page.text
        download = await http.post("/security/checkpoint", data={CSRF_FIELD: sec.csrf_token})
        assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment;")
        assert download.json()["algorithm"] == "HMAC-SHA256" and download.headers["cache-control"] == "no-store"
        newest = (await http.get("/api/audit", params={"order": "newest", "limit": 2, "total": "true"})).json()
        assert newest["events"][0]["action"] == "audit.checkpoint_created" and newest["total"] > 2
        assert newest["next_before_seq"] == newest["events"][-1]["id"]


async def test_an_admin_uploads_lists_and_deletes_documents_within_their_clearance(server: LiveServer) -> None:
    from tests.sso.helpers import human_session

    ws = await ensure_workspace()
    admin = await human_session("adam", ("admin",), "confidential/finance")
    memo = ("# Q3 cash plan\n\nWe defer the Brenner payment to October.\n", "q3.md")
    note = ("Canteen opens at noon from Monday.\n", "canteen.txt")
    async with server.client(cookies=admin.cookies) as http:
        files = [("files", (memo[1], memo[0].encode(), "text/markdown")),
                 ("files", (note[1], note[0].encode(), "text/plain"))]
        refused = await http.post("/admin/documents", data={"label": "internal"}, files=files)
        assert refused.status_code == 403 and "CSRF" in refused.text, "a multipart form needs the token too"
        done = await http.post("/admin/documents", data={"label": "confidential/finance",
                                                         CSRF_FIELD: admin.csrf_token}, files=files)
        assert done.status_code == 200, done.text
        assert 'id="uploaded"' in done.text and "Q3 cash plan" in done.text  # titles: the heading, else the name
        assert "<li>canteen <span" in done.text
        above = await http.post("/admin/documents", data={"label": "restricted", CSRF_FIELD: admin.csrf_token},
                                files=[("files", ("x.md", b"# X\n\nsecret", "text/markdown"))])
        assert above.status_code == 403 and "may not file" in above.text and "labelled restricted" in above.text
        binary = await http.post("/admin/documents", data={"label": "internal", CSRF_FIELD: admin.csrf_token},
                                 files=[("files", ("logo.png", b"\x89PNG", "image/png"))])
        assert binary.status_code == 400 and "logo.png is not a Markdown or text file" in binary.text
        listing = await http.get("/admin/documents")
        assert "Q3 cash plan" in listing.text and "canteen" in listing.text
        assert "more documents above your clearance" in listing.text  # Meridian's restricted ones: counted only
        found = re.search(r'action="/admin/documents/(\d+)/delete"', listing.text)
        assert found is not None
        doc_id = int(found.group(1))
        asked = await http.post(f"/admin/documents/{doc_id}/delete", data={CSRF_FIELD: admin.csrf_token})
        assert asked.status_code == 200 and 'id="confirm-delete"' in asked.text, "a delete asks first"
        gone = await http.post(f"/admin/documents/{doc_id}/delete", data={CSRF_FIELD: admin.csrf_token,
                                                                          "confirm": "yes"})
        assert gone.status_code == 303 and gone.headers["location"] == "/admin/documents?done=deleted"
        assert f'action="/admin/documents/{doc_id}/delete"' not in (await http.get("/admin/documents")).text
    actions = [r["action"] for r in await AuditEvent.select().where(
        AuditEvent.action.is_in(["document.ingested", "document.deleted"]) & (AuditEvent.actor_handle == "adam"))]
    assert sorted(actions) == ["document.deleted", "document.ingested", "document.ingested"]
    assert ws


async def test_kill_switches_and_imports_say_what_they_will_do_before_they_do_it(server: LiveServer) -> None:
    from tests.sso.helpers import human_session

    ws = await ensure_workspace()
    admin = await human_session("adam", ("admin",), str(await cleared_for_harbor(ws)))
    technicians = await page_agents(ws, role="Assembly Technician", limit=100)
    async with server.client(cookies=admin.cookies) as http:
        form = {"scope": "role", "target": "Assembly Technician", "action": "kill", "reason": "noisy",
                CSRF_FIELD: admin.csrf_token}
        asked = await http.post("/admin/switches", data=form)
        assert asked.status_code == 200 and 'id="confirm-switch"' in asked.text
        assert f"Switch off {len(technicians)} agents" in asked.text and "noisy" in asked.text
        assert all([(await get_member(ws, a["member_id"]))["active"] for a in technicians]), "nothing switched yet"
        done = await http.post("/admin/switches", data={**form, "confirm": "yes"})
        assert done.status_code == 303 and done.headers["location"] == "/admin/roles?done=killed"
        assert not any([(await get_member(ws, a["member_id"]))["active"] for a in technicians])
        one = await page_agents(ws, role="Sales Representative", limit=1)
        asked = await http.post(f"/admin/agents/{one[0]['member_id']}/kill", data={CSRF_FIELD: admin.csrf_token})
        assert "Switch off 1 agent<" in asked.text and (await get_member(ws, one[0]["member_id"]))["active"]

        page = await http.get("/admin/import")
        assert "This workspace holds: Meridian Medical Devices." in page.text
        assert '<option value="meridian" selected>' in page.text and '"harbor" selected' not in page.text
        before = await AuditEvent.count()
        plan = await http.post("/admin/import", data={"source": "builtin", "builtin": "harbor", "mode": "preview",
                                                      CSRF_FIELD: admin.csrf_token})
        assert plan.status_code == 200 and 'id="import-plan"' in plan.text
        assert "already holds scenario &#39;Meridian Medical Devices&#39;" in plan.text
        assert 'id="import-now"' in plan.text
        assert re.search(r'id="plan-agents">\d+ agents', plan.text)
        assert await AuditEvent.count() == before, "a dry run writes nothing"
        none = await http.post("/admin/import", data={"source": "builtin", "builtin": "", CSRF_FIELD: admin.csrf_token})
        assert none.status_code == 400 and "choose a built-in scenario" in none.text
        same = await http.post("/admin/import", data={"source": "builtin", "builtin": "meridian", "mode": "preview",
                                                      "agents": "60", CSRF_FIELD: admin.csrf_token})
        assert "Nothing: everything in this scenario is already here." in same.text


async def test_run_coverage_names_only_documents_within_the_admins_clearance(server: LiveServer,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from personas.context.documents import list_documents
    from personas.runtime import runs
    from tests.sso.helpers import human_session
    from workspace.services import system_actor

    ws = await ensure_workspace()
    system = await system_actor(ws)
    docs = {d["label"]: d for d in await list_documents(system)}
    public, secret = docs["public"], next(d for label, d in docs.items() if label.startswith("restricted"))
    real_get_run = runs.get_run

    async def with_coverage(actor: Any, run_id: int) -> dict[str, Any]:
        per_doc = [{"id": d["id"], "title": d["title"], "chunks": 2, "read": 1, "read_by_two_roles": 0}
                   for d in (public, secret)]
        return {**await real_get_run(actor, run_id),
                "coverage": {"chunks": 4, "read": 2, "read_by_two_roles": 0, "documents": per_doc}}

    monkeypatch.setattr(runs, "get_run", with_coverage)
    await runs.start_run(system, rounds=2)
    admin = await human_session("adam", ("admin",), "internal")
    async with server.client(cookies=admin.cookies) as http:
        page = (await http.get("/admin/runs")).text
        state = (await http.get("/admin/runs/state")).text
    assert public["title"] in page and "2 of 4 passages read (50%)" in page
    assert secret["title"] not in page and secret["title"] not in state
    assert f"document #{secret['id']} (above your clearance)" in page
