"""Thin Litestar handlers of the agent runtime's admin API: start, stop, list and watch runs (live counts), read a
run's turns, set budgets per agent or department, and spend per department. Rules live in runtime_*.py.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from personas.runtime import budgets, runs
from workspace.actor import Actor
from workspace.web import provide_actor, requires

# Request bodies of this API (kept beside their only handlers; personas/schemas.py holds the rest of the domain's).


class RunIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Start a run: ``rounds`` rounds, or ``continuous`` until stopped (``interval_s`` apart)."""

    rounds: Annotated[int, msgspec.Meta(ge=1, le=runs.MAX_ROUNDS)] | None = None
    continuous: bool = False
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**62)] | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=0)] | None = None
    max_cost: Annotated[float, msgspec.Meta(ge=0)] | None = None
    interval_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 0.0


class BudgetIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A hard limit for one agent (``target`` = handle) or department; tokens are input plus output."""

    scope: Annotated[str, msgspec.Meta(pattern="^(agent|department)$")]
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    max_tokens: Annotated[int, msgspec.Meta(ge=0)] | None = None
    max_cost: Annotated[float, msgspec.Meta(ge=0)] | None = None


class RunsController(Controller):
    path = "/api/admin"
    tags = ["admin: agent runtime"]
    guards = [requires("admin")]
    dependencies = {"actor": Provide(provide_actor)}

    @post("/runs", summary="Start a simulation run (picked up by the runtime at once; audited)")
    async def start(self, actor: NamedDependency[Actor], request: Request[Any, Any, Any],
                    data: JSONBody[RunIn]) -> dict[str, Any]:
        llm = request.app.state.settings.llm
        return await runs.start_run(
            actor, rounds=data.rounds, continuous=data.continuous, seed=data.seed, max_tokens=data.max_tokens,
            max_cost=data.max_cost, interval_s=data.interval_s, provider=llm.provider, model=llm.model)

    @post("/runs/{run_id:int}/stop", status_code=200, summary="Stop a run (after the turns in progress; audited)")
    async def stop(self, actor: NamedDependency[Actor], run_id: FromPath[int]) -> dict[str, Any]:
        return await runs.stop_run(actor, run_id)

    @get("/runs", summary="Runs, newest first, with their counts and spend")
    async def runs(self, actor: NamedDependency[Actor],
                   limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50) -> dict[str, Any]:
        return {"runs": await runs.list_runs(actor, limit)}

    @get("/runs/{run_id:int}", summary="One run with live progress: rounds, turns, messages, tokens, cost")
    async def run(self, actor: NamedDependency[Actor], run_id: FromPath[int]) -> dict[str, Any]:
        return await runs.get_run(actor, run_id)

    @get("/runs/{run_id:int}/turns", summary="A run's turns (who, where, documents read, tokens, outcome)")
    async def turns(self, actor: NamedDependency[Actor], run_id: FromPath[int],
                    after: Annotated[int, QueryParameter(ge=0)] = 0,
                    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100) -> dict[str, Any]:
        rows = await runs.list_turns(actor, run_id, after=after, limit=limit)
        return {"turns": rows, "next_after": rows[-1]["id"] if len(rows) == limit else None}

    @get("/spend", summary="Tokens and cost per department over all runs (with budgets)")
    async def spend(self, actor: NamedDependency[Actor]) -> dict[str, Any]:
        return {"departments": await budgets.spend_by_department(actor)}

    @get("/budgets", summary="Agent and department budgets with what was spent against them")
    async def budgets(self, actor: NamedDependency[Actor]) -> dict[str, Any]:
        return {"budgets": await budgets.list_budgets(actor)}

    @put("/budgets", summary="Set (or replace) one agent's or department's budget (audited)")
    async def set_budget(self, actor: NamedDependency[Actor], data: JSONBody[BudgetIn]) -> dict[str, Any]:
        return await budgets.set_budget(actor, data.scope, data.target, data.max_tokens, data.max_cost)

    @delete("/budgets/{kind:str}/{target:str}", status_code=204, summary="Remove a budget (kind: agent or "
            "department; audited)")
    async def delete_budget(self, actor: NamedDependency[Actor], kind: FromPath[str], target: FromPath[str]) -> None:
        await budgets.delete_budget(actor, kind, target)


ROUTES = [RunsController]
