"""A round's shards: the turns of one channel in one round, as the planner hands them over (:class:`ShardPlan`,
everything a turn needs: who speaks, the provider request, the facts it may cite, where it posts, its key), and
carrying them out in two passes over the round: :func:`draft` (the provider calls; nothing is posted) for every
shard, then :func:`execute` (the leak guard first protects every draft of the round, then posts through
``channels``' ``post_batch``, every check of ``post_message`` applying, with claims, readings, ``context.read`` and
the turns' rows, committed per chunk). So a post that repeats the post of a channel before its own in the plan (by
id) that its own may not carry is refused whichever shard stores its posts first: a round's outcome depends on its
plan, not on timing.

Idempotent: every turn has a key (run, round, shard, member and its ordinal there); a chunk's posts and rows commit
together and turns whose rows exist are skipped, so a shard retried after a crash posts nothing twice, and a
retry does exactly the turns the payload names. Nothing here changes the planner's memory: what it learns from a
round it reads back from what the shards stored. Planning is turns.py; the queue that hands shards to workers is
queue.py.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from channels.services import Post, deferred_events, post_batch, react
from personas.bulk import insert_rows
from personas.context import leakguard
from personas.context.passages import plain
from personas.llm.base import ClaimOut, ContextMessage, Provider, TurnRequest, TurnResult
from personas.runtime.plan import mark_read
from personas.tables import Claim, Turn
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.db_sql import in_batches
from workspace.errors import ChorusError
from workspace.labels import Label, LabelScheme, agent_scope, dominates_ints
from workspace.services import get_scheme
from workspace.telemetry import turn_span

CHUNK = 200
"""Turns per provider batch and per transaction: a chunk's posts, claims and rows commit together."""
STOP_CHECK_S = 1.0
REACTION = "thumbsup"
_SPACE = re.compile(r"\s+")
TURN_COLS = ("run", "round", "agent", "department", "channel", "kind", "intent", "outcome", "reason", "message",
             "reply_to", "documents", "tokens_in", "tokens_out", "cost", "latency_ms", "key", "shard", "facts",
             "asked", "gist")
_TURN_PG = ("bigint", "int", "bigint", "text", "bigint", "text", "text", "text", "text", "bigint", "bigint", "text",
            "int", "int", "float8", "float4", "text", "bigint", "text", "text", "text")
CLAIM_COLS = ("workspace", "run", "round", "message", "channel", "author", "role", "department", "kind", "document",
              "chunk", "span_start", "span_end", "text", "other_document", "other_chunk", "other_start", "other_end",
              "other_text", "relation", "stance", "consequence", "entity", "label_level", "label_mask", "created_at",
              "key")
_CLAIM_PG = ("int", "bigint", "int", "bigint", "bigint", "bigint", "text", "text", "text", "bigint", "bigint", "int",
             "int", "text", "bigint", "bigint", "int", "int", "text", "text", "text", "text", "text", "int", "bigint",
             "timestamptz", "text")


class ShardFact(msgspec.Struct, array_like=True, frozen=True):
    """A fact at its place, as the executor needs it: to cite it in a claim and check the channel may carry it."""

    key: str
    document: int
    chunk: int
    start: int
    end: int
    text: str
    level: int
    mask: int


class ShardLink(msgspec.Struct, array_like=True, frozen=True):
    """A link turn's claim: the first fact's key (the other is the second offered fact) and what they mean."""

    a: str
    relation: str
    kind: str
    consequence: str
    entity: str
    level: int
    mask: int


class ShardTurn(msgspec.Struct, frozen=True):
    key: str
    member: int
    handle: str
    level: int
    mask: int
    department: str
    role: str
    kind: str  # notified | triage | unprompted | reading | linking
    action: str  # post | react
    task: str
    answering: int | None  # the message answered (the turn row's reply_to)
    root: int | None  # the thread it posts into
    request: TurnRequest | None  # ``recent`` left out: the shard's (one channel)
    offered: tuple[str, ...] = ()
    chunks: tuple[int, ...] = ()
    documents: tuple[int, ...] = ()
    reading: int | None = None
    link: ShardLink | None = None


class Draft(msgspec.Struct, array_like=True, frozen=True):
    """A turn's provider answer between the two passes (or why there is none: ``outcome`` error)."""

    result: TurnResult | None
    outcome: str = ""
    reason: str = ""
    latency_ms: float = 0.0


class ShardPlan(msgspec.Struct, frozen=True):
    """One channel's turns of a round, in plan order (their order in the channel's ``seq``); ``drafts`` by turn key
    once :func:`draft` has run."""

    run: int
    workspace: int
    round: int
    channel: int
    channel_name: str
    level: int
    mask: int
    recent: tuple[ContextMessage, ...]
    facts: dict[str, ShardFact]
    turns: tuple[ShardTurn, ...]
    queued: bool = False  # carried by the queue: marks its personas_shard row done with its last chunk
    drafts: dict[str, Draft] = msgspec.field(default_factory=dict)


