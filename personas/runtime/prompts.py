"""What each planned turn asks the provider: the persona (voice only), the channel, and what the turn may say,
taken from passages the agent may read under the channel's label. A reading states the facts of its chunk; a link
puts two claims together; a reply asks what is unknown about the claim it answers, or answers a question with a
fact from another document; an agent with nothing left to read carries a weighty claim to another channel.
Planning a round is turns.py; carrying its turns out is shards.py.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from typing import Any

from personas.llm.base import (
    ChannelInfo as PromptChannel,
)
from personas.llm.base import (
    ContextMessage,
    Intent,
    LinkRef,
    PersonaInfo,
    Snippet,
    Task,
    TurnRequest,
    TurnResult,
)
from personas.runtime.budgets import Reservation
from personas.runtime.claims import FactSpan
from personas.runtime.discover import Discovery, Routed
from personas.runtime.plan import Due
from personas.runtime.scheduler import ChannelInfo, Msg, Planned, Population
from workspace.actor import Actor
from workspace.labels import LabelScheme

MAX_FACTS = 12  # facts one reading message states (a chunk rarely holds more)
CORROBORATE = 2  # facts a second reader repeats


@functools.lru_cache(maxsize=65_536)
def strings(text: str) -> tuple[str, ...]:
    """A persona's JSON list of traits, decoded once (agents of one role share them)."""
    return tuple(json.loads(text))


@dataclass
class Turn:
    """One planned turn on its way through the round."""

    plan: Planned
    member_id: int
    department: str
    role: str = ""
    role_id: int = 0
    actor: Actor | None = None
    channel: int | None = None
    task: Task | str = ""
    intent: str = ""
    request: TurnRequest | None = None
    offered: list[FactSpan] = field(default_factory=list)
    routed: Routed | None = None
    reading: Due | None = None
    target: int | None = None  # where a carried claim goes
    stated: list[FactSpan] = field(default_factory=list)
    chunks: list[int] = field(default_factory=list)  # chunks the turn read
    reservation: Reservation | None = None
    result: TurnResult | None = None
    latency_ms: float = 0.0
    outcome: str = ""
    reason: str = ""
    message: int | None = None
    index: int = 0  # position in the round
    key: str = ""  # the turn's key (turns.py): its row's, its post's client_msg_id

    @property
    def documents(self) -> list[int]:
        """Documents the turn read (the chunks it was given to read, not facts it saw in messages)."""
        return sorted({s.document for s in self.offered if s.chunk in self.chunks})


def persona(row: dict[str, Any], label_tier: str) -> PersonaInfo:
    """The voice: traits only. Goals and concerns are not given to the writer: they never decide content."""
    return PersonaInfo(row["handle"], row["role"], row["department"], label_tier, strings(row["traits"]), (), (),
                       row["language"])


def context_message(pop: Population, scheme: LabelScheme, m: Msg) -> ContextMessage:
    pos = pop.index.get(m.author)
    role = pop.roles[pop.role[pos]].name if pos is not None else ""
    tier = scheme.tiers[pop.level[pos]] if pos is not None else ""
    channel = pop.channels[m.channel].name if m.channel in pop.channels else ""
    return ContextMessage(m.id, m.handle, role, tier, m.body, 0, m.root, channel)


def request(turn: Turn, channel: ChannelInfo, info: PersonaInfo, task: Task, intent: Intent, seed: int,
            recent: tuple[ContextMessage, ...], answering: ContextMessage | None,
            facts: list[FactSpan], link: LinkRef | None = None, passage: Snippet | None = None,
            tier_level: int = 0) -> TurnRequest:
    turn.task = task
    turn.intent = intent
    turn.offered = facts
    return TurnRequest(persona=info, channel=PromptChannel(channel.name, channel.topic, channel.label.tier),
                       task=task, intent=intent, seed=seed, recent=recent, answering=answering, passage=passage,
                       facts=tuple(f.ref() for f in facts), link=link, tier_level=tier_level)


def reading_facts(disc: Discovery, due: Due) -> list[FactSpan]:
    """What a reader states from its chunk: every fact (the primary reader), or the weightiest two (a second
    reader, from its own desk), in document order."""
    spans = sorted(disc.library.of_chunk(due.chunk), key=lambda s: s.start)
    if due.primary:
        return spans[:MAX_FACTS]
    weighty = sorted(spans, key=lambda s: (s.fact.kind == "neutral", -s.fact.severity, s.start))[:CORROBORATE]
    return sorted(weighty, key=lambda s: s.start)


def passage(disc: Discovery, chunk: int) -> Snippet | None:
    text = disc.library.chunk_text.get(chunk)
    if text is None:
        return None
    span = next(iter(disc.library.of_chunk(chunk)), None)
    doc = span.document if span is not None else 0
    return Snippet(str(doc), disc.library.titles.get(doc, ""), text)


def link_ref(routed: Routed) -> LinkRef:
    lk = routed.link
    entity = _display(lk.shared, routed.a.span, routed.b.span)
    consequence = lk.consequence
    return LinkRef(routed.a.span.ref(), routed.b.span.ref(), lk.relation, consequence, entity)


def _display(shared: tuple[str, ...], a: FactSpan, b: FactSpan) -> str:
    key = shared[0] if shared else ""
    for text in (a.fact.text, b.fact.text):
        at = text.lower().find(key.lower()) if key else -1
        if at >= 0:
            return text[at:at + len(key)]
    return key


def with_changes(req: TurnRequest, **changes: Any) -> TurnRequest:
    return replace(req, **changes)
