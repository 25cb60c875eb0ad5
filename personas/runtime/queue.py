"""A round's shards shared by the workers through procrastinate, the PostgreSQL task queue (``FOR UPDATE SKIP
LOCKED`` to take a job, LISTEN/NOTIFY to wake workers, retries, workers' heartbeats): the planner stores each
shard's payload in ``personas_shard`` and defers one job per shard for each of the round's two passes (shards.py):
any ``chorus worker`` takes a job and drafts the shard (the payload is stored again with its drafts, status
``drafted``), then, once every shard is drafted, posts it (``done``); the planner waits at a barrier after each
pass, handing the jobs of a worker that went silent (killed, partitioned) back to the queue, so that another
carries them out. The queue
lives in the deployment's PostgreSQL (its schema is applied by a personas migration); SQLite has none and carries
shards out inline (turns.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import procrastinate
from procrastinate.retry import RetryStrategy
from procrastinate.types import JSONValue

from personas.runtime import shards as shard_mod
from personas.runtime.shards import Executor, ShardPlan
from personas.runtime.turns import RunContext
from workspace import db as dbmod

log = logging.getLogger("chorus.runtime.queue")
QUEUE = "chorus-shards"
TASK = "chorus.runtime.shard"
POLL_S = 0.2  # how often the barrier looks at the round's shards


class ShardFailed(RuntimeError):
    """A shard's job failed for good (after its retries): the round cannot complete, and the run fails."""


async def stop_requested(run_id: int) -> bool:
    rows = await dbmod.current().fetch("SELECT stop_requested FROM personas_run WHERE id = {}", run_id)
    return bool(rows and rows[0]["stop_requested"])


