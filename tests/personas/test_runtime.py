"""The DB-backed agent runtime on SQLite and PostgreSQL: what a run stores (turns, messages, audit), determinism,
kill switches, budgets with a hard stop, blocked posts, stopping, and the background job that claims runs."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from channels import config
from personas import domain
from personas.llm.base import TurnRequest, TurnResult
from personas.llm.offline import OfflineProvider
from personas.runtime.budgets import set_budget, spend_by_department
from personas.runtime.runs import RunOptions, RuntimeJob, execute_run, get_run, simulate, start_run, stop_run
from personas.scenario import Scenario, builtin_scenario, load_scenario
from personas.services_control import kill
from personas.services_load import load_scenario_into
from tests.channels.helpers import generous_limits
from workspace import audit
from workspace.actor import Actor
from workspace.db import Database
from workspace.services import ensure_workspace, system_actor
from workspace.settings import LimitSettings

AGENTS = 80


@pytest.fixture
def meridian() -> Scenario:
    return load_scenario(builtin_scenario("meridian"))


async def _actor(name: str = "sim") -> Actor:
    domain.register_hooks()  # the leak guard, as the app wires it
    config.configure(LimitSettings())
    return await system_actor(await ensure_workspace(name))


async def _bodies(db: Database, ws: int) -> list[tuple[str, str, bool]]:
    rows = await db.fetch("SELECT m.author_handle, m.body, m.thread_of FROM chorus_message m JOIN chorus_channel c "
                          "ON c.id = m.channel WHERE c.workspace = {} ORDER BY m.id", ws)
    return [(r["author_handle"], r["body"], r["thread_of"] is not None) for r in rows]


async def _actions(db: Database, ws: int, action: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT actor_handle, entity_id, details FROM chorus_audit_event WHERE workspace_id = {} "
                          "AND action = {} ORDER BY id", ws, action)  # insertion order (seq is set when sealed)
    return [{**r, "details": json.loads(r["details"])} for r in rows]


async def test_a_run_stores_every_turn_its_messages_and_the_context_it_read(db: Database, meridian: Scenario) -> None:
    actor = await _actor()
    summary = await simulate(actor, meridian, AGENTS, 3, seed=5)
    assert summary.status == "completed" and summary.rounds == 3 and summary.agents == AGENTS
    turns = await db.fetch("SELECT t.*, m.author AS msg_author, m.thread_of AS msg_thread FROM personas_turn t "
                           "LEFT JOIN chorus_message m ON m.id = t.message WHERE t.run = {} ORDER BY t.id",
                           summary.run_id)
    assert len(turns) == summary.turns > 0
    posted = [t for t in turns if t["outcome"] == "posted"]
    assert len(posted) == summary.messages == len(await _bodies(db, actor.workspace_id)) > 0
    assert all(t["msg_author"] == t["agent"] for t in posted)  # posted as that agent, through post_message
    assert all(t["tokens_in"] > 0 and t["tokens_out"] > 0 and t["latency_ms"] >= 0 for t in posted)
    replies = [t for t in posted if t["reply_to"] is not None]
    assert replies and all(t["msg_thread"] is not None for t in replies)  # replies went into the thread
    assert {t["outcome"] for t in turns} <= {"posted", "reacted", "ignored", "blocked"}
    assert sum(t["outcome"] == "reacted" for t in turns) == summary.reactions
    # every generated post's retrieval is on the record, with the documents it returned
    reads = await _actions(db, actor.workspace_id, "context.read")
    assert len(reads) == len([t for t in turns if t["outcome"] in ("posted", "blocked") and json.loads(t["documents"])])
    docs_by_turn = {(t["agent"], json.dumps(json.loads(t["documents"]))) for t in posted}
    assert any(json.loads(t["documents"]) for t in posted)
    assert {(int(r["actor_handle"] != ""), r["details"]["run"]) for r in reads} == {(1, summary.run_id)}
    assert len(docs_by_turn) > 1
    posts = await _actions(db, actor.workspace_id, "message.posted")
    assert len(posts) == summary.messages
    q = summary.quality
    assert set(q) == {"reciprocity", "flat_thread_share", "on_topic_rate", "duplicate_rate", "speaker_share"}
    assert all(0.0 <= v <= 1.0 for v in q.values()) and q["speaker_share"] > 0
    await audit.seal_all()  # what the server's sealer does
    assert (await audit.verify()).ok


async def test_same_scenario_and_seed_give_the_same_messages(db: Database, meridian: Scenario) -> None:
    first = await simulate(await _actor("one"), meridian, AGENTS, 3, seed=11)
    second = await simulate(await _actor("two"), meridian, AGENTS, 3, seed=11)
    other = await simulate(await _actor("three"), meridian, AGENTS, 3, seed=12)
    one, two, three = [await _bodies(db, await ensure_workspace(n)) for n in ("one", "two", "three")]
    assert first.messages == second.messages and len(one) == first.messages
    assert one == two
    assert one != three and other.run_id != first.run_id


async def test_killed_agents_take_no_turns(db: Database, meridian: Scenario) -> None:
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    await kill(actor, department="manufacturing", reason="test")
    run = await start_run(actor, rounds=3, seed=3, status="running")
    final = await execute_run(run["id"], OfflineProvider())
    assert final["status"] == "completed" and final["turns"] > 0
    depts = await db.fetch("SELECT DISTINCT department FROM personas_turn WHERE run = {}", run["id"])
    assert "manufacturing" not in {r["department"] for r in depts}


async def test_a_run_budget_is_a_hard_stop_and_audited(db: Database, meridian: Scenario) -> None:
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    run = await start_run(actor, rounds=10, seed=3, max_tokens=4000, status="running")
    final = await execute_run(run["id"], OfflineProvider())
    assert final["status"] == "over_budget" and final["rounds_done"] < 10
    assert 0 < final["tokens_in"] + final["tokens_out"] <= 4000
    assert final["over_budget"] > 0
    hits = await _actions(db, actor.workspace_id, "budget.exhausted")
    assert [(h["details"]["scope"], h["details"]["run"]) for h in hits] == [("run", run["id"])]
    ended = await _actions(db, actor.workspace_id, "run.over_budget")
    assert len(ended) == 1


async def test_department_budgets_stop_that_department_only(db: Database, meridian: Scenario) -> None:
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    await set_budget(actor, "department", "manufacturing", 2500, None)
    run = await start_run(actor, rounds=4, seed=3, status="running")
    final = await execute_run(run["id"], OfflineProvider())
    assert final["status"] == "completed"
    rows = await db.fetch("SELECT department, outcome, COUNT(*) AS n, SUM(tokens_in + tokens_out) AS tokens "
                          "FROM personas_turn WHERE run = {} GROUP BY department, outcome", run["id"])
    over = {r["department"] for r in rows if r["outcome"] == "over_budget"}
    assert over == {"manufacturing"}
    assert any(r["department"] != "manufacturing" and r["outcome"] == "posted" for r in rows)
    spend = {d["department"]: d for d in await spend_by_department(actor)}
    manufacturing = spend["manufacturing"]
    assert 0 < manufacturing["tokens_in"] + manufacturing["tokens_out"] <= 2500
    assert manufacturing["max_tokens"] == 2500
    hits = await _actions(db, actor.workspace_id, "budget.exhausted")
    assert [(h["details"]["scope"], h["details"]["target"]) for h in hits] == [("department", "manufacturing")]


class Leaky(OfflineProvider):
    """A fake provider whose every post quotes a restricted document: the leak guard must block it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def compose(self, request: TurnRequest) -> TurnResult:
        return replace(super().compose(request), text=f"Did you all see this? {self.secret}")


