"""Claims and ownership of runs on SQLite and PostgreSQL: concurrent claimers never share a run; a worker that
lost its run (taken over, handed back) stops executing it without writing anything more; the runtime job acts on
every run's end (a lost database connection hands the run back, it is never failed for it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from personas.llm.offline import OfflineProvider
from personas.runtime import runs
from personas.runtime.runs import RunLost, RunOptions, RuntimeJob, claim_run, execute_run, get_run, start_run
from personas.scenario import Scenario, builtin_scenario, load_scenario
from personas.services_load import load_scenario_into
from tests.personas.test_runtime import _actions, _actor
from workspace.db import Database

AGENTS = 20


@pytest.fixture
def meridian() -> Scenario:
    return load_scenario(builtin_scenario("meridian"))


async def test_concurrent_claimers_never_take_the_same_run(db: Database, meridian: Scenario) -> None:
    """Before the fix: on PostgreSQL two claimers read the same oldest pending run, then both updated it."""
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    runs = [(await start_run(actor, rounds=1, seed=i))["id"] for i in range(12)]
    taken: dict[str, list[int]] = {}

    async def claimer(worker: str) -> None:
        while (run_id := await claim_run(worker)) is not None:
            taken.setdefault(worker, []).append(run_id)

    await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
    claimed = [r for ids in taken.values() for r in ids]
    assert sorted(claimed) == sorted(runs)  # every run once, none twice
    rows = await db.fetch("SELECT id, status, worker FROM personas_run ORDER BY id")
    owner = {r: w for w, ids in taken.items() for r in ids}
    assert all(r["status"] == "running" and r["worker"] == owner[int(r["id"])] for r in rows)


async def test_a_worker_that_lost_its_run_stops_without_writing(db: Database, meridian: Scenario) -> None:
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    run = await start_run(actor, rounds=50, seed=3)
    assert await claim_run("a") == run["id"]
    rounds_seen: list[int] = []

    def progress(done: int, total: int) -> None:
        rounds_seen.append(done)
        if done == 1:  # another worker took the run over (a missed heartbeat) after our first round
            asyncio.get_running_loop().create_task(
                db.fetch("UPDATE personas_run SET worker = {} WHERE id = {}", "b", run["id"]))

    with pytest.raises(RunLost):
        await asyncio.wait_for(execute_run(run["id"], OfflineProvider(), RunOptions(progress=progress), worker="a"),
                               120)
    state = await get_run(actor, run["id"])
    assert state["status"] == "running" and state["rounds_done"] <= 2  # the new owner's to finish
    assert await _actions(db, actor.workspace_id, "run.completed") == []
    row = (await db.fetch("SELECT worker FROM personas_run WHERE id = {}", run["id"]))[0]
    assert row["worker"] == "b"


async def _until_ended(actor: Any, run_id: int) -> dict[str, Any]:
    for _ in range(2400):
        state = await get_run(actor, run_id)
        if state["status"] not in ("pending", "running"):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end: {state}")


async def _with_job(body: Any) -> Any:
    job = RuntimeJob(OfflineProvider, RunOptions(concurrency=2), poll_s=0.05)
    task = asyncio.create_task(job())
    try:
        return await body(job)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_lost_database_connection_hands_the_run_back_and_it_resumes(
        db: Database, meridian: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    run = await start_run(actor, rounds=3, seed=4)
    real_round = runs.run_round  # type: ignore[attr-defined]
    calls: list[int] = []
    statuses: list[str] = []

    async def flaky_round(ctx: Any, rnd: int) -> Any:
        calls.append(rnd)
        if calls.count(2) == 1 and rnd == 2:
            raise ConnectionResetError("connection reset by peer")  # what the driver raises when PostgreSQL goes
        statuses.append((await get_run(actor, run["id"]))["status"])
        return await real_round(ctx, rnd)

    monkeypatch.setattr(runs, "run_round", flaky_round)
    final = await _with_job(lambda job: _until_ended(actor, run["id"]))
    assert final["status"] == "completed" and final["rounds_done"] == 3 and final["error"] == ""
    assert calls == [1, 2, 2, 3]  # round 2 again after the hand-back, from the last completed round
    assert await _actions(db, actor.workspace_id, "run.failed") == []


async def test_an_error_after_the_rounds_fails_the_run_instead_of_leaving_it_running(
        db: Database, meridian: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the run's task ended in an exception nobody looked at, and the run stayed "running" for good."""
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    run = await start_run(actor, rounds=1, seed=4)

    async def broken_finish(*args: Any) -> Any:
        raise RuntimeError("quality report exploded")

    monkeypatch.setattr(runs, "_finish", broken_finish)
    final = await _with_job(lambda job: _until_ended(actor, run["id"]))
    assert final["status"] == "failed" and final["error"] == "RuntimeError: quality report exploded"
    assert [a["details"]["error"] for a in await _actions(db, actor.workspace_id, "run.failed")] == [
        "RuntimeError: quality report exploded"]


