"""The leak guard: every post is checked against all labelled text an agent could repeat (document passages and
canary markers, persona traits, goals and concerns, claims, recent channel messages); a copy (after normalising
case, spacing, look-alike letters and split words) or a paraphrase of text whose label the channel does not dominate
is refused with ``leak_blocked`` and audited as ``post.blocked``.

The matching lives in :mod:`.leakindex` (pure); here the index of each workspace is loaded and kept current: built
from the database on the first check, then brought up to date incrementally (new chunks, claims and messages by
id; roles and canaries when they change), at most every ``REFRESH_S`` seconds or at once after an ingest. A post
that passes is added to the index straight away, so this process protects it before the next refresh. A run's round
protects all its drafts (:func:`protect_round`) before any of them is posted, in every process that posts for it, so
that what is refused does not depend on which shard stores its posts first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from channels.services import message_id_back, messages_after
from personas.context.leakindex import CLAIM, DOCUMENT, PERSONA, Leak, LeakIndex
from personas.errors import LeakBlocked
from workspace import audit, metrics
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.labels import Label, LabelOutsideScheme, LabelScheme, Stored
from workspace.services import get_scheme

REFRESH_S = 2.0
BATCH = 5000
MESSAGE_BACKLOG = 20_000
SEEN_MAX = 200_000
"""Messages a fresh index starts from (the latest); newer ones join as they are posted."""
PERSONA_PARTS = {"traits": 0, "goals": 1000, "concerns": 2000}
ROUNDS_KEPT = 4
"""Rounds whose drafts a process keeps re-adding to a rebuilt index (the rounds in progress; older ones are stored)."""
Said = tuple[int, int, int, str]
"""What a round's turn is to say: (channel, label level, label mask, text)."""

@dataclass
class Index:
    """A workspace's :class:`LeakIndex` and how far it has read each source."""

    index: LeakIndex = field(default_factory=LeakIndex)
    database: Any = None  # a weak reference to the database it was read from
    chunks: tuple[int, int] = (0, 0)  # count and max id of the chunks read
    claims: int = 0
    messages: int = 0
    roles: str = ""
    canaries: frozenset[str] = frozenset()
    checked: float = 0.0
    mine: set[tuple[int, int]] = field(default_factory=set)  # (channel, hash of body) added since the last refresh
    settled: int = 0  # every message up to this id is in (or older than the backlog)
    seen: set[int] = field(default_factory=set)  # ids above ``settled`` read since
    rounds: set[tuple[int, int]] = field(default_factory=set)  # (run, round) whose drafts are in


@dataclass
class _Rounds:
    """A workspace's rounds in progress in this process, and the database they belong to (a weak reference)."""

    database: Any
    said: dict[tuple[int, int], list[Said]] = field(default_factory=dict)


_said: dict[int, _Rounds] = {}


def _rounds(workspace_id: int) -> dict[tuple[int, int], list[Said]]:
    database = dbmod.current()
    rounds = _said.get(workspace_id)
    if rounds is None or rounds.database() is not database:
        rounds = _said[workspace_id] = _Rounds(weakref.ref(database))
    return rounds.said


_indexes: dict[int, Index] = {}
_round: ContextVar[tuple[int, int] | None] = ContextVar("chorus_leakguard_round", default=None)
_locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
_protecting: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)


def invalidate(workspace_id: int | None = None) -> None:
    """Make the next check refresh the index of one workspace (after an ingest), or forget every index."""
    if workspace_id is None:
        _indexes.clear()
        _said.clear()
    elif (idx := _indexes.get(workspace_id)) is not None:
        idx.checked = 0.0


async def index_for(workspace_id: int) -> Index:
    """The workspace's index, brought up to date when it was last refreshed ``REFRESH_S`` ago or invalidated."""
    idx = _indexes.get(workspace_id)
    if idx is not None and time.monotonic() - idx.checked < REFRESH_S:
        return idx
    async with _locks[workspace_id]:
        idx = _indexes.get(workspace_id)
        if idx is not None and time.monotonic() - idx.checked < REFRESH_S:
            return idx
        idx = await _refresh(workspace_id, idx)
        idx.checked = time.monotonic()
        _indexes[workspace_id] = idx
        for key, said in _rounds(workspace_id).items():  # a rebuilt index: the rounds in progress again
            if key not in idx.rounds:
                _add_said(idx, key, said)
        return idx


