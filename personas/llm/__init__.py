"""LLM providers for the agent runtime: the interface (:mod:`.base`), the offline provider (:mod:`.offline`), the
OpenAI-compatible one (:mod:`.openai_compat`) and the local llama.cpp launcher (:mod:`.local`); ``make_provider``
picks one from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from personas.llm.base import Provider
    from workspace.settings import LLMSettings


def make_provider(llm: LLMSettings) -> Provider:
    """The provider ``llm.provider`` names (offline | openai | local). Close it with :func:`close_provider`."""
    if llm.provider == "openai":
        from personas.llm.openai_compat import OpenAIProvider

        return OpenAIProvider.from_settings(llm)
    if llm.provider == "local":
        from personas.llm.local import LocalProvider

        return LocalProvider(timeout_s=llm.timeout_s)
    from personas.llm.offline import OfflineProvider

    return OfflineProvider()


async def close_provider(provider: object) -> None:
    """Release what a provider holds (HTTP pools, the local server process); a no-op for the offline one."""
    aclose = getattr(provider, "aclose", None)
    if aclose is not None:
        await aclose()
