"""The simulation core over in-memory state: who acts each round (mentioned agents first, then triage of new
messages, then unprompted speech by activity), label-scoped retrieval, and :func:`simulate_in_memory`, which runs
a scenario through a provider and returns message records. Deterministic for a seed. No database, no web: the
DB-backed runtime reuses :class:`Scheduler` and :func:`retrieve` and stores what they produce.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from personas.providers.base import (
    ChannelInfo,
    ContextMessage,
    Intent,
    Participant,
    PersonaInfo,
    Snippet,
    TurnRequest,
)
from personas.providers.offline import OfflineProvider, doc_sentences
from personas.quality import ChannelContext, MessageRecord, content_words
from personas.scenario_model import ChannelSpec, Document, Role, Scenario
from workspace.labels import Label

REPLY_BACK = 0.85  # chance that a notified agent answers a reply to its own message
CONTINUE_DECAY = 0.75  # each further exchange in a thread is this much less likely
MAX_THREAD_REPLIES = 10  # a thread stops drawing replies past this
NOTIFIED_PER_ROUND = 3  # replies one agent writes per round to messages addressed to it
TRIAGE_WINDOW = 4  # new root posts per channel an agent looks at in one round
TRIAGE_REPLIES_PER_ROOT = 2  # replies a root can draw from triage in one round
ESCALATE_SHARE = 0.25  # share of unprompted posts that mention a higher-tier member


@dataclass(frozen=True, slots=True)
class SimAgent:
    """One generated agent: ``index`` in the run, its handle, role and the channels it belongs to."""

    index: int
    handle: str
    role: Role
    channels: tuple[str, ...]

    @property
    def label(self) -> Label:
        return self.role.label


@dataclass(slots=True)
class SimChannel:
    spec: ChannelSpec
    members: list[int]
    documents: list[Document]
    vocab: frozenset[str]
    higher: dict[int, list[int]] = field(default_factory=dict)  # tier level -> members above it (a sample)


@dataclass(frozen=True, slots=True)
class Action:
    """What the scheduler decided for one agent: ``kind`` post (a generated message) or react (no generation)."""

    agent: int
    kind: str
    channel: str
    intent: Intent
    answering: int | None = None
    focus: str = ""


@dataclass(slots=True)
class SimResult:
    messages: list[MessageRecord]
    reactions: int
    turns: int
    tokens_in: int
    tokens_out: int
    agents: int
    rounds: int
    channels: dict[str, ChannelContext]
    doc_labels: dict[str, Label]
    triage_ignored: int = 0


class World:
    """The scenario's agents and channels, resolved once: membership, readable documents, vocabularies."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.agents: list[SimAgent] = []
        role_channels = {r.role: tuple(c.name for c in scenario.channels if r in scenario.role_members(c))
                         for r in scenario.roles}
        for role in scenario.roles:
            for i in range(role.count):
                self.agents.append(SimAgent(len(self.agents), f"{role.handle_prefix}-{i + 1}", role,
                                            role_channels[role.role]))
        self.by_handle = {a.handle: a for a in self.agents}
        self.channels: dict[str, SimChannel] = {}
        for spec in scenario.channels:
            docs = scenario.readable_documents(spec.label)
            vocab = content_words(spec.topic)
            for d in docs:
                vocab |= content_words(d.title + " " + d.body)
            members = [a.index for a in self.agents if spec.name in a.channels]
            self.channels[spec.name] = SimChannel(spec, members, docs, frozenset(vocab))
        self.interest = {r.role: content_words(" ".join(r.goals + r.concerns)) for r in scenario.roles}
        self._sentences = {d.source: doc_sentences(d.body) for d in scenario.documents}
        self._sentence_words = {s: content_words(s) for ss in self._sentences.values() for s in ss}

    def higher_members(self, channel: str, level: int, limit: int = 8) -> list[SimAgent]:
        """Up to ``limit`` members of ``channel`` above tier ``level``, highest tier first (for escalation)."""
        ch = self.channels[channel]
        if level not in ch.higher:
            above = [i for i in ch.members if self.agents[i].role.label.level > level]
            above.sort(key=lambda i: (-self.agents[i].role.label.level, i))
            ch.higher[level] = above[:limit]
        return [self.agents[i] for i in ch.higher[level]]

    def channel_contexts(self) -> dict[str, ChannelContext]:
        return {n: ChannelContext(c.spec.topic, tuple(d.title + "\n" + d.body for d in c.documents))
                for n, c in self.channels.items()}


