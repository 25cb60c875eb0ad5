"""One round of a DB-backed run: the planned turns become prompts (persona + recent channel messages + documents
retrieved under the channel's label), go to the provider under the concurrency limit and the budgets, and are
posted through ``channels``' ``post_message`` as each agent (rate limits, leak guard and audit apply), in chunks
of a few hundred turns per transaction; every turn is recorded. Who acts is decided in runtime_scheduler.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.services import deferred_events, post_message, react
from personas.providers.base import (
    ChannelInfo as PromptChannel,
)
from personas.providers.base import (
    ContextMessage,
    Intent,
    Participant,
    PersonaInfo,
    Provider,
    Snippet,
    TurnRequest,
    TurnResult,
    prompt_tokens,
)
from personas.quality import content_words
from personas.runtime_budgets import Ledger, Limit, Reservation
from personas.runtime_scheduler import ChannelInfo, Msg, Planned, Planner, Population, RunState
from personas.services_retrieval import Chunk, search
from personas.simcore import ESCALATE_SHARE
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import ChorusError
from workspace.labels import Label, LabelScheme
from workspace.telemetry import turn_span


@functools.lru_cache(maxsize=65_536)
def _words(text: str) -> frozenset[str]:
    """Content words, memoised: goals, concerns and answered messages recur across many turns."""
    return frozenset(content_words(text))


@functools.lru_cache(maxsize=65_536)
def _strings(text: str) -> tuple[str, ...]:
    """A persona's JSON list of goals, concerns or traits, decoded once (agents of one role share them)."""
    return tuple(json.loads(text))


CHUNK = 200  # acting turns per provider batch and per posting transaction
STOP_CHECK_S = 1.0  # how often a round looks for a stop request between chunks
SNIPPETS = 3
REACTION = "thumbsup"
_SKEPTICAL = {"skeptical", "sceptical", "cautious", "careful", "analytical", "precise", "exact"}
_TURN_COLS = ("run, round, agent, department, channel, kind, intent, outcome, reason, message, reply_to, documents, "
              "tokens_in, tokens_out, cost, latency_ms")


