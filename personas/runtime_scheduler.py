"""Who acts in a round of a DB-backed run, at 100,000 agents: a compact population (arrays, no persona objects),
the run's conversational state (inboxes, new thread roots, recent messages per channel, read from the database
by message id), and :meth:`Planner.plan` following :mod:`personas.simcore`'s policy: (1) agents with messages
addressed to them answer in the thread, (2) sampled channel members triage each new root (respond, react or
ignore: a word-set intersection, no generation), (3) the rest speak unprompted with probability ``activity``
(a seeded hash per agent and round). Deterministic for a seed. Prompts and posting: runtime_turns.py.
"""

from __future__ import annotations

import json
import random
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from personas.quality import content_words
from personas.simcore import (
    CONTINUE_DECAY,
    MAX_THREAD_REPLIES,
    NOTIFIED_PER_ROUND,
    REPLY_BACK,
    TRIAGE_REPLIES_PER_ROOT,
    TRIAGE_WINDOW,
)
from workspace import db as dbmod
from workspace.labels import Label, LabelScheme

TRIAGE_VIEWERS = 48  # members of a channel who look at one new root post in a round (attention is finite)
TRIAGE_REACTIONS_PER_ROOT = 2  # more thumbs-up on one post say nothing new (and each costs a write)
RECENT = 8  # recent messages per channel kept for prompts
PAGE = 20_000
_M64 = (1 << 64) - 1


def unit(*parts: int) -> float:
    """A uniform number in [0, 1) from integers (splitmix64): the seeded per-agent draw, ~1 us in Python."""
    x = 0
    for p in parts:
        x = (x ^ (p & _M64)) * 0x9E3779B97F4A7C15 & _M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
        x ^= x >> 31
    return x / 18446744073709551616.0


@dataclass(frozen=True, slots=True)
class RoleInfo:
    id: int
    name: str
    department: str
    interest: frozenset[str]
    traits: tuple[str, ...]


@dataclass(slots=True)
class ChannelInfo:
    id: int
    name: str
    topic: str
    label: Label
    vocab: frozenset[str]
    members: array[int] = field(default_factory=lambda: array("i"))  # population positions
    higher: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(slots=True)
class Msg:
    """A message the run has seen (its own agents' and anybody else's)."""

    id: int
    key: int  # (channel's position, seq): the same in any workspace loaded from one scenario, unlike the id
    channel: int
    author: int  # member id
    handle: str
    body: str
    root: int | None
    depth: int
    round: int


class Population:
    """Every agent of a workspace as parallel arrays indexed by position (member id order); personas are fetched
    only for the agents that act (runtime_turns). About 60 bytes per agent."""

    def __init__(self) -> None:
        self.ids = array("q")
        self.role = array("i")
        self.activity = array("d")
        self.level = array("i")
        self.chanset = array("i")  # index into self.chansets (agents of one role share a tuple)
        self.chansets: list[tuple[int, ...]] = []
        self.index: dict[int, int] = {}
        self.roles: dict[int, RoleInfo] = {}
        self.channels: dict[int, ChannelInfo] = {}
        self.chan_order: dict[int, int] = {}

    def msg_key(self, channel: int, seq: int) -> int:
        return self.chan_order.get(channel, 0xFFFF) << 32 | seq

    def __len__(self) -> int:
        return len(self.ids)

    def channels_of(self, pos: int) -> tuple[int, ...]:
        return self.chansets[self.chanset[pos]]


