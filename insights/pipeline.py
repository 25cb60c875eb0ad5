"""Incremental mining over in-memory message records: signals -> themes -> scored, ranked insights. The caller
keeps a cursor per channel and feeds new messages in batches; a message seen before is ignored, so re-running a
batch mines nothing twice. No database: the DB-backed job stores the :class:`Miner` output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from insights.neardup import LshDuplicateIndex
from insights.scoring import Insight, ScoringContext, score_theme
from insights.signals import Signals, strip_addressing, units
from insights.themes import MERGE_THRESHOLD, SEED_TERMS, TermStats, Theme, ThemeIndex, merged, vector
from personas.quality import MessageRecord
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
        self.speakers: dict[str, Counter[str]] = {}  # channel -> messages per author (in the window)
        self.duplicates = LshDuplicateIndex()
        self.skipped_duplicates = 0
        self.duplicate_ids: set[int] = set()
        self.replies: dict[int, list[int]] = {}
        self.tier_names: dict[int, str] = {}
        self.passes = 0
        self.seen = 0
        self.order_span = (0, 0)

    def mine(self, batch: Iterable[MessageRecord]) -> list[Insight]:
        """Add ``batch`` (any order; already-mined ids are skipped) and return every insight, best first."""
        self.add(batch)
        return self.insights()

    def add(self, batch: Iterable[MessageRecord],
            precomputed: Mapping[int, Sequence[tuple[str, Signals]]] | None = None) -> int:
        """Add ``batch`` to the themes without scoring; returns how many records were new. ``precomputed`` may
        hold a message's :func:`insights.signals.units` already extracted (the DB path stores them too)."""
        new = sorted((m for m in batch if m.id not in self.records), key=lambda m: m.created)
        if new:
            self.passes += 1
        work = []
        for m in new:
            self.records[m.id] = m
            # a near-copy of an earlier message adds nothing: it must not count, nor skew term frequencies
            if self.duplicates.check_and_add(m.id, strip_addressing(m.body)) is not None:
                self.skipped_duplicates += 1
                self.duplicate_ids.add(m.id)
            else:
                docs = _doc_terms(m)
                found = precomputed.get(m.id) if precomputed is not None else None
                for sent, sig in units(m.id, m.body) if found is None else found:
                    self.stats.add((*sig.terms, *docs))
                    work.append((sent, sig, docs))
                self.speakers.setdefault(m.channel, Counter())[m.author] += 1
            self.tier_names.setdefault(m.tier_level, m.tier or str(m.tier_level))
            if m.thread_of is not None:
                self.replies.setdefault(m.thread_of, []).append(m.id)
            if m.reply_to is not None and m.reply_to != m.thread_of:
                self.replies.setdefault(m.reply_to, []).append(m.id)
            lo, hi = self.order_span
            self.order_span = (min(lo, m.created) if self.seen else m.created, max(hi, m.created))
            self.seen += 1
        for sent, sig, docs in work:
            if sent.endswith(":") or (sig.cue <= 0 and not sig.entities):
                continue  # framing ("Per the log:") or a sentence with neither a cue nor a named thing
            vec = vector(sig, self.stats, docs)
            words = sum(1 for t in sig.terms if " " not in t and ":" not in t)
            may_seed = sig.cue >= self.config.seed_min_cue and words >= SEED_TERMS
            self.index.assign(sig, sent, vec, may_seed, self.passes)
        return len(new)

    def trim(self, keep: int) -> int:
        """Forget all but the latest ``keep`` messages (by creation order): their records, duplicate fingerprints,
        speaker counts, replies and their evidence in themes. Term statistics stay cumulative. Returns how many
        were forgotten. Keeps memory bounded in a long-running process without rebuilding from the store."""
        if len(self.records) <= keep:
            return 0
        old = sorted(self.records.values(), key=lambda m: m.created)[: len(self.records) - keep]
        for m in old:
            del self.records[m.id]
            self.duplicates.remove(m.id)
            self.replies.pop(m.id, None)
            if m.id in self.duplicate_ids:
                self.duplicate_ids.discard(m.id)
                continue
            counts = self.speakers.get(m.channel)
            if counts is not None and m.author in counts:
                counts[m.author] -= 1
                if counts[m.author] <= 0:
                    del counts[m.author]
        self.index.forget(m.id for m in old)
        if self.records:
            self.order_span = (min(m.created for m in self.records.values()), self.order_span[1])
        return len(old)

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
