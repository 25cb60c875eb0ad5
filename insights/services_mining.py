"""Incremental, DB-backed mining over claims: the claims agents posted since the last pass (each a document span,
or a link an agent made between two) are aggregated by span, grouped into issues (:mod:`insights.issues`: one
issue, one insight) and upserted as insights by a stable issue key. The miner never joins claims no agent joined.
Storing (labels, citations, retiring) is :mod:`insights.services_store`. One process mines a workspace at a time
(:mod:`insights.lease`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from channels.services import message_channel_names, message_ids_after, message_scan
from insights import lease
from insights.issues import Collector, Said
from insights.services_store import store_issues
from personas.context.facts import Fact, facts
from personas.runtime.claims import MINING_COLUMNS, Library, mining_claims, mining_claims_by_id, runtime_messages
from workspace.actor import Actor
from workspace.labels import Label, LabelScheme
from workspace.services import get_scheme
from workspace.telemetry import mining_span

PASS_LIMIT = 2_000_000
"""New claims (and messages) one pass reads at most; the rest wait for the next pass (bounded pass time). A pass
holds no rows (each page is taken in as it comes), and every pass rebuilds the issues from every fact held, so a
backlog is caught up in few large passes."""
_READ = 20_000
"""Claims or messages read per statement."""


@dataclass
class MinerState:
    """One workspace's mining state in this process: the documents' facts and every claim seen, by span."""

    library: Library
    collected: Collector = field(default_factory=Collector)
    """Every claim seen, by the span it cites (and links by the pair they join); people's messages too."""
    cursor: int = 0
    message_cursor: int = 0
    channel_labels: dict[str, Label] = field(default_factory=dict)
    doc_keys: dict[int, str] = field(default_factory=dict)
    """Document id -> its key in a span (``str(id)``), made once."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_states: dict[tuple[str, int], MinerState] = {}
"""(miner, workspace id) -> state; one miner per process (tests play two processes with two names)."""


def forget_state(workspace_id: int | None = None) -> None:
    """Drop the in-process miner(s) (tests that switch databases; a reset)."""
    for key in [k for k in _states if workspace_id is None or k[1] == workspace_id]:
        del _states[key]


@dataclass
class MineResult:
    """What one pass did."""

    workspace_id: int
    claims: int = 0
    """New claims read."""
    messages: int = 0
    """New messages read for what people and external agents said in their own words."""
    issues: int = 0
    insights: int = 0
    created: int = 0
    updated: int = 0
    retired: int = 0
    more: bool = False
    """More new claims wait than one pass reads."""
    seconds: float = 0.0
    skipped: str = ""
    """The process holding the workspace's mining lease when this pass was skipped ("" when it ran)."""

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("workspace_id", "claims", "messages", "issues", "insights", "created",
                                             "updated", "retired", "more", "seconds")}
        return {**out, "skipped": self.skipped} if self.skipped else out


async def mine_workspace(actor: Actor, *, limit: int = PASS_LIMIT, miner: str = lease.MINER,
                         keep_s: float = 0.0) -> MineResult:
    """One incremental pass over ``actor``'s workspace (the system actor or an admin): read claims after the
    cursor (at most ``limit``), rebuild the issues and upsert the insights. A claim is mined once.

    Only the holder of the workspace's mining lease mines: ``miner`` (this process) takes it for the pass, or the
    pass is skipped (``skipped`` names the holder). ``keep_s``: keep the lease that long after the pass (the
    background job, so that it stays the one miner); 0 releases it."""
    actor.require_role("admin")
    ws = actor.workspace_id
    async with lease.held(ws, miner, keep_s=keep_s) as holder:
        if holder is not None:
            return MineResult(ws, skipped=holder or "another process")
        scheme = await get_scheme(ws)
        state = _states.get((miner, ws))
        if state is None or state.library.scheme != scheme:
            state = _states[(miner, ws)] = MinerState(Library(scheme))
        async with state.lock:
            return await _pass(actor, state, scheme, limit)


async def _pass(actor: Actor, state: MinerState, scheme: LabelScheme, limit: int) -> MineResult:
    ws = actor.workspace_id
    started = time.perf_counter()
    result = MineResult(ws)
    with mining_span(workspace_id=ws) as run:
        await state.library.load(ws)
        # people's messages are read and their facts extracted (in worker processes) while the claims are read
        listening = asyncio.ensure_future(_listen(state, ws, scheme, limit))
        try:
            result.claims = await _read_claims(state, ws, limit)
            heard, said, cursor = await listening
        except BaseException:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
            raise
        state.collected.add(said)
        state.message_cursor = cursor
        result.more = result.claims >= limit
        result.messages = heard
        if not result.claims and not heard and state.collected.sources:
            run.counts(messages=0, insights=0)
            result.seconds = round(time.perf_counter() - started, 3)
            return result
        issues = await asyncio.to_thread(state.collected.issues, state.library.corpus)
        result.issues = len(issues)
        counts = await store_issues(actor, issues, state.library, state.channel_labels,
                                    new_claims=result.claims + heard)
        result.insights, result.created, result.updated, result.retired = counts
        run.counts(messages=result.claims, signals=result.claims, insights=result.insights, created=result.created,
                   updated=result.updated, retired=result.retired)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


