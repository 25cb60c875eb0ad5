"""The documents-only baseline of an evaluation: the same miner over a scenario's documents alone, no conversation.
Every fact of every document (the runtime's :class:`~personas.runtime.claims.Library`) is stated once, "by the
documents", and no two are linked (the miner never joins claims that no agent joined); the claims go through the
same :func:`~insights.issues.build_issues`, the same cut and ranking, and the same rules. Pure: no database, no run.
"""

from __future__ import annotations

from typing import Any

from insights.evaluate import Ranked, evaluate
from insights.issues import Issue, Said, build_issues
from insights.services_store import KEEP
from personas.context.passages import chunk_spans
from personas.runtime.claims import Library
from personas.scenario import Scenario
from workspace.labels import Label


def library_of(scenario: Scenario) -> Library:
    """The scenario's documents as the runtime's library holds them: chunked exactly as ingest chunks them, in
    file order (document ids 1, 2, ..., chunk ids counted across documents, as a fresh workspace numbers them)."""
    library = Library(scenario.scheme)
    chunk_id = 0
    for doc_id, doc in enumerate(scenario.documents, start=1):
        chunks = []
        for start, end in chunk_spans(doc.body):
            chunk_id += 1
            chunks.append({"id": chunk_id, "start": start, "text": doc.body[start:end]})
        library.add_document(doc_id, doc.title.strip(), doc.body, doc.label, chunks)
    return library


def _holder(label: Label) -> str:
    """Who holds a document, as the miner names it: its label's compartments, else its tier."""
    return ", ".join(sorted(label.compartments)) or label.tier


def documents_said(library: Library) -> list[Said]:
    """Every fact of every document, stated once and by no one, as fact claims (no links)."""
    out = []
    for n, span in enumerate(library.facts.values(), start=1):
        key = (str(span.document), span.chunk, span.start, span.end)
        out.append(Said(n, key, span.source, _holder(span.label), span.fact.text,
                        label=(span.label.level, span.label.mask), fact=span.fact))
    return out


def baseline_issues(scenario: Scenario) -> tuple[list[Issue], Library]:
    """The issues the miner builds from the documents alone, best first (at most as many as a pass stores)."""
    library = library_of(scenario)
    return build_issues(documents_said(library), library.corpus)[:KEEP], library


def baseline_ranked(scenario: Scenario) -> list[Ranked]:
    """The baseline's insights as evaluation reads them, each with the label of the documents it cites."""
    issues, library = baseline_issues(scenario)
    out = []
    for issue in issues:
        labels = [library.labels[int(d)] for d in issue.documents if d.isdigit() and int(d) in library.labels]
        label = scenario.scheme.lub(labels) if labels else scenario.scheme.bottom()
        out.append(Ranked(issue.kind, issue.title, issue.summary, float(issue.score), "", label))
    return out


def evaluate_baseline(scenario: Scenario, k: int = 10) -> dict[str, Any]:
    """The baseline scored against the scenario's truths exactly as a run is (:func:`insights.evaluate.evaluate`,
    read with the highest label)."""
    return evaluate(baseline_ranked(scenario), scenario.truths, k=k, reader=scenario.scheme.top())
