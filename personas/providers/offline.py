"""The offline provider: a deterministic, fast writer that composes each post from the persona (traits, goals,
concerns), one fact from its retrieved snippets and the message it answers. No network, no model weights.
Scheduling (who speaks, with which intent) lives in :mod:`personas.simcore`.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

from personas.providers.base import (
    ContextMessage,
    Snippet,
    TurnRequest,
    TurnResult,
    count_tokens,
    prompt_tokens,
)
from personas.quality import STOPWORDS, content_words

MODEL = "chorus-offline-1"
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")
_MENTION = re.compile(r"@[\w-]+")
_QUOTED_MARKS = re.compile(r"[\"“”]")
_CLAUSE = re.compile(r"[.:;?!,](?:\s+|$)")
_PHRASE_TOKEN = re.compile(r"[A-Za-z0-9](?:[\w.%$'-]|,(?=\d))*[\w%]|[A-Za-z0-9]")

# Fragments. Every template carries a slot for persona-, message- or fact-specific text, so no sentence comes
# out the same for two agents unless they also share the content; variety comes from combining them.
_CONCERN = (
    "I keep running into this: {c}.",
    "Flagging it again: {c}.",
    "Something worries me, {c}.",
    "Can't let this one go: {c}.",
    "Raising it here because {c}.",
    "Heads-up from the {dept} side: {c}.",
    "From my seat as {role_a}, {c}.",
    "Not the first time I say it: {c}.",
    "Noting for the record that {c}.",
    "Real problem on my end: {c}.",
)
_GOAL = (
    "I'm pushing to {g}.",
    "What I want us to do: {g}.",
    "Proposal from the {dept} side: {g}.",
    "We have a shot to {g}.",
    "My aim this quarter is to {g}.",
    "Idea worth a look: {g}.",
    "As {role_a} I'd like us to {g}.",
    "Hear me out, we could {g}.",
)
_VOICE = (
    "My {t} take:",
    "Being {t} about it:",
    "{T} view:",
    "Putting it the {t} way:",
    "Speaking as the {t} one here:",
    "",
    "",
    "",
)
_FACT = (
    "The {title} says: \"{s}\"",
    "Per the {title}: {s}",
    "From the {title}: {s}",
    "For context, the {title} notes that {sl}",
    "Data point from the {title}: {s}",
    "Worth reading in the {title}: \"{s}\"",
    "Checked the {title}: {s}",
    "Quoting the {title}: \"{s}\"",
)
_AGREE = (
    "@{a} agreed on {e}.",
    "@{a} same here about {e}.",
    "@{a} +1 on {e}, I see it too.",
    "@{a} you're right about {e}.",
    "@{a} seconding what you said on {e}.",
    "@{a} this matches what I see with {e}.",
    "@{a} exactly, {e} is the point.",
)
_DISAGREE = (
    "@{a} I'd push back on {e}.",
    "@{a} not sure {e} is the whole story.",
    "@{a} I read {e} differently.",
    "@{a} careful with {e}, the numbers say something else.",
    "@{a} respectfully, {e} isn't the main issue.",
    "@{a} I don't think {e} holds up.",
)
_ASK = (
    "@{a} question on {e}: {q}",
    "@{a} before we move on from {e}, {q}",
    "@{a} help me understand {e}. {Q}",
    "@{a} on {e}, {q}",
    "@{a} re {e}: {q}",
    "@{a} asking as {role_a} about {e}: {q}",
    "@{a} curious about {e}, {q}",
    "@{a} one thing on {e}. {Q}",
    "@{a} {e} caught my eye; {q}",
)
_ANSWER = (
    "@{a} fair question about {e}.",
    "@{a} to answer on {e}:",
    "@{a} good point on {e}.",
    "@{a} thanks, on {e} here is what I know.",
    "@{a} short answer on {e}:",
    "@{a} on {e}, yes.",
)
_QUESTION = (
    "how long has {k} been going on?",
    "who owns the fix for {k}?",
    "is there a ticket open for {k}?",
    "do we have numbers on {k}?",
    "which sites see {k}?",
    "has anyone told the leads about {k}?",
    "what would it cost to fix {k}?",
    "is {k} getting worse or better?",
    "what changed with {k} recently?",
    "who else in {dept} knows about {k}?",
    "can we get {k} on the next review?",
    "is there a workaround for {k} meanwhile?",
)
_ESCALATE = (
    "@{h} can you weigh in on {k}?",
    "@{h} this needs a decision above my level: {k}.",
    "@{h} bringing {k} to you since it keeps coming back.",
    "@{h} could leadership look at {k}?",
    "@{h} who should own {k}?",
    "@{h} I think you should hear about {k}.",
)
_STANCE = (
    "I'd want {k} on the agenda for #{ch}.",
    "As {role_a}, {k} lands on my desk first.",
    "Being {t}, I don't think {k} sorts itself out.",
    "{k_cap} is what I'd look at first.",
    "I've been following {k} closely.",
    "Nobody in {dept} wants {k} to drag on.",
    "{k_cap} deserves an owner.",
    "Put me down as {t} on {k}.",
    "",
    "",
    "",
    "",
)
_CLOSER = (
    "Anyone else in #{ch} seeing {k}?",
    "What's our plan for {k}?",
    "Who is tracking {k}?",
    "Does #{ch} have an owner for {k}?",
    "It matters because I want to {g}.",
    "This gets in the way of my goal to {g}.",
    "Curious what others think about {k}.",
    "Would love numbers from others on {k}.",
    "",
)


@dataclass(frozen=True, slots=True)
class _Fact:
    sentence: str
    title: str
    doc_id: str


def doc_sentences(text: str) -> list[str]:
    """Full sentences of a document or snippet (Markdown headings dropped)."""
    lines = " ".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    return [s.strip() for s in _SENTENCE.split(lines) if len(s.split()) >= 4]


def key_phrase(text: str, rng: random.Random, width: int = 3) -> str:
    """A short phrase of ``text`` carrying its most specific words (codes, numbers, names, long words). Windows
    stay inside one clause, and clauses that address someone (an @-mention) are skipped, so a reply echoes what
    was said rather than how it was framed.
    """
    best = _best_phrases(text, width)
    if not best:
        return "this"
    return best[min(len(best) - 1, rng.randrange(2))]  # one of the two best, for variety


@functools.lru_cache(maxsize=65_536)
def _best_phrases(text: str, width: int) -> tuple[str, ...]:
    """The two best-scoring windows of :func:`key_phrase` (best first), memoised: the focus, the answered message
    and document facts recur across many turns, and only the final pick among the two draws from the rng."""
    cleaned = _QUOTED_MARKS.sub(" ", text)
    clauses = [c for c in _CLAUSE.split(cleaned) if c.strip() and "@" not in c]
    best: list[tuple[float, int, list[str]]] = []
    for clause in clauses:
        toks = _PHRASE_TOKEN.findall(clause)
        for i in range(max(1, len(toks) - width + 1)):
            window = toks[i : i + width]
            if not window or window[0].lower() in STOPWORDS or window[-1].lower() in STOPWORDS:
                continue
            score = sum(_weight(t, j == 0 and i == 0) for j, t in enumerate(window))
            best.append((score, len(best), window))
    best.sort(key=lambda x: (-x[0], x[1]))
    return tuple("the " + " ".join(window) for _, _, window in best[:2])


def _weight(tok: str, clause_start: bool) -> float:
    low = tok.lower()
    if low in STOPWORDS:
        return 0.0
    capital = tok[0].isupper() and not clause_start  # a capital that starts a clause says nothing
    return 1.0 + any(c.isdigit() for c in tok) + capital * 0.5 + min(len(tok), 10) / 10


def _pick_fact(snippets: tuple[Snippet, ...], anchor: set[str], rng: random.Random) -> _Fact | None:
    scored: list[tuple[float, int, _Fact]] = []
    for snip in snippets:
        for s, words in _sentence_words(snip.text):
            overlap = len(words & anchor)
            scored.append((overlap + rng.random() * 0.5, len(scored), _Fact(s, snip.title, snip.doc_id)))
    if not scored:
        return None
    scored.sort(key=lambda x: (-x[0], x[1]))
    top = scored[: 3 if scored[0][0] >= 1 else len(scored)]
    return top[min(len(top) - 1, int(rng.random() ** 2 * len(top)))][2]  # biased to the best match


@functools.lru_cache(maxsize=16_384)
def _sentence_words(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """A snippet's sentences with their content words, memoised (retrieval is cached, so snippets recur)."""
    return tuple((s, frozenset(content_words(s))) for s in doc_sentences(text))


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _lower_first(text: str) -> str:
    # lower the first letter unless it starts a name or code ("Halvorsen", "PS-40", "Line 2")
    first = text.split(" ", 1)[0]
    if first.lower() in STOPWORDS and first not in {"I"}:
        return text[:1].lower() + text[1:]
    return text


