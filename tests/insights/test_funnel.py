"""The evaluation's funnel for truths that name their documents (read, said, linked, ranked), and the ablations
that take an ingredient out of a scenario before the run."""

from __future__ import annotations

import pytest

from insights.ablation import ABLATIONS, ablate
from insights.funnel import RunTrace, funnel, ranks_of
from personas.scenario import Truth, builtin_scenario, load_scenario

ONE = Truth("S1", "risk", "One document", ("a", "b"), documents=("Log",))
TWO = Truth("C1", "risk", "Two documents", ("a", "b"), documents=("Log", "Contracts"))
THREE = Truth("C2", "opportunity", "Three documents", ("a", "b"), documents=("Log", "Sales", "Plan"))
NONE = Truth("N1", "risk", "No document named", ("a", "b"))


def test_each_document_must_be_read_and_said_and_a_link_must_join_two_of_them() -> None:
    trace = RunTrace(read={"Log", "Contracts", "Sales"})
    trace.add_fact("Log")
    trace.add_link("Sales", "Plan")
    out = funnel([ONE, TWO, THREE, NONE], trace, {"S1": 3})
    assert list(out) == ["S1", "C1", "C2"]  # a truth that names no document has no funnel
    assert out["S1"] == {"read": True, "said": True, "linked": None, "ranked": 3}
    assert out["C1"] == {"read": True, "said": False, "linked": False, "ranked": None}  # Contracts never cited
    assert out["C2"] == {"read": False, "said": True, "linked": True, "ranked": None}  # Plan: cited, never read
    assert (trace.facts, trace.links) == (1, 1)


def test_a_link_between_two_sentences_of_one_document_joins_nothing() -> None:
    trace = RunTrace(read={"Log", "Contracts"})
    trace.add_link("Log", "Log")
    trace.add_fact("Contracts")
    assert funnel([TWO], trace, {})["C1"] == {"read": True, "said": True, "linked": False, "ranked": None}


def test_ranks_come_from_the_evaluations_rows() -> None:
    rows: list[dict[str, object]] = [{"rank": 1, "truth": None}, {"rank": 2, "truth": "C1"}, {"rank": 7, "truth": "S1"}]
    assert ranks_of(rows) == {"C1": 2, "S1": 7}


def test_ablations_take_out_documents_or_persona_text_and_nothing_else() -> None:
    scenario = load_scenario(builtin_scenario("harbor"))
    assert any(r.traits or r.goals or r.concerns for r in scenario.roles)
    bare = ablate(scenario, "documents")
    assert bare.documents == () and bare.roles == scenario.roles and bare.truths == scenario.truths
    mute = ablate(scenario, "persona-text")
    assert all(r.traits == r.goals == r.concerns == () for r in mute.roles)
    assert [(r.role, r.count, r.label, r.activity) for r in mute.roles] == [
        (r.role, r.count, r.label, r.activity) for r in scenario.roles]
    assert mute.documents == scenario.documents and mute.channels == scenario.channels
    assert set(ABLATIONS) == {"documents", "persona-text"}
    with pytest.raises(ValueError, match="choose one of documents, persona-text"):
        ablate(scenario, "channels")
