"""Runs of the agent runtime: start/stop/list through services (the admin API calls these), executing a run
round after round (:func:`execute_run`), the background job that claims pending runs in the server (embedded) or
in ``chorus worker``, and :func:`simulate` (``chorus simulate``, ``chorus insights eval``).
Planning is in scheduler.py, turns in turns.py, budgets in budgets.py.
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

from personas.llm.base import Provider
from personas.runtime.budgets import Limit, add_department_spend, load_ledger
from personas.runtime.discover import Discovery
from personas.runtime.plan import coverage
from personas.runtime.posting import RoundStats
from personas.runtime.quality import run_quality
from personas.runtime.scheduler import Planner, RunState, load_population
from personas.runtime.turns import Dispatch, RunContext, inline, run_round
from personas.tables import Run
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import Conflict, NotFound, Unavailable, ValidationFailed, unavailable_from
from workspace.services import get_scheme, system_actor
from workspace.telemetry import quiet

log = logging.getLogger("chorus.runtime")
FINAL = ("completed", "stopped", "over_budget", "failed")
MAX_ROUNDS = 10_000
STALE_S = 60.0  # a running run whose heartbeat is older than this was left by a dead worker: claim it again
RETRY_MAX_S = 30.0  # the longest pause between retries of a write the database refused (down, restarting)
Progress = Callable[[int, int], None]
"""``progress(rounds_done, rounds)`` after every round."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RunLost(Exception):
    """This process no longer owns the run (another worker took it over, or it was handed back): it stops
    executing it and writes nothing more for it."""

    def __init__(self, run_id: int, worker: str) -> None:
        super().__init__(f"run {run_id} is no longer executed by {worker or 'this process'}")
        self.run_id = run_id


def backoff(attempt: int, base_s: float = 0.5, cap_s: float = RETRY_MAX_S) -> float:
    """The pause before retry number ``attempt`` (1, 2, ...): doubling from ``base_s``, at most ``cap_s``."""
    return float(min(cap_s, base_s * 2 ** max(0, attempt - 1)))


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
    """One run, with its reading coverage: chunks planned, read, read by two or more roles, per document."""
    actor.require_role("admin")
    view = run_view(await _row(actor.workspace_id, run_id))
    view["coverage"] = await coverage(run_id, actor.label)
    return view


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
    dispatch: Dispatch | None = None
    """How a round's shards are carried out: ``turns.inline`` (the default, embedded) or the queue's
    (``queue.QueueDispatch``, workers on PostgreSQL)."""


