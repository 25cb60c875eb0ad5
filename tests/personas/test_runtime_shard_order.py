"""A round's outcome does not depend on the order its shards are carried out in: a post that repeats the post of a
channel before its own in the plan, which its own may not carry, is refused whichever shard runs (or commits)
first, on every engine, inline or through the queue. (The leak guard used to see only the posts of shards that had
stored theirs already, so 2 or 4 workers sometimes posted what 1 worker refused.)"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import pytest

from personas.domain import register_hooks
from personas.llm.base import ChannelInfo, PersonaInfo, TurnRequest, TurnResult
from personas.runtime.queue import ShardQueue, stop_requested
from personas.runtime.runs import start_run
from personas.runtime.shards import Executor, ShardPlan, ShardTurn
from personas.runtime.turns import RunContext, inline
from tests.personas.helpers import load_acme
from workspace.db import Database

SAID = ("Our steering group meets the Harwick auditors next Thursday about the Marlow pallet yard lease and the "
        "Penrose overtime settlement.")
"""Nobody's document says this: it is protected only as the post that says it first."""


class Fixed:
    """A provider whose every turn writes ``SAID`` (two agents in two channels saying the same thing)."""

    name = "fixed"

    async def complete(self, request: TurnRequest) -> TurnResult:
        return TurnResult(text=SAID, tokens_in=1, tokens_out=1, model="fixed")


async def _round(name: str) -> tuple[int, list[ShardPlan]]:
    """One round of two shards in workspace ``name``, in plan order: counsel-0002 in ops-floor (internal/ops) and
    counsel-0001 in money (confidential/finance; neither label dominates the other) each post ``SAID``."""
    register_hooks()
    acme = await load_acme(name)
    run = await start_run(acme.system, rounds=1, seed=1, status="running")
    plans = []
    for handle, channel in (("counsel-0002", "ops-floor"), ("counsel-0001", "money")):
        agent, ch = await acme.agent(handle), await acme.channel(channel)
        assert agent.member_id is not None
        label = agent.label
        request = TurnRequest(PersonaInfo(handle, "Counsel", "legal", "restricted"),
                              ChannelInfo(channel, "", str(ch["label"])), "read", "new_topic", seed=1)
        turn = ShardTurn(key=f"rt{run['id']}-r1-s{ch['id']}-m{agent.member_id}-0", member=agent.member_id,
                         handle=handle, level=label.level, mask=label.mask, department="legal", role="Counsel",
                         kind="reading", action="post", task="read", answering=None, root=None, request=request)
        chl = agent.scheme.parse(str(ch["label"]))
        plans.append(ShardPlan(int(run["id"]), acme.ws, 1, int(ch["id"]), channel, chl.level, chl.mask, (), {},
                               (turn,)))
    assert plans[0].channel < plans[1].channel  # the planner's order: by channel
    return int(run["id"]), plans


async def _outcomes(db: Database, run_id: int) -> dict[str, str]:
    rows = await db.fetch("SELECT t.outcome, c.name FROM personas_turn t JOIN chorus_channel c ON c.id = t.channel "
                          "WHERE t.run = {}", run_id)
    return {str(r["name"]): str(r["outcome"]) for r in rows}


def _ctx() -> RunContext:
    return cast(RunContext, SimpleNamespace(provider=Fixed(), semaphore=asyncio.Semaphore(4), should_stop=None))


async def test_a_round_refuses_the_same_posts_whatever_order_its_shards_run_in(db: Database) -> None:
    outcomes = []
    for name, order in (("plan-order", lambda ps: ps), ("money-first", lambda ps: list(reversed(ps)))):
        run_id, plans = await _round(name)
        await inline(_ctx(), 1, order(plans))
        outcomes.append(await _outcomes(db, run_id))
    # money may not carry what ops-floor says first in the plan, even when money's shard stores its post first
    assert outcomes[0] == outcomes[1] == {"ops-floor": "posted", "money": "blocked"}


async def test_the_queue_refuses_what_the_inline_path_refuses(db: Database, database_url: str) -> None:
    if db.is_sqlite:
        pytest.skip("the queue lives in PostgreSQL; SQLite carries shards out inline")
    worker = ShardQueue(database_url, stall_s=5, concurrency=2,
                        executor=Executor(cast(Any, Fixed()), asyncio.Semaphore(4), stop_requested))
    work = asyncio.create_task(worker.work())
    planner = ShardQueue(database_url, stall_s=5)
    try:
        run_id, plans = await _round("queued")
        ctx = cast(RunContext, SimpleNamespace(run_id=run_id, should_stop=None))
        await planner(ctx, 1, cast(Sequence[ShardPlan], plans))
    finally:
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        await planner.close()
    assert await _outcomes(db, run_id) == {"ops-floor": "posted", "money": "blocked"}
