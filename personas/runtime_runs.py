"""Runs of the agent runtime: start/stop/list through services (the admin API calls these), executing a run
round after round (:func:`execute_run`), the background job that claims pending runs in the server (embedded) or
in ``chorus worker``, and :func:`simulate` (``chorus simulate``, ``chorus insights eval``).
Planning is in runtime_scheduler.py, turns in runtime_turns.py, budgets in runtime_budgets.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from personas.providers.base import Provider
from personas.runtime_budgets import Limit, add_department_spend, load_ledger
from personas.runtime_quality import run_quality
from personas.runtime_scheduler import Planner, RunState, load_population
from personas.runtime_turns import RunContext, run_round
from personas.tables import Run
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import Conflict, NotFound, ValidationFailed
from workspace.services import get_scheme, system_actor

log = logging.getLogger("chorus.runtime")
FINAL = ("completed", "stopped", "over_budget", "failed")
MAX_ROUNDS = 10_000
STALE_S = 60.0  # a running run whose heartbeat is older than this was left by a dead worker: claim it again
Progress = Callable[[int, int], None]
"""``progress(rounds_done, rounds)`` after every round."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_view(row: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a run (the admin API and the CLI)."""
    keys = ("id", "scenario", "seed", "mode", "status", "rounds", "rounds_done", "interval_s", "provider", "model",
            "agents", "turns", "messages", "reactions", "ignored", "blocked", "over_budget", "errors", "tokens_in",
            "tokens_out", "max_tokens", "max_cost", "stop_requested", "error", "created_by", "created_at",
            "started_at", "finished_at")
    out = {k: row[k] for k in keys}
    out["cost"] = round(float(row["cost"]), 6)
    out["stop_requested"] = bool(row["stop_requested"])
    out["quality"] = json.loads(row["quality"] or "{}")
    return out


async def _row(workspace_id: int, run_id: int) -> dict[str, Any]:
    rows = await Run.select().where((Run.id == run_id) & (Run.workspace == workspace_id))
    if not rows:
        raise NotFound(f"run {run_id} does not exist in this workspace; list runs with GET /api/admin/runs")
    return rows[0]


async def start_run(actor: Actor, *, rounds: int | None = None, continuous: bool = False, seed: int | None = None,
                    max_tokens: int | None = None, max_cost: float | None = None, interval_s: float = 0.0,
                    provider: str = "offline", model: str = "", scenario: str = "",
                    status: str = "pending") -> dict[str, Any]:
    """Record a new run (admins). The runtime job picks it up (status pending -> running); ``chorus simulate``
    creates it ``running`` and executes it inline."""
    actor.require_role("admin")
    if continuous == (rounds is not None):
        raise ValidationFailed("give either rounds (1-10000) or continuous: true", field="rounds")
    if rounds is not None and not 1 <= rounds <= MAX_ROUNDS:
        raise ValidationFailed(f"rounds must be between 1 and {MAX_ROUNDS}; got {rounds}", field="rounds")
    for name, value in (("max_tokens", max_tokens), ("max_cost", max_cost)):
        if value is not None and value < 0:
            raise ValidationFailed(f"{name} must be 0 or more; got {value}", field=name)
    if not 0 <= interval_s <= 3600:
        raise ValidationFailed(f"interval_s must be between 0 and 3600 seconds; got {interval_s}", field="interval_s")
    agents = await dbmod.current().fetch("SELECT COUNT(*) AS n FROM personas_persona WHERE workspace = {}",
                                         actor.workspace_id)
    if not int(agents[0]["n"]):
        raise Conflict("this workspace has no agents yet; load a scenario first (chorus scenario load FILE or "
                       "POST /api/admin/scenario)")
    seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
    async with dbmod.current().transaction():
        created = await Run.insert(Run(
            workspace=actor.workspace_id, scenario=scenario, seed=seed, mode="continuous" if continuous else "rounds",
            status=status, rounds=rounds or 0, interval_s=interval_s, provider=provider, model=model,
            agents=int(agents[0]["n"]), max_tokens=max_tokens, max_cost=max_cost, created_by=actor.handle,
            created_at=_now(), started_at=_now() if status == "running" else None))
        run_id = int(created[0]["id"])
        await audit.record(actor, "run.started", Entity("run", run_id), {
            "rounds": rounds, "continuous": continuous, "seed": seed, "max_tokens": max_tokens, "max_cost": max_cost,
            "provider": provider, "scenario": scenario})
    return run_view(await _row(actor.workspace_id, run_id))


