"""Signing in through the real OpenID Provider (npm oidc-provider 9) in a real browser: Chorus redirects to the
provider, the browser fills its login and consent forms, and comes back signed in with the mapped role and label.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import expect

from tests.sso.op import Account, OPClient, OpenIDProvider, free_port
from tests.ui.conftest import meridian, require_chromium, shoot
from workspace.app import create_app
from workspace.db import Database
from workspace.services import ensure_workspace
from workspace.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.oidc]


@pytest.fixture(scope="module")
def chorus_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def op(chorus_port: int) -> Iterator[OpenIDProvider]:
    require_chromium()  # no provider process for a test that would skip anyway
    base = f"http://127.0.0.1:{chorus_port}"
    accounts = {"fran": Account(email="fran@meridian.test", name="Fran", groups=["chorus-admins", "staff", "sales"])}
    with OpenIDProvider([OPClient(redirect_uris=(f"{base}/auth/callback",))], accounts) as provider:
        yield provider


@pytest.fixture
async def chorus(sqlite_db: Database, op: OpenIDProvider, chorus_port: int, tmp_path: Path) -> AsyncIterator[str]:
    await meridian(await ensure_workspace())
    env = {"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false",
           "CHORUS_PORT": str(chorus_port), "CHORUS_OIDC_ISSUER": op.issuer,
           "CHORUS_OIDC_CLIENT_ID": op.client.client_id, "CHORUS_OIDC_CLIENT_SECRET": op.client.client_secret,
           "CHORUS_OIDC_ROLE_MAP": "chorus-admins=admin,staff=employee",
           "CHORUS_OIDC_CLEARANCE_MAP": "staff=internal,sales=internal/sales"}
    server = uvicorn.Server(uvicorn.Config(create_app(Settings.from_env(env), database=sqlite_db), host="127.0.0.1",
                                           port=chorus_port, log_level="warning", lifespan="on",
                                           ws_per_message_deflate=False, timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the test server stopped during start-up")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{chorus_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)


async def test_sign_in_through_the_identity_provider_lands_on_the_page_asked_for(
        chorus: str, op: OpenIDProvider, browser: Any) -> None:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await page.goto(f"{chorus}/channels/sales-pipeline")
    await expect(page).to_have_url(re.compile("^" + re.escape(op.issuer)))  # at the provider's login form
    await page.locator("input[name=login]").fill("fran")
    await page.locator("input[name=password]").fill("any")
    await shoot(page, "oidc-provider-login")
    for _ in range(3):  # login, then consent (asked on the first sign-in only), then back to Chorus
        async with page.expect_navigation():
            await page.locator("button[type=submit]").click()
        if page.url.startswith(chorus):
            break
    await expect(page).to_have_url(f"{chorus}/channels/sales-pipeline")
    await expect(page.get_by_role("heading", name="#sales-pipeline")).to_be_visible()
    await expect(page.locator(".who")).to_contain_text("internal/sales")
    await expect(page.get_by_role("link", name="Agents")).to_be_visible()  # chorus-admins -> admin
    await expect(page.locator(".banner-dev")).to_have_count(0)
    await ctx.close()
