"""Incremental, DB-backed mining: new messages since each channel's cursor -> stored signals -> the workspace's
miner (themes over a bounded window of recent messages) -> insights upserted by a stable theme key.

Storing insights (matching, labels, citations) lives in :mod:`insights.services_store`; reading them elsewhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from insights.pipeline import Miner
from insights.services_store import WhereMap, store_insights
from insights.signals import Signals, sentiment, strip_addressing, units
from personas.quality import MessageRecord
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.labels import Label, LabelScheme
from workspace.services import get_scheme
from workspace.telemetry import mining_span

WINDOW = 20_000
"""Messages the miner keeps in memory per workspace (themes span them across channels and runs); older ones age
out after each pass (:meth:`Miner.trim`). A process that finds the store ahead of its miner (another process
mined) rebuilds from this window."""
PASS_LIMIT = 20_000
"""New messages one pass reads at most; the rest wait for the next pass (bounded memory and pass time)."""
FEED = 5_000
"""New messages handed to the miner at once within a pass."""
_READ = 2_000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class MinerState:
    """One workspace's miner in this process, and what it holds."""

    miner: Miner
    last_signal: int = 0
    """The highest ``insights_message_signal.id`` fed to the miner (the store's max id, when in sync)."""
    first_message: int = 0
    """The oldest message id in the window (insights older than it are history, not re-scored)."""
    where: WhereMap = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_states: dict[int, MinerState] = {}


def forget_state(workspace_id: int | None = None) -> None:
    """Drop the in-process miner(s) (tests that switch databases; a reset)."""
    if workspace_id is None:
        _states.clear()
    else:
        _states.pop(workspace_id, None)


@dataclass
class MineResult:
    """What one pass did."""

    workspace_id: int
    messages: int = 0
    """New messages read since the cursors (signals stored for each)."""
    rebuilt: bool = False
    insights: int = 0
    created: int = 0
    updated: int = 0
    retired: int = 0
    more: bool = False
    """More new messages wait than one pass reads."""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("workspace_id", "messages", "rebuilt", "insights", "created",
                                              "updated", "retired", "more", "seconds")}


def new_miner(scheme: LabelScheme, doc_labels: dict[str, Label]) -> Miner:
    return Miner(scheme, doc_labels)


async def mine_workspace(actor: Actor, *, limit: int = PASS_LIMIT, window: int = WINDOW) -> MineResult:
    """One incremental pass over ``actor``'s workspace (the system actor or an admin): read messages after each
    channel's cursor (at most ``limit``), store their signals and advance the cursors in the same transactions,
    add them to the workspace's miner and upsert the resulting insights. A message is mined once."""
    actor.require_role("admin")
    ws = actor.workspace_id
    state = _states.get(ws)
    if state is None:
        state = _states[ws] = MinerState(new_miner(await get_scheme(ws), {}))
    async with state.lock:
        return await _pass(actor, state, limit, window)


async def _pass(actor: Actor, state: MinerState, limit: int, window: int) -> MineResult:
    ws = actor.workspace_id
    started = time.perf_counter()
    result = MineResult(ws)
    with mining_span(workspace_id=ws) as run:
        scheme = await get_scheme(ws)
        doc_labels = await _doc_labels(ws, scheme)
        in_sync = state.last_signal == await _max_signal(ws) and state.miner.scheme == scheme
        records, where, sents, result.more = await _read_new(ws, scheme, limit)
        result.messages = len(records)
        if not records and in_sync:
            run.counts(messages=0, insights=0)
            result.seconds = round(time.perf_counter() - started, 3)
            return result
        if not in_sync:
            fresh = MinerState(new_miner(scheme, doc_labels), lock=state.lock)
            fresh.first_message = await _load_window(ws, scheme, window, fresh)
            state.miner, state.where, state.first_message = fresh.miner, fresh.where, fresh.first_message
            state.last_signal = fresh.last_signal
            result.rebuilt = True
        else:
            state.miner.doc_labels.clear()
            state.miner.doc_labels.update(doc_labels)
            state.where.update(where)
            for start in range(0, len(records), FEED):
                await asyncio.to_thread(state.miner.add, records[start : start + FEED], sents)
            del sents
            state.last_signal = await _max_signal(ws)
            if await asyncio.to_thread(state.miner.trim, window):
                kept = state.miner.records
                state.where = {m: w for m, w in state.where.items() if m in kept}
                state.first_message = min(kept, default=0)
        scored = await asyncio.to_thread(state.miner.scored)
        counts = await store_insights(actor, scored, state.where, state.miner.records, state.first_message,
                                      new_messages=len(records))
        result.insights, result.created, result.updated, result.retired = counts
        run.counts(messages=len(records), signals=len(records), insights=result.insights, created=result.created,
                   updated=result.updated, retired=result.retired)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


