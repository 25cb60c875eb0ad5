"""Themes: sentences with signals grouped across messages and channels by what they talk about (TF-IDF over
salient terms, incremental leader clustering with an inverted index). No scoring here (:mod:`insights.scoring`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from insights.signals import Signals

JOIN_THRESHOLD = 0.3  # cosine to a theme's centroid needed to join it
MERGE_THRESHOLD = 0.3  # cosine between two themes' centroids that joins them before scoring
SEED_TERMS = 4  # content words a sentence needs to start a theme (a bare "+1 on that" must not)
CENTROID_TERMS = 40  # a theme is compared on its heaviest terms only
MESSAGE_TERMS = 24
ENTITY_BOOST = 1.6
DOC_WEIGHT = 0.8
PAIR_WEIGHT = 0.5


class TermStats:
    """Document frequencies of terms over every unit mined so far (the IDF side of TF-IDF)."""

    def __init__(self) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0

    def add(self, terms: Iterable[str]) -> None:
        self.n += 1
        self.df.update(set(terms))

    def idf(self, term: str) -> float:
        return math.log((1 + self.n) / (1 + self.df[term])) + 1.0


def _boost(term: str) -> float:
    if term.startswith("e:"):
        return ENTITY_BOOST
    if term.startswith("d:"):
        return DOC_WEIGHT
    return PAIR_WEIGHT if " " in term else 1.0


def vector(sig: Signals, stats: TermStats, extra: Iterable[str] = ()) -> dict[str, float]:
    """Unit-length TF-IDF vector of a sentence's salient terms plus ``extra`` ones (``d:<doc id>`` for documents
    the message's turn drew on): entities boosted, word pairs and documents damped; cut to the heaviest terms.
    """
    weights = {t: stats.idf(t) * _boost(t) for t in (*sig.terms, *extra)}
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:MESSAGE_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: w / norm for t, w in top}


@dataclass(slots=True)
class Evidence:
    """What one message contributes to one theme: its sentence(s) there, their cues and vector."""

    message_id: int
    text: str
    risk: float
    opportunity: float
    quantities: int
    question: bool
    vec: dict[str, float]
    more: list[dict[str, float]] = field(default_factory=list)  # vectors of its further sentences here


@dataclass(slots=True)
class Theme:
    """A group of sentences about one thing. ``weights`` sums its members' vectors (the centroid, unnormalised);
    ``top`` holds its :data:`CENTROID_TERMS` heaviest terms, kept up to date as members come and go."""

    id: int
    weights: Counter[str] = field(default_factory=Counter)
    evidence: dict[int, Evidence] = field(default_factory=dict)
    first_pass: int = 0
    top: dict[str, float] = field(default_factory=dict)
    _norm: float | None = None
    _floor: float = 0.0  # a lower bound of the lightest weight in ``top`` (exact after a recount)

    @property
    def members(self) -> list[int]:
        return list(self.evidence)

    @property
    def norm(self) -> float:
        if self._norm is None:
            self._norm = math.sqrt(sum(w * w for w in self.top.values())) or 1.0
        return self._norm

    def unit(self) -> dict[str, float]:
        if not self.top and self.weights:
            self.recount()
        n = self.norm
        return {t: w / n for t, w in sorted(self.top.items(), key=lambda kv: (-kv[1], kv[0]))}

    def recount(self) -> None:
        """``top`` from scratch (after weights went down: a member left)."""
        self.top = dict(self.weights.most_common(CENTROID_TERMS))
        self._floor = min(self.top.values(), default=0.0)
        self._norm = None

    def _raise(self, vec: dict[str, float]) -> tuple[list[str], list[str]]:
        """Add ``vec`` to the weights and keep ``top`` the heaviest terms; weights only grow here, so only the
        raised terms can enter. Returns (terms that entered ``top``, terms that left it)."""
        self.weights.update(vec)
        entered: list[str] = []
        left: list[str] = []
        top, weights = self.top, self.weights
        for t in vec:
            w = weights[t]
            if t in top:
                top[t] = w
            elif len(top) < CENTROID_TERMS:
                top[t] = w
                entered.append(t)
                self._floor = min(self._floor, w) if len(top) > 1 else w
            elif w > self._floor:
                low = min(top, key=lambda k: (top[k], k))
                if w > top[low]:
                    del top[low]
                    top[t] = w
                    entered.append(t)
                    left.append(low)
                self._floor = min(top.values())
        self._norm = None
        return entered, left

    def add(self, sig: Signals, text: str, vec: dict[str, float]) -> tuple[list[str], list[str]]:
        """Add one sentence; returns the terms that entered and left ``top`` (the index follows them)."""
        ev = self.evidence.get(sig.message_id)
        if ev is None:
            self.evidence[sig.message_id] = Evidence(sig.message_id, text, sig.risk, sig.opportunity, sig.quantities,
                                                     sig.question, vec)
        else:  # a second sentence of the same message: one message, more said
            ev.text += " " + text
            ev.risk += sig.risk
            ev.opportunity += sig.opportunity
            ev.quantities += sig.quantities
            ev.question = ev.question or sig.question
            ev.more.append(vec)
        return self._raise(vec)

    def remove(self, message_id: int) -> bool:
        """Drop one message's evidence (it left the window); the caller re-indexes ``top``. True if it was here."""
        ev = self.evidence.pop(message_id, None)
        if ev is None:
            return False
        weights = self.weights
        for vec in (ev.vec, *ev.more):
            for t, w in vec.items():
                left = weights[t] - w
                if left <= 1e-9:
                    weights.pop(t, None)
                else:
                    weights[t] = left  # type: ignore[assignment]  # Counter of float weights (typeshed says int)
        return True


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def merged(themes: list[Theme], threshold: float) -> list[Theme]:
    """Themes whose centroids are at least ``threshold`` similar, joined (single link, by union-find) into one.

    Leader clustering splits a subject when its first sentences differ (one quoted figure, then another); this
    joins the pieces before scoring. The inputs are not changed.
    """
    parent = list(range(len(themes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    units = [t.unit() for t in themes]
    by_term: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        for term in u:
            by_term.setdefault(term, []).append(i)
    for i, u in enumerate(units):
        near = {j for term in u for j in by_term[term] if j > i}
        for j in sorted(near):
            if find(i) != find(j) and cosine(u, units[j]) >= threshold:
                parent[find(j)] = find(i)
    groups: dict[int, list[Theme]] = {}
    for i, t in enumerate(themes):
        groups.setdefault(find(i), []).append(t)
    out: list[Theme] = []
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
            continue
        joined = Theme(members[0].id, first_pass=min(m.first_pass for m in members))
        for m in members:
            joined.weights.update(m.weights)
            for mid, e in m.evidence.items():
                have = joined.evidence.get(mid)
                if have is None:
                    joined.evidence[mid] = Evidence(mid, e.text, e.risk, e.opportunity, e.quantities, e.question,
                                                    dict(e.vec))
                elif e.text not in have.text:
                    have.text += " " + e.text
                    have.risk += e.risk
                    have.opportunity += e.opportunity
                    have.quantities += e.quantities
                    have.question = have.question or e.question
        out.append(joined)
    return out


class ThemeIndex:
    """Assigns each sentence to the most similar theme (cosine >= ``threshold``) or, if it may seed, starts a new
    one. Similarities are accumulated term by term over an inverted index of the themes' centroid terms, so cost
    grows with the (term, theme) pairs a sentence shares, not with all themes or all of their terms.
    """

    def __init__(self, threshold: float = JOIN_THRESHOLD) -> None:
        self.threshold = threshold
        self.themes: list[Theme] = []
        self.by_term: dict[str, set[int]] = {}
        self.of_message: dict[int, list[int]] = {}

    def assign(self, sig: Signals, text: str, vec: dict[str, float], may_seed: bool, pass_no: int) -> Theme | None:
        themes = self.themes
        dots: dict[int, float] = {}
        for t, w in vec.items():
            for tid in self.by_term.get(t, ()):
                dots[tid] = dots.get(tid, 0.0) + w * themes[tid].top[t]
        best, best_sim = None, self.threshold
        for tid in sorted(dots):
            sim = dots[tid] / themes[tid].norm
            if sim >= best_sim:
                best, best_sim = themes[tid], sim
        if best is None:
            if not may_seed:
                return None
            best = Theme(len(themes), first_pass=pass_no)
            themes.append(best)
        if sig.message_id not in best.evidence:
            self.of_message.setdefault(sig.message_id, []).append(best.id)
        entered, left = best.add(sig, text, vec)
        for t in entered:
            self.by_term.setdefault(t, set()).add(best.id)
        for t in left:
            self._unpost(t, best.id)
        return best

    def _unpost(self, term: str, tid: int) -> None:
        post = self.by_term.get(term)
        if post is not None:
            post.discard(tid)
            if not post:
                del self.by_term[term]

    def forget(self, message_ids: Iterable[int]) -> int:
        """Take messages that left the window out of their themes (centroids and the index follow). Returns how
        many themes changed."""
        touched: set[int] = set()
        for mid in message_ids:
            for tid in self.of_message.pop(mid, ()):
                if self.themes[tid].remove(mid):
                    touched.add(tid)
        for tid in touched:
            theme = self.themes[tid]
            before = set(theme.top)
            theme.recount()
            for t in before - set(theme.top):
                self._unpost(t, tid)
            for t in set(theme.top) - before:
                self.by_term.setdefault(t, set()).add(tid)
        return len(touched)
