"""The provider interface (the port): what one agent turn asks for (:class:`TurnRequest`) and what it returns
(:class:`TurnResult`); a structured chat call for other callers (:meth:`Provider.chat_json`, answered as a
:class:`ChatReply`); and a cheap approximate token counter. No provider implementation lives here.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from workspace.errors import ConfigError

Intent = Literal["reply", "agree", "disagree", "ask", "escalate", "new_topic"]

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
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Snippet:
    """A passage of business context the turn reads: its document's title (and section) and its text, already
    filtered by label."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class FactRef:
    """A fact the turn may state, found in a passage it may read. ``key`` names it for the runtime (the span it
    cites); ``text`` is what it says (a sentence, or a table row as "first cell (Header: value; ...)");
    ``source`` the document's title; ``kind`` risk, opportunity or neutral; ``entity`` the thing it is about."""

    key: str
    text: str
    source: str
    section: str = ""
    kind: str = "neutral"
    entity: str = ""


@dataclass(frozen=True, slots=True)
class LinkRef:
    """Two facts from different documents about one thing (``entity``), and what they mean together."""

    a: FactRef
    b: FactRef
    relation: str
    consequence: str
    entity: str


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone the agent may address (e.g. a higher-tier member of the channel to escalate to)."""

    handle: str
    role: str
    tier: str
    tier_level: int = 0


Task = Literal["read", "corroborate", "link", "pass", "ask", "answer", "unknown", "ack"]
TASKS: tuple[Task, ...] = ("read", "corroborate", "link", "pass", "ask", "answer", "unknown", "ack")
"""What a turn is for. read: state the facts of a passage it was assigned; corroborate: a second reader of a
passage says which of its facts matter; link: put two facts from different documents together ("X and Y, so Z");
pass: carry a fact to another channel where other roles can see it; ask: ask what is still unknown about a fact;
answer: answer a question with a fact it may read; unknown: say that the documents do not answer a question;
ack: acknowledge a message and add what is unknown."""


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """Everything one agent turn may draw on. The persona shapes the voice, never the content: what the turn may
    say is in ``facts`` (and ``link``), taken from passages the agent may read under the channel's label."""

    persona: PersonaInfo
    channel: ChannelInfo
    task: Task
    intent: Intent
    seed: int
    recent: tuple[ContextMessage, ...] = ()
    answering: ContextMessage | None = None
    passage: Snippet | None = None
    facts: tuple[FactRef, ...] = ()
    link: LinkRef | None = None
    escalate_to: tuple[Participant, ...] = ()
    tier_level: int = 0


@dataclass(frozen=True, slots=True)
class ClaimOut:
    """A claim the model says its message makes: a known fact's ``key``, or a ``quote`` of the passage that the
    runtime looks up (a quote it cannot find is refused: a claim must cite a real span)."""

    key: str = ""
    quote: str = ""


@dataclass(frozen=True, slots=True)
class TurnResult:
    """The generated post. ``claims`` are the facts the message states (a subset of the request's, or quotes of
    its passage); ``consequence`` is a link's "so Z" as the model put it; ``mentions`` the handles it @-mentions.
    """

    text: str
    tokens_in: int
    tokens_out: int
    model: str
    cost: float = 0.0
    claims: tuple[ClaimOut, ...] = ()
    consequence: str = ""
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatReply:
    """The answer to :meth:`Provider.chat_json`: the JSON object the model returned (empty when the reply is not one,
    e.g. cut off at ``max_tokens``), the raw text, the endpoint's token usage (0 when it reports none), the cost from
    the price table and the model that answered."""

    data: dict[str, Any]
    text: str
    tokens_in: int
    tokens_out: int
    model: str
    cost: float = 0.0


class NotALanguageModel(ConfigError):
    """:meth:`Provider.chat_json` reached a provider that only composes agent turns (the offline one)."""

    code = "not_a_language_model"


@runtime_checkable
class Provider(Protocol):
    """An LLM behind the agent runtime. Implementations: offline (deterministic), OpenAI-compatible, local."""

    name: str

    async def complete(self, request: TurnRequest) -> TurnResult:
        """One agent turn."""
        ...

    async def chat_json(self, system: str, user: str, schema: Mapping[str, Any], *, max_tokens: int) -> ChatReply:
        """One chat completion whose answer is a JSON object following ``schema`` (a JSON Schema for an object; strict
        endpoints want every property required and ``additionalProperties: false``), at temperature 0 with a fixed
        seed. Raises :class:`NotALanguageModel` from a provider that is not one, ``Unavailable`` when the endpoint
        fails."""
        ...


def prompt_tokens(request: TurnRequest) -> int:
    """The approximate size of the prompt a chat model would receive for ``request`` (system + context)."""
    p = request.persona
    parts = [p.handle, p.role, p.department, *p.traits, request.channel.name, request.channel.topic]
    parts += [m.body for m in request.recent]
    parts += [f.source + " " + f.text for f in request.facts]
    if request.passage is not None:
        parts.append(request.passage.title + " " + request.passage.text)
    if request.link is not None:
        parts += [request.link.a.text, request.link.b.text, request.link.consequence]
    if request.answering is not None:
        parts.append(request.answering.body)
    # = count_tokens(" ".join(parts)): no token spans the joining space, so the parts' counts add up
    return math.ceil(sum(_raw_tokens(x) for x in parts) * 1.3) + 60  # + the fixed instructions around them
