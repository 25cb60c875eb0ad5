"""evaluate() against spec/scenario.md on hand-made insights: one case per rule."""

from __future__ import annotations

import pytest

from insights.evaluate import Ranked, evaluate, finds
from personas.scenario import Truth
from workspace.labels import LabelScheme

T1 = Truth("T1", "risk", "Sole supplier", ("kestrel", "refrigeration", "sole supplier"))
T2 = Truth("T2", "opportunity", "Waitlist", ("waitlist", "oregon"), min_match=2)
T3 = Truth("T3", "risk", "Outage", ("outage", "api", "certificate"), min_match=3)


def ins(title: str, score: float, summary: str = "", cited: str = "", kind: str = "risk", **kw: object) -> Ranked:
    return Ranked(kind, title, summary, score, cited, **kw)  # type: ignore[arg-type]


def test_terms_count_across_title_and_summary_case_insensitively_and_cited_text_does_not() -> None:
    assert finds(ins("KESTREL parts", 1, summary="they are our Sole Supplier"), T1)
    assert not finds(ins("Kestrel parts", 1, cited="they are our sole supplier"), T1)  # cited text is not read
    assert not finds(ins("Kestrel parts", 1, summary="nothing else"), T1)  # one term of min_match 2
    assert not finds(ins("api certificate", 1), T3)  # min_match 3 is honoured
    assert finds(ins("api certificate", 1, summary="an outage"), T3)


def test_the_kind_must_match() -> None:
    assert finds(ins("kestrel sole supplier", 1), T1)
    assert not finds(ins("kestrel sole supplier", 1, kind="opportunity"), T1)  # a risk told as an opportunity


def test_each_truth_found_once_by_the_highest_ranked_insight() -> None:
    low = ins("kestrel refrigeration again", 1.0)
    high = ins("kestrel refrigeration", 5.0)
    result = evaluate([low, high], [T1], k=2)
    assert [r["truth"] for r in result["insights"]] == ["T1", None]
    assert result["insights"][0]["score"] == 5.0
    assert result["recall_at_k"] == 1.0 and result["precision_at_k"] == 0.5


def test_an_insight_finds_at_most_one_truth() -> None:
    both = ins("kestrel refrigeration and the oregon waitlist", 3.0)
    second = ins("waitlist in oregon", 2.0, kind="opportunity")
    result = evaluate([both, second], [T1, T2], k=2)
    assert [r["truth"] for r in result["insights"]] == ["T1", "T2"]  # the second insight finds T2
    assert result["found"] == ["T1", "T2"] and result["precision_at_k"] == 1.0


def test_recall_and_precision_only_count_the_top_k() -> None:
    insights = [ins("noise", 9.0), ins("more noise", 8.0), ins("kestrel sole supplier", 1.0)]
    result = evaluate(insights, [T1, T2], k=2)
    assert result["recall_at_k"] == 0.0 and result["precision_at_k"] == 0.0 and result["found"] == []
    assert result["insights"][2]["truth"] == "T1"  # found, but below k
    result = evaluate(insights, [T1, T2], k=3)
    assert result["recall_at_k"] == 0.5 and result["precision_at_k"] == pytest.approx(1 / 3)


def test_risks_and_opportunities_are_ranked_together_by_score() -> None:
    result = evaluate([ins("a", 1.0, kind="risk"), ins("b", 2.0, kind="opportunity")], [T1], k=1)
    assert [r["kind"] for r in result["insights"]] == ["opportunity", "risk"]
    assert [r["rank"] for r in result["insights"]] == [1, 2]


def test_only_insights_the_reader_may_see_count() -> None:
    scheme = LabelScheme(compartments=("exec",))
    secret = ins("kestrel refrigeration", 5.0, label=scheme.parse("restricted/exec"))
    assert evaluate([secret], [T1], k=1, reader=scheme.parse("confidential"))["found"] == []
    assert evaluate([secret], [T1], k=1, reader=scheme.top())["found"] == ["T1"]


def test_output_shape() -> None:
    result = evaluate([ins("kestrel refrigeration", 1.0)], [T1, T2], k=10)
    assert list(result)[:6] == ["recall_at_k", "precision_at_k", "k", "truths", "found", "insights"]
    assert list(result)[6:] == ["single", "cross"]
    assert result["k"] == 10 and result["truths"] == 2 and result["precision_at_k"] == 0.1
    assert result["insights"][0] == {"rank": 1, "kind": "risk", "title": "kestrel refrigeration",
                                     "summary": "", "score": 1.0, "truth": "T1"}


def test_recall_is_split_by_the_truths_shape() -> None:
    one = Truth("S1", "risk", "One document", ("kestrel", "refrigeration"), documents=("Fleet log",))
    none = Truth("S2", "risk", "No document named", ("outage", "certificate"))
    two = Truth("C1", "opportunity", "Two documents", ("waitlist", "oregon"), documents=("Sales", "Engineering"))
    same = Truth("S3", "risk", "One document named twice", ("tax", "table"), documents=("Tickets", "Tickets"))
    insights = [ins("kestrel refrigeration", 3.0), ins("oregon waitlist", 2.0, kind="opportunity"),
                ins("tax table", 1.0)]
    result = evaluate(insights, [one, none, two, same], k=2)
    assert result["single"] == {"recall_at_k": pytest.approx(1 / 3), "found": ["S1"], "truths": 3}
    assert result["cross"] == {"recall_at_k": 1.0, "found": ["C1"], "truths": 1}
    assert evaluate(insights, [one], k=2)["cross"] == {"recall_at_k": 0.0, "found": [], "truths": 0}