def retrieve(world: World, agent: SimAgent, channel: str, query: str, limit: int = 3) -> list[Snippet]:
    """Documents the agent may use in ``channel``: readable by the agent AND carried by the channel (both labels
    dominate the document's), ranked by content-word overlap of their best two sentences with ``query``.
    """
    q = content_words(query)
    ranked: list[tuple[int, int, Document, list[str]]] = []
    for pos, doc in enumerate(world.channels[channel].documents):
        if not agent.label.dominates(doc.label):
            continue
        scored = sorted(((len(world._sentence_words[s] & q), i) for i, s in enumerate(world._sentences[doc.source])),
                        key=lambda x: (-x[0], x[1]))
        best = [world._sentences[doc.source][i] for sc, i in scored[:2] if sc > 0]
        if best:
            ranked.append((sum(sc for sc, _ in scored[:2]), pos, doc, best))
    ranked.sort(key=lambda x: (-x[0], x[1]))
    return [Snippet(doc.source, doc.title, " ".join(best)) for _, _, doc, best in ranked[:limit]]


class Scheduler:
    """Decides who acts in each round, deterministically for ``seed``. Feed it every message with :meth:`observe`.

    Order within a round: (1) agents with messages addressed to them (a reply to their post, an @-mention) answer
    in the thread, up to ``NOTIFIED_PER_ROUND`` each; (2) the rest triage the newest root posts in their channels:
    respond when the post touches their goals or concerns, react, or ignore (a set intersection, no generation);
    (3) the rest speak unprompted with probability ``activity``, in the channel that fits their focus best.
    """

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.seed = seed
        self.inbox: dict[int, deque[int]] = {}
        self.messages: dict[int, MessageRecord] = {}
        self.thread_replies: dict[int, int] = {}
        self.thread_depth: dict[int, int] = {}  # message id -> exchanges before it in its thread
        self.new_roots: dict[str, list[int]] = {}
        self.triage_ignored = 0

    def observe(self, message: MessageRecord, mentions: Sequence[str] = (), answering: int | None = None) -> None:
        """Record a posted message; queue it for the author of the message it answers and for those it mentions."""
        self.messages[message.id] = message
        if message.thread_of is None:
            self.new_roots.setdefault(message.channel, []).append(message.id)
            self.thread_depth[message.id] = 0
            return
        self.thread_replies[message.thread_of] = self.thread_replies.get(message.thread_of, 0) + 1
        parent = self.messages.get(answering) if answering is not None else None
        self.thread_depth[message.id] = self.thread_depth.get(parent.id, 0) + 1 if parent else 1
        targets = [parent.author] if parent is not None else []
        targets += [h for h in mentions if h not in targets]
        for handle in targets:
            agent = self.world.by_handle.get(handle)
            if agent is not None and handle != message.author:
                self.inbox.setdefault(agent.index, deque()).append(message.id)

    def plan_round(self, rnd: int) -> list[Action]:
        """The actions of round ``rnd``. Consumes the roots posted since the previous plan."""
        acted: set[int] = set()
        actions: list[Action] = []
        roots, self.new_roots = self.new_roots, {}
        # (1) answer what is addressed to you
        for idx in sorted(self.inbox):
            queue = self.inbox[idx]
            done = 0
            while queue and done < NOTIFIED_PER_ROUND:
                mid = queue.popleft()
                msg = self.messages[mid]
                rng = random.Random(f"{self.seed}:{rnd}:n:{idx}:{mid}")
                root = msg.thread_of if msg.thread_of is not None else msg.id
                depth = self.thread_depth.get(mid, 0)
                chance = REPLY_BACK * CONTINUE_DECAY ** max(0, depth - 1)
                if self.thread_replies.get(root, 0) >= MAX_THREAD_REPLIES or rng.random() >= chance:
                    continue
                agent = self.world.agents[idx]
                actions.append(Action(idx, "post", msg.channel, self._reply_intent(agent, msg, rng), mid,
                                      self._focus(agent, msg.body, rng, msg.channel)))
                acted.add(idx)
                done += 1
        self.inbox = {i: q for i, q in self.inbox.items() if q}
        # (2) triage the new roots in your channels
        drawn: dict[int, int] = {}
        for agent in self.world.agents:
            if agent.index in acted:
                continue
            rng = random.Random(f"{self.seed}:{rnd}:t:{agent.index}")
            interest = self.world.interest[agent.role.role]
            for ch in agent.channels:
                fresh = roots.get(ch)
                if not fresh:
                    continue
                seen = fresh if len(fresh) <= TRIAGE_WINDOW else rng.sample(fresh, TRIAGE_WINDOW)
                decided = False
                for mid in seen:
                    msg = self.messages[mid]
                    if msg.author == agent.handle or drawn.get(mid, 0) >= TRIAGE_REPLIES_PER_ROOT:
                        continue
                    overlap = len(interest & content_words(msg.body))
                    p_respond = min(0.6, 0.08 * overlap) * min(1.0, 8 * agent.role.activity)
                    roll = rng.random()
                    if roll < p_respond:
                        drawn[mid] = drawn.get(mid, 0) + 1
                        actions.append(Action(agent.index, "post", ch, self._triage_intent(agent, msg, rng), mid,
                                              self._focus(agent, msg.body, rng, ch)))
                        decided = True
                        break
                    if roll < p_respond + 0.05 * min(overlap, 3):
                        actions.append(Action(agent.index, "react", ch, "agree", mid))
                        decided = True
                        break
                    self.triage_ignored += 1
                if decided:
                    acted.add(agent.index)
                    break
        # (3) speak unprompted, by activity
        for agent in self.world.agents:
            if agent.index in acted or not agent.channels:
                continue
            rng = random.Random(f"{self.seed}:{rnd}:u:{agent.index}")
            if rng.random() >= agent.role.activity:
                continue
            focus = self._focus(agent, "", rng)
            ch = self._best_channel(agent, focus, rng)
            higher = self.world.higher_members(ch, agent.role.label.level)
            intent: Intent = "escalate" if higher and rng.random() < ESCALATE_SHARE else "new_topic"
            actions.append(Action(agent.index, "post", ch, intent, None, focus))
        return actions

    # -- choices ------------------------------------------------------------------------------------------------

    def _focus(self, agent: SimAgent, context: str, rng: random.Random, channel: str | None = None) -> str:
        """A concern (twice as likely) or goal; when answering, the one closest to the message answered.

        In a channel below the agent's own label, only goals and concerns that the channel's topic or documents
        already speak of are used: a persona's restricted worries stay out of lower channels.
        """
        role = agent.role
        pool = list(role.concerns) * 2 + list(role.goals)
        if channel is not None and role.label != self.world.channels[channel].spec.label:
            vocab = self.world.channels[channel].vocab
            pool = [p for p in pool if len(content_words(p) & vocab) >= 2] or list(role.goals)
        if not pool:
            return ""
        if context:
            cw = content_words(context)
            best = max(pool, key=lambda s: (len(content_words(s) & cw), rng.random()))
            if content_words(best) & cw:
                return best
        return rng.choice(pool)

    def _best_channel(self, agent: SimAgent, focus: str, rng: random.Random) -> str:
        fw = content_words(focus)
        return max(agent.channels,
                   key=lambda c: (len(fw & self.world.channels[c].vocab) + rng.random() * 1.5, c))

    @staticmethod
    def _reply_intent(agent: SimAgent, msg: MessageRecord, rng: random.Random) -> Intent:
        if "?" in msg.body:
            return "reply"
        return rng.choice(("reply", "reply", "agree", "disagree", "ask"))

    def _triage_intent(self, agent: SimAgent, msg: MessageRecord, rng: random.Random) -> Intent:
        skeptical = any(t in {"skeptical", "cautious", "careful", "analytical", "precise", "exact"}
                        for t in agent.role.traits)
        shared = len(self.world.interest[agent.role.role] & content_words(msg.body))
        if shared >= 3:
            return "agree" if rng.random() < 0.7 else "ask"
        return rng.choice(("disagree", "ask") if skeptical else ("agree", "ask", "reply"))


