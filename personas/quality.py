"""Conversation-quality metrics of a run, computed from message records alone (no database): reciprocity,
flat-thread share, on-topic rate, near-duplicate rate and speaker share. Words and near-duplicates come from the
text toolkit (:mod:`workspace.text`); scheduling and generation live elsewhere (:mod:`personas.runtime`,
:mod:`personas.llm`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from workspace.labels import Label
from workspace.text import DUPLICATE_THRESHOLD, NearDuplicateIndex, content_words

_MENTION = re.compile(r"@([a-z0-9][a-z0-9_-]*)")


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One stored message as the metrics and the miner see it.

    ``thread_of`` is the root's id for a thread reply (``None`` for a root post). ``reply_to`` is the message a
    reply answers when the store knows it; otherwise :func:`parents` infers it. ``order`` is the creation order
    across the run (the id when ids are monotonic). ``doc_ids`` are the documents the turn that wrote it drew on;
    ``label`` is the channel's label (the message's own label for mining).
    """

    id: int
    channel: str
    author: str
    body: str
    thread_of: int | None = None
    reply_to: int | None = None
    role: str = ""
    department: str = ""
    tier: str = ""
    tier_level: int = 0
    order: int = -1
    round: int = 0
    doc_ids: tuple[str, ...] = ()
    label: Label | None = None

    @property
    def created(self) -> int:
        return self.order if self.order >= 0 else self.id


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What a channel is about: its topic and the texts of the documents its label dominates."""

    topic: str
    documents: tuple[str, ...] = ()


@dataclass(slots=True)
class ChannelVocabulary:
    topic: set[str] = field(default_factory=set)
    documents: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Quality:
    """The five metrics (each in [0, 1]) and the counts behind them."""

    reciprocity: float
    flat_thread_share: float
    on_topic_rate: float
    duplicate_rate: float
    speaker_share: float
    messages: int = 0
    replies: int = 0
    threads: int = 0
    speakers: int = 0

    def as_dict(self) -> dict[str, float]:
        return {
            "reciprocity": round(self.reciprocity, 4),
            "flat_thread_share": round(self.flat_thread_share, 4),
            "on_topic_rate": round(self.on_topic_rate, 4),
            "duplicate_rate": round(self.duplicate_rate, 4),
            "speaker_share": round(self.speaker_share, 4),
        }


def _sorted(messages: Iterable[MessageRecord]) -> list[MessageRecord]:
    return sorted(messages, key=lambda m: m.created)


def parents(messages: Iterable[MessageRecord]) -> dict[int, int]:
    """The message each reply answers: ``reply_to`` when set (and in the same thread); else the latest earlier
    message in the thread by someone the reply @-mentions; else the thread's root. Roots have no entry.
    """
    by_id: dict[int, MessageRecord] = {}
    latest_by_author: dict[tuple[int, str], int] = {}  # (thread root, author) -> latest message id so far
    out: dict[int, int] = {}
    for m in _sorted(messages):
        by_id[m.id] = m
        root = m.id if m.thread_of is None else m.thread_of
        if m.thread_of is not None:
            parent = m.reply_to if m.reply_to is not None and m.reply_to in by_id else None
            if parent is None:
                for handle in _MENTION.findall(m.body.lower()):
                    cand = latest_by_author.get((root, handle))
                    if cand is not None and by_id[cand].author != m.author:
                        parent = cand
                        break
            out[m.id] = parent if parent is not None else root
        latest_by_author[(root, m.author.lower())] = m.id
    return out


def reciprocity(messages: Sequence[MessageRecord]) -> tuple[float, int]:
    """Share of replies that get answered back, and the number of replies counted.

    A reply is a thread message by B whose parent (see :func:`parents`) was written by A != B. It is reciprocated
    when a later message in the same thread by A has a parent written by B. Replies to one's own message are not
    counted. No replies gives 0.0.
    """
    by_id = {m.id: m for m in messages}
    parent = parents(messages)
    answered_back: set[tuple[int, str, str]] = set()  # (root, from, to) pairs seen so far, scanning backwards
    counted = reciprocated = 0
    for m in reversed(_sorted(messages)):
        if m.id not in parent:
            continue
        a = by_id[parent[m.id]].author
        root = m.thread_of if m.thread_of is not None else m.id
        if a != m.author:
            counted += 1
            if (root, a, m.author) in answered_back:
                reciprocated += 1
            answered_back.add((root, m.author, a))
    return (reciprocated / counted if counted else 0.0), counted


def flat_thread_share(messages: Sequence[MessageRecord]) -> tuple[float, int]:
    """Share of threads that stay flat, and the number of threads.

    A thread is a root post with at least one reply. Following Moltbook's notion of a flat thread (comments that
    all hang directly off the post, nobody answering anybody), a thread is flat when its reply tree has depth
    <= 1: no reply answers another reply (parents per :func:`parents`), so nobody is answered back. Root posts
    with no reply are not threads (they count against reciprocity and speaker share instead). No threads gives 1.0.
    """
    parent = parents(messages)
    depth: dict[int, int] = {}
    max_depth: dict[int, int] = {}
    for m in _sorted(messages):
        if m.id not in parent:
            depth[m.id] = 0
            continue
        d = depth.get(parent[m.id], 0) + 1
        depth[m.id] = d
        root = m.thread_of if m.thread_of is not None else m.id
        max_depth[root] = max(max_depth.get(root, 0), d)
    if not max_depth:
        return 1.0, 0
    flat = sum(1 for d in max_depth.values() if d <= 1)
    return flat / len(max_depth), len(max_depth)


def channel_vocabulary(ctx: ChannelContext) -> ChannelVocabulary:
    vocab = ChannelVocabulary(topic=content_words(ctx.topic))
    for text in ctx.documents:
        vocab.documents |= content_words(text)
    return vocab


def is_on_topic(body: str, vocab: ChannelVocabulary) -> bool:
    """On topic: the message shares at least one content word with the channel's topic, or at least two distinct
    content words with the documents the channel may carry (its label dominates them). Content words are stems of
    non-stop words of 3+ characters or with a digit (:func:`content_words`); @-mentions are ignored.
    """
    cw = content_words(_MENTION.sub(" ", body.lower()))
    return bool(cw & vocab.topic) or len(cw & vocab.documents) >= 2


def on_topic_rate(messages: Sequence[MessageRecord], channels: Mapping[str, ChannelContext]) -> float:
    """Share of messages that are on topic for their channel (:func:`is_on_topic`); a channel missing from
    ``channels`` makes its messages off topic. No messages gives 0.0.
    """
    if not messages:
        return 0.0
    vocabs = {name: channel_vocabulary(ctx) for name, ctx in channels.items()}
    empty = ChannelVocabulary()
    hits = sum(1 for m in messages if is_on_topic(m.body, vocabs.get(m.channel, empty)))
    return hits / len(messages)


def duplicate_rate(messages: Sequence[MessageRecord], threshold: float = DUPLICATE_THRESHOLD) -> float:
    """Share of messages whose word-3-shingle Jaccard similarity to some EARLIER message (in creation order, any
    channel, any author) is >= ``threshold`` (0.8). Words are lower-cased alphanumeric tokens; exact, not MinHash.
    No messages gives 0.0.
    """
    if not messages:
        return 0.0
    index = NearDuplicateIndex(threshold)
    dups = sum(1 for m in _sorted(messages) if index.check_and_add(m.id, m.body) is not None)
    return dups / len(messages)


def speaker_share(messages: Sequence[MessageRecord], agents: int) -> float:
    """Share of the run's ``agents`` that wrote at least one message (0.0 when there are no agents)."""
    return len({m.author for m in messages}) / agents if agents else 0.0


def measure(messages: Sequence[MessageRecord], channels: Mapping[str, ChannelContext], agents: int) -> Quality:
    """All five metrics for one run's messages."""
    recip, replies = reciprocity(messages)
    flat, threads = flat_thread_share(messages)
    return Quality(
        reciprocity=recip,
        flat_thread_share=flat,
        on_topic_rate=on_topic_rate(messages, channels),
        duplicate_rate=duplicate_rate(messages),
        speaker_share=speaker_share(messages, agents),
        messages=len(messages),
        replies=replies,
        threads=threads,
        speakers=len({m.author for m in messages}),
    )
