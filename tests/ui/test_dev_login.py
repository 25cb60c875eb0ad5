"""The dev login over plain HTTP: a clearance picker listing the scheme's labels (every tier, the clearances the
workspace's roles hold, the highest), "sign in as" choices where the admin one selects the highest clearance, and the
hint that ``chorus demo`` prints, said by the form too."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sso.pages import DEMO_HINT, clearance_choices
from tests.sso.helpers import dev_form_token
from tests.support import LiveServer, live_server
from tests.ui.conftest import meridian
from workspace.app import create_app
from workspace.db import Database
from workspace.services import ensure_workspace, get_scheme
from workspace.settings import Settings


@pytest.fixture
async def server(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[LiveServer]:
    await meridian(await ensure_workspace())
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false",
                                  "CHORUS_DEV_LOGIN": "true"})
    async with live_server(create_app(settings, database=sqlite_db)) as srv:
        yield srv


async def test_the_dev_login_offers_the_schemes_labels_and_the_demo_hint_matches(server: LiveServer) -> None:
    scheme = await get_scheme(await ensure_workspace())
    choices = [value for value, _ in await clearance_choices(await ensure_workspace(), scheme)]
    top, bottom = str(scheme.top()), str(scheme.bottom())
    assert choices[0] == bottom and choices[-1] == top
    assert {"internal", "confidential", "internal/sales", "internal/manufacturing+quality"} <= set(choices), \
        "every tier and the clearances the workspace's roles hold"
    async with server.client() as http:
        form = await http.get("/auth/dev")
    options = re.findall(r'<option value="([^"]*)"', form.text)
    assert options == choices
    assert re.search(r'<option value="public" selected>', form.text), "an employee starts at the lowest clearance"
    admin = re.search(r'<input type="radio" name="preset" value="admin"[^>]*>', form.text)
    assert admin is not None and f'data-clearance="{top}"' in admin.group(0), "admin picks the highest clearance"
    assert "highest clearance" in DEMO_HINT and "admin" in DEMO_HINT
    assert DEMO_HINT in form.text, "the form says what chorus demo prints"
    async with server.client() as http:
        res = await http.post("/auth/dev", data={"handle": "ada", "roles": ["admin", "security"], "clearance": top,
                                                 "next": "/", "login_csrf": await dev_form_token(http)})
        assert res.status_code == 303
        who = (await http.get("/auth/me")).json()
        assert who["clearance"] == top and set(who["roles"]) == {"admin", "security"}
