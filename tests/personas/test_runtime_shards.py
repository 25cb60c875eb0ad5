"""A round's shards, on SQLite and PostgreSQL: a shard retried after a crash posts nothing twice; the planner's
state after a round is the same whether the shards ran inline or elsewhere (another executor in another order,
or on PostgreSQL a worker of the queue); a worker killed (SIGKILL) in the middle of a round loses no turn and
duplicates no message."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from channels import config
from personas import domain
from personas.llm.offline import OfflineProvider
from personas.runtime import shards
from personas.runtime.queue import ShardQueue, stop_requested
from personas.runtime.runs import RunOptions, simulate
from personas.runtime.shards import Executor, ShardPlan
from personas.runtime.turns import RunContext, inline
from personas.scenario import Scenario, builtin_scenario, load_scenario
from workspace.actor import Actor
from workspace.db import Database
from workspace.services import ensure_workspace, system_actor
from workspace.settings import LimitSettings

AGENTS = 60
ROUNDS = 3


@pytest.fixture
def meridian() -> Scenario:
    return load_scenario(builtin_scenario("meridian"))


async def _actor(name: str) -> Actor:
    domain.register_hooks()
    config.configure(LimitSettings())
    return await system_actor(await ensure_workspace(name))


async def _counts(db: Database, run_id: int, ws: int) -> dict[str, int]:
    msgs = await db.fetch("SELECT COUNT(*) AS n, COUNT(DISTINCT m.client_msg_id) AS ids FROM chorus_message m "
                          "JOIN chorus_channel c ON c.id = m.channel WHERE c.workspace = {}", ws)
    turns = await db.fetch("SELECT COUNT(*) AS n, COUNT(DISTINCT key) AS keys FROM personas_turn WHERE run = {}",
                           run_id)
    posted = await db.fetch("SELECT COUNT(*) AS n FROM personas_turn WHERE run = {} AND outcome = {}", run_id,
                            "posted")
    claims = await db.fetch("SELECT COUNT(*) AS n FROM personas_claim WHERE run = {}", run_id)
    return {"messages": int(msgs[0]["n"]), "distinct_posts": int(msgs[0]["ids"]), "turns": int(turns[0]["n"]),
            "distinct_turns": int(turns[0]["keys"]), "posted": int(posted[0]["n"]), "claims": int(claims[0]["n"])}


class Crash(Exception):
    """A worker dying in the middle of a shard."""


async def test_a_shard_retried_after_a_crash_posts_nothing_twice(db: Database, meridian: Scenario,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards, "CHUNK", 3)  # several chunks a shard: a crash can land between two commits
    whole = await simulate(await _actor("whole"), meridian, AGENTS, ROUNDS, seed=5)
    expected = await _counts(db, whole.run_id, (await _actor("whole")).workspace_id)

    real_chunk, real_record = shards._chunk, shards.record
    crashes: list[str] = []
    mode = {"now": ""}

    async def chunk(*args: Any, **kwargs: Any) -> int:
        if mode["now"] == "between":  # after the shard's first chunk committed
            mode["now"] = ""
            crashes.append("between chunks")
            raise Crash
        mode["now"] = "between" if mode["now"] == "arm-between" else mode["now"]
        return await real_chunk(*args, **kwargs)

    async def record(*args: Any, **kwargs: Any) -> None:
        if mode["now"] == "inside":  # the chunk's posts are written, its transaction not committed
            mode["now"] = ""
            crashes.append("inside a chunk")
            raise Crash
        await real_record(*args, **kwargs)

    monkeypatch.setattr(shards, "_chunk", chunk)
    monkeypatch.setattr(shards, "record", record)

    async def crashing(ctx: RunContext, rnd: int, plans: Sequence[ShardPlan]) -> None:
        ex = Executor(ctx.provider, ctx.semaphore)
        drafted = [await shards.draft(plan, ex) for plan in plans]
        for i, plan in enumerate(drafted):
            payload = shards.encode(plan)
            if rnd >= 2 and len(plan.turns) > shards.CHUNK and i % 2 == 0:
                mode["now"] = "arm-between" if rnd == 2 else "inside"
                with pytest.raises(Crash):
                    await shards.execute(shards.decode(payload), ex, drafted)
            # the retry: the same payload, from the start
            await shards.execute(shards.decode(payload), ex, drafted)

    actor = await _actor("crashing")
    crashed = await simulate(actor, meridian, AGENTS, ROUNDS, seed=5, options=RunOptions(dispatch=crashing))
    assert "between chunks" in crashes and "inside a chunk" in crashes
    got = await _counts(db, crashed.run_id, actor.workspace_id)
    assert got["messages"] == got["distinct_posts"] == got["posted"]  # no post twice
    assert got["turns"] == got["distinct_turns"]  # no turn twice
    assert got == expected  # and none lost: the same run as the uninterrupted one
    assert crashed.messages == whole.messages and crashed.turns == whole.turns


def snapshot(ctx: RunContext) -> dict[str, Any]:
    """The planner's memory in terms that do not depend on which process stored what first: messages by their key
    (channel, seq), facts by document title and text, agents by population position, roles by name."""
    st, disc, pop = ctx.state, ctx.discovery, ctx.pop
    assert disc is not None
    key = {mid: m.key for mid, m in st.messages.items()}
    lib = disc.library.facts

    def fact(k: str) -> tuple[str, str]:
        return (lib[k].source, lib[k].fact.text) if k in lib else ("?", k)

    def mk(mid: int | None) -> Any:
        return key.get(mid, ("gone", mid)) if mid is not None else None

    return {
        "messages": sorted((m.key, pop.index.get(m.author, -1), m.body, mk(m.root), m.depth, m.round)
                           for m in st.messages.values()),
        "inbox": {p: [mk(x) for x in q] for p, q in sorted(st.inbox.items())},
        "thread_replies": sorted((mk(r), n) for r, n in st.thread_replies.items()),
        "new_roots": {pop.channels[c].name: [mk(x) for x in ms] for c, ms in sorted(st.new_roots.items())},
        "reply_to": sorted((mk(a), mk(b)) for a, b in st.reply_to.items()),
        "asked": sorted((mk(m), fact(k)) for m, k in disc.asked.items()),
        "asked_about": sorted(fact(k) for k in disc.asked_about),
        "thread_of": sorted((mk(r), sorted(mk(x) for x in ms)) for r, ms in disc.thread_of.items()),
        "interest": sorted((pop.roles[r].name, sorted(w)) for r, w in disc.interest.items()),
        "passed": sorted((fact(k), pop.channels[c].name) for k, c in disc.passed),
        "carried": sorted(fact(k) for k in disc.carried),
        "board": sorted((p.id, fact(p.span.key), mk(p.message), pop.index.get(p.author)) for p in
                        disc.board.posted.values()),
        "pending": [(fact(disc.board.posted[lk.a.key].span.key), fact(disc.board.posted[lk.b.key].span.key))
                    for lk in disc.pending],
        "guard": len(disc.posts),
    }


async def test_the_planners_state_after_a_round_is_the_same_whether_shards_ran_inline_or_elsewhere(
        db: Database, database_url: str, meridian: Scenario) -> None:
    here: list[dict[str, Any]] = []
    there: list[dict[str, Any]] = []

    async def at_home(ctx: RunContext, rnd: int, plans: Sequence[ShardPlan]) -> None:
        here.append(snapshot(ctx))
        await inline(ctx, rnd, plans)

    worker: ShardQueue | None = None
    work: asyncio.Task[None] | None = None
    if db.is_sqlite:
        async def elsewhere(ctx: RunContext, rnd: int, plans: Sequence[ShardPlan]) -> None:
            there.append(snapshot(ctx))
            # another executor, another provider, only the payload in common; the shards in reverse order, and
            # two at a time, so that their commits (and the ids of what they store) interleave
            ex = Executor(OfflineProvider(), asyncio.Semaphore(4))
            drafted = list(await asyncio.gather(*(shards.draft(shards.decode(shards.encode(p)), ex)
                                                  for p in reversed(plans))))
            payloads = [shards.encode(p) for p in drafted]
            for start in range(0, len(payloads), 2):
                await asyncio.gather(*(shards.execute(shards.decode(p), ex, drafted)
                                       for p in payloads[start:start + 2]))
    else:  # the queue: a worker with its own connections and provider takes the jobs
        worker = ShardQueue(database_url, stall_s=5, concurrency=3,
                            executor=Executor(OfflineProvider(), asyncio.Semaphore(4), stop_requested))
        work = asyncio.create_task(worker.work())
        planner = ShardQueue(database_url, stall_s=5)

        async def elsewhere(ctx: RunContext, rnd: int, plans: Sequence[ShardPlan]) -> None:
            there.append(snapshot(ctx))
            await planner(ctx, rnd, plans)

    try:
        a = await simulate(await _actor("home"), meridian, AGENTS, 4, seed=7, options=RunOptions(dispatch=at_home))
        b = await simulate(await _actor("away"), meridian, AGENTS, 4, seed=7, options=RunOptions(dispatch=elsewhere))
    finally:
        if work is not None:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
        if not db.is_sqlite:
            await planner.close()
    assert len(here) == len(there) == 4
    assert here[1]["messages"] and here[2]["board"] and here[3]["thread_replies"] and here[3]["interest"]
    for rnd, (mine, theirs) in enumerate(zip(here, there, strict=True), start=1):
        for part in mine:
            assert mine[part] == theirs[part], f"round {rnd}: the planner's {part} differs"
    assert (a.messages, a.turns, a.reactions) == (b.messages, b.turns, b.reactions)


def _worker(url: str, stall: float) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.Popen([sys.executable, "-m", "tests.personas.shard_worker", url, "--chunk", "2", "--delay",
                             "0.02", "--stall", str(stall)], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


async def test_a_worker_killed_mid_round_loses_no_turn_and_duplicates_no_message(
        db: Database, database_url: str, meridian: Scenario) -> None:
    if db.is_sqlite:
        pytest.skip("the queue (and its workers) live in PostgreSQL; SQLite carries shards out inline")
    config.configure(LimitSettings(post_rate_per_s=0, write_rate_per_s=0))
    base_actor = await _actor("uninterrupted")
    config.configure(LimitSettings(post_rate_per_s=0, write_rate_per_s=0))
    base = await simulate(base_actor, meridian, AGENTS, ROUNDS, seed=11)
    expected = await _counts(db, base.run_id, base_actor.workspace_id)

    stall = 3.0
    first = _worker(database_url, stall)
    second: subprocess.Popen[bytes] | None = None
    planner = ShardQueue(database_url, stall_s=stall)
    actor = await _actor("killed")
    config.configure(LimitSettings(post_rate_per_s=0, write_rate_per_s=0))
    try:
        run = asyncio.create_task(simulate(actor, meridian, AGENTS, ROUNDS, seed=11,
                                           options=RunOptions(dispatch=planner)))
        killed_at = 0
        for _ in range(600):  # until the worker has stored part of round 2
            await asyncio.sleep(0.05)
            rows = await db.fetch("SELECT COUNT(*) AS n FROM personas_turn t JOIN personas_run r ON r.id = t.run "
                                  "WHERE r.workspace = {} AND t.round = 2 AND t.shard <> 0", actor.workspace_id)
            if int(rows[0]["n"]) > 0:
                killed_at = int(rows[0]["n"])
                break
            assert not run.done(), "the run ended before the worker could be killed"
        assert killed_at, "the worker never reached round 2"
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = _worker(database_url, stall)
        summary = await asyncio.wait_for(run, timeout=240)
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait()
        await planner.close()
    assert summary.status == "completed"
    got = await _counts(db, summary.run_id, actor.workspace_id)
    pending = await db.fetch("SELECT COUNT(*) AS n FROM personas_shard WHERE run = {} AND status <> {}",
                             summary.run_id, "done")
    assert int(pending[0]["n"]) == 0
    assert got["messages"] == got["distinct_posts"]  # 0 duplicated messages
    assert got["turns"] == got["distinct_turns"] == expected["turns"]  # 0 lost turns
    assert got == expected  # the same run as the uninterrupted one with the same seed
