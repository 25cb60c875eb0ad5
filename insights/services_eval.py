"""Evaluation of the DB-backed path against a scenario's planted truths (spec/scenario.md): simulate through the
agent runtime into the current (fresh) workspace, mine with :func:`mine_workspace`, score the stored insights that a
reader with the highest label would see, and report the funnel (read, said, linked, ranked) from the run's reading
plan and claims, beside the documents-only baseline. The scoring rules themselves live in :mod:`insights.evaluate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from insights.baseline import evaluate_baseline
from insights.evaluate import Ranked, evaluate
from insights.funnel import RunTrace, funnel, ranks_of
from insights.services_mining import mine_workspace
from insights.tables import Insight
from personas.context.documents import chunks_after, document_titles
from personas.llm.base import Provider
from personas.runtime.claims import claims_after
from personas.runtime.plan import coverage
from personas.scenario import Scenario
from workspace.actor import Actor
from workspace.services import get_scheme

BASELINE_KEYS = ("recall_at_k", "precision_at_k", "k", "found", "single", "cross")
"""What an evaluation reports of its documents-only baseline."""


async def ranked_insights(actor: Actor) -> list[Ranked]:
    """Every current insight of ``actor``'s workspace that ``actor``'s label dominates, as
    :func:`insights.evaluate.evaluate` reads them (title and summary: the cited messages' text does not count)."""
    rows = await Insight.select().where((Insight.workspace == actor.workspace_id) & (Insight.current == True))  # noqa: E712
    out = []
    for r in sorted(rows, key=lambda r: (-r["score"], r["id"])):
        label = actor.scheme.from_ints(r["label_level"], r["label_mask"])
        if not actor.label.dominates(label):
            continue
        out.append(Ranked(r["kind"], r["title"], r["summary"], float(r["score"]), "", label))
    return out


async def run_trace(workspace_id: int, run_id: int, cover: dict[str, Any] | None = None) -> RunTrace:
    """Which documents (by title) ``run_id`` read, cited in claims and linked, from its reading plan and its claims
    (``cover``: the run's :func:`~personas.runtime.plan.coverage`, when the caller has it)."""
    cover = cover if cover is not None else await coverage(run_id)
    titles = {int(d["id"]): str(d["title"]) for d in cover["documents"]}
    trace = RunTrace(read={str(d["title"]) for d in cover["documents"] if int(d["read"]) > 0})
    rows: list[dict[str, Any]] = []
    after = 0
    while page := await claims_after(workspace_id, after):
        after = int(page[-1]["id"])
        rows.extend(r for r in page if int(r["run"]) == run_id)
    unknown = {int(d) for r in rows for d in (r["document"], r["other_document"]) if d is not None} - set(titles)
    titles.update(await document_titles(sorted(unknown)))
    for r in rows:
        if r["kind"] == "link" and r["other_document"] is not None:
            trace.add_link(titles.get(int(r["document"]), ""), titles.get(int(r["other_document"]), ""))
        else:
            trace.add_fact(titles.get(int(r["document"]), ""))
    return trace


async def chunk_count(workspace_id: int) -> int:
    """Every chunk of the workspace's documents, planned for a reader or not."""
    count, after = 0, 0
    while page := await chunks_after(workspace_id, after, 5_000):
        count += len(page)
        after = int(page[-1]["id"])
    return count


async def evaluate_scenario(actor: Actor, scenario: Scenario, *, agents: int | None = None, rounds: int = 10,
                            seed: int | None = None, k: int = 10,
                            progress: Callable[[int, int], None] | None = None,
                            llm_provider: Provider | None = None) -> dict[str, Any]:
    """Simulate ``scenario`` in ``actor``'s (fresh) workspace with the offline provider, mine it to the end and
    score it; returns the spec's result (with recall split into ``single`` and ``cross``), then ``funnel``,
    ``baseline`` (:data:`BASELINE_KEYS` of :func:`insights.baseline.evaluate_baseline`), ``coverage`` (every
    chunk of the documents, chunks the reading plan gave a reader, read, read by two roles), ``claims`` (facts
    and links posted), ``seconds`` (the whole evaluation), ``run`` (the runtime's summary) and ``mining`` (passes
    and counts). With ``llm_provider`` the optional LLM pass (:func:`insights.services_llm.llm_pass`) runs after
    mining and its outcome is in ``llm``."""
    from personas.runtime.runs import simulate

    started = time.perf_counter()
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
    trace = await run_trace(actor.workspace_id, summary.run_id, summary.coverage)
    base = evaluate_baseline(scenario, k=k)
    cover = summary.coverage
    return {
        **scored,
        "funnel": funnel(scenario.truths, trace, ranks_of(scored["insights"])),
        "baseline": {key: base[key] for key in BASELINE_KEYS},
        "coverage": {"chunks": await chunk_count(actor.workspace_id), "planned": cover.get("chunks", 0),
                     "read": cover.get("read", 0), "read_by_two_roles": cover.get("read_by_two_roles", 0)},
        "claims": {"facts": trace.facts, "links": trace.links},
        "seconds": round(time.perf_counter() - started, 3),
        "run": summary.as_json(), "mining": passes, "llm": llm,
    }