async def protect_round(workspace_id: int, key: tuple[int, int], said: Sequence[Said]) -> None:
    """Protect what the turns of a round (``key``: run, round) are to say, each at its channel's label, before any
    of them is posted, for the posts of that round (checked under :func:`posting_round`): a post that repeats the
    post of a channel before its own in the plan (by id) that its own may not carry is then refused whichever shard
    stores its posts first, in whichever process, as if the shards had posted one after another. The index is
    brought up to date first, messages that committed after the cursor passed them included (every earlier round
    is stored by now). Once per round and process; re-added when the index is rebuilt."""
    async with _protecting[workspace_id]:  # a second shard of the round in this process waits until it is done
        rounds = _rounds(workspace_id)
        new = key not in rounds
        if new:
            rounds[key] = list(said)
            while len(rounds) > ROUNDS_KEPT:
                del rounds[next(iter(rounds))]
            invalidate(workspace_id)
        idx = await index_for(workspace_id)
        if new:
            await _settle(workspace_id, idx)
        if key not in idx.rounds:
            _add_said(idx, key, rounds[key])


def _add_said(idx: Index, key: tuple[int, int], said: Sequence[Said]) -> None:
    for channel, level, mask, text in said:
        idx.index.add_draft(key, channel, level, mask, text)
    idx.rounds.add(key)
    kept = _rounds_kept()
    for old in [k for k in idx.index.drafts if k not in kept]:
        idx.index.forget_drafts(old)


def _rounds_kept() -> set[object]:
    return {key for rounds in _said.values() for key in rounds.said}


async def _refresh(workspace_id: int, idx: Index | None) -> Index:
    database = dbmod.current()
    stamp = await database.fetch(
        "SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS top FROM personas_chunk WHERE workspace = {}", workspace_id)
    chunks = (int(stamp[0]["n"]), int(stamp[0]["top"]))
    roles = await database.fetch(
        "SELECT id, label_level, label_mask, traits, goals, concerns FROM personas_role WHERE workspace = {} "
        "ORDER BY id", workspace_id)
    roles_key = json.dumps(roles, sort_keys=True, default=str)
    # only ever more chunks and the same roles: read what is new; anything else (another database, a chunk
    # deleted, an edited role): start again
    grown = idx is not None and chunks[1] >= idx.chunks[1] and chunks[0] - idx.chunks[0] >= 0 and (
        chunks[1] > idx.chunks[1] or chunks[0] == idx.chunks[0])
    if idx is None or idx.database() is not database or roles_key != idx.roles or not grown:
        idx = Index(database=weakref.ref(database), roles=roles_key)
        _add_roles(idx.index, roles)
        idx.messages = idx.settled = await message_id_back(workspace_id, MESSAGE_BACKLOG)
    if chunks[1] > idx.chunks[1]:
        await _add_chunks(workspace_id, idx)
    idx.chunks = chunks
    canaries = await database.fetch(
        "SELECT marker, label_level, label_mask, document FROM personas_canary WHERE workspace = {}", workspace_id)
    markers = frozenset(str(r["marker"]) for r in canaries)
    if markers != idx.canaries:
        for r in canaries:
            idx.index.add_canary(str(r["marker"]), int(r["label_level"]), int(r["label_mask"]), int(r["document"]))
        idx.canaries = markers
    await _add_claims(workspace_id, idx)
    await _add_messages(workspace_id, idx)
    return idx


def _add_roles(index: LeakIndex, roles: list[dict[str, Any]]) -> None:
    """Persona text carries its role's label (an agent's own lines are its role's, rotated, plus a trait word)."""
    for r in roles:
        for key, offset in PERSONA_PARTS.items():
            items = json.loads(r[key]) if isinstance(r[key], str) else r[key]
            for i, item in enumerate(items or ()):
                index.add_text(PERSONA, int(r["id"]), int(r["label_level"]), int(r["label_mask"]), str(item),
                               part=offset + i + 1)


async def _add_chunks(workspace_id: int, idx: Index) -> None:
    last = idx.chunks[1]
    while True:
        rows = await dbmod.current().fetch(
            "SELECT id, document, text, label_level, label_mask FROM personas_chunk WHERE workspace = {} AND id > {} "
            "ORDER BY id LIMIT {}", workspace_id, last, BATCH)
        for r in rows:
            idx.index.add_text(DOCUMENT, int(r["document"]), int(r["label_level"]), int(r["label_mask"]),
                               str(r["text"]))
        if len(rows) < BATCH:
            return
        last = int(rows[-1]["id"])


async def _add_claims(workspace_id: int, idx: Index) -> None:
    while True:
        rows = await dbmod.current().fetch(
            "SELECT id, text, other_text, consequence, label_level, label_mask FROM personas_claim "
            "WHERE workspace = {} AND id > {} ORDER BY id LIMIT {}", workspace_id, idx.claims, BATCH)
        for r in rows:
            for key in ("text", "other_text", "consequence"):
                if r[key]:
                    idx.index.add_text(CLAIM, int(r["id"]), int(r["label_level"]), int(r["label_mask"]), str(r[key]))
        if rows:
            idx.claims = int(rows[-1]["id"])
        if len(rows) < BATCH:
            return


