"""The pages in a real browser (Debian's chromium through Playwright) against the real app on a small Meridian
workspace: dev sign-in, a label change changing the preview, the audit export (channels: test_browser_channels.py);
every page is saved as a desktop and a phone screenshot under test-output/screenshots.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from channels.services import access_channel, list_members, post_message
from personas.context.retrieval import retrieve
from personas.errors import LeakBlocked
from personas.services_agents import page_agents
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
    await page.get_by_label("Clearance", exact=True).select_option("internal/sales")
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
    # Newest first, with how many entries there are: the newest is the page view's own sign-in or the blocked post.
    seqs = [int(t) for t in await page.locator("#audit-events tbody tr td:first-child").all_inner_texts()]
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True), seqs
    total = int(re.sub(r"\D", "", (await page.locator("#audit-total").inner_text()).split(" ")[0]))
    assert total >= seqs[0] - 1 and total > 50
    await page.get_by_role("link", name="Older entries").click()
    older = [int(t) for t in await page.locator("#audit-events tbody tr td:first-child").all_inner_texts()]
    assert older[0] == seqs[-1] - 1

    # Filters combine: actor and action together; details read as fields, not JSON.
    await page.goto("/security/audit")
    await page.get_by_label("Actor (handle or id)").fill(seller.handle)
    await page.get_by_label("Action").fill("post.blocked")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#audit-total")).to_have_text(re.compile(r"^1 entry match every filter"))
    row = page.locator("#audit-events tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("dt")).to_have_text(["amount", "canary", "channel", "channel label", "documents", "how",
                                                  "label", "reason", "sources"])
    await expect(row).not_to_contain_text("{")
    documents = row.locator("dl.fields > div").filter(has=page.locator("dt", has_text="documents"))
    await expect(documents.locator("dd")).to_contain_text(chunks[0].title)  # the document's title, not its id
    await page.get_by_label("Actor (handle or id)").fill("")
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

    # The chain check runs in the background; the page follows it and then says when it was last verified.
    await page.goto("/security/verify")
    await expect(page.locator("#last-verified")).to_contain_text("has not been verified")
    await page.get_by_role("button", name="Verify the chain now").click()
    await expect(page.locator("#verify-ok")).to_have_text("Intact", timeout=20_000)
    await expect(page.locator("#last-verified")).to_contain_text("started by sam")
    await shoot(page, "verify")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download a new checkpoint").click()
    checkpoint = json.loads(Path(await (await info.value).path()).read_text(encoding="utf-8"))
    assert checkpoint["algorithm"] == "HMAC-SHA256" and checkpoint["seq"] > 50 and len(checkpoint["signature"]) == 64

    await page.goto("/security/blocked")
    await expect(page.locator("#blocked-events tbody tr")).to_have_count(1)
    await expect(page.locator("#blocked-events")).to_contain_text(seller.handle)
    await expect(page.locator("#blocked-events")).to_contain_text(chunks[0].title)
    await shoot(page, "blocked")
    await page.goto(f"/security/reads?agent={seller.handle}")
    await expect(page.locator("#read-events tbody tr")).to_have_count(1)
    await expect(page.locator("#read-events")).to_contain_text("trade show plan")
    await expect(page.locator("#read-events ul.docs")).to_contain_text(chunks[0].title)
    await shoot(page, "reads")
    await ctx.close()


async def test_an_employee_reads_the_digest_opens_an_insight_and_follows_its_evidence(ui: Workspace,
                                                                                     browser: Any) -> None:
    from insights.services_mining import mine_workspace
    from personas.llm.offline import OfflineProvider
    from personas.runtime.runs import execute_run, start_run

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