async def _max_signal(ws: int) -> int:
    rows = await dbmod.current().fetch(
        "SELECT MAX(id) AS m FROM insights_message_signal WHERE workspace = {}", ws)
    return int(rows[0]["m"] or 0) if rows else 0


async def _doc_labels(ws: int, scheme: LabelScheme) -> dict[str, Label]:
    rows = await dbmod.current().fetch(
        "SELECT id, label_level, label_mask FROM personas_document WHERE workspace = {}", ws)
    return {str(r["id"]): scheme.from_ints(int(r["label_level"]), int(r["label_mask"])) for r in rows}


_MESSAGES = (
    "SELECT m.id, m.channel, m.seq, m.author_handle, m.body, m.thread_of, m.label_level, m.label_mask, m.deleted, "
    "m.created_at, a.label_level AS tier_level, r.name AS role, p.department AS department "
    "FROM chorus_message m JOIN chorus_member a ON a.id = m.author "
    "LEFT JOIN personas_persona p ON p.member = m.author LEFT JOIN personas_role r ON r.id = p.role "
    "WHERE m.channel = {} AND m.seq > {} ORDER BY m.seq LIMIT {}")


Units = dict[int, list[tuple[str, Signals]]]


async def _read_new(ws: int, scheme: LabelScheme, limit: int) -> tuple[list[MessageRecord], WhereMap, Units, bool]:
    """Messages after each channel's cursor (channels with news only; oldest first per channel), their signals
    stored and the cursors advanced in one transaction per chunk. Returns the records (deleted ones left out) and
    their sentences' signals (extracted once, for the store and the miner)."""
    database = dbmod.current()
    pending = await database.fetch(
        "SELECT c.id, c.name, c.last_seq, COALESCE(k.last_seq, 0) AS mined FROM chorus_channel c "
        "LEFT JOIN insights_mining_cursor k ON k.channel = c.id "
        "WHERE c.workspace = {} AND c.last_seq > COALESCE(k.last_seq, 0) ORDER BY c.id", ws)
    records: list[MessageRecord] = []
    where: WhereMap = {}
    by_id: Units = {}
    budget, more = limit, False
    for ch in pending:
        after = int(ch["mined"])
        while budget > 0:
            rows = await database.fetch(_MESSAGES, int(ch["id"]), after, min(_READ, budget))
            if not rows:
                break
            docs = await _turn_docs([int(r["id"]) for r in rows])
            batch = [_record(r, ch["name"], scheme, docs) for r in rows]
            extracted = await asyncio.to_thread(_units, batch)
            await _store(ws, int(ch["id"]), rows, batch, docs, extracted)
            for r, rec, (u, _) in zip(rows, batch, extracted, strict=True):
                if not r["deleted"]:
                    records.append(rec)
                    by_id[rec.id] = u
                    where[rec.id] = (int(ch["id"]), str(ch["name"]), int(r["seq"]))
            after = int(rows[-1]["seq"])
            budget -= len(rows)
        if after < int(ch["last_seq"]):
            more = True
    records.sort(key=lambda m: m.id)
    return records, where, by_id, more


def _units(batch: Sequence[MessageRecord]) -> list[tuple[list[tuple[str, Signals]], float]]:
    """Each message's sentences with their signals, and its sentiment (over the whole text)."""
    return [(units(rec.id, rec.body), sentiment(strip_addressing(rec.body))) for rec in batch]


def _label(scheme: LabelScheme, level: int, mask: int) -> Label:
    """``scheme.from_ints``, memoised per scheme: a pass decodes the same few labels for every message."""
    cache = _LABELS.get(id(scheme))
    if cache is None or cache[0] is not scheme:
        cache = _LABELS[id(scheme)] = (scheme, {})
        if len(_LABELS) > 64:
            _LABELS.clear()
            _LABELS[id(scheme)] = cache
    label = cache[1].get((level, mask))
    if label is None:
        label = cache[1][(level, mask)] = scheme.from_ints(level, mask)
    return label


_LABELS: dict[int, tuple[LabelScheme, dict[tuple[int, int], Label]]] = {}


async def _turn_docs(message_ids: Sequence[int]) -> dict[int, tuple[tuple[str, ...], int | None]]:
    """The documents each message's agent turn drew on, and the message it answered (the runtime's record)."""
    if not message_ids:
        return {}
    marks = ", ".join("{}" for _ in message_ids)
    rows = await dbmod.current().fetch(
        f"SELECT message, reply_to, documents FROM personas_turn WHERE outcome = 'posted' AND message IN ({marks})",
        *message_ids)
    out: dict[int, tuple[tuple[str, ...], int | None]] = {}
    for r in rows:
        docs = tuple(str(d) for d in json.loads(r["documents"] or "[]"))
        out[int(r["message"])] = (docs, int(r["reply_to"]) if r["reply_to"] is not None else None)
    return out


