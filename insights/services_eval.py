"""Evaluation of the DB-backed path against a scenario's planted truths (spec/scenario.md): simulate through the
agent runtime into the current (fresh) workspace, mine with :func:`mine_workspace`, score the stored insights that a
reader with the highest label would see. The scoring rules themselves live in :mod:`insights.evaluate`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from insights.evaluate import Ranked, evaluate
from insights.services_mining import mine_workspace
from insights.tables import Insight
from personas.scenario_model import Scenario
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.services import get_scheme


async def ranked_insights(actor: Actor) -> list[Ranked]:
    """Every current insight of ``actor``'s workspace that ``actor``'s label dominates, with the bodies of its cited
    messages, as :func:`insights.evaluate.evaluate` reads them."""
    rows = await Insight.select().where((Insight.workspace == actor.workspace_id) & (Insight.current == True))  # noqa: E712
    ids = sorted({c["message"] for r in rows for c in json.loads(r["citations"])})
    bodies: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("{}" for _ in chunk)
        for m in await dbmod.current().fetch(f"SELECT id, body FROM chorus_message WHERE id IN ({marks})", *chunk):
            bodies[int(m["id"])] = str(m["body"])
    out = []
    for r in sorted(rows, key=lambda r: (-r["score"], r["id"])):
        label = actor.scheme.from_ints(r["label_level"], r["label_mask"])
        if not actor.label.dominates(label):
            continue
        cited = "\n".join(bodies.get(c["message"], "") for c in json.loads(r["citations"]))
        out.append(Ranked(r["kind"], r["title"], r["summary"], float(r["score"]), cited, label))
    return out


async def evaluate_scenario(actor: Actor, scenario: Scenario, *, agents: int | None = None, rounds: int = 10,
                            seed: int | None = None, k: int = 10,
                            progress: Callable[[int, int], None] | None = None,
                            llm_provider: object | None = None) -> dict[str, Any]:
    """Simulate ``scenario`` in ``actor``'s (fresh) workspace with the offline provider, mine it to the end and
    score it; returns the spec's result plus ``run`` (the runtime's summary) and ``mining`` (passes and counts).
    With ``llm_provider`` the optional LLM pass (:func:`insights.services_llm.llm_pass`) runs after mining and its
    outcome is in ``llm``."""
    from personas.runtime_runs import simulate

    summary = await simulate(actor, scenario, agents, rounds, seed, progress=progress)
    passes = []
    while True:
        result = await mine_workspace(actor)
        passes.append(result.as_dict())
        if not result.more:
            break
    llm: dict[str, Any] | None = None
    if llm_provider is not None:
        from insights.services_llm import llm_pass

        llm = (await llm_pass(actor, llm_provider, top=max(k, 10))).as_dict()
    scheme = await get_scheme(actor.workspace_id)  # the scenario's load may have extended it
    top = scheme.top()
    reader = Actor.system(actor.workspace_id, scheme)
    scored = evaluate(await ranked_insights(reader), scenario.truths, k=k, reader=top)
    return {**scored, "run": summary.as_json(), "mining": passes, "llm": llm}
