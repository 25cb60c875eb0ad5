"""One round of a DB-backed run, as the process holding the run plans it: read back what the last round's shards
stored (posts, claims, what each turn stated and asked), decide who acts (runtime's scheduler: answers and triage;
the reading plan; links routed by discovery; carrying claims to other channels) and what each turn may say
(prompts.py), check it against the near-duplicate guard and the budgets, then hand the turns over as one shard per
channel (shards.py) to ``dispatch``: carried out inline (embedded) or by any number of workers through the queue
(queue.py), with a barrier: the next round is planned only once every shard of this one is done.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from personas.llm.base import ContextMessage, Intent, Provider, prompt_tokens
from personas.runtime import posting
from personas.runtime import shards as shard_mod
from personas.runtime.budgets import Ledger, Limit, Reservation
from personas.runtime.claims import FactSpan
from personas.runtime.discover import Discovery, Routed
from personas.runtime.plan import Due, due
from personas.runtime.posting import RoundStats
from personas.runtime.prompts import (
    Turn,
    context_message,
    link_ref,
    passage,
    persona,
    reading_facts,
    request,
)
from personas.runtime.scheduler import Msg, Planned, Planner, Population, RunState
from personas.runtime.shards import Executor, ShardFact, ShardLink, ShardPlan, ShardTurn
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.labels import LabelScheme


class Dispatch(Protocol):
    """Carries a round's shards out and returns once every one is done (the round's barrier)."""

    async def __call__(self, ctx: RunContext, rnd: int, plans: Sequence[ShardPlan]) -> None: ...


@dataclass
class RunContext:
    """Everything a run keeps between rounds (one per run, in the process holding the run)."""

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
    tiers: tuple[str, ...] = ()
    discovery: Discovery | None = None
    dispatch: Dispatch | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def inline(ctx: RunContext, rnd: int, plans: Sequence[ShardPlan]) -> None:
    """The embedded way (no queue): every shard carried out here, one after another, through the same payloads a
    worker would receive: first every shard's drafts, then every shard's posts."""
    stop = ctx.should_stop

    async def stop_requested(run_id: int) -> bool:
        return bool(await stop()) if stop is not None else False

    ex = Executor(ctx.provider, ctx.semaphore, stop_requested)
    drafted = [await shard_mod.draft(shard_mod.decode(shard_mod.encode(plan)), ex) for plan in plans]
    for plan in drafted:
        await shard_mod.execute(shard_mod.decode(shard_mod.encode(plan)), ex, drafted)


async def run_round(ctx: RunContext, rnd: int) -> RoundStats:
    """Read back the last round, plan round ``rnd``, dispatch its shards and wait for all of them."""
    disc = ctx.discovery
    assert disc is not None
    await learn(ctx, rnd - 1)
    killed = await dbmod.current().fetch(
        "SELECT id FROM chorus_member WHERE workspace = {} AND kind = {} AND active = {}", ctx.workspace_id, "agent",
        False)
    skip = {ctx.pop.index[int(r["id"])] for r in killed if int(r["id"]) in ctx.pop.index}
    ctx.planner.interest = disc.interest
    plan = ctx.planner.plan(rnd, skip)
    readings = [d for d in await due(ctx.run_id, rnd) if ctx.pop.index.get(d.member) not in skip]
    reading_at = {ctx.pop.index[d.member] for d in readings if d.member in ctx.pop.index}
    answering = {p.pos for p in plan if p.kind != "unprompted"}
    # a reader reads instead of speaking unprompted; link turns go to agents not otherwise busy this round
    plan = [p for p in plan if not (p.kind == "unprompted" and p.pos in reading_at)]
    await disc.open_join_channels()
    routed = disc.route_links(rnd, reading_at | answering, skip)
    linkers = {r.position for r in routed}
    plan = [p for p in plan if not (p.kind == "unprompted" and p.pos in linkers)]
    full: list[Planned] = list(plan)
    extra: dict[int, Due | Routed] = {}
    for d in readings:
        pos = ctx.pop.index.get(d.member)
        if pos is not None:
            full.append(Planned(pos, "reading", "post", d.channel))
            extra[len(full) - 1] = d
    for r in routed:
        full.append(Planned(r.position, "linking", "post", r.channel, r.answering))
        extra[len(full) - 1] = r
    acting = sorted({ctx.pop.ids[p.pos] for p in full if p.action != "ignore"})
    personas = await posting.personas_of(acting)
    turns: list[Turn] = []
    for i, p in enumerate(full):
        member_id = ctx.pop.ids[p.pos]
        role = ctx.pop.roles[ctx.pop.role[p.pos]]
        if p.action == "ignore":
            turns.append(Turn(p, member_id, role.department, role.name, role.id, channel=p.channel,
                              outcome="ignored"))
            continue
        row = personas.get(member_id)
        if row is None or not row["active"]:
            continue  # killed (or removed) since the population was read: it does nothing at all
        t = _resolve(ctx, rnd, p, row, extra.get(i))
        if t is not None:
            turns.append(t)
    for i, t in enumerate(turns):
        t.index = i
    stats = RoundStats()
    reserved = await _admit(ctx, rnd, turns, stats)
    await posting.record_planned(ctx.run_id, rnd, [t for t in turns if t.outcome])
    plans = _shards(ctx, rnd, [t for t in turns if not t.outcome])
    assert ctx.dispatch is not None
    await ctx.dispatch(ctx, rnd, plans)
    spent = await posting.round_spend(ctx.run_id, rnd)
    for key, res in reserved.items():
        tin, tout, cost = spent.get(key, (0, 0, 0.0))
        ctx.ledger.settle(res, tin, tout, cost)
    done = await posting.round_stats(ctx.run_id, rnd)
    done.run_budget_hit = stats.run_budget_hit
    if ctx.should_stop is not None and await ctx.should_stop():
        done.stopped = True
    ctx.state.forget_before(rnd - 3)
    return done


async def learn(ctx: RunContext, rnd: int) -> None:
    """What round ``rnd`` left (read back from what its shards stored, never from the process that carried them
    out): who answered what, the messages (in ``seq`` order per channel, whatever order the shards committed in),
    what each post stated and asked, the guard's index, the roles' reading interests, then the claims."""
    disc = ctx.discovery
    assert disc is not None
    rows = await posting.round_turns(ctx.run_id, rnd) if rnd >= 1 else []
    for r in rows:
        if r["reply_to"] is not None:
            ctx.state.reply_to[int(r["message"])] = int(r["reply_to"])
    await ctx.state.observe(ctx.workspace_id, rnd + 1)
    disc.absorb(rows, ctx.state.messages)
    await disc.observe(rnd + 1, ctx.state.messages)


async def _admit(ctx: RunContext, rnd: int, turns: Sequence[Turn], stats: RoundStats) -> dict[str, Reservation]:
    """The near-duplicate guard (on what each turn is to state) and the budgets (reserved here, before the turn
    is handed over; settled from what its shard recorded): a turn either passes both or gets its outcome now."""
    disc = ctx.discovery
    assert disc is not None
    keys = _keys(ctx.run_id, rnd, turns)
    reserved: dict[str, Reservation] = {}
    for t in turns:
        t.key = keys[t.index]
        if t.request is None or t.outcome:
            continue
        offered = [f.key for f in t.offered]
        if offered and disc.repeats(_planned_gist(t), t.task, t.key):
            t.outcome, t.reason = "ignored", "near-duplicate of an earlier post"
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
        reserved[t.key] = got
    exhausted = ctx.ledger.take_exhausted()
    if exhausted:
        database = dbmod.current()
        async with database.transaction():
            for lim in exhausted:
                await audit.record(ctx.system, "budget.exhausted", Entity("budget", f"{lim.scope}:{lim.target}"),
                                   {**lim.as_dict(), "run": ctx.run_id, "round": rnd})
    return reserved


def _planned_gist(t: Turn) -> str:
    facts = {f.key: ShardFact(f.key, f.document, f.chunk, f.start, f.end, f.fact.text, 0, 0) for f in t.offered}
    answering = t.routed.answering if t.routed is not None else t.plan.answering
    return shard_mod.gist(str(t.task), list(facts), facts, None, answering)


def _keys(run: int, rnd: int, turns: Sequence[Turn]) -> list[str]:
    """Each turn's key: run, round, shard (its channel; 0 for turns the planner records itself), member, and the
    member's ordinal in that shard. The same plan always gives the same keys."""
    seen: dict[tuple[int, int], int] = {}
    out = []
    for t in turns:
        shard = 0 if t.outcome or t.channel is None else int(t.channel)
        k = seen.get((shard, t.member_id), 0)
        seen[(shard, t.member_id)] = k + 1
        out.append(f"rt{run}-r{rnd}-s{shard}-m{t.member_id}-{k}")
    return out