@dataclass
class ShardQueue:
    """One process's side of the queue: the procrastinate app (its own psycopg pool next to Piccolo's asyncpg),
    the task that carries a shard out, the worker loop, and the planner's dispatch with its barrier."""

    url: str
    stall_s: float = 30.0
    concurrency: int = 2
    executor: Executor | None = None
    app: procrastinate.App = field(init=False)
    _opened: bool = False
    _drafted: tuple[tuple[int, int], list[ShardPlan]] = ((0, 0), [])

    def __post_init__(self) -> None:
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(
            conninfo=self.url, min_size=1, max_size=max(2, self.concurrency + 2)))
        self.app.task(name=TASK, queue=QUEUE, retry=RetryStrategy(max_attempts=20, wait=1))(self._run_shard)

    async def open(self) -> None:
        if not self._opened:
            await self.app.open_async()
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.app.close_async()

    async def _run_shard(self, run: int, round: int, shard: int, phase: str = "post") -> int:
        """The task: draft one stored shard, or post it (nothing when that pass is done already, e.g. a retry that
        came late); returns the turns carried out."""
        assert self.executor is not None, "this process carries no shards out (no executor)"
        rows = await dbmod.current().fetch(
            "SELECT status, payload FROM personas_shard WHERE run = {} AND round = {} AND shard = {}", run, round,
            shard)
        if not rows or rows[0]["status"] == "done" or (phase == "draft" and rows[0]["status"] != "queued"):
            return 0
        try:
            plan = shard_mod.decode(str(rows[0]["payload"]))
            if rows[0]["status"] == "queued":
                plan = await shard_mod.draft(plan, self.executor)
                await dbmod.current().fetch(
                    "UPDATE personas_shard SET payload = {}, status = {} WHERE run = {} AND round = {} AND shard = {} "
                    "AND status = {}", shard_mod.encode(plan), "drafted", run, round, shard, "queued")
                if phase == "draft":
                    return len(plan.drafts)
            return await shard_mod.execute(plan, self.executor, await self._round(run, round))
        except Exception as exc:
            with contextlib.suppress(Exception):
                await dbmod.current().fetch(
                    "UPDATE personas_shard SET error = {} WHERE run = {} AND round = {} AND shard = {}",
                    f"{type(exc).__name__}: {exc}"[:2000], run, round, shard)
            raise

    async def _round(self, run: int, rnd: int) -> list[ShardPlan]:
        """Every shard of the round with its drafts (read once per round and process: the posting pass starts only
        once every shard is drafted)."""
        if self._drafted[0] != (run, rnd):
            rows = await dbmod.current().fetch(
                "SELECT payload FROM personas_shard WHERE run = {} AND round = {} ORDER BY shard", run, rnd)
            self._drafted = ((run, rnd), [shard_mod.decode(str(r["payload"])) for r in rows])
        return self._drafted[1]

    async def work(self) -> None:
        """The worker loop (a background job of ``chorus worker``): take shard jobs until cancelled."""
        await self.open()
        try:
            await self.app.run_worker_async(
                queues=[QUEUE], name="chorus-shards", concurrency=self.concurrency, install_signal_handlers=False,
                delete_jobs="successful", update_heartbeat_interval=max(0.5, self.stall_s / 3),
                stalled_worker_timeout=self.stall_s, shutdown_graceful_timeout=5.0,
                fetch_job_polling_interval=1.0)
        finally:
            await self.close()

    async def __call__(self, ctx: RunContext, rnd: int, plans: Sequence[ShardPlan]) -> None:
        """Dispatch: store the shards, defer their jobs, wait at the barrier."""
        await self.open()
        database = dbmod.current()
        now = dt.datetime.now(dt.UTC)
        rows = [(p.run, p.round, p.channel, len(p.turns), "queued", shard_mod.encode(_queued(p)), "", now)
                for p in plans]
        async with database.transaction():
            for start in range(0, len(rows), 200):
                part = rows[start:start + 200]
                values = ", ".join("({}, {}, {}, {}, {}, {}, {}, {})" for _ in part)
                # a planner that took the run over mid-round finds the shards its predecessor stored: they stand
                await database.fetch(
                    f"INSERT INTO personas_shard (run, round, shard, turns, status, payload, error, created_at) "
                    f"VALUES {values} ON CONFLICT (run, round, shard) DO NOTHING", *[v for r in part for v in r])
        for phase, left in (("draft", ("queued",)), ("post", ("queued", "drafted"))):
            pending = await _not_done(ctx.run_id, rnd, left)
            if pending:
                jobs: list[dict[str, JSONValue]] = [{"run": ctx.run_id, "round": rnd, "shard": s, "phase": phase}
                                                    for s in sorted(pending)]
                await self.app.configure_task(TASK).batch_defer_async(*jobs)
            await self.barrier(ctx, rnd, left)

    async def barrier(self, ctx: RunContext, rnd: int, left: Sequence[str] = ("queued", "drafted")) -> None:
        """Wait until no shard of the round has a status in ``left`` (the first pass: every shard drafted; the
        second: done). Meanwhile: the run's ownership and stop flag (through ``ctx.should_stop``), shards whose
        worker went silent (their jobs go back to the queue), and shards whose job failed for good (the round, and
        the run, fail with its error)."""
        checked = rescued = time.monotonic()
        while True:
            pending = await _not_done(ctx.run_id, rnd, left)
            if not pending:
                return
            now = time.monotonic()
            if now - checked >= 1.0:
                checked = now
                if ctx.should_stop is not None:
                    await ctx.should_stop()  # raises RunLost when the run is no longer ours
                await self._failed(ctx.run_id, rnd, pending)
            if now - rescued >= max(0.5, self.stall_s / 3):
                rescued = now
                await self.rescue(ctx.run_id)
            await asyncio.sleep(POLL_S)

    async def rescue(self, run_id: int | None = None) -> int:
        """Hand the shard jobs of workers that stopped beating (for ``stall_s``) back to the queue; returns how
        many. procrastinate keeps a heartbeat per worker; this is its stalled-jobs recovery."""
        manager = self.app.job_manager
        jobs = await manager.get_stalled_jobs(queue=QUEUE, task_name=TASK, seconds_since_heartbeat=self.stall_s)
        n = 0
        for job in jobs:
            if run_id is not None and job.task_kwargs.get("run") != run_id:
                continue
            kw = job.task_kwargs
            log.warning("runtime: shard %s of run %s round %s was with a worker that went silent; handing it to "
                        "another", kw.get("shard"), kw.get("run"), kw.get("round"))
            await manager.retry_job(job)
            n += 1
        return n

    async def _failed(self, run_id: int, rnd: int, pending: set[int]) -> None:
        rows = await dbmod.current().fetch(
            "SELECT shard, error FROM personas_shard WHERE run = {} AND round = {} AND error <> {}", run_id, rnd, "")
        if not rows:
            return
        failed = [j for j in await self.app.job_manager.list_jobs_async(queue=QUEUE, task=TASK, status="failed")
                  if j.task_kwargs.get("run") == run_id and j.task_kwargs.get("round") == rnd
                  and j.task_kwargs.get("shard") in pending]
        if failed:
            errors = {int(r["shard"]): str(r["error"]) for r in rows}
            shard = int(str(failed[0].task_kwargs["shard"]))
            raise ShardFailed(f"shard {shard} (channel {shard}) of round {rnd} failed after its retries: "
                              f"{errors.get(shard, 'unknown error')}")


def _queued(plan: ShardPlan) -> ShardPlan:
    return msgspec.structs.replace(plan, queued=True)


async def _not_done(run_id: int, rnd: int, left: Sequence[str]) -> set[int]:
    marks = ", ".join("{}" for _ in left)
    rows = await dbmod.current().fetch(
        f"SELECT shard FROM personas_shard WHERE run = {{}} AND round = {{}} AND status IN ({marks})", run_id, rnd,
        *left)
    return {int(r["shard"]) for r in rows}