async def execute_run(run_id: int, provider: Provider, options: RunOptions | None = None, *,
                      worker: str = "") -> dict[str, Any]:
    """Carry out a run claimed by ``worker`` ("" for ``chorus simulate``'s inline runs) until its rounds are done,
    it is stopped, its budget runs out or it fails on an error of its own.

    Ownership is checked before every round, at every stop check between chunks and with the round's and the final
    writes: a run that is no longer ``worker``'s raises :class:`RunLost` with nothing more written. A database that
    is down or restarting raises :class:`~workspace.errors.Unavailable` (the run is not failed; the runtime job
    hands it back to ``pending`` and it resumes after its last completed round).
    """
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
            flag = await dbmod.current().fetch(
                "SELECT stop_requested, status, worker FROM personas_run WHERE id = {}", run_id)
            if not flag or flag[0]["status"] != "running" or flag[0]["worker"] != worker:
                raise RunLost(run_id, worker)
            return bool(flag[0]["stop_requested"])

        discovery = Discovery(run_id, ws, scheme, pop, int(row["seed"]))
        await discovery.start(int(row["rounds_done"]) + 1, system)
        ctx = RunContext(run_id, ws, scheme, int(row["seed"]), provider,
                         opts.semaphore or asyncio.Semaphore(max(1, opts.concurrency)), pop, state,
                         Planner(pop, state, int(row["seed"])), ledger, system, opts.max_out_tokens,
                         opts.estimate_cost, should_stop, discovery=discovery, dispatch=opts.dispatch or inline)
        rnd = int(row["rounds_done"])
        total = int(row["rounds"])
        while True:
            if await should_stop():
                status = "stopped"
                break
            if row["mode"] == "rounds" and rnd >= total:
                break
            rnd += 1
            ctx.scheme = await get_scheme(ws)  # checked every round: another process may have added a compartment
            stats = await run_round(ctx, rnd)
            await _after_round(ws, run_id, rnd, stats, ledger.take_department_delta(), worker)
            if opts.progress:
                opts.progress(rnd, total)
            if stats.stopped:
                status = "stopped"
                break
            if stats.run_budget_hit:
                status = "over_budget"
                break
            if row["interval_s"] and (row["mode"] == "continuous" or rnd < total):  # paced, no wait after the last
                await asyncio.sleep(float(row["interval_s"]))
    except (asyncio.CancelledError, RunLost):
        raise
    except Exception as exc:
        lost = unavailable_from(exc)
        if lost is not None:  # not the run's fault: the job hands it back and it resumes elsewhere
            log.warning("run %s interrupted: %s", run_id, lost.message)
            raise lost from exc
        log.exception("run %s failed", run_id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
    return await _finish(system, run_id, status, error, worker)


_OWNED = "id = {} AND status = 'running' AND worker = {}"
"""The run is still this worker's: every write of a run's progress and end carries this condition."""


async def _after_round(ws: int, run_id: int, rnd: int, s: RoundStats, deltas: dict[str, list[float]],
                       worker: str) -> None:
    """The round's end, in one transaction: its counts (from its turns' rows), the departments' spend, the round."""
    database = dbmod.current()
    async with database.transaction():
        await add_department_spend(ws, deltas)
        if not await database.fetch(
                "UPDATE personas_run SET rounds_done = {}, heartbeat_at = {}, turns = turns + {}, "
                "messages = messages + {}, reactions = reactions + {}, ignored = ignored + {}, blocked = blocked + {}, "
                "over_budget = over_budget + {}, errors = errors + {}, tokens_in = tokens_in + {}, "
                f"tokens_out = tokens_out + {{}}, cost = cost + {{}} WHERE {_OWNED} RETURNING id", rnd, _now(),
                s.turns, s.messages, s.reactions, s.ignored, s.blocked, s.over_budget, s.errors, s.tokens_in,
                s.tokens_out, s.cost, run_id, worker):
            raise RunLost(run_id, worker)  # rolls the department spend back: the new owner redoes the round


async def _finish(system: Actor, run_id: int, status: str, error: str, worker: str) -> dict[str, Any]:
    quality: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # metrics are a report; a failure here must not hide the run's end
        quality = (await run_quality(run_id)).as_dict()
    database = dbmod.current()
    try:
        async with database.transaction():  # audit (chain lock) before the run's row: see stop_run
            row = (await Run.select().where(Run.id == run_id))[0]
            await audit.record(system, f"run.{status}", Entity("run", run_id), {
                "rounds_done": row["rounds_done"], "turns": row["turns"], "messages": row["messages"],
                "tokens_in": row["tokens_in"], "tokens_out": row["tokens_out"], "cost": round(float(row["cost"]), 6),
                "error": error})
            if not await database.fetch(
                    f"UPDATE personas_run SET status = {{}}, error = {{}}, finished_at = {{}}, quality = {{}} "
                    f"WHERE {_OWNED} RETURNING id", status, error, _now(), json.dumps(quality), run_id, worker):
                raise RunLost(run_id, worker)  # and the audit entry goes with the rollback
            row = (await Run.select().where(Run.id == run_id))[0]
    except (asyncio.CancelledError, RunLost):
        raise
    except Exception as exc:
        lost = unavailable_from(exc)
        if lost is None:
            raise
        raise lost from exc
    return run_view(row)


# -- the background job ------------------------------------------------------------------------------------------

async def claim_run(worker: str) -> int | None:
    """Take the oldest pending run (or one whose worker stopped beating) for ``worker``; None when there is none.

    One statement claims it, re-checking its status: on PostgreSQL the candidate row is locked (``FOR UPDATE SKIP
    LOCKED``), so concurrent claimers each get a different run or none; SQLite's ``BEGIN IMMEDIATE`` serialises
    them. Inline runs (``chorus simulate``, no worker) are never taken over."""
    database = dbmod.current()
    stale = _now() - dt.timedelta(seconds=STALE_S)
    claimable = "(status = 'pending' OR (status = 'running' AND worker <> '' AND heartbeat_at < {}))"
    with quiet():  # the idle poll, every second: a plain read, no write lock and no span
        if not await database.fetch(f"SELECT id FROM personas_run WHERE {claimable} LIMIT 1", stale):
            return None
    lock = "" if database.is_sqlite else " FOR UPDATE SKIP LOCKED"
    async with database.transaction():
        rows = await database.fetch(
            "UPDATE personas_run SET status = 'running', worker = {}, heartbeat_at = {}, "
            "started_at = COALESCE(started_at, {}) "
            f"WHERE id = (SELECT id FROM personas_run WHERE {claimable} ORDER BY id LIMIT 1{lock}) AND {claimable} "
            "RETURNING id", worker, _now(), _now(), stale, stale)
    return int(rows[0]["id"]) if rows else None


async def heartbeat(worker: str, run_ids: list[int]) -> set[int]:
    """Beat for ``worker``'s runs; returns those that are still its own (the others were taken over or ended)."""
    if not run_ids:
        return set()
    marks = ", ".join("{}" for _ in run_ids)
    rows = await dbmod.current().fetch(
        f"UPDATE personas_run SET heartbeat_at = {{}} WHERE id IN ({marks}) AND status = 'running' AND worker = {{}} "
        "RETURNING id", _now(), *run_ids, worker)
    return {int(r["id"]) for r in rows}


async def hand_back(worker: str, run_ids: list[int]) -> list[int]:
    """Put ``worker``'s running runs back to ``pending`` (shutdown, a lost database connection): any worker resumes
    them after their last completed round. Returns the runs handed back."""
    if not run_ids:
        return []
    marks = ", ".join("{}" for _ in run_ids)
    database = dbmod.current()
    async with database.transaction():
        rows = await database.fetch(
            f"UPDATE personas_run SET status = 'pending', worker = '' WHERE id IN ({marks}) AND status = 'running' "
            "AND worker = {} RETURNING id", *run_ids, worker)
    return [int(r["id"]) for r in rows]


async def fail_run(worker: str, run_id: int, error: str) -> None:
    """Mark ``worker``'s run failed when its execution ended in an error outside the run's own steps."""
    system = await system_actor(int((await Run.select(Run.workspace).where(Run.id == run_id))[0]["workspace"]),
                                handle="runtime")
    database = dbmod.current()
    async with database.transaction():
        await audit.record(system, "run.failed", Entity("run", run_id), {"error": error})
        if not await database.fetch(f"UPDATE personas_run SET status = 'failed', error = {{}}, finished_at = {{}} "
                                    f"WHERE {_OWNED} RETURNING id", error, _now(), run_id, worker):
            raise RunLost(run_id, worker)


@dataclass
class RuntimeJob:
    """The runtime's background job: claims runs and executes them, sharing one provider and one concurrency
    limit; on shutdown, runs in progress go back to ``pending`` so another process resumes them.

    Every run's task is reaped and its outcome acted on: a run that is no longer ours was dropped; one interrupted
    by the database is handed back (retried until the database answers); an error outside the run's own steps
    marks it failed. The loop itself never ends on an error: it logs, backs off and polls again."""

    make_provider: Callable[[], Provider]
    options: RunOptions
    poll_s: float = 1.0
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    tasks: dict[int, asyncio.Task[dict[str, Any]]] = field(default_factory=dict)
    _owed: dict[int, str] = field(default_factory=dict)
    """Runs whose end is still to be written: run id -> "" (hand back to pending) or an error (mark failed)."""

    async def __call__(self) -> None:
        provider = self.make_provider()
        self.options.semaphore = asyncio.Semaphore(max(1, self.options.concurrency))
        failures = 0
        try:
            while True:
                try:
                    self._reap()
                    await self._settle()
                    claimed = await claim_run(self.worker)
                    if claimed is not None:
                        log.info("runtime: executing run %s", claimed)
                        self.tasks[claimed] = asyncio.create_task(
                            execute_run(claimed, provider, self.options, worker=self.worker), name=f"run-{claimed}")
                        failures = 0
                        continue
                    await self._beat()
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    pause = backoff(failures)
                    if unavailable_from(exc) is not None:
                        log.warning("runtime: database unavailable (%s: %s); retrying in %.1f s",
                                    type(exc).__name__, exc, pause)
                    else:
                        log.exception("runtime: poll failed; retrying in %.1f s", pause)
                    await asyncio.sleep(pause)
                    continue
                await asyncio.sleep(self.poll_s)
        finally:
            for task in self.tasks.values():
                task.cancel()
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)
            with contextlib.suppress(Exception):
                await hand_back(self.worker, sorted({*self.tasks, *(r for r, e in self._owed.items() if not e)}))
            from personas.llm import close_provider

            await close_provider(provider)

    def _reap(self) -> None:
        """Look at every finished run task (none is dropped unchecked) and note what its end still owes."""
        for run_id, task in [(r, t) for r, t in self.tasks.items() if t.done()]:
            del self.tasks[run_id]
            if task.cancelled():
                continue
            exc = task.exception()
            if exc is None:
                log.info("runtime: run %s ended %s", run_id, task.result()["status"])
            elif isinstance(exc, RunLost):
                log.warning("runtime: %s; another worker has it", exc)
            elif isinstance(exc, Unavailable):
                log.warning("runtime: run %s interrupted by the database (%s); handing it back", run_id, exc.message)
                self._owed[run_id] = ""
            else:
                log.error("runtime: run %s ended in an error outside its rounds; marking it failed", run_id,
                          exc_info=exc)
                self._owed[run_id] = f"{type(exc).__name__}: {exc}"[:2000]

    async def _settle(self) -> None:
        """Write what ended runs still owe; a database error leaves the rest for the next poll (with backoff)."""
        for run_id, error in list(self._owed.items()):
            try:
                if error:
                    await fail_run(self.worker, run_id, error)
                elif await hand_back(self.worker, [run_id]):
                    log.info("runtime: run %s handed back to pending", run_id)
            except RunLost:
                pass
            del self._owed[run_id]

    async def _beat(self) -> None:
        running = [r for r, t in self.tasks.items() if not t.done()]
        if not running:
            return
        with quiet():
            mine = await heartbeat(self.worker, running)
        for run_id in set(running) - mine:
            log.warning("runtime: run %s is no longer this worker's (taken over or ended); stopping it", run_id)
            self.tasks[run_id].cancel()


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
    coverage: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        keys = ("agents", "rounds", "turns", "messages", "reactions", "blocked", "tokens_in", "tokens_out", "cost",
                "wall_s", "quality", "coverage")
        return {k: getattr(self, k) for k in keys}


