"""Admin pages for simulation runs: start and stop runs, their progress (turns, messages, tokens, cost; the page
refreshes itself while a run is active), spend per department (chart) and budgets per agent or department.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from personas import runtime_budgets, runtime_runs
from workspace.actor import Actor
from workspace.charts import bar_chart
from workspace.errors import ChorusError, ValidationFailed
from workspace.pages import page

NOTICES = {"started": "Run started: the runtime picks it up at once.",
           "stopped": "Stop requested: the run ends after the turns in progress.",
           "budget": "Budget saved: it applies from the next turn."}


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


async def _runs_page(request: Request[Any, Any, Any], actor: Actor, status_code: int = 200,
                     **extra: Any) -> Response[Any]:
    runs = await runtime_runs.list_runs(actor, limit=20)
    spend = await runtime_budgets.spend_by_department(actor)
    chart = bar_chart("Spend per department (US$)", [s["department"] for s in spend], [s["cost"] for s in spend]) \
        if any(s["cost"] for s in spend) else None
    tokens = bar_chart("Tokens per department", [s["department"] for s in spend],
                       [s["tokens_in"] + s["tokens_out"] for s in spend]) if spend and not chart else None
    active = any(r["status"] not in runtime_runs.FINAL for r in runs)
    return page(request, "personas/runs.html", status_code=status_code, runs=runs, spend=spend, chart=chart or tokens,
                budgets=await runtime_budgets.list_budgets(actor), active=active, **extra)


@get("/admin/runs", name="admin-runs")
async def runs_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                    done: Annotated[str | None, QueryParameter()] = None) -> Response[Any]:
    """Runs newest first with live counts, spend per department, budgets."""
    return await _runs_page(request, actor, notice=NOTICES.get(done or ""))


@post("/admin/runs", name="admin-run-start")
async def start_run(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    form = await _form(request)
    llm = request.app.state.settings.llm
    try:
        continuous = form.get("mode") == "continuous"
        await runtime_runs.start_run(actor, rounds=None if continuous else _number(form, "rounds", int),
                                     continuous=continuous, max_tokens=_number(form, "max_tokens", int),
                                     max_cost=_number(form, "max_cost", float), provider=llm.provider,
                                     model=llm.model)
    except ChorusError as exc:
        return await _runs_page(request, actor, exc.status, error=exc.message, form=form)
    return Redirect(path="/admin/runs?done=started", status_code=303)


@post("/admin/runs/{run_id:int}/stop", name="admin-run-stop")
async def stop_run(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                   run_id: FromPath[int]) -> Response[Any]:
    try:
        await runtime_runs.stop_run(actor, run_id)
    except ChorusError as exc:
        return await _runs_page(request, actor, exc.status, error=exc.message)
    return Redirect(path="/admin/runs?done=stopped", status_code=303)


@post("/admin/budgets", name="admin-budget")
async def set_budget(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    form = await _form(request)
    try:
        await runtime_budgets.set_budget(actor, form.get("scope", ""), form.get("target", ""),
                                         _number(form, "max_tokens", int), _number(form, "max_cost", float))
    except ChorusError as exc:
        return await _runs_page(request, actor, exc.status, error=exc.message, form=form)
    return Redirect(path="/admin/runs?done=budget", status_code=303)


HANDLERS = [runs_page, start_run, stop_run, set_budget]
