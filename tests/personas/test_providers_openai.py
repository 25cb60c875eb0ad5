"""The ``openai`` provider against a real OpenAI-compatible server: llama.cpp's, started by the ``local`` provider
with SmolLM2 (marker ``llm``; needs the local-llm extra), and opt-in any endpoint at CHORUS_TEST_LLM_URL. Plus the
price table and the provider factory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from personas.llm import close_provider, make_provider
from personas.llm.base import ChannelInfo, ContextMessage, FactRef, NotALanguageModel, PersonaInfo, Snippet, TurnRequest
from personas.llm.local import MODEL_NAME, LocalLLM, LocalProvider, missing_extra
from personas.llm.offline import OfflineProvider
from personas.llm.openai_compat import OpenAIProvider, Price, parse_prices
from tests.support import skip_reason, unavailable
from workspace.errors import ConfigError
from workspace.settings import LLMSettings, Secret

LLM_URL = os.environ.get("CHORUS_TEST_LLM_URL", "")

ANSWERING = ContextMessage(7, "qa-0003", "Quality Inspector", "internal",
                           "The PS-40 reject rate is up again this week. Who owns the fix?", 12, None)
REQUEST = TurnRequest(
    persona=PersonaInfo("tech-0001", "Assembly Technician", "manufacturing", "internal", ("blunt",)),
    channel=ChannelInfo("plant-floor", "Line 2 production, safety and parts", "internal"),
    task="answer", intent="reply", seed=5, recent=(ANSWERING,), answering=ANSWERING,
    passage=Snippet("3", "Incoming inspection log", "Lot 44 of PS-40 sensors failed incoming inspection."),
    facts=(FactRef("3:1:0:52", "Lot 44 of PS-40 sensors failed incoming inspection.", "Incoming inspection log",
                   kind="risk", entity="PS-40"),))
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["title", "priority"],
          "properties": {"title": {"type": "string"}, "priority": {"type": "integer", "enum": [1, 2, 3, 4, 5]}}}
SYSTEM = 'Reply with one JSON object: {"title": "<a headline>", "priority": <1 to 5>}.'
USER = "Lot 44 of PS-40 sensors failed incoming inspection; Line 2 waits for sensors. Write the JSON object."


def test_price_table() -> None:
    prices = parse_prices("gpt-4o-mini=0.00015:0.0006, local = 0:0")
    assert prices["gpt-4o-mini"] == Price(0.00015, 0.0006) and prices["local"] == Price(0.0, 0.0)
    assert prices["gpt-4o-mini"].cost(2000, 1000) == pytest.approx(0.0003 + 0.0006)
    assert parse_prices("") == {}
    for bad in ("gpt-4o", "gpt=1", "gpt=a:b", "=1:2"):
        with pytest.raises(ConfigError, match="model=in_per_1k:out_per_1k"):
            parse_prices(bad)


def test_make_provider_picks_by_settings() -> None:
    assert isinstance(make_provider(LLMSettings()), OfflineProvider)
    openai = make_provider(LLMSettings(provider="openai", base_url="http://127.0.0.1:9/v1", model="m",
                                       api_key=Secret("k"), prices="m=1:2"))
    assert isinstance(openai, OpenAIProvider) and openai.price(1000, 1000) == pytest.approx(3.0)
    assert isinstance(make_provider(LLMSettings(provider="local")), LocalProvider)
    with pytest.raises(ConfigError, match="CHORUS_LLM_MODEL"):
        make_provider(LLMSettings(provider="openai", base_url="http://127.0.0.1:9/v1"))


@pytest.fixture
async def local_server() -> AsyncIterator[str]:
    problem = missing_extra()
    if problem:
        unavailable("local-llm", f"the local-llm extra is not installed ({problem})")
    server = LocalLLM()
    base_url = await server.start()
    try:
        yield base_url
    finally:
        await server.stop()
    assert server.process is None


@pytest.mark.llm
async def test_openai_provider_against_a_real_llama_cpp_server(local_server: str) -> None:
    provider = OpenAIProvider(base_url=local_server, model=MODEL_NAME, max_tokens=64,
                              prices={MODEL_NAME: Price(1.0, 2.0)})
    try:
        first = await provider.complete(REQUEST)
        ask = await provider.complete(replace(REQUEST, task="ask", intent="ask", seed=6))
    finally:
        await close_provider(provider)
    for result in (first, ask):
        assert len(result.text.split()) >= 3  # a real completion, not an empty answer
        assert result.text.startswith("@qa-0003")  # replies address whom they answer
        assert "qa-0003" in result.mentions
        assert result.tokens_in > 50 and 0 < result.tokens_out <= 64  # the server's usage, capped by max_tokens
        assert result.cost == pytest.approx(result.tokens_in / 1000 * 1.0 + result.tokens_out / 1000 * 2.0)


async def test_the_offline_provider_refuses_a_structured_chat_call() -> None:
    with pytest.raises(NotALanguageModel, match="offline provider is not a language model"):
        await OfflineProvider().chat_json(SYSTEM, USER, SCHEMA, max_tokens=48)


def assert_follows_schema(data: dict[str, object]) -> None:
    assert set(data) == {"title", "priority"}
    assert isinstance(data["title"], str) and data["title"].strip()
    assert data["priority"] in {1, 2, 3, 4, 5}


@pytest.mark.llm
async def test_structured_chat_steps_down_to_the_response_format_the_server_takes(local_server: str) -> None:
    """llama-cpp-python's server refuses OpenAI's ``json_schema`` format and takes the schema beside ``json_object``;
    the provider asks the next way and remembers it."""
    provider = OpenAIProvider(base_url=local_server, model=MODEL_NAME, prices={MODEL_NAME: Price(1.0, 2.0)},
                              max_retries=0)
    first_step = provider.structured_output
    try:
        reply = await provider.chat_json(SYSTEM, USER, SCHEMA, max_tokens=64)
        again = await provider.chat_json(SYSTEM, USER, SCHEMA, max_tokens=64)
    finally:
        await close_provider(provider)
    assert (first_step, provider.structured_output) == ("json_schema", "json_object")
    assert_follows_schema(reply.data)
    assert reply == again  # temperature 0 and a fixed seed
    assert reply.model and reply.tokens_in > 20 and 0 < reply.tokens_out <= 64
    assert reply.cost == pytest.approx(reply.tokens_in / 1000 * 1.0 + reply.tokens_out / 1000 * 2.0)


@pytest.mark.llm
async def test_local_provider_starts_and_stops_its_server() -> None:
    if missing_extra():
        unavailable("local-llm", f"the local-llm extra is not installed ({missing_extra()})")
    provider = LocalProvider(max_tokens=16)
    result = await provider.complete(replace(REQUEST, task="read", intent="new_topic", answering=None, recent=()))
    process = provider.server.process
    assert process is not None
    running = process.returncode is None
    await provider.aclose()
    assert running
    assert provider.server.process is None
    assert process.returncode is not None  # stopped with the provider
    assert result.text and result.tokens_out > 0 and result.cost == 0.0


@pytest.mark.skipif(not LLM_URL, reason=skip_reason(
    "LLM endpoint", "set CHORUS_TEST_LLM_URL (and CHORUS_TEST_LLM_MODEL, CHORUS_TEST_LLM_API_KEY) to test another "
    "OpenAI-compatible endpoint"))
async def test_openai_provider_against_a_configured_endpoint() -> None:
    provider = OpenAIProvider(base_url=LLM_URL, model=os.environ.get("CHORUS_TEST_LLM_MODEL", "gpt-4o-mini"),
                              api_key=os.environ.get("CHORUS_TEST_LLM_API_KEY", ""), max_tokens=32,
                              prices=parse_prices(os.environ.get("CHORUS_LLM_PRICES", "")))
    try:
        result = await provider.complete(REQUEST)
        reply = await provider.chat_json(SYSTEM, USER, SCHEMA, max_tokens=64)
    finally:
        await close_provider(provider)
    assert result.text and result.tokens_in > 0 and result.tokens_out > 0
    assert_follows_schema(reply.data)


def test_a_cut_off_json_answer_keeps_only_its_finished_fields() -> None:
    from personas.llm.openai_compat import _salvage

    cut = '{ "message": "The API certificate expires on 14 February.", "facts": [1, 3 ], "quotes": ["How pay'
    assert _salvage(cut) == {"message": "The API certificate expires on 14 February.", "facts": [1, 3]}
    assert _salvage('{ "message": "unfinished') == {}
    assert _salvage("no JSON at all") == {}


async def test_a_local_server_that_died_is_named_with_its_exit_status_not_as_a_connection_error() -> None:
    """A llama.cpp server killed by a signal (seen: a build using AMX on a virtual machine that forbids it) is
    reported as such, with what to do, and the next call starts a new server."""
    import asyncio

    from workspace.errors import Unavailable

    provider = LocalProvider(max_tokens=16)
    dead = await asyncio.create_subprocess_exec("sh", "-c", "kill -SEGV $$")
    await dead.wait()
    provider.server.process = dead
    provider.server.port = 9  # nothing listens on the discard port: the endpoint call fails as a dead server's would
    provider._inner = OpenAIProvider(base_url="http://127.0.0.1:9/v1", model=MODEL_NAME, max_retries=0,
                                     prices={MODEL_NAME: Price(0.0, 0.0)}, timeout_s=5)
    with pytest.raises(Unavailable) as failed:
        await provider.chat_json("system", "user", {"type": "object"}, max_tokens=8)
    assert "exited with status -11" in failed.value.message and "CMAKE_ARGS" in failed.value.message
    after: tuple[object, object] = (provider._inner, provider.server.process)
    assert after == (None, None), "the dead server is forgotten: the next call starts a new one"
    await provider.aclose()
