"""Budgets of the agent runtime: hard limits on tokens and cost per agent, per department (stored, counted over
all runs) and per run, enforced before every provider call; the spend ledger per department (the UI chart).

A call starts only when every budget that applies can still cover its prompt plus its largest possible answer
(reserved while in flight), so spend never passes a limit; the first refusal of each budget is audited as
``budget.exhausted`` by the runtime. No scheduling or posting here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from personas.tables import Budget, DepartmentSpend
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import NotFound, ValidationFailed

Scope = Literal["agent", "department", "run"]
SCOPES = ("agent", "department")


@dataclass
class Limit:
    """One budget and what has been spent (and reserved by calls in flight) against it."""

    scope: Scope
    target: str
    max_tokens: int | None = None
    max_cost: float | None = None
    used_tokens: int = 0
    used_cost: float = 0.0
    reserved_tokens: int = 0
    reserved_cost: float = 0.0
    exhausted: bool = False

    def covers(self, tokens: int, cost: float) -> bool:
        if self.max_tokens is not None and self.used_tokens + self.reserved_tokens + tokens > self.max_tokens:
            return False
        return self.max_cost is None or self.used_cost + self.reserved_cost + cost <= self.max_cost + 1e-12

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "target": self.target, "max_tokens": self.max_tokens, "max_cost": self.max_cost,
                "used_tokens": self.used_tokens, "used_cost": round(self.used_cost, 6)}


@dataclass(frozen=True, slots=True)
class Reservation:
    handle: str
    department: str
    tokens: int
    cost: float


class Ledger:
    """The budgets that apply to one run, held in memory for the run and settled after every call."""

    def __init__(self, run: Limit, departments: Mapping[str, Limit] | None = None,
                 agents: Mapping[str, Limit] | None = None) -> None:
        self.run = run
        self.departments = dict(departments or {})
        self.agents = dict(agents or {})
        self.newly_exhausted: list[Limit] = []
        self.department_delta: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])

    def _limits(self, handle: str, department: str) -> list[Limit]:
        out = [self.run]
        if department in self.departments:
            out.append(self.departments[department])
        if handle in self.agents:
            out.append(self.agents[handle])
        return out

    def limited(self, handle: str, department: str) -> bool:
        """Whether any budget that applies to this agent has a limit (when none has, a call needs no estimate)."""
        return any(lim.max_tokens is not None or lim.max_cost is not None for lim in self._limits(handle, department))

    def reserve(self, handle: str, department: str, tokens: int, cost: float) -> Reservation | Limit:
        """Reserve ``tokens``/``cost`` against every applicable budget, or return the first that cannot cover it
        (marking it exhausted; the first time, it is also queued in ``newly_exhausted`` for the audit trail)."""
        limits = self._limits(handle, department)
        for lim in limits:
            if not lim.covers(tokens, cost):
                if not lim.exhausted:
                    lim.exhausted = True
                    self.newly_exhausted.append(lim)
                return lim
        for lim in limits:
            lim.reserved_tokens += tokens
            lim.reserved_cost += cost
        return Reservation(handle, department, tokens, cost)

    def settle(self, res: Reservation, tokens_in: int, tokens_out: int, cost: float) -> None:
        """Replace the reservation by what the call really spent."""
        for lim in self._limits(res.handle, res.department):
            lim.reserved_tokens -= res.tokens
            lim.reserved_cost -= res.cost
            lim.used_tokens += tokens_in + tokens_out
            lim.used_cost += cost
        delta = self.department_delta[res.department]
        delta[0] += tokens_in
        delta[1] += tokens_out
        delta[2] += cost
        delta[3] += 1

    def take_exhausted(self) -> list[Limit]:
        out, self.newly_exhausted = self.newly_exhausted, []
        return out

    def take_department_delta(self) -> dict[str, list[float]]:
        out = dict(self.department_delta)
        self.department_delta.clear()
        return out


async def load_ledger(workspace_id: int, run: Limit) -> Ledger:
    """The stored agent and department budgets of the workspace with their spend so far, plus the run's."""
    database = dbmod.current()
    rows = await Budget.select().where(Budget.workspace == workspace_id)
    departments: dict[str, Limit] = {}
    agents: dict[str, Limit] = {}
    for r in rows:
        lim = Limit(r["scope"], r["target"], r["max_tokens"], r["max_cost"])
        (departments if r["scope"] == "department" else agents)[r["target"]] = lim
    if departments:
        for s in await DepartmentSpend.select().where(DepartmentSpend.workspace == workspace_id):
            if s["department"] in departments:
                departments[s["department"]].used_tokens = int(s["tokens_in"]) + int(s["tokens_out"])
                departments[s["department"]].used_cost = float(s["cost"])
    if agents:
        handles = list(agents)
        marks = ", ".join("{}" for _ in handles)
        spent = await database.fetch(
            "SELECT m.handle, COALESCE(SUM(t.tokens_in + t.tokens_out), 0) AS tokens, COALESCE(SUM(t.cost), 0) "
            "AS cost FROM chorus_member m JOIN personas_turn t ON t.agent = m.id "
            f"WHERE m.workspace = {{}} AND m.handle IN ({marks}) GROUP BY m.handle", workspace_id, *handles)
        for s in spent:
            agents[s["handle"]].used_tokens = int(s["tokens"])
            agents[s["handle"]].used_cost = float(s["cost"])
    return Ledger(run, departments, agents)


