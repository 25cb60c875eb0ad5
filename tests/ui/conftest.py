"""Browser-test fixtures: Debian's chromium driven by Playwright, the real app under uvicorn on a small Meridian
workspace (loaded through the scenario service), signed-in browser contexts, and screenshots for people to look at.

Without /usr/bin/chromium (or npm's axe-core, for the accessibility checks) the browser tests skip, unless
CHORUS_TEST_REQUIRE_ALL is set (then they fail).
"""

from __future__ import annotations

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
from tests.support import LiveServer, live_server, unavailable
from workspace.app import create_app
from workspace.db import Database
from workspace.labels import Label
from workspace.services import ensure_workspace, extend_scheme, get_scheme, system_actor
from workspace.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
"""npm's axe-core, installed by `make test` (target axe-core) like the SSO tests' oidc-provider."""
SERIOUS = ("serious", "critical")
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
    unavailable("browser", f"{CHROMIUM} is missing: browser tests need Debian's chromium (apt-get install chromium)")


def require_axe() -> None:
    if AXE.exists():
        return
    unavailable("browser", f"{AXE} is missing: the accessibility checks need npm's axe-core (make axe-core)")


async def axe_violations(page: Any, impacts: tuple[str, ...] = SERIOUS) -> list[str]:
    """Run axe-core on the page as it is now; one line per violation of the given impacts: rule, impact, help and
    the first few offending elements."""
    require_axe()
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    found = await page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + (n.failureSummary ? ": " +
                n.failureSummary.replace(/\\s+/g, " ").slice(0, 160) : ""))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']} -> {'; '.join(v['nodes'])}" for v in found
            if v["impact"] in impacts]


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


async def cleared_for_harbor(workspace_id: int) -> Label:
    """The top label once Harbor's compartments exist: an admin may import only what its clearance dominates, and
    no one holds a compartment the workspace does not have yet (an operator adds them; here, as the system)."""
    harbor = load_scenario(builtin_scenario("harbor"))
    return (await extend_scheme(await system_actor(workspace_id), harbor.scheme.tiers,
                                harbor.scheme.compartments)).top()


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
