"""The ``openai`` provider against a real OpenAI-compatible server: llama.cpp's, started by the ``local`` provider
with SmolLM2 (marker ``llm``; needs the local-llm extra), and opt-in any endpoint at CHORUS_TEST_LLM_URL. Plus the
price table and the provider factory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from personas.providers import close_provider, make_provider
from personas.providers.base import ChannelInfo, ContextMessage, PersonaInfo, Snippet, TurnRequest
from personas.providers.local import MODEL_NAME, LocalLLM, LocalProvider, missing_extra
from personas.providers.offline import OfflineProvider
from personas.providers.openai_compat import OpenAIProvider, Price, parse_prices
from workspace.errors import ConfigError
from workspace.settings import LLMSettings, Secret

REQUIRE_ALL = bool(os.environ.get("CHORUS_TEST_REQUIRE_ALL"))
LLM_URL = os.environ.get("CHORUS_TEST_LLM_URL", "")

ANSWERING = ContextMessage(7, "qa-0003", "Quality Inspector", "internal",
                           "The PS-40 reject rate is up again this week. Who owns the fix?", 12, None)
REQUEST = TurnRequest(
    persona=PersonaInfo("tech-0001", "Assembly Technician", "manufacturing", "internal", ("blunt",),
                        ("hit the Line 2 target",), ("PS-40 sensors run short",)),
    channel=ChannelInfo("plant-floor", "Line 2 production, safety and parts", "internal"),
    intent="reply", seed=5, recent=(ANSWERING,), answering=ANSWERING,
    snippets=(Snippet("3", "Incoming inspection log", "Lot 44 of PS-40 sensors failed incoming inspection."),),
    focus="PS-40 sensors run short")


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
        if REQUIRE_ALL:
            pytest.fail(f"CHORUS_TEST_REQUIRE_ALL is set but the local LLM cannot run: {problem}")
        pytest.skip(reason=f"the local-llm extra is not installed ({problem})")
    server = LocalLLM()
    base_url = await server.start()
    try:
        yield base_url
    finally:
        await server.stop()
    assert server.process is None


@pytest.mark.llm
async def test_openai_provider_against_a_real_llama_cpp_server(local_server: str) -> None:
    provider = OpenAIProvider(base_url=local_server, model=MODEL_NAME, max_tokens=32,
                              prices={MODEL_NAME: Price(1.0, 2.0)})
    try:
        first = await provider.complete(REQUEST)
        ask = await provider.complete(replace(REQUEST, intent="ask", seed=6))
    finally:
        await close_provider(provider)
    for result in (first, ask):
        assert len(result.text.split()) >= 3  # a real completion, not an empty answer
        assert result.text.startswith("@qa-0003")  # replies address whom they answer
        assert "qa-0003" in result.mentions
        assert result.tokens_in > 50 and 0 < result.tokens_out <= 32  # the server's usage, capped by max_tokens
        assert result.cost == pytest.approx(result.tokens_in / 1000 * 1.0 + result.tokens_out / 1000 * 2.0)


@pytest.mark.llm
async def test_local_provider_starts_and_stops_its_server() -> None:
    if missing_extra():
        if REQUIRE_ALL:
            pytest.fail(f"CHORUS_TEST_REQUIRE_ALL is set but the local LLM cannot run: {missing_extra()}")
        pytest.skip(reason=f"the local-llm extra is not installed ({missing_extra()})")
    provider = LocalProvider(max_tokens=16)
    result = await provider.complete(replace(REQUEST, intent="new_topic", answering=None, recent=()))
    process = provider.server.process
    assert process is not None
    running = process.returncode is None
    await provider.aclose()
    assert running
    assert provider.server.process is None
    assert process.returncode is not None  # stopped with the provider
    assert result.text and result.tokens_out > 0 and result.cost == 0.0


@pytest.mark.skipif(not LLM_URL, reason="set CHORUS_TEST_LLM_URL (and CHORUS_TEST_LLM_MODEL, "
                                        "CHORUS_TEST_LLM_API_KEY) to test another OpenAI-compatible endpoint")
async def test_openai_provider_against_a_configured_endpoint() -> None:
    provider = OpenAIProvider(base_url=LLM_URL, model=os.environ.get("CHORUS_TEST_LLM_MODEL", "gpt-4o-mini"),
                              api_key=os.environ.get("CHORUS_TEST_LLM_API_KEY", ""), max_tokens=32,
                              prices=parse_prices(os.environ.get("CHORUS_LLM_PRICES", "")))
    try:
        result = await provider.complete(REQUEST)
    finally:
        await close_provider(provider)
    assert result.text and result.tokens_in > 0 and result.tokens_out > 0