async def test_the_job_keeps_polling_when_the_database_refuses(
        db: Database, meridian: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    run = await start_run(actor, rounds=1, seed=4)
    real_claim = runs.claim_run
    refusals = [ConnectionRefusedError("connection refused"), RuntimeError("a bug in a poll")]

    async def refusing_claim(worker: str) -> int | None:
        if refusals:
            raise refusals.pop(0)
        return await real_claim(worker)

    monkeypatch.setattr(runs, "claim_run", refusing_claim)
    monkeypatch.setattr(runs, "backoff", lambda attempt: 0.01)
    final = await _with_job(lambda job: _until_ended(actor, run["id"]))
    assert final["status"] == "completed" and not refusals


async def test_two_runs_adding_spend_at_once_keep_one_row_per_department(db: Database) -> None:
    """Two workers' runs of one workspace end their first rounds together: before, each inserted the department's
    row (check, then insert), and the spend was split over two rows."""
    from personas.runtime.budgets import add_department_spend
    from workspace.services import ensure_workspace

    ws = await ensure_workspace("spend")

    async def round_end(n: int) -> None:
        async with db.transaction():
            await add_department_spend(ws, {"ops": [10.0 * n, 1.0, 0.5, 1.0], "sales": [1.0, 1.0, 0.0, 1.0]})

    await asyncio.gather(*(round_end(n) for n in range(1, 5)))
    rows = await db.fetch("SELECT department, tokens_in, tokens_out, cost, turns FROM personas_department_spend "
                          "WHERE workspace = {} ORDER BY department", ws)
    assert [(r["department"], int(r["tokens_in"]), int(r["tokens_out"]), float(r["cost"]), int(r["turns"]))
            for r in rows] == [("ops", 100, 4, 2.0, 4), ("sales", 4, 4, 0.0, 4)]


async def test_the_migration_merges_spend_rows_split_before_it(db: Database) -> None:
    import importlib

    from workspace.services import ensure_workspace

    migration = importlib.import_module("personas.piccolo_migrations.personas_2026_12_04t16_40_00_000000")
    ws = await ensure_workspace("spend")
    await db.fetch("DROP INDEX personas_department_spend_uq")  # as before the migration
    await db.execute_many("INSERT INTO personas_department_spend (workspace, department, tokens_in, tokens_out, cost, "
                          "turns) VALUES ({}, {}, {}, {}, {}, {})",
                          [(ws, "ops", 10, 1, 0.5, 1), (ws, "ops", 20, 2, 0.25, 1), (ws, "sales", 5, 5, 0.0, 1)])
    for sql in migration.UP:
        await db.fetch(sql)
    rows = await db.fetch("SELECT department, tokens_in, tokens_out, cost, turns FROM personas_department_spend "
                          "WHERE workspace = {} ORDER BY department", ws)
    assert [(r["department"], int(r["tokens_in"]), int(r["tokens_out"]), float(r["cost"]), int(r["turns"]))
            for r in rows] == [("ops", 30, 3, 0.75, 2), ("sales", 5, 5, 0.0, 1)]


async def test_a_channel_opened_by_another_run_while_the_population_loads_is_left_for_the_next_load(
        db: Database, meridian: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured with two workers and a burst of runs in one workspace: a run that opens a channel between another
    run's read of the channels and of the memberships failed that run (KeyError in load_population)."""
    from channels import services as ch
    from personas.runtime.scheduler import load_population
    from workspace.services import system_actor

    loader = await _actor()
    await load_scenario_into(loader, meridian, AGENTS)
    actor = await system_actor(loader.workspace_id)  # with the scenario's compartments
    member = int((await db.fetch("SELECT member FROM personas_persona LIMIT 1"))[0]["member"])
    real_fetch = db.fetch

    async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
        rows = await real_fetch(sql, *args)
        if sql.startswith("SELECT id, name, topic, label_level, label_mask, last_seq, archived FROM chorus_channel"):
            monkeypatch.setattr(db, "fetch", real_fetch)  # once: another run opens a channel right now
            made = await ch.create_channel(actor, "opened-meanwhile", "", actor.scheme.parse("public"))
            await ch.add_members_bulk(actor, made["id"], [member])
        return rows

    monkeypatch.setattr(db, "fetch", fetch)
    pop = await load_population(actor.workspace_id, actor.scheme)
    assert "opened-meanwhile" not in {c.name for c in pop.channels.values()} and pop.ids
    again = await load_population(actor.workspace_id, actor.scheme)
    assert "opened-meanwhile" in {c.name for c in again.channels.values()}
