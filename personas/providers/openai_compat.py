"""The ``openai`` provider: any OpenAI-compatible Chat Completions endpoint (OpenAI, Azure OpenAI, vLLM, Ollama,
llama.cpp server) through the official ``openai`` package, which does timeouts and retries (honouring
Retry-After). Token usage comes from the response; cost from the configured price table. No scheduling here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from personas.providers.base import TurnRequest, TurnResult, count_tokens, prompt_tokens
from personas.quality import content_words
from workspace.errors import ConfigError, Unavailable
from workspace.settings import LLMSettings
from workspace.telemetry import llm_span

_MENTION = re.compile(r"@([A-Za-z0-9][A-Za-z0-9._-]*)")
_INTENT_HINT = {
    "reply": "Answer the message you are replying to, concretely.",
    "agree": "Agree with the message you are replying to and add one specific point of your own.",
    "disagree": "Politely disagree with the message you are replying to and say why, with a specific point.",
    "ask": "Ask one specific follow-up question about the message you are replying to.",
    "escalate": "Raise your concern and ask the person you mention for a decision.",
    "new_topic": "Start a new thread about your focus.",
}


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per 1,000 input and output tokens."""

    input_per_1k: float
    output_per_1k: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return tokens_in / 1000 * self.input_per_1k + tokens_out / 1000 * self.output_per_1k


def parse_prices(text: str) -> dict[str, Price]:
    """``"gpt-4o-mini=0.00015:0.0006,local=0:0"`` -> {model: Price}. A bad entry is a configuration error."""
    prices: dict[str, Price] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        model, sep, pair = entry.rpartition("=")
        inp, sep2, out = pair.partition(":")
        try:
            if not (sep and sep2 and model.strip()):
                raise ValueError
            prices[model.strip()] = Price(float(inp), float(out))
        except ValueError:
            raise ConfigError(f"CHORUS_LLM_PRICES entry {entry!r} is not model=in_per_1k:out_per_1k "
                              "(e.g. gpt-4o-mini=0.00015:0.0006)") from None
    return prices


def build_messages(request: TurnRequest) -> list[dict[str, str]]:
    """The chat prompt for one turn: who the agent is, where it speaks, what it may draw on, what to do."""
    p = request.persona
    lines = [
        f"You are {p.handle}, a {p.role} in the {p.department} department, writing in the company chat channel "
        f"#{request.channel.name} (topic: {request.channel.topic}).",
        f"Your traits: {', '.join(p.traits) or 'plain'}. Your goals: {'; '.join(p.goals) or 'none'}. "
        f"Your concerns: {'; '.join(p.concerns) or 'none'}.",
        "Write ONE short chat message (at most three sentences), in your own voice, no greeting, no sign-off. "
        "Use only the facts below; never invent numbers.",
    ]
    if request.focus:
        lines.append(f"What you want to talk about: {request.focus}.")
    for s in request.snippets:
        lines.append(f"Fact from '{s.title}': {s.text[:400]}")
    lines.append(_INTENT_HINT.get(request.intent, ""))
    if request.intent == "escalate" and request.escalate_to:
        target = request.escalate_to[request.seed % len(request.escalate_to)]
        lines.append(f"Mention @{target.handle} ({target.role}) in your message.")
    context = [f"{m.author} ({m.role}): {m.body}" for m in request.recent[-5:] if m is not request.answering]
    user = ""
    if context:
        user += "Recent messages in the channel:\n" + "\n".join(context) + "\n\n"
    if request.answering is not None:
        a = request.answering
        user += f"You are replying to {a.author} ({a.role}): {a.body}\n"
    user += "Your message:"
    return [{"role": "system", "content": "\n".join(x for x in lines if x)}, {"role": "user", "content": user}]


class OpenAIProvider:
    """Chat Completions through ``openai.AsyncOpenAI``; one instance shares one HTTP connection pool."""

    name = "openai"

    def __init__(self, *, base_url: str, model: str, api_key: str = "", timeout_s: float = 60.0,
                 max_retries: int = 2, prices: Mapping[str, Price] | None = None, max_tokens: int = 160,
                 temperature: float = 0.7, provider_name: str = "openai") -> None:
        from openai import AsyncOpenAI

        if not model:
            raise ConfigError("the openai provider needs a model: set CHORUS_LLM_MODEL (e.g. gpt-4o-mini)")
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.prices = dict(prices or {})
        self.name = provider_name
        # The SDK insists on a key; local servers (llama.cpp, vLLM, Ollama) ignore it.
        self.client = AsyncOpenAI(base_url=base_url or None, api_key=api_key or "not-needed", timeout=timeout_s,
                                  max_retries=max_retries)

    @classmethod
    def from_settings(cls, llm: LLMSettings) -> OpenAIProvider:
        return cls(base_url=llm.base_url, model=llm.model, api_key=llm.api_key.reveal(), timeout_s=llm.timeout_s,
                   max_retries=llm.max_retries, prices=parse_prices(llm.prices))

    def price(self, tokens_in: int, tokens_out: int, model: str | None = None) -> float:
        price = self.prices.get(model or self.model) or self.prices.get(self.model)
        return price.cost(tokens_in, tokens_out) if price else 0.0

    async def complete(self, request: TurnRequest) -> TurnResult:
        import openai

        with llm_span(model=self.model, provider=self.name, department=request.persona.department) as call:
            try:
                response = await self.client.chat.completions.create(
                    model=self.model, messages=build_messages(request),  # type: ignore[arg-type]
                    max_tokens=self.max_tokens, temperature=self.temperature, seed=request.seed % (2**31))
            except openai.APIError as exc:
                raise Unavailable(f"the LLM endpoint failed ({type(exc).__name__}: {exc}); the SDK already "
                                  "retried; check CHORUS_LLM_BASE_URL and the provider's status") from exc
            text = (response.choices[0].message.content or "").strip() if response.choices else ""
            usage = response.usage
            tokens_in = usage.prompt_tokens if usage else prompt_tokens(request)
            tokens_out = usage.completion_tokens if usage else count_tokens(text)
            cost = self.price(tokens_in, tokens_out, response.model)
            call.usage(input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=cost, response_model=response.model)
        text = _addressed(text, request)
        return TurnResult(text=text, tokens_in=tokens_in, tokens_out=tokens_out, model=response.model or self.model,
                          cost=cost, cited=_cited(text, request), mentions=_mentions(text, request))

    async def aclose(self) -> None:
        await self.client.close()


def _addressed(text: str, request: TurnRequest) -> str:
    """A reply names whom it answers (the scheduler routes the answer back by mention); small models forget."""
    a = request.answering
    if a is not None and a.author != request.persona.handle and f"@{a.author}" not in text:
        text = f"@{a.author} {text}"
    return text


def _mentions(text: str, request: TurnRequest) -> tuple[str, ...]:
    known = {p.handle for p in request.escalate_to} | {m.author for m in request.recent}
    if request.answering is not None:
        known.add(request.answering.author)
    return tuple(dict.fromkeys(h for h in _MENTION.findall(text) if h in known))


def _cited(text: str, request: TurnRequest) -> tuple[str, ...]:
    """Documents whose snippet shares at least three content words with the text (the model does not say)."""
    words = content_words(text)
    return tuple(s.doc_id for s in request.snippets if len(content_words(s.text) & words) >= 3)
