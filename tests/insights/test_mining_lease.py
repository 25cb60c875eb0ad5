"""One miner per workspace on SQLite and PostgreSQL: concurrent miners (two processes, played here by two miner
names with their own in-memory state) never mine a workspace at the same time; a lease outlives its pass only when
asked to, passes to another miner when it lapses, and the mining job survives failing passes."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest

from insights import domain, lease
from insights import services as svc
from tests.channels.helpers import generous_limits, world
from tests.insights.test_services import VALVES, _ops, _post
from workspace.db import Database


async def _keys(db: Database, ws: int) -> list[str]:
    return [r["theme_key"] for r in await db.fetch(
        "SELECT theme_key FROM insights_insight WHERE workspace = {} ORDER BY theme_key", ws)]


async def test_two_miners_at_once_store_each_insight_once(db: Database) -> None:
    """Before the lease both mined the same messages at once (two passes on the record for one set of messages;
    on PostgreSQL, when their transactions overlapped, the same insights inserted twice)."""
    generous_limits()
    svc.forget_state()
    w = await world()
    ch, techs = await _ops(w)
    await _post(techs, ch, VALVES)
    first, second = await asyncio.gather(svc.mine_workspace(w.system, miner="worker-a"),
                                         svc.mine_workspace(w.system, miner="worker-b"))
    keys = await _keys(db, w.ws)
    assert keys and len(keys) == len(set(keys))
    assert sorted([first.skipped, second.skipped]) in (["", "worker-a"], ["", "worker-b"])
    passes = await db.fetch("SELECT details FROM chorus_audit_event WHERE action = 'insights.mined' AND "
                            "workspace_id = {}", w.ws)
    assert len(passes) == 1
    ran = first if not first.skipped else second
    assert ran.created == len(keys)


async def test_the_jobs_lease_is_kept_between_passes_and_taken_over_when_it_lapses(db: Database) -> None:
    w = await world()
    assert await lease.take(w.ws, "worker-a", 60) is None
    assert await lease.take(w.ws, "worker-a", 60) is None  # a renewal
    assert await lease.take(w.ws, "worker-b", 60) == "worker-a"
    skipped = await svc.mine_workspace(w.system, miner="worker-b")
    assert skipped.skipped == "worker-a" and skipped.as_dict()["skipped"] == "worker-a"
    await db.fetch("UPDATE insights_mining_lease SET expires_at = {} WHERE workspace = {}",
                   dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5), w.ws)  # worker-a died: its lease lapsed
    ran = await svc.mine_workspace(w.system, miner="worker-b", keep_s=600)
    assert ran.skipped == "" and "skipped" not in ran.as_dict()
    assert await lease.take(w.ws, "worker-a", 60) == "worker-b"  # kept after the pass
    await svc.mine_workspace(w.system, miner="worker-b")  # a pass without keep_s releases it
    assert await lease.take(w.ws, "worker-a", 60) is None


async def test_a_pass_that_loses_its_lease_stops(db: Database) -> None:
    w = await world()
    entered = asyncio.Event()

    async def long_pass() -> None:
        async with lease.held(w.ws, "worker-a", lease_s=0.3) as other:
            assert other is None
            entered.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(long_pass())
    await entered.wait()
    await db.fetch("UPDATE insights_mining_lease SET holder = {} WHERE workspace = {}", "worker-b", w.ws)
    with pytest.raises(lease.LeaseLost):
        await asyncio.wait_for(task, 60)


async def test_failing_passes_are_retried_with_backoff_and_never_end_the_job(
        db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    await world()
    calls: list[int] = []
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def step(ws: int) -> object:
        calls.append(ws)
        if len(calls) <= 7:
            raise ConnectionRefusedError("connection refused")
        raise asyncio.CancelledError  # enough: end the loop here

    async def sleep(seconds: float, *args: Any) -> None:
        pauses.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    job = domain.periodic("probe", step, interval_s=60.0)
    with caplog.at_level(logging.WARNING, logger="chorus.insights"), pytest.raises(asyncio.CancelledError):
        await job()
    assert len(calls) == 8  # more failures in a row than used to end the job (five)
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]  # backing off, never past the interval
    assert sum("probe: pass failed" in r.getMessage() for r in caplog.records) == 7