async def load_population(workspace_id: int, scheme: LabelScheme) -> Population:
    """Stream agents, roles, channels and memberships of the workspace into a :class:`Population`."""
    database = dbmod.current()
    pop = Population()
    for r in await database.fetch("SELECT id, name, department, traits, goals, concerns FROM personas_role "
                                  "WHERE workspace = {}", workspace_id):
        interest = content_words(" ".join(json.loads(r["goals"]) + json.loads(r["concerns"])))
        pop.roles[int(r["id"])] = RoleInfo(int(r["id"]), r["name"], r["department"], frozenset(interest),
                                           tuple(json.loads(r["traits"])))
    last = 0
    while True:
        rows = await database.fetch(
            "SELECT m.id, p.role, p.activity, m.label_level FROM personas_persona p JOIN chorus_member m "
            "ON m.id = p.member WHERE p.workspace = {} AND m.id > {} ORDER BY m.id LIMIT {}",
            workspace_id, last, PAGE)
        if not rows:
            break
        for r in rows:
            pop.index[int(r["id"])] = len(pop.ids)
            pop.ids.append(int(r["id"]))
            pop.role.append(int(r["role"]))
            pop.activity.append(float(r["activity"]))
            pop.level.append(int(r["label_level"]))
        last = int(rows[-1]["id"])
    docs = await database.fetch("SELECT title, body, label_level, label_mask FROM personas_document "
                                "WHERE workspace = {}", workspace_id)
    doc_words = [(scheme.from_ints(d["label_level"], d["label_mask"]), content_words(d["title"] + " " + d["body"]))
                 for d in docs]
    for c in await database.fetch("SELECT id, name, topic, label_level, label_mask FROM chorus_channel "
                                  "WHERE workspace = {} AND archived = {} ORDER BY id", workspace_id, False):
        label = scheme.from_ints(c["label_level"], c["label_mask"])
        vocab = set(content_words(c["topic"]))
        for dlabel, words in doc_words:
            if label.dominates(dlabel):
                vocab |= words
        pop.chan_order[int(c["id"])] = len(pop.channels)
        pop.channels[int(c["id"])] = ChannelInfo(int(c["id"]), c["name"], c["topic"], label, frozenset(vocab))
    per_agent: dict[int, list[int]] = {}
    last = 0
    while True:
        rows = await database.fetch(
            "SELECT cm.id, cm.channel, cm.member FROM chorus_channel_member cm JOIN chorus_channel c "
            "ON c.id = cm.channel WHERE c.workspace = {} AND c.archived = {} AND cm.id > {} ORDER BY cm.id LIMIT {}",
            workspace_id, False, last, PAGE)
        if not rows:
            break
        for r in rows:
            pos = pop.index.get(int(r["member"]))
            if pos is not None:
                per_agent.setdefault(pos, []).append(int(r["channel"]))
        last = int(rows[-1]["id"])
    interned: dict[tuple[int, ...], int] = {(): 0}
    pop.chansets.append(())
    for pos in range(len(pop.ids)):
        chans = tuple(sorted(per_agent.get(pos, ())))
        k = interned.get(chans)
        if k is None:
            k = interned[chans] = len(pop.chansets)
            pop.chansets.append(chans)
        pop.chanset.append(k)
        for ch in chans:
            pop.channels[ch].members.append(pos)
    return pop


@dataclass(frozen=True, slots=True)
class Planned:
    """One agent's part in a round. ``action``: post | react | ignore; ``kind``: notified | triage | unprompted.
    ``channel`` is None for unprompted posts (the turn picks the channel that fits the persona's focus)."""

    pos: int
    kind: str
    action: str
    channel: int | None = None
    answering: int | None = None


