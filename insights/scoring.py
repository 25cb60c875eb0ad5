"""Scored insights from themes: kind, title, summary, severity, confidence, corroboration, novelty, trend,
"raised but not acknowledged", citations and label. Pure: works on the records and signals the pipeline keeps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from insights.neardup import LshDuplicateIndex
from insights.themes import Theme, cosine
from personas.quality import MessageRecord
from workspace.labels import Label, LabelScheme

Kind = Literal["risk", "opportunity"]
CITED = 5
REPEATED = 3  # deduplicated messages that make a theme "raised repeatedly"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"”])\s+")


@dataclass(frozen=True, slots=True)
class Insight:
    """A ranked claim with its evidence. ``score`` orders insights (risks and opportunities together)."""

    theme: int
    kind: Kind
    title: str
    summary: str
    score: float
    severity: float
    confidence: float
    agents: int
    departments: int
    tiers: int
    channels: tuple[str, ...]
    novelty: float
    trend: float
    unacknowledged: bool
    open_questions: int
    messages: int
    message_ids: tuple[int, ...]
    doc_ids: tuple[str, ...]
    label: Label | None
    terms: tuple[str, ...] = field(default=())

    def cited_text(self, records: Mapping[int, MessageRecord]) -> str:
        return "\n".join(records[i].body for i in self.message_ids if i in records)


@dataclass(slots=True)
class ScoringContext:
    """What scoring needs beyond the theme: the mined records, thread replies, speakers per channel, labels."""

    records: Mapping[int, MessageRecord]
    replies: Mapping[int, Sequence[int]]  # root (or answered message) id -> reply ids, in order
    speakers: Mapping[str, Collection[str]]  # channel -> authors seen there
    doc_labels: Mapping[str, Label]
    scheme: LabelScheme | None
    tier_names: Mapping[int, str]
    pass_no: int
    order_span: tuple[int, int]


def dedupe(ids: Sequence[int], texts: Mapping[int, str], records: Mapping[int, MessageRecord]) -> list[int]:
    """The ids whose text is not a near-duplicate (shingle Jaccard >= 0.8) of an earlier one among ``ids``."""
    index = LshDuplicateIndex()
    out: list[int] = []
    for i in sorted(ids, key=lambda i: records[i].created):
        if index.check_and_add(i, texts[i]) is None:
            out.append(i)
    return out


def score_theme(theme: Theme, ctx: ScoringContext) -> Insight | None:
    """The insight a theme supports, or ``None`` when it carries no risk or opportunity cue.

    Evidence is deduplicated first (near-duplicate sentences count once). ``severity`` = 0.2 + 0.55 x mean cue
    strength (capped at 3, scaled to 1) + 0.25 x share with figures (money, percentages). ``corroboration`` mixes
    how many agents raised it (saturating) and the largest share of one channel's speakers who did, with a bonus per
    extra department and tier. ``confidence`` grows with the number of cue-bearing messages and their share.
    score = severity x corroboration x confidence, x 1.3 when raised but not acknowledged.
    """
    texts = {i: e.text for i, e in theme.evidence.items()}
    ev = dedupe(list(theme.evidence), texts, ctx.records)
    if not ev:
        return None
    evs = [theme.evidence[i] for i in ev]
    risk = sum(e.risk for e in evs)
    opp = sum(e.opportunity for e in evs)
    kind: Kind = "risk" if risk >= opp else "opportunity"
    cue_ids = [e.message_id for e in evs if (e.risk if kind == "risk" else e.opportunity) > 0]
    if not cue_ids:
        return None
    recs = [ctx.records[i] for i in ev]
    agents = {r.author for r in recs}
    depts = {r.department for r in recs}
    tiers = {r.tier_level for r in recs}
    channels = tuple(sorted({r.channel for r in recs}))
    n = len(ev)

    strength = [min(3.0, theme.evidence[i].risk if kind == "risk" else theme.evidence[i].opportunity) / 3
                for i in cue_ids]
    intensity = sum(strength) / len(strength)
    quant = sum(1 for e in evs if e.quantities) / n
    severity = min(1.0, 0.2 + 0.55 * intensity + 0.25 * quant)
    raisers: dict[str, set[str]] = {}
    for r in recs:
        raisers.setdefault(r.channel, set()).add(r.author)
    # how much of one channel's conversation this is: raisers over speakers, in its busiest channel
    prevalence = max((len(a) / len(ctx.speakers.get(c) or a) for c, a in raisers.items() if len(a) >= 2), default=0.0)
    corroboration = (0.5 * (1 - math.exp(-len(agents) / 6)) + 0.5 * min(1.0, 2 * prevalence)) * (
        1 + 0.15 * (len(depts) - 1) + 0.15 * (len(tiers) - 1))
    confidence = (1 - math.exp(-len(cue_ids) / 3)) * (0.5 + 0.5 * len(cue_ids) / n)
    unack = _unacknowledged(cue_ids, ctx)
    open_q = sum(1 for e in evs if e.question and not ctx.replies.get(e.message_id))
    lo, hi = ctx.order_span
    mid = (lo + hi) / 2
    trend = (sum(1 for r in recs if r.created > mid) - sum(1 for r in recs if r.created <= mid)) / n
    novelty = 0.5 ** max(0, ctx.pass_no - theme.first_pass)
    score = severity * confidence * corroboration * (1.3 if unack else 1.0)

    unit = theme.unit()

    def centrality(i: int) -> float:
        e = theme.evidence[i]
        return cosine(e.vec, unit) + 0.15 * min(3.0, e.risk if kind == "risk" else e.opportunity)

    ranked = sorted(cue_ids, key=lambda i: (-centrality(i), ctx.records[i].created))
    cited: list[int] = []
    authors: set[str] = set()
    for i in ranked:
        if ctx.records[i].author not in authors:
            cited.append(i)
            authors.add(ctx.records[i].author)
        if len(cited) == CITED:
            break
    docs = _docs(cited, ev, ctx)
    labels = [r.label for r in recs if r.label is not None] + [ctx.doc_labels[d] for d in docs if d in ctx.doc_labels]
    label = ctx.scheme.lub(labels) if ctx.scheme is not None and labels else None
    terms = _surface_terms(theme)
    title = _title(theme.evidence[cited[0]].text, unit)
    tier_text = ", ".join(ctx.tier_names.get(t, str(t)) for t in sorted(tiers))
    summary = (
        f"{kind.capitalize()} raised in {len(cue_ids)} distinct messages by {len(agents)} agents from {len(depts)} "
        f"departments ({tier_text}) in {', '.join('#' + c for c in channels)}. Key terms: {', '.join(terms)}."
    )
    if unack:
        summary += " Raised repeatedly, mostly from lower tiers, with no response from higher tiers."
    if open_q:
        summary += f" {open_q} question(s) left unanswered."
    return Insight(
        theme=theme.id, kind=kind, title=title, summary=summary, score=round(score, 6),
        severity=round(severity, 4), confidence=round(confidence, 4), agents=len(agents), departments=len(depts),
        tiers=len(tiers), channels=channels, novelty=novelty, trend=round(trend, 4), unacknowledged=unack,
        open_questions=open_q, messages=n, message_ids=tuple(cited), doc_ids=docs, label=label, terms=tuple(terms),
    )


def _unacknowledged(cue_ids: Sequence[int], ctx: ScoringContext) -> bool:
    """Raised in >= 3 messages, >= 2/3 of them by authors below the top tier seen, and nobody above the raisers'
    most common tier replied in the threads of those messages.
    """
    if len(cue_ids) < REPEATED:
        return False
    top = max(ctx.tier_names) if ctx.tier_names else 0
    levels = [ctx.records[i].tier_level for i in cue_ids]
    if sum(1 for lv in levels if lv < top) * 3 < 2 * len(levels):
        return False
    raised = max(set(levels), key=lambda lv: (levels.count(lv), -lv))
    for i in cue_ids:
        rec = ctx.records[i]
        root = rec.thread_of if rec.thread_of is not None else rec.id
        for rid in ctx.replies.get(root, ()):
            reply = ctx.records.get(rid)
            if reply is not None and reply.tier_level > raised:
                return False
    return True


def _docs(cited: Sequence[int], ev: Sequence[int], ctx: ScoringContext) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for i in ev:
        for d in ctx.records[i].doc_ids:
            counts[d] = counts.get(d, 0) + 1 + 2 * (i in cited)
    return tuple(sorted(counts, key=lambda d: (-counts[d], d))[:3])


def _surface_terms(theme: Theme, n: int = 6) -> list[str]:
    out: list[str] = []
    for term, _ in theme.weights.most_common(40):
        if term.startswith("d:"):
            continue
        term = term.removeprefix("e:")
        if any(term in o or o in term for o in out):
            continue
        out.append(term)
        if len(out) == n:
            break
    return out


def _title(text: str, unit: Mapping[str, float]) -> str:
    """The sentence of ``text`` that carries most of the theme's weight, capitalised and cut to 120 characters."""
    best, best_score = text, -1.0
    for s in _SENTENCE.split(text):
        if s.endswith(":"):
            continue
        low = s.lower()
        words = set(re.findall(r"[a-z0-9]+(?:[.\-'][a-z0-9]+)*", low))
        sc = sum(w for t, w in unit.items() if t in words or (t.startswith("e:") and t[2:] in low))
        if sc > best_score:
            best, best_score = s.strip(), sc
    best = best[:1].upper() + best[1:]
    if len(best) > 120:
        best = best[:117].rsplit(" ", 1)[0] + "..."
    return best
