"""Admin pages in Chromium against the real app: uploading documents with a label (and who may then read them),
a kill switch that says how many agents it changes before it acts, the import's dry run, and the runs page that
updates in place while the admin is typing in its forms.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from personas.runtime.runs import start_run
from personas.tables import Run
from tests.ui.conftest import Workspace, cleared_for_harbor, shoot
from workspace.services import system_actor

pytestmark = pytest.mark.browser


async def test_an_admin_uploads_documents_and_sees_who_may_read_them(ui: Workspace, browser: Any,
                                                                     tmp_path: Path) -> None:
    plan = tmp_path / "q4-plan.md"
    plan.write_text("# Q4 sales plan\n\nWe open two distributors in Ohio before December.\n", encoding="utf-8")
    notes = tmp_path / "notes.txt"
    notes.write_text("Booth staffing for the Chicago show is final.\n", encoding="utf-8")
    ctx = await ui.context(browser, await ui.session("ada", ("admin",), "internal/sales"))
    page = await ctx.new_page()
    await page.goto("/admin/documents")
    await expect(page.get_by_role("heading", name="Upload documents")).to_be_visible()
    await page.get_by_label("Markdown or text files").set_input_files([str(plan), str(notes)])
    await page.get_by_label("Label").fill("internal/sales")
    await page.get_by_role("button", name="Upload").click()
    await expect(page.locator("#uploaded li")).to_have_count(2)
    await expect(page.locator("#uploaded")).to_contain_text("Q4 sales plan")
    row = page.locator("#documents tbody tr").filter(has_text="Q4 sales plan")
    await expect(row.locator("td").first).to_have_text("internal/sales")
    await expect(row.locator(".readers")).to_contain_text("Sales Representative")
    await expect(row.locator(".readers")).not_to_contain_text("Assembly Technician")  # internal/manufacturing
    await shoot(page, "documents")

    # A label above the admin's own clearance is refused, and the typed label is kept to correct it.
    await page.get_by_label("Markdown or text files").set_input_files(str(plan))
    await page.get_by_label("Label").fill("confidential/sales")
    await page.get_by_role("button", name="Upload").click()
    await expect(page.locator("#upload-error")).to_contain_text("labelled confidential/sales")
    await expect(page.locator("#upload-error")).to_contain_text("may not file")
    await expect(page.get_by_label("Label")).to_have_value("confidential/sales")

    # Deleting asks first.
    await row.get_by_role("button", name="Delete Q4 sales plan").click()
    await expect(page.get_by_role("heading", name=re.compile("Delete “Q4 sales plan”"))).to_be_visible()
    await page.get_by_role("button", name="Delete this document").click()
    await expect(page.locator("[role=status].card")).to_contain_text("Document deleted")
    await expect(page.locator("#documents tbody tr").filter(has_text="Q4 sales plan")).to_have_count(0)
    await ctx.close()


async def test_a_role_kill_switch_confirms_with_the_count_and_import_previews_first(ui: Workspace,
                                                                                    browser: Any) -> None:
    ctx = await ui.context(browser, await ui.session("ada", ("admin",), str(await cleared_for_harbor(ui.workspace_id))))
    page = await ctx.new_page()
    await page.goto("/admin/roles")
    form = page.locator("form[action='/admin/switches']")
    await form.get_by_label("Role or department").fill("Assembly Technician")
    await form.get_by_role("button", name="Switch off").click()
    await expect(page.locator("#switch-effect h2")).to_have_text(re.compile(r"^\d+ agents will be switched off$"))
    count = int((await page.locator("#switch-effect h2").inner_text()).split()[0])
    await shoot(page, "switch-confirm")
    await page.get_by_role("button", name=f"Switch off {count} agents").click()
    await expect(page.locator("[role=status].card")).to_contain_text("Kill switch on")

    await page.goto("/admin/import")
    await expect(page.get_by_label("Built-in scenario")).to_have_value("meridian")  # the company this workspace holds
    await page.get_by_label("Built-in scenario").select_option("harbor")
    await page.get_by_role("button", name="Preview changes (dry run)").click()
    await expect(page.locator("#import-plan")).to_contain_text("already holds scenario")
    await expect(page.locator("#plan-agents")).to_have_text(re.compile(r"^\d+ agents"))
    await expect(page.get_by_role("button", name="Import these changes")).to_be_visible()
    await shoot(page, "import-preview")
    await ctx.close()


async def test_the_runs_page_updates_in_place_and_keeps_what_the_admin_typed(ui: Workspace, browser: Any,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from personas.runtime import runs

    real_get_run = runs.get_run
    read = {"n": 0}

    async def with_coverage(actor: Any, run_id: int) -> dict[str, Any]:
        """The runtime's coverage report, as the run's JSON carries it (here: growing as the test moves)."""
        view = await real_get_run(actor, run_id)
        return {**view, "coverage": {"chunks": 40, "read": read["n"], "read_by_two_roles": read["n"] // 2,
                                     "documents": [{"id": 1, "title": "Line schedule", "chunks": 40,
                                                    "read": read["n"], "read_by_two_roles": read["n"] // 2}]}}

    monkeypatch.setattr(runs, "get_run", with_coverage)
    system = await system_actor(ui.workspace_id)
    run = await start_run(system, rounds=10, seed=7, status="running", scenario="Meridian Medical Devices")
    ctx = await ui.context(browser, await ui.session("ada", ("admin",), ui.top_label))
    page = await ctx.new_page()
    await page.goto("/admin/runs")
    await page.evaluate("window.__same_document = true")
    row = page.locator(f"#runs tr[data-run='{run['id']}']")
    await expect(row.locator("[data-field=status]")).to_have_text("running")
    start = page.locator("#start-form")
    await start.get_by_label("Seed", exact=True).fill("4242")
    await start.get_by_label("Rounds", exact=True).fill("25")
    await start.get_by_label("Agents", exact=True).fill("120")
    await page.get_by_label("Department or agent handle").fill("sales")
    await page.get_by_label("Department or agent handle").focus()

    # The runtime moves on: the row follows without a reload, and what the admin typed stays.
    coverage = row.locator("[data-field=coverage]")
    await expect(coverage).to_have_text("0 of 40 passages read (0%), 0 by two roles or more")
    read["n"] = 30
    await Run.update({Run.rounds_done: 4, Run.turns: 321, Run.messages: 250, Run.tokens_in: 9000,
                      Run.tokens_out: 1000}).where(Run.id == run["id"])
    await expect(coverage).to_have_text("30 of 40 passages read (75%), 15 by two roles or more")
    await expect(row.locator("[data-field=progress] .rounds")).to_have_text("4 / 10 rounds")
    await expect(row.locator("progress")).to_have_attribute("value", "4")
    await expect(row.locator("[data-field=turns]")).to_have_text("321")
    await expect(row.locator("[data-field=tokens]")).to_have_text("10,000")
    await expect(start.get_by_label("Seed", exact=True)).to_have_value("4242")
    await expect(start.get_by_label("Rounds", exact=True)).to_have_value("25")
    await expect(start.get_by_label("Agents", exact=True)).to_have_value("120")
    await expect(page.get_by_label("Department or agent handle")).to_be_focused()
    await shoot(page, "runs-live")

    await Run.update({Run.rounds_done: 10, Run.status: "completed"}).where(Run.id == run["id"])
    await expect(row.locator("[data-field=status]")).to_have_text("completed")
    await expect(row.get_by_role("button", name="Stop")).to_have_count(0)
    await expect(page.get_by_label("Department or agent handle")).to_have_value("sales")
    assert await page.evaluate("window.__same_document") is True

    # Starting a run from the form: the notice shows once, and a reload does not repeat it.
    await start.get_by_role("button", name="Start a run").click()
    await expect(page.locator("#notice")).to_contain_text("Run started")
    await expect(page).to_have_url(f"{ui.url}/admin/runs")
    newest = (await Run.select().order_by(Run.id, ascending=False).limit(1))[0]
    assert (newest["seed"], newest["rounds"], newest["scenario"]) == (4242, 25, "Meridian Medical Devices")
    await page.reload()
    await expect(page.locator("#notice")).to_have_count(0)
    await ctx.close()
