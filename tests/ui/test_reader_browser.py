"""A reader's main tasks in a real browser (Debian's chromium through Playwright) against the real app: the digest
after signing in again at a higher clearance, a cited document opening at its highlighted passage, the dev login's
pickers, and the API docs page working with no network. Screenshots go to test-output/screenshots.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from sso.pages import DEMO_HINT
from tests.insights.helpers import document_with_span, stored_insight
from tests.ui.conftest import Workspace, shoot
from workspace.services import system_actor

pytestmark = pytest.mark.browser


async def dev_sign_in(page: Any, handle: str, *, preset: str | None = None, clearance: str | None = None) -> None:
    """Sign in through the dev login form as a person would: a handle, a "sign in as" choice, a clearance."""
    await page.goto("/auth/dev")
    await page.get_by_label("Handle").fill(handle)
    if preset:
        await page.get_by_role("radio", name=preset).check()
    if clearance:
        await page.get_by_label("Clearance", exact=True).select_option(clearance)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name=f"Welcome, {handle}")).to_be_visible()


async def sign_out(page: Any) -> None:
    await page.get_by_role("button", name="Sign out").click()


async def test_the_digest_changes_when_the_reader_signs_in_again_at_a_higher_clearance(ui: Workspace,
                                                                                       browser: Any) -> None:
    system = await system_actor(ui.workspace_id)
    await stored_insight(system, "Line 2 depends on one sensor supplier", "internal/manufacturing", score=0.7)
    await stored_insight(system, "The Q3 board pack plans a price rise", "restricted/exec", score=0.9)
    ctx = await ui.context(browser)
    page = await ctx.new_page()

    await dev_sign_in(page, "pia", clearance="public")
    digest = page.locator("#digest")
    await expect(digest).to_have_attribute("data-state", "above_clearance")
    await expect(digest.locator(".digest-empty")).to_contain_text("Nothing within your clearance.")
    await expect(digest.locator(".digest-empty")).to_contain_text("Ask an administrator")
    await expect(page.locator("#digest-footer .label-chip")).to_have_text("public")
    await expect(digest).not_to_contain_text("sensor supplier")
    await shoot(page, "digest-empty")
    await sign_out(page)

    await dev_sign_in(page, "pia", preset="Administrator, with security review, at the highest clearance")
    await expect(digest).to_have_attribute("data-state", "items")
    items = digest.locator("li.insight")
    await expect(items).to_have_count(2)
    await expect(items.first).to_contain_text("The Q3 board pack plans a price rise")
    await expect(page.locator("#digest-footer .label-chip")).to_have_text(ui.top_label)
    await expect(page.locator("#digest-footer")).to_contain_text("2 of the 2 insights you may see")
    await page.locator("#legend summary").click()
    await expect(page.locator("#legend")).to_contain_text("0.70 and above: high")
    await shoot(page, "digest-after-clearance-change")
    await ctx.close()


async def test_a_cited_document_opens_at_the_highlighted_passage(ui: Workspace, browser: Any) -> None:
    system = await system_actor(ui.workspace_id)
    filler = "".join(f"Week {n}: the line ran its planned shifts and nothing else was reported.\n\n"
                     for n in range(1, 60))
    body = f"# Sensor supply note\n\n{filler}Halvorsen is the only qualified PS-40 supplier; a second source takes " \
           "14 weeks to qualify.\n"
    doc, span = await document_with_span(system, "Sensor supply note", body, "internal/manufacturing",
                                         "a second source takes 14 weeks to qualify")
    insight = await stored_insight(system, "Line 2 depends on one sensor supplier", "internal/manufacturing",
                                   spans=[span], documents=[doc])
    ctx = await ui.context(browser, await ui.session("mona", ("employee",), "internal/manufacturing"))
    page = await ctx.new_page()
    await page.goto(f"/insights/{insight}")
    link = page.locator("#evidence a.cited-document")
    await expect(link).to_have_text("Sensor supply note")
    await link.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sensor supply note")
    mark = page.locator("mark#cited")
    await expect(mark).to_have_text("a second source takes 14 weeks to qualify")
    await expect(mark).to_be_in_viewport()  # far down a long document: the page opens at the passage
    assert urlsplit(page.url).query == f"chunk={span['chunk']}&start={span['start']}&end={span['end']}"
    await shoot(page, "document-cited-passage")

    await page.goto("/")  # the digest links to the same passage
    await page.locator("#digest a.cited-document").first.click()
    await expect(page.locator("mark#cited")).to_be_in_viewport()
    await ctx.close()

    outsider = await ui.context(browser, await ui.session("sal", ("employee",), "internal/sales"))
    page = await outsider.new_page()
    response = await page.goto(f"/documents/{doc}?chunk={span['chunk']}&start={span['start']}&end={span['end']}")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Above your clearance")
    await expect(page.locator("main")).not_to_contain_text("Sensor supply")
    await outsider.close()


async def test_the_dev_login_pickers_pick_roles_and_the_highest_clearance(ui: Workspace, browser: Any) -> None:
    ctx = await ui.context(browser)
    page = await ctx.new_page()
    await page.goto("/auth/dev")
    await expect(page.locator("#dev-hint")).to_have_text(DEMO_HINT)
    clearance = page.get_by_label("Clearance", exact=True)
    await expect(clearance).to_have_value("public")
    roles = {r: page.locator(f"input[name=roles][value={r}]") for r in ("admin", "security", "employee")}
    await expect(roles["employee"]).to_be_checked()

    await page.get_by_role("radio", name="Administrator, with security review, at the highest clearance").check()
    await expect(clearance).to_have_value(ui.top_label)
    await expect(roles["admin"]).to_be_checked()
    await expect(roles["security"]).to_be_checked()
    await expect(roles["employee"]).not_to_be_checked()
    await shoot(page, "dev-login-pickers")

    await page.get_by_role("radio", name="Employee").check()
    await expect(roles["employee"]).to_be_checked()
    await expect(roles["admin"]).not_to_be_checked()
    await clearance.select_option("internal/sales")
    await page.get_by_label("Handle").fill("dana")
    await page.get_by_role("button", name="Sign in").click()
    me = await (await page.request.get("/auth/me")).json()
    assert me["clearance"] == "internal/sales" and me["roles"] == ["employee"]
    await ctx.close()


async def test_the_api_docs_work_with_no_network(ui: Workspace, browser: Any) -> None:
    ctx = await ui.context(browser)
    elsewhere: list[str] = []

    async def only_here(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await ctx.route("**/*", only_here)
    page = await ctx.new_page()
    await page.goto("/schema/swagger")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Chorus")
    await expect(page.locator(".opblock-tag-section").first).to_be_visible()
    assert elsewhere == [], f"the API docs asked the network for {elsewhere}"
    await shoot(page, "api-docs")
    await ctx.close()