async def _add_messages(workspace_id: int, idx: Index) -> None:
    mine, idx.mine = idx.mine, set()
    while True:
        rows = await messages_after(workspace_id, idx.messages, BATCH)
        for r in rows:
            idx.seen.add(int(r["id"]))
            if not r["deleted"] and (int(r["channel"]), hash(r["body"])) not in mine:  # else in already
                idx.index.add_message(int(r["channel"]), int(r["label_level"]), int(r["label_mask"]),
                                      str(r["body"]))
        if rows:
            idx.messages = int(rows[-1]["id"])
        if len(idx.seen) > SEEN_MAX:  # nobody settles this index (no runs here): forget the oldest gaps
            idx.settled, idx.seen = idx.messages, set()
        if len(rows) < BATCH:
            return


async def _settle(workspace_id: int, idx: Index) -> None:
    """Read again the messages between ``settled`` and the cursor that were not read: a transaction that committed
    after the cursor passed its ids (posts of another process). Called when every earlier round of a run is
    stored, so what a round's posts are checked against does not depend on when this process last refreshed."""
    after, top = idx.settled, idx.messages
    while after < top:
        rows = await messages_after(workspace_id, after, BATCH)
        for r in rows:
            if int(r["id"]) > top:
                break
            if int(r["id"]) not in idx.seen and not r["deleted"]:
                idx.index.add_message(int(r["channel"]), int(r["label_level"]), int(r["label_mask"]),
                                      str(r["body"]))
        if len(rows) < BATCH:
            break
        after = int(rows[-1]["id"])
    idx.settled, idx.seen = top, {i for i in idx.seen if i > top}


@contextlib.contextmanager
def posting_round(key: tuple[int, int]) -> Iterator[None]:
    """Posts made inside are a run's round ``key`` (run, round): the round's drafts (:func:`protect_round`) are
    checked too."""
    token = _round.set(key)
    try:
        yield
    finally:
        _round.reset(token)


def find_leak(index: Index, scheme: LabelScheme, channel_label: Label, body: str,
              round: tuple[int, int] | None = None, channel: int = 0) -> Leak | None:
    """The leak in ``body`` for a channel labelled ``channel_label`` (a post of ``round`` in ``channel``: the
    round's drafts in channels before it protect too), or None. Pure (no I/O)."""
    leak = index.index.find(channel_label.level, channel_label.mask, body, round, channel)
    if leak is not None:
        scheme.from_ints(leak.level, leak.mask)  # raises LabelOutsideScheme for a label newer than the scheme
    return leak


_SAYS = {"document": "a document", "persona": "persona text", "claim": "a claim", "message": "a message"}


def _what(leak: Leak) -> str:
    kind = leak.sources[0][0]
    if leak.how == "canary":
        return "carries the canary marker of a document"
    if leak.how == "paraphrase":
        return f"restates a sentence of {_SAYS[kind]}"
    return f"repeats text from {_SAYS[kind]}"


async def check_post(*, actor: Actor, channel: Mapping[str, Any], body: str, **_: Any) -> None:
    """The ``post.check`` hook: refuse (and audit) a post that would carry text above the channel's label.

    The audit entry commits in its own transaction, so the record of the block survives the refused post;
    callers must therefore run the hook before opening the post's write transaction.
    """
    idx = await index_for(actor.workspace_id)
    level, mask = int(channel["label_level"]), int(channel["label_mask"])
    label = actor.scheme.from_ints(level, mask)
    scheme = actor.scheme
    rnd, at = _round.get(), int(channel.get("id", 0))
    try:
        leak = find_leak(idx, scheme, label, body, rnd, at)
    except LabelOutsideScheme:  # text labelled after the poster's copy of the scheme: the block is recorded
        scheme = await get_scheme(actor.workspace_id)
        leak = find_leak(idx, scheme, label, body, rnd, at)
    if leak is None:
        if "id" in channel:  # it will be said at this label: protected from now on, in this process at once
            idx.index.add_message(int(channel["id"]), level, mask, body)
            idx.mine.add((int(channel["id"]), hash(body)))
        return
    leaked = scheme.from_ints(leak.level, leak.mask)
    name = channel.get("name") or channel.get("id")
    async with dbmod.current().transaction():
        await audit.record(actor, "post.blocked", Entity("channel", channel.get("id", "?")), {
            "channel": name, "channel_label": str(label), "label": str(leaked),
            "documents": sorted({i for kind, i in leak.sources if kind == "document"}),
            "sources": [f"{kind} {i}" for kind, i in leak.sources], "how": leak.how, "amount": leak.amount,
            "canary": leak.how == "canary", "reason": "leak_guard"}, label=Stored.lub([label, leaked]))
    metrics.post_blocked(reason="leak_guard")
    raise LeakBlocked(
        f"this post {_what(leak)} labelled {leaked}, which channel {name!r} (labelled {label}) may not carry, so "
        f"it was not posted; say it without that text's wording or content, or post it in a channel whose label "
        f"dominates {leaked}")
