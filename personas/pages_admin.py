"""Admin pages for the org as a whole: roles (change a role's label), kill switches per role or department (a page
says how many agents a switch changes before it acts), scenario and org-chart import (a built-in or an uploaded
file, previewed as a dry run first). Documents: ``pages_documents.py``; runs and budgets: ``runtime/pages.py``.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from personas import services_control
from personas.pages import roles_of
from personas.scenario import builtin_names, builtin_scenario, load_scenario, parse_scenario
from personas.services_load import load_scenario_into, loaded_scenarios, plan_scenario_load
from workspace.actor import Actor
from workspace.errors import ChorusError, ValidationFailed
from workspace.pages import page

MAX_IMPORT_AGENTS = 100_000
NOTICES = {
    "role-label": "Role label changed for every agent of the role, at once.",
    "killed": "Kill switch on: those agents are switched off and their sockets were closed.",
    "revived": "Kill switch off: those agents are active again (unless another switch still covers them).",
}


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}


async def _roles_page(request: Request[Any, Any, Any], actor: Actor, status_code: int = 200,
                      **extra: Any) -> Response[Any]:
    roles = await roles_of(actor)
    departments: dict[str, int] = {}
    for r in roles:
        departments[r["department"]] = departments.get(r["department"], 0) + r["agents"]
    switches = await services_control.list_switches(actor)
    return page(request, "personas/roles.html", status_code=status_code, roles=roles,
                departments=sorted(departments.items()), switches=switches[:50], scheme=actor.scheme, **extra)


@get("/admin/roles", name="admin-roles")
async def roles_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                     done: Annotated[str | None, QueryParameter()] = None) -> Response[Any]:
    """Roles with labels and counts, departments, and the kill switches thrown so far."""
    return await _roles_page(request, actor, notice=NOTICES.get(done or ""))


@post("/admin/roles/label", name="admin-role-label")
async def role_label(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    form = await _form(request)
    try:
        await services_control.set_role_label(actor, form.get("role", ""), actor.scheme.parse(form.get("label", "")))
    except ChorusError as exc:
        return await _roles_page(request, actor, exc.status, error=exc.message)
    return Redirect(path="/admin/roles?done=role-label", status_code=303)


@post("/admin/switches", name="admin-switch", status_code=200)
async def switch(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    """Throw (``action=kill``) or release (``action=revive``) the kill switch of a role or a department: first a
    page that says how many agents it changes, then (``confirm=yes``) the switch."""
    form = await _form(request)
    scope, target = form.get("scope", ""), form.get("target", "")
    action: Literal["kill", "revive"] = "revive" if form.get("action") == "revive" else "kill"
    try:
        if scope not in {"role", "department"}:
            raise ValidationFailed("pick a role or a department to switch", field="scope")
        kwargs = {scope: target}
        if form.get("confirm") != "yes":
            preview = await services_control.preview_switch(actor, action, **kwargs)
            return page(request, "personas/switch_confirm.html", preview=preview, reason=form.get("reason", ""),
                        action_url="/admin/switches", back="/admin/roles")
        if action == "revive":
            await services_control.revive(actor, **kwargs)
            done = "revived"
        else:
            await services_control.kill(actor, reason=form.get("reason", ""), **kwargs)
            done = "killed"
    except ChorusError as exc:
        return await _roles_page(request, actor, exc.status, error=exc.message)
    return Redirect(path=f"/admin/roles?done={done}", status_code=303)


def _builtins() -> list[str]:
    return builtin_names()


@functools.cache
def _company(builtin: str) -> str:
    """The company a built-in scenario describes (its ``name``), e.g. meridian -> Meridian Medical Devices."""
    return load_scenario(builtin_scenario(builtin)).name


async def _import_page(request: Request[Any, Any, Any], actor: Actor, status_code: int = 200,
                       form: dict[str, str] | None = None, **extra: Any) -> Response[Any]:
    loaded = await loaded_scenarios(actor.workspace_id)
    builtins = [{"name": b, "company": _company(b)} for b in _builtins()]
    values = dict(form or {})
    if not values:  # never preselect another company's scenario: only the one this workspace already holds
        mine = next((b["name"] for b in builtins if b["company"] in loaded), "")
        values = {"source": "builtin" if mine else "upload", "builtin": mine}
    return page(request, "personas/import.html", status_code=status_code, builtins=builtins, loaded=loaded,
                form=values, **extra)


@get("/admin/import", name="admin-import")
async def import_form(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    return await _import_page(request, actor)


def _scenario_of(form: dict[str, str]) -> Any:
    if form.get("source") == "upload":
        text = form.get("yaml", "")
        if not text:
            raise ValidationFailed("paste the scenario's YAML or choose a file", field="yaml")
        with tempfile.TemporaryDirectory() as empty:  # uploaded scenarios may not read server files
            return parse_scenario(text, "upload.yaml", Path(empty))
    name = form.get("builtin", "")
    if name not in _builtins():
        raise ValidationFailed("choose a built-in scenario, or pick \"My own file\" and paste or choose one",
                               field="builtin")
    return load_scenario(builtin_scenario(name))


@post("/admin/import", name="admin-import-run", status_code=200)
async def import_run(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    """``mode=preview`` (the form's button): what importing would create, nothing written, and a button to import
    exactly that. ``mode=import``: load a built-in scenario or an uploaded one, idempotently."""
    form = await _form(request)
    agents_text = form.get("agents", "")
    try:
        agents = int(agents_text) if agents_text else None
        if agents is not None and not 1 <= agents <= MAX_IMPORT_AGENTS:
            raise ValueError
    except ValueError:
        exc: ChorusError = ValidationFailed(f"agents must be a whole number from 1 to {MAX_IMPORT_AGENTS:,}; got "
                                            f"{agents_text!r}", field="agents")
        return await _import_page(request, actor, 400, form, error=exc.message)
    try:
        scenario = _scenario_of(form)
        if form.get("mode") != "import":
            plan = await plan_scenario_load(actor, scenario, agents)
            return await _import_page(request, actor, 200, form, plan=plan)
        report = await load_scenario_into(actor, scenario, agents)
    except ChorusError as exc:
        return await _import_page(request, actor, exc.status, form, error=exc.message)
    return await _import_page(request, actor, 200, form, report=report.lines())


HANDLERS = [roles_page, role_label, switch, import_form, import_run]