async def add_department_spend(workspace_id: int, deltas: Mapping[str, list[float]]) -> None:
    """Add ``{department: [tokens_in, tokens_out, cost, turns]}`` to the ledger (inside the caller's transaction)."""
    if not deltas:
        return
    # One upsert per department (unique (workspace, department)): runs of one workspace on two workers add
    # their spend at the same moment, and a check-then-insert split it over two rows.
    await dbmod.current().execute_many(
        "INSERT INTO personas_department_spend (workspace, department, tokens_in, tokens_out, cost, turns) "
        "VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (workspace, department) DO UPDATE SET "
        "tokens_in = personas_department_spend.tokens_in + excluded.tokens_in, "
        "tokens_out = personas_department_spend.tokens_out + excluded.tokens_out, "
        "cost = personas_department_spend.cost + excluded.cost, "
        "turns = personas_department_spend.turns + excluded.turns",
        [(workspace_id, dept, int(tin), int(tout), float(cost), int(turns))
         for dept, (tin, tout, cost, turns) in sorted(deltas.items())])


async def spend_by_department(actor: Actor) -> list[dict[str, Any]]:
    """Tokens and cost per department over every run (for the admin spend chart), largest cost first, with the
    department's budget when one is set."""
    actor.require_role("admin")
    spend = await DepartmentSpend.select().where(DepartmentSpend.workspace == actor.workspace_id)
    budgets = {r["target"]: r for r in await Budget.select().where(
        (Budget.workspace == actor.workspace_id) & (Budget.scope == "department"))}
    out = [{"department": s["department"], "tokens_in": int(s["tokens_in"]), "tokens_out": int(s["tokens_out"]),
            "cost": round(float(s["cost"]), 6), "turns": int(s["turns"]),
            "max_tokens": budgets.get(s["department"], {}).get("max_tokens"),
            "max_cost": budgets.get(s["department"], {}).get("max_cost")} for s in spend]
    out.sort(key=lambda d: (-d["cost"], -(d["tokens_in"] + d["tokens_out"]), d["department"]))
    return out


def _check_limits(max_tokens: int | None, max_cost: float | None) -> None:
    if max_tokens is None and max_cost is None:
        raise ValidationFailed("give max_tokens, max_cost or both; a budget with neither limits nothing",
                               field="max_tokens")
    if max_tokens is not None and max_tokens < 0:
        raise ValidationFailed(f"max_tokens must be 0 or more; got {max_tokens}", field="max_tokens")
    if max_cost is not None and max_cost < 0:
        raise ValidationFailed(f"max_cost must be 0 or more (US dollars); got {max_cost}", field="max_cost")


async def set_budget(actor: Actor, scope: str, target: str, max_tokens: int | None,
                     max_cost: float | None) -> dict[str, Any]:
    """Create or replace the budget of one agent (by handle) or department; takes effect at the next turn."""
    actor.require_role("admin")
    if scope not in SCOPES:
        raise ValidationFailed(f"scope must be agent or department; got {scope!r} (run budgets are set when "
                               "starting a run)", field="scope")
    _check_limits(max_tokens, max_cost)
    target = target.strip()
    database = dbmod.current()
    if scope == "agent":
        found = await database.fetch("SELECT id FROM chorus_member WHERE workspace = {} AND handle = {} AND "
                                     "kind = {}", actor.workspace_id, target, "agent")
    else:
        found = await database.fetch("SELECT id FROM personas_persona WHERE workspace = {} AND department = {} "
                                     "LIMIT 1", actor.workspace_id, target)
    if not found:
        raise NotFound(f"no {scope} {target!r} in this workspace; list them with GET /api/admin/agents")
    async with database.transaction():
        await Budget.delete().where((Budget.workspace == actor.workspace_id) & (Budget.scope == scope)
                                    & (Budget.target == target))
        created = await Budget.insert(Budget(workspace=actor.workspace_id, scope=scope, target=target,
                                             max_tokens=max_tokens, max_cost=max_cost, created_by=actor.handle,
                                             created_at=dt.datetime.now(dt.UTC)))
        await audit.record(actor, "budget.set", Entity("budget", f"{scope}:{target}"),
                           {"scope": scope, "target": target, "max_tokens": max_tokens, "max_cost": max_cost})
    return {"id": int(created[0]["id"]), "scope": scope, "target": target, "max_tokens": max_tokens,
            "max_cost": max_cost}


async def delete_budget(actor: Actor, scope: str, target: str) -> None:
    actor.require_role("admin")
    async with dbmod.current().transaction():
        rows = await Budget.select(Budget.id).where((Budget.workspace == actor.workspace_id)
                                                    & (Budget.scope == scope) & (Budget.target == target))
        if not rows:
            raise NotFound(f"there is no {scope} budget for {target!r}")
        await Budget.delete().where(Budget.id == rows[0]["id"])
        await audit.record(actor, "budget.removed", Entity("budget", f"{scope}:{target}"),
                           {"scope": scope, "target": target})


async def list_budgets(actor: Actor) -> list[dict[str, Any]]:
    """Every stored budget with what has been spent against it."""
    actor.require_role("admin")
    ledger = await load_ledger(actor.workspace_id, Limit("run", ""))
    limits: Iterable[Limit] = [*ledger.departments.values(), *ledger.agents.values()]
    return sorted((lim.as_dict() for lim in limits), key=lambda d: (d["scope"], d["target"]))