class OfflineProvider:
    """Deterministic for (request, seed): the same request always yields the same text. Cost is zero."""

    name = "offline"

    def __init__(self, model: str = MODEL) -> None:
        self.model = model

    async def complete(self, request: TurnRequest) -> TurnResult:
        return self.compose(request)

    def compose(self, request: TurnRequest) -> TurnResult:
        """The synchronous core of :meth:`complete` (the simulation harness calls it directly)."""
        p = request.persona
        rng = random.Random(f"{request.seed}:{p.handle}:{request.channel.name}:{request.intent}")
        focus = request.focus or self._default_focus(request, rng)
        is_concern = focus in p.concerns or not p.goals
        answering = request.answering
        anchor = content_words(focus) | (content_words(answering.body) if answering else set())
        fact = _pick_fact(request.snippets, anchor, rng)
        slots = self._slots(request, focus, fact, answering, rng)
        parts: list[str] = []
        mentions: list[str] = []
        intent = request.intent
        if answering is not None and answering.author == p.handle:
            intent = "new_topic" if intent != "escalate" else intent  # never answer oneself
        if intent in ("reply", "agree", "disagree", "ask") and answering is not None:
            mentions.append(answering.author)
            table = {"reply": _ANSWER, "agree": _AGREE, "disagree": _DISAGREE, "ask": _ASK}[intent]
            parts.append(rng.choice(table).format(**slots))
            if intent != "ask":
                parts.append(self._focus_sentence(focus, is_concern, slots, rng))
            if fact is not None:
                parts.append(self._fact_sentence(fact, slots, rng))
            parts.append(rng.choice(_STANCE).format(**slots))
        else:
            voice = rng.choice(_VOICE).format(**slots)
            parts.append((voice + " " if voice else "") + self._focus_sentence(focus, is_concern, slots, rng))
            if fact is not None:
                parts.append(self._fact_sentence(fact, slots, rng))
            parts.append(rng.choice(_STANCE).format(**slots))
            if intent == "escalate" and request.escalate_to:
                target = request.escalate_to[rng.randrange(len(request.escalate_to))]
                mentions.append(target.handle)
                parts.append(rng.choice(_ESCALATE).format(**{**slots, "h": target.handle}))
            else:
                closer = rng.choice(_CLOSER).format(**slots)
                if closer:
                    parts.append(closer)
        text = " ".join(x for x in parts if x)
        return TurnResult(
            text=text,
            tokens_in=prompt_tokens(request),
            tokens_out=count_tokens(text),
            model=self.model,
            cost=0.0,
            cited=(fact.doc_id,) if fact is not None else (),
            mentions=tuple(mentions),
        )

    # -- pieces ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _default_focus(request: TurnRequest, rng: random.Random) -> str:
        pool = list(request.persona.concerns) + list(request.persona.goals)
        return rng.choice(pool) if pool else request.channel.topic

    @staticmethod
    def _slots(
        request: TurnRequest, focus: str, fact: _Fact | None, answering: ContextMessage | None, rng: random.Random
    ) -> dict[str, str]:
        p = request.persona
        trait = rng.choice(p.traits) if p.traits else "plain"
        goal = rng.choice(p.goals) if p.goals else focus
        role = p.role.lower()
        article = "an" if role[:1] in "aeiou" else "a"
        k_source = focus if rng.random() < 0.6 or fact is None else fact.sentence
        echo_source = answering.body if answering is not None else focus
        echo = key_phrase(echo_source, rng)
        k = key_phrase(k_source, rng)
        question = rng.choice(_QUESTION).format(k="it" if rng.random() < 0.4 else key_phrase(focus, rng),
                                                dept=p.department)
        return {
            "q": question,
            "Q": _sentence_case(question),
            "t": trait,
            "T": _sentence_case(trait),
            "dept": p.department,
            "role_a": f"{article} {role}",
            "g": _lower_first(goal.rstrip(".")),
            "ch": request.channel.name,
            "a": answering.author if answering is not None else "",
            "e": echo,
            "k": k,
            "k_cap": _sentence_case(k),
            "c": "",
        }

    @staticmethod
    def _focus_sentence(focus: str, is_concern: bool, slots: dict[str, str], rng: random.Random) -> str:
        text = focus.rstrip(".")
        if is_concern:
            return rng.choice(_CONCERN).format(**{**slots, "c": _lower_first(text)})
        return rng.choice(_GOAL).format(**{**slots, "g": _lower_first(text)})

    @staticmethod
    def _fact_sentence(fact: _Fact, slots: dict[str, str], rng: random.Random) -> str:
        s = fact.sentence.rstrip()
        if not s.endswith((".", "!", "?")):
            s += "."
        template = rng.choice(_FACT)
        return template.format(**{**slots, "title": fact.title, "s": s, "sl": _lower_first(s)})