def _shards(ctx: RunContext, rnd: int, turns: Sequence[Turn]) -> list[ShardPlan]:
    """The acting turns as one shard per channel (in plan order within it), each carrying what its turns need."""
    by_channel: dict[int, list[Turn]] = {}
    for t in turns:
        assert t.channel is not None
        by_channel.setdefault(int(t.channel), []).append(t)
    disc = ctx.discovery
    assert disc is not None
    quotes = getattr(ctx.provider, "name", "") != "offline"  # a model may quote its passage instead of keys
    out = []
    for channel_id in sorted(by_channel):
        channel = ctx.pop.channels[channel_id]
        facts: dict[str, ShardFact] = {}
        items = []
        for t in by_channel[channel_id]:
            spans = list(t.offered)
            if quotes:
                spans += [s for c in t.chunks for s in disc.library.of_chunk(c)]
            for s in spans:
                facts.setdefault(s.key, _fact(s))
            items.append(_turn(ctx, t))
        out.append(ShardPlan(ctx.run_id, ctx.workspace_id, rnd, channel_id, channel.name, channel.label.level,
                             channel.label.mask, _recent(ctx, channel_id), facts, tuple(items)))
    return out


def _fact(s: FactSpan) -> ShardFact:
    return ShardFact(s.key, s.document, s.chunk, s.start, s.end, s.fact.text, s.label.level, s.label.mask)


