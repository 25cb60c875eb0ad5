"""Pages over plain HTTP (no browser): refusals and failures in people's words (never "human 'emma' needs the
role admin"), HTML for browsers and problem details for API clients at unknown addresses, the favicon, and the API
docs page served from local assets only (it used to load Swagger UI from a CDN and was blank offline)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import LiveServer, live_server
from tests.ui.conftest import meridian
from workspace.app import create_app
from workspace.db import Database
from workspace.services import ensure_workspace
from workspace.settings import Settings


@pytest.fixture
async def server(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[LiveServer]:
    await meridian(await ensure_workspace())
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false"})
    async with live_server(create_app(settings, database=sqlite_db)) as srv:
        yield srv


async def _session(handle: str, roles: tuple[str, ...], label: str) -> dict[str, str]:
    from tests.sso.helpers import human_session

    return (await human_session(handle, roles, label)).cookies


async def test_refusals_and_failures_speak_the_readers_language(server: LiveServer) -> None:
    async with server.client(cookies=await _session("emma", ("employee",), "internal")) as http:
        res = await http.get("/admin/agents")
        assert res.status_code == 403
        assert "This page is for administrators. You are signed in as emma (employee)." in res.text
        assert "ask an administrator to give you the admin role" in res.text
        assert "needs the role" not in res.text and "human &#39;emma&#39;" not in res.text
        res = await http.get("/channels/exec-staff")
        assert res.status_code == 403
        assert "The channel is above your clearance; yours is internal." in res.text
        assert "restricted/exec" not in res.text, "a reader below a channel is not told its label"
        res = await http.get("/no/such/page", headers={"accept": "text/html"})
        assert res.status_code == 404 and res.headers["content-type"].startswith("text/html")
        assert "the link may be wrong" in res.text
        api = await http.get("/api/no/such/route")
        assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


async def test_every_page_has_an_icon_and_the_api_docs_load_nothing_from_elsewhere(server: LiveServer) -> None:
    async with server.client() as http:
        icon = await http.get("/favicon.ico")
        assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00", "an ICO file"
        assert (await http.get("/static/favicon.svg")).status_code == 200
        docs = await http.get("/schema/swagger")
        assert docs.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        for asset in sources:
            res = await http.get(asset)
            assert res.status_code == 200, asset
            assert len(res.content) > 100, asset