async def _read_claims(state: MinerState, ws: int, limit: int) -> int:
    """Read the claims after the cursor (at most ``limit``) page by page into the collector, the next page read
    while this one is taken in; returns how many were read."""
    sources = state.collected.sources

    async def page_after(after: int, n: int) -> _Page:
        rows = await mining_claims(ws, after, n)
        # every column of the claims that go the general way: links, and spans not held yet (when this page is
        # taken in, a span the page before added is held: one read too many, never one too few)
        whole = await mining_claims_by_id([r[0] for r in rows if r[2] == "link"
                                           or (_doc_key(state, r[3]), r[4], r[5], r[6]) not in sources])
        return rows, whole, await message_channel_names([r[1] for r in rows if r[1]])

    count = 0
    nxt: asyncio.Future[_Page] | None = asyncio.ensure_future(page_after(state.cursor, min(_READ, limit)))
    try:
        while nxt is not None:
            rows, whole, names = await nxt
            nxt = None
            if not rows:
                break
            count += len(rows)
            if count < limit:
                nxt = asyncio.ensure_future(page_after(int(rows[-1][0]), min(_READ, limit - count)))
            _take(state, rows, whole, names)
            state.cursor = int(rows[-1][0])
    finally:
        if nxt is not None:
            nxt.cancel()
            await asyncio.gather(nxt, return_exceptions=True)
    return count


_Page = tuple[list[tuple[Any, ...]], dict[int, tuple[Any, ...]], dict[int, str]]


def _doc_key(state: MinerState, document: int) -> str:
    """A document's key in a span (``str(id)``), made once."""
    key = state.doc_keys.get(document)
    if key is None:
        key = state.doc_keys[document] = str(document)
    return key


def _take(state: MinerState, rows: list[tuple[Any, ...]], whole: dict[int, tuple[Any, ...]],
          names: dict[int, str]) -> None:
    """Claims (as :func:`mining_claims` gives them) into the collector, in order; ``whole``: every column of
    those that may go the general way (:data:`MINING_COLUMNS`); ``names``: the channel of each message that
    carried one (deleted messages have none). A claim restating a span already held is counted without building
    a :class:`Said` (most claims); the others go the general way (:func:`_said`)."""
    collected = state.collected
    restated = collected.restated
    for cid, message, kind, document, chunk, start, end, role, department in rows:
        channel = names.get(message, "") if message else ""
        if kind != "link" and restated((_doc_key(state, document), chunk, start, end), role, department, channel,
                                       message):
            continue
        row = whole.get(cid)  # absent: deleted since the page was read
        said = None if row is None else _said(state.library, dict(zip(MINING_COLUMNS, row, strict=True)), channel)
        if said is not None:
            collected.add((said,))


def _said(library: Library, r: dict[str, Any], channel: str) -> Said | None:
    """A claim row as the issue builder reads it; ``None`` for a span the documents no longer hold."""
    span = library.facts.get(f"{r['document']}:{r['chunk']}:{r['span_start']}:{r['span_end']}")
    if span is None:
        return None
    doc = int(r["document"])
    key = (str(doc), int(r["chunk"]), int(r["span_start"]), int(r["span_end"]))
    message = int(r["message"]) if r["message"] is not None else None
    label = (int(r["label_level"]), int(r["label_mask"]))
    if r["kind"] != "link":
        return Said(int(r["id"]), key, library.titles.get(doc, ""), _owner(library, doc), span.fact.text,
                    role=str(r["role"]), department=str(r["department"]), channel=channel, message=message,
                    label=label, fact=span.fact)
    other = library.facts.get(f"{r['other_document']}:{r['other_chunk']}:{r['other_start']}:{r['other_end']}")
    if other is None:
        return None
    odoc = int(r["other_document"])
    a_label, b_label = library.labels.get(doc), library.labels.get(odoc)
    return Said(int(r["id"]), key, library.titles.get(doc, ""), _owner(library, doc), span.fact.text,
                role=str(r["role"]), department=str(r["department"]), channel=channel, message=message,
                label=label, fact=span.fact,
                link=(str(odoc), int(r["other_chunk"]), int(r["other_start"]), int(r["other_end"])),
                link_text=other.fact.text, link_title=library.titles.get(odoc, ""),
                link_department=_owner(library, odoc), kind=str(r["stance"] or "risk"), relation=str(r["relation"]),
                consequence=str(r["consequence"]), entity=str(r["entity"]),
                cross_label=a_label is not None and b_label is not None and a_label != b_label, link_fact=other.fact)


