"""Conversation quality of a stored run: its messages read back from the database (through the run's turns) and
measured with :mod:`personas.quality` (reciprocity, flat-thread share, on-topic rate, near-duplicate rate, speaker
share; the definitions are in that module). No scheduling here.

The near-duplicate rate is computed with rarest-shingle-first prefixes (same result as
:func:`personas.quality.duplicate_rate`; ordered by hash, common template shingles fall in every prefix: 18.6 s
instead of 2.8 s for 7,840 messages), and sampled past ``EXACT_UP_TO`` messages (see there).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from math import ceil

from channels.services import messages_by_ids, workspace_channels
from personas.quality import (
    ChannelContext,
    MessageRecord,
    Quality,
    flat_thread_share,
    on_topic_rate,
    reciprocity,
    speaker_share,
)
from workspace import db as dbmod
from workspace.services import get_scheme
from workspace.text import DUPLICATE_THRESHOLD, NearDuplicateIndex, shingles

PAGE = 20_000


async def run_messages(run_id: int) -> tuple[list[MessageRecord], int]:
    """The messages a run posted, in creation order, with the message each reply answered; and the workspace."""
    database = dbmod.current()
    out: list[MessageRecord] = []
    last = 0
    ws = 0
    while True:
        turns = await database.fetch(
            "SELECT message, reply_to, department FROM personas_turn WHERE run = {} AND outcome = {} AND "
            "message > {} ORDER BY message LIMIT {}", run_id, "posted", last, PAGE)
        if not turns:
            return out, ws
        found = await messages_by_ids([int(t["message"]) for t in turns])
        for t in turns:
            r = found.get(int(t["message"]))
            if r is None:
                continue
            ws = int(r["workspace"])
            out.append(MessageRecord(
                id=int(r["id"]), channel=r["channel_name"], author=r["author_handle"], body=r["body"],
                thread_of=int(r["thread_of"]) if r["thread_of"] is not None else None,
                reply_to=int(t["reply_to"]) if t["reply_to"] is not None else None, department=t["department"],
                order=int(r["id"])))
        last = int(turns[-1]["message"])


async def channel_contexts(workspace_id: int) -> dict[str, ChannelContext]:
    """Each channel's topic and the texts of the documents its label dominates (what on-topic is measured by)."""
    database = dbmod.current()
    scheme = await get_scheme(workspace_id)
    docs = await database.fetch("SELECT title, body, label_level, label_mask FROM personas_document "
                                "WHERE workspace = {}", workspace_id)
    out: dict[str, ChannelContext] = {}
    for c in await workspace_channels(workspace_id, include_archived=True):
        label = scheme.from_ints(c["label_level"], c["label_mask"])
        texts = tuple(d["title"] + "\n" + d["body"] for d in docs
                      if label.dominates(scheme.from_ints(d["label_level"], d["label_mask"])))
        out[c["name"]] = ChannelContext(c["topic"], texts)
    return out


class _RareFirstIndex(NearDuplicateIndex):
    """Prefix filtering under the order (document frequency, hash): any fixed order keeps it exact, and with the
    rarest shingles first two texts share a prefix shingle only when they really share rare words."""

    def __init__(self, frequency: Counter[int], threshold: float = DUPLICATE_THRESHOLD) -> None:
        super().__init__(threshold)
        self._frequency = frequency

    def _prefix(self, s: frozenset[int]) -> list[int]:
        n = len(s) - ceil(self.threshold * len(s) - 1e-9) + 1
        return sorted(s, key=lambda h: (self._frequency[h], h))[: max(n, 1)]


EXACT_UP_TO = 20_000
"""Runs with more messages estimate the near-duplicate rate on every k-th message (creation order, k =
ceil(n / EXACT_UP_TO)), each still compared with ALL earlier messages: the same quantity, sampled. Offline chatter
reuses document facts, so candidates per message grow with the run and the exact pass is quadratic (50,000
messages: 36 s; 200,000: many minutes)."""


def duplicate_rate(messages: list[MessageRecord], threshold: float = DUPLICATE_THRESHOLD) -> float:
    """:func:`personas.quality.duplicate_rate` (same definition; the same result up to ``EXACT_UP_TO`` messages,
    sampled above), with rarest-shingle-first prefixes."""
    if not messages:
        return 0.0
    ordered = sorted(messages, key=lambda m: m.created)
    sets = [shingles(m.body) for m in ordered]
    frequency: Counter[int] = Counter(h for s in sets for h in s)
    index = _RareFirstIndex(frequency, threshold)
    step = -(-len(ordered) // EXACT_UP_TO)
    dups = checked = 0
    for i, (m, sh) in enumerate(zip(ordered, sets, strict=True)):
        if i % step == 0:
            checked += 1
            dups += index.find(sh) is not None
        index.add(m.id, sh)
    return dups / checked


async def run_quality(run_id: int) -> Quality:
    """The five metrics over the run's stored messages (speaker share over the run's agent count)."""
    messages, ws = await run_messages(run_id)
    agents = await dbmod.current().fetch("SELECT agents, workspace FROM personas_run WHERE id = {}", run_id)
    ws = ws or int(agents[0]["workspace"])
    contexts = await channel_contexts(ws)
    # computed in a thread: the event loop keeps beating for the process's other runs and the shard queue
    return await asyncio.to_thread(measure_run, messages, contexts, int(agents[0]["agents"]))


def measure_run(messages: list[MessageRecord], channels: Mapping[str, ChannelContext], agents: int) -> Quality:
    """:func:`personas.quality.measure` with the near-duplicate rate from :func:`duplicate_rate` above."""
    recip, replies = reciprocity(messages)
    flat, threads = flat_thread_share(messages)
    return Quality(reciprocity=recip, flat_thread_share=flat, on_topic_rate=on_topic_rate(messages, channels),
                   duplicate_rate=duplicate_rate(messages), speaker_share=speaker_share(messages, agents),
                   messages=len(messages), replies=replies, threads=threads,
                   speakers=len({m.author for m in messages}))
