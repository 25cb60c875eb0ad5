"""Evaluation of mined insights against a scenario's planted truths, exactly as spec/scenario.md defines it: an
insight finds a truth when its kind equals the truth's and its title and summary (what a reader reads; cited text
does not count) hold at least ``min_match`` of the truth's terms; one truth per insight; recall@k and precision@k,
and recall split by the truth's shape (one document, or two or more put together).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from personas.scenario import Truth
from workspace.labels import Label


@dataclass(frozen=True, slots=True)
class Ranked:
    """One insight as evaluation sees it: its text (title, summary, cited messages' bodies), score and label."""

    kind: str
    title: str
    summary: str
    score: float
    cited_text: str = ""
    label: Label | None = None


def matched_terms(truth: Truth, text: str) -> list[str]:
    """The truth's match terms that occur in ``text`` (case-insensitive substring)."""
    low = text.lower()
    return [t for t in truth.match if t.lower() in low]


def finds(insight: Ranked, truth: Truth) -> bool:
    """True when the kinds agree and title + summary hold at least ``min_match`` of the truth's terms."""
    if insight.kind != truth.kind:
        return False
    text = "\n".join((insight.title, insight.summary))
    return len(matched_terms(truth, text)) >= truth.min_match


def evaluate(
    insights: Sequence[Ranked], truths: Sequence[Truth], k: int = 10, reader: Label | None = None
) -> dict[str, Any]:
    """Score ranked insights against truths.

    Only insights whose label ``reader`` dominates are considered (the spec uses the highest label; ``None``
    means every insight). They are ranked by score, highest first (ties keep the given order), risks and
    opportunities together. Walking down the ranking, each insight finds the first truth (in file order) that it
    matches and no earlier insight found; so a truth is found at most once, by the highest-ranked insight that
    finds it, and that insight finds no other truth. recall@k = truths found in the top k / truths;
    precision@k = top-k insights that find a truth / k; ``single`` and ``cross`` split recall@k by the truth's
    shape (:func:`by_shape`).
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    visible = [i for i in insights if reader is None or i.label is None or reader.dominates(i.label)]
    ranked = sorted(enumerate(visible), key=lambda p: (-p[1].score, p[0]))
    found: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for rank, (_, ins) in enumerate(ranked, start=1):
        hit = next((t.id for t in truths if t.id not in found and finds(ins, t)), None)
        if hit is not None:
            found[hit] = rank
        rows.append({"rank": rank, "kind": ins.kind, "title": ins.title, "summary": ins.summary, "score": ins.score,
                     "truth": hit})
    top_found = [tid for tid, rank in found.items() if rank <= k]
    return {
        "recall_at_k": len(top_found) / len(truths) if truths else 0.0,
        "precision_at_k": len(top_found) / k,
        "k": k,
        "truths": len(truths),
        "found": [t.id for t in truths if t.id in top_found],
        "insights": rows,
        **by_shape(truths, top_found),
    }


def is_cross(truth: Truth) -> bool:
    """A truth whose evidence is spread over two or more documents (it names them); else a single-document one."""
    return len(set(truth.documents)) >= 2


def by_shape(truths: Sequence[Truth], found: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Recall split by the truth's shape: ``single`` (naming at most one document) and ``cross`` (two or more),
    each ``{"recall_at_k", "found", "truths"}``; a shape with no truths has recall 0."""
    hit = set(found)
    out: dict[str, dict[str, Any]] = {}
    for shape, cross in (("single", False), ("cross", True)):
        these = [t for t in truths if is_cross(t) == cross]
        got = [t.id for t in these if t.id in hit]
        out[shape] = {"recall_at_k": len(got) / len(these) if these else 0.0, "found": got, "truths": len(these)}
    return out


def ranked_from(insights: Sequence[Any], bodies: Mapping[int, str]) -> list[Ranked]:
    """Adapt :class:`insights.scoring.Insight` objects (``message_ids`` into ``bodies``) for :func:`evaluate`."""
    return [
        Ranked(i.kind, i.title, i.summary, i.score, "\n".join(bodies[m] for m in i.message_ids if m in bodies), i.label)
        for i in insights
    ]
