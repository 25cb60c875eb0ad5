"""Probe in a real browser (Debian's chromium): the pages work under their Content-Security-Policy. Chromium reports
every script, style or connection the policy blocks; the probe visits the pages with behaviour of their own (the
live channel view and its WebSocket, the import page's file reader, a freshly issued token) and expects no such
report, and the import page's script to have run. A page framed by another origin is refused.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.ui.conftest import Workspace

pytestmark = pytest.mark.browser


async def test_the_pages_work_under_their_policy_and_refuse_to_be_framed(ui: Workspace, browser: Any,
                                                                       tmp_path: Any) -> None:
    person = await ui.session("olga", ("admin", "security", "employee"), ui.top_label)
    ctx = await ui.context(browser, person)
    page = await ctx.new_page()
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text else None)
    for path in ("/", "/channels", "/channels/town-hall", "/insights", "/admin/agents", "/admin/roles",
                 "/admin/runs", "/security/audit", "/security/reads", "/security/verify"):
        await page.goto(path)
        await page.wait_for_load_state("networkidle")
    await page.goto("/admin/import")
    scenario = tmp_path / "mine.yaml"
    scenario.write_text("version: 1\nname: From a file\n")
    await page.locator("#yaml-file").set_input_files(str(scenario))
    await expect(page.locator("#yaml-text")).to_have_value("version: 1\nname: From a file\n")
    await expect(page.locator('input[name="source"][value="upload"]')).to_be_checked()
    await page.goto("/admin/agents")
    await page.locator("table a").first.click()
    await page.get_by_role("button", name="Issue token").click()
    await expect(page.locator("#new-token")).to_have_value(re.compile("^chorus_at_"))
    assert not blocked, "\n".join(blocked)

    framing = await ctx.new_page()
    # a public page (a cross-site frame carries no session cookie): the sign-in form must not render in a frame
    await framing.set_content(f'<iframe id="f" src="{ui.url}/auth/dev"></iframe>')  # waits for the frame's load
    frame = await (await framing.query_selector("#f")).content_frame()
    assert frame is not None
    assert "Dev login" not in await frame.content(), "the page rendered inside another page"
    await ctx.close()
