"""Browser-test fixtures: Debian's chromium driven by Playwright, the real app under uvicorn on a small Meridian
workspace (loaded through the scenario service), signed-in browser contexts, and screenshots for people to look at.

Without /usr/bin/chromium the browser tests skip, unless CHORUS_TEST_REQUIRE_ALL is set (then they fail).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from personas.scenario import builtin_scenario, load_scenario
from personas.services_load import load_scenario_into
from sso import services_tokens
from sso.services_sessions import SESSION_COOKIE
from tests.sso.helpers import HumanSession, human_session
from tests.support import LiveServer, live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.services import ensure_workspace, get_scheme, system_actor
from workspace.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
AGENTS = 60
"""Meridian scaled down: every role and channel, a few agents each; loads in about a second."""
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 780}


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CHORUS_TEST_REQUIRE_ALL"):
        pytest.fail(f"CHORUS_TEST_REQUIRE_ALL is set but {CHROMIUM} is missing (apt-get install chromium)")
    pytest.skip(reason=f"{CHROMIUM} is missing: browser tests need Debian's chromium (apt-get install chromium)")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless chromium for one test (Playwright's own browser downloads are never used)."""
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Workspace:
    """The running app and its data: ``url``, the workspace id, the top label (for admins who see everything)."""

    server: LiveServer
    workspace_id: int
    top_label: str

    @property
    def url(self) -> str:
        return self.server.url

    async def session(self, handle: str, roles: tuple[str, ...], label: str) -> HumanSession:
        return await human_session(handle, roles, label, workspace_id=self.workspace_id)

    async def context(self, browser: Any, session: HumanSession | None = None, **kwargs: Any) -> Any:
        """A browser context (its own cookie jar) at desktop size, signed in as ``session`` when given."""
        ctx = await browser.new_context(viewport=DESKTOP, base_url=self.url, **kwargs)
        if session is not None:
            await ctx.add_cookies([{"name": SESSION_COOKIE, "value": session.cookie, "url": self.url}])
        return ctx


async def meridian(workspace_id: int) -> None:
    system = await system_actor(workspace_id)
    await load_scenario_into(system, load_scenario(builtin_scenario("meridian")), agents=AGENTS)


@pytest.fixture
async def ui(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[Workspace]:
    """Chorus with the dev login on, serving a small Meridian workspace."""
    services_tokens.forget_cached()
    ws = await ensure_workspace()
    await meridian(ws)
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false",
                                  "CHORUS_DEV_LOGIN": "true"})
    async with live_server(create_app(settings, database=sqlite_db)) as server:
        yield Workspace(server, ws, str((await get_scheme(ws)).top()))


async def shoot(page: Any, name: str) -> None:
    """Save ``name``-desktop.png and ``name``-phone.png (full page) under test-output/screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    # Nothing may be wider than a phone screen, except inside the scrollable table wrappers.
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    await page.set_viewport_size(DESKTOP)
    assert overflow <= 0, f"page {name} is {overflow}px wider than a 375px phone screen"