async def stop_run(actor: Actor, run_id: int) -> dict[str, Any]:
    """Ask a run to stop: it finishes the chunk of turns in progress and ends ``stopped``."""
    actor.require_role("admin")
    row = await _row(actor.workspace_id, run_id)
    if row["status"] in FINAL:
        raise Conflict(f"run {run_id} has already ended ({row['status']})")
    # The audit entry first: every writer here takes the audit chain's lock before the run's row (a run's
    # chunk transaction does), so the two never wait on each other in opposite orders (PostgreSQL deadlock).
    async with dbmod.current().transaction():
        await audit.record(actor, "run.stop_requested", Entity("run", run_id), {"status": row["status"]})
        if row["status"] == "pending":
            await Run.update({Run.status: "stopped", Run.stop_requested: True, Run.finished_at: _now()}).where(
                Run.id == run_id)
        else:
            await Run.update({Run.stop_requested: True}).where(Run.id == run_id)
    return run_view(await _row(actor.workspace_id, run_id))


async def get_run(actor: Actor, run_id: int) -> dict[str, Any]:
    actor.require_role("admin")
    return run_view(await _row(actor.workspace_id, run_id))


async def list_runs(actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    actor.require_role("admin")
    rows = await Run.select().where(Run.workspace == actor.workspace_id).order_by(Run.id, ascending=False).limit(
        max(1, min(limit, 500)))
    return [run_view(r) for r in rows]


async def list_turns(actor: Actor, run_id: int, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """A page of a run's turns by id: agent, channel, documents read, tokens, latency and outcome."""
    actor.require_role("admin")
    await _row(actor.workspace_id, run_id)
    rows = [dict(r) for r in await dbmod.current().fetch(
        "SELECT t.id, t.round, m.handle AS agent, t.department, t.channel, t.kind, t.intent, t.outcome, t.reason, "
        "t.message, t.reply_to, t.documents, t.tokens_in, t.tokens_out, t.cost, t.latency_ms FROM personas_turn t "
        "JOIN chorus_member m ON m.id = t.agent WHERE t.run = {} AND t.id > {} ORDER BY t.id LIMIT {}",
        run_id, after, max(1, min(limit, 1000)))]
    for r in rows:
        r["documents"] = json.loads(r["documents"])
    return rows


@dataclass
class RunOptions:
    """How a process executes runs: provider calls at once, the answer-size estimate, and its price."""

    concurrency: int = 8
    max_out_tokens: int = 160
    estimate_cost: Callable[[int, int], float] = lambda tin, tout: 0.0
    progress: Progress | None = None
    semaphore: asyncio.Semaphore | None = None


async def execute_run(run_id: int, provider: Provider, options: RunOptions | None = None) -> dict[str, Any]:
    """Carry out a claimed run until its rounds are done, it is stopped, its budget runs out or it fails."""
    opts = options or RunOptions()
    row = (await Run.select().where(Run.id == run_id))[0]
    ws = int(row["workspace"])
    scheme = await get_scheme(ws)
    system = await system_actor(ws, handle="runtime", on_behalf_of=row["created_by"] or None)
    status, error = "completed", ""
    try:
        pop = await load_population(ws, scheme)
        state = RunState(pop)
        await state.start(ws)
        ledger = await load_ledger(ws, Limit("run", str(run_id), row["max_tokens"], row["max_cost"],
                                             int(row["tokens_in"]) + int(row["tokens_out"]), float(row["cost"])))

        async def should_stop() -> bool:
            flag = await dbmod.current().fetch("SELECT stop_requested FROM personas_run WHERE id = {}", run_id)
            return bool(flag[0]["stop_requested"])

        ctx = RunContext(run_id, ws, scheme, int(row["seed"]), provider,
                         opts.semaphore or asyncio.Semaphore(max(1, opts.concurrency)), pop, state,
                         Planner(pop, state, int(row["seed"])), ledger, system, opts.max_out_tokens,
                         opts.estimate_cost, should_stop)
        rnd = int(row["rounds_done"])
        total = int(row["rounds"])
        while True:
            if await should_stop():
                status = "stopped"
                break
            if row["mode"] == "rounds" and rnd >= total:
                break
            rnd += 1
            stats = await run_round(ctx, rnd)
            await _after_round(ws, run_id, rnd, ledger.take_department_delta())
            if opts.progress:
                opts.progress(rnd, total)
            if stats.stopped:
                status = "stopped"
                break
            if stats.run_budget_hit:
                status = "over_budget"
                break
            if row["mode"] == "continuous" and row["interval_s"]:
                await asyncio.sleep(float(row["interval_s"]))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("run %s failed", run_id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
    return await _finish(system, run_id, status, error)


async def _after_round(ws: int, run_id: int, rnd: int, deltas: dict[str, list[float]]) -> None:
    async with dbmod.current().transaction():
        await add_department_spend(ws, deltas)
        await Run.update({Run.rounds_done: rnd, Run.heartbeat_at: _now()}).where(Run.id == run_id)


async def _finish(system: Actor, run_id: int, status: str, error: str) -> dict[str, Any]:
    quality: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # metrics are a report; a failure here must not hide the run's end
        quality = (await run_quality(run_id)).as_dict()
    async with dbmod.current().transaction():  # audit (chain lock) before the run's row: see stop_run
        row = (await Run.select().where(Run.id == run_id))[0]
        await audit.record(system, f"run.{status}", Entity("run", run_id), {
            "rounds_done": row["rounds_done"], "turns": row["turns"], "messages": row["messages"],
            "tokens_in": row["tokens_in"], "tokens_out": row["tokens_out"], "cost": round(float(row["cost"]), 6),
            "error": error})
        await Run.update({Run.status: status, Run.error: error, Run.finished_at: _now(),
                          Run.quality: json.dumps(quality)}).where(Run.id == run_id)
        row = (await Run.select().where(Run.id == run_id))[0]
    return run_view(row)


# -- the background job ------------------------------------------------------------------------------------------

async def claim_run(worker: str) -> int | None:
    """Take the oldest pending run (or one whose worker stopped beating) for ``worker``; None when there is none."""
    database = dbmod.current()
    stale = _now() - dt.timedelta(seconds=STALE_S)
    query = "SELECT id FROM personas_run WHERE status = {} OR (status = {} AND heartbeat_at < {}) ORDER BY id LIMIT 1"
    if not await database.fetch(query, "pending", "running", stale):
        return None  # the common case: a plain read, no write lock taken every poll
    async with database.transaction():
        rows = await database.fetch(query, "pending", "running", stale)
        if not rows:
            return None
        run_id = int(rows[0]["id"])
        await database.fetch(
            "UPDATE personas_run SET status = {}, worker = {}, heartbeat_at = {}, started_at = COALESCE(started_at, {})"
            " WHERE id = {}", "running", worker, _now(), _now(), run_id)
    return run_id


@dataclass
class RuntimeJob:
    """The runtime's background job: claims runs and executes them, sharing one provider and one concurrency
    limit; on shutdown, runs in progress go back to ``pending`` so another process resumes them."""

    make_provider: Callable[[], Provider]
    options: RunOptions
    poll_s: float = 1.0
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")

    async def __call__(self) -> None:
        provider = self.make_provider()
        self.options.semaphore = asyncio.Semaphore(max(1, self.options.concurrency))
        tasks: dict[int, asyncio.Task[dict[str, Any]]] = {}
        try:
            while True:
                for done in [r for r, t in tasks.items() if t.done()]:
                    tasks.pop(done)
                claimed = await claim_run(self.worker)
                if claimed is not None:
                    log.info("runtime: executing run %s", claimed)
                    tasks[claimed] = asyncio.create_task(execute_run(claimed, provider, self.options),
                                                         name=f"run-{claimed}")
                    continue
                await self._beat(list(tasks))
                await asyncio.sleep(self.poll_s)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._release(list(tasks))
            from personas.providers import close_provider

            await close_provider(provider)

    async def _beat(self, run_ids: list[int]) -> None:
        if run_ids:
            await Run.update({Run.heartbeat_at: _now()}).where(Run.id.is_in(run_ids) & (Run.status == "running"))

    async def _release(self, run_ids: list[int]) -> None:
        if run_ids:
            async with dbmod.current().transaction():
                await Run.update({Run.status: "pending", Run.worker: ""}).where(
                    Run.id.is_in(run_ids) & (Run.status == "running"))


# -- simulate ------------------------------------------------------------------------------------------------------

@dataclass
class RunSummary:
    """What ``chorus simulate --json`` prints (``as_json``) plus the run's id and the extra counts."""

    run_id: int
    agents: int
    rounds: int
    turns: int
    messages: int
    reactions: int
    blocked: int
    tokens_in: int
    tokens_out: int
    cost: float
    wall_s: float
    quality: dict[str, float]
    ignored: int = 0
    over_budget: int = 0
    errors: int = 0
    status: str = "completed"

    def as_json(self) -> dict[str, Any]:
        keys = ("agents", "rounds", "turns", "messages", "reactions", "blocked", "tokens_in", "tokens_out", "cost",
                "wall_s", "quality")
        return {k: getattr(self, k) for k in keys}


async def simulate(actor: Actor, scenario: Any, agents: int | None, rounds: int, seed: int | None,
                   provider: Provider | None = None, progress: Progress | None = None,
                   options: RunOptions | None = None) -> RunSummary:
    """Load ``scenario`` (a :class:`personas.scenario_model.Scenario`, scaled to ``agents``) into the actor's
    workspace, run ``rounds`` rounds inline and return the summary with the quality metrics of the stored messages.

    Deterministic for (scenario, seed, offline provider) in a fresh workspace: rate limits use a simulated clock
    (one round is one minute) instead of the wall clock, so timing cannot change who gets to post.
    """
    from channels import config
    from personas.providers.offline import OfflineProvider
    from personas.services_load import load_scenario_into

    prov = provider or OfflineProvider()
    run_seed = seed if seed is not None else (scenario.seed or 0)
    await load_scenario_into(actor, scenario, agents)
    run = await start_run(actor, rounds=rounds, seed=run_seed, provider=prov.name,
                          model=str(getattr(prov, "model", "")), scenario=scenario.name, status="running")
    clock = SimClock()
    previous = config.current.bucket
    config.current.bucket = config.TokenBucket(previous.rate, int(previous.burst), clock)
    opts = options or RunOptions()

    def tick(done: int, total: int) -> None:
        clock.now = done * 60.0
        if progress:
            progress(done, total)

    opts.progress = tick
    started = time.perf_counter()
    try:
        final = await execute_run(int(run["id"]), prov, opts)
    finally:
        config.current.bucket = previous
    return RunSummary(
        run_id=int(final["id"]), agents=int(final["agents"]), rounds=int(final["rounds_done"]),
        turns=int(final["turns"]), messages=int(final["messages"]), reactions=int(final["reactions"]),
        blocked=int(final["blocked"]), tokens_in=int(final["tokens_in"]), tokens_out=int(final["tokens_out"]),
        cost=float(final["cost"]), wall_s=round(time.perf_counter() - started, 3), quality=final["quality"],
        ignored=int(final["ignored"]), over_budget=int(final["over_budget"]), errors=int(final["errors"]),
        status=final["status"])


class SimClock:
    """Simulated seconds for the rate limiter during :func:`simulate`."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
