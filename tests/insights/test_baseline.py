"""The documents-only baseline: every fact of every document stated once by no one, no links, through the same
issue builder and rules as a run; pure (no database, no simulation)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from insights.baseline import baseline_issues, baseline_ranked, documents_said, evaluate_baseline, library_of
from insights.evaluate import evaluate
from insights.issues import build_issues
from personas.scenario import Scenario, builtin_scenario, load_scenario, parse_scenario

PUMPS = """\
version: 1
name: Pump Co
labels:
  compartments: [ops, finance]
org:
  - role: Technician
    department: ops
    count: 4
    label: {tier: internal, compartments: [ops]}
  - role: Buyer
    department: finance
    count: 2
    label: {tier: confidential, compartments: [finance]}
channels:
  - name: floor
    topic: Plant floor
    label: {tier: internal, compartments: [ops]}
    members: {departments: [ops]}
documents:
  - title: Valve inspection log
    label: {tier: internal, compartments: [ops]}
    body: |
      # Valve inspection log

      The canteen reopened on Monday after the repaint.

      The KX-12 valve failed incoming inspection on three lots in May, and line 4 stopped twice.
  - title: Supplier contracts
    label: {tier: confidential, compartments: [finance]}
    body: |
      # Supplier contracts

      Brenner is the sole supplier of the KX-12 valve, and its contract expires on 30 June with no second source.
truths:
  - id: S1
    kind: risk
    title: KX-12 lots fail inspection and stop line 4
    match: [three lots, line 4, incoming inspection]
    documents: [Valve inspection log]
  - id: C1
    kind: risk
    title: Failing valves come from a sole supplier whose contract ends
    match: [line 4, three lots, 30 June, second source]
    min_match: 3
    documents: [Valve inspection log, Supplier contracts]
"""


def pumps() -> Scenario:
    return parse_scenario(PUMPS, "pumps.yaml", Path("."))


def test_one_document_truths_are_found_and_truths_that_need_two_documents_are_not() -> None:
    result = evaluate_baseline(pumps(), k=10)
    assert result["found"] == ["S1"]
    assert result["single"] == {"recall_at_k": 1.0, "found": ["S1"], "truths": 1}
    assert result["cross"] == {"recall_at_k": 0.0, "found": [], "truths": 1}
    assert list(result)[:6] == ["recall_at_k", "precision_at_k", "k", "truths", "found", "insights"]


def test_every_fact_is_stated_once_by_no_one_and_nothing_is_joined() -> None:
    scenario = load_scenario(builtin_scenario("harbor"))
    library = library_of(scenario)
    said = documents_said(library)
    assert len(said) == len(library.facts) and len({s.span for s in said}) == len(said)
    assert all(s.link is None and s.role == "" and s.message is None for s in said)
    issues, _ = baseline_issues(scenario)
    assert issues and all(len(i.documents) == 1 and not i.linked_by for i in issues)
    assert baseline_ranked(scenario)[0].score == issues[0].score


def test_the_same_issue_builder_and_rules_as_a_run() -> None:
    scenario = pumps()
    library = library_of(scenario)
    built = build_issues(documents_said(library), library.corpus)
    ranked = baseline_ranked(scenario)
    assert [(r.kind, r.title, r.summary, r.score) for r in ranked] == [
        (i.kind, i.title, i.summary, i.score) for i in built]
    assert evaluate_baseline(scenario, k=3) == evaluate(ranked, scenario.truths, k=3, reader=scenario.scheme.top())
    # the insight of the confidential contract carries its label: a reader below it would not count it
    contract = next(r for r in ranked if "Brenner" in r.title)
    assert contract.label == scenario.scheme.parse("confidential/finance")


def test_without_documents_the_baseline_finds_nothing() -> None:
    empty = replace(pumps(), documents=())
    result = evaluate_baseline(empty)
    assert result["insights"] == [] and result["recall_at_k"] == 0.0