async def simulate(actor: Actor, scenario: Any, agents: int | None, rounds: int, seed: int | None,
                   provider: Provider | None = None, progress: Progress | None = None,
                   options: RunOptions | None = None) -> RunSummary:
    """Load ``scenario`` (a :class:`personas.scenario.Scenario`, scaled to ``agents``) into the actor's
    workspace, run ``rounds`` rounds inline and return the summary with the quality metrics of the stored messages.

    Deterministic for (scenario, seed, offline provider) in a fresh workspace: rate limits use a simulated clock
    (one round is one minute) instead of the wall clock, so timing cannot change who gets to post.
    """
    from channels import config
    from personas.llm.offline import OfflineProvider
    from personas.services_load import load_scenario_into

    prov = provider or OfflineProvider()
    run_seed = seed if seed is not None else (scenario.seed or 0)
    await load_scenario_into(actor, scenario, agents)
    run = await start_run(actor, rounds=rounds, seed=run_seed, provider=prov.name,
                          model=str(getattr(prov, "model", "")), scenario=scenario.name, status="running")
    clock = SimClock()
    previous, previous_writes = config.current.bucket, config.current.writes
    config.current.bucket = config.TokenBucket(previous.rate, int(previous.burst), clock)
    config.current.writes = config.TokenBucket(previous_writes.rate, int(previous_writes.burst), clock,
                                               previous_writes.name, previous_writes.doing)
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
        config.current.bucket, config.current.writes = previous, previous_writes
    return RunSummary(
        run_id=int(final["id"]), agents=int(final["agents"]), rounds=int(final["rounds_done"]),
        turns=int(final["turns"]), messages=int(final["messages"]), reactions=int(final["reactions"]),
        blocked=int(final["blocked"]), tokens_in=int(final["tokens_in"]), tokens_out=int(final["tokens_out"]),
        cost=float(final["cost"]), wall_s=round(time.perf_counter() - started, 3), quality=final["quality"],
        ignored=int(final["ignored"]), over_budget=int(final["over_budget"]), errors=int(final["errors"]),
        status=final["status"], coverage=await coverage(int(final["id"])))


class SimClock:
    """Simulated seconds for the rate limiter during :func:`simulate`."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
