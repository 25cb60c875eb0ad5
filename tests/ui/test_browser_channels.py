"""The channel pages in Chromium against the real app: messages, replies and reactions arriving live; threads in
their panel; the "N new messages" marker while scrolled up or paused, with the jump to the latest; older history on
scroll; and message search limited to what the reader may read.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from channels.services import list_members, post_message, react
from tests.channels.helpers import generous_limits
from tests.ui.conftest import Workspace, shoot
from workspace.actor import Actor
from workspace.services import actor_for_member, get_member, system_actor

pytestmark = pytest.mark.browser


async def agent_in(ui: Workspace, channel: str, nth: int = 0) -> Actor:
    """The ``nth`` agent member of ``channel``, as an Actor that can post."""
    system = await system_actor(ui.workspace_id)
    members = [m for m in await list_members(system, channel) if m["kind"] == "agent"]
    return await actor_for_member(await get_member(ui.workspace_id, members[nth]["id"]))


async def at_bottom(page: Any) -> bool:
    return bool(await page.locator("#scroller").evaluate(
        "el => el.scrollHeight - el.scrollTop - el.clientHeight < 60"))


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
    await expect(item.locator("a.replies")).to_have_text("1 reply")
    await expect(page.locator(f"#m-{reply['seq']}")).to_have_count(0)  # a reply stays in its thread
    await react(speaker, fresh["id"], "emoji", "thumbsup")
    await react(speaker, fresh["id"], "vote", "up")
    await expect(item.locator(".reactions")).to_have_text("\u25b2 1 \U0001F44D 1")
    await expect(item.get_by_label("thumbsup: 1")).to_be_visible()
    assert await page.evaluate("window.__same_document") is True
    await shoot(page, "channel-live")

    # The thread opens in its panel beside the channel; a new reply arrives there and on the root's count.
    await item.locator("a.replies").click()
    panel = page.locator("#thread-panel")
    await expect(panel.get_by_role("heading", name="Thread")).to_be_focused()
    await expect(panel.locator(f"#m-{reply['seq']}")).to_contain_text("Great work, team.")
    await expect(panel.locator(f"#t-{fresh['seq']}")).to_contain_text("Line 2 hit 420 pumps")
    await expect(panel.locator(f"#m-{first['seq']}")).to_have_count(0)  # not part of this thread
    await expect(page).to_have_url(f"{ui.url}/channels/town-hall/threads/{fresh['id']}")
    second = await post_message(other, "town-hall", "Thanks! Line 3 next.", "ui-4", thread_of=fresh["id"])
    await expect(panel.locator(f"#m-{second['seq']}")).to_contain_text("Line 3 next")
    await expect(item.locator("a.replies")).to_have_text("2 replies")
    await expect(page.locator("#thread-count")).to_have_text("2 replies")
    await shoot(page, "thread")
    await panel.get_by_role("link", name="Close thread").click()
    await expect(panel).to_be_hidden()
    await expect(page).to_have_url(f"{ui.url}/channels/town-hall")

    # A permalink to a reply lands on its thread, opened; one to a root lands on the root.
    await page.goto(f"/channels/town-hall#m-{reply['seq']}")
    await expect(page.locator("#thread-panel")).to_be_visible()
    await expect(page.locator(f"#thread-panel #m-{reply['seq']}")).to_be_visible()
    await page.goto(f"/channels/town-hall#m-{first['seq']}")
    await expect(page.locator(f"#m-{first['seq']}")).to_be_visible()
    await ctx.close()


async def test_messages_arriving_while_scrolled_up_show_a_marker_and_a_jump_to_the_latest(ui: Workspace,
                                                                                          browser: Any) -> None:
    generous_limits()  # the app shares this process's limits: let one agent post a backlog quickly
    speaker = await agent_in(ui, "town-hall")
    history = [await post_message(speaker, "town-hall", f"Shift note {i}: output steady.", f"h-{i}")
               for i in range(80)]
    ctx = await ui.context(browser, await ui.session("erin", ("employee",), "internal"))
    page = await ctx.new_page()
    await page.goto("/channels/town-hall")
    await expect(page.locator("#live")).to_have_attribute("data-state", "live")
    rows = page.locator("#messages > li")
    await expect(rows).to_have_count(50)  # a bounded page: the newest 50 roots, newest at the bottom
    assert await at_bottom(page)

    # At the bottom, the view follows new messages.
    news = await post_message(speaker, "town-hall", "Line 4 restarted.", "n-0")
    await expect(page.locator(f"#m-{news['seq']}")).to_be_in_viewport()
    assert await at_bottom(page)
    await expect(page.locator("#new-marker")).to_be_hidden()

    # Scrolled up, older history loads and new messages are counted, not thrown at the reader.
    scroller = page.locator("#scroller")
    await scroller.evaluate("el => { el.scrollTop = 0; }")
    await expect(page.locator(f"#m-{history[0]['seq']}")).to_be_attached()  # the older 31 loaded on scroll
    await expect(rows).to_have_count(81)
    await scroller.evaluate("el => { el.scrollTop = 200; }")
    reading = await scroller.evaluate("el => el.scrollTop")
    fresh = [await post_message(speaker, "town-hall", f"Alarm {i} on press 3.", f"n-{i + 1}") for i in range(3)]
    marker = page.locator("#new-marker")
    await expect(marker).to_have_text(re.compile(r"^3 new messages"))
    assert await scroller.evaluate("el => el.scrollTop") == reading, "the reader's place did not move"
    await shoot(page, "channel-new-marker")
    await marker.click()
    await expect(page.locator(f"#m-{fresh[-1]['seq']}")).to_be_in_viewport()
    await expect(marker).to_be_hidden()

    # Paused, nothing is added until the reader asks for it.
    await page.get_by_role("button", name="Pause live updates").click()
    held = [await post_message(speaker, "town-hall", f"Held {i}.", f"p-{i}") for i in range(2)]
    await expect(marker).to_have_text(re.compile(r"^2 new messages \(paused\)"))
    await expect(page.locator(f"#m-{held[0]['seq']}")).to_have_count(0)
    await marker.click()
    await expect(page.locator(f"#m-{held[-1]['seq']}")).to_be_in_viewport()
    await expect(page.get_by_role("button", name="Pause live updates")).to_have_attribute("aria-pressed", "false")
    await ctx.close()


async def test_search_finds_only_messages_the_reader_may_read(ui: Workspace, browser: Any) -> None:
    town, execs = await agent_in(ui, "town-hall"), await agent_in(ui, "exec-staff")
    visible = await post_message(town, "town-hall", "Forklift 7 needs new batteries before Friday.", "s-1")
    await post_message(execs, "exec-staff", "Forklift battery supplier is being acquired.", "s-2")
    ctx = await ui.context(browser, await ui.session("erin", ("employee",), "internal"))
    page = await ctx.new_page()
    await page.goto("/channels")
    await page.get_by_label("Search every channel you may read").fill("forklift battery")
    await page.get_by_role("button", name="Search").click()
    await expect(page).to_have_url(re.compile(r"/search\?q=forklift\+battery"))
    await expect(page.locator("#search-total")).to_have_text(re.compile(r"^1 message matches"))
    results = page.locator("#search-results > li")
    await expect(results).to_have_count(1)
    await expect(results.first).to_contain_text("#town-hall")
    await expect(results.first.locator("mark")).to_have_text(["Forklift", "batteries"])
    await expect(page.get_by_text("supplier is being acquired")).to_have_count(0)  # exec-staff is restricted
    await shoot(page, "search")
    await results.first.get_by_role("link", name=re.compile("Open message")).click()
    await expect(page.locator(f"#m-{visible['seq']}")).to_be_in_viewport()

    # From a channel, the search is narrowed to it.
    await page.get_by_label("Search #town-hall").fill("friday")
    await page.get_by_label("Search #town-hall").press("Enter")
    await expect(page.locator("#search-total")).to_have_text(re.compile(r"^1 message matches in #town-hall"))
    await ctx.close()
