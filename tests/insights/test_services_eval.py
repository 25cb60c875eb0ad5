"""The DB-backed evaluation on SQLite and PostgreSQL: the funnel's trace is read through the runtime's services
(the run's reading plan and claims, no other run's), the baseline chunks documents exactly as ingest does, and a
small simulated run reports a funnel, coverage and claims that agree with what the run stored."""

from __future__ import annotations

import pytest

from channels import config
from insights.baseline import evaluate_baseline, library_of
from insights.services_eval import evaluate_scenario, run_trace
from insights.services_mining import forget_state
from personas import domain
from personas.context.documents import NewDocument, ingest_documents
from personas.runtime import claims
from personas.scenario import Scenario, builtin_scenario, load_scenario
from workspace import db as db_module
from workspace.db import Database
from workspace.services import ensure_workspace, system_actor
from workspace.settings import LimitSettings


@pytest.fixture
def harbor() -> Scenario:
    return load_scenario(builtin_scenario("harbor"))


async def test_the_trace_reads_one_runs_claims_and_names_documents_by_title(db: Database, harbor: Scenario
                                                                             ) -> None:
    ws = await ensure_workspace("trace", harbor.scheme)
    actor = await system_actor(ws)
    docs = harbor.documents[:3]
    await ingest_documents(actor, [NewDocument(d.title, d.body, d.label) for d in docs])
    library = claims.Library(actor.scheme)
    await library.load(ws)
    first = {d: next(s for s in library.facts.values() if s.document == d) for d in library.titles}
    a, b, c = (first[d] for d in sorted(first))
    run, other = 41, 42
    async with db_module.current().transaction():
        await claims.store([
            claims.fact_row(ws, run, 1, 0, 0, 0, "Analyst", "ops", a),
            claims.link_row(ws, run, 2, 0, 0, 0, "Lead", "ops", a, b, "dependency", "risk", "so", "X", b.label),
            claims.fact_row(ws, other, 1, 0, 0, 0, "Analyst", "ops", c),  # another run's claim: not this one's
            claims.link_row(ws, other, 2, 0, 0, 0, "Lead", "ops", a, c, "dependency", "risk", "so", "X", c.label),
        ])
    cover = {"documents": [{"id": a.document, "title": a.source, "read": 2}, {"id": b.document, "title": b.source,
                                                                            "read": 0}]}
    trace = await run_trace(ws, run, cover)
    assert trace.read == {a.source}  # only documents with a chunk read
    assert trace.said == {a.source, b.source}  # b's title is known from the cover, c is another run's
    assert trace.linked == {frozenset((a.source, b.source))}
    assert (trace.facts, trace.links) == (1, 1)
    other_trace = await run_trace(ws, other, {"documents": []})
    assert other_trace.said == {a.source, c.source}  # titles the cover does not hold come from the documents


async def test_the_baseline_chunks_documents_exactly_as_ingest_does(db: Database, harbor: Scenario) -> None:
    ws = await ensure_workspace("chunks", harbor.scheme)
    actor = await system_actor(ws)
    await ingest_documents(actor, [NewDocument(d.title, d.body, d.label) for d in harbor.documents])
    stored = claims.Library(actor.scheme)
    await stored.load(ws)
    pure = library_of(harbor)

    def spans(lib: claims.Library) -> list[tuple[str, str, int, int, str]]:
        return sorted((f.source, lib.chunk_text[f.chunk], f.start, f.end, f.fact.text) for f in lib.facts.values())

    assert spans(pure) == spans(stored)
    assert len(pure.chunk_text) == len(stored.chunk_text)


async def test_a_small_run_reports_a_funnel_and_coverage_that_agree_with_what_it_stored(db: Database,
                                                                                          harbor: Scenario) -> None:
    domain.register_hooks()
    config.configure(LimitSettings())
    forget_state()
    actor = await system_actor(await ensure_workspace("eval", harbor.scheme))
    result = await evaluate_scenario(actor, harbor, agents=80, rounds=3, seed=5, k=5)
    forget_state()
    assert list(result)[:6] == ["recall_at_k", "precision_at_k", "k", "truths", "found", "insights"]
    assert list(result)[6:13] == ["single", "cross", "funnel", "baseline", "coverage", "claims", "seconds"]
    assert set(result["funnel"]) == {t.id for t in harbor.truths if t.documents}
    for tid, f in result["funnel"].items():
        hit = [r["rank"] for r in result["insights"] if r["truth"] == tid]
        assert f["ranked"] == (hit[0] if hit else None)
    cross = {t.id for t in harbor.truths if len(t.documents) >= 2}
    assert {tid for tid, f in result["funnel"].items() if f["linked"] is not None} == cross
    database = db_module.current()
    chunks = await database.fetch("SELECT COUNT(*) AS n FROM personas_chunk WHERE workspace = {}", actor.workspace_id)
    assert result["coverage"]["chunks"] == int(chunks[0]["n"])
    assert result["coverage"]["planned"] == result["run"]["coverage"]["chunks"]
    kinds = await database.fetch("SELECT kind, COUNT(*) AS n FROM personas_claim WHERE workspace = {} GROUP BY kind",
                                 actor.workspace_id)
    counted = {str(r["kind"]): int(r["n"]) for r in kinds}
    assert result["claims"] == {"facts": counted.get("fact", 0), "links": counted.get("link", 0)}
    assert result["claims"]["facts"] > 0 and any(f["said"] for f in result["funnel"].values())
    base = evaluate_baseline(harbor, k=5)
    assert result["baseline"] == {key: base[key] for key in ("recall_at_k", "precision_at_k", "k", "found",
                                                             "single", "cross")}
