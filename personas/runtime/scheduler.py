"""Who acts in a round of a DB-backed run, at 100,000 agents: a compact population (arrays, no persona objects),
the run's conversational state (inboxes, new thread roots, recent messages per channel, read from the database
by message id), and :meth:`Planner.plan` following the policy the constants below set: (1) agents with messages
addressed to them answer in the thread, (2) sampled channel members triage each new root (respond, react or
ignore: a word-set intersection, no generation), (3) the rest speak unprompted with probability ``activity``
(a seeded hash per agent and round). Deterministic for a seed. Prompts and posting: turns.py.
"""

from __future__ import annotations

import json
import random
from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.services import (
    latest_messages,
    memberships_after,
    mentions_between,
    messages_after,
    top_message_id,
    workspace_channels,
)
from workspace import db as dbmod
from workspace.labels import Label, LabelScheme
from workspace.text import content_words

REPLY_BACK = 0.85  # chance that a notified agent answers a reply to its own message
CONTINUE_DECAY = 0.75  # each further exchange in a thread is this much less likely
MAX_THREAD_REPLIES = 10  # a thread stops drawing replies past this
NOTIFIED_PER_ROUND = 3  # replies one agent writes per round to messages addressed to it
TRIAGE_WINDOW = 4  # new root posts per channel an agent looks at in one round
TRIAGE_REPLIES_PER_ROOT = 2  # replies a root can draw from triage in one round
TRIAGE_VIEWERS = 48  # members of a channel who look at one new root post in a round (attention is finite)
TRIAGE_REACTIONS_PER_ROOT = 2  # more thumbs-up on one post say nothing new (and each costs a write)
RECENT = 8  # recent messages per channel kept for prompts
PAGE = 20_000
_NOTHING: frozenset[str] = frozenset()
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
    traits: tuple[str, ...]


@dataclass(slots=True)
class ChannelInfo:
    id: int
    name: str
    topic: str
    label: Label
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
    only for the agents that act (turns.py). About 60 bytes per agent."""

    def __init__(self) -> None:
        self.ids = array("q")
        self.role = array("i")
        self.activity = array("d")
        self.level = array("i")
        self.mask = array("q")
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

    def add_channel(self, channel: ChannelInfo, positions: Sequence[int]) -> None:
        """A channel opened during the run, with these agents as its members."""
        self.chan_order[channel.id] = len(self.channels)
        self.channels[channel.id] = channel
        interned = {cs: k for k, cs in enumerate(self.chansets)}
        for pos in positions:
            chans = tuple(sorted({*self.channels_of(pos), channel.id}))
            k = interned.get(chans)
            if k is None:
                k = interned[chans] = len(self.chansets)
                self.chansets.append(chans)
            self.chanset[pos] = k
            channel.members.append(pos)


async def load_population(workspace_id: int, scheme: LabelScheme) -> Population:
    """Stream agents, roles, channels and memberships of the workspace into a :class:`Population`."""
    database = dbmod.current()
    pop = Population()
    for r in await database.fetch("SELECT id, name, department, traits FROM personas_role WHERE workspace = {}",
                                  workspace_id):
        pop.roles[int(r["id"])] = RoleInfo(int(r["id"]), r["name"], r["department"], tuple(json.loads(r["traits"])))
    last = 0
    while True:
        rows = await database.fetch(
            "SELECT m.id, p.role, p.activity, m.label_level, m.label_mask FROM personas_persona p JOIN chorus_member m "
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
            pop.mask.append(int(r["label_mask"]))
        last = int(rows[-1]["id"])
    for c in await workspace_channels(workspace_id):
        label = scheme.from_ints(c["label_level"], c["label_mask"])
        pop.chan_order[int(c["id"])] = len(pop.channels)
        pop.channels[int(c["id"])] = ChannelInfo(int(c["id"]), c["name"], c["topic"], label)
    per_agent: dict[int, list[int]] = {}
    last = 0
    while True:
        rows = await memberships_after(workspace_id, last, PAGE)
        if not rows:
            break
        for r in rows:
            pos = pop.index.get(int(r["member"]))
            # a channel created after the channels were read (another run of the workspace opening one) waits
            # for the next load: a membership of a channel this population does not hold yet is skipped
            if pos is not None and int(r["channel"]) in pop.channels:
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
        self.cursor = await top_message_id(workspace_id)
        for ch in self.pop.channels:
            for r in await latest_messages(ch, RECENT):
                self._remember(Msg(int(r["id"]), self.pop.msg_key(ch, int(r["seq"])), ch, int(r["author"]),
                                   r["author_handle"], r["body"], r["thread_of"], 0, 0))

    def _remember(self, msg: Msg) -> None:
        self.recent.setdefault(msg.channel, deque(maxlen=RECENT)).append(msg)

    async def observe(self, workspace_id: int, rnd: int) -> int:
        """Read every message posted in the workspace since the cursor and route it: new roots to triage, replies
        and @-mentions to the inboxes of the agents they address. Returns how many were read.

        Routed in the order of their keys (channel, ``seq``), not of their ids: a round's shards commit in any
        order, and who answers what must not depend on it."""
        rows: list[dict[str, Any]] = []
        mentions: dict[int, list[int]] = {}
        while True:
            page = await messages_after(workspace_id, self.cursor, PAGE)
            if not page:
                break
            first, last = int(page[0]["id"]), int(page[-1]["id"])
            mentions.update(await mentions_between(first, last))
            rows += page
            self.cursor = last
        key = self.pop.msg_key
        rows.sort(key=lambda r: (key(int(r["channel"]), int(r["seq"])), int(r["channel"])))
        for r in rows:
            if not r["deleted"]:
                self._route(r, mentions.get(int(r["id"]), []), rnd)
        return len(rows)

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
        self.interest: dict[int, set[str]] = {}
        """role -> the words of what its agents have read: what draws them to a new post (set by discovery)."""

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
                    overlap = len(self.interest.get(pop.role[pos], _NOTHING) & words)
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