def _turn(ctx: RunContext, t: Turn) -> ShardTurn:
    assert t.actor is not None
    answering = t.plan.answering if t.routed is None else t.routed.answering
    root = None
    if answering is not None and t.task != "pass":
        answered = ctx.state.messages.get(answering)
        root = answering if answered is None else (answered.root if answered.root is not None else answered.id)
    link = None
    if t.routed is not None:
        lk = t.routed.link
        entity = t.request.link.entity if t.request is not None and t.request.link is not None else ""
        link = ShardLink(t.routed.a.span.key, lk.relation, lk.kind, lk.consequence, entity, t.routed.label.level,
                         t.routed.label.mask)
    return ShardTurn(
        key=t.key, member=t.member_id, handle=t.actor.handle, level=t.actor.label.level, mask=t.actor.label.mask,
        department=t.department, role=t.role, kind=t.plan.kind, action=t.plan.action, task=str(t.task or t.intent),
        answering=answering, root=root,
        request=replace(t.request, recent=()) if t.request is not None else None,
        offered=tuple(f.key for f in t.offered), chunks=tuple(t.chunks), documents=tuple(t.documents),
        reading=t.reading.reading if t.reading is not None else None, link=link)


def _resolve(ctx: RunContext, rnd: int, p: Planned, row: dict[str, Any], extra: Due | Routed | None) -> Turn | None:
    """The turn's channel, task and request; ``None`` when the agent has nothing grounded to say."""
    scheme, pop, disc = ctx.scheme, ctx.pop, ctx.discovery
    assert disc is not None
    label = scheme.from_ints(int(row["label_level"]), int(row["label_mask"]))
    actor = Actor(workspace_id=ctx.workspace_id, kind="agent", handle=row["handle"], label=label, scheme=scheme,
                  member_id=int(row["id"]))
    role = pop.roles[pop.role[p.pos]]
    turn = Turn(p, int(row["id"]), row["department"], role.name, role.id, actor=actor)
    info = persona(row, label.tier)
    answered_key = ctx.state.messages[p.answering].key if p.answering in ctx.state.messages else 0
    rng = random.Random(f"{ctx.seed}:{rnd}:{p.kind}:{p.pos}:{answered_key}")  # message keys, not ids: stable
    seed = (ctx.seed * 1_000_003 + rnd) * 1_000_033 + p.pos
    if isinstance(extra, Due):
        channel = pop.channels[extra.channel]
        facts = [f for f in reading_facts(disc, extra) if disc.may_state(p.pos, channel.id, f)]
        turn.reading, turn.channel, turn.chunks = extra, channel.id, [extra.chunk]
        if not facts:
            turn.outcome, turn.reason = "ignored", "nothing to state in this passage"
            turn.task = "read"
            return turn
        turn.request = request(turn, channel, info, "read" if extra.primary else "corroborate", "new_topic", seed,
                               _recent(ctx, channel.id), None, facts, passage=passage(disc, extra.chunk),
                               tier_level=label.level)
        return turn
    if isinstance(extra, Routed):
        channel = pop.channels[extra.channel]
        turn.routed, turn.channel = extra, channel.id
        turn.chunks = [extra.a.span.chunk, extra.b.span.chunk]
        answering = ctx.state.messages.get(extra.answering) if extra.answering is not None else None
        turn.request = request(turn, channel, info, "link", "reply", seed, _recent(ctx, channel.id),
                               _ctx(ctx, answering), [extra.a.span, extra.b.span], link=link_ref(extra),
                               tier_level=label.level)
        return turn
    if p.kind == "unprompted":
        carry = disc.to_pass(p.pos)
        if carry is None:  # nothing to carry: read what has been read least, from its own desk
            extra_read = disc.planner.another_reading(p.pos)
            if extra_read is None:
                return None
            chunk, target = extra_read
            channel = pop.channels[target]
            facts = [f for f in reading_facts(disc, Due(0, chunk, 0, row["id"], target, False))
                     if disc.may_state(p.pos, target, f)]
            if not facts:
                return None
            turn.channel, turn.chunks = target, [chunk]
            turn.request = request(turn, channel, info, "corroborate", "new_topic", seed, _recent(ctx, target), None,
                                   facts, passage=passage(disc, chunk), tier_level=label.level)
            return turn
        claim, target = carry
        channel = pop.channels[target]
        turn.channel, turn.target = target, target
        turn.chunks = [claim.span.chunk]
        origin = ctx.state.messages.get(claim.message)
        turn.request = request(turn, channel, info, "pass", "new_topic", seed, _recent(ctx, target), _ctx(ctx, origin),
                               [claim.span], tier_level=label.level)
        disc.passed.add((claim.span.key, target))
        disc.carried.add(claim.span.key)
        return turn
    # an answer to a message addressed to it, or a triaged root post
    answered = ctx.state.messages.get(p.answering) if p.answering is not None else None
    if answered is None:
        return None
    channel = pop.channels[answered.channel]
    turn.channel = channel.id
    if p.action == "react":
        turn.task, turn.intent = "ack", "agree"
        return turn
    asked = disc.asked.get(answered.id)
    about = disc.library.facts.get(asked) if asked else None
    if about is None:
        top = disc.weightiest(answered.id, skip=disc.asked_about)
        about = top.span if top is not None else None
    if about is None:
        return None  # nothing grounded to add to chatter
    other = disc.answer_for(p.pos, channel.id, about) if asked else None
    if asked and other is None:  # answering a question: what else its document says there, or that it does not say
        stated = disc.stated_in_thread(answered)
        other = next((n for n in disc.library.neighbours(about) if n.key not in stated
                      and disc.may_state(p.pos, channel.id, n)), None)
        if other is None:
            turn.request = request(turn, channel, info, "unknown", "reply", seed, _recent(ctx, channel.id),
                                   _ctx(ctx, answered), [about] if disc.may_state(p.pos, channel.id, about) else [],
                                   tier_level=label.level)
            return turn if turn.request.facts else None
    elif other is None and about.key in disc.asked_about:
        return None  # somebody already asked about this fact: a second question adds nothing
    intent: Intent = "reply" if "?" in answered.body else rng.choice(("agree", "ask", "reply"))
    if other is not None:
        turn.chunks = [other.chunk]
        turn.request = request(turn, channel, info, "answer", intent, seed, _recent(ctx, channel.id),
                               _ctx(ctx, answered), [other], tier_level=label.level)
    else:
        turn.request = request(turn, channel, info, "ask", "ask", seed, _recent(ctx, channel.id),
                               _ctx(ctx, answered), [about] if disc.may_state(p.pos, channel.id, about) else [],
                               tier_level=label.level)
        if not turn.request.facts:
            return None
        disc.asked_about.add(about.key)  # taken now: the next agent answering this post asks about another fact
    return turn


def _recent(ctx: RunContext, channel: int) -> tuple[ContextMessage, ...]:
    return tuple(context_message(ctx.pop, ctx.scheme, m) for m in ctx.state.recent.get(channel, ()))


def _ctx(ctx: RunContext, m: Msg | None) -> ContextMessage | None:
    return context_message(ctx.pop, ctx.scheme, m) if m is not None else None