@dataclass
class RoundStats:
    turns: int = 0
    messages: int = 0
    reactions: int = 0
    ignored: int = 0
    blocked: int = 0
    over_budget: int = 0
    errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    provider_s: float = 0.0
    run_budget_hit: bool = False
    stopped: bool = False

    def add(self, other: RoundStats) -> None:
        for name in ("turns", "messages", "reactions", "ignored", "blocked", "over_budget", "errors", "tokens_in",
                     "tokens_out", "cost", "provider_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class RunContext:
    """Everything a run keeps between rounds (one per run, in the process executing it)."""

    run_id: int
    workspace_id: int
    scheme: LabelScheme
    seed: int
    provider: Provider
    semaphore: asyncio.Semaphore
    pop: Population
    state: RunState
    planner: Planner
    ledger: Ledger
    system: Actor
    max_out_tokens: int = 160
    estimate_cost: Callable[[int, int], float] = lambda tin, tout: 0.0
    should_stop: Callable[[], Awaitable[bool]] | None = None
    retrieval: dict[tuple[int, int, int, str], list[Chunk]] = field(default_factory=dict)
    tiers: tuple[str, ...] = ()


@dataclass
class Turn:
    """One planned turn on its way through the round."""

    plan: Planned
    member_id: int
    department: str
    actor: Actor | None = None
    channel: int | None = None
    intent: str = ""
    request: TurnRequest | None = None
    chunks: list[Chunk] = field(default_factory=list)
    reservation: Reservation | None = None
    result: TurnResult | None = None
    latency_ms: float = 0.0
    outcome: str = ""
    reason: str = ""
    message: int | None = None
    index: int = 0  # position in the round: part of the post's client_msg_id, unique per agent and round


async def run_round(ctx: RunContext, rnd: int) -> RoundStats:
    """Observe what was posted since the last round, plan, and carry out every turn of round ``rnd``."""
    stats = RoundStats()
    await ctx.state.observe(ctx.workspace_id, rnd)
    killed = await dbmod.current().fetch(
        "SELECT id FROM chorus_member WHERE workspace = {} AND kind = {} AND active = {}", ctx.workspace_id, "agent",
        False)
    skip = {ctx.pop.index[int(r["id"])] for r in killed if int(r["id"]) in ctx.pop.index}
    plan = ctx.planner.plan(rnd, skip)
    acting = sorted({ctx.pop.ids[p.pos] for p in plan if p.action != "ignore"})
    personas = await _personas(acting)
    turns: list[Turn] = []
    for p in plan:
        member_id = ctx.pop.ids[p.pos]
        if p.action == "ignore":
            dept = ctx.pop.roles[ctx.pop.role[p.pos]].department
            turns.append(Turn(p, member_id, dept, channel=p.channel, outcome="ignored"))
            continue
        row = personas.get(member_id)
        if row is None or not row["active"]:
            continue  # killed (or removed) since the population was read: it does nothing at all
        turns.append(_resolve(ctx, rnd, p, row))
    for i, t in enumerate(turns):
        t.index = i
    checked = time.monotonic()  # execute_run asked just before the round
    for chunk in _chunks(turns):
        # a stop request is a query outside the chunk's transaction (a fresh connection on SQLite): once a second
        if ctx.should_stop is not None and time.monotonic() - checked >= STOP_CHECK_S:
            checked = time.monotonic()
            if await ctx.should_stop():
                stats.stopped = True
                break
        await _carry_out(ctx, rnd, chunk, stats)
    ctx.state.forget_before(rnd - 3)
    return stats


def _chunks(turns: list[Turn]) -> list[list[Turn]]:
    """Runs of turns with up to CHUNK acting ones each; triage turns that ignore (most of a round at scale: no
    provider call, no post, only their row) ride along instead of costing a transaction of their own."""
    out: list[list[Turn]] = [[]]
    acting = 0
    for t in turns:
        if acting >= CHUNK:
            out.append([])
            acting = 0
        out[-1].append(t)
        acting += t.outcome != "ignored"
    return [c for c in out if c]


async def _personas(member_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Persona rows of the agents acting this round only (never the whole population)."""
    out: dict[int, dict[str, Any]] = {}
    database = dbmod.current()
    for start in range(0, len(member_ids), 500):
        ids = member_ids[start:start + 500]
        marks = ", ".join("{}" for _ in ids)
        rows = await database.fetch(
            "SELECT m.id, m.handle, m.label_level, m.label_mask, m.active, p.department, p.traits, p.goals, "
            "p.concerns, p.language, r.name AS role FROM chorus_member m JOIN personas_persona p ON p.member = m.id "
            f"JOIN personas_role r ON r.id = p.role WHERE m.id IN ({marks})", *ids)
        for r in rows:
            out[int(r["id"])] = r
    return out


def _resolve(ctx: RunContext, rnd: int, p: Planned, row: dict[str, Any]) -> Turn:
    """Choose the turn's channel, focus and intent, and build its prompt (snippets are added later)."""
    scheme, pop = ctx.scheme, ctx.pop
    label = scheme.from_ints(int(row["label_level"]), int(row["label_mask"]))
    actor = Actor(workspace_id=ctx.workspace_id, kind="agent", handle=row["handle"], label=label, scheme=scheme,
                  member_id=int(row["id"]))
    turn = Turn(p, int(row["id"]), row["department"], actor=actor)
    goals, concerns, traits = (_strings(row[k]) for k in ("goals", "concerns", "traits"))
    rng = random.Random(f"{ctx.seed}:{rnd}:{p.kind}:{p.pos}")
    answering = ctx.state.messages.get(p.answering) if p.answering is not None else None
    intent: Intent
    if answering is not None:
        channel = pop.channels[answering.channel]
        focus = _focus(goals, concerns, label, answering.body, rng, channel)
        if p.kind == "notified":
            intent = "reply" if "?" in answering.body else rng.choice(("reply", "reply", "agree", "disagree", "ask"))
        else:
            shared = len(pop.roles[pop.role[p.pos]].interest & _words(answering.body))
            if shared >= 3:
                intent = "agree" if rng.random() < 0.7 else "ask"
            else:
                intent = rng.choice(("disagree", "ask") if _SKEPTICAL & set(traits) else ("agree", "ask", "reply"))
    else:
        focus = _focus(goals, concerns, label, "", rng, None)
        fw = _words(focus)
        chans = pop.channels_of(p.pos)
        channel = pop.channels[max(chans, key=lambda c: (len(fw & pop.channels[c].vocab) + rng.random() * 1.5, c))]
        intent = "escalate" if rng.random() < ESCALATE_SHARE else "new_topic"  # no one above: new_topic later
    turn.channel = channel.id
    turn.intent = intent
    if p.action == "react":
        return turn
    turn.request = TurnRequest(
        persona=PersonaInfo(row["handle"], row["role"], row["department"], label.tier, traits, goals, concerns,
                            row["language"]),
        channel=PromptChannel(channel.name, channel.topic, channel.label.tier),
        intent=intent,
        # per round and per message answered: an agent answering two messages in one round says two things
        seed=(ctx.seed * 1_000_003 + rnd) * 1_000_033 + (answering.key if answering is not None else 0),
        recent=tuple(_context(ctx, m) for m in ctx.state.recent.get(channel.id, ())),
        answering=_context(ctx, answering) if answering is not None else None,
        focus=focus,
        tier_level=label.level,
    )
    return turn


def _context(ctx: RunContext, m: Msg) -> ContextMessage:
    pos = ctx.pop.index.get(m.author)
    role = ctx.pop.roles[ctx.pop.role[pos]].name if pos is not None else ""
    tier = ctx.scheme.tiers[ctx.pop.level[pos]] if pos is not None else ""
    return ContextMessage(m.id, m.handle, role, tier, m.body, 0, m.root)


def _focus(goals: tuple[str, ...], concerns: tuple[str, ...], label: Label, context: str, rng: random.Random,
           channel: ChannelInfo | None) -> str:
    """A concern (twice as likely) or a goal; when answering, the one closest to the message. In a channel below
    the agent's label, only what the channel's topic or documents already speak of (restricted worries stay up)."""
    pool = list(concerns) * 2 + list(goals)
    if channel is not None and channel.label != label:
        pool = [x for x in pool if len(_words(x) & channel.vocab) >= 2] or list(goals)
    if not pool:
        return ""
    if context:
        cw = _words(context)
        best = max(pool, key=lambda s: (len(_words(s) & cw), rng.random()))
        if _words(best) & cw:
            return best
    return rng.choice(pool)


async def _higher(ctx: RunContext, channel: ChannelInfo, level: int) -> list[dict[str, Any]]:
    """Up to 8 active members of ``channel`` above tier ``level``, highest first (escalation targets)."""
    if level not in channel.higher:
        channel.higher[level] = await dbmod.current().fetch(
            "SELECT m.handle, m.label_level, COALESCE(r.name, m.kind) AS role FROM chorus_channel_member cm "
            "JOIN chorus_member m ON m.id = cm.member LEFT JOIN personas_persona p ON p.member = m.id "
            "LEFT JOIN personas_role r ON r.id = p.role WHERE cm.channel = {} AND m.label_level > {} AND m.active = {} "
            "ORDER BY m.label_level DESC, m.id LIMIT 8", channel.id, level, True)
    return channel.higher[level]


async def _prepare(ctx: RunContext, turns: list[Turn]) -> None:
    """Escalation targets and retrieval (cached per channel, scope and focus) for the posts of a chunk."""
    for t in turns:
        if t.request is None or t.actor is None or t.channel is None:
            continue
        channel = ctx.pop.channels[t.channel]
        req = t.request
        if req.intent == "escalate":
            higher = await _higher(ctx, channel, t.actor.label.level)
            req = _with(req, escalate_to=tuple(Participant(h["handle"], h["role"], ctx.scheme.tiers[h["label_level"]],
                                                           int(h["label_level"])) for h in higher))
            if not higher:
                req = _with(req, intent="new_topic")
        bound = ctx.scheme.glb(t.actor.label, channel.label)
        query = req.focus or channel.topic
        key = (channel.id, bound.level, bound.mask, query)
        chunks = ctx.retrieval.get(key)
        if chunks is None:
            chunks = ctx.retrieval[key] = await search(t.actor, query, bound, SNIPPETS)
        t.chunks = chunks
        t.request = _with(req, snippets=tuple(Snippet(str(c.document_id), c.title, c.text) for c in chunks))


def _with(req: TurnRequest, **changes: Any) -> TurnRequest:
    from dataclasses import replace

    return replace(req, **changes)


async def _call(ctx: RunContext, t: Turn) -> None:
    assert t.request is not None
    async with ctx.semaphore:
        started = time.perf_counter()
        try:
            t.result = await ctx.provider.complete(t.request)
        except ChorusError as exc:
            t.outcome, t.reason = "error", exc.message[:200]
        except Exception as exc:  # a provider bug must not kill the run; the turn records it
            t.outcome, t.reason = "error", f"{type(exc).__name__}: {exc}"[:200]
        t.latency_ms = (time.perf_counter() - started) * 1000


async def _carry_out(ctx: RunContext, rnd: int, turns: list[Turn], stats: RoundStats) -> None:
    await _prepare(ctx, turns)
    calls: list[Turn] = []
    for t in turns:
        if t.request is None:
            continue
        handle = t.actor.handle if t.actor else ""
        if ctx.ledger.limited(handle, t.department):  # counting a prompt's tokens costs ~0.1 ms: only when it matters
            est_in = prompt_tokens(t.request)
            got = ctx.ledger.reserve(handle, t.department, est_in + ctx.max_out_tokens,
                                     ctx.estimate_cost(est_in, ctx.max_out_tokens))
        else:
            got = ctx.ledger.reserve(handle, t.department, 0, 0.0)
        if isinstance(got, Limit):
            t.outcome, t.reason = "over_budget", f"{got.scope} budget {got.target}".strip()
            stats.run_budget_hit |= got.scope == "run"
            continue
        t.reservation = got
        calls.append(t)
    started = time.perf_counter()
    await asyncio.gather(*(_call(ctx, t) for t in calls))
    stats.provider_s += time.perf_counter() - started
    for t in calls:
        assert t.reservation is not None
        r = t.result
        ctx.ledger.settle(t.reservation, r.tokens_in if r else 0, r.tokens_out if r else 0, r.cost if r else 0.0)
    database = dbmod.current()
    # SQLite: the whole chunk in one write transaction (one writer anyway; ~30 us per statement instead of a
    # commit per post). PostgreSQL: every turn commits on its own (its post with its context.read), so that no
    # transaction holds channel rows for a whole chunk: people posting would wait on it, and two runtime workers
    # taking channel rows in different orders could deadlock.
    # deferred_events: the chunk's real-time events go out after its commit, never for a rolled-back chunk.
    batched = database.is_sqlite
    async with deferred_events() if batched else contextlib.nullcontext(), \
            database.transaction() if batched else contextlib.nullcontext():
        for lim in ctx.ledger.take_exhausted():
            async with database.transaction():
                await audit.record(ctx.system, "budget.exhausted", Entity("budget", f"{lim.scope}:{lim.target}"),
                                   {**lim.as_dict(), "run": ctx.run_id, "round": rnd})
        reads: list[tuple[Actor, str, Entity, dict[str, Any]]] | None = [] if batched else None
        for t in turns:
            await _publish(ctx, rnd, t, reads)
        if reads:  # SQLite: the chunk's context.read entries in one statement, in the chunk's transaction
            await audit.record_many(reads)
        rows = [_turn_row(ctx, rnd, t) for t in turns]
        chunk = _tally(turns)
        stats.add(chunk)
        async with database.transaction():
            await database.execute_many(f"INSERT INTO personas_turn ({_TURN_COLS}) VALUES "
                                        f"({', '.join('{}' for _ in range(16))})", rows)
            await database.fetch(
                "UPDATE personas_run SET turns = turns + {}, messages = messages + {}, reactions = reactions + {}, "
                "ignored = ignored + {}, blocked = blocked + {}, over_budget = over_budget + {}, "
                "errors = errors + {}, tokens_in = tokens_in + {}, tokens_out = tokens_out + {}, cost = cost + {} "
                "WHERE id = {}", chunk.turns, chunk.messages, chunk.reactions, chunk.ignored, chunk.blocked,
                chunk.over_budget, chunk.errors, chunk.tokens_in, chunk.tokens_out, chunk.cost, ctx.run_id)
    for t in turns:
        if t.outcome != "ignored":
            with turn_span(agent=t.actor.handle if t.actor else str(t.member_id), department=t.department,
                           channel_id=t.channel, run_id=ctx.run_id) as span:
                span.documents(sorted({c.document_id for c in t.chunks}))
                span.outcome = t.outcome


async def _publish(ctx: RunContext, rnd: int, t: Turn,
                   reads: list[tuple[Actor, str, Entity, dict[str, Any]]] | None = None) -> None:
    """Post or react as the agent and record the documents the turn read (for a blocked post too). Refusals
    (rate limit, leak guard, kill switch) are raised before anything is written and keep their own audit entries;
    any other error aborts the transaction, so nothing half-written is left (the run then fails with that error).
    With ``reads`` (SQLite: the turn is part of its chunk's transaction), the ``context.read`` entry is appended
    there for the chunk to record in one statement before it commits; otherwise it is recorded here."""
    if t.outcome or t.actor is None or t.channel is None:
        return
    if t.plan.action == "post" and t.result is None:
        return
    # One transaction for the turn (PostgreSQL; on SQLite it joins the chunk's): the post and the record of what
    # its prompt read commit together, one commit instead of two. The post goes first so that this transaction
    # takes its locks in the order every post does (channel row, then the audit trail).
    async with deferred_events(), dbmod.current().transaction():
        await _act(ctx, rnd, t)
        if t.plan.action == "post":
            channel = ctx.pop.channels[t.channel]
            bound = ctx.scheme.glb(t.actor.label, channel.label)
            entry = (t.actor, "context.read", Entity("channel", channel.id), {
                "query": (t.request.focus if t.request else "")[:200], "channel": channel.name, "scope": str(bound),
                "documents": sorted({c.document_id for c in t.chunks}), "chunks": [c.id for c in t.chunks],
                "run": ctx.run_id})
            if reads is not None:
                reads.append(entry)
            else:
                await audit.record(*entry)


async def _act(ctx: RunContext, rnd: int, t: Turn) -> None:
    assert t.actor is not None and t.channel is not None
    channel = ctx.pop.channels[t.channel]
    try:
        if t.plan.action == "react":
            assert t.plan.answering is not None
            await react(t.actor, t.plan.answering, "emoji", REACTION)
            t.outcome, t.message = "reacted", t.plan.answering
        else:
            assert t.result is not None
            root = None
            if t.plan.answering is not None:
                answered = ctx.state.messages.get(t.plan.answering)
                root = t.plan.answering if answered is None else (
                    answered.root if answered.root is not None else answered.id)
            message = await post_message(t.actor, channel.id, t.result.text,
                                         f"run{ctx.run_id}-r{rnd}-{t.member_id}-{t.index}", thread_of=root)
            t.outcome, t.message = "posted", int(message["id"])
            if t.plan.answering is not None:
                ctx.state.reply_to[t.message] = t.plan.answering
    except ChorusError as exc:
        t.outcome, t.reason = "blocked", f"{exc.code}: {exc.message}"[:200]


def _turn_row(ctx: RunContext, rnd: int, t: Turn) -> tuple[Any, ...]:
    r = t.result
    docs = sorted({c.document_id for c in t.chunks}) if t.plan.action == "post" and r is not None else []
    return (ctx.run_id, rnd, t.member_id, t.department, t.channel, t.plan.kind, t.intent, t.outcome or "error",
            t.reason, t.message, t.plan.answering if t.plan.action == "post" else None, json.dumps(docs),
            r.tokens_in if r else 0, r.tokens_out if r else 0, r.cost if r else 0.0, round(t.latency_ms, 3))


def _tally(turns: Sequence[Turn]) -> RoundStats:
    s = RoundStats(turns=len(turns))
    for t in turns:
        if t.outcome == "posted":
            s.messages += 1
        elif t.outcome == "reacted":
            s.reactions += 1
        elif t.outcome == "ignored":
            s.ignored += 1
        elif t.outcome == "blocked":
            s.blocked += 1
        elif t.outcome == "over_budget":
            s.over_budget += 1
        else:
            s.errors += 1
        if t.result is not None:
            s.tokens_in += t.result.tokens_in
            s.tokens_out += t.result.tokens_out
            s.cost += t.result.cost
    return s
