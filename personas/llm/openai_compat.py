"""The ``openai`` provider: any OpenAI-compatible Chat Completions endpoint (OpenAI, Azure OpenAI, vLLM, Ollama,
llama.cpp server) through the official ``openai`` package, which does timeouts and retries (honouring
Retry-After). Token usage comes from the response; cost from the configured price table. Structured chat calls
ask for JSON-schema output, stepping down to what the endpoint accepts. No scheduling here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from personas.llm.base import ChatReply, ClaimOut, TurnRequest, TurnResult, count_tokens, prompt_tokens
from workspace.errors import ConfigError, Unavailable
from workspace.settings import LLMSettings
from workspace.telemetry import llm_span

StructuredOutput = Literal["json_schema", "json_object", "prompt"]
STRUCTURED_OUTPUTS: tuple[StructuredOutput, ...] = ("json_schema", "json_object", "prompt")
"""How a structured chat call asks for JSON, most constrained first: OpenAI's ``json_schema`` response format
(OpenAI, vLLM, llama.cpp's llama-server, Ollama); ``json_object`` with the schema beside it (llama-cpp-python's
server, which refuses ``json_schema``); or only the caller's prompt. A provider starts at its configured step and
moves down when the endpoint answers with an error that names the ``response_format`` (llama-cpp-python: a 500 with
a validation error; others: 400 or 422), and stays at the step that worked."""
_MENTION = re.compile(r"@([A-Za-z0-9][A-Za-z0-9._-]*)")
_TASK_HINT = {
    "read": "You have just read the passage below. Write a message that states its facts plainly, with the figures, "
            "dates and names exactly as written, and says which document it comes from.",
    "corroborate": "You read the same passage as a colleague. Say which of the facts below matter most and why, "
                   "for your department.",
    "link": "Two facts from different documents are about the same thing. Write one message that states both, "
            "naming each document, and says what they mean together (\"X and Y, so Z\").",
    "pass": "Carry the fact below to this channel, where other teams can see it; say where it comes from.",
    "ask": "Ask one specific question about the fact below: what is still unknown (who owns it, by when, what it "
           "would cost).",
    "answer": "Answer the question you are replying to with the fact below, naming its document.",
    "unknown": "Say that the document below does not answer the question you are replying to, and that it is "
               "still open.",
    "ack": "Acknowledge the message briefly and ask what is still unknown.",
}
TURN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "facts": {"type": "array", "items": {"type": "integer"}},
        "quotes": {"type": "array", "items": {"type": "string"}},
        "consequence": {"type": "string"},
    },
    "required": ["message", "facts", "quotes", "consequence"],
    "additionalProperties": False,
}
"""What an agent turn answers: the chat message, the numbers of the listed facts it states, quotes of the
passage for any other fact it states (the runtime refuses a quote it cannot find), and for a link its "so Z"."""


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
    """The chat prompt for one turn: who the agent is (its voice), where it speaks, the facts it may state and
    what to do. Goals and concerns are not in it: the documents decide what is said, the persona only how."""
    p = request.persona
    lines = [
        f"You are {p.handle}, a {p.role} in the {p.department} department, writing in the company chat channel "
        f"#{request.channel.name} (topic: {request.channel.topic}). Your manner: {', '.join(p.traits) or 'plain'}.",
        "Write ONE chat message (at most four sentences), no greeting, no sign-off. State only the facts given "
        "below, with their figures, dates and names exactly as written; never invent anything.",
        _TASK_HINT.get(request.task, ""),
        'Answer with a JSON object: {"message": the chat message, "facts": the numbers of the facts your message '
        'states, "quotes": exact quotes of the passage for any other fact it states, "consequence": for two linked '
        'facts, what they mean together in one sentence, else ""}.',
    ]
    user = ""
    context = [f"{m.author} ({m.role}): {m.body}" for m in request.recent[-5:] if m is not request.answering]
    if context:
        user += "Recent messages in the channel:\n" + "\n".join(context) + "\n\n"
    if request.passage is not None:
        user += f"Passage from '{request.passage.title}':\n{request.passage.text[:3000]}\n\n"
    if request.facts:
        user += "Facts you may state:\n" + "\n".join(
            f"{i}. ({f.source}) {f.text}" for i, f in enumerate(request.facts, start=1)) + "\n\n"
    if request.link is not None:
        user += (f"They are both about {request.link.entity}. Read together: {request.link.consequence}.\n\n")
    if request.answering is not None:
        a = request.answering
        user += f"You are replying to {a.author} ({a.role}): {a.body}\n"
    user += "Your JSON answer:"
    return [{"role": "system", "content": "\n".join(x for x in lines if x)}, {"role": "user", "content": user}]


class OpenAIProvider:
    """Chat Completions through ``openai.AsyncOpenAI``; one instance shares one HTTP connection pool."""

    name = "openai"

    def __init__(self, *, base_url: str, model: str, api_key: str = "", timeout_s: float = 60.0,
                 max_retries: int = 2, prices: Mapping[str, Price] | None = None, max_tokens: int = 160,
                 temperature: float = 0.7, provider_name: str = "openai",
                 structured_output: StructuredOutput = "json_schema") -> None:
        from openai import AsyncOpenAI

        if not model:
            raise ConfigError("the openai provider needs a model: set CHORUS_LLM_MODEL (e.g. gpt-4o-mini)")
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.prices = dict(prices or {})
        self.name = provider_name
        self.structured_output = structured_output
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
        messages = build_messages(request)
        budget = self.max_tokens * (3 if request.task in ("read", "link") else 1)  # a reading states several facts
        reply = await self._structured(messages, TURN_SCHEMA, max_tokens=budget,
                                       temperature=self.temperature, seed=request.seed % (2**31),
                                       department=request.persona.department)
        data = reply.data or _salvage(reply.text)
        text = str(data.get("message") or "").strip()
        if not text:
            raise Unavailable("the model answered no message (its JSON was cut off or malformed); raise "
                              "CHORUS_LLM_TIMEOUT_S or use a larger model")
        text = _addressed(text, request)
        claims: list[ClaimOut] = []
        for n in data.get("facts") or []:
            if isinstance(n, int) and 1 <= n <= len(request.facts):
                claims.append(ClaimOut(key=request.facts[n - 1].key))
        for q in data.get("quotes") or []:
            if isinstance(q, str) and q.strip():
                claims.append(ClaimOut(quote=q.strip()))
        if request.task == "link" and request.link is not None:
            claims = [ClaimOut(key=request.link.a.key), ClaimOut(key=request.link.b.key)]
        return TurnResult(text=text, tokens_in=reply.tokens_in or prompt_tokens(request),
                          tokens_out=reply.tokens_out or count_tokens(text), model=reply.model, cost=reply.cost,
                          claims=tuple(dict.fromkeys(claims)), consequence=str(data.get("consequence") or "")[:500],
                          mentions=_mentions(text, request))

    async def chat_json(self, system: str, user: str, schema: Mapping[str, Any], *, max_tokens: int) -> ChatReply:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return await self._structured(messages, schema, max_tokens=max_tokens, temperature=0.0, seed=0)

    async def _structured(self, messages: list[dict[str, str]], schema: Mapping[str, Any], *, max_tokens: int,
                          temperature: float, seed: int, department: str = "") -> ChatReply:
        import openai

        steps = STRUCTURED_OUTPUTS[STRUCTURED_OUTPUTS.index(self.structured_output):]
        with llm_span(model=self.model, provider=self.name, operation="chat", department=department) as call:
            for step in steps:
                try:
                    response = await self.client.chat.completions.create(
                        model=self.model, messages=messages,  # type: ignore[arg-type]
                        max_tokens=max_tokens, temperature=temperature, seed=seed, **_response_format(step, schema))
                except openai.APIError as exc:
                    if isinstance(exc, openai.APIStatusError) and "response_format" in str(exc) and step != steps[-1]:
                        continue  # the endpoint names the response format it refused: ask the next way
                    raise Unavailable(f"the LLM endpoint failed ({type(exc).__name__}: {exc}); the SDK already "
                                      "retried; check CHORUS_LLM_BASE_URL and the provider's status") from exc
                self.structured_output = step  # later calls start where this endpoint answered
                break
            text = (response.choices[0].message.content or "").strip() if response.choices else ""
            usage = response.usage
            tokens_in = usage.prompt_tokens if usage else 0
            tokens_out = usage.completion_tokens if usage else 0
            cost = self.price(tokens_in, tokens_out, response.model)
            call.usage(input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=cost, response_model=response.model)
        return ChatReply(data=_json_object(text), text=text, tokens_in=tokens_in, tokens_out=tokens_out,
                         model=response.model or self.model, cost=cost)

    async def aclose(self) -> None:
        await self.client.close()


def _response_format(step: StructuredOutput, schema: Mapping[str, Any]) -> dict[str, Any]:
    if step == "json_schema":
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": "reply", "schema": dict(schema), "strict": True}}}
    if step == "json_object":
        return {"response_format": {"type": "json_object", "schema": dict(schema)}}
    return {}


def _json_object(text: str) -> dict[str, Any]:
    """The JSON object in ``text`` (a model may wrap it in prose or a code fence), else ``{}``."""
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            obj = json.loads(text[start : end + 1])
        except ValueError:
            return {}
        if isinstance(obj, dict):
            return obj
    return {}


_FIELD = re.compile(r'"(message|consequence)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_NUMBERS = re.compile(r'"facts"\s*:\s*\[([\d\s,]*)')


def _salvage(text: str) -> dict[str, Any]:
    """What can be read from a JSON answer that was cut off (``max_tokens``) or is malformed: its finished string
    fields and the fact numbers listed so far. Nothing is guessed: a field that did not finish is left out."""
    out: dict[str, Any] = {}
    for m in _FIELD.finditer(text):
        try:
            out[m.group(1)] = json.loads(f'"{m.group(2)}"')
        except ValueError:
            continue
    nums = _NUMBERS.search(text)
    if nums:
        out["facts"] = [int(n) for n in re.findall(r"\d+", nums.group(1))]
    return out


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