async def test_posts_the_leak_guard_refuses_are_recorded_as_blocked(db: Database, meridian: Scenario) -> None:
    actor = await _actor()
    generous_limits()  # a real clock: the few agents of a small role read many chunks a round, all in a second
    await load_scenario_into(actor, meridian, AGENTS)
    top = await db.fetch("SELECT body FROM personas_document WHERE workspace = {} ORDER BY label_level DESC, id "
                         "LIMIT 1", actor.workspace_id)
    secret = " ".join(top[0]["body"].split()[10:60])
    run = await start_run(actor, rounds=2, seed=3, status="running")
    final = await execute_run(run["id"], Leaky(secret))
    blocked = await db.fetch("SELECT reason FROM personas_turn WHERE run = {} AND outcome = {}", run["id"],
                             "blocked")
    assert final["blocked"] == len(blocked) > 0
    assert all(r["reason"].startswith("leak_blocked") for r in blocked), {r["reason"][:60] for r in blocked}
    assert len(await _actions(db, actor.workspace_id, "post.blocked")) == len(blocked)
    leaked = await db.fetch("SELECT COUNT(*) AS n FROM chorus_message m JOIN chorus_channel c ON c.id = m.channel "
                            "WHERE c.workspace = {} AND c.label_level < 3 AND m.body LIKE {}", actor.workspace_id,
                            f"%{secret[:40]}%")
    assert leaked[0]["n"] == 0


async def test_stopping_a_run(db: Database, meridian: Scenario) -> None:
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    pending = await start_run(actor, continuous=True, seed=1)
    assert (await stop_run(actor, pending["id"]))["status"] == "stopped"  # never started: stopped at once
    running = await start_run(actor, continuous=True, seed=1, status="running")
    task = asyncio.create_task(execute_run(running["id"], OfflineProvider()))
    while (await get_run(actor, running["id"]))["rounds_done"] < 2:
        await asyncio.sleep(0.05)
    await stop_run(actor, running["id"])
    final = await asyncio.wait_for(task, 60)
    assert final["status"] == "stopped" and final["rounds_done"] >= 2
    assert [a["details"]["status"] for a in await _actions(db, actor.workspace_id, "run.stop_requested")] == [
        "pending", "running"]


async def test_the_runtime_job_claims_pending_runs_and_executes_them(db: Database, meridian: Scenario) -> None:
    actor = await _actor()
    await load_scenario_into(actor, meridian, AGENTS)
    run = await start_run(actor, rounds=2, seed=9)
    assert run["status"] == "pending"
    job = asyncio.create_task(RuntimeJob(OfflineProvider, RunOptions(concurrency=2), poll_s=0.05)())
    try:
        for _ in range(600):
            state = await get_run(actor, run["id"])
            if state["status"] == "completed":
                break
            await asyncio.sleep(0.05)
        assert state["status"] == "completed" and state["rounds_done"] == 2 and state["messages"] > 0
        assert state["quality"]["speaker_share"] > 0
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)


async def test_quality_targets_on_a_1000_agent_10_round_offline_run(sqlite_db: Database, meridian: Scenario) -> None:
    """The issue's targets, measured on the stored messages of the real DB-backed runtime."""
    summary = await simulate(await _actor(), meridian, 1000, 10, seed=7)
    q = summary.quality
    assert q["reciprocity"] >= 0.30
    assert q["flat_thread_share"] <= 0.40
    assert q["duplicate_rate"] <= 0.02
    assert q["on_topic_rate"] >= 0.80
    # agents speak when they have something grounded to say (a passage, a link, a question, an answer), so a
    # 1,000-agent run of the demo's 22 documents says less than the old persona-driven chatter did
    assert summary.messages > 500 and summary.blocked < summary.messages / 20