def encode(plan: ShardPlan) -> str:
    """The payload as stored (compressed MessagePack, base64 so that it is text on both engines)."""
    return base64.b64encode(zlib.compress(msgspec.msgpack.encode(plan), 1)).decode("ascii")


def decode(payload: str) -> ShardPlan:
    return msgspec.msgpack.decode(zlib.decompress(base64.b64decode(payload)), type=ShardPlan)


@dataclass
class Executor:
    """What a process needs to carry shards out: the provider, its concurrency limit and a stop check."""

    provider: Provider
    semaphore: asyncio.Semaphore
    stop_requested: Callable[[int], Awaitable[bool]] | None = None


@dataclass
class _Done:
    """A turn as carried out."""

    turn: ShardTurn
    result: TurnResult | None = None
    outcome: str = ""
    reason: str = ""
    message: int | None = None
    latency_ms: float = 0.0
    stated: tuple[ShardFact, ...] = ()


async def draft(plan: ShardPlan, ex: Executor) -> ShardPlan:
    """The first pass: the provider calls of the turns not recorded (nor drafted) yet; posts nothing. Returns the
    plan with its drafts (a stop between chunks leaves the rest undrafted: those turns are not carried out)."""
    seen = await existing_keys([t.key for t in plan.turns])
    todo = [_Done(t) for t in plan.turns if t.request is not None and t.key not in seen and t.key not in plan.drafts]
    checked = time.monotonic()
    drafts = dict(plan.drafts)
    for start in range(0, len(todo), CHUNK):
        if ex.stop_requested is not None and time.monotonic() - checked >= STOP_CHECK_S:
            checked = time.monotonic()
            if await ex.stop_requested(plan.run):
                break
        part = todo[start:start + CHUNK]
        await _call_all(plan, part, ex)
        drafts.update((d.turn.key, Draft(d.result, d.outcome, d.reason, d.latency_ms)) for d in part)
    return msgspec.structs.replace(plan, drafts=drafts)


async def protect(plans: Sequence[ShardPlan]) -> None:
    """Protect every draft of the round (all its shards, ``plans``) in this process's leak guard, each at its
    channel's label, before any of them is posted; in channel order, then plan order (the same in every process)."""
    if not plans:
        return
    said = [(p.channel, p.level, p.mask, d.result.text) for p in sorted(plans, key=lambda p: p.channel)
            for t in p.turns if (d := p.drafts.get(t.key)) is not None and d.result is not None]
    await leakguard.protect_round(plans[0].workspace, (plans[0].run, plans[0].round), said)


async def execute(plan: ShardPlan, ex: Executor, round_plans: Sequence[ShardPlan]) -> int:
    """The second pass: post the shard's drafted turns not done yet, a chunk at a time, once the drafts of the whole
    round (``round_plans``, every shard's :func:`draft`) are protected; returns how many were carried out now."""
    await protect(round_plans)
    scheme = await get_scheme(plan.workspace)
    channel_label = scheme.from_ints(plan.level, plan.mask)
    done = 0
    checked = time.monotonic()
    chunks = [plan.turns[i:i + CHUNK] for i in range(0, len(plan.turns), CHUNK)] or [()]
    for n, chunk in enumerate(chunks):
        if ex.stop_requested is not None and time.monotonic() - checked >= STOP_CHECK_S:
            checked = time.monotonic()
            if await ex.stop_requested(plan.run):
                await _mark_done(plan)
                return done
        done += await _chunk(plan, scheme, channel_label, chunk, last=n == len(chunks) - 1)
    return done


async def _mark_done(plan: ShardPlan) -> None:
    if plan.queued:
        database = dbmod.current()
        async with database.transaction():
            await _done_row(plan)


async def _done_row(plan: ShardPlan) -> None:
    if plan.queued:
        await dbmod.current().fetch(
            "UPDATE personas_shard SET status = {}, finished_at = CURRENT_TIMESTAMP WHERE run = {} AND round = {} "
            "AND shard = {}", "done", plan.run, plan.round, plan.channel)


async def existing_keys(keys: Sequence[str]) -> set[str]:
    """Which of these turn keys are recorded already (a retried shard skips them)."""
    out: set[str] = set()
    for part, marks in in_batches(keys):
        for r in await dbmod.current().fetch(f"SELECT key FROM personas_turn WHERE key IN ({marks})", *part):
            out.add(str(r["key"]))
    return out


