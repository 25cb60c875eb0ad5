"""Admin pages for simulation runs: start a run (scenario, agents, seed, rounds, budgets) and stop one; the runs with
their progress (rounds, turns, messages, tokens, cost and, when the runtime reports it, reading coverage), updated in
place by ``personas/static/runs.js`` from ``/admin/runs/state`` (never a full reload, so forms keep what the admin
typed); spend per department (chart) and budgets per agent or department.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from personas.context import documents
from personas.runtime import budgets, runs
from personas.scenario import builtin_names, builtin_scenario, load_scenario
from personas.services_load import load_scenario_into, loaded_scenarios
from workspace.actor import Actor
from workspace.charts import bar_chart
from workspace.errors import ChorusError, Conflict, ValidationFailed
from workspace.pages import page

NOTICES = {"started": "Run started: the runtime picks it up at once.",
           "stopped": "Stop requested: the run ends after the turns in progress.",
           "budget": "Budget saved: it applies from the next turn."}
SHOWN = 20
MAX_AGENTS = 100_000


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}


def _number(form: dict[str, str], name: str, kind: type[int] | type[float]) -> Any:
    text = form.get(name, "")
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ValidationFailed(f"{name} must be a number; got {text!r}", field=name) from None


@functools.cache
def _company(builtin: str) -> str:
    return load_scenario(builtin_scenario(builtin)).name


def _builtins() -> list[dict[str, str]]:
    return [{"name": name, "company": _company(name)} for name in builtin_names()]


async def run_views(actor: Actor) -> list[dict[str, Any]]:
    """The latest runs; the active ones and the newest carry their full view (coverage, when the runtime adds it),
    with document titles only where the admin's label dominates the document's."""
    recent = await runs.list_runs(actor, limit=SHOWN)
    for i, r in enumerate(recent):
        if i == 0 or r["status"] not in runs.FINAL:
            recent[i] = view = {**r, **await runs.get_run(actor, int(r["id"]))}
            per_doc = (view.get("coverage") or {}).get("documents") or []
            titles = await documents.readable_titles(actor, [int(d["id"]) for d in per_doc])
            view["coverage"] = {**view["coverage"], "documents": [
                {**d, "title": titles.get(int(d["id"])) or f"document #{d['id']} (above your clearance)"}
                for d in per_doc]} if per_doc else view.get("coverage")
    return recent


async def _runs_page(request: Request[Any, Any, Any], actor: Actor, status_code: int = 200,
                     **extra: Any) -> Response[Any]:
    recent = await run_views(actor)
    spend = await budgets.spend_by_department(actor)
    chart = bar_chart("Spend per department (US$)", [s["department"] for s in spend], [s["cost"] for s in spend]) \
        if any(s["cost"] for s in spend) else None
    tokens = bar_chart("Tokens per department", [s["department"] for s in spend],
                       [s["tokens_in"] + s["tokens_out"] for s in spend]) if spend and not chart else None
    loaded = await loaded_scenarios(actor.workspace_id)
    builtins = _builtins()
    form = extra.pop("form", None) or {"scenario": next((b["name"] for b in builtins if b["company"] in loaded), ""),
                                       "rounds": "10", "mode": "rounds"}
    return page(request, "personas/runs.html", status_code=status_code, runs=recent, spend=spend,
                chart=chart or tokens, budgets=await budgets.list_budgets(actor), builtins=builtins, loaded=loaded,
                form=form, active=any(r["status"] not in runs.FINAL for r in recent), **extra)


@get("/admin/runs", name="admin-runs")
async def runs_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                    done: Annotated[str | None, QueryParameter()] = None) -> Response[Any]:
    """Runs newest first with live counts, spend per department, budgets."""
    return await _runs_page(request, actor, notice=NOTICES.get(done or ""))


@get("/admin/runs/state", name="admin-runs-state")
async def runs_state(actor: NamedDependency[Actor]) -> dict[str, Any]:
    """What the runs table shows, as JSON, for the page's script to update it in place."""
    recent = await run_views(actor)
    return {"runs": recent, "active": any(r["status"] not in runs.FINAL for r in recent)}


async def _scale(actor: Actor, form: dict[str, str]) -> str:
    """Load the chosen built-in scenario's missing agents up to ``agents`` (the one this workspace holds, never a
    second company: that is the import page's job, with its dry run). Returns the scenario's name for the run."""
    name, agents = form.get("scenario", ""), _number(form, "agents", int)
    if not name:
        if agents is not None:
            raise ValidationFailed("pick the scenario whose org chart to scale to that many agents", field="scenario")
        return ""
    if name not in {b["name"] for b in _builtins()}:
        raise ValidationFailed(f"there is no built-in scenario {name!r}", field="scenario")
    scenario = load_scenario(builtin_scenario(name))
    loaded = await loaded_scenarios(actor.workspace_id)
    if loaded and scenario.name not in loaded:
        raise Conflict(f"this workspace holds {', '.join(loaded)}, not {scenario.name}; import {name} on the Import "
                       "page (its dry run shows what it would add) before running it here")
    if agents is not None and not 1 <= agents <= MAX_AGENTS:
        raise ValidationFailed(f"agents must be from 1 to {MAX_AGENTS:,}; got {agents}", field="agents")
    if agents is not None or not loaded:
        await load_scenario_into(actor, scenario, agents)  # idempotent: creates only what is missing
    return str(scenario.name)


@post("/admin/runs", name="admin-run-start")
async def start_run(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    form = await _form(request)
    llm = request.app.state.settings.llm
    try:
        continuous = form.get("mode") == "continuous"
        rounds = None if continuous else _number(form, "rounds", int)
        seed = _number(form, "seed", int)
        if seed is not None and not 0 <= seed <= 2**62:
            raise ValidationFailed(f"seed must be a whole number from 0 to 2^62; got {seed}", field="seed")
        if not continuous and (rounds is None or not 1 <= rounds <= runs.MAX_ROUNDS):
            raise ValidationFailed(f"rounds must be between 1 and {runs.MAX_ROUNDS}; got {form.get('rounds')!r}",
                                   field="rounds")
        scenario = await _scale(actor, form)
        await runs.start_run(actor, rounds=rounds, continuous=continuous, seed=seed,
                             max_tokens=_number(form, "max_tokens", int), max_cost=_number(form, "max_cost", float),
                             provider=llm.provider, model=llm.model, scenario=scenario)
    except ChorusError as exc:
        return await _runs_page(request, actor, exc.status, error=exc.message, form=form)
    return Redirect(path="/admin/runs?done=started", status_code=303)


@post("/admin/runs/{run_id:int}/stop", name="admin-run-stop")
async def stop_run(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                   run_id: FromPath[int]) -> Response[Any]:
    try:
        await runs.stop_run(actor, run_id)
    except ChorusError as exc:
        return await _runs_page(request, actor, exc.status, error=exc.message)
    return Redirect(path="/admin/runs?done=stopped", status_code=303)


@post("/admin/budgets", name="admin-budget")
async def set_budget(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    form = await _form(request)
    try:
        await budgets.set_budget(actor, form.get("scope", ""), form.get("target", ""),
                                 _number(form, "max_tokens", int), _number(form, "max_cost", float))
    except ChorusError as exc:
        return await _runs_page(request, actor, exc.status, error=exc.message, budget_form=form)
    return Redirect(path="/admin/runs?done=budget", status_code=303)


HANDLERS = [runs_page, runs_state, start_run, stop_run, set_budget]
