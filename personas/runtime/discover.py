"""Discovery in a run: each round, new documents join the reading plan, the claims posted so far go on the
blackboard, and pairs of claims from different documents about one distinctive thing are routed to an agent who may
read both and a channel at or above both labels, where it links them ("X and Y, so Z"). Also what agents with no
reading left do (carry a weighty claim to another channel of theirs) and what a reply says (ask what is unknown,
answer a question with a fact the replier may read). Pure planning over the run's state; the turns carry it out.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.services import add_members_bulk, create_channel
from personas.runtime import plan as reading_plan
from personas.runtime.claims import Blackboard, FactSpan, Library, Posted, run_claims_after
from personas.runtime.links import Link
from personas.runtime.scheduler import ChannelInfo, Msg, Planned, Population
from workspace.actor import Actor
from workspace.errors import Conflict
from workspace.labels import Label, LabelScheme, agent_scope
from workspace.text import LshDuplicateIndex, content_words

LINKS_PER_ROUND = 12
"""Links routed per round at least (more with more agents: one per 100); the best-scored go first."""
LINKS_PER_LINKER = 3
"""Links one agent may state in a round: few agents may read two compartments at once (often only the heads of
the company), and one link a round each would leave most joins waiting in the queue."""
JOIN_MEMBERS = 60
"""Members of a channel the runtime opens for facts of two compartments (agents who may read both)."""


def _channel_name(kind: str, label: Label) -> str:
    """``<kind>-<compartments>-<tier>`` (kind: join or desk), cut to a valid channel name."""
    slug = "-".join(sorted(label.compartments)) or "all"
    return re.sub(r"[^a-z0-9-]+", "-", f"{kind}-{slug}-{label.tier}".lower())[:80].strip("-")


@dataclass(frozen=True, slots=True)
class Routed:
    """A link on its way: who states it, where, and in answer to which message (a thread reply to the first
    claim's post when it is posted where that claim was)."""

    link: Link
    a: Posted
    b: Posted
    position: int
    channel: int
    answering: int | None
    label: Label


@dataclass
class Discovery:
    """One run's discovery state, kept between rounds by the process executing the run."""

    run_id: int
    workspace_id: int
    scheme: LabelScheme
    pop: Population
    seed: int
    library: Library = field(init=False)
    board: Blackboard = field(init=False)
    planner: reading_plan.ReadingPlanner = field(init=False)
    planned_chunk: int = 0
    pending: list[Link] = field(default_factory=list)
    by_message: dict[int, list[Posted]] = field(default_factory=dict)
    by_channel: dict[int, list[Posted]] = field(default_factory=dict)
    passed: set[tuple[str, int]] = field(default_factory=set)  # (span key, channel) a fact was already stated in
    asked: dict[int, str] = field(default_factory=dict)  # message id of an "ask" post -> the fact key it asks about
    asked_about: set[str] = field(default_factory=set)  # fact keys somebody asked about
    thread_of: dict[int, list[int]] = field(default_factory=dict)  # thread root -> messages with claims in it
    carried: set[str] = field(default_factory=set)  # fact keys somebody carried to another channel
    posts: LshDuplicateIndex = field(default_factory=LshDuplicateIndex)
    interest: dict[int, set[str]] = field(default_factory=dict)  # role -> words of what its agents read
    _eligible: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)
    _scopes: dict[tuple[int, int, int], Label] = field(default_factory=dict)  # (level, mask, channel) -> scope
    _weights: dict[str, float] = field(default_factory=dict)  # fact key -> severity, -1 for a neutral fact
    claims_seen: int = 0  # claims on the blackboard: a claim is known by its place in message order
    _planned: dict[str, str] = field(default_factory=dict)  # this round's planned gists, by turn key
    system: Actor | None = None

    def __post_init__(self) -> None:
        self.library = Library(self.scheme)
        self.board = Blackboard(self.library)
        self.planner = reading_plan.ReadingPlanner(self.pop, self.scheme, self.seed)

    async def start(self, rnd: int, system: Actor) -> None:
        """Load the documents' facts and plan every chunk (resuming: chunks planned before keep their readers)."""
        self.system = system
        await self.library.load(self.workspace_id)
        self.planned_chunk = await reading_plan.planned_up_to(self.run_id)
        self.planned_chunk = await reading_plan.extend_plan(self.run_id, self.workspace_id, self.planner,
                                                             self.planned_chunk, first_round=rnd)
        await self._open_desks(rnd)

    async def _open_desks(self, rnd: int) -> None:
        """Chunks some roles may read but no channel of theirs may carry: open one channel at each such label with
        every agent who may read it, then plan those chunks (nothing an agent may read goes unread)."""
        waiting, self.planner.unplanned = self.planner.unplanned, []
        if not waiting or self.system is None:
            return
        for level, mask in dict.fromkeys((lab.level, lab.mask) for _, _, lab in waiting):
            label = self.scheme.from_ints(level, mask)
            self.planner.channel_added()
            if self.planner.speakers(label):
                continue  # a channel opened for an earlier label of this batch carries this one too
            await self._open(label, self.planner.may_read(label), "desk", "where {depts} may discuss documents "
                             "held at this label")
        self.planner.channel_added()
        self.planner.planned -= len(waiting)
        await reading_plan.plan_chunks(self.run_id, self.workspace_id, self.planner, waiting, rnd)

    async def _open(self, label: Label, positions: list[int], kind: str, purpose: str) -> ChannelInfo:
        """Open a channel at ``label`` for these agents (all of whom dominate it), audited like any channel."""
        assert self.system is not None
        name = _channel_name(kind, label)
        depts = sorted({self.pop.roles[self.pop.role[p]].department for p in positions})
        topic = f"Opened by the agent runtime {purpose.format(depts=', '.join(depts))}"[:1000]
        try:
            created = await create_channel(self.system, name, topic, label)
        except Conflict:  # an archived channel of that name from an earlier run
            created = await create_channel(self.system, f"{name[:70]}-{self.run_id}", topic, label)
        await add_members_bulk(self.system, int(created["id"]), [self.pop.ids[p] for p in positions])
        info = ChannelInfo(int(created["id"]), str(created["name"]), topic, label)
        self.pop.add_channel(info, positions)
        self._eligible.clear()
        return info

    async def observe(self, rnd: int, messages: Mapping[int, Msg] | None = None) -> None:
        """New documents join the library and the plan; new claims go on the blackboard and yield links.

        Claims are taken in the order of the messages that carried them (``messages``' keys: channel and ``seq``),
        not of their ids: the shards of a round commit in any order, and what the blackboard holds, the links it
        yields and their ranking must not depend on it. A claim is known by its place in that order."""
        if await self.library.load(self.workspace_id):
            self.planned_chunk = await reading_plan.extend_plan(self.run_id, self.workspace_id, self.planner,
                                                                 self.planned_chunk, first_round=rnd)
            await self._open_desks(rnd)
        rows: list[dict[str, Any]] = []
        while True:
            page = await run_claims_after(self.run_id, self.board.cursor)
            if not page:
                break
            self.board.cursor = int(page[-1]["id"])
            rows += page
        seen = messages or {}

        def order(r: dict[str, Any]) -> tuple[int, int, int]:
            m = seen.get(int(r["message"] or 0))
            return (0, m.key, int(r["id"])) if m is not None else (1, int(r["round"]), int(r["id"]))

        rows.sort(key=order)
        fresh_posts: list[Posted] = []
        for r in rows:
            if r["kind"] != "fact":
                continue
            span = self.library.facts.get(f"{r['document']}:{r['chunk']}:{r['span_start']}:{r['span_end']}")
            if span is None:
                continue
            self.claims_seen += 1
            p = Posted(self.claims_seen, span, int(r["message"] or 0), int(r["channel"]), int(r["author"]),
                       str(r["role"]), str(r["department"]), int(r["round"]))
            fresh_posts.append(p)
            self.by_message.setdefault(p.message, []).append(p)
            self.by_channel.setdefault(p.channel, []).append(p)
            self.passed.add((span.key, p.channel))
        fresh = self.board.add(fresh_posts)
        self.pending.extend(self.board.links(fresh))  # find_links keeps only pairs that mean something together
        self.pending.sort(key=lambda lk: (-lk.score, lk.a.key, lk.b.key))

    def absorb(self, rows: Sequence[Mapping[str, Any]], messages: Mapping[int, Msg]) -> None:
        """What a round's posts said, as their shards stored it (``posting.round_turns``; ``messages`` already
        observed): the guard's index holds what was posted (this round's planned entries give way to it), a
        question's fact is asked about, a thread knows the facts stated in it, a role the facts its agents read."""
        kept: set[str] = set()
        for r in rows:
            key, gist = str(r["key"] or ""), str(r["gist"] or "")
            if gist and self._planned.get(key) == gist:
                kept.add(key)  # posted as planned: its entry stays
            elif gist:
                self.posts.check_and_add(("posted", key), gist)
        for key in set(self._planned) - kept:
            self.posts.remove(("planned", key))
        self._planned = {}
        for r in rows:
            message = int(r["message"])
            if r["asked"]:
                self.asked[message] = str(r["asked"])
                self.asked_about.add(str(r["asked"]))
            spans = [self.library.facts[k] for k in r["facts"] if k in self.library.facts]
            if not spans:
                continue
            msg = messages.get(message)
            if msg is not None and msg.root is not None:
                self.thread_of.setdefault(msg.root, []).append(message)
            pos = self.pop.index.get(int(r["agent"]))
            if pos is not None:
                self.learned(self.pop.role[pos], spans)

    def learned(self, role: int, spans: Sequence[FactSpan]) -> None:
        """A role's agents read these facts: their words now draw its agents to related posts (triage)."""
        words = self.interest.setdefault(role, set())
        for s in spans:
            words |= content_words(s.fact.text)

    # -- links ---------------------------------------------------------------------------------------------------

    async def open_join_channels(self) -> int:
        """For pending links no channel may carry (none at or above both labels: most orgs have no channel for
        two compartments at once), open one at their least upper bound whose members are agents who may read
        both, and who already see one of the two claims first. Returns how many channels were opened."""
        opened = 0
        for lk in self.pending:
            a, b = self.board.posted[lk.a.key], self.board.posted[lk.b.key]
            lub = self.scheme.lub([a.span.label, b.span.label])
            if any(c.label.dominates(lub) for c in self.pop.channels.values()):
                continue
            able = [p for p in range(len(self.pop)) if self.pop.level[p] >= lub.level
                    and (self.pop.mask[p] & lub.mask) == lub.mask and self.pop.chanset[p]]
            if not able:
                continue
            saw = {*self.pop.channels[a.channel].members, *self.pop.channels[b.channel].members}
            able.sort(key=lambda p: (p not in saw, self.pop.role[p], p))
            await self._open(lub, able[:JOIN_MEMBERS], "join", "so that {depts} can read facts held by "
                             "different teams together")
            opened += 1
        if opened:
            self.planner.channel_added()
        return opened

    def route_links(self, rnd: int, busy: set[int], skip: set[int]) -> list[Routed]:
        """Up to this round's share of pending links, each with a linker and a channel; links nobody may state
        (no agent, or no channel, at or above both labels) are dropped."""
        quota = max(LINKS_PER_ROUND, len(self.pop) // 100)
        out: list[Routed] = []
        keep: list[Link] = []
        stated: dict[int, int] = {}
        for lk in self.pending:
            if len(out) >= quota:
                keep.append(lk)
                continue
            routed = self._route(lk, rnd, busy | skip)
            if isinstance(routed, Routed):
                stated[routed.position] = stated.get(routed.position, 0) + 1
                if stated[routed.position] >= LINKS_PER_LINKER:
                    busy.add(routed.position)
                out.append(routed)
            elif routed == "busy":
                keep.append(lk)  # everyone who may state it is busy this round: next round
        self.pending = keep
        return out

    def _route(self, lk: Link, rnd: int, busy: set[int]) -> Routed | str:
        """The link's linker and channel, or why not: "busy" (try again next round) or "nobody" (no agent and
        channel at or above both labels: it cannot be said anywhere)."""
        a, b = self.board.posted[lk.a.key], self.board.posted[lk.b.key]
        lub = self.scheme.lub([a.span.label, b.span.label])
        chs = self.pop.channels
        others = sorted((c for c in chs if c not in (a.channel, b.channel)),
                        key=lambda c: (chs[c].label.level, bin(chs[c].label.mask).count("1"), c))
        chans = [a.channel, b.channel, *others]
        waiting = False
        for ch in chans:
            info = self.pop.channels.get(ch)
            if info is None or not info.label.dominates(lub):
                continue
            able = [p for p in self._eligible_members(ch, lub) if self.pop.ids[p] not in (a.author, b.author)]
            cands = [p for p in able if p not in busy]
            if able and not cands:
                waiting = True
            if not cands:
                continue
            depts = {a.department, b.department}
            stable = f"{a.span.fact.start}:{b.span.fact.start}:{a.span.fact.text[:40]}"  # ids differ by workspace
            cands.sort(key=lambda p: (self.pop.roles[self.pop.role[p]].department in depts,
                                      zlib.crc32(f"{self.seed}:{rnd}:{stable}:{p}".encode())))
            first, second = (a, b) if ch != b.channel else (b, a)
            answering = first.message if ch == first.channel and first.message else None
            link = lk if first is a else Link(lk.b, lk.a, lk.shared, lk.score, lk.kind, lk.relation, lk.consequence)
            return Routed(link, first, second, cands[0], ch, answering, lub)
        return "busy" if waiting else "nobody"

    def _eligible_members(self, channel: int, label: Label) -> list[int]:
        """Positions of the channel's members whose clearance dominates ``label`` (a sample of at most 4,000)."""
        key = (channel, label.level, label.mask)
        hit = self._eligible.get(key)
        if hit is None:
            members = self.pop.channels[channel].members
            step = max(1, len(members) // 4000)
            hit = [p for p in members[::step] if self.pop.level[p] >= label.level
                   and (self.pop.mask[p] & label.mask) == label.mask]
            self._eligible[key] = hit
        return hit

    # -- what other turns say -------------------------------------------------------------------------------------

    def may_state(self, position: int, channel: int, span: FactSpan) -> bool:
        """The one check before an agent repeats a fact: the agent may read it and the channel may carry it."""
        level, mask = self.pop.level[position], self.pop.mask[position]
        scope = self._scopes.get((level, mask, channel))
        if scope is None:  # the agents of one clearance share it: computed once per clearance and channel
            agent = self.scheme.from_ints(level, mask)
            scope = self._scopes[(level, mask, channel)] = agent_scope(agent, self.pop.channels[channel].label)
        return scope.dominates(span.label)

    def _weight(self, span: FactSpan) -> float:
        """A fact's severity, or -1 when it is neutral (the planner asks of the same facts every turn)."""
        w = self._weights.get(span.key)
        if w is None:
            w = self._weights[span.key] = -1.0 if span.fact.kind == "neutral" else span.fact.severity
        return w

    def repeats(self, text: str, task: str, key: str) -> bool:
        """Whether a turn that is to say ``text`` (its gist: the facts it states) nearly repeats a post of this run or
        a turn planned before it in this round (a reading note is indexed but never refused: it is the first
        statement of its passage's facts). Planned turns are indexed until the round's posts are read back."""
        dup = self.posts.check_and_add(("planned", key), text) is not None
        self._planned[key] = text
        return dup and task != "read"

    def stated_in_thread(self, message: Msg) -> set[str]:
        """Fact keys already stated in the thread of ``message`` (its root and the replies this run has seen)."""
        root = message.root if message.root is not None else message.id
        out = {p.span.key for p in self.by_message.get(root, ())}
        for mid in self.thread_of.get(root, ()):
            out |= {p.span.key for p in self.by_message.get(mid, ())}
        return out

    def weightiest(self, message: int, skip: set[str] | frozenset[str] = frozenset()) -> Posted | None:
        """The weightiest claim a message carried (leaving out the facts in ``skip``)."""
        claims = [p for p in self.by_message.get(message, ()) if p.span.key not in skip]
        return max(claims, key=lambda p: (p.span.fact.severity, -p.id)) if claims else None

    def to_pass(self, position: int) -> tuple[Posted, int] | None:
        """A weighty claim from one of the agent's channels that another of its channels, reaching other
        departments, has not seen yet: (claim, target channel)."""
        chans = self.pop.channels_of(position)
        best: tuple[float, int, Posted, int] | None = None
        for src in chans:
            for p in self.by_channel.get(src, ())[-50:]:
                score = self._weight(p.span)
                if score < 0 or p.span.key in self.carried:
                    continue
                for dst in chans:
                    if dst == src or (p.span.key, dst) in self.passed or not self.may_state(position, dst, p.span):
                        continue
                    if best is None or (score, -p.id) > (best[0], -best[2].id):
                        best = (score, p.id, p, dst)
        return (best[2], best[3]) if best is not None else None

    def answer_for(self, position: int, channel: int, about: FactSpan) -> FactSpan | None:
        """A fact the agent may state in ``channel`` from another document about the same distinctive thing."""
        corpus = self.library.corpus
        keys = [k for k in about.fact.entities if corpus.distinctive(k)]
        for k in keys:
            for s in self.board.by_key.get(k, ()):
                span = self.board.posted[s.key].span
                if span.document != about.document and self.may_state(position, channel, span):
                    return span
        return None


def planned_turn(pos: int, kind: str, channel: int, answering: int | None = None) -> Planned:
    return Planned(pos, kind, "post", channel, answering)
