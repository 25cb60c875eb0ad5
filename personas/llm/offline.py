"""The offline provider: a deterministic, fast writer. It says only what the turn's facts say (extractive: the
sentences of the documents the agent read, with their source), in the persona's voice: traits choose the
framing, never the content. No network, no model weights. Who speaks and about what is the runtime's choice.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from personas.llm.base import (
    ChatReply,
    ClaimOut,
    FactRef,
    NotALanguageModel,
    TurnRequest,
    TurnResult,
    count_tokens,
    prompt_tokens,
)

MODEL = "chorus-offline-1"
_SPACE = re.compile(r"\s+")

# Framings. Every one carries the fact itself, so no two agents say the same thing unless they state the same fact.
_READ = {
    "plain": ("Notes from the {source}{section}:", "From the {source}{section}:", "Reading the {source}{section}:"),
    "terse": ("{Source}{section}:", "From the {source}{section}:"),
    "careful": ("Went through the {source}{section}. What it states:", "The {source}{section} says:"),
}
_CORROBORATE = (
    "I read the {source}{section} too. The part that matters for {dept}:",
    "Second read of the {source}{section}, from the {dept} side:",
    "Also read the {source}{section}; worth everyone's attention:",
)
_LINK = (
    "{lead}{a} And the {b_source} says: {b} {so}",
    "{lead}{a} Put that next to the {b_source}: {b} {so}",
    "{lead}{a} Meanwhile the {b_source} says: {b} {so}",
)
_PASS = (
    "Bringing this over from #{origin} ({source}): {fact}",
    "For this channel, from the {source} (raised in #{origin}): {fact}",
)
_ASK = {
    "risk": ("Who owns the fix?", "Is anyone acting on this?", "What is the plan, and by when?",
             "Has this reached the people who can decide?"),
    "opportunity": ("Who would take this on?", "Is anyone pursuing this?", "What would it take to act on it?",
                    "Who can decide on this?"),
    "neutral": ("What does this change for us?", "Who should know about this?"),
}
_ANSWER = ("On {entity}, the {source} says: {fact}", "From the {source}, on {entity}: {fact}")
_ACK = ("Noted. {question}", "Thanks, seen. {question}")
_UNKNOWN = ("On \"{gist}\": the {source} does not say, and nobody here has answered that yet.",
            "Nothing in the {source} answers that about {gist}; it is still open.",
            "The {source} is silent on who acts on {gist}. Still unknown.")
_TERSE = {"terse", "blunt", "direct", "concise", "impatient", "practical", "decisive"}
_CAREFUL = {"careful", "meticulous", "thorough", "formal", "precise", "cautious", "skeptical", "sceptical",
            "analytical", "methodical"}


def sentence(text: str) -> str:
    """``text`` as one sentence: whitespace collapsed, first letter capital, a final full stop."""
    t = _SPACE.sub(" ", text).strip()
    if not t:
        return t
    t = t[:1].upper() + t[1:]
    return t if t[-1] in ".!?" else t + "."


def _voice(traits: Sequence[str]) -> str:
    ts = {t.lower() for t in traits}
    if ts & _TERSE:
        return "terse"
    if ts & _CAREFUL:
        return "careful"
    return "plain"


def _section(f: FactRef) -> str:
    return f" ({f.section})" if f.section and f.section.lower() != f.source.lower() else ""


class OfflineProvider:
    """Deterministic for (request, seed): the same request always yields the same text. Cost is zero."""

    name = "offline"

    def __init__(self, model: str = MODEL) -> None:
        self.model = model

    async def complete(self, request: TurnRequest) -> TurnResult:
        return self.compose(request)

    async def chat_json(self, system: str, user: str, schema: Mapping[str, Any], *, max_tokens: int) -> ChatReply:
        raise NotALanguageModel("the offline provider is not a language model: it writes agent turns from the "
                                "documents and answers no free prompt; configure an OpenAI-compatible endpoint "
                                "(CHORUS_LLM_PROVIDER=openai)")

    def compose(self, request: TurnRequest) -> TurnResult:
        """The synchronous core of :meth:`complete`."""
        p = request.persona
        rng = random.Random(f"{request.seed}:{p.handle}:{request.channel.name}:{request.task}")
        text, stated, mentions = self._write(request, rng)
        return TurnResult(text=text, tokens_in=prompt_tokens(request), tokens_out=count_tokens(text),
                          model=self.model, claims=tuple(ClaimOut(key=k) for k in stated),
                          consequence=request.link.consequence if request.link is not None else "",
                          mentions=tuple(mentions))

    def _write(self, request: TurnRequest, rng: random.Random) -> tuple[str, list[str], list[str]]:
        task, facts = request.task, request.facts
        answering = request.answering
        at = f"@{answering.author} " if answering is not None and answering.author != request.persona.handle else ""
        mentions = [answering.author] if at and answering is not None else []
        if task == "link" and request.link is not None:
            lk = request.link
            lead = at or f"The {lk.a.source} says: "
            b = sentence(lk.b.text)
            if lk.consequence:
                # the consequence closes the second fact's sentence: as a sentence of its own, the same frame in
                # every link on one thing, the leak guard would take it for a repeat of a link in another channel
                so = lk.consequence.strip().rstrip(".")
                so = so if so.lower().startswith("so ") else "so " + so
                b = f"{b.rstrip('.!?')}, {so[:1].lower()}{so[1:]}."
            text = rng.choice(_LINK).format(lead=lead, a=sentence(lk.a.text), b_source=lk.b.source, b=b,
                                            so="").rstrip()
            return text, [lk.a.key, lk.b.key], mentions
        if not facts:
            question = rng.choice(_ASK["neutral"])
            return at + rng.choice(_ACK).format(question=question), [], mentions
        first = facts[0]
        if task == "read":
            frame = rng.choice(_READ[_voice(request.persona.traits)])
            head = frame.format(source=first.source, Source=first.source[:1].upper() + first.source[1:],
                                section=_section(first))
            return " ".join([head, *(sentence(f.text) for f in facts)]), [f.key for f in facts], []
        if task == "corroborate":
            head = rng.choice(_CORROBORATE).format(source=first.source, section=_section(first),
                                                   dept=request.persona.department)
            return " ".join([head, *(sentence(f.text) for f in facts)]), [f.key for f in facts], []
        if task == "pass":
            origin = request.channel.name
            if answering is not None:
                origin = answering.channel or origin
            text = rng.choice(_PASS).format(origin=origin, source=first.source, fact=sentence(first.text))
            return text, [first.key], []
        if task == "unknown":
            gist = " ".join(first.text.split()[:9]).rstrip(",.;:")
            if gist.split(" ", 1)[0] in ("The", "A", "An", "This", "That", "Our", "Its"):
                gist = gist[:1].lower() + gist[1:]
            return at + rng.choice(_UNKNOWN).format(source=first.source, gist=gist), [], mentions
        if task == "answer":
            text = at + rng.choice(_ANSWER).format(entity=first.entity or "that", source=first.source,
                                                   fact=sentence(first.text))
            return text, [first.key], mentions
        # ask / ack: restate the fact briefly and ask what is still unknown
        question = rng.choice(_ASK.get(first.kind, _ASK["neutral"]))
        text = at + f"Re the {first.source}: {sentence(first.text)} {question}"
        return text, [], mentions