class RunState:
    """What the run remembers between rounds: messages seen (for threads and inboxes), new roots, recent
    messages per channel, and the cursor (highest message id read)."""

    def __init__(self, pop: Population) -> None:
        self.pop = pop
        self.messages: dict[int, Msg] = {}
        self.inbox: dict[int, deque[int]] = {}
        self.thread_replies: dict[int, int] = {}
        self.new_roots: dict[int, list[int]] = {}
        self.recent: dict[int, deque[Msg]] = {}
        self.cursor = 0
        self.reply_to: dict[int, int] = {}  # own posts: message id -> the message it answers

    async def start(self, workspace_id: int) -> None:
        """Begin after the newest message; remember the last few of each channel as prompt context."""
        database = dbmod.current()
        top = await database.fetch("SELECT COALESCE(MAX(m.id), 0) AS top FROM chorus_message m JOIN chorus_channel c "
                                   "ON c.id = m.channel WHERE c.workspace = {}", workspace_id)
        self.cursor = int(top[0]["top"])
        for ch in self.pop.channels:
            rows = await database.fetch(
                "SELECT id, seq, channel, author, author_handle, body, thread_of FROM chorus_message WHERE "
                "channel = {} AND deleted = {} ORDER BY seq DESC LIMIT {}", ch, False, RECENT)
            for r in reversed(rows):
                self._remember(Msg(int(r["id"]), self.pop.msg_key(ch, int(r["seq"])), ch, int(r["author"]),
                                   r["author_handle"], r["body"], r["thread_of"], 0, 0))

    def _remember(self, msg: Msg) -> None:
        self.recent.setdefault(msg.channel, deque(maxlen=RECENT)).append(msg)

    async def observe(self, workspace_id: int, rnd: int) -> int:
        """Read every message posted in the workspace since the cursor and route it: new roots to triage, replies
        and @-mentions to the inboxes of the agents they address. Returns how many were read."""
        database = dbmod.current()
        count = 0
        while True:
            rows = await database.fetch(
                "SELECT m.id, m.seq, m.channel, m.author, m.author_handle, m.body, m.thread_of FROM chorus_message m "
                "JOIN chorus_channel c ON c.id = m.channel WHERE c.workspace = {} AND m.id > {} AND m.deleted = {} "
                "ORDER BY m.id LIMIT {}", workspace_id, self.cursor, False, PAGE)
            if not rows:
                return count
            first, last = int(rows[0]["id"]), int(rows[-1]["id"])
            mentions: dict[int, list[int]] = {}
            for r in await database.fetch("SELECT message, member FROM chorus_mention WHERE message >= {} AND "
                                          "message <= {} ORDER BY id", first, last):
                mentions.setdefault(int(r["message"]), []).append(int(r["member"]))
            for r in rows:
                self._route(r, mentions.get(int(r["id"]), []), rnd)
            count += len(rows)
            self.cursor = last

    def _route(self, r: dict[str, Any], mentioned: list[int], rnd: int) -> None:
        mid, author = int(r["id"]), int(r["author"])
        root = int(r["thread_of"]) if r["thread_of"] is not None else None
        parent = self.messages.get(self.reply_to.pop(mid, -1)) if root is not None else None
        if root is not None and parent is None:
            parent = self.messages.get(root)
        depth = 0 if root is None else (parent.depth + 1 if parent is not None else 1)
        msg = Msg(mid, self.pop.msg_key(int(r["channel"]), int(r["seq"])), int(r["channel"]), author,
                  r["author_handle"], r["body"], root, depth, rnd)
        self.messages[mid] = msg
        self._remember(msg)
        if root is None:
            if msg.channel in self.pop.channels:
                self.new_roots.setdefault(msg.channel, []).append(mid)
            return
        self.thread_replies[root] = self.thread_replies.get(root, 0) + 1
        targets = [parent.author] if parent is not None else []
        targets += [m for m in mentioned if m not in targets]
        for member in targets:
            pos = self.pop.index.get(member)
            if pos is not None and member != author:
                self.inbox.setdefault(pos, deque()).append(mid)

    def forget_before(self, rnd: int) -> None:
        """Drop messages of rounds long gone (threads die out after a few exchanges); keeps memory flat."""
        old = [mid for mid, m in self.messages.items() if 0 < m.round < rnd]
        for mid in old:
            del self.messages[mid]
        live = set(self.messages)
        self.thread_replies = {k: v for k, v in self.thread_replies.items() if k in live}