async def _chunk(plan: ShardPlan, scheme: LabelScheme, channel_label: Label, turns: Sequence[ShardTurn],
                 last: bool) -> int:
    seen = await existing_keys([t.key for t in turns])
    todo: list[_Done] = []
    for t in turns:
        if t.key in seen:
            continue
        d = _Done(t)
        if t.request is not None:
            drafted = plan.drafts.get(t.key)
            if drafted is None:
                continue  # not drafted (the run stopped in the first pass): not carried out, as after a stop
            d.result, d.outcome, d.reason, d.latency_ms = (drafted.result, drafted.outcome, drafted.reason,
                                                           drafted.latency_ms)
        todo.append(d)
    actors = {d.turn.member: Actor(workspace_id=plan.workspace, kind="agent", handle=d.turn.handle,
                                   label=scheme.from_ints(d.turn.level, d.turn.mask), scheme=scheme,
                                   member_id=d.turn.member) for d in todo}
    database = dbmod.current()
    async with deferred_events(), database.transaction():
        reads: list[audit.Entry] = []
        claims: list[tuple[Any, ...]] = []
        readings: list[int] = []
        posts: list[tuple[_Done, Post]] = []
        for d in todo:
            t = d.turn
            actor = actors[t.member]
            if t.action == "react":
                assert t.answering is not None
                try:
                    await react(actor, t.answering, "emoji", REACTION)
                    d.outcome, d.message = "reacted", t.answering
                except ChorusError as exc:
                    d.outcome, d.reason = "blocked", f"{exc.code}: {exc.message}"[:200]
                continue
            if d.outcome or d.result is None:
                continue
            d.stated = _stated(plan, channel_label, actor.label, d)
            posts.append((d, Post(actor, d.result.text, t.key, thread_of=t.root)))
        with leakguard.posting_round((plan.run, plan.round)):  # the round's drafts protect its posts
            await post_batch(plan.channel, [p for _, p in posts])
        for d, p in posts:
            t = d.turn
            if t.chunks:
                reads.append((actors[t.member], "context.read", Entity("channel", plan.channel), {
                    "task": t.task, "channel": plan.channel_name,
                    "scope": str(agent_scope(actors[t.member].label, channel_label)), "documents": list(t.documents),
                    "chunks": sorted(set(t.chunks)), "run": plan.run}, channel_label))
            if p.error is not None or p.message is None:
                d.outcome, d.reason = "blocked", f"{p.error.code}: {p.error.message}"[:200] if p.error else ""
                d.stated = ()
                continue
            d.outcome, d.message = "posted", int(p.message["id"])
            if not p.created:
                continue  # a retry's original: its claims and readings were stored with it
            claims += _claim_rows(plan, d)
            if t.reading is not None:
                readings.append(t.reading)
        await audit.record_many(reads)
        if claims:
            await insert_rows(Claim._meta.tablename, CLAIM_COLS, _CLAIM_PG, claims,
                              on_conflict="ON CONFLICT (key) DO NOTHING")
        if readings:
            await mark_read(readings, plan.round)
        await record(plan.run, plan.round, plan.channel, [_row(plan, d) for d in todo])
        if last:
            await _done_row(plan)
    for d in todo:
        with turn_span(agent=d.turn.handle, department=d.turn.department, channel_id=plan.channel,
                       run_id=plan.run) as span:
            span.documents(list(d.turn.documents))
            span.outcome = d.outcome or "error"
    return len(todo)


async def record(run: int, rnd: int, shard: int, rows: Sequence[tuple[Any, ...]]) -> None:
    """Turn rows (inside the caller's transaction); a row whose key is there already is left as it is."""
    for start in range(0, len(rows), 2_000):
        await insert_rows(Turn._meta.tablename, TURN_COLS, _TURN_PG, rows[start:start + 2_000],
                          on_conflict="ON CONFLICT (key) DO NOTHING")


async def _call_all(plan: ShardPlan, todo: Sequence[_Done], ex: Executor) -> None:
    """The provider calls of a chunk: a provider that computes (the offline writer) runs in a thread, so the event
    loop keeps beating for the run and the queue; one that waits on an endpoint runs concurrently, under the
    process's concurrency limit."""
    def request(d: _Done) -> TurnRequest:
        assert d.turn.request is not None
        return replace(d.turn.request, recent=plan.recent)

    compose = getattr(ex.provider, "compose", None)
    if callable(compose) and getattr(ex.provider, "name", "") == "offline":
        def run_all() -> None:
            for d in todo:
                started = time.perf_counter()
                try:
                    d.result = compose(request(d))
                except Exception as exc:  # a provider bug must not kill the shard; the turn records it
                    d.outcome, d.reason = "error", f"{type(exc).__name__}: {exc}"[:200]
                d.latency_ms = (time.perf_counter() - started) * 1000

        async with ex.semaphore:
            await asyncio.to_thread(run_all)
        return

    async def call(d: _Done) -> None:
        async with ex.semaphore:
            started = time.perf_counter()
            try:
                d.result = await ex.provider.complete(request(d))
            except ChorusError as exc:
                d.outcome, d.reason = "error", exc.message[:200]
            except Exception as exc:
                d.outcome, d.reason = "error", f"{type(exc).__name__}: {exc}"[:200]
            d.latency_ms = (time.perf_counter() - started) * 1000

    await asyncio.gather(*(call(d) for d in todo))


