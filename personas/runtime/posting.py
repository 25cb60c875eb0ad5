"""What a round writes and reads back besides its shards (shards.py carries the posts out): the persona rows of
the agents acting, the rows of turns the planner decides itself (triage that ignores, budget and near-duplicate
refusals, passages with nothing to state), and after the round's barrier its turns, spend and counts as stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from personas.runtime.plan import mark_read
from personas.runtime.prompts import Turn
from personas.runtime.shards import record
from workspace import db as dbmod
from workspace.db_sql import in_batches


@dataclass
class RoundStats:
    turns: int = 0
    messages: int = 0
    reactions: int = 0
    ignored: int = 0
    blocked: int = 0
    over_budget: int = 0
    errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    provider_s: float = 0.0
    run_budget_hit: bool = False
    stopped: bool = False

    def add(self, other: RoundStats) -> None:
        for name in ("turns", "messages", "reactions", "ignored", "blocked", "over_budget", "errors", "tokens_in",
                     "tokens_out", "cost", "provider_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


_OUTCOME_FIELD = {"posted": "messages", "reacted": "reactions", "ignored": "ignored", "blocked": "blocked",
                  "over_budget": "over_budget"}


async def personas_of(member_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Persona rows of the agents acting this round only (never the whole population)."""
    out: dict[int, dict[str, Any]] = {}
    database = dbmod.current()
    for ids, marks in in_batches(member_ids):
        rows = await database.fetch(
            "SELECT m.id, m.handle, m.label_level, m.label_mask, m.active, p.department, p.traits, p.language, "
            "r.name AS role FROM chorus_member m JOIN personas_persona p ON p.member = m.id "
            f"JOIN personas_role r ON r.id = p.role WHERE m.id IN ({marks})", *ids)
        for r in rows:
            out[int(r["id"])] = r
    return out


async def record_planned(run_id: int, rnd: int, turns: Sequence[Turn]) -> None:
    """The rows of turns whose outcome the planner decided (keyed like any turn: a re-planned round records them
    once), and the readings of passages that had nothing to state."""
    if not turns:
        return
    rows = [(run_id, rnd, t.member_id, t.department, t.channel, t.plan.kind, str(t.task or t.intent)[:16], t.outcome,
             t.reason, None, None, "[]", 0, 0, 0.0, 0.0, t.key, 0, "[]", "", "") for t in turns]
    read = [t.reading.reading for t in turns if t.reading is not None and t.outcome == "ignored"]
    async with dbmod.current().transaction():
        await record(run_id, rnd, 0, rows)
        if read:
            await mark_read(read, rnd)


async def round_turns(run_id: int, rnd: int) -> list[dict[str, Any]]:
    """The posts of round ``rnd`` as its shards recorded them: who, which message, what it answered, what it
    stated and asked, and the guard's gist; by key (the same order whichever worker stored them)."""
    rows = await dbmod.current().fetch(
        "SELECT key, agent, intent, message, reply_to, facts, asked, gist FROM personas_turn WHERE run = {} AND "
        "round = {} AND outcome = {}", run_id, rnd, "posted")
    for r in rows:
        r["facts"] = json.loads(r["facts"] or "[]")
    rows.sort(key=lambda r: str(r["key"] or ""))
    return rows


async def round_spend(run_id: int, rnd: int) -> dict[str, tuple[int, int, float]]:
    """What each turn of round ``rnd`` spent, by key (the planner settles its budget reservations with it)."""
    rows = await dbmod.current().fetch(
        "SELECT key, tokens_in, tokens_out, cost FROM personas_turn WHERE run = {} AND round = {} AND shard <> 0",
        run_id, rnd)
    return {str(r["key"]): (int(r["tokens_in"]), int(r["tokens_out"]), float(r["cost"])) for r in rows}


async def round_stats(run_id: int, rnd: int) -> RoundStats:
    """Round ``rnd``'s counts, from its turns' rows."""
    rows = await dbmod.current().fetch(
        "SELECT outcome, COUNT(*) AS n, COALESCE(SUM(tokens_in), 0) AS tin, COALESCE(SUM(tokens_out), 0) AS tout, "
        "COALESCE(SUM(cost), 0) AS cost FROM personas_turn WHERE run = {} AND round = {} GROUP BY outcome",
        run_id, rnd)
    s = RoundStats()
    for r in rows:
        n = int(r["n"])
        s.turns += n
        name = _OUTCOME_FIELD.get(str(r["outcome"]), "errors")
        setattr(s, name, getattr(s, name) + n)
        s.tokens_in += int(r["tin"])
        s.tokens_out += int(r["tout"])
        s.cost += float(r["cost"])
    return s