class Planner:
    """Plans rounds over a :class:`Population` and :class:`RunState`, deterministically for ``seed``."""

    def __init__(self, pop: Population, state: RunState, seed: int) -> None:
        self.pop = pop
        self.state = state
        self.seed = seed
        self._root_words: dict[int, frozenset[str]] = {}

    def plan(self, rnd: int, skip: set[int] | None = None) -> list[Planned]:
        """The turns of round ``rnd``; agents in ``skip`` (killed) take no part at all."""
        acted: set[int] = set(skip or ())
        out: list[Planned] = []
        self._notified(rnd, acted, out)
        ignored = self._triage(rnd, acted, out)
        out.extend(Planned(pos, "triage", "ignore") for pos in sorted(ignored - acted))
        if skip:
            out = [p for p in out if p.pos not in skip]
        self._unprompted(rnd, acted, out)
        return out

    def _notified(self, rnd: int, acted: set[int], out: list[Planned]) -> None:
        st = self.state
        for pos in sorted(st.inbox):
            queue, done = st.inbox[pos], 0
            while queue and done < NOTIFIED_PER_ROUND:
                mid = queue.popleft()
                msg = st.messages.get(mid)
                if msg is None:
                    continue
                root = msg.root if msg.root is not None else msg.id
                chance = REPLY_BACK * CONTINUE_DECAY ** max(0, msg.depth - 1)
                if st.thread_replies.get(root, 0) >= MAX_THREAD_REPLIES or \
                        unit(self.seed, rnd, 1, pos, msg.key) >= chance:
                    continue
                if msg.channel not in self.pop.channels_of(pos):
                    continue  # mentioned in a channel it cannot post in
                out.append(Planned(pos, "notified", "post", msg.channel, mid))
                acted.add(pos)
                done += 1
        st.inbox = {p: q for p, q in st.inbox.items() if q}

    def _words(self, mid: int) -> frozenset[str]:
        words = self._root_words.get(mid)
        if words is None:
            words = self._root_words[mid] = frozenset(content_words(self.state.messages[mid].body))
        return words

    def _triage(self, rnd: int, acted: set[int], out: list[Planned]) -> set[int]:
        pop, st = self.pop, self.state
        roots, st.new_roots = st.new_roots, {}
        self._root_words = {}
        ignored: set[int] = set()
        looked: dict[int, int] = {}
        for ch in sorted(roots):
            members = pop.channels[ch].members
            if not members:
                continue
            for mid in roots[ch]:
                msg = st.messages[mid]
                rng = random.Random(f"{self.seed}:{rnd}:t:{msg.key}")
                sample = rng.sample(range(len(members)), min(TRIAGE_VIEWERS, len(members)))
                words = self._words(mid)
                drawn = reacted = 0
                for i in sample:
                    pos = members[i]
                    roll = rng.random()
                    if pos in acted or pop.ids[pos] == msg.author or looked.get(pos, 0) >= TRIAGE_WINDOW:
                        continue
                    looked[pos] = looked.get(pos, 0) + 1
                    overlap = len(pop.roles[pop.role[pos]].interest & words)
                    p_respond = min(0.6, 0.08 * overlap) * min(1.0, 8 * pop.activity[pos])
                    if roll < p_respond and drawn < TRIAGE_REPLIES_PER_ROOT:
                        drawn += 1
                        out.append(Planned(pos, "triage", "post", ch, mid))
                        acted.add(pos)
                    elif roll < p_respond + 0.05 * min(overlap, 3) and reacted < TRIAGE_REACTIONS_PER_ROOT:
                        reacted += 1
                        out.append(Planned(pos, "triage", "react", ch, mid))
                        acted.add(pos)
                    else:
                        ignored.add(pos)
        return ignored

    def _unprompted(self, rnd: int, acted: set[int], out: list[Planned]) -> None:
        pop, seed = self.pop, self.seed
        activity, chanset = pop.activity, pop.chanset
        for pos in range(len(pop)):  # by position, not member id: the same draw in any workspace of a scenario
            if chanset[pos] == 0 or unit(seed, rnd, 3, pos) >= activity[pos] or pos in acted:
                continue
            out.append(Planned(pos, "unprompted", "post"))
