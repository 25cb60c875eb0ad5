"""The pages in a real browser (Debian's chromium through Playwright) against the real app on a small Meridian
workspace: dev sign-in, a message arriving live, a label change changing the preview, the audit export; every page
is saved as a desktop and a phone screenshot under test-output/screenshots.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from channels.services import access_channel, list_members, post_message
from personas.errors import LeakBlocked
from personas.services_agents import page_agents
from personas.services_retrieval import retrieve
from tests.ui.conftest import Workspace, shoot
from workspace.actor import Actor
from workspace.services import actor_for_member, get_member, system_actor

pytestmark = pytest.mark.browser


async def agent_in(ui: Workspace, channel: str, nth: int = 0) -> Actor:
    """The ``nth`` agent member of ``channel``, as an Actor that can post."""
    system = await system_actor(ui.workspace_id)
    members = [m for m in await list_members(system, channel) if m["kind"] == "agent"]
    return await actor_for_member(await get_member(ui.workspace_id, members[nth]["id"]))


async def test_dev_login_signs_in_and_shows_only_channels_the_clearance_allows(ui: Workspace, browser: Any) -> None:
    ctx = await ui.context(browser)
    page = await ctx.new_page()
    await page.goto("/channels")
    await expect(page).to_have_url(f"{ui.url}/auth/dev?next=%2Fchannels")
    await expect(page.locator(".banner-dev")).to_be_visible()
    await shoot(page, "dev-login")
    await page.get_by_label("Handle").fill("dana")
    await page.get_by_label("Clearance").fill("internal/sales")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{ui.url}/channels")
    await expect(page.get_by_role("link", name="#sales-pipeline")).to_be_visible()
    await expect(page.get_by_role("link", name="#town-hall")).to_be_visible()
    # internal/sales does not dominate internal/manufacturing or anything confidential
    await expect(page.get_by_role("link", name="#plant-floor")).to_have_count(0)
    await expect(page.get_by_role("link", name="#exec-staff")).to_have_count(0)
    await expect(page.get_by_role("link", name="Agents")).to_have_count(0)  # not an admin: no admin navigation
    await shoot(page, "channels")
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Welcome, dana")).to_be_visible()
    await shoot(page, "home")
    await ctx.close()


async def test_a_new_message_thread_reply_and_reaction_arrive_live(ui: Workspace, browser: Any) -> None:
    speaker, other = await agent_in(ui, "town-hall", 0), await agent_in(ui, "town-hall", 1)
    first = await post_message(speaker, "town-hall", "Good morning from the plant, everyone.", "ui-1")
    ctx = await ui.context(browser, await ui.session("erin", ("employee",), "internal"))
    page = await ctx.new_page()
    await page.goto("/channels/town-hall")
    await expect(page.locator(".banner-observe")).to_contain_text("people observe")
    await expect(page.locator("#live")).to_have_attribute("data-state", "live")
    await expect(page.locator(f"#m-{first['seq']}")).to_contain_text("Good morning from the plant")

    # Posted while the page is open: it must appear without a reload (the page stays the same document).
    await page.evaluate("window.__same_document = true")
    fresh = await post_message(other, "town-hall", "Line 2 hit 420 pumps this week <b>not bold</b>", "ui-2")
    item = page.locator(f"#m-{fresh['seq']}")
    await expect(item).to_contain_text("Line 2 hit 420 pumps this week <b>not bold</b>")  # text, never HTML
    await expect(item.locator("strong")).to_have_text(other.handle)
    reply = await post_message(speaker, "town-hall", "Great work, team.", "ui-3", thread_of=fresh["id"])
    await expect(page.locator(f"#m-{reply['seq']}")).to_contain_text("in a thread")
    await expect(item.locator("a.replies")).to_have_text("1 reply")
    from channels.services import react

    await react(speaker, fresh["id"], "vote", "up")
    await expect(item.locator(".reactions")).to_have_text("\u25b2 1")
    assert await page.evaluate("window.__same_document") is True
    await shoot(page, "channel-live")

    # The thread view and a permalink land on the right messages.
    await item.locator("a.replies").click()
    await expect(page.get_by_role("heading", name="Thread in #town-hall")).to_be_visible()
    await expect(page.locator(f"#m-{reply['seq']}")).to_contain_text("Great work, team.")
    await expect(page.locator(f"#m-{first['seq']}")).to_have_count(0)  # not part of this thread
    await shoot(page, "thread")
    await page.goto(f"/channels/town-hall#m-{first['seq']}")
    await expect(page.locator(f"#m-{first['seq']}")).to_be_visible()
    await ctx.close()


async def test_changing_an_agents_label_changes_what_the_preview_shows(ui: Workspace, browser: Any) -> None:
    system = await system_actor(ui.workspace_id)
    technician = (await page_agents(ui.workspace_id, role="Assembly Technician", limit=1))[0]
    ctx = await ui.context(browser, await ui.session("ada", ("admin",), ui.top_label))
    page = await ctx.new_page()
    await page.goto("/admin/agents")
    await expect(page.locator("#agents tbody tr")).to_have_count(50)  # first keyset page of 60 agents
    await shoot(page, "agents")
    await page.get_by_label("Handle, role or department").fill(technician["handle"])
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("heading", name=technician["handle"])).to_be_visible()
    await page.get_by_label("Preview in channel").select_option("plant-floor")
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#preview-scope")).to_have_text("internal/manufacturing")
    before = await page.locator("#preview-docs li").all_inner_texts()
    assert any("Assembly line schedule" in t for t in before), before
    await shoot(page, "agent")

    await page.get_by_label("New label").fill("public")
    await page.get_by_role("button", name="Change label").click()
    await expect(page.locator("[role=status].card")).to_contain_text("Label changed")
    await expect(page.locator("#agent-label")).to_have_text("public")
    await expect(page.locator("#preview-scope")).to_have_text("public")
    after = await page.locator("#preview-docs li").all_inner_texts()
    assert after and set(after) < set(before), (before, after)
    assert not any("Assembly line schedule" in t for t in after)
    # and the change took effect in the data: the agent left the channel it no longer dominates
    assert technician["member_id"] not in {m["id"] for m in await list_members(system, "plant-floor")}

    await page.get_by_role("button", name="Issue token").click()
    token = await page.locator("#new-token").input_value()
    assert token.startswith("chorus_") or len(token) > 30
    await page.goto("/admin/roles")
    await shoot(page, "roles")
    await page.goto("/admin/import")
    await shoot(page, "import")
    await page.goto("/admin/runs")
    await shoot(page, "runs")
    await ctx.close()


async def test_security_searches_verifies_and_exports_the_audit_trail(ui: Workspace, browser: Any) -> None:
    # Something for the security pages to show: a context read and a blocked leak.
    seller = await agent_in(ui, "sales-pipeline")
    channel = await access_channel(seller, "sales-pipeline")
    chunks = await retrieve(seller, "trade show plan", channel)
    with pytest.raises(LeakBlocked):
        await post_message(seller, "town-hall", chunks[0].text, "ui-leak")

    ctx = await ui.context(browser, await ui.session("sam", ("security",), ui.top_label), accept_downloads=True)
    page = await ctx.new_page()
    await page.goto("/security/audit")
    await page.get_by_label("Action").fill("agents.created")
    await page.get_by_role("button", name="Search").click()
    rows = page.locator("#audit-events tbody tr")
    await expect(rows.first).to_contain_text("agents.created")
    assert all("agents.created" in t for t in await rows.all_inner_texts())
    await shoot(page, "audit")

    async with page.expect_download() as info:
        await page.locator("#export-jsonl").click()
    download = await info.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines and {e["action"] for e in lines} == {"agents.created"}
    assert all(len(e["hash"]) == 64 for e in lines)
    async with page.expect_download() as info:
        await page.locator("#export-csv").click()
    csv_text = Path(await (await info.value).path()).read_text(encoding="utf-8")
    assert csv_text.splitlines()[0].startswith("id,") and csv_text.count("agents.created") == len(lines)

    await page.goto("/security/verify")
    await expect(page.locator("#verify-ok")).to_have_text("Intact")
    await shoot(page, "verify")
    await page.goto("/security/blocked")
    await expect(page.locator("#blocked-events tbody tr")).to_have_count(1)
    await expect(page.locator("#blocked-events")).to_contain_text(seller.handle)
    await shoot(page, "blocked")
    await page.goto(f"/security/reads?agent={seller.handle}")
    await expect(page.locator("#read-events tbody tr")).to_have_count(1)
    await expect(page.locator("#read-events")).to_contain_text("trade show plan")
    await shoot(page, "reads")
    await ctx.close()


async def test_an_employee_reads_the_digest_opens_an_insight_and_follows_its_evidence(ui: Workspace,
                                                                                     browser: Any) -> None:
    from insights.services_mining import mine_workspace
    from personas.providers.offline import OfflineProvider
    from personas.runtime_runs import execute_run, start_run

    system = await system_actor(ui.workspace_id)
    run = await start_run(system, rounds=4, seed=7, status="running")
    await execute_run(run["id"], OfflineProvider())
    await mine_workspace(system)
    top = str(system.scheme.top())
    ctx = await ui.context(browser, await ui.session("ines", ("employee",), top))
    page = await ctx.new_page()
    await page.goto("/")
    digest = page.locator("#digest")
    await expect(digest).to_be_visible()
    first = digest.locator("a[href^='/insights/']").first
    await expect(first).to_be_visible()
    await shoot(page, "digest")
    title = (await first.inner_text()).strip()
    await first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(title[:30])
    evidence = page.locator("#evidence")
    await expect(evidence).to_be_visible()
    link = evidence.locator("a[href*='#m-']").first
    await expect(link).to_be_visible()
    await expect(page.locator("#triage")).to_be_visible()
    await shoot(page, "insight")
    href = await link.get_attribute("href")
    assert href is not None
    seq = href.rsplit("#m-", 1)[1]
    await link.click()
    await expect(page.locator(f"[id='m-{seq}']")).to_be_visible()
    await shoot(page, "insight-evidence-message")
    await ctx.close()
