"""The leak guard: every post is checked against shingle fingerprints of the documents its channel may not carry
(and against canary markers); a match is refused with ``leak_blocked`` and audited as ``post.blocked``.

An in-memory index per workspace (fingerprint -> the labels and documents that contain it) makes a check cost
O(words in the post). It is rebuilt after an ingest in this process, and otherwise when a cheap stamp query
(chunk count and max id, at most every ``REFRESH_S`` seconds) shows another process ingested something.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from personas.errors import LeakBlocked
from personas.text import post_shingles, words
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.labels import Label, LabelScheme

REFRESH_S = 2.0
MIN_SHINGLES = 2  # two distinct 5-word windows from one document: copying, not coincidence
MIN_CONTAINMENT = 0.5  # or half of a short post's windows

Entry = tuple[int, int, int]  # label level, label mask, document id


@dataclass
class Index:
    entries: dict[int, tuple[Entry, ...]] = field(default_factory=dict)
    canaries: dict[str, Entry] = field(default_factory=dict)  # the marker's hex word -> its label and document
    stamp: tuple[int, int] = (0, 0)
    checked: float = 0.0


@dataclass(frozen=True, slots=True)
class Leak:
    label: Label
    documents: tuple[int, ...]
    shingles: int
    canary: bool


_indexes: dict[int, Index] = {}
_locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)


def invalidate(workspace_id: int | None = None) -> None:
    """Forget the index (of one workspace, or all): the next check rebuilds it."""
    if workspace_id is None:
        _indexes.clear()
    else:
        _indexes.pop(workspace_id, None)


async def _stamp(workspace_id: int) -> tuple[int, int]:
    rows = await dbmod.current().fetch(
        "SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS top FROM personas_chunk WHERE workspace = {}", workspace_id)
    return int(rows[0]["n"]), int(rows[0]["top"])


async def index_for(workspace_id: int) -> Index:
    """The workspace's fingerprint index, rebuilt when stale."""
    now = time.monotonic()
    idx = _indexes.get(workspace_id)
    if idx is not None and now - idx.checked < REFRESH_S:
        return idx
    async with _locks[workspace_id]:
        idx = _indexes.get(workspace_id)
        if idx is not None and now - idx.checked < REFRESH_S:
            return idx
        stamp = await _stamp(workspace_id)
        if idx is not None and idx.stamp == stamp:
            idx.checked = now
            return idx
        idx = await _build(workspace_id, stamp)
        idx.checked = now
        _indexes[workspace_id] = idx
        return idx


async def _build(workspace_id: int, stamp: tuple[int, int]) -> Index:
    database = dbmod.current()
    grouped: dict[int, set[Entry]] = defaultdict(set)
    last = 0
    while True:  # keyset batches: a large corpus is never one giant result set
        rows = await database.fetch(
            "SELECT id, hash, label_level, label_mask, document FROM personas_fingerprint "
            "WHERE workspace = {} AND id > {} ORDER BY id LIMIT 20000", workspace_id, last)
        if not rows:
            break
        for r in rows:
            grouped[int(r["hash"])].add((int(r["label_level"]), int(r["label_mask"]), int(r["document"])))
        last = int(rows[-1]["id"])
    canaries = await database.fetch(
        "SELECT marker, label_level, label_mask, document FROM personas_canary WHERE workspace = {}", workspace_id)
    return Index(
        entries={h: tuple(sorted(e)) for h, e in grouped.items()},
        canaries={words(r["marker"])[-1]: (int(r["label_level"]), int(r["label_mask"]), int(r["document"]))
                  for r in canaries},
        stamp=stamp)


def _dominates(level: int, mask: int, entry: Entry) -> bool:
    return level >= entry[0] and (entry[1] & ~mask) == 0


def find_leak(index: Index, scheme: LabelScheme, channel_label: Label, body: str) -> Leak | None:
    """The leak in ``body`` for a channel labelled ``channel_label``, or None. Pure (no I/O).

    A window counts only if no document the channel may carry contains it too (shared boilerplate is not a
    leak). A document leaks when at least ``MIN_SHINGLES`` of its windows appear, or when they make up at least
    ``MIN_CONTAINMENT`` of a short post; any canary marker from above the channel's label leaks at once.
    """
    level, mask = channel_label.level, channel_label.mask
    if index.canaries:  # the marker's random word alone gives it away, whatever surrounds it
        for word in words(body):
            entry = index.canaries.get(word)
            if entry is not None and not _dominates(level, mask, entry):
                return Leak(scheme.from_ints(entry[0], entry[1]), (entry[2],), 0, True)
    shingles = post_shingles(body)
    if not shingles or not index.entries:
        return None
    hits: dict[int, int] = defaultdict(int)
    labels: dict[int, tuple[int, int]] = {}
    for h in shingles:
        entries = index.entries.get(h)
        if entries is None or any(_dominates(level, mask, e) for e in entries):
            continue
        for lvl, msk, doc in entries:
            hits[doc] += 1
            labels[doc] = (lvl, msk)
    leaking = [d for d, n in hits.items() if n >= MIN_SHINGLES or n / len(shingles) >= MIN_CONTAINMENT]
    if not leaking:
        return None
    worst = max(leaking, key=lambda d: (hits[d], -d))
    lvl, msk = labels[worst]
    return Leak(scheme.from_ints(lvl, msk), tuple(sorted(leaking)), hits[worst], False)


def _channel_label(scheme: LabelScheme, channel: Mapping[str, Any]) -> Label:
    return scheme.from_ints(int(channel["label_level"]), int(channel["label_mask"]))


async def check_post(*, actor: Actor, channel: Mapping[str, Any], body: str, **_: Any) -> None:
    """The ``post.check`` hook: refuse (and audit) a post that would carry context above the channel's label.

    The audit entry commits in its own transaction, so the record of the block survives the refused post;
    callers must therefore run the hook before opening the post's write transaction.
    """
    index = await index_for(actor.workspace_id)
    if not index.entries and not index.canaries:
        return
    label = _channel_label(actor.scheme, channel)
    leak = find_leak(index, actor.scheme, label, body)
    if leak is None:
        return
    name = channel.get("name") or channel.get("id")
    async with dbmod.current().transaction():
        await audit.record(actor, "post.blocked", Entity("channel", channel.get("id", "?")), {
            "channel": name, "channel_label": str(label), "label": str(leak.label),
            "documents": list(leak.documents), "shingles": leak.shingles, "canary": leak.canary,
            "reason": "leak_guard"})
    raise LeakBlocked(
        f"this post repeats text from a document labelled {leak.label}, which channel {name!r} (labelled "
        f"{label}) may not carry, so it was not posted; say it without that document's wording, or post it in a "
        f"channel whose label dominates {leak.label}")