def resolve_quote(quote: str, candidates: Sequence[Any]) -> Any | None:
    """The fact among ``candidates`` (anything with ``.text``) that a claim's quote cites: whitespace and Markdown
    marks do not matter; a quote shorter than 12 characters cites nothing."""
    q = _SPACE.sub(" ", plain(quote)).strip().lower()
    if len(q) < 12:
        return None
    for fs in candidates:
        text = fs.text.lower()
        if q in text or text in q:
            return fs
    return None


def _resolve(plan: ShardPlan, claim: ClaimOut, chunks: Sequence[int]) -> ShardFact | None:
    if claim.key:
        return plan.facts.get(claim.key)
    cands = [f for f in plan.facts.values() if f.chunk in chunks]
    found = resolve_quote(claim.quote, cands)
    return found if isinstance(found, ShardFact) else None


def _stated(plan: ShardPlan, channel: Label, agent: Label, d: _Done) -> tuple[ShardFact, ...]:
    """The spans the post's claims cite: facts it was offered (by key) or quotes of the passages it read. A claim
    citing nothing real is dropped (and so is a fact the channel may not carry: the label rule, again)."""
    assert d.result is not None
    t = d.turn
    scope = agent_scope(agent, channel)
    out: list[ShardFact] = []
    for c in d.result.claims:
        span = _resolve(plan, c, t.chunks)
        if span is None or (span.key not in t.offered and span.chunk not in t.chunks):
            continue
        if not dominates_ints(scope.level, scope.mask, span.level, span.mask) or span in out:
            continue
        out.append(span)
    return tuple(out)


def _claim_rows(plan: ShardPlan, d: _Done) -> list[tuple[Any, ...]]:
    t, stated = d.turn, d.stated
    assert d.message is not None and d.result is not None
    ws, run, rnd, now = plan.workspace, plan.run, plan.round, _now()
    base = (ws, run, rnd, d.message, plan.channel, t.member, t.role, t.department)
    if t.task == "link" and t.link is not None:
        if len(stated) != 2:
            return []
        a, b = (stated[0], stated[1]) if stated[0].key == t.link.a else (stated[1], stated[0])
        lk = t.link
        return [(*base, "link", a.document, a.chunk, a.start, a.end, a.text, b.document, b.chunk, b.start, b.end,
                 b.text, lk.relation[:40], lk.kind, (d.result.consequence or lk.consequence)[:2000], lk.entity[:200],
                 lk.level, lk.mask, now, f"{t.key}:0")]
    if t.task == "ask":
        return []  # a question states nothing; the planner reads what it asked from the turn's row
    return [(*base, "fact", s.document, s.chunk, s.start, s.end, s.text, None, None, None, None, "", "", "", "", "",
             s.level, s.mask, now, f"{t.key}:{i}") for i, s in enumerate(stated)]


def _row(plan: ShardPlan, d: _Done) -> tuple[Any, ...]:
    t, r = d.turn, d.result
    posted = d.outcome == "posted"
    docs = list(t.documents) if t.action == "post" and r is not None else []
    asked = t.offered[0] if t.task == "ask" and posted and t.offered else ""
    return (plan.run, plan.round, t.member, t.department, plan.channel, t.kind, t.task[:16], d.outcome or "error",
            d.reason, d.message, t.answering if t.action == "post" else None, json.dumps(docs),
            r.tokens_in if r else 0, r.tokens_out if r else 0, r.cost if r else 0.0, round(d.latency_ms, 3), t.key,
            plan.channel, json.dumps([s.key for s in d.stated]) if posted else "[]", asked,
            gist(t.task, t.offered, plan.facts, r, t.answering) if posted and r is not None else "")


def gist(task: str, offered: Sequence[str], facts: dict[str, ShardFact], result: TurnResult | None,
         answering: int | None) -> str:
    """What a post says, without its framing: the facts it states (a question or an answer also what it answers).
    The near-duplicate guard judges this, so the persona's voice never decides which facts get said."""
    texts = {k: facts[k].text for k in offered if k in facts}
    stated = [texts[c.key] for c in (result.claims if result else ()) if c.key in texts]
    if not stated:  # a question, or a provider that quoted instead: the text is all there is
        stated = [result.text] if result is not None and not texts else list(texts.values())
    replying = task in ("ask", "unknown", "answer", "ack")  # the same fact, answering another question, is new
    return f"{task}: " + " ".join(stated) + (f" @{answering}" if replying and answering is not None else "")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
