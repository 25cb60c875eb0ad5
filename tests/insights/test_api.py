"""The insights and digests API and pages over real HTTP: filters and pages, evidence with links, triage with and
without the CSRF token, digests (latest/by id/generate), the home page's digest, the list and insight pages and the
triage form; anonymous browsers go to sign in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from insights import services as svc
from tests.channels.helpers import generous_limits, world
from tests.insights.test_services import _two_channel_world
from tests.sso.helpers import human_session
from tests.support import LiveServer, live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.settings import Settings


@pytest.fixture
async def server(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[LiveServer]:
    app = create_app(Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false"}),
                     database=sqlite_db)
    async with live_server(app) as srv:
        generous_limits()
        svc.forget_state()
        yield srv


async def test_api_lists_filters_shows_evidence_and_triages_with_csrf(server: LiveServer) -> None:
    w = await world()
    risk, opp = await _two_channel_world(w)
    low = await human_session("ivan", label="internal/ops", workspace_id=w.ws)
    high = await human_session("hana", label="restricted/ops+sales", workspace_id=w.ws)
    async with server.client() as http:
        mine = (await http.get("/api/insights", headers=low.headers)).json()
        ids = {i["id"] for i in mine["insights"]}
        assert risk in ids and opp not in ids
        theirs = (await http.get("/api/insights?kind=opportunity", headers=high.headers)).json()
        assert opp in {i["id"] for i in theirs["insights"]} and {i["kind"] for i in theirs["insights"]} == {
            "opportunity"}
        page = (await http.get("/api/insights?limit=1", headers=high.headers)).json()
        assert len(page["insights"]) == 1 and page["next_cursor"]
        nxt = (await http.get(f"/api/insights?limit=1&cursor={page['next_cursor']}", headers=high.headers)).json()
        assert nxt["insights"][0]["id"] != page["insights"][0]["id"]
        bad = await http.get("/api/insights?kind=rumour", headers=high.headers)
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "kind"

        detail = (await http.get(f"/api/insights/{risk}", headers=low.headers)).json()
        assert detail["cited_messages"] and all(
            m["link"] == f"/channels/plant-floor?from={m['seq']}#m-{m['seq']}" for m in detail["cited_messages"])
        assert "KX-12" in " ".join(m["excerpt"] for m in detail["cited_messages"])
        above = await http.get(f"/api/insights/{opp}", headers=low.headers)
        assert above.status_code == 403 and "requires label restricted/sales" in above.json()["detail"]

        no_csrf = await http.post(f"/api/insights/{risk}/triage", json={"action": "acknowledge"},
                                  headers={"cookie": low.headers["cookie"]})
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
        ok = await http.post(f"/api/insights/{risk}/triage", json={"action": "acknowledge", "comment": "on it"},
                             headers=low.headers)
        assert ok.status_code == 200 and ok.json()["status"] == "acknowledged"
        assert ok.json()["comments"][0]["body"] == "on it"
        acked = (await http.get("/api/insights?status=acknowledged", headers=low.headers)).json()
        assert [i["id"] for i in acked["insights"]] == [risk]
        wrong = await http.post(f"/api/insights/{risk}/triage", json={"action": "shred"}, headers=low.headers)
        assert wrong.status_code == 400

        latest = (await http.get("/api/digests/latest?period=weekly", headers=low.headers)).json()
        assert risk in latest["insight_ids"] and opp not in latest["insight_ids"] and "KX-12" in latest["markdown"]
        again = (await http.get(f"/api/digests/{latest['id']}", headers=low.headers)).json()
        assert again["html"] == latest["html"]
        other = await http.get(f"/api/digests/{latest['id']}", headers=high.headers)
        assert other.status_code == 404
        made = await http.post("/api/digests", json={"period": "daily"}, headers=high.headers)
        assert made.status_code == 201 and opp in made.json()["insight_ids"]


async def test_pages_show_the_digest_the_list_and_the_evidence_and_take_the_triage_form(server: LiveServer) -> None:
    w = await world()
    risk, opp = await _two_channel_world(w)
    low = await human_session("ivan", label="internal/ops", workspace_id=w.ws)
    async with server.client() as http:
        anonymous = await http.get("/", follow_redirects=False)
        assert anonymous.status_code in (302, 303) and anonymous.headers["location"].startswith("/auth/login")
        home = await http.get("/", headers=low.headers)
        assert home.status_code == 200 and 'id="digest"' in home.text
        assert f'data-insight-id="{risk}"' in home.text and f'data-insight-id="{opp}"' not in home.text
        listing = await http.get("/insights?kind=risk", headers=low.headers)
        assert 'id="insight-list"' in listing.text and f'data-insight-id="{risk}"' in listing.text
        assert "<svg" in listing.text and "Insights over time" in listing.text
        view = await http.get(f"/insights/{risk}", headers=low.headers)
        assert 'id="evidence"' in view.text and 'id="triage"' in view.text and "#m-" in view.text
        assert f'name="csrf_token" value="{low.csrf_token}"' in view.text
        form = await http.post(f"/insights/{risk}/triage", headers={"cookie": low.headers["cookie"]},
                               data={"action": "dismiss", "csrf_token": low.csrf_token}, follow_redirects=False)
        assert form.status_code == 303 and form.headers["location"] == f"/insights/{risk}#triage"
        assert (await http.get(f"/api/insights/{risk}", headers=low.headers)).json()["status"] == "dismissed"
        hidden = await http.get(f"/insights/{opp}", headers=low.headers)
        assert hidden.status_code == 403 and "requires label" in hidden.text