def simulate_in_memory(
    scenario: Scenario,
    agents: int | None = None,
    rounds: int = 10,
    seed: int | None = None,
    provider: OfflineProvider | None = None,
) -> SimResult:
    """Run ``scenario`` (scaled to ``agents``) for ``rounds`` with the offline provider, all in memory."""
    if agents is not None:
        scenario = scenario.scaled(agents)
    run_seed = seed if seed is not None else (scenario.seed or 0)
    world = World(scenario)
    sched = Scheduler(world, run_seed)
    prov = provider or OfflineProvider()
    out: list[MessageRecord] = []
    reactions = turns = tokens_in = tokens_out = 0
    for rnd in range(1, rounds + 1):
        for act in sched.plan_round(rnd):
            turns += 1
            if act.kind == "react":
                reactions += 1
                continue
            agent = world.agents[act.agent]
            ch = world.channels[act.channel]
            answering = sched.messages.get(act.answering) if act.answering is not None else None
            request = _request(world, agent, ch, act, answering, run_seed * 1_000_003 + rnd)
            result = prov.compose(request)
            tokens_in += result.tokens_in
            tokens_out += result.tokens_out
            root = None if answering is None else (answering.thread_of or answering.id)
            rec = MessageRecord(
                id=len(out) + 1, channel=act.channel, author=agent.handle, body=result.text, thread_of=root,
                reply_to=answering.id if answering else None, role=agent.role.role,
                department=agent.role.department, tier=agent.role.label.tier, tier_level=agent.role.label.level,
                order=len(out), round=rnd, doc_ids=result.cited, label=ch.spec.label,
            )
            out.append(rec)
            sched.observe(rec, result.mentions, rec.reply_to)
    return SimResult(
        messages=out, reactions=reactions, turns=turns, tokens_in=tokens_in, tokens_out=tokens_out,
        agents=len(world.agents), rounds=rounds, channels=world.channel_contexts(),
        doc_labels={d.source: d.label for d in scenario.documents}, triage_ignored=sched.triage_ignored,
    )


def _request(world: World, agent: SimAgent, ch: SimChannel, act: Action, answering: MessageRecord | None,
             seed: int) -> TurnRequest:
    role = agent.role
    query = act.focus + " " + (answering.body if answering else "")
    higher = world.higher_members(ch.spec.name, role.label.level) if act.intent == "escalate" else []
    recent: tuple[ContextMessage, ...] = ()
    ans_ctx = None
    if answering is not None:
        ans_ctx = ContextMessage(answering.id, answering.author, answering.role, answering.tier, answering.body,
                                 answering.id, answering.thread_of)
        recent = (ans_ctx,)
    return TurnRequest(
        persona=PersonaInfo(agent.handle, role.role, role.department, role.label.tier, role.traits, role.goals,
                            role.concerns, role.language),
        channel=ChannelInfo(ch.spec.name, ch.spec.topic, ch.spec.label.tier),
        intent=act.intent,
        seed=seed,
        recent=recent,
        answering=ans_ctx,
        snippets=tuple(retrieve(world, agent, ch.spec.name, query)),
        focus=act.focus,
        escalate_to=tuple(Participant(a.handle, a.role.role, a.role.label.tier, a.role.label.level) for a in higher),
        tier_level=role.label.level,
    )