def _owner(library: Library, doc: int) -> str:
    """Who holds a document, as a reader would say it: its label's compartments, else its tier."""
    label = library.labels.get(doc)
    if label is None:
        return ""
    return ", ".join(sorted(label.compartments)) or label.tier


_ADDRESS = re.compile(r"@[\w-]+|#[a-z0-9-]+")
CHATTER = "#"
"""Prefix of the pseudo-document key of a channel's messages (``#<channel id>``): facts people and external
agents state in their own words, grouped per channel."""


async def _listen(state: MinerState, ws: int, scheme: LabelScheme, limit: int) -> tuple[int, list[Said], int]:
    """Facts in the messages people and external agents posted since the last pass (the runtime's own posts
    carry their claims already): how many messages were new, what they said, in order, and the cursor after them
    (the caller keeps both together). Extraction is CPU work on every such message: batches go to worker
    processes while the next messages are read."""
    count, cursor = 0, state.message_cursor
    heard: list[Said] = []
    labels: dict[tuple[int, int], Label] = {}
    waiting: deque[tuple[list[tuple[Any, ...]], asyncio.Future[list[list[Fact]]]]] = deque()
    batch: list[tuple[Any, ...]] = []

    def hear(rows: list[tuple[Any, ...]], found: list[list[Fact]]) -> None:
        for (mid, channel, channel_name, handle, _body, level, mask, _deleted), fs in zip(rows, found, strict=True):
            doc = f"{CHATTER}{int(channel)}"
            label = labels.get((level, mask))
            if label is None:
                label = labels[(level, mask)] = scheme.from_ints(int(level), int(mask))
            state.channel_labels[doc] = label
            heard.extend(Said(
                -(mid * 64 + n), (doc, mid, f.start, f.end), f"#{channel_name}", "", f.text, role=str(handle),
                department="", channel=str(channel_name), message=mid, label=(int(level), int(mask)), fact=f)
                for n, f in enumerate(fs))

    async def settle(keep: int) -> None:
        while len(waiting) > keep:
            rows, found = waiting.popleft()
            hear(rows, await found)

    def send() -> None:
        bodies = [_ADDRESS.sub(lambda m: " " * len(m.group(0)), str(r[4] or "")) for r in batch]
        waiting.append((batch, asyncio.ensure_future(extract(bodies))))

    try:
        while count < limit:
            page = await message_ids_after(ws, cursor, min(_READ, limit - count))
            if not page:
                break
            cursor = int(page[-1][0])
            count += len(page)
            ours = await runtime_messages([int(mid) for mid, _ in page])
            batch += [r for r in await message_scan([mid for mid, deleted in page if mid not in ours and not deleted])
                      if not r[7]]
            if len(batch) >= _EXTRACT_BATCH:
                send()
                batch = []
                await settle(_EXTRACT_AHEAD)
        if batch:
            send()
        await settle(0)
    except BaseException:
        for _, found in waiting:
            found.cancel()
        await asyncio.gather(*(found for _, found in waiting), return_exceptions=True)
        raise
    return count, heard, cursor


_EXTRACT_BATCH = 2_000
"""Messages whose facts are extracted together (split over the worker processes)."""
_EXTRACT_AHEAD = 4
"""Batches extracted while the next messages are read (bounded memory)."""


POOL_FROM = 400
"""Messages in a batch from which extraction is spread over worker processes (below it, a pool costs more)."""
_pool: concurrent.futures.ProcessPoolExecutor | None = None


def _facts_of(bodies: list[str]) -> list[list[Fact]]:
    return [facts(b) for b in bodies]


async def extract(bodies: list[str]) -> list[list[Fact]]:
    """:func:`personas.context.facts.facts` of each body, in order: in this process for a small batch, else in
    slices over a pool of worker processes (one per core, started on first use with ``forkserver``: a forked copy
    of a process with database threads is not safe)."""
    global _pool
    workers = min(4, os.cpu_count() or 1)
    if len(bodies) < POOL_FROM or workers < 2:
        return await asyncio.to_thread(_facts_of, bodies)
    if _pool is None:
        _pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers,
                                                       mp_context=multiprocessing.get_context("forkserver"))
    loop = asyncio.get_running_loop()
    step = max(100, len(bodies) // (2 * workers))
    parts = await asyncio.gather(*(loop.run_in_executor(_pool, _facts_of, bodies[i:i + step])
                                   for i in range(0, len(bodies), step)))
    return [fs for part in parts for fs in part]


def shutdown_pool() -> None:
    """Stop the extraction workers (a process's shutdown)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)
        _pool = None
