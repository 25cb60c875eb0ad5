"""axe-core on every page of the app, in the light and the dark theme, failing on serious or critical violations
(contrast, names, labels, structure).

The pages are found in the app itself, not listed here: every GET route marked as a page (``workspace.pages.PAGE_OPT``:
the page routers and the sign-in pages) and the API docs (the OpenAPI render plugins), so a new page is checked as
soon as it exists. A path parameter needs a sample value in ``samples`` below; a page with a parameter nobody gave a
sample for fails the test rather than going unchecked. Some states of a page are added by hand (a cited passage
marked, an empty digest, refusals and a missing page).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar, MediaType
from litestar.routes import HTTPRoute

from channels.services import list_members, post_message
from tests.insights.helpers import document_with_span, stored_insight
from tests.ui.conftest import Workspace, axe_violations
from workspace.pages import PAGE_OPT
from workspace.services import actor_for_member, get_member, system_actor

pytestmark = pytest.mark.browser
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def page_routes(app: Litestar) -> list[str]:
    """The path templates of every GET route that answers a browser with a page (not the JSON a page's script
    polls), and of the API docs."""
    paths = {route.path for route in app.routes if isinstance(route, HTTPRoute)
             for handler in route.route_handlers
             if "GET" in handler.http_methods and all(handler.opt.get(k) == v for k, v in PAGE_OPT.items())
             and handler.media_type != MediaType.JSON}  # a page's data for its script (e.g. /admin/runs/state)
    docs = app.openapi_config
    if docs is not None:
        for plugin in docs.render_plugins:
            paths.update(f"{(docs.path or '').rstrip('/')}{p}" for p in plugin.paths)
    return sorted(paths)


def fill(template: str, samples: dict[str, Any]) -> str:
    missing = [name for name in PARAM.findall(template) if name not in samples]
    assert not missing, (f"page {template} has path parameter(s) {missing} with no sample value: add one to "
                         "samples in this test so that the page is checked")
    return PARAM.sub(lambda m: str(samples[m.group(1)]), template)


async def _data(ui: Workspace) -> dict[str, Any]:
    """Something on every page: a thread, an insight citing a document span, an agent, a document."""
    system = await system_actor(ui.workspace_id)
    members = [m for m in await list_members(system, "town-hall") if m["kind"] == "agent"][:2]
    a, b = [await actor_for_member(await get_member(ui.workspace_id, m["id"])) for m in members]
    root = await post_message(a, "town-hall", "Line 2 is short of PS-40 sensors again this week.", "a11y-1")
    await post_message(b, "town-hall", "Halvorsen says the next lot ships Friday.", "a11y-2", thread_of=root["id"])
    doc, span = await document_with_span(
        system, "Sensor supply note", "# Sensor supply note\n\nHalvorsen is the only qualified PS-40 supplier; a "
        "second source takes 14 weeks to qualify.\n", "internal/manufacturing", "a second source takes 14 weeks")
    insight = await stored_insight(system, "Line 2 depends on one sensor supplier", "internal/manufacturing",
                                   spans=[span], documents=[doc])
    return {"name": "town-hall", "root_id": root["id"], "member_id": a.member_id, "document_id": doc,
            "insight_id": insight, "span": span}


async def test_every_page_has_no_serious_accessibility_violation_in_either_theme(ui: Workspace, browser: Any) -> None:
    samples = await _data(ui)
    templates = page_routes(ui.server.app)
    assert {"/", "/insights", "/documents/{document_id:int}", "/auth/dev", "/schema/swagger"} <= set(templates), \
        templates
    span = samples["span"]
    everyone = await ui.session("ada", ("admin", "security", "employee"), ui.top_label)
    visits: list[tuple[str, Any]] = [(fill(t, samples), everyone) for t in templates]
    visits += [(f"/documents/{samples['document_id']}?chunk={span['chunk']}&start={span['start']}&end={span['end']}",
                everyone),
               ("/?period=weekly", everyone),
               ("/", await ui.session("pia", ("employee",), "public")),  # an empty digest that says why
               ("/admin/agents", await ui.session("emma", ("employee",), "internal")),  # refused: not the role
               (f"/documents/{samples['document_id']}", await ui.session("sal", ("employee",), "internal/sales")),
               ("/no/such/page", everyone)]
    failures: list[str] = []
    for scheme in ("light", "dark"):
        contexts: dict[int, Any] = {}
        for path, who in visits:
            if id(who) not in contexts:
                # axe is injected as a script tag, which the pages' Content-Security-Policy (no inline script)
                # rightly refuses; the checker's own context bypasses it (tests/security checks the policy)
                contexts[id(who)] = await ui.context(browser, who, color_scheme=scheme, bypass_csp=True)
            page = await contexts[id(who)].new_page()
            await page.goto(path)
            await page.wait_for_load_state("networkidle")
            failures += [f"{scheme} {path}: {v}" for v in await axe_violations(page)]
            await page.close()
        for ctx in contexts.values():
            await ctx.close()
    assert not failures, "serious or critical accessibility violations:\n" + "\n".join(failures)
