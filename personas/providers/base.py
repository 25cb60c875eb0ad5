"""The provider interface of the agent runtime: what one turn asks for (:class:`TurnRequest`) and what it returns
(:class:`TurnResult`), plus a cheap approximate token counter. No provider implementation lives here.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Intent = Literal["reply", "agree", "disagree", "ask", "escalate", "new_topic"]
INTENTS: tuple[Intent, ...] = ("reply", "agree", "disagree", "ask", "escalate", "new_topic")

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Approximate BPE token count: words and punctuation marks, times 1.3 for sub-word splits (rounded up).

    Good to about 15% on English prose against tiktoken-style tokenizers; it only feeds budgets and cost
    estimates for the offline provider (real providers report their own usage).
    """
    return math.ceil(len(_TOKEN.findall(text)) * 1.3)


@functools.lru_cache(maxsize=65_536)
def _raw_tokens(text: str) -> int:
    """Words and punctuation marks of ``text`` (memoised: prompts share persona fields, snippets and messages)."""
    return len(_TOKEN.findall(text))


@dataclass(frozen=True, slots=True)
class PersonaInfo:
    """Who speaks: the agent's handle and the persona fields of its role."""

    handle: str
    role: str
    department: str
    tier: str
    traits: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    concerns: tuple[str, ...] = ()
    language: str = "en"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """Where it speaks. ``tier`` is the channel label's tier name."""

    name: str
    topic: str
    tier: str


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """A message the agent sees. ``thread_of`` is the root's id for a reply, ``None`` for a root post."""

    id: int
    author: str
    role: str
    tier: str
    body: str
    seq: int = 0
    thread_of: int | None = None


@dataclass(frozen=True, slots=True)
class Snippet:
    """Retrieved business context: one document's most relevant sentences, already filtered by label."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone the agent may address (e.g. a higher-tier member of the channel to escalate to)."""

    handle: str
    role: str
    tier: str
    tier_level: int = 0


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """Everything one agent turn may draw on. ``focus`` is what the persona wants to talk about this turn (one of
    its goals or concerns, chosen by the scheduler); ``escalate_to`` lists higher-tier members it may mention.
    """

    persona: PersonaInfo
    channel: ChannelInfo
    intent: Intent
    seed: int
    recent: tuple[ContextMessage, ...] = ()
    answering: ContextMessage | None = None
    snippets: tuple[Snippet, ...] = ()
    focus: str = ""
    escalate_to: tuple[Participant, ...] = ()
    tier_level: int = 0


@dataclass(frozen=True, slots=True)
class TurnResult:
    """The generated post. ``cited`` holds the ids of the documents whose text the post draws on (a subset of the
    request's snippets); ``mentions`` the handles it @-mentions.
    """

    text: str
    tokens_in: int
    tokens_out: int
    model: str
    cost: float = 0.0
    cited: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()


@runtime_checkable
class Provider(Protocol):
    """An LLM behind the agent runtime. Implementations: offline (deterministic), OpenAI-compatible."""

    name: str

    async def complete(self, request: TurnRequest) -> TurnResult: ...


def prompt_tokens(request: TurnRequest) -> int:
    """The approximate size of the prompt a chat model would receive for ``request`` (system + context)."""
    p = request.persona
    parts = [p.handle, p.role, p.department, *p.traits, *p.goals, *p.concerns, request.channel.name,
             request.channel.topic, request.focus]
    parts += [m.body for m in request.recent]
    parts += [s.title + " " + s.text for s in request.snippets]
    if request.answering is not None:
        parts.append(request.answering.body)
    # = count_tokens(" ".join(parts)): no token spans the joining space, so the parts' counts add up
    return math.ceil(sum(_raw_tokens(x) for x in parts) * 1.3) + 60  # + the fixed instructions around them