def _record(row: dict[str, Any], channel: str, scheme: LabelScheme,
            docs: dict[int, tuple[tuple[str, ...], int | None]]) -> MessageRecord:
    mid = int(row["id"])
    doc_ids, reply_to = docs.get(mid, ((), None))
    level = min(int(row["tier_level"] or 0), len(scheme.tiers) - 1)
    return MessageRecord(
        id=mid, channel=channel, author=str(row["author_handle"]), body=str(row["body"] or ""),
        thread_of=int(row["thread_of"]) if row["thread_of"] is not None else None, reply_to=reply_to,
        role=str(row.get("role") or ""), department=str(row.get("department") or ""), tier=scheme.tiers[level],
        tier_level=level, order=mid, doc_ids=doc_ids,
        label=_label(scheme, int(row["label_level"]), int(row["label_mask"])))


async def _store(ws: int, channel_id: int, rows: Sequence[dict[str, Any]], batch: Sequence[MessageRecord],
                 docs: dict[int, tuple[tuple[str, ...], int | None]],
                 extracted: Sequence[tuple[Sequence[tuple[str, Signals]], float]]) -> None:
    """Signals of ``rows`` and the channel's cursor, in one transaction: the cursor never passes an unstored row.
    A message's cue weights are its sentences' sums; its sentiment is over the whole text."""
    database = dbmod.current()
    now = _now()
    values = []
    for r, rec, (sents, mood) in zip(rows, batch, extracted, strict=True):
        risk = sum(sig.risk for _, sig in sents)
        opp = sum(sig.opportunity for _, sig in sents)
        question = any(sig.question for _, sig in sents)
        values.append((ws, rec.id, channel_id, int(r["seq"]), rec.author, rec.role, rec.department, rec.tier_level,
                       int(r["label_level"]), int(r["label_mask"]), rec.thread_of, rec.reply_to,
                       json.dumps(list(rec.doc_ids)), risk, opp, mood, question, now))
    last = int(rows[-1]["seq"])
    async with database.transaction():
        await database.execute_many(
            "INSERT INTO insights_message_signal (workspace, message, channel, seq, author_handle, role, department, "
            "tier_level, label_level, label_mask, thread_of, reply_to, doc_ids, risk, opportunity, sentiment, "
            "question, created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            values)
        updated = await database.fetch(
            "UPDATE insights_mining_cursor SET last_seq = {}, updated_at = {} WHERE channel = {} RETURNING id",
            last, now, channel_id)
        if not updated:
            await database.fetch(
                "INSERT INTO insights_mining_cursor (workspace, channel, last_seq, updated_at) VALUES ({}, {}, {}, {})",
                ws, channel_id, last, now)


_WINDOW_ROWS = (
    "SELECT s.id AS sid, s.message, s.channel, s.seq, s.author_handle, s.role, s.department, s.tier_level, "
    "s.label_level, s.label_mask, s.thread_of, s.reply_to, s.doc_ids, m.body, m.deleted, c.name AS channel_name "
    "FROM insights_message_signal s JOIN chorus_message m ON m.id = s.message "
    "JOIN chorus_channel c ON c.id = s.channel "
    "WHERE s.workspace = {} AND s.id > {} ORDER BY s.id LIMIT {}")


async def _load_window(ws: int, scheme: LabelScheme, window: int, state: MinerState) -> int:
    """Feed ``state``'s miner the latest ``window`` stored messages (in pages); returns the oldest message id."""
    database = dbmod.current()
    start = await database.fetch(
        "SELECT id FROM insights_message_signal WHERE workspace = {} ORDER BY id DESC LIMIT 1 OFFSET {}",
        ws, max(window - 1, 0))
    after = int(start[0]["id"]) - 1 if start else 0
    first_message = 0
    records: list[MessageRecord] = []
    while True:
        rows = await database.fetch(_WINDOW_ROWS, ws, after, _READ * 5)
        if not rows:
            break
        for r in rows:
            state.last_signal = max(state.last_signal, int(r["sid"]))
            if r["deleted"]:
                continue
            mid = int(r["message"])
            first_message = mid if not first_message else min(first_message, mid)
            level = min(int(r["tier_level"]), len(scheme.tiers) - 1)
            records.append(MessageRecord(
                id=mid, channel=str(r["channel_name"]), author=str(r["author_handle"]), body=str(r["body"] or ""),
                thread_of=r["thread_of"], reply_to=r["reply_to"], role=str(r["role"]), department=str(r["department"]),
                tier=scheme.tiers[level], tier_level=level, order=mid,
                doc_ids=tuple(json.loads(r["doc_ids"] or "[]")),
                label=_label(scheme, int(r["label_level"]), int(r["label_mask"]))))
            state.where[mid] = (int(r["channel"]), str(r["channel_name"]), int(r["seq"]))
        after = int(rows[-1]["sid"])
        if len(records) >= FEED:
            await asyncio.to_thread(state.miner.add, records)
            records = []
    if records:
        await asyncio.to_thread(state.miner.add, records)
    return first_message
