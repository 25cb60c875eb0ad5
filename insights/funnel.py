"""The funnel of an evaluation, for truths that name their documents: was each of its documents read, was a claim
citing each posted, did an agent link two of them (cross-document truths), and where the truth ranked. Pure: the
run's readings and claims are read by :mod:`insights.services_eval` through the runtime's services.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from insights.evaluate import is_cross
from personas.scenario import Truth


@dataclass
class RunTrace:
    """What a run did with its documents, by title: read (a chunk of it, by any agent), cited by a claim (a fact,
    or either side of a link), and linked (the two documents of each link claim)."""

    read: set[str] = field(default_factory=set)
    said: set[str] = field(default_factory=set)
    linked: set[frozenset[str]] = field(default_factory=set)
    facts: int = 0
    links: int = 0

    def add_fact(self, title: str) -> None:
        self.facts += 1
        self.said.add(title)

    def add_link(self, a: str, b: str) -> None:
        self.links += 1
        self.said.update((a, b))
        if a != b:
            self.linked.add(frozenset((a, b)))


def ranks_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Truth id -> the rank of the insight that found it, from :func:`insights.evaluate.evaluate`'s rows."""
    return {str(r["truth"]): int(r["rank"]) for r in rows if r.get("truth")}


def _linked(docs: set[str], linked: set[frozenset[str]]) -> bool:
    return any(pair <= docs for pair in linked)


def funnel(truths: Sequence[Truth], trace: RunTrace, ranks: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """``{truth id: {"read", "said", "linked", "ranked"}}`` for every truth that names its documents: ``read`` and
    ``said`` hold when they hold for each of its documents; ``linked`` (``None`` for a one-document truth) when a
    link claim cited two of them; ``ranked`` is the rank of the insight that found it, or ``None``."""
    out: dict[str, dict[str, Any]] = {}
    for t in truths:
        docs = set(t.documents)
        if not docs:
            continue
        out[t.id] = {
            "read": docs <= trace.read,
            "said": docs <= trace.said,
            "linked": _linked(docs, trace.linked) if is_cross(t) else None,
            "ranked": ranks.get(t.id),
        }
    return out
