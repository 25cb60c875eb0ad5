"""Incremental mining over in-memory message records: signals -> themes -> scored, ranked insights. The caller
keeps a cursor per channel and feeds new messages in batches; a message seen before is ignored, so re-running a
batch mines nothing twice. No database: the DB-backed job stores the :class:`Miner` output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from insights.scoring import Insight, ScoringContext, score_theme
from insights.signals import extract, sentences, strip_addressing
from insights.themes import MERGE_THRESHOLD, SEED_TERMS, TermStats, Theme, ThemeIndex, merged, vector
from personas.quality import MessageRecord, NearDuplicateIndex
from workspace.labels import Label, LabelScheme


@dataclass(frozen=True, slots=True)
class MinerConfig:
    """``seed_min_cue``: the cue weight a message needs to start a theme (others may only join one)."""

    seed_min_cue: float = 0.5
    min_messages: int = 2


class Miner:
    """Mining state across passes. :meth:`mine` takes a batch of new records and returns all insights, ranked."""

    def __init__(
        self,
        scheme: LabelScheme | None = None,
        doc_labels: Mapping[str, Label] | None = None,
        config: MinerConfig | None = None,
    ) -> None:
        self.scheme = scheme
        self.doc_labels = dict(doc_labels or {})
        self.config = config or MinerConfig()
        self.stats = TermStats()
        self.index = ThemeIndex()
        self.records: dict[int, MessageRecord] = {}
        self.speakers: dict[str, set[str]] = {}
        self.duplicates = NearDuplicateIndex()
        self.skipped_duplicates = 0
        self.replies: dict[int, list[int]] = {}
        self.tier_names: dict[int, str] = {}
        self.passes = 0
        self.seen = 0
        self.order_span = (0, 0)

    def mine(self, batch: Iterable[MessageRecord]) -> list[Insight]:
        """Add ``batch`` (any order; already-mined ids are skipped) and return every insight, best first."""
        self.add(batch)
        return self.insights()

    def add(self, batch: Iterable[MessageRecord]) -> int:
        """Add ``batch`` to the themes without scoring; returns how many records were new."""
        new = sorted((m for m in batch if m.id not in self.records), key=lambda m: m.created)
        if new:
            self.passes += 1
        units = []
        for m in new:
            self.records[m.id] = m
            # a near-copy of an earlier message adds nothing: it must not count, nor skew term frequencies
            if self.duplicates.check_and_add(m.id, strip_addressing(m.body)) is not None:
                self.skipped_duplicates += 1
            else:
                docs = _doc_terms(m)
                for sent in sentences(m.body):
                    sig = extract(m.id, sent)
                    self.stats.add((*sig.terms, *docs))
                    units.append((m, sent, sig, docs))
                self.speakers.setdefault(m.channel, set()).add(m.author)
            self.tier_names.setdefault(m.tier_level, m.tier or str(m.tier_level))
            if m.thread_of is not None:
                self.replies.setdefault(m.thread_of, []).append(m.id)
            if m.reply_to is not None and m.reply_to != m.thread_of:
                self.replies.setdefault(m.reply_to, []).append(m.id)
            lo, hi = self.order_span
            self.order_span = (min(lo, m.created) if self.seen else m.created, max(hi, m.created))
            self.seen += 1
        for _, sent, sig, docs in units:
            if sent.endswith(":") or (sig.cue <= 0 and not sig.entities):
                continue  # framing ("Per the log:") or a sentence with neither a cue nor a named thing
            vec = vector(sig, self.stats, docs)
            words = sum(1 for t in sig.terms if " " not in t and ":" not in t)
            may_seed = sig.cue >= self.config.seed_min_cue and words >= SEED_TERMS
            self.index.assign(sig, sent, vec, may_seed, self.passes)
        return len(new)

    def insights(self) -> list[Insight]:
        """All current insights ranked by score (ties: more messages, then older theme)."""
        return [ins for _, ins in self.scored()]

    def scored(self) -> list[tuple[Theme, Insight]]:
        """Each insight with the (merged) theme behind it, ranked like :meth:`insights`; the theme's evidence ids
        let a store follow one subject across passes."""
        ctx = ScoringContext(
            records=self.records, replies=self.replies, speakers=self.speakers, doc_labels=self.doc_labels,
            scheme=self.scheme, tier_names=self.tier_names, pass_no=self.passes, order_span=self.order_span,
        )
        out = []
        candidates = [t for t in self.index.themes if len(t.evidence) >= self.config.min_messages]
        for theme in merged(candidates, MERGE_THRESHOLD):
            if len(theme.evidence) < self.config.min_messages:
                continue
            ins = score_theme(theme, ctx)
            if ins is not None:
                out.append((theme, ins))
        out.sort(key=lambda p: (-p[1].score, -p[1].messages, p[1].theme))
        return out


def _doc_terms(m: MessageRecord) -> tuple[str, ...]:
    return tuple("d:" + d for d in m.doc_ids)


def mine_records(
    records: Iterable[MessageRecord],
    scheme: LabelScheme | None = None,
    doc_labels: Mapping[str, Label] | None = None,
    batch_size: int = 0,
) -> tuple[list[Insight], Miner]:
    """Mine ``records`` in one pass (or in batches of ``batch_size`` in creation order, as a scheduled job would)."""
    miner = Miner(scheme, doc_labels)
    ordered = sorted(records, key=lambda m: m.created)
    if batch_size <= 0:
        return miner.mine(ordered), miner
    result: list[Insight] = []
    for start in range(0, len(ordered), batch_size):
        result = miner.mine(ordered[start : start + batch_size])
    return result, miner
