"""Admin pages for the org as a whole: roles (change a role's label), kill switches per role or department, scenario
and org-chart import (upload or a built-in). Runs and budgets: ``pages_runs.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from personas import pages_runs, services_control
from personas.pages import roles_of
from personas.scenario import BUILTIN_DIR, builtin_scenario, load_scenario, parse_scenario
from personas.services_load import load_scenario_into
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


@post("/admin/switches", name="admin-switch")
async def switch(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    """Throw (``action=kill``) or release (``action=revive``) the kill switch of a role or a department."""
    form = await _form(request)
    scope, target = form.get("scope", ""), form.get("target", "")
    try:
        if scope not in {"role", "department"}:
            raise ValidationFailed("pick a role or a department to switch", field="scope")
        kwargs = {scope: target}
        if form.get("action") == "revive":
            await services_control.revive(actor, **kwargs)
            done = "revived"
        else:
            await services_control.kill(actor, reason=form.get("reason", ""), **kwargs)
            done = "killed"
    except ChorusError as exc:
        return await _roles_page(request, actor, exc.status, error=exc.message)
    return Redirect(path=f"/admin/roles?done={done}", status_code=303)


def _builtins() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


@get("/admin/import", name="admin-import")
async def import_form(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    return page(request, "personas/import.html", builtins=_builtins(), report=None)


@post("/admin/import", name="admin-import-run")
async def import_run(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    """Load a built-in scenario or an uploaded one (pasted or read from a file by the page), idempotently."""
    form = await _form(request)
    source = form.get("source", "builtin")
    agents_text = form.get("agents", "")
    try:
        agents = int(agents_text) if agents_text else None
        if agents is not None and not 1 <= agents <= MAX_IMPORT_AGENTS:
            raise ValueError
    except ValueError:
        exc: ChorusError = ValidationFailed(f"agents must be a whole number from 1 to {MAX_IMPORT_AGENTS:,}; got "
                                            f"{agents_text!r}", field="agents")
        return page(request, "personas/import.html", status_code=400, builtins=_builtins(), report=None,
                    error=exc.message, form=form)
    try:
        if source == "upload":
            text = form.get("yaml", "")
            if not text:
                raise ValidationFailed("paste the scenario's YAML or choose a file", field="yaml")
            with tempfile.TemporaryDirectory() as empty:  # uploaded scenarios may not read server files
                scenario = parse_scenario(text, "upload.yaml", Path(empty))
        else:
            scenario = load_scenario(builtin_scenario(form.get("builtin") or "meridian"))
        report = await load_scenario_into(actor, scenario, agents)
    except ChorusError as exc:
        return page(request, "personas/import.html", status_code=exc.status, builtins=_builtins(), report=None,
                    error=exc.message, form=form)
    return page(request, "personas/import.html", builtins=_builtins(), report=report.lines(), form=form)


HANDLERS = [roles_page, role_label, switch, import_form, import_run, *pages_runs.HANDLERS]
